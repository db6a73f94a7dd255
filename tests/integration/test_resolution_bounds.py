"""pip-tools' resolution is bounded like every index request: the run's deadline stops a
pip-compile that a dripping index keeps waiting, and SIGTERM during resolution stops it too.
Either way no pip-compile process and no scratch folder is left, and nothing is written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.index import IndexServer


def _start(folder: Path, *args: str, tmpdir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    return subprocess.Popen(
        [sys.executable, "-m", "hardenreq", *args],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _pip_compiles_in(folder: Path) -> list[int]:
    """Processes still running pip-compile for this test (by their working folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        running = b"piptools" in command or b"_target_compile" in command
        if running and Path(cwd) == folder:
            found.append(int(entry.name))
    return found


def _wait_for_pip(index: IndexServer, seconds: float) -> None:
    """Until pip (not hardenreq) has asked the index for the page that drips."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if any("pip/" in r.headers.get("user-agent", "") for r in index.requests):
            return
        time.sleep(0.1)
    raise AssertionError("pip-compile never reached the index")


def test_the_deadline_stops_a_stalled_resolution(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("tinyweb>=2\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    index.add_fault(r"^/simple/tinyweb/", "drip", times=50)
    started = time.monotonic()
    child = _start(
        tmp_path, "harden", "--no-pip-conf", "-i", index.simple_url, "--timeout", "2",
        "--deadline", "6", "requirements.in", tmpdir=scratch,
    )  # fmt: skip
    _, err = child.communicate(timeout=60)
    elapsed = time.monotonic() - started
    assert child.returncode == 3, err
    assert b"pip-compile did not finish within" in err
    assert elapsed < 30
    assert not (tmp_path / "requirements.txt").exists()
    assert _pip_compiles_in(tmp_path) == []
    assert list(scratch.iterdir()) == []


def test_sigterm_during_resolution_stops_pip_compile(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("tinyweb>=2\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    index.add_fault(r"^/simple/tinyweb/", "drip", times=50)
    child = _start(
        tmp_path, "harden", "--no-pip-conf", "-i", index.simple_url, "requirements.in",
        tmpdir=scratch,
    )  # fmt: skip
    try:
        _wait_for_pip(index, 30)
        assert _pip_compiles_in(tmp_path), "pip-compile is running"
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 143, err
    assert b"interrupted; nothing was written" in err
    assert b"Traceback" not in err
    deadline = time.monotonic() + 5
    while _pip_compiles_in(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _pip_compiles_in(tmp_path) == []
    assert list(scratch.iterdir()) == []
    assert not (tmp_path / "requirements.txt").exists()


def test_sigterm_stops_every_pip_compile_of_a_lock_for_several_environments(
    index: IndexServer, tmp_path: Path
) -> None:
    (tmp_path / "requirements.in").write_text("tinyweb>=2\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    index.add_fault(r"^/simple/tinyweb/", "drip", times=50)
    child = _start(
        tmp_path, "harden", "--no-pip-conf", "-i", index.simple_url,
        "--python-version", "3.10-3.13", "--platform", "linux", "requirements.in",
        tmpdir=scratch,
    )  # fmt: skip
    try:
        _wait_for_pip(index, 30)
        deadline = time.monotonic() + 20
        while len(_pip_compiles_in(tmp_path)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_pip_compiles_in(tmp_path)) >= 2, "several pip-compiles run at once"
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 143, err
    deadline = time.monotonic() + 5
    while _pip_compiles_in(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _pip_compiles_in(tmp_path) == []
    assert list(scratch.iterdir()) == []
