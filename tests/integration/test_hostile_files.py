"""Hostile input files through the CLI: devices, FIFOs, /dev/stdin, sockets, directories and
oversize files are refused with exit 2, naming the file, at once and in little memory.

The cases that used to hang or grow until MemoryError run hardenreq in a subprocess, with a
timeout and its peak memory measured (``os.wait4``); the others use CliRunner.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import IndexServer

runner = CliRunner()

_TIMEOUT = 60.0  # seconds; a refused file takes about one interpreter start-up
_PEAK_MB = 300


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    seconds: float
    peak_mb: float


def run_hardenreq(folder: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    """``python -m hardenreq ARGS`` in ``folder``, stdin an open pipe nobody writes to."""
    out_path, err_path = folder / ".out", folder / ".err"
    started = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "hardenreq", *args],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            env={**os.environ, **(env or {})},
        )
    try:
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > _TIMEOUT:
                child.kill()
                os.wait4(child.pid, 0)
                pytest.fail(f"hardenreq {' '.join(args)} was still running after {_TIMEOUT} s")
            time.sleep(0.02)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.returncode = 0  # reaped above: keep Popen from waiting for it again
    seconds = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    peak_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    text = out_path.read_text(), err_path.read_text()
    out_path.unlink()
    err_path.unlink()
    return Run(code, text[0], " ".join(text[1].split()), seconds, peak_mb)


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join(result.stderr.split())


def assert_refused(run: Run, message: str) -> None:
    assert run.code == 2, run.err
    assert message in run.err
    assert "Traceback" not in run.err
    assert "nothing was written" in run.err
    assert run.seconds < _TIMEOUT
    assert run.peak_mb < _PEAK_MB, f"peak memory {run.peak_mb:.0f} MB"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _fifo(folder: Path) -> str:
    os.mkfifo(folder / "fifo.txt")
    return "fifo.txt"


def _directory(folder: Path) -> str:
    (folder / "folder.txt").mkdir()
    return "folder.txt"


INCLUDES: dict[str, tuple[Callable[[Path], str], str]] = {
    "dev-zero": (lambda folder: "/dev/zero", "a character device"),
    "dev-stdin": (lambda folder: "/dev/stdin", "a FIFO (named pipe)"),
    "fifo": (_fifo, "a FIFO (named pipe)"),
    "directory": (_directory, "a directory"),
}


@pytest.mark.parametrize("case", INCLUDES)
def test_an_include_that_is_not_a_regular_file_is_refused_at_once(
    index: IndexServer, tmp_path: Path, case: str
) -> None:
    make, kind = INCLUDES[case]
    target = make(tmp_path)
    (tmp_path / "requirements.txt").write_text(f"tinyweb==1.0\n-r {target}\n")

    run = run_hardenreq(
        tmp_path, "harden", "--no-resolve", "--no-pip-conf", "-i", index.simple_url,
        "requirements.txt",
    )  # fmt: skip

    shown = target if target.startswith("/") else tmp_path / target
    assert_refused(
        run,
        f"requirements.txt:2: cannot read {shown}: it is {kind}; hardenreq reads only regular "
        "files",
    )
    assert (tmp_path / "requirements.txt").read_text() == f"tinyweb==1.0\n-r {target}\n"


@pytest.mark.parametrize("mode", ["--no-resolve", "resolve"])
@pytest.mark.parametrize("case", ["dev-zero", "fifo", "dev-stdin"])
def test_a_named_file_that_is_not_a_regular_file_is_refused_at_once(
    index: IndexServer, tmp_path: Path, case: str, mode: str
) -> None:
    make, kind = INCLUDES[case]
    target = make(tmp_path)
    flags = ["--no-resolve"] if mode == "--no-resolve" else []

    run = run_hardenreq(tmp_path, "harden", *flags, "--no-pip-conf", "-i", index.simple_url, target)

    assert_refused(run, f"{target}: cannot read the requirements file: it is {kind}")


def test_verify_refuses_a_fifo(index: IndexServer, tmp_path: Path) -> None:
    target = _fifo(tmp_path)

    run = run_hardenreq(tmp_path, "verify", "-i", index.simple_url, target)

    assert run.code == 2, run.err
    assert f"{target}: cannot read the requirements file: it is a FIFO" in run.err
    assert run.peak_mb < _PEAK_MB


def test_a_100_mb_source_is_refused_before_it_is_read(index: IndexServer, tmp_path: Path) -> None:
    source = tmp_path / "requirements.in"
    with source.open("wb") as handle:
        handle.write(b"tinyweb\n" * 1000)
        handle.truncate(100 * 1024 * 1024)  # the rest is holes, read back as NUL bytes

    run = run_hardenreq(tmp_path, "harden", "--no-pip-conf", "-i", index.simple_url, source.name)

    assert_refused(
        run,
        "requirements.in: cannot read the requirements file: it is 104,857,600 bytes; "
        "the limit is 16,777,216 bytes",
    )
    assert not (tmp_path / "requirements.txt").exists()


def test_an_oversize_pip_configuration_is_refused(index: IndexServer, tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    with conf.open("wb") as handle:
        handle.write(b"[global]\ntimeout = 5\n# ")
        handle.write(b"x" * (25 * 1024 * 1024))  # 25 MB: 58 s to parse before the limit
    (tmp_path / "requirements.txt").write_text("tinyweb==1.0\n")

    run = run_hardenreq(
        tmp_path, "harden", "--no-resolve", "--no-pip-conf", "-i", index.simple_url,
        "requirements.txt", env={"PIP_CONFIG_FILE": str(conf)},
    )  # fmt: skip

    assert_refused(
        run,
        f"pip.conf: cannot read the pip configuration: it is {conf.stat().st_size:,} bytes; the "
        "limit is 1,048,576 bytes",
    )
    assert run.seconds < 20
    assert (tmp_path / "requirements.txt").read_text() == "tinyweb==1.0\n"


def test_pip_conf_command_refuses_an_oversize_file(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    with conf.open("wb") as handle:
        handle.truncate(2 * 1024 * 1024)

    code, err = cli("pip-conf", str(conf))

    assert code == 2, err
    assert f"{conf.name}: cannot read the pip configuration: it is 2,097,152 bytes" in err
    assert conf.stat().st_size == 2 * 1024 * 1024


def test_pip_conf_command_refuses_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pip.conf")

    code, err = cli("pip-conf", str(tmp_path / "pip.conf"))

    assert code == 2, err
    assert "pip.conf: cannot read the pip configuration: it is a FIFO (named pipe)" in err


def test_a_socket_include_is_refused(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r s.sock\n")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "s.sock"))
        code, err = cli(
            "harden", "--no-resolve", "--no-pip-conf", "-i", index.simple_url, "requirements.txt"
        )

    assert code == 2, err
    assert f"requirements.txt:1: cannot read {tmp_path / 's.sock'}: it is a socket" in err


def test_a_pyproject_that_is_a_fifo_is_refused(index: IndexServer, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pyproject.toml")

    code, err = cli("harden", "--no-pip-conf", "-i", index.simple_url, "pyproject.toml")

    assert code == 2, err
    assert "pyproject.toml: cannot read the file: it is a FIFO (named pipe)" in err


def test_a_config_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "conf.toml").mkdir()

    code, err = cli("verify", "--config", "conf.toml", "requirements.txt")

    assert code == 2, err
    assert "conf.toml: cannot read the file: it is a directory" in err


def test_an_old_lock_that_is_a_fifo_is_refused(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("tinyweb\n")
    os.mkfifo(tmp_path / "requirements.txt")

    code, err = cli("harden", "--no-pip-conf", "-i", index.simple_url, "requirements.in")

    assert code == 2, err
    assert "requirements.txt: cannot read the lock: it is a FIFO (named pipe)" in err


def test_the_peak_memory_figure_is_real(tmp_path: Path) -> None:
    # The harness above must be able to see a large peak, or its bound proves nothing.
    script = "x = bytearray(400 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])"
    child = subprocess.Popen([sys.executable, "-c", script])
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0
    assert usage.ru_maxrss / 1024 > _PEAK_MB


def test_a_local_wheel_that_is_a_fifo_is_refused_not_hashed_forever(
    index: IndexServer, tmp_path: Path
) -> None:
    os.mkfifo(tmp_path / "tinyweb-1.0-py3-none-any.whl")
    wheel = tmp_path / "tinyweb-1.0-py3-none-any.whl"
    (tmp_path / "requirements.txt").write_text(f"tinyweb @ file://{wheel}\n")

    run = run_hardenreq(
        tmp_path, "harden", "--no-resolve", "--no-pip-conf", "-i", index.simple_url,
        "requirements.txt",
    )  # fmt: skip

    assert_refused(run, f"{wheel.name}: cannot read the local archive: it is a FIFO (named pipe)")
