"""Authenticity end to end, on the loopback index serving real files with their real PEP 740
provenance (tests/data/attestations/): publishers verified and recorded in the lock, provenance
that does not verify, provenance gone, an edited publisher, PEP 792 project status, and the
minimum release age; with no network at all (sigstore's own trust root, --offline)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import IndexFactory, IndexServer, build_wheel

runner = CliRunner()
DATA = Path(__file__).parent.parent / "data" / "attestations"
PYPI_ATTESTATIONS = "pypi_attestations-0.0.19.tar.gz"
GITLAB_PROJECT = "gitlab_oidc_project-0.0.3.tar.gz"
GITHUB_NOTE = "    # publisher: github trailofbits/pypi-attestations release.yml"
GITLAB_NOTE = "    # publisher: gitlab facutuesca/gitlab-oidc-project .gitlab-ci.yml"
PINNED = "pypi-attestations==0.0.19\ngitlab-oidc-project==0.0.3\n"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def outside() -> Iterator[list[object]]:
    """Every attempt to reach a host that is not loopback (refused): there must be none."""
    attempts: list[object] = []
    original = socket.getaddrinfo

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host not in ("127.0.0.1", "::1", "localhost", None):
            attempts.append(host)
            raise socket.gaierror("no network in this test")
        return original(host, *args, **kwargs)  # type: ignore[arg-type]

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    try:
        yield attempts
    finally:
        socket.getaddrinfo = original
    assert attempts == [], "a test reached for the network"


#: Stand-ins for the real sdists' build backends (flit_core; setuptools, for the one with no
#: [build-system]), which harden asks for their build requirements (build-constraints.txt).
BACKENDS = {
    "flit_core": ("3.9.0", "flit_core/buildapi.py"),
    "setuptools": ("75.0.0", "setuptools/build_meta.py"),
}
BACKEND = b"""import sys
__legacy__ = sys.modules[__name__]
def get_requires_for_build_wheel(config_settings=None):
    return []
"""


def attested(make_index: IndexFactory, api_version: str = "1.1") -> IndexServer:
    """An index with the two real attested sdists (and their provenance), stand-ins for
    their build backends, and the standard set."""
    index = make_index(api_version=api_version)
    index.core_metadata = True  # pip-compile reads the real sdists' PKG-INFO, builds nothing
    for filename in (PYPI_ATTESTATIONS, GITLAB_PROJECT):
        index.add_file(DATA / filename, core_metadata=True)
        index.set_provenance(filename, (DATA / f"{filename}.provenance").read_bytes())
    for name, (version, module) in BACKENDS.items():
        # In the test's own folder (the working folder here).
        wheel = build_wheel(Path("backends"), name, version, files={module: BACKEND})
        index.add_file(wheel)
    return index


def run(index: IndexServer, *args: str) -> tuple[int, str, str]:
    command, *rest = args
    # The sdists' build requirements are pinned in build-constraints.txt; the tests write
    # no pip.conf, so verify is pointed at it as pip.conf would point pip at it.
    built = Path("build-constraints.txt")
    env = {"PIP_BUILD_CONSTRAINT": str(built.absolute())} if built.is_file() else {}
    result = runner.invoke(app, [command, "-i", index.simple_url, "--retries", "0", *rest], env=env)
    return result.exit_code, result.stdout, result.stderr


def findings(index: IndexServer, *args: str) -> tuple[int, list[dict[str, object]]]:
    code, out, err = run(index, "verify", "--offline", "--format", "json", *args)
    assert code in (0, 1), err
    found: list[dict[str, object]] = json.loads(out)["findings"]
    return code, found


def harden_pinned(index: IndexServer, text: str = PINNED, *args: str) -> tuple[int, str]:
    Path("requirements.txt").write_text(text)
    code, _, err = run(
        index, "harden", "--no-resolve", "--no-pip-conf", "--offline", "requirements.txt", *args
    )
    return code, err


@pytest.mark.parametrize("api_version", ["1.1", "1.3"])
def test_publishers_are_verified_and_recorded(make_index: IndexFactory, api_version: str) -> None:
    index = attested(make_index, api_version)
    index.clear_requests()
    code, err = harden_pinned(index)
    assert code == 0, err
    text = Path("requirements.txt").read_text()
    assert text == (
        "pypi-attestations==0.0.19 \\\n"
        f"    --hash=sha256:{index.sha256(PYPI_ATTESTATIONS)}\n"
        f"{GITHUB_NOTE}\n"
        "gitlab-oidc-project==0.0.3 \\\n"
        f"    --hash=sha256:{index.sha256(GITLAB_PROJECT)}\n"
        f"{GITLAB_NOTE}\n"
    )
    assert "publishers: 2 verified and recorded, 0 without provenance" in err
    asked = [r.path for r in index.requests]
    if api_version == "1.3":
        # The simple page names each file's provenance: that URL, never the integrity API.
        assert f"/provenance/{PYPI_ATTESTATIONS}.json" in asked
        assert not [p for p in asked if p.startswith("/integrity/")]
    else:
        assert index.integrity_path(PYPI_ATTESTATIONS) in asked
        assert index.integrity_path(GITLAB_PROJECT) in asked
    # The lock verifies, and a second harden changes nothing.
    code, found = findings(index, "requirements.txt")
    assert (code, found) == (0, [])
    before = Path("requirements.txt").read_bytes()
    assert harden_pinned(index, before.decode())[0] == 0
    assert Path("requirements.txt").read_bytes() == before


def test_files_without_provenance_on_an_index_with_pep_740(make_index: IndexFactory) -> None:
    index = attested(make_index, "1.3")
    index.clear_requests()
    code, err = harden_pinned(index, "pypi-attestations==0.0.19\ntinyutil==1.2\n")
    assert code == 0, err
    assert "publishers: 1 verified and recorded, 1 without provenance" in err
    # The page says tinyutil's files have none: nobody asks.
    assert not [r.path for r in index.requests if "tinyutil" in r.path and "provenance" in r.path]
    assert not [r.path for r in index.requests if r.path.startswith("/integrity/")]
    code, found = findings(index, "requirements.txt")
    assert code == 0
    assert [(f["kind"], f["package"], f["severity"]) for f in found] == [
        ("unattested", "tinyutil", "info")
    ]


def test_an_index_without_provenance_is_said_once(index: IndexServer) -> None:
    lines = "".join(f"{p}\n" for p in ("tinyweb==2.0", "tinyutil==1.2", "yankee==1.1"))
    code, err = harden_pinned(index, lines)
    assert code == 0, err
    assert "# publisher:" not in Path("requirements.txt").read_text()
    assert "publishers: no file of the 3 pinned releases has provenance (PEP 740)" in err
    code, out, err = run(index, "verify", "requirements.txt")
    assert code == 0, err
    assert out.splitlines()[-1] == (
        "no findings in 1 file (3 requirements); unattested: the index shows no provenance "
        "(PEP 740) for any of the 3 pinned releases"
    )


@pytest.mark.parametrize(("prefix", "found"), [("q", True), ("a", False)])
def test_an_index_without_pep_740_listings_is_probed_first(
    make_index: IndexFactory, prefix: str, found: bool
) -> None:
    """Simple API 1.1: the first 8 releases (by name) are asked; the others only if one
    of those has provenance. Here the attested package sorts among the first 8 ("q...")
    or after them ("a...")."""
    index = attested(make_index)
    names = [f"{prefix}{n}" for n in range(10)]
    for name in names:
        index.publish(name, "1.0")
    index.clear_requests()
    pins = "".join(f"{name}==1.0\n" for name in names) + "pypi-attestations==0.0.19\n"
    code, err = harden_pinned(index, pins)
    assert code == 0, err
    asked = [r.path for r in index.requests if r.path.startswith("/integrity/")]
    # One file of each release asked (its sdist); the wheel beside it only if it had some.
    assert len(asked) == (11 if found else 8)
    assert all(path.endswith(".tar.gz/provenance") for path in asked)
    assert (GITHUB_NOTE in Path("requirements.txt").read_text()) is found


def test_the_provenance_of_another_file_is_attestation_invalid(make_index: IndexFactory) -> None:
    index = attested(make_index)
    assert harden_pinned(index)[0] == 0
    index.set_provenance(PYPI_ATTESTATIONS, (DATA / f"{GITLAB_PROJECT}.provenance").read_bytes())
    code, found = findings(index, "requirements.txt")
    assert code == 1
    (finding,) = found
    assert finding["kind"] == "attestation-invalid"
    assert finding["severity"] == "error"
    assert finding["line"] == 1
    assert "pypi_attestations-0.0.19.tar.gz does not verify" in str(finding["message"])
    assert "subject does not match" in str(finding["message"])
    details = finding["details"]
    assert isinstance(details, dict)
    assert details["files"][0]["state"] == "invalid"
    # harden refuses to go on, and writes nothing.
    before = Path("requirements.txt").read_bytes()
    code, err = harden_pinned(index, before.decode())
    assert code == 2
    assert "requirements.txt:1: pypi-attestations==0.0.19: the provenance of" in err
    assert "nothing was written" in err
    assert Path("requirements.txt").read_bytes() == before


def test_provenance_gone_after_the_lock_recorded_a_publisher(make_index: IndexFactory) -> None:
    index = attested(make_index)
    assert harden_pinned(index)[0] == 0
    index.set_provenance(GITLAB_PROJECT, None)
    code, found = findings(index, "requirements.txt")
    assert code == 1
    (finding,) = found
    assert finding["kind"] == "attestation-missing"
    assert finding["package"] == "gitlab-oidc-project"
    assert finding["line"] == 4
    assert "has no provenance, but the lock records GitLab facutuesca/gitlab-oidc-project" in str(
        finding["message"]
    )
    before = Path("requirements.txt").read_text()
    code, err = harden_pinned(index, before)
    assert code == 2, err
    assert "--accept-publisher gitlab-oidc-project" in err
    # Taken on purpose: the publisher note goes, the other stays.
    code, err = harden_pinned(index, before, "--accept-publisher", "gitlab-oidc-project")
    assert code == 0, err
    after = Path("requirements.txt").read_text()
    assert GITLAB_NOTE not in after
    assert GITHUB_NOTE in after
    code, found = findings(index, "requirements.txt")
    assert code == 0
    assert [(f["kind"], f["package"]) for f in found] == [("unattested", "gitlab-oidc-project")]


def test_an_edited_publisher_is_publisher_changed(make_index: IndexFactory) -> None:
    index = attested(make_index)
    assert harden_pinned(index)[0] == 0
    lock = Path("requirements.txt")
    lock.write_text(lock.read_text().replace("trailofbits/pypi-attestations", "evil/fork"))
    code, found = findings(index, "requirements.txt")
    assert code == 1
    (finding,) = found
    assert finding["kind"] == "publisher-changed"
    assert finding["details"] == {
        "recorded": [{"kind": "GitHub", "repository": "evil/fork", "workflow": "release.yml"}],
        "verified": [
            {
                "kind": "GitHub",
                "repository": "trailofbits/pypi-attestations",
                "workflow": "release.yml",
            }
        ],
        "files": [
            {
                "filename": PYPI_ATTESTATIONS,
                "sha256": index.sha256(PYPI_ATTESTATIONS),
                "state": "verified",
                "publishers": [
                    {
                        "kind": "GitHub",
                        "repository": "trailofbits/pypi-attestations",
                        "workflow": "release.yml",
                    }
                ],
                "problem": None,
            }
        ],
    }
    code, out, _ = run(index, "verify", "--offline", "--format", "sarif", "requirements.txt")
    assert code == 1
    sarif = json.loads(out)
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == "publisher-changed"
    assert result["level"] == "error"


def test_without_the_library(make_index: IndexFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    index = attested(make_index)
    monkeypatch.setitem(sys.modules, "pypi_attestations", None)
    code, err = harden_pinned(index)
    assert code == 0, err
    assert "warning: the provenance of 2 file(s) of 2 package(s) was not verified" in err
    assert "hardenreq[attestations]" in err
    assert "# publisher:" not in Path("requirements.txt").read_text()
    # A lock that records a publisher cannot pass unchecked.
    Path("requirements.txt").write_text(
        Path("requirements.txt")
        .read_text()
        .replace("gitlab-oidc-project==0.0.3", "gitlab-oidc-project==0.0.3", 1)
        + ""
    )
    text = Path("requirements.txt").read_text().splitlines(keepends=True)
    text.insert(2, GITHUB_NOTE + "\n")
    Path("requirements.txt").write_text("".join(text))
    code, _, err = run(index, "verify", "--offline", "requirements.txt")
    assert code == 2
    assert "cannot check the recorded publishers of pypi-attestations" in err
    assert "hardenreq[attestations]" in err


@pytest.mark.parametrize(
    ("status", "reason", "kind", "severity", "code"),
    [
        ("quarantined", "malware found", "quarantined", "error", 1),
        ("archived", "use tinyweb2 instead", "archived", "warning", 0),
        ("deprecated", None, "deprecated", "warning", 0),
    ],
)
def test_project_status(
    index: IndexServer, status: str, reason: str | None, kind: str, severity: str, code: int
) -> None:
    assert harden_pinned(index, "tinyweb==2.0\ntinyutil==1.2\n")[0] == 0
    index.set_project_status("tinyweb", status, reason)
    found_code, found = findings(index, "requirements.txt")
    assert found_code == code
    (finding,) = found
    assert (finding["kind"], finding["severity"], finding["line"]) == (kind, severity, 1)
    assert finding["details"] == {"status": status, "reason": reason}
    assert (reason or "no reason given") in str(finding["message"])
    code_harden, err = harden_pinned(index, Path("requirements.txt").read_text())
    if status == "quarantined":
        assert code_harden == 2
        assert "requirements.txt:1: tinyweb is quarantined by the index" in err
    else:
        assert code_harden == 0, err
        assert f"warning: tinyweb is {status}" in err


def _ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")


def test_minimum_release_age(make_index: IndexFactory) -> None:
    index = make_index(standard=False)
    index.publish("tinyweb", "1.0", upload_time=_ago(30))
    index.publish("tinyweb", "1.1", upload_time=_ago(2))
    Path("requirements.in").write_text("tinyweb\n")
    code, _, err = run(
        index, "harden", "--no-pip-conf", "--min-release-age", "7d", "requirements.in"
    )
    assert code == 0, err
    assert "tinyweb==1.0 " in Path("requirements.txt").read_text()
    # refresh keeps to releases a week old, and says which newer one it held back.
    code, out, err = run(
        index, "refresh", "--min-release-age", "1w", "--report-format", "json", "requirements.in"
    )
    assert code == 0, err
    (lock,) = json.loads(out)["locks"]
    assert lock["changes"] == []
    assert lock["held_by_age"] == [
        {
            "package": "tinyweb",
            "pinned": "1.0",
            "version": "1.1",
            "uploaded": lock["held_by_age"][0]["uploaded"],
        }
    ]
    code, out, err = run(
        index, "refresh", "--min-release-age", "7d", "requirements.in", "--dry-run"
    )
    assert "#### Held back by the minimum release age" in out
    assert "| tinyweb | 1.0 | 1.1 |" in out
    # Without the cooldown refresh takes 1.1, and verify with one says it is too new.
    code, _, err = run(index, "refresh", "requirements.in")
    assert code == 0, err
    assert "tinyweb==1.1 " in Path("requirements.txt").read_text()
    code, found = findings(index, "--min-release-age", "7d", "requirements.txt")
    assert code == 0
    (finding,) = [f for f in found if f["kind"] == "too-new"]
    assert finding["severity"] == "warning"
    assert "uploaded 2 days ago, less than the minimum release age (7d)" in str(finding["message"])
    assert findings(index, "--min-release-age", "1d", "requirements.txt")[1] == []
    # The same from [tool.hardenreq].
    Path("pyproject.toml").write_text('[tool.hardenreq]\nmin-release-age = "7d"\n')
    code, out, _ = run(index, "verify", "--offline", "--format", "json", "requirements.txt")
    assert [f["kind"] for f in json.loads(out)["findings"]] == ["too-new"]


def test_refresh_holds_back_a_release_that_lost_its_attestations(
    make_index: IndexFactory,
) -> None:
    index = attested(make_index)
    Path("requirements.in").write_text("gitlab-oidc-project\n")
    code, _, err = run(index, "harden", "--no-pip-conf", "--offline", "requirements.in")
    assert code == 0, err
    assert GITLAB_NOTE in Path("requirements.txt").read_text()
    index.publish("gitlab-oidc-project", "0.0.4")  # built here: no provenance
    code, out, err = run(index, "refresh", "--offline", "requirements.in")
    assert code == 0, err
    text = Path("requirements.txt").read_text()
    assert "gitlab-oidc-project==0.0.3 " in text
    assert GITLAB_NOTE in text
    assert "#### Publisher changes: review these" in out
    assert "0.0.4" in out
    assert "kept gitlab-oidc-project==0.0.3, not 0.0.4" in err
    assert "--accept-publisher gitlab-oidc-project" in err
    # Taken on purpose: the new release, without a publisher note.
    code, out, err = run(
        index,
        "refresh",
        "--offline",
        "--accept-publisher",
        "gitlab-oidc-project",
        "requirements.in",
    )
    assert code == 0, err
    text = Path("requirements.txt").read_text()
    assert "gitlab-oidc-project==0.0.4 " in text
    assert "# publisher:" not in text
    assert "| gitlab-oidc-project | upgraded | 0.0.3 | 0.0.4 |" in out


def test_no_provenance_means_no_sigstore_import(index: IndexServer, tmp_path: Path) -> None:
    """The heavy import (sigstore, pydantic, cryptography) happens only for provenance."""
    Path("requirements.txt").write_text("tinyweb==1.0\n")
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from hardenreq.cli import app\n"
        f"r = CliRunner().invoke(app, ['harden', '--no-resolve', '--no-pip-conf', '-i', "
        f"{index.simple_url!r}, 'requirements.txt'])\n"
        "assert r.exit_code == 0, r.stderr\n"
        "r = CliRunner().invoke(app, ['verify', '-i', " + repr(index.simple_url) + ", "
        "'requirements.txt'])\n"
        "assert r.exit_code == 0, r.stderr\n"
        "print(sorted(m for m in ('pypi_attestations', 'sigstore', 'pydantic', 'cryptography') "
        "if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_pylock_records_publishers_as_attestation_identities(make_index: IndexFactory) -> None:
    index = attested(make_index)
    gitlab = {
        "kind": "GitLab",
        "repository": "facutuesca/gitlab-oidc-project",
        "workflow_filepath": ".gitlab-ci.yml",
    }
    # Resolved straight to a pylock.toml (pypi-attestations' own dependencies are not on
    # this index, so it is locked without resolving below).
    Path("requirements.in").write_text("gitlab-oidc-project\n")
    code, _, err = run(
        index, "harden", "--no-pip-conf", "--offline", "requirements.in", "-o", "pylock.toml"
    )
    assert code == 0, err
    data = tomllib.loads(Path("pylock.toml").read_text())
    assert [p["attestation-identities"] for p in data["packages"]] == [[gitlab]]
    assert findings(index, "pylock.toml") == (0, [])
    # A hashed requirements lock's publisher notes become attestation identities.
    code, err = harden_pinned(index)
    assert code == 0, err
    code, _, err = run(index, "convert", "requirements.txt", "pylock.toml")
    assert code == 0, err
    data = tomllib.loads(Path("pylock.toml").read_text())
    packages = {p["name"]: p for p in data["packages"]}
    assert packages["pypi-attestations"]["attestation-identities"] == [
        {
            "kind": "GitHub",
            "repository": "trailofbits/pypi-attestations",
            "workflow": "release.yml",
        }
    ]
    assert packages["gitlab-oidc-project"]["attestation-identities"] == [gitlab]
    assert findings(index, "pylock.toml") == (0, [])
    # Re-hashing and converting keep them: the requirements form is the publisher notes.
    before = Path("pylock.toml").read_bytes()
    code, _, err = run(index, "refresh", "--offline", "--hashes-only", "pylock.toml")
    assert code == 0, err
    assert Path("pylock.toml").read_bytes() == before
    code, _, err = run(index, "convert", "pylock.toml", "back.txt")
    assert code == 0, err
    text = Path("back.txt").read_text()
    assert GITHUB_NOTE in text
    assert GITLAB_NOTE in text
    assert "attestation" not in err  # nothing of them is lost
    # An identity edited in the lock: publisher-changed, on the package's TOML line.
    lines = before.decode().splitlines()
    line = next(
        n
        for n, text in enumerate(lines, 1)
        if text == "[[packages]]" and lines[n] == 'name = "pypi-attestations"'
    )
    Path("pylock.toml").write_text(before.decode().replace("trailofbits/", "evil/"))
    code, found = findings(index, "pylock.toml")
    assert code == 1
    assert [(f["kind"], f["line"], f["package"]) for f in found] == [
        ("publisher-changed", line, "pypi-attestations")
    ]
