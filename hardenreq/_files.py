"""Reading a user's file safely: regular files only, and never more bytes than a limit.

Every file hardenreq reads on a user's behalf (requirements files and their includes,
pyproject.toml, old locks, pip configuration files) comes through ``read_regular_file``, so
``-r /dev/zero``, a FIFO, ``/dev/stdin``, a socket or a directory is refused before a byte is
read, and an oversize file is refused after at most ``limit + 1`` bytes.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path
from typing import Final

from hardenreq.errors import UnreadableFile

__all__ = [
    "MAX_PIP_CONF_BYTES",
    "MAX_TEXT_BYTES",
    "describe_kind",
    "open_regular_file",
    "read_optional_file",
    "read_regular_file",
]

#: Limit for a pyproject.toml, an old lock or another text input (requirements files use
#: ``reqfile.parse.MAX_FILE_BYTES``, the same figure).
MAX_TEXT_BYTES: Final = 16 * 1024 * 1024
#: Limit for one of pip's configuration files: real ones are a few hundred bytes.
MAX_PIP_CONF_BYTES: Final = 1024 * 1024

# O_NONBLOCK: opening a FIFO that was swapped in after the stat check must not wait for a
# writer. O_NOCTTY: opening a terminal must never make it the controlling one.
_OPEN_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_CHUNK: Final = 1024 * 1024

_KINDS: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def describe_kind(mode: int) -> str:
    """What kind of file ``mode`` (an ``st_mode``) is, for a message: "a directory", ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_regular_file(path: Path, *, limit: int, what: str) -> bytes:
    """Return the bytes of the regular file at ``path`` (symlinks are followed).

    The kind of file is checked before it is opened (a device is never opened, since opening
    some has effects) and again on the open descriptor, so nothing but a regular file is ever
    read; at most ``limit + 1`` bytes are read. ``what`` names the file in messages ("the
    requirements file", "the pip configuration file"). Raises UnreadableFile (exit 2), naming
    the file: a missing or unopenable file, anything that is not a regular file, or a file of
    more than ``limit`` bytes.
    """
    descriptor, info = _open_checked(path, what)
    try:
        if info.st_size > limit:
            raise _too_large(path, what, limit, info.st_size)
        chunks: list[bytes] = []
        remaining = limit + 1  # one more than allowed: a file that grew is caught too
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise _unreadable(path, what, exc) from exc
    finally:
        os.close(descriptor)
    data = b"".join(chunks)
    if len(data) > limit:
        raise _too_large(path, what, limit, None)
    return data


def read_optional_file(path: Path, *, limit: int, what: str) -> bytes | None:
    """``read_regular_file``, but None when nothing is at ``path`` (a dangling symlink too).

    Raises UnreadableFile for everything else ``read_regular_file`` refuses.
    """
    try:
        return read_regular_file(path, limit=limit, what=what)
    except UnreadableFile as exc:
        if isinstance(exc.__cause__, FileNotFoundError | NotADirectoryError):
            return None
        raise


def open_regular_file(path: Path, *, what: str) -> io.BufferedReader:
    """Open the regular file at ``path`` for reading, checked as ``read_regular_file`` does.

    For files read in a stream with no size limit of their own (a local wheel to hash): the
    caller reads it, so a device, FIFO or socket is refused instead of read forever. Raises
    UnreadableFile; OSError while reading is the caller's.
    """
    descriptor, _ = _open_checked(path, what)
    return os.fdopen(descriptor, "rb")


def _open_checked(path: Path, what: str) -> tuple[int, os.stat_result]:
    """A descriptor open on ``path``, and its fstat, once it is known to be a regular file."""
    try:
        _refuse_special(path, os.stat(path).st_mode, what)
        descriptor = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _unreadable(path, what, exc) from exc
    try:
        info = os.fstat(descriptor)
        _refuse_special(path, info.st_mode, what)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor, info


def _refuse_special(path: Path, mode: int, what: str) -> None:
    if not stat.S_ISREG(mode):
        raise UnreadableFile(
            path,
            f"it is {describe_kind(mode)}; hardenreq reads only regular files",
            what=what,
        )


def _too_large(path: Path, what: str, limit: int, size: int | None) -> UnreadableFile:
    shown = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
    return UnreadableFile(path, f"it is {shown}; the limit is {limit:,} bytes", what=what)


def _unreadable(path: Path, what: str, exc: OSError) -> UnreadableFile:
    if exc.errno == errno.ENOENT:
        reason = "no such file"
    elif exc.errno == errno.ENOTDIR:
        reason = "no such file (a folder on its path is a file)"
    elif exc.errno == errno.ELOOP:
        reason = "too many levels of symbolic links"
    else:
        reason = exc.strerror or str(exc)
    return UnreadableFile(path, reason, what=what)
