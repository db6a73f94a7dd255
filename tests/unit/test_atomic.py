"""hardenreq._atomic.write_all: every file or none, whatever fails and whenever."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import hardenreq._atomic as atomic
from hardenreq._atomic import ANY_CONTENT, InterruptedAfterWrite, PendingWrite, write_all
from hardenreq.errors import WriteFailed


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: a file's bytes, a link's target, "dir" for a folder."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            found[key] = "dir"
        elif path.is_file():
            found[key] = path.read_bytes()
        else:
            found[key] = "special"
    return found


def make_files(folder: Path, count: int) -> list[PendingWrite]:
    writes = []
    for number in range(count):
        path = folder / f"f{number:03}.txt"
        path.write_bytes(f"old {number}\n".encode())
        writes.append(PendingWrite(path, f"new {number}\n".encode(), expected=path.read_bytes()))
    return writes


def fail_on_call(
    monkeypatch: pytest.MonkeyPatch, name: str, number: int, action: Callable[[], None]
) -> None:
    """Make the ``number``-th call (1-based) of ``os.<name>`` run ``action`` instead."""
    real = getattr(os, name)
    calls = [0]

    def wrapper(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] == number:
            action()
        return real(*args, **kwargs)

    monkeypatch.setattr(os, name, wrapper)


def refuse() -> None:
    raise PermissionError(1, "Operation not permitted")


def io_error() -> None:
    raise OSError(5, "I/O")


def test_writes_new_and_existing_files_keeping_modes(tmp_path: Path) -> None:
    existing = tmp_path / "old.txt"
    existing.write_bytes(b"old")
    existing.chmod(0o600)
    new = tmp_path / "sub" / "dir" / "new.txt"

    write_all([PendingWrite(existing, b"one", expected=b"old"), PendingWrite(new, b"two", 0o640)])

    assert existing.read_bytes() == b"one"
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert new.read_bytes() == b"two"
    assert stat.S_IMODE(new.stat().st_mode) == 0o640
    assert snapshot(tmp_path) == {
        "old.txt": b"one",
        "sub": "dir",
        "sub/dir": "dir",
        "sub/dir/new.txt": b"two",
    }


@pytest.mark.parametrize("failing", [1, 20, 40])
def test_a_rename_that_fails_midway_puts_every_file_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: int
) -> None:
    writes = make_files(tmp_path, 40)
    before = snapshot(tmp_path)
    fail_on_call(monkeypatch, "replace", failing, refuse)

    with pytest.raises(WriteFailed) as caught:
        write_all(writes)

    assert caught.value.restored
    assert caught.value.exit_code == 3
    assert f"cannot write {writes[failing - 1].path}: Operation not permitted" in str(caught.value)
    assert snapshot(tmp_path) == before  # every file as it was, no temp or backup file


def test_a_target_that_is_a_directory_stops_everything_before_any_rename(tmp_path: Path) -> None:
    writes = make_files(tmp_path, 30)
    report = tmp_path / "report.md"
    report.mkdir()
    before = snapshot(tmp_path)

    with pytest.raises(WriteFailed, match=r"report\.md: it is a directory; hardenreq replaces"):
        write_all([*writes[:15], PendingWrite(report, b"# report\n"), *writes[15:]])

    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("special", ["/dev/null", "fifo"])
def test_a_special_file_is_never_replaced(tmp_path: Path, special: str) -> None:
    writes = make_files(tmp_path, 3)
    if special == "fifo":
        os.mkfifo(tmp_path / "fifo")
        target = tmp_path / "fifo"
    else:
        # -o /dev/stdout and the like: a symlink to a device is written through, so refused.
        target = tmp_path / "out"
        target.symlink_to(special)
    before = snapshot(tmp_path)

    with pytest.raises(WriteFailed, match="hardenreq replaces only regular files"):
        write_all([*writes, PendingWrite(target, b"x")])

    assert snapshot(tmp_path) == before


def _chattr(flag: str, path: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Path]:
    """An immutable file (chattr +i) in ``tmp_path``, made mutable again afterwards."""
    path = tmp_path / "locked.txt"
    path.write_bytes(b"locked\n")
    if not _chattr("+i", path):
        pytest.skip("chattr +i is not available here")
    yield path
    _chattr("-i", path)


def test_an_immutable_file_among_writable_ones_stops_everything(
    tmp_path: Path, immutable: Path
) -> None:
    writes = make_files(tmp_path, 50)
    before = snapshot(tmp_path)
    locked = PendingWrite(immutable, b"changed\n", expected=b"locked\n")

    with pytest.raises(WriteFailed, match=r"locked\.txt: it is immutable or append-only"):
        write_all([*writes[:25], locked, *writes[25:]])

    assert snapshot(tmp_path) == before


def test_an_immutable_file_that_escapes_the_check_is_rolled_back(
    tmp_path: Path, immutable: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where the flag cannot be read (another file system), the rename itself fails.
    monkeypatch.setattr(atomic, "_immutable", lambda target: False)
    writes = make_files(tmp_path, 50)
    before = snapshot(tmp_path)
    locked = PendingWrite(immutable, b"changed\n", expected=b"locked\n")

    with pytest.raises(WriteFailed) as caught:
        write_all([*writes[:25], locked, *writes[25:]])

    assert caught.value.restored
    assert "locked.txt" in str(caught.value)
    assert snapshot(tmp_path) == before


def test_a_failed_rollback_says_which_files_are_left_and_where_the_old_content_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = make_files(tmp_path, 5)
    # Renames 1-3 succeed, 4 fails; then the rollback's first rename (file 3 back) fails too.
    fail_on_call(monkeypatch, "replace", 4, refuse)
    fail_on_call(monkeypatch, "replace", 5, io_error)

    with pytest.raises(WriteFailed) as caught:
        write_all(writes)

    assert not caught.value.restored
    message = str(caught.value)
    assert f"{writes[2].path}: I/O (its previous content is in " in message
    backups = list(tmp_path.glob(".f002.txt.*.bak"))
    assert len(backups) == 1
    assert str(backups[0]) in message
    assert backups[0].read_bytes() == b"old 2\n"
    # The others were put back; no temp file is left.
    assert [w.path.read_bytes() for w in writes] == [
        b"old 0\n", b"old 1\n", b"new 2\n", b"old 3\n", b"old 4\n"
    ]  # fmt: skip
    assert not list(tmp_path.glob(".*.tmp"))


def test_sigint_during_the_swap_rolls_back_then_interrupts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = make_files(tmp_path, 20)
    before = snapshot(tmp_path)
    fail_on_call(monkeypatch, "replace", 10, lambda: signal.raise_signal(signal.SIGINT))

    with pytest.raises(KeyboardInterrupt) as caught:
        write_all(writes)

    assert not isinstance(caught.value, InterruptedAfterWrite)
    assert snapshot(tmp_path) == before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigint_while_staging_removes_the_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = make_files(tmp_path, 20)
    before = snapshot(tmp_path)
    fail_on_call(monkeypatch, "fsync", 7, lambda: signal.raise_signal(signal.SIGINT))

    with pytest.raises(KeyboardInterrupt):
        write_all(writes)

    assert snapshot(tmp_path) == before


def test_sigint_once_every_file_is_written_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = make_files(tmp_path, 3)
    real = atomic._sync_folder

    def sync_then_interrupt(folder: Path) -> None:
        real(folder)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(atomic, "_sync_folder", sync_then_interrupt)

    with pytest.raises(InterruptedAfterWrite):
        write_all(writes)

    assert [w.path.read_bytes() for w in writes] == [b"new 0\n", b"new 1\n", b"new 2\n"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f000.txt", "f001.txt", "f002.txt"]


def test_owner_group_and_mode_are_kept(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"a==1\n")
    os.chown(path, 1234, 2345)
    path.chmod(0o640)

    write_all([PendingWrite(path, b"a==1 --hash=sha256:00\n", expected=b"a==1\n")])

    info = path.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (1234, 2345, 0o640)
    assert path.read_bytes() == b"a==1 --hash=sha256:00\n"


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "shared" / "requirements.txt"
    real.parent.mkdir()
    real.write_bytes(b"a==1\n")
    real.chmod(0o600)
    (tmp_path / "project").mkdir()
    link = tmp_path / "project" / "requirements.txt"
    link.symlink_to("../shared/requirements.txt")
    hop = tmp_path / "project" / "hop.txt"
    hop.symlink_to("requirements.txt")  # a chain of two links

    write_all([PendingWrite(hop, b"a==2\n", expected=b"a==1\n")])

    assert link.is_symlink()
    assert hop.is_symlink()
    assert os.readlink(link) == "../shared/requirements.txt"
    assert real.read_bytes() == b"a==2\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert snapshot(tmp_path) == {
        "project": "dir",
        "project/hop.txt": "-> requirements.txt",
        "project/requirements.txt": "-> ../shared/requirements.txt",
        "shared": "dir",
        "shared/requirements.txt": b"a==2\n",
    }


def test_two_names_of_one_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"x")
    (tmp_path / "b.txt").symlink_to("a.txt")

    with pytest.raises(WriteFailed, match="are the same file"):
        write_all([PendingWrite(tmp_path / "a.txt", b"1"), PendingWrite(tmp_path / "b.txt", b"2")])

    assert (tmp_path / "a.txt").read_bytes() == b"x"


@pytest.mark.parametrize(
    ("on_disk", "expected", "message"),
    [
        (b"a==1\nb==2\n", b"a==1\n", "changed since it was read"),
        (b"", b"a==1\n", "changed since it was read"),
        (None, b"a==1\n", "changed since it was read"),
        (b"[global]\n", None, "appeared since it was read"),
    ],
    ids=["appended", "emptied", "removed", "appeared"],
)
def test_a_file_that_changed_since_it_was_read_is_not_replaced(
    tmp_path: Path, on_disk: bytes | None, expected: bytes | None, message: str
) -> None:
    writes = make_files(tmp_path, 3)
    target = tmp_path / "requirements.txt"
    if on_disk is not None:
        target.write_bytes(on_disk)
    before = snapshot(tmp_path)

    with pytest.raises(WriteFailed, match=f"requirements.txt {message}; not overwriting it"):
        write_all([*writes, PendingWrite(target, b"new\n", expected=expected)])

    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("on_disk", [None, b""])
def test_empty_expected_content_accepts_a_missing_or_empty_file(
    tmp_path: Path, on_disk: bytes | None
) -> None:
    target = tmp_path / "requirements.in"
    if on_disk is not None:
        target.write_bytes(on_disk)

    write_all([PendingWrite(target, b"new\n", expected=b"")])

    assert target.read_bytes() == b"new\n"


def test_a_change_during_the_swap_is_caught_before_that_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = make_files(tmp_path, 10)
    real = atomic._back_up

    def back_up_then_edit(item: atomic._Staged) -> Path:
        backup = real(item)
        if item.write is writes[-1]:  # after every check, before the first rename
            with writes[6].path.open("ab") as handle:
                handle.write(b"appended by a teammate\n")
        return backup

    monkeypatch.setattr(atomic, "_back_up", back_up_then_edit)
    before = snapshot(tmp_path)

    with pytest.raises(WriteFailed, match=r"f006\.txt changed since it was read"):
        write_all(writes)

    after = snapshot(tmp_path)
    assert after.pop("f006.txt") == b"old 6\nappended by a teammate\n"
    before.pop("f006.txt")
    assert after == before


def test_any_content_replaces_whatever_is_there(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    report.write_bytes(b"yesterday\n")

    write_all([PendingWrite(report, b"today\n", expected=ANY_CONTENT)])

    assert report.read_bytes() == b"today\n"


def test_a_new_folder_is_removed_again_on_failure(tmp_path: Path) -> None:
    (tmp_path / "report").mkdir()
    new = PendingWrite(tmp_path / "a" / "b" / "lock.txt", b"x")

    with pytest.raises(WriteFailed):
        write_all([new, PendingWrite(tmp_path / "report", b"x")])

    assert snapshot(tmp_path) == {"report": "dir"}


@pytest.fixture
def fast_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder in memory (tmpfs) when there is one: creating 3,000 files on this disk takes
    seconds, and what is tested here does not depend on the file system."""
    shm = Path("/dev/shm")  # noqa: S108 - only as the parent of a private mkdtemp folder
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="hardenreq-test-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def test_sigterm_during_a_3000_file_swap_leaves_every_file_as_it_was(fast_folder: Path) -> None:
    """A real SIGTERM from outside while write_all renames 3,000 files.

    In the child, os.replace is slowed down to 1 ms a call so that the signal lands
    mid-swap (the parent sends it once the first file has its new content), and os.fsync is
    skipped: durability is not what this is about, and 3,000 fsyncs take 15 s on this disk.
    """
    folder = fast_folder
    count = 3000
    for number in range(count):
        (folder / f"f{number:04}.txt").write_bytes(f"old {number}\n".encode())
    before = snapshot(folder)
    script = textwrap.dedent(
        f"""
        import os, sys, time
        from pathlib import Path
        from hardenreq._atomic import PendingWrite, write_all
        real = os.replace
        def slow(*args, **kwargs):
            time.sleep(0.001)
            return real(*args, **kwargs)
        os.replace = slow
        os.fsync = lambda descriptor: None
        folder = Path(sys.argv[1])
        write_all([
            PendingWrite(folder / f"f{{n:04}}.txt", f"new {{n}}\\n".encode(),
                         expected=f"old {{n}}\\n".encode())
            for n in range({count})
        ])
        print("completed")
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(folder)], stdout=subprocess.PIPE, text=True
    )
    first = folder / "f0000.txt"
    try:
        while child.poll() is None and first.read_bytes() == b"old 0\n":
            time.sleep(0.0002)
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == -signal.SIGTERM, out
    assert "completed" not in out
    assert snapshot(folder) == before  # rolled back: no file replaced, no temp or backup
