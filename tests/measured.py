"""A command run in a child process, with its peak memory measured as its own.

``ru_maxrss`` of a child started straight from the test process is not the child's own: the
test process forks it (vfork or fork), and at ``exec`` the kernel folds the address space it
leaves into the child's peak, so a child of a large pytest process (300 MB late in the
suite) reports at least that much. Here the test process starts a small spawner, which forks
the command and reports the command's ``wait4`` usage: that counts the command's own memory
and that of the processes it reaped (hardenreq's page helper), nothing of pytest's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Measured", "run_measured"]

# argv: the file to write "exit-status max-rss-KiB" to, then the command. Its stdout and
# stderr are the command's.
_SPAWNER = """
import os, sys
report, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


@dataclass(frozen=True)
class Measured:
    """What a command did: exit code, output, wall time and peak RSS (MiB)."""

    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> Measured:
    """Run ``argv`` (killed after ``timeout`` seconds) and measure it."""
    with (
        tempfile.TemporaryDirectory() as folder,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        report = Path(folder) / "report"
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-c", _SPAWNER, str(report), *argv],
            stdout=out,
            stderr=err,
            env=dict(os.environ if env is None else env),
            cwd=cwd,
            start_new_session=True,
        )
        # The whole group: the command, and any process it started.
        killer = threading.Timer(timeout, lambda: os.killpg(process.pid, 9))
        killer.start()
        try:
            process.wait()
        finally:
            killer.cancel()
        seconds = time.monotonic() - started
        code_text, _, rss_text = (report.read_text() if report.exists() else "-9 0").partition(" ")
        out.seek(0)
        err.seek(0)
        return Measured(
            int(code_text),
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            seconds,
            int(rss_text) / 1024,
        )
