"""Locks for several environments: every Python version x platform asked for gets what it
installs, lines carry the markers of their environments, and uv (which evaluates markers and
wheel tags for any target) accepts the lock on each; pip on this machine installs it. Against
the loopback index, pip-tools really resolving each target."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from hardenreq.reqfile import parse_requirements
from hardenreq.targets import Target, Targets
from tests.index import IndexServer

runner = CliRunner()
_UV_PLATFORMS = {
    "linux": "x86_64-unknown-linux-gnu",
    "macos": "aarch64-apple-darwin",
    "windows": "x86_64-pc-windows-msvc",
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def stack(index: IndexServer) -> IndexServer:
    """Releases that differ by environment, as real ones do."""
    index.publish("modern", "1.0", requires_python=">=3.8")
    index.publish("modern", "2.0", requires_python=">=3.12")  # newer Pythons only
    index.publish("winhelper", "1.0")
    index.publish("app", "1.0", requires=['winhelper; sys_platform == "win32"', "modern"])
    index.publish("tomlish", "1.0")
    return index


def harden(index: IndexServer, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app, ["harden", "--no-pip-conf", "-i", index.simple_url, "--retries", "0", *args]
    )
    return result.exit_code, result.stderr


def active(lock: Path, target: Target) -> dict[str, str]:
    tree = parse_requirements([lock], environ={})
    return {
        str(e.name): str(e.pinned_version) for e in tree.requirements() if target.evaluate(e.marker)
    }


def test_one_lock_serves_every_environment(stack: IndexServer, tmp_path: Path) -> None:
    Path("requirements.in").write_text('app\ntomlish; python_version < "3.11"\n')
    code, err = harden(
        stack, "--python-version", "3.10-3.13", "--platform", "linux", "--platform", "windows",
        "requirements.in",
    )  # fmt: skip
    assert code == 0, err
    lock = Path("requirements.txt")
    text = lock.read_text()
    assert "# For the environments: python 3.10-3.13 on linux, windows\n" in text
    assert "--python-version 3.10-3.13 --platform linux --platform windows" in text
    assert 'tomlish==1.0 ; python_version < "3.11" \\\n' in text  # the user's marker, kept
    assert 'modern==1.0 ; python_version < "3.12" \\\n' in text
    assert 'modern==2.0 ; python_version >= "3.12" \\\n' in text
    assert 'winhelper==1.0 ; sys_platform == "win32" \\\n' in text
    targets = Targets((10, 11, 12, 13), ("linux", "windows"))
    for target in targets.all:
        installed = active(lock, target)
        assert installed["modern"] == ("2.0" if target.minor >= 12 else "1.0")
        assert ("winhelper" in installed) == (target.platform == "windows")
        assert ("tomlish" in installed) == (target.minor < 11)
    # verify checks every environment of the header, and passes.
    result = runner.invoke(app, ["verify", "-i", stack.simple_url, "requirements.txt"])
    assert result.exit_code == 0, result.stdout
    # A second run is byte-identical (the header keeps the targets).
    code, err = harden(stack, "requirements.in")
    assert code == 0, err
    assert lock.read_text() == text


@pytest.mark.skipif(shutil.which("uv", path=str(Path(sys.executable).parent)) is None,
                    reason="uv is a dev dependency")  # fmt: skip
def test_uv_accepts_the_lock_on_every_environment(stack: IndexServer, tmp_path: Path) -> None:
    Path("requirements.in").write_text('app\ntomlish; python_version < "3.11"\n')
    code, err = harden(
        stack, "--python-version", "3.10-3.13", "--platform", "linux", "--platform", "macos",
        "--platform", "windows", "requirements.in",
    )  # fmt: skip
    assert code == 0, err
    uv = str(Path(sys.executable).parent / "uv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env.update(UV_NO_CONFIG="1", UV_INDEX_URL=stack.simple_url, UV_OFFLINE="0")
    for minor in (10, 11, 12, 13):
        for platform, triple in _UV_PLATFORMS.items():
            target = tmp_path / f"t-{minor}-{platform}"
            result = subprocess.run(
                [uv, "pip", "install", "--dry-run", "--require-hashes", "--no-deps",
                 "--python-version", f"3.{minor}", "--python-platform", triple,
                 "--target", str(target), "-r", "requirements.txt"],
                capture_output=True, text=True, env=env, timeout=120, check=False,
            )  # fmt: skip
            assert result.returncode == 0, (minor, platform, result.stderr)
            would = {line.split()[1].split("==")[0] for line in result.stderr.splitlines()
                     if line.startswith(" + ")}  # fmt: skip
            expected = set(active(Path("requirements.txt"), Target(minor, platform)))
            assert would == expected, (minor, platform)


def test_pip_installs_the_lock_here(stack: IndexServer, tmp_path: Path) -> None:
    Path("requirements.in").write_text("app\n")
    here = f"3.{sys.version_info[1]}"
    code, err = harden(
        stack, "--python-version", f"{here},3.13", "--platform", "linux", "--platform", "windows",
        "requirements.in",
    )  # fmt: skip
    assert code == 0, err
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--require-hashes", "--index-url",
         stack.simple_url, "--target", str(tmp_path / "t"), "-r", "requirements.txt"],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "t" / "modern").is_dir()
    assert not (tmp_path / "t" / "winhelper").exists()


def test_a_target_that_cannot_be_met_is_an_error_naming_it(
    stack: IndexServer, tmp_path: Path
) -> None:
    stack.publish("native", "1.0", wheel_tags=("py3-none-win_amd64",), sdist=False)
    Path("requirements.in").write_text("native\n")
    code, err = harden(
        stack, "--python-version", "3.12", "--platform", "windows", "--platform", "linux",
        "requirements.in",
    )  # fmt: skip
    assert code == 2, err
    assert "for python 3.12 on linux:" in err
    assert "native" in err
    assert not Path("requirements.txt").exists()


def test_verify_names_the_environment_a_lock_misses(stack: IndexServer, tmp_path: Path) -> None:
    Path("requirements.in").write_text("app\n")
    assert harden(stack, "--python-version", "3.11", "requirements.in")[0] == 0
    # Made for Linux only; checked for Windows too, where app needs winhelper.
    result = runner.invoke(
        app,
        ["verify", "-i", stack.simple_url, "--format", "json", "--python-version", "3.11",
         "--platform", "linux", "--platform", "windows", "requirements.txt"],
    )  # fmt: skip
    assert result.exit_code in (0, 1), result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [f["kind"] for f in findings] == []  # no metadata on this index: nothing to see
    stack.core_metadata = True
    result = runner.invoke(
        app,
        ["verify", "-i", stack.simple_url, "--format", "json", "--python-version", "3.11",
         "--platform", "linux", "--platform", "windows", "requirements.txt"],
    )  # fmt: skip
    assert result.exit_code == 1, result.stdout
    found = json.loads(result.stdout)["findings"]
    assert [f["kind"] for f in found] == ["incomplete-environment"]
    assert "winhelper" in found[0]["message"]
    assert "python 3.11 on windows" in found[0]["message"]


def test_refresh_says_which_environments_a_change_is_on(stack: IndexServer, tmp_path: Path) -> None:
    Path("requirements.in").write_text("app\n")
    code, err = harden(
        stack, "--python-version", "3.11-3.12", "--platform", "linux", "requirements.in"
    )
    assert code == 0, err
    stack.publish("modern", "2.1", requires_python=">=3.12")
    result = runner.invoke(
        app, ["refresh", "-i", stack.simple_url, "--report-format", "json", "requirements.in"]
    )
    assert result.exit_code == 0, result.stderr
    changes = json.loads(result.stdout)["locks"][0]["changes"]
    assert changes == [
        {
            "package": "modern", "change": "upgraded", "old": "2.0", "new": "2.1",
            "added_hashes": [], "removed_hashes": [], "added_files": [],
            "environments": "python 3.12 on linux",
        }
    ]  # fmt: skip
    assert (
        "# For the environments: python 3.11-3.12 on linux" in Path("requirements.txt").read_text()
    )
