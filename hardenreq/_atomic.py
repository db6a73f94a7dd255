"""Writing several files as one change: every file is replaced, or none is.

``write_all`` checks every target and stages every file (a temp file beside its target,
written and flushed to disk) before it renames any. It keeps a way back (a hard link to each
file it replaces), holds SIGINT, SIGTERM and SIGHUP while it works, and if anything goes wrong
before the last rename, including one of those signals, it puts every replaced file back and
removes every temp and backup file. A symlink is written through (its final target is
replaced, the link stays a link), an existing file keeps its mode, owner and group (where
permitted), and a file that changed since the plan was made from it is not replaced.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import secrets
import shutil
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Final, Literal

from hardenreq._files import describe_kind, read_optional_file
from hardenreq.errors import UnreadableFile, WriteFailed

__all__ = ["ANY_CONTENT", "InterruptedAfterWrite", "PendingWrite", "write_all"]


class _Anything(enum.Enum):
    ANY = "any"


#: ``PendingWrite.expected`` for a file whose current content does not matter (a report).
ANY_CONTENT: Final = _Anything.ANY

# Signals that end a run: held during write_all so the swap completes or is rolled back.
_HELD_SIGNALS: Final = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
# Linux FS_IOC_GETFLAGS and its immutable / append-only flags (include/uapi/linux/fs.h): a
# file with either cannot be replaced, not even by root, so it is refused before any rename.
_FS_IOC_GETFLAGS: Final = 0x80086601
_FS_IMMUTABLE_FL: Final = 0x10
_FS_APPEND_FL: Final = 0x20


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """A file's new content, and what the file must hold for the write to go ahead.

    ``expected`` is the content the new one was planned from: if the file holds anything
    else when it is about to be replaced, nothing is written (WriteFailed, "changed since it
    was read"). ``None`` means the file must not exist; ``b""`` accepts a missing or an
    empty file (``FilePlan.old`` of a new file); ``ANY_CONTENT`` replaces whatever is there,
    for files hardenreq does not read, such as reports. ``mode`` applies when the file does
    not exist yet; an existing file keeps its mode, owner and group.
    """

    path: Path
    data: bytes
    mode: int = 0o644
    expected: bytes | Literal[_Anything.ANY] | None = ANY_CONTENT


class InterruptedAfterWrite(KeyboardInterrupt):
    """Ctrl-C arrived once every file was written: the files hold their new content."""


class _Interrupted(Exception):
    """A held signal arrived: roll back, then deliver it."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


@dataclass(slots=True)
class _Staged:
    write: PendingWrite
    target: Path  # the file renamed over: symlinks resolved
    temp: Path
    existed: bool
    backup: Path | None = None
    replaced: bool = False


def write_all(writes: Iterable[PendingWrite]) -> None:
    """Write every file or none.

    First, for each file: its symlinks are resolved, the target is checked (a regular file
    or nothing: not a directory, device, FIFO or socket; not immutable), its current content
    is compared with ``expected``, and the new content is staged as a temp file beside the
    target, with the target's mode, owner and group. Then each existing target gets a backup
    (a hard link, else a copy) and the temp files are renamed over their targets, each after
    a last check of ``expected``. Folders that do not exist are created (and removed again on
    failure).

    SIGINT, SIGTERM and SIGHUP are held meanwhile (when called from the main thread): one that
    arrives before the last rename rolls everything back and is then delivered as usual
    (KeyboardInterrupt, or the process ends with its default action); one that arrives later
    is delivered once the files are final, SIGINT as InterruptedAfterWrite.

    Raises WriteFailed: ``restored=True`` means every file is as it was and no temp or backup
    file is left; ``restored=False`` (a rollback that itself failed) names the files left
    replaced and where their previous content is.
    """
    pending = list(writes)
    if not pending:
        return
    held = _HeldSignals()
    held.install()
    try:
        _write_held(pending, held)
    except _Interrupted as exc:
        held.restore()
        held.deliver()  # KeyboardInterrupt, or the end of the process, as usual
        # Only reached when the signal's own handler returned (it was not the default one).
        raise WriteFailed(
            f"interrupted by {signal.Signals(exc.number).name} while writing files; every "
            "file was put back as it was"
        ) from None
    finally:
        held.restore()
    if held.caught is not None:
        try:
            held.deliver()
        except KeyboardInterrupt as exc:
            raise InterruptedAfterWrite from exc


def _write_held(pending: list[PendingWrite], held: _HeldSignals) -> None:
    staged: list[_Staged] = []
    created: list[Path] = []
    try:
        targets = [Path(os.path.realpath(write.path)) for write in pending]
        _refuse_duplicates(pending, targets)
        for write, target in zip(pending, targets, strict=True):
            staged.append(_stage(write, target, created))
            held.check()
        for item in staged:
            if item.existed:
                item.backup = _back_up(item)
                held.check()
        for item in staged:
            _check_expected(item.write, item.target)
            try:
                _replace(item)
            except OSError as exc:
                raise WriteFailed(f"cannot write {item.write.path}: {exc.strerror}") from exc
            held.check()
    except BaseException as exc:
        left = _roll_back(staged)
        _remove_leftovers(staged, created)
        if left:
            raise WriteFailed(
                _describe_failure(exc)
                + "; and these files could not be put back: "
                + "; ".join(left),
                hint="restore them from the backups named above, or from version control",
                restored=False,
            ) from exc
        if isinstance(exc, OSError):
            raise WriteFailed(_describe_failure(exc)) from exc
        raise
    _commit(staged)


def _describe_failure(exc: BaseException) -> str:
    if isinstance(exc, WriteFailed):
        return exc.message
    if isinstance(exc, OSError):
        return f"could not write {exc.filename or 'a file'}: {exc.strerror or exc}"
    if isinstance(exc, _Interrupted):
        return f"interrupted by {signal.Signals(exc.number).name}"
    return f"{type(exc).__name__}: {exc}"


def _refuse_duplicates(pending: list[PendingWrite], targets: list[Path]) -> None:
    seen: dict[Path, Path] = {}
    for write, target in zip(pending, targets, strict=True):
        if target in seen:
            raise WriteFailed(
                f"{seen[target]} and {write.path} are the same file; it cannot be written "
                "twice in one run"
            )
        seen[target] = write.path


def _stage(write: PendingWrite, target: Path, created: list[Path]) -> _Staged:
    """Check the target and write the temp file beside it; nothing outside it is changed."""
    shown = write.path
    folder = target.parent
    _make_folders(shown, folder, created)
    try:
        info: os.stat_result | None = os.lstat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise WriteFailed(f"cannot write {shown}: {exc.strerror}") from exc
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise WriteFailed(f"cannot write {shown}: its symbolic links do not lead to a file")
        if not stat.S_ISREG(info.st_mode):
            raise WriteFailed(
                f"cannot write {shown}: it is {describe_kind(info.st_mode)}; hardenreq "
                "replaces only regular files",
                hint=None
                if stat.S_ISDIR(info.st_mode)
                else "to print a report to a terminal or a pipe, leave out the output option",
            )
        if _immutable(target):
            raise WriteFailed(
                f"cannot write {shown}: it is immutable or append-only (chattr +i / +a)"
            )
    _check_expected(write, target)
    try:
        descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise WriteFailed(f"cannot write {shown}: {exc.strerror}") from exc
    temp = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(write.data)
            handle.flush()
            if info is not None:
                _keep_owner(handle.fileno(), info)
            os.chmod(temp, stat.S_IMODE(info.st_mode) if info else write.mode)
            os.fsync(handle.fileno())
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(exc, OSError):
            raise WriteFailed(f"cannot write {shown}: {exc.strerror}") from exc
        raise
    return _Staged(write, target, temp, existed=info is not None)


def _make_folders(shown: Path, folder: Path, created: list[Path]) -> None:
    missing: list[Path] = []
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise WriteFailed(
                f"cannot write {shown}: cannot create {path}: {exc.strerror}"
            ) from exc
        created.append(path)


def _immutable(target: Path) -> bool:
    if sys.platform != "linux":
        return False
    import fcntl
    import struct

    try:
        descriptor = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return False  # not readable by us: the rename will say whether it can be replaced
    try:
        flags = struct.unpack_from("i", fcntl.ioctl(descriptor, _FS_IOC_GETFLAGS, bytes(8)))[0]
    except OSError:
        return False  # a file system without these flags (tmpfs, NFS, ...)
    finally:
        os.close(descriptor)
    return bool(flags & (_FS_IMMUTABLE_FL | _FS_APPEND_FL))


def _keep_owner(descriptor: int, info: os.stat_result) -> None:
    """Give the temp file the owner and group of the file it replaces, as far as allowed."""
    current = os.fstat(descriptor)
    if (current.st_uid, current.st_gid) == (info.st_uid, info.st_gid) or not hasattr(os, "fchown"):
        return
    # Root may give the file to anyone; others may at least keep a group they belong to.
    for uid in (info.st_uid, -1):
        try:
            os.fchown(descriptor, uid, info.st_gid)
            return
        except PermissionError:
            continue


def _check_expected(write: PendingWrite, target: Path) -> None:
    expected = write.expected
    if expected is ANY_CONTENT:
        return
    if expected is None:
        if os.path.lexists(target):
            raise WriteFailed(
                f"{write.path} appeared since it was read; not overwriting it",
                hint="run the command again",
            )
        return
    try:
        current = read_optional_file(target, limit=len(expected), what="the file")
    except UnreadableFile as exc:
        current = None if isinstance(exc.__cause__, OSError) else b"\0" + expected
    if current == expected or (current is None and not expected):
        return
    raise WriteFailed(
        f"{write.path} changed since it was read; not overwriting it",
        hint="run the command again: it plans from the file as it is now",
    )


def _back_up(item: _Staged) -> Path:
    """A second name for the file about to be replaced, so the rename can be undone."""
    try:
        return _link_or_copy(item.target)
    except OSError as exc:
        raise WriteFailed(
            f"cannot write {item.write.path}: cannot keep a copy of it to fall back on: "
            f"{exc.strerror}"
        ) from exc


def _link_or_copy(target: Path) -> Path:
    folder = target.parent
    for _ in range(100):
        backup = folder / f".{target.name}.{secrets.token_hex(4)}.bak"
        try:
            os.link(target, backup, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError:
            break  # no hard links here (some file systems, protected_hardlinks): copy it
        return backup
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".bak", dir=folder)
    os.close(descriptor)
    backup = Path(name)
    try:
        shutil.copy2(target, backup)
        _keep_owner_of_copy(target, backup)
    except BaseException:
        with contextlib.suppress(OSError):
            backup.unlink()
        raise
    return backup


def _keep_owner_of_copy(original: Path, copy: Path) -> None:
    info = os.stat(original)
    if hasattr(os, "chown"):
        with contextlib.suppress(PermissionError):
            os.chown(copy, info.st_uid, info.st_gid)
    os.chmod(copy, stat.S_IMODE(info.st_mode))


def _replace(item: _Staged) -> None:
    if item.existed or item.write.expected is ANY_CONTENT:
        os.replace(item.temp, item.target)
        item.replaced = True
        return
    # A new file: a hard link is created only if the name is still free, so a file that
    # appeared since the check is never clobbered.
    try:
        os.link(item.temp, item.target, follow_symlinks=False)
    except FileExistsError as exc:
        raise WriteFailed(
            f"{item.write.path} appeared since it was read; not overwriting it",
            hint="run the command again",
        ) from exc
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
        os.replace(item.temp, item.target)
        item.replaced = True
        return
    item.replaced = True
    os.unlink(item.temp)


def _roll_back(staged: list[_Staged]) -> list[str]:
    """Put back every replaced file; describe those that could not be."""
    left: list[str] = []
    for item in reversed(staged):
        if not item.replaced:
            continue
        try:
            if item.backup is not None:
                os.replace(item.backup, item.target)
                item.backup = None
            else:
                os.unlink(item.target)
            item.replaced = False
        except OSError as exc:
            kept = f" (its previous content is in {item.backup})" if item.backup else ""
            left.append(f"{item.write.path}: {exc.strerror}{kept}")
            item.backup = None  # keep it: it is the only copy of the old content
    return left


def _remove_leftovers(staged: list[_Staged], created: list[Path]) -> None:
    for item in staged:
        for path in (item.temp, item.backup):
            if path is not None:
                with contextlib.suppress(FileNotFoundError, OSError):
                    path.unlink()
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _commit(staged: list[_Staged]) -> None:
    """Every file is final: drop the backups and flush the renames to disk."""
    for item in staged:
        if item.backup is not None:
            with contextlib.suppress(OSError):
                item.backup.unlink()
            item.backup = None
    for folder in {item.target.parent for item in staged}:
        _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


_Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


class _HeldSignals:
    """Records SIGINT, SIGTERM and SIGHUP instead of acting on them, until restored.

    Python runs signal handlers in the main thread only, between bytecodes: so a handler that
    just records is enough to keep a signal from interrupting a rename, whichever thread the
    operating system delivers it to. A signal that is ignored, or whose handler was not set
    from Python, is left alone.
    """

    def __init__(self) -> None:
        self.caught: int | None = None
        self._previous: dict[int, _Handler] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for number in _HELD_SIGNALS:
            previous = signal.getsignal(number)
            if previous is None or previous == signal.SIG_IGN:
                continue
            self._previous[number] = previous
            signal.signal(number, self._record)

    def _record(self, number: int, frame: FrameType | None) -> None:
        del frame
        if self.caught is None:
            self.caught = number

    def check(self) -> None:
        if self.caught is not None:
            raise _Interrupted(self.caught)

    def restore(self) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous.clear()

    def deliver(self) -> None:
        """Send the recorded signal again, now that its own handler is back."""
        if self.caught is not None:
            number, self.caught = self.caught, None
            signal.raise_signal(number)
