"""The second page process (`hardenreq.index.helper`): a run reads a share of its pages in a
forked copy of itself, and says and does exactly what it would without it: the same report,
the same messages and exit codes against a hostile index, nothing secret shown, memory
bounded. It never outlives its parent, and the pages it held fall back to the parent if it
dies.

The CLI runs in a subprocess (this test process has the index's threads, and a process with
threads never forks a helper), with `HARDENREQ_HELPER=1` (a helper from two pins on) against
`HARDENREQ_HELPER=0`. The pins are asked for in their sorted order and the slots alternate,
helper first: of `tiny-mixed-case`, `tinyutil`, `tinyweb` and `yankee`, the helper reads
`tiny-mixed-case` and `tinyweb`, and a fault on `tinyweb`'s page is met by the helper.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from hardenreq.errors import (
    ExitCode,
    HardenreqError,
    HashMismatch,
    IndexResponseInvalid,
    IndexUnavailable,
    InputErrors,
    NotOnIndex,
    RequirementsSyntaxError,
    WriteFailed,
)
from hardenreq.index import helper
from hardenreq.models import DistributionFile, FileKind, HashPin, Pin, Release
from tests.index import FaultKind, IndexFactory, IndexServer
from tests.measured import run_measured

SECRET = "S3CRET"
LOCK = "Tiny.Mixed_Case==0.5\ntinyutil==1.2\ntinyweb==2.0\nyankee==1.1\n"
SHARED = "2 of 4 pages were read in a second process"
MEMORY_LIMIT_MB = 300


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def secure_index(make_index: IndexFactory) -> IndexServer:
    """An https index that requires `user:S3CRET`, trusted through SSL_CERT_FILE."""
    return make_index(auth=("user", SECRET), tls=True)


class Run:
    """One `python -m hardenreq` run: exit code, output, peak RSS (MiB) and wall time."""

    def __init__(self, code: int, stdout: str, stderr: str, peak_mb: float, seconds: float):
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        self.peak_mb = peak_mb
        self.seconds = seconds

    @property
    def errors(self) -> list[str]:
        """stderr's lines without the debug and info ones (which say who read what, and
        when a retry is due, jittered), and without the byte count a streamed answer was cut
        off at (where its chunks happened to end)."""
        return [
            re.sub(r"\(\d+\)", "(N)", line)
            for line in self.stderr.splitlines()
            if not line.startswith(("debug:", "info:"))
        ]

    def assert_clean(self) -> None:
        for text in (self.stdout, self.stderr):
            assert SECRET not in "".join(text.split())
        assert "Traceback" not in self.stderr
        assert self.code != ExitCode.INTERNAL, self.stderr


class _Started:
    def __init__(self, process: subprocess.Popen[bytes], out: IO[bytes], err: IO[bytes]):
        self.process = process
        self.out = out
        self.err = err
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.process.pid


def start(*args: str, helper_on: bool) -> _Started:
    env = dict(os.environ, HARDENREQ_HELPER="1" if helper_on else "0")
    # Closed by finish(), once the run has ended.
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "hardenreq", *args],
        stdout=out,
        stderr=err,
        env=env,
        start_new_session=True,
    )
    return _Started(process, out, err)


def finish(started: _Started, timeout: float = 120) -> Run:
    """Wait for the run (killed after ``timeout``); no peak RSS (a child of this process
    reports this process's)."""
    process = started.process
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    try:
        _, status, _ = os.wait4(process.pid, 0)
    finally:
        killer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    outputs = []
    for stream in (started.out, started.err):
        stream.seek(0)
        outputs.append(stream.read().decode(errors="replace"))
        stream.close()
    return Run(
        process.returncode,
        outputs[0],
        outputs[1],
        0.0,
        time.monotonic() - started.started,
    )


def run(*args: str, helper_on: bool) -> Run:
    """A whole run, its peak RSS that of the run or its helper, whichever is larger."""
    env = dict(os.environ, HARDENREQ_HELPER="1" if helper_on else "0")
    done = run_measured([sys.executable, "-m", "hardenreq", *args], env=env)
    return Run(done.code, done.stdout, done.stderr, done.peak_mb, done.seconds)


def both(*args: str) -> tuple[Run, Run]:
    """The run with the helper, then without."""
    return run(*args, helper_on=True), run(*args, helper_on=False)


def verify_args(index: IndexServer, *extra: str) -> list[str]:
    url = index.simple_url_with_auth if index.auth else index.simple_url
    return ["verify", "-v", "--no-advisories", "-i", url, "--format", "json", *extra, "lock.txt"]


def hardened_lock(index: IndexServer) -> Path:
    path = Path("lock.txt")
    path.write_text(LOCK)
    url = index.simple_url_with_auth if index.auth else index.simple_url
    result = run("harden", "--no-resolve", "--no-pip-conf", "-i", url, str(path), helper_on=False)
    assert result.code == 0, result.stderr
    return path


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def wait_for_child(process: _Started, timeout: float = 30) -> int:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        kids = children_of(process.pid)
        if kids:
            return kids[0]
        assert process.process.poll() is None, "the run ended before it forked its helper"
        time.sleep(0.01)
    raise AssertionError("no helper process appeared")


def is_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


# -- the same run, with and without ----------------------------------------------------------


def test_a_verify_reads_pages_in_two_processes_with_the_same_report(
    secure_index: IndexServer,
) -> None:
    hardened_lock(secure_index)
    shared, alone = both(*verify_args(secure_index))
    for outcome in (shared, alone):
        outcome.assert_clean()
        assert outcome.code == 0, outcome.stderr
    assert SHARED in shared.stderr
    assert "second process" not in alone.stderr
    assert json.loads(shared.stdout) == json.loads(alone.stdout)


def test_findings_of_pages_the_helper_read_are_the_same(index: IndexServer) -> None:
    lock = hardened_lock(index)
    wheel = next(f for f in index.filenames() if f.startswith("tinyweb-2.0") and f.endswith(".whl"))
    index.swap_file(wheel, b"not the wheel that was locked", update_metadata=True)
    index.remove_file(next(f for f in index.filenames() if f.startswith("tiny_mixed_case-0.5")))
    shared, alone = both(*verify_args(index))
    assert shared.code == alone.code == ExitCode.FINDINGS, shared.stderr
    report = json.loads(shared.stdout)
    assert report == json.loads(alone.stdout)
    assert {f["kind"] for f in report["findings"]} >= {"unknown-hash", "missing-hash"}
    assert SHARED in shared.stderr
    assert lock.read_text().startswith("Tiny.Mixed_Case==0.5")


def test_harden_writes_the_same_file_with_a_helper(index: IndexServer, tmp_path: Path) -> None:
    texts = []
    for helper_on in (True, False):
        path = tmp_path / f"requirements-{helper_on}.txt"
        path.write_text(LOCK)
        outcome = run(
            "harden",
            "-v",
            "--no-resolve",
            "--no-pip-conf",
            "-i",
            index.simple_url,
            str(path),
            helper_on=helper_on,
        )
        assert outcome.code == 0, outcome.stderr
        assert (SHARED in outcome.stderr) is helper_on
        texts.append(path.read_text())
    assert texts[0] == texts[1]
    assert texts[0].count("--hash=sha256:") >= 8


def test_the_helper_s_log_records_reach_the_parent(index: IndexServer) -> None:
    hardened_lock(index)
    index.add_fault(r"^/simple/tinyweb/", "503", times=1)
    outcome = run(*verify_args(index, "--retries", "1"), helper_on=True)
    assert outcome.code == 0, outcome.stderr
    assert SHARED in outcome.stderr
    assert "tinyweb==2.0: HTTP 503 from" in outcome.stderr
    assert "retry 1 of 1" in outcome.stderr


def test_an_index_missing_a_project_the_helper_asked_for(index: IndexServer) -> None:
    Path("lock.txt").write_text(LOCK.replace("tinyweb==2.0", "tinyweb==9.9"))
    shared, alone = both(*verify_args(index))
    assert shared.code == alone.code == ExitCode.FINDINGS, shared.stderr
    assert json.loads(shared.stdout) == json.loads(alone.stdout)
    assert "not-found" in {f["kind"] for f in json.loads(shared.stdout)["findings"]}


def test_pages_asked_for_after_the_helper_stops_are_read_here(
    index: IndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The helper stops once every pin of the lock is read; the build constraints pip is
    # configured with are checked after that, so their page is read by the parent.
    lock = hardened_lock(index).read_text()
    block = re.search(r"^tinyutil==1\.2 .*?(?=^\S)", lock, re.M | re.S)
    assert block is not None, lock
    digest = re.search(r"sha256:([0-9a-f]{64})", block[0])
    assert digest is not None
    Path("build-constraints.txt").write_text(block[0].replace(digest[1], "0" * 64))
    Path("pip.conf").write_text(
        f"[install]\nbuild-constraint = {Path('build-constraints.txt').resolve()}\n"
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(Path("pip.conf").resolve()))
    shared, alone = both(*verify_args(index))
    assert shared.code == alone.code == ExitCode.FINDINGS, shared.stderr
    report = json.loads(shared.stdout)
    assert report == json.loads(alone.stdout)
    assert ("unknown-hash", "build-constraints.txt") in {
        (f["kind"], f["file"]) for f in report["findings"]
    }
    assert "2 of 5 pages were read in a second process" in shared.stderr


# -- a hostile index, met by the helper -------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("malformed", {}),
        ("wrong-shape", {}),
        ("json-as-html", {}),
        ("gzip-bomb", {}),
        ("nested-gzip-bomb", {}),
        ("bad-encoding", {}),
        ("oversized", {"size": 200 * 1024 * 1024}),
        ("oversized-chunked", {"size": 200 * 1024 * 1024}),
        ("huge-headers", {"size": 2 * 1024 * 1024}),
        ("truncated", {}),
        ("500", {}),
        ("redirect", {"location": "http://127.0.0.1:9/simple/tinyweb/"}),
        ("redirect-loop", {}),
    ],
)
def test_a_hostile_page_for_the_helper_fails_as_it_would_without_it(
    secure_index: IndexServer, kind: FaultKind, extra: dict[str, object]
) -> None:
    lock = hardened_lock(secure_index)
    before = lock.read_bytes()
    outcomes = []
    for helper_on in (True, False):
        secure_index.add_fault(r"^/simple/tinyweb/", kind, times=100, **extra)  # type: ignore[arg-type]
        outcomes.append(run(*verify_args(secure_index, "--retries", "1"), helper_on=helper_on))
        secure_index.clear_faults()
    shared, alone = outcomes
    for outcome in outcomes:
        outcome.assert_clean()
        assert outcome.code == ExitCode.UNFINISHED, outcome.stderr
        assert "tinyweb==2.0" in " ".join(outcome.errors)
        assert outcome.peak_mb < MEMORY_LIMIT_MB, outcome.peak_mb
        assert outcome.seconds < 60
    assert shared.errors == alone.errors
    assert lock.read_bytes() == before


def test_a_drip_to_the_helper_is_cut_off_in_time(secure_index: IndexServer) -> None:
    hardened_lock(secure_index)
    outcomes = []
    for helper_on in (True, False):
        secure_index.add_fault(r"^/simple/tinyweb/", "drip", times=100, delay=0.5)
        outcomes.append(
            run(*verify_args(secure_index, "--retries", "1", "--timeout", "2"), helper_on=helper_on)
        )
        secure_index.clear_faults()
    for outcome in outcomes:
        outcome.assert_clean()
        assert outcome.code == ExitCode.UNFINISHED, outcome.stderr
        assert "after 2 attempts (timed out)" in " ".join(outcome.stderr.split())
        assert outcome.seconds < 20
    assert outcomes[0].errors == outcomes[1].errors


# -- its life: it dies with the run, and the run survives it ----------------------------------


def test_a_helper_killed_mid_run_leaves_its_pages_to_the_parent(index: IndexServer) -> None:
    hardened_lock(index)
    expected = run(*verify_args(index), helper_on=False)
    assert expected.code == 0, expected.stderr
    index.add_fault(r"^/simple/tinyweb/", "slow", times=1, delay=3)
    process = start(*verify_args(index), helper_on=True)
    child = wait_for_child(process)
    time.sleep(0.5)
    os.kill(child, signal.SIGKILL)
    outcome = finish(process)
    assert outcome.code == 0, outcome.stderr
    assert json.loads(outcome.stdout) == json.loads(expected.stdout)
    assert "the page process ended early; its pages are read here" in outcome.stderr
    assert is_gone(child)


def test_ctrl_c_ends_the_run_and_its_helper(index: IndexServer) -> None:
    hardened_lock(index)
    index.add_fault(r"^/simple/", "slow", times=100, delay=30)
    process = start(*verify_args(index), helper_on=True)
    child = wait_for_child(process)
    time.sleep(0.5)
    # A terminal sends Ctrl-C to the whole foreground process group.
    os.killpg(process.pid, signal.SIGINT)
    outcome = finish(process, timeout=30)
    assert outcome.code != 0
    assert outcome.seconds < 20
    assert "Traceback" not in outcome.stderr
    give_up = time.monotonic() + 5
    while not is_gone(child) and time.monotonic() < give_up:
        time.sleep(0.05)
    assert is_gone(child), "the helper outlived its parent"


def test_the_helper_ends_when_its_parent_is_killed(index: IndexServer) -> None:
    hardened_lock(index)
    index.add_fault(r"^/simple/", "slow", times=100, delay=30)
    process = start(*verify_args(index), helper_on=True)
    child = wait_for_child(process)
    process.process.kill()
    process.process.wait()
    process.out.close()
    process.err.close()
    give_up = time.monotonic() + 10
    while not is_gone(child) and time.monotonic() < give_up:
        time.sleep(0.05)
    assert is_gone(child), "the helper outlived its parent"


# -- when there is none ------------------------------------------------------------------------


def test_no_helper_for_a_process_with_threads_off_linux_or_when_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # This test process runs the index's threads: no fork, even when asked.
    assert threading.active_count() >= 1
    many = helper.MIN_PINS
    if threading.active_count() > 1:
        assert not helper._wanted({"HARDENREQ_HELPER": "1"}, many)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert helper._wanted({"HARDENREQ_HELPER": "1"}, 2)
    assert not helper._wanted({"HARDENREQ_HELPER": "1"}, 1)
    assert not helper._wanted({"HARDENREQ_HELPER": "0"}, many)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    assert not helper._wanted({}, many)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    assert helper._wanted({}, many)
    assert not helper._wanted({}, many - 1)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not helper._wanted({"HARDENREQ_HELPER": "1"}, many)


@pytest.mark.parametrize(
    "error",
    [
        NotOnIndex("x==1: no such project", hint="h", project_missing=True, index="i"),
        IndexUnavailable("x==1: down", hint="check the network"),
        IndexResponseInvalid("x==1: a bad page"),
        RequirementsSyntaxError(Path("r.txt"), 3, "bad line", hint="fix it"),
        HashMismatch(Path("r.txt"), 4, "no such hash", hashes=(HashPin("sha256", "0" * 64),)),
        InputErrors([NotOnIndex("a: gone"), IndexUnavailable("b: down")]),  # type: ignore[list-item]
        WriteFailed("could not write", restored=False),
    ],
)
def test_every_error_crosses_from_the_helper_whole(error: HardenreqError) -> None:
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own pickle
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert copy.__dict__.keys() == error.__dict__.keys()
    assert repr(copy.__dict__) == repr(error.__dict__)
    assert copy.exit_code == error.exit_code


def test_a_release_crosses_from_the_helper_whole() -> None:
    # Every field of a file set to something other than its default, so that one left out
    # of DistributionFile's own pickling would show.
    values: dict[str, object] = {
        f.name: (f"value-{f.name}" if f.type in ("str", "str | None") else None)
        for f in dataclasses.fields(DistributionFile)
    }
    values.update(kind=FileKind.SDIST, size=1234, provenance_listed=True)
    assert all(v is not None for v in values.values()), values
    file = DistributionFile(**values)  # type: ignore[arg-type]
    release = Release(Pin(canonicalize_name("x"), Version("1.0")), (file,), "index", "simple-json")
    copy = pickle.loads(pickle.dumps(release, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301
    assert copy == release
    assert [getattr(copy.files[0], name) for name in values] == list(values.values())


def test_frames_arrive_whole_however_the_pipe_splits_them() -> None:
    got: list[object] = []
    frames = helper._Frames(got.append, lambda: got.append("end"))
    data = b"".join(helper._frame(("done", i, "x" * (i * 1000))) for i in range(5)) + helper._frame(
        ("log", -1, (20, "hardenreq", "a message"))
    )
    for size in (1, 7, 4096):
        got.clear()
        for at in range(0, len(data), size):
            frames.data_received(data[at : at + size])
        assert got == [("done", i, "x" * (i * 1000)) for i in range(5)] + [
            ("log", -1, (20, "hardenreq", "a message"))
        ]
    frames.connection_lost(None)
    assert got[-1] == "end"


class _FakeHelper:
    """The parent's end of a helper whose answers come ``delay`` seconds after a pin is
    sent, from a loop callback (as a pipe's answers do)."""

    gone = False

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.on_answer: object = None
        self.sent: list[str] = []
        self.withdrawn: list[int] = []
        self.waiting: dict[int, asyncio.Future[str]] = {}

    def submit(self, pin: Pin) -> tuple[int, asyncio.Future[str]]:
        ident = len(self.sent)
        self.sent.append(str(pin))
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiting[ident] = answer
        asyncio.get_running_loop().call_later(self.delay, self._answer, ident, f"helper {pin}")
        return ident, answer

    def _answer(self, ident: int, value: str) -> None:
        answer = self.waiting.pop(ident, None)
        if answer is None:
            return
        answer.set_result(value)
        assert callable(self.on_answer)
        self.on_answer()

    async def answer(self, ident: int, answer: asyncio.Future[str]) -> str:
        try:
            return await answer
        except asyncio.CancelledError:
            self.withdraw(ident)
            raise

    def withdraw(self, ident: int) -> None:
        if self.waiting.pop(ident, None) is not None:
            self.withdrawn.append(ident)
            assert callable(self.on_answer)
            self.on_answer()


class _Here:
    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay

    async def fetch_release(self, pin: Pin) -> str:
        await asyncio.sleep(self.delay)
        return f"here {pin}"


def _pins(count: int) -> list[Pin]:
    return [Pin(canonicalize_name(f"p{i:03}"), Version("1")) for i in range(count)]


def test_pins_go_to_the_helper_and_here_in_turn_helper_first() -> None:
    """What the hostile cases above rely on: of pins asked for at once, the first goes to
    the helper, the second here, and so on while slots are free."""

    async def main() -> list[str]:
        shared = helper._SharedSource(_Here(), _FakeHelper())  # type: ignore[arg-type]
        pins = [Pin(canonicalize_name(n), Version("1")) for n in "abcd"]
        return list(await asyncio.gather(*(shared.fetch_release(p) for p in pins)))  # type: ignore[arg-type]

    assert asyncio.run(main()) == ["helper a==1", "here b==1", "helper c==1", "here d==1"]


def test_a_slot_the_helper_frees_is_filled_as_its_answer_is_read() -> None:
    # The parent here is busy (its pages take long): the helper's next pin must be sent
    # from the callback that reads its answer, not once the parent's tasks get round to it.
    fake = _FakeHelper(delay=0.01)

    async def main() -> tuple[list[str], int]:
        shared = helper._SharedSource(_Here(delay=0.5), fake)  # type: ignore[arg-type]
        sent_at_answer: list[int] = []
        freed = shared._freed_there

        def counting() -> None:
            freed()
            sent_at_answer.append(len(fake.sent))

        fake.on_answer = counting
        got = await asyncio.gather(*(shared.fetch_release(p) for p in _pins(60)))
        # Each answer of the first wave was followed, in the same callback, by the next
        # pin sent.
        assert sent_at_answer[:5] == [17, 18, 19, 20, 21]
        return list(got), shared.remote  # type: ignore[arg-type]

    got, remote = asyncio.run(main())
    assert got == [f"{'here' if i in _here_of(60) else 'helper'} p{i:03}==1" for i in range(60)]
    assert remote == 60 - helper._SLOTS


def _here_of(count: int) -> set[int]:
    """Which of ``count`` pins asked at once are read here when the helper answers at once
    and here is slow: every second one of the first two slot fills."""
    return set(range(1, 2 * helper._SLOTS, 2)) if count >= 2 * helper._SLOTS else set()


def test_a_pin_cancelled_while_it_waits_or_is_sent_frees_its_slot() -> None:
    fake = _FakeHelper(delay=0.2)

    async def main() -> list[str]:
        shared = helper._SharedSource(_Here(delay=0.2), fake)  # type: ignore[arg-type]
        tasks = [asyncio.ensure_future(shared.fetch_release(p)) for p in _pins(40)]
        await asyncio.sleep(0.05)
        # Pins 0 (sent to the helper) and 39 (waiting for a slot) are no longer wanted.
        tasks[0].cancel()
        tasks[39].cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(done[0], asyncio.CancelledError)
        assert isinstance(done[39], asyncio.CancelledError)
        assert fake.withdrawn == [0]
        assert shared._free_here == shared._free_there == helper._SLOTS
        return [str(d) for d in done[1:39]]

    got = asyncio.run(main())
    assert all(g.endswith(f"p{i:03}==1") for i, g in enumerate(got, start=1))


def test_a_fork_that_fails_leaves_the_run_to_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from hardenreq.index.location import IndexSettings

    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(os, "fork", no_fork)
    monkeypatch.setenv("HARDENREQ_HELPER", "1")
    before = set(os.listdir("/proc/self/fd"))
    with helper.page_helper(IndexSettings(index_url=None), None, pins=10) as made:
        assert made.gone
    assert set(os.listdir("/proc/self/fd")) <= before
