"""pylock.toml (PEP 751) end to end on the loopback index: harden writes it (every file's name,
URL, size, upload time and hash), pip installs it in hash-checking mode, verify reports what
changed on the index with the TOML line, refresh keeps it current, and convert turns it into a
requirements lock and back."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, cast

import pytest
from packaging.markers import Environment
from packaging.pylock import Pylock
from packaging.utils import canonicalize_name
from typer.testing import CliRunner

from hardenreq.cli import app
from hardenreq.lockfile.pylock import validate_pylock
from tests.index import IndexFactory, IndexServer

runner = CliRunner()

WEB_FILES = ("tinyweb-2.0-py3-none-any.whl", "tinyweb-2.0.tar.gz")
UTIL_FILES = (
    "tinyutil-1.2-cp311-cp311-manylinux_2_17_x86_64.whl",
    "tinyutil-1.2-py3-none-any.whl",
    "tinyutil-1.2.tar.gz",
)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def run(index: IndexServer, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--index-url", index.simple_url, "--retries", "1"])
    return result.exit_code, result.stdout, result.stderr


def harden(index: IndexServer, *args: str) -> tuple[int, str]:
    code, _, err = run(index, "harden", "--no-pip-conf", *args)
    return code, err


def lock_data(path: Path) -> dict[str, Any]:
    """The lock, checked the way installers and the PyPA check it: TOML, packaging.pylock and
    the PEP 751 JSON schema."""
    text = path.read_text(encoding="utf-8")
    validate_pylock(text)  # packaging.pylock and the schema; raises on failure
    data = tomllib.loads(text)
    Pylock.from_dict(data)
    return data


def package(data: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [p for p in data["packages"] if p["name"] == name]
    (entry,) = found
    return entry


def hash_sets_of_pylock(data: dict[str, Any]) -> dict[str, set[str]]:
    sets: dict[str, set[str]] = {}
    for entry in data["packages"]:
        files = [*entry.get("wheels", []), *([entry["sdist"]] if "sdist" in entry else [])]
        sets[entry["name"]] = {f["hashes"]["sha256"] for f in files}
    return sets


def hash_sets_of_requirements(path: Path) -> dict[str, set[str]]:
    sets: dict[str, set[str]] = {}
    for block in re.split(r"\n(?=\S)", path.read_text()):
        head = block.split()[0] if block.strip() else ""
        if not head or head.startswith(("#", "-")):
            continue
        name = canonicalize_name(re.split(r"[=<>!~;\[ @]", head)[0])
        sets[name] = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return sets


def line_of(path: Path, needle: str) -> int:
    (number,) = [n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return number


def package_line(path: Path, name: str) -> int:
    lines = path.read_text().splitlines()
    return line_of(path, f'name = "{name}"') - 1 if lines else 0


def findings(index: IndexServer, *files: str) -> tuple[int, list[dict[str, Any]]]:
    code, out, err = run(index, "verify", "--format", "json", *files)
    assert code in (0, 1), err
    return code, json.loads(out)["findings"]


# -- harden ------------------------------------------------------------------------------


def test_harden_writes_every_file_of_every_release(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("tinyweb>=2\n")
    code, err = harden(index, "requirements.in", "-o", "pylock.toml")
    assert code == 0, err
    assert "locked requirements.in -> pylock.toml: 2 pins, 5 hashes" in " ".join(err.split())
    data = lock_data(tmp_path / "pylock.toml")
    assert data["lock-version"] == "1.0"
    assert data["created-by"] == "hardenreq"
    assert data["requires-python"] == ">=3.8"  # tinyutil's Requires-Python
    assert [p["name"] for p in data["packages"]] == ["tinyutil", "tinyweb"]
    util = package(data, "tinyutil")
    assert util["version"] == "1.2"
    assert util["requires-python"] == ">=3.8"
    assert util["index"] == index.simple_url
    assert util["sdist"]["name"] == "tinyutil-1.2.tar.gz"
    assert [w["name"] for w in util["wheels"]] == list(UTIL_FILES[:2])
    page = json.loads(
        subprocess.run(
            [sys.executable, "-c", "import sys,urllib.request as u;r=u.Request(sys.argv[1],"
             "headers={'Accept':'application/vnd.pypi.simple.v1+json'});"
             "print(u.urlopen(r).read().decode())", f"{index.simple_url}/tinyutil/"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout
    )  # fmt: skip
    listed = {f["filename"]: f for f in page["files"]}
    for file in [util["sdist"], *util["wheels"]]:
        on_index = listed[file["name"]]
        assert file["url"] == on_index["url"]
        assert file["size"] == on_index["size"]
        assert file["hashes"] == {"sha256": on_index["hashes"]["sha256"]}
        assert file["upload-time"].isoformat().replace("+00:00", "Z") == on_index[
            "upload-time"
        ].replace(".000000", "")
    assert package(data, "tinyweb")["dependencies"] == [{"name": "tinyutil"}]
    assert util["tool"]["hardenreq"]["via"] == ["tinyweb"]
    assert data["tool"]["hardenreq"] == {
        "source": "requirements.in",
        "command": "hardenreq harden requirements.in -o pylock.toml",
        "options": [],
    }
    # A second run changes nothing, byte for byte.
    before = (tmp_path / "pylock.toml").read_bytes()
    code, err = harden(index, "requirements.in", "-o", "pylock.toml")
    assert code == 0, err
    assert "0 files written" in err
    assert (tmp_path / "pylock.toml").read_bytes() == before


def test_pip_installs_the_pylock_in_hash_checking_mode(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("tinyweb>=2\n")
    code, err = harden(index, "requirements.in", "-o", "pylock.toml")
    assert code == 0, err
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-index", "--target",
         str(tmp_path / "target"), "-r", "pylock.toml"],
        capture_output=True, text=True, env=env, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    assert (tmp_path / "target" / "tinyutil").is_dir()
    assert (tmp_path / "target" / "tinyweb").is_dir()
    # pip checks the hashes the lock records: a lock whose hash is wrong does not install.
    text = (tmp_path / "pylock.toml").read_text()
    digest = index.sha256("tinyweb-2.0-py3-none-any.whl")
    (tmp_path / "pylock.toml").write_text(text.replace(digest, "0" * 64))
    tampered = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-index", "--target",
         str(tmp_path / "target2"), "-r", "pylock.toml"],
        capture_output=True, text=True, env=env, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert tampered.returncode != 0
    assert "hash" in tampered.stderr.lower()


def test_hash_sets_equal_those_of_the_requirements_lock(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("tinyweb>=2\nyankee\nTiny.Mixed_Case\n")
    assert harden(index, "requirements.in", "-o", "pylock.toml")[0] == 0
    assert harden(index, "requirements.in", "-o", "requirements.txt")[0] == 0
    from_pylock = hash_sets_of_pylock(lock_data(tmp_path / "pylock.toml"))
    from_requirements = hash_sets_of_requirements(tmp_path / "requirements.txt")
    assert from_pylock == from_requirements
    assert len(from_pylock) == 4


def test_pyproject_extra_to_a_named_pylock(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = ["tinyweb>=2"]\n'
        '[project.optional-dependencies]\ndev = ["yankee>=1.1"]\n'
    )
    code, err = harden(index, "pyproject.toml", "--extra", "dev", "-o", "pylock.dev.toml")
    assert code == 0, err
    data = lock_data(tmp_path / "pylock.dev.toml")
    assert {p["name"] for p in data["packages"]} == {"tinyweb", "tinyutil", "yankee"}
    assert data["tool"]["hardenreq"]["source"] == "pyproject.toml"
    assert data["tool"]["hardenreq"]["extras"] == ["dev"]
    # The lock alone says how to make it again: refresh needs no arguments but the lock.
    code, _, err = run(index, "refresh", "--dry-run", "pylock.dev.toml")
    assert code == 0, err
    assert "pylock.dev.toml: no changes" in err
    code, err = harden(index, "pylock.dev.toml")
    assert code == 0, err
    assert "locked pyproject.toml -> pylock.dev.toml" in err
    assert "0 files written" in err


def test_markers_of_source_lines_are_kept(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text('tinyweb>=2 ; python_version >= "3.8"\n')
    assert harden(index, "requirements.in", "-o", "pylock.toml")[0] == 0
    data = lock_data(tmp_path / "pylock.toml")
    assert package(data, "tinyweb")["marker"] == 'python_version >= "3.8"'
    assert "marker" not in package(data, "tinyutil")


def test_credentials_of_the_index_are_never_written(
    make_index: IndexFactory, tmp_path: Path
) -> None:
    secure = make_index(auth=("alice", "S3CRET-pw"))
    (tmp_path / "requirements.in").write_text("tinyweb>=2\n")
    result = runner.invoke(
        app,
        ["harden", "--no-pip-conf", "--index-url", secure.simple_url_with_auth,
         "requirements.in", "-o", "pylock.toml"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / "pylock.toml").read_text()
    assert "S3CRET" not in text
    assert "alice" not in text
    data = lock_data(tmp_path / "pylock.toml")
    assert package(data, "tinyweb")["index"] == secure.simple_url
    assert "S3CRET" not in result.stderr


@pytest.mark.parametrize("name", ["lock.toml", "pyproject.toml", "Pylock.toml", "pylock.a.b.toml"])
def test_a_toml_output_must_have_a_pylock_name(
    index: IndexServer, tmp_path: Path, name: str
) -> None:
    (tmp_path / "requirements.in").write_text("tinyweb>=2\n")
    code, err = harden(index, "requirements.in", "-o", name)
    assert code == 2
    assert "pylock.toml or pylock.NAME.toml" in " ".join(err.split())
    assert "nothing was written" in err
    assert not (tmp_path / name).exists() or name == "pyproject.toml"


def test_no_resolve_refuses_a_pylock(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("tinyweb>=2\n")
    assert harden(index, "requirements.in", "-o", "pylock.toml")[0] == 0
    code, err = harden(index, "--no-resolve", "pylock.toml")
    assert code == 2
    assert "refresh --hashes-only" in err


# -- verify ------------------------------------------------------------------------------


def hashed(requirement: str, index: IndexServer, files: tuple[str, ...]) -> str:
    digests = sorted(index.sha256(name) for name in files)
    return " \\\n    ".join([requirement, *(f"--hash=sha256:{d}" for d in digests)]) + "\n"


@pytest.fixture
def locked(index: IndexServer, tmp_path: Path) -> Path:
    """pylock.toml of tinyweb>=2 as harden writes it, made without pip-compile (faster): the
    requirements lock harden would write, converted."""
    (tmp_path / "requirements.in").write_text("tinyweb>=2\n")
    (tmp_path / "seed.txt").write_text(
        "# This file is generated by hardenreq from requirements.in; edit that file, not "
        "this one.\n# To update it: hardenreq harden requirements.in -o seed.txt\n#\n"
        + hashed("tinyweb==2.0", index, WEB_FILES)
        + hashed("tinyutil==1.2", index, UTIL_FILES)
        + "    # via tinyweb\n"
    )
    code, _, err = run(index, "convert", "seed.txt", "pylock.toml")
    assert code == 0, err
    (tmp_path / "seed.txt").unlink()
    return tmp_path / "pylock.toml"


def test_verify_a_clean_lock(index: IndexServer, locked: Path) -> None:
    code, out, err = run(index, "verify", "pylock.toml")
    assert code == 0, err
    assert "no findings in 1 file (2 requirements)" in out


def test_verify_reports_a_swapped_file_on_its_line(index: IndexServer, locked: Path) -> None:
    old = index.sha256("tinyweb-2.0.tar.gz")
    index.swap_file("tinyweb-2.0.tar.gz", b"not the sdist", update_metadata=True)
    code, found = findings(index, "pylock.toml")
    assert code == 1
    (unknown,) = [f for f in found if f["kind"] == "unknown-hash"]
    assert unknown["line"] == line_of(locked, old)
    assert unknown["package"] == "tinyweb"
    assert unknown["details"]["filename"] == "tinyweb-2.0.tar.gz"
    assert "the file was replaced" in unknown["message"]
    assert index.sha256("tinyweb-2.0.tar.gz") in unknown["message"]
    (missing,) = [f for f in found if f["kind"] == "missing-hash"]
    assert missing["line"] == package_line(locked, "tinyweb")
    assert [f["filename"] for f in missing["details"]["files"]] == ["tinyweb-2.0.tar.gz"]


def test_verify_reports_a_removed_wheel_on_its_line(index: IndexServer, locked: Path) -> None:
    gone = "tinyutil-1.2-py3-none-any.whl"
    digest = index.sha256(gone)
    index.remove_file(gone)
    code, found = findings(index, "pylock.toml")
    assert code == 1
    assert [f["kind"] for f in found] == ["unknown-hash"]
    assert found[0]["line"] == line_of(locked, digest)
    assert found[0]["details"] == {"hash": f"sha256:{digest}", "filename": gone}
    assert "removed" in found[0]["message"]


def test_verify_reports_a_new_upload_on_the_package_line(index: IndexServer, locked: Path) -> None:
    index.publish("tinyweb", "2.0", wheel_tags=("py2.py3-none-any",), sdist=False)
    code, found = findings(index, "pylock.toml")
    assert code == 0  # a warning: review the new file
    (missing,) = found
    assert missing["kind"] == "missing-hash"
    assert missing["severity"] == "warning"
    assert missing["line"] == package_line(locked, "tinyweb")
    assert [f["filename"] for f in missing["details"]["files"]] == [
        "tinyweb-2.0-py2.py3-none-any.whl"
    ]


def test_verify_reports_a_changed_size_on_the_file_line(index: IndexServer, locked: Path) -> None:
    wheel = "tinyweb-2.0-py3-none-any.whl"
    index.relist_file(wheel, size=12345)
    code, found = findings(index, "pylock.toml")
    assert code == 1
    (changed,) = found
    assert changed["kind"] == "file-changed"
    assert changed["severity"] == "error"
    assert changed["line"] == line_of(locked, index.sha256(wheel))
    assert changed["details"]["filename"] == wheel
    ((field, locked_size, listed),) = [
        (c["field"], c["locked"], c["index"]) for c in changed["details"]["changes"]
    ]
    assert (field, listed) == ("size", 12345)
    assert locked_size == package(lock_data(locked), "tinyweb")["wheels"][0]["size"]


def test_verify_reports_a_changed_upload_time(index: IndexServer, locked: Path) -> None:
    index.relist_file("tinyutil-1.2.tar.gz", upload_time="2031-05-06T07:08:09")
    code, found = findings(index, "pylock.toml")
    assert code == 1
    (changed,) = found
    assert changed["kind"] == "file-changed"
    assert changed["details"]["changes"][0]["field"] == "upload-time"
    assert changed["details"]["changes"][0]["index"] == "2031-05-06T07:08:09+00:00"
    assert changed["line"] == line_of(locked, index.sha256("tinyutil-1.2.tar.gz"))


def test_verify_text_and_sarif_name_the_toml_line(index: IndexServer, locked: Path) -> None:
    wheel = "tinyweb-2.0-py3-none-any.whl"
    index.relist_file(wheel, size=1)
    line = line_of(locked, index.sha256(wheel))
    code, out, _ = run(index, "verify", "pylock.toml")
    assert code == 1
    assert re.search(rf"^\s*{line}\s+error\s+file-changed\s+tinyweb==2.0", out, re.M), out
    code, out, _ = run(index, "verify", "--format", "sarif", "pylock.toml")
    sarif = json.loads(out)
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == "file-changed"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "pylock.toml"
    assert location["region"]["startLine"] == line


def test_verify_kinds_it_shares_with_requirements_files(index: IndexServer, tmp_path: Path) -> None:
    # Locked from pins, then pointed at a source with ranges (outdated looks within them).
    (tmp_path / "seed.in").write_text("tinyweb==1.0\nyankee==1.0\ntinyutil==1.0\n")
    (tmp_path / "requirements.in").write_text("tinyweb>=1.0\nyankee\ntinyutil\n")
    assert harden(index, "seed.in", "-o", "pylock.toml")[0] == 0
    path = tmp_path / "pylock.toml"
    text = path.read_text().replace('"seed.in"', '"requirements.in"')
    # The lock pins a release the index does not have, and gains an unhashable entry.
    text = text.replace('name = "tinyutil"\nversion = "1.0"', 'name = "tinyutil"\nversion = "9.9"')
    text = text.replace("tinyutil-1.0", "tinyutil-9.9")
    text = text.replace(
        "[tool.hardenreq]",
        '[[packages]]\nname = "vcsthing"\n\n[packages.vcs]\ntype = "git"\n'
        'url = "https://git.example.com/vcsthing.git"\ncommit-id = "0123abcd"\n\n'
        "[tool.hardenreq]",
    )
    path.write_text(text)
    code, found = findings(index, "pylock.toml")
    assert code == 1
    kinds = {(f["kind"], f["package"]): f["line"] for f in found}
    assert kinds[("outdated", "tinyweb")] == package_line(path, "tinyweb")
    assert kinds[("yanked", "yankee")] == package_line(path, "yankee")
    assert kinds[("not-found", "tinyutil")] == package_line(path, "tinyutil")
    assert kinds[("unhashable", "vcsthing")] == package_line(path, "vcsthing")


def test_verify_extra_index_option_on_its_toml_line(
    make_index: IndexFactory, tmp_path: Path
) -> None:
    index, extra = make_index(), make_index(standard=False)
    (tmp_path / "requirements.in").write_text(f"--extra-index-url {extra.simple_url}\ntinyweb>=2\n")
    assert harden(index, "requirements.in", "-o", "pylock.toml")[0] == 0
    path = tmp_path / "pylock.toml"
    assert lock_data(path)["tool"]["hardenreq"]["options"] == [
        f"--extra-index-url {extra.simple_url}"
    ]
    _code, found = findings(index, "pylock.toml")
    (finding,) = [f for f in found if f["kind"] == "extra-index"]
    assert finding["line"] == line_of(path, f'"--extra-index-url {extra.simple_url}"')


def test_verify_a_pylock_another_tool_wrote(index: IndexServer, tmp_path: Path) -> None:
    digest = index.sha256("tinyweb-2.0-py3-none-any.whl")
    url = index.file_url("tinyweb-2.0-py3-none-any.whl")
    (tmp_path / "pylock.toml").write_text(
        'lock-version = "1.0"\ncreated-by = "uv"\n'
        f'packages = [\n  {{ name = "tinyweb", version = "2.0", wheels = [\n'
        f'    {{ url = "{url}", hashes = {{ sha256 = "{digest}" }} }},\n  ] }},\n]\n'
    )
    code, found = findings(index, "pylock.toml")
    assert code == 0
    (missing,) = found
    assert missing["kind"] == "missing-hash"
    assert missing["line"] == 4  # the line of the inline table that names it
    assert [f["filename"] for f in missing["details"]["files"]] == ["tinyweb-2.0.tar.gz"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('lock-version = "1.0"\ncreated-by = "x"\npackages = [\n', "not valid TOML"),
        ('lock-version = "1.0"\npackages = []\n', "not a valid pylock.toml"),
        (
            'lock-version = "1.0"\ncreated-by = "x"\nextras = ["dev"]\npackages = []\n',
            "a multi-use lock",
        ),
        (
            'lock-version = "1.0"\ncreated-by = "x"\n\n[[packages]]\nname = "tinyweb"\n'
            "marker = \"'dev' in extras\"\n"
            '[packages.archive]\nurl = "https://x.example.com/a.whl"\nhashes = {sha256 = "ab"}\n',
            "tinyweb: its marker uses 'extras'",
        ),
    ],
)
def test_verify_refuses_what_is_not_a_single_use_pylock(
    index: IndexServer, tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "pylock.toml").write_text(content)
    code, out, err = run(index, "verify", "pylock.toml")
    assert code == 2
    assert out == ""
    assert err.startswith("error: pylock.toml")
    assert message in err
    assert "Traceback" not in err


# -- refresh -----------------------------------------------------------------------------


def test_refresh_picks_up_a_new_release(index: IndexServer, locked: Path) -> None:
    index.publish("tinyweb", "2.1", requires=["tinyutil>=1.0"])
    code, out, err = run(index, "refresh", "pylock.toml")
    assert code == 0, err
    data = lock_data(locked)
    web = package(data, "tinyweb")
    assert web["version"] == "2.1"
    assert {w["name"] for w in web["wheels"]} == {"tinyweb-2.1-py3-none-any.whl"}
    assert web["sdist"]["hashes"]["sha256"] == index.sha256("tinyweb-2.1.tar.gz")
    assert "tinyweb" in out
    assert "2.0" in out
    assert "2.1" in out
    # The report is about the pins, whatever the format.
    code, out, err = run(index, "refresh", "--report-format", "json", "--dry-run", "pylock.toml")
    assert code == 0, err
    assert json.loads(out)["locks"][0]["changes"] == []


def test_refresh_hashes_only_adds_a_new_upload(index: IndexServer, locked: Path) -> None:
    index.publish("tinyweb", "2.0", wheel_tags=("py2.py3-none-any",), sdist=False)
    code, out, err = run(
        index, "refresh", "--hashes-only", "--report-format", "json", "pylock.toml"
    )
    assert code == 0, err
    (lock,) = json.loads(out)["locks"]
    (change,) = lock["changes"]
    assert change["package"] == "tinyweb"
    assert change["change"] == "hashes"
    assert change["added_files"] == ["tinyweb-2.0-py2.py3-none-any.whl"]
    data = lock_data(locked)
    assert [w["name"] for w in package(data, "tinyweb")["wheels"]] == [
        "tinyweb-2.0-py2.py3-none-any.whl",
        "tinyweb-2.0-py3-none-any.whl",
    ]
    # What the lock was made from is kept.
    assert data["tool"]["hardenreq"]["source"] == "requirements.in"
    assert package(data, "tinyutil")["tool"]["hardenreq"]["via"] == ["tinyweb"]
    assert findings(index, "pylock.toml") == (0, [])


def test_refresh_upgrade_package(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("tinyweb>=1.0\nyankee>=1.0\n")
    (tmp_path / "seed.in").write_text("tinyweb==1.0\nyankee==1.0\n")
    assert harden(index, "seed.in", "-o", "pylock.toml")[0] == 0
    data = lock_data(tmp_path / "pylock.toml")
    data_text = (tmp_path / "pylock.toml").read_text()
    (tmp_path / "pylock.toml").write_text(data_text.replace('"seed.in"', '"requirements.in"'))
    code, _, err = run(index, "refresh", "--upgrade-package", "yankee", "pylock.toml")
    assert code == 0, err
    data = lock_data(tmp_path / "pylock.toml")
    assert package(data, "yankee")["version"] == "1.1"
    assert package(data, "tinyweb")["version"] == "1.0"


def test_refresh_a_pylock_without_a_source_needs_hashes_only(
    index: IndexServer, locked: Path
) -> None:
    text = locked.read_text()
    locked.write_text(text.replace('source = "requirements.in"\n', ""))
    code, _, err = run(index, "refresh", "pylock.toml")
    assert code == 2
    assert "records no source" in err
    index.publish("tinyweb", "2.0", wheel_tags=("py2.py3-none-any",), sdist=False)
    code, _, err = run(index, "refresh", "--hashes-only", "pylock.toml")
    assert code == 0, err
    assert len(package(lock_data(locked), "tinyweb")["wheels"]) == 2


def test_layered_locks_with_pylock_outputs(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "base.in").write_text("tinyutil>=1.0\n")
    (tmp_path / "dev.in").write_text("-c pylock.base.toml\ntinyweb>=2\n")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.hardenreq]\n"
        '[[tool.hardenreq.locks]]\nsource = "dev.in"\noutput = "pylock.dev.toml"\n'
        '[[tool.hardenreq.locks]]\nsource = "base.in"\noutput = "pylock.base.toml"\n'
    )
    code, _out, err = run(index, "refresh")
    assert code == 0, err
    base = lock_data(tmp_path / "pylock.base.toml")
    dev = lock_data(tmp_path / "pylock.dev.toml")
    assert package(base, "tinyutil")["version"] == package(dev, "tinyutil")["version"]
    assert dev["tool"]["hardenreq"]["options"] == ["-c pylock.base.toml"]
    # Alone, the layer reads the base pylock.toml on disk.
    code, err = harden(index, "dev.in", "-o", "pylock.dev.toml")
    assert code == 0, err
    assert "0 files written" in err
    # A requirements-format layer cannot constrain itself with a pylock.toml.
    code, err = harden(index, "dev.in", "-o", "dev.txt")
    assert code == 2
    assert "pip cannot read as a requirements file" in " ".join(err.split())


def test_layered_pylock_on_a_requirements_base(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "base.in").write_text("tinyutil==1.0\n")
    (tmp_path / "dev.in").write_text("-c base.txt\ntinyweb>=2\n")
    code, err = harden(index, "base.in", "dev.in", "-o", "pylock.dev.toml")
    assert code == 2  # -o takes one source
    assert harden(index, "base.in")[0] == 0
    code, err = harden(index, "dev.in", "-o", "pylock.dev.toml")
    assert code == 0, err
    dev = lock_data(tmp_path / "pylock.dev.toml")
    assert package(dev, "tinyutil")["version"] == "1.0"


# -- convert -----------------------------------------------------------------------------


def test_convert_both_ways(index: IndexServer, locked: Path, tmp_path: Path) -> None:
    code, _, err = run(index, "convert", "pylock.toml", "requirements.txt")
    assert code == 0, err
    said = " ".join(err.split())
    assert "not in requirements.txt: the sizes of 5 file(s)" in said
    assert "the upload times of 5 file(s)" in said
    assert "the index of 2 package(s)" in said
    assert hash_sets_of_requirements(tmp_path / "requirements.txt") == hash_sets_of_pylock(
        lock_data(locked)
    )
    text = (tmp_path / "requirements.txt").read_text()
    assert text.startswith(
        "# This file is generated by hardenreq from requirements.in; edit that file, not this "
        "one.\n# To update it: hardenreq harden requirements.in -o requirements.txt\n#\n"
    )
    assert "    # via tinyweb\n" in text
    code, _, err = run(index, "convert", "requirements.txt", "pylock.again.toml")
    assert code == 0, err
    again = lock_data(tmp_path / "pylock.again.toml")
    first = lock_data(locked)
    assert again["packages"] == first["packages"]
    assert again["tool"]["hardenreq"]["command"] == (
        "hardenreq harden requirements.in -o pylock.again.toml"
    )


def test_convert_into_another_folder_moves_relative_paths(
    index: IndexServer, tmp_path: Path
) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "base.txt").write_text("")
    (tmp_path / "reqs" / "app.in").write_text("-c base.txt\ntinyweb>=2\n")
    assert harden(index, "reqs/app.in")[0] == 0
    (tmp_path / "out").mkdir()
    code, _, err = run(index, "convert", "reqs/app.txt", "out/pylock.toml")
    assert code == 0, err
    own = lock_data(tmp_path / "out" / "pylock.toml")["tool"]["hardenreq"]
    assert own["source"] == "../reqs/app.in"
    assert own["options"] == ["-c ../reqs/base.txt"]
    assert own["command"] == "hardenreq harden reqs/app.in -o out/pylock.toml"


def test_convert_refuses_a_hash_the_index_does_not_have(index: IndexServer, tmp_path: Path) -> None:
    wheel = index.sha256("tinyweb-2.0-py3-none-any.whl")
    (tmp_path / "requirements.txt").write_text(
        f"tinyweb==2.0 \\\n    --hash=sha256:{wheel} \\\n    --hash=sha256:{'1' * 64}\n"
    )
    code, _, err = run(index, "convert", "requirements.txt", "pylock.toml")
    assert code == 2
    assert err.startswith("error: requirements.txt:1: tinyweb==2.0: --hash=sha256:1111")
    assert "matches no file of this release" in err
    assert "nothing was written" in err
    assert not (tmp_path / "pylock.toml").exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("tinyweb==2.0\n", "has no --hash"),
        ("tinyweb>=2.0 --hash=sha256:" + "a" * 64 + "\n", "not pinned"),
        ("-e ./src\n", "editable"),
        ("thing @ git+https://git.example.com/thing.git\n", "VCS URL"),
    ],
)
def test_convert_refuses_what_a_lock_cannot_hold(
    index: IndexServer, tmp_path: Path, line: str, message: str
) -> None:
    (tmp_path / "requirements.txt").write_text(line)
    code, _, err = run(index, "convert", "requirements.txt", "pylock.toml")
    assert code == 2
    assert err.startswith("error: requirements.txt:1:")
    assert message in err
    assert not (tmp_path / "pylock.toml").exists()


def test_convert_names_a_vcs_entry_of_a_pylock(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "pylock.toml").write_text(
        'lock-version = "1.0"\ncreated-by = "x"\n\n[[packages]]\nname = "thing"\n\n'
        '[packages.directory]\npath = "./thing"\n'
    )
    code, _, err = run(index, "convert", "pylock.toml", "requirements.txt")
    assert code == 2
    assert err.startswith("error: pylock.toml:4: thing: a local directory")
    assert not (tmp_path / "requirements.txt").exists()


def test_convert_needs_two_formats(index: IndexServer, locked: Path) -> None:
    code, _, err = run(index, "convert", "pylock.toml", "pylock.other.toml")
    assert code == 2
    assert "both pylock.toml files" in err


def test_verify_reports_a_moved_file(index: IndexServer, locked: Path) -> None:
    wheel = "tinyweb-2.0-py3-none-any.whl"
    url = index.file_url(wheel)
    moved = url.replace("127.0.0.1", "mirror.example.com")
    locked.write_text(locked.read_text().replace(url, moved))
    code, found = findings(index, "pylock.toml")
    assert code == 1
    (changed,) = found
    assert changed["kind"] == "file-changed"
    assert "URL on http://mirror.example.com:" in changed["message"]
    assert changed["details"]["changes"][0]["field"] == "url"


# -- locks for several environments ----------------------------------------------------------


def test_a_multi_environment_pylock(index: IndexServer, tmp_path: Path) -> None:
    index.publish("modern", "1.0", requires_python=">=3.8")
    index.publish("modern", "2.0", requires_python=">=3.12")  # newer Pythons only
    index.publish("winhelper", "1.0")
    index.publish("app", "1.0", requires=['winhelper; sys_platform == "win32"', "modern"])
    (tmp_path / "requirements.in").write_text("app\n")
    code, err = harden(
        index, "--python-version", "3.11-3.12", "--platform", "linux", "--platform", "windows",
        "requirements.in", "-o", "pylock.toml",
    )  # fmt: skip
    assert code == 0, err
    path = tmp_path / "pylock.toml"
    data = lock_data(path)
    assert data["environments"] == [
        'sys_platform == "linux" and python_version >= "3.11" and python_version < "3.13"',
        'sys_platform == "win32" and python_version >= "3.11" and python_version < "3.13"',
    ]
    assert data["tool"]["hardenreq"]["python-versions"] == ["3.11", "3.12"]
    assert data["tool"]["hardenreq"]["platforms"] == ["linux", "windows"]
    assert data["tool"]["hardenreq"]["command"] == (
        "hardenreq harden requirements.in --python-version 3.11-3.12 --platform linux "
        "--platform windows -o pylock.toml"
    )
    entries = {(p["name"], p["version"]): p.get("marker") for p in data["packages"]}
    assert entries[("modern", "1.0")] == 'python_version < "3.12"'
    assert entries[("modern", "2.0")] == 'python_version >= "3.12"'
    assert entries[("winhelper", "1.0")] == 'sys_platform == "win32"'
    assert entries[("app", "1.0")] is None
    # One entry per package on each environment, as PEP 751 asks: packaging.pylock selects.
    lock = Pylock.from_dict(data)
    for python, platform, system in [("3.11", "linux", "Linux"), ("3.12", "win32", "Windows")]:
        environment = cast(
            "Environment",
            {"python_version": python, "python_full_version": f"{python}.0",
             "sys_platform": platform, "platform_system": system},
        )  # fmt: skip
        chosen = {str(p.name): str(p.version) for p, _ in lock.select(environment=environment)}
        assert chosen["modern"] == ("2.0" if python == "3.12" else "1.0")
        assert ("winhelper" in chosen) == (platform == "win32")
    # verify checks it for its environments; a second run, refresh and the round trip keep them.
    code, found = findings(index, "pylock.toml")
    assert (code, found) == (0, [])
    code, err = harden(index, "pylock.toml")
    assert code == 0, err
    assert "0 files written" in err
    code, _, err = run(index, "refresh", "--hashes-only", "--dry-run", "pylock.toml")
    assert code == 0, err
    code, _, err = run(index, "convert", "pylock.toml", "requirements.txt")
    assert code == 0, err
    text = (tmp_path / "requirements.txt").read_text()
    assert "# For the environments: python 3.11-3.12 on linux, windows\n" in text
    assert "the environments the lock is for" in " ".join(err.split())


def test_a_direct_url_archive_round_trips(index: IndexServer, tmp_path: Path) -> None:
    wheel = "tinyweb-2.0-py3-none-any.whl"
    url = index.file_url(wheel)
    (tmp_path / "requirements.txt").write_text(
        f"tinyweb @ {url} \\\n    --hash=sha256:{index.sha256(wheel)}\n"
    )
    code, _, err = run(index, "convert", "requirements.txt", "pylock.toml")
    assert code == 0, err
    entry = package(lock_data(tmp_path / "pylock.toml"), "tinyweb")
    assert "version" not in entry
    assert entry["archive"] == {"url": url, "hashes": {"sha256": index.sha256(wheel)}}
    assert findings(index, "pylock.toml") == (0, [])
    code, _, err = run(index, "convert", "pylock.toml", "back.txt")
    assert code == 0, err
    assert hash_sets_of_requirements(tmp_path / "back.txt") == {"tinyweb": {index.sha256(wheel)}}
    # The archive changed on the server: verify downloads it and says so, on its line.
    index.swap_file(wheel, b"other bytes", update_metadata=False)
    code, found = findings(index, "pylock.toml")
    assert code == 1
    assert [(f["kind"], f["line"]) for f in found] == [("unknown-hash", 4)]
