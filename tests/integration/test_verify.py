"""`hardenreq verify` against the loopback index: every finding kind, exit codes, formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import IndexFactory, IndexServer, build_wheel

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def hardened(index: IndexServer, name: str, text: str) -> Path:
    path = Path(name)
    path.write_text(text)
    result = runner.invoke(
        app, ["harden", "--no-resolve", "--no-pip-conf", "-i", index.simple_url, str(path)]
    )
    assert result.exit_code == 0, result.stderr
    return path


def verify(index: IndexServer, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["verify", "-i", index.simple_url, "--retries", "0", *args])
    return result.exit_code, result.stdout, result.stderr


def findings(index: IndexServer, *args: str) -> tuple[int, list[dict[str, object]]]:
    code, out, err = verify(index, "--format", "json", *args)
    assert code in (0, 1), err
    document = json.loads(out)
    assert document["version"] == 1
    return code, document["findings"]


def kinds(found: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return [(f["kind"], f["file"], f["line"]) for f in found]


def test_a_clean_lock_passes_and_nothing_is_written(index: IndexServer) -> None:
    lock = hardened(index, "requirements.txt", "tinyweb==2.0\ntinyutil==1.2\n")
    before = lock.read_bytes()
    code, out, err = verify(index, str(lock))
    assert code == 0, err
    assert "no findings" in out
    assert lock.read_bytes() == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tinyweb>=1\n", [("unpinned", "requirements.txt", 1)]),
        ("tinyweb==2.0\n", [("no-hashes", "requirements.txt", 1)]),
        ("-e ./src\n", [("unhashable", "requirements.txt", 1)]),
        ("pkg @ git+https://example.invalid/p.git\n", [("unhashable", "requirements.txt", 1)]),
        (
            f"nosuchproject==1.0 --hash=sha256:{'a' * 64}\n",
            [("not-found", "requirements.txt", 1)],
        ),
        (f"tinyweb==9.9 --hash=sha256:{'a' * 64}\n", [("not-found", "requirements.txt", 1)]),
        (
            f"tinyweb==2.0\n# note\n--hash=sha256:{'a' * 64}\n",
            [("no-hashes", "requirements.txt", 1), ("ineffective-hash", "requirements.txt", 3)],
        ),
        (
            "--trusted-host mirror.example\n",
            [("insecure-index", "requirements.txt", 1)],
        ),
    ],
)
def test_local_and_index_findings(
    index: IndexServer, text: str, expected: list[tuple[str, str, int]]
) -> None:
    Path("requirements.txt").write_text(text)
    code, found = findings(index, "requirements.txt")
    assert kinds(found) == expected
    assert code == 1 if any(k != "insecure-index" for k, _, _ in expected) else code == 0


def test_swallowed_hashes_are_ineffective(index: IndexServer) -> None:
    digest = index.sha256("tinyweb-2.0-py3-none-any.whl")
    Path("requirements.txt").write_text(f"tinyweb==2.0  # web \\\n    --hash=sha256:{digest}\n")
    code, found = findings(index, "requirements.txt")
    assert code == 1
    assert [f["kind"] for f in found] == ["ineffective-hash", "no-hashes"]


def test_a_replaced_file_is_an_unknown_hash_and_the_new_one_missing(index: IndexServer) -> None:
    lock = hardened(index, "requirements.txt", "tinyweb==2.0\n")
    old = index.sha256("tinyweb-2.0-py3-none-any.whl")
    index.swap_file("tinyweb-2.0-py3-none-any.whl", b"PK\x05\x06" + bytes(18), update_metadata=True)
    code, found = findings(index, str(lock))
    assert code == 1
    assert [f["kind"] for f in found] == ["missing-hash", "unknown-hash"]
    unknown = found[1]
    assert unknown["severity"] == "error"
    assert unknown["package"] == "tinyweb"
    assert unknown["version"] == "2.0"
    assert unknown["details"] == {"hash": f"sha256:{old}"}


def test_a_new_upload_is_a_missing_hash_warning(index: IndexServer, tmp_path: Path) -> None:
    lock = hardened(index, "requirements.txt", "tinyutil==1.2\n")
    new = build_wheel(tmp_path / "new", "tinyutil", "1.2", tag="cp312-cp312-win_amd64")
    index.add_file(new)
    code, found = findings(index, str(lock))
    assert code == 0
    assert [f["kind"] for f in found] == ["missing-hash"]
    details = found[0]["details"]
    assert isinstance(details, dict)
    assert [f["filename"] for f in details["files"]] == [new.name]
    strict_code, _, _ = verify(index, "--strict", str(lock))
    assert strict_code == 1


def test_yanked_and_outdated(index: IndexServer) -> None:
    lock = hardened(index, "requirements.txt", "yankee==1.0\ntinyweb==1.0\n")
    code, found = findings(index, str(lock))
    assert code == 1
    by_kind = {f["kind"]: f for f in found}
    assert set(by_kind) == {"yanked", "outdated"}
    assert by_kind["yanked"]["details"] == {"reason": "broken build"}
    assert "broken build" in str(by_kind["yanked"]["message"])
    assert by_kind["outdated"]["details"] == {"latest": "2.0", "newest": "2.0"}
    assert by_kind["outdated"]["severity"] == "info"


def test_vulnerable_release_from_the_release_endpoint(make_index: IndexFactory) -> None:
    index = make_index(release_endpoint=True)
    index.add_vulnerability("tinyweb", "2.0", "PYSEC-2099-1", fixed_in=["2.1"])
    # The release endpoint carries Requires-Dist: the lock must hold tinyweb's dependency.
    lock = hardened(index, "requirements.txt", "tinyweb==2.0\ntinyutil==1.2\n")
    code, found = findings(index, str(lock))
    assert code == 1  # an error by default
    assert [(f["kind"], f["severity"]) for f in found] == [("vulnerable", "error")]
    details = found[0]["details"]
    assert isinstance(details, dict)
    assert details["id"] == "PYSEC-2099-1"
    assert details["fixed_in"] == ["2.1"]
    assert details["sources"] == ["index"]
    code, found = findings(index, "--vulnerable-severity", "warning", str(lock))
    assert code == 0
    assert [(f["kind"], f["severity"]) for f in found] == [("vulnerable", "warning")]


def test_extra_and_insecure_index_lines(index: IndexServer) -> None:
    lock = hardened(index, "requirements.txt", "tinyweb==2.0\n")
    # The file's own --index-url is reported although -i overrides it for this run.
    lock.write_text(
        "--index-url http://mirror.example/simple\n"
        f"--extra-index-url {index.simple_url}\n" + lock.read_text()
    )
    code, found = findings(index, str(lock))
    assert code == 0
    assert kinds(found) == [
        ("insecure-index", "requirements.txt", 1),
        ("extra-index", "requirements.txt", 2),  # loopback http is not "insecure"
    ]


def test_findings_across_includes(index: IndexServer) -> None:
    Path("base").mkdir()
    hardened(index, "base/base.txt", "tinyutil==1.2\n")
    Path("base/base.txt").write_text(Path("base/base.txt").read_text() + "yankee\n")
    Path("requirements.txt").write_text("-r base/base.txt\ntinyweb==2.0\n")
    code, found = findings(index, "requirements.txt")
    assert code == 1
    assert kinds(found) == [
        ("unpinned", "base/base.txt", 5),
        ("no-hashes", "requirements.txt", 2),
    ]


def test_text_github_and_sarif_formats(index: IndexServer) -> None:
    Path("requirements.txt").write_text("tinyweb==2.0\n")
    code, out, _ = verify(index, "requirements.txt")
    assert code == 1
    assert "requirements.txt" in out
    assert "no-hashes" in out
    code, out, _ = verify(index, "--format", "github", "requirements.txt")
    assert out.startswith("::error file=requirements.txt,line=1,")
    code, out, err = verify(index, "--format", "sarif", "-o", "report.sarif", "requirements.txt")
    assert code == 1
    assert out == ""
    sarif = json.loads(Path("report.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["results"][0]["ruleId"] == "no-hashes"
    assert "report written to report.sarif" in err


def test_unparsable_file_exits_2(index: IndexServer) -> None:
    Path("requirements.txt").write_text("tinyweb==1.0 --frobnicate\n")
    code, _, err = verify(index, "requirements.txt")
    assert code == 2
    assert "requirements.txt:1: pip does not accept the option --frobnicate" in err
    assert "nothing was written" not in err


def test_unreachable_index_exits_3(tmp_path: Path) -> None:
    Path("requirements.txt").write_text(f"tinyweb==1.0 --hash=sha256:{'a' * 64}\n")
    result = runner.invoke(
        app, ["verify", "-i", "http://127.0.0.1:9/simple", "--retries", "0", "requirements.txt"]
    )
    assert result.exit_code == 3
    assert "could not connect" in result.stderr


def test_outdated_where_the_index_has_the_release_endpoint(make_index: IndexFactory) -> None:
    index = make_index(release_endpoint=True)
    index.add_vulnerability("tinyweb", "1.0", "PYSEC-2099-2", fixed_in=["2.0"])
    lock = hardened(index, "requirements.txt", "tinyweb==1.0\n")
    code, found = findings(index, str(lock))
    assert code == 1  # vulnerable is an error
    assert [f["kind"] for f in found] == ["outdated", "vulnerable"]
    assert found[0]["details"] == {"latest": "2.0", "newest": "2.0"}


# Modules of harden and refresh (resolving, locking, writing) that a verify run never needs.
NOT_FOR_VERIFY = (
    "hardenreq.core",
    "hardenreq.lock",
    "hardenreq._atomic",
    "hardenreq.advisories.fix",
    "hardenreq.lockfile",  # a requirements lock: no pylock.toml code
    "hardenreq.refresh",
    "hardenreq.report.sarif",  # a text report: no other format's code
    "hardenreq.report.refresh_markdown",
    "email.policy",  # only a metadata file (PEP 658) to read needs it; none here
    "rich",
    "tomlkit",
)


def test_verify_imports_only_what_verify_needs(index: IndexServer) -> None:
    # Start-up is most of a CI gate's time: the console script, run as a user runs it,
    # loads none of the harden and refresh machinery (nor rich, for a log; nor tomlkit).
    lock = hardened(index, "requirements.txt", "tinyweb==2.0\ntinyutil==1.2\n")
    Path("pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.hardenreq]\nstrict = true\n')
    command = ["verify", "-i", index.simple_url, "--no-advisories", str(lock)]
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "hardenreq", *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "hardenreq.core_verify" in imported
    assert "hardenreq.index.sources" in imported
    loaded = sorted(
        m for m in imported for name in NOT_FOR_VERIFY if m == name or m.startswith(name + ".")
    )
    assert loaded == []
