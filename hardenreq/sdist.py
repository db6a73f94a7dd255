"""Unpack a source distribution from the index, treating it as hostile input.

An sdist is an archive anyone who can upload to the index chose, read before anything
checks what it holds. Unpacking is bounded and confined: every member lands inside the
destination (no absolute path, no ``..``, no link that leads out, no device, FIFO or
socket), there are at most ``MAX_MEMBERS`` members and ``MAX_UNPACKED_BYTES`` bytes once
decompressed (counted as the decompressor produces them, so a compression bomb or a huge
pax header stops at the bound), and files get plain permissions (no set-uid, nothing
writable by others). The caller checks the archive's sha256 against the lock first.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from hardenreq.errors import IndexResponseInvalid

__all__ = [
    "MAX_MEMBERS",
    "MAX_SDIST_BYTES",
    "MAX_UNPACKED_BYTES",
    "SDIST_SUFFIXES",
    "unpack_sdist",
]

#: An sdist download larger than this is refused (the largest common sdists are tens of MB).
MAX_SDIST_BYTES = 256 * 1024 * 1024
#: Decompressed bytes of one sdist, headers included.
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
#: Members (files, folders, links) of one sdist.
MAX_MEMBERS = 50_000
#: The archive formats pip builds from (pip/_internal/utils/filetypes.py), most common first.
SDIST_SUFFIXES = (".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar")
_CHUNK = 1024 * 1024


class _Refused(Exception):
    """A member or a property of the archive that is not unpacked; the message says why."""


class _Bounded:
    """A read-only stream over a decompressor that refuses to produce more than ``limit``
    bytes in total: tarfile reads headers, pax records and member data through it."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._left = limit

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = self._left + 1
        data = self._stream.read(min(size, self._left + 1))
        self._left -= len(data)
        if self._left < 0:
            raise _Refused(f"it unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        return data

    def close(self) -> None:
        self._stream.close()


def unpack_sdist(archive: Path, destination: Path, *, what: str) -> Path:
    """Unpack the sdist ``archive`` into the empty folder ``destination``; return the
    project's folder (the archive's one top-level folder, as sdists have, else
    ``destination``), which holds a pyproject.toml or a setup.py.

    ``what`` names the sdist in messages (``docopt==0.6.2 (docopt-0.6.2.tar.gz)``). Raises
    IndexResponseInvalid (exit 3) for an archive that is not a valid sdist or is refused.
    """
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            _unzip(archive, destination)
        elif name.endswith(SDIST_SUFFIXES):
            _untar(archive, destination)
        else:
            raise _Refused("it is not an archive pip builds from (.tar.gz, .zip, ...)")
    except _Refused as exc:
        raise IndexResponseInvalid(f"{what}: refusing to unpack the sdist: {exc}") from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, lzma.LZMAError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise IndexResponseInvalid(f"{what}: the sdist is not a valid archive: {detail}") from exc
    root = _project_root(destination)
    if not (root / "pyproject.toml").is_file() and not (root / "setup.py").is_file():
        raise IndexResponseInvalid(
            f"{what}: the sdist holds neither a pyproject.toml nor a setup.py at its top: "
            "pip cannot build it"
        )
    return root


def _project_root(destination: Path) -> Path:
    entries = list(destination.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return destination


def _member_path(name: str) -> PurePosixPath:
    """The member's path inside the destination; _Refused for one that would leave it."""
    if "\x00" in name:
        raise _Refused(f"a member's name holds a NUL byte: {name[:100]!r}")
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise _Refused(f"a member has an absolute path: {name[:200]!r}")
    parts = [part for part in path.parts if part not in ("", ".")]
    if ".." in parts:
        raise _Refused(f"a member's path leaves the archive's folder: {name[:200]!r}")
    if not parts:
        return PurePosixPath(".")
    return PurePosixPath(*parts)


def _open_tar_stream(archive: Path) -> IO[bytes]:
    name = archive.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return gzip.open(archive, "rb")  # type: ignore[return-value]  # GzipFile reads bytes
    if name.endswith((".tar.bz2", ".tbz")):
        return bz2.open(archive, "rb")
    if name.endswith((".tar.xz", ".txz")):
        return lzma.open(archive, "rb")
    return archive.open("rb")


def _untar(archive: Path, destination: Path) -> None:
    stream = _Bounded(_open_tar_stream(archive), MAX_UNPACKED_BYTES)
    try:
        # "r|": one pass over the stream, as it decompresses; nothing seeks back.
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            # Every member is checked (_checked_tar_members), then confined (_filter), one
            # at a time as the stream reaches it.
            for member in _checked_tar_members(tar):
                tar.extract(member, destination, filter=_filter)
    finally:
        stream.close()


def _checked_tar_members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    total = 0
    for count, member in enumerate(tar, 1):
        if count > MAX_MEMBERS:
            raise _Refused(f"it has more than {MAX_MEMBERS} members")
        total += max(member.size, 0)
        if total > MAX_UNPACKED_BYTES:
            raise _Refused(f"its members hold more than {MAX_UNPACKED_BYTES} bytes")
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise _Refused(f"a member is a device, FIFO or other special file: {member.name!r}")
        _member_path(member.name)
        if member.issym() or member.islnk():
            _member_path(member.linkname)  # the data filter then checks where it leads
        yield member


def _filter(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    """tarfile's "data" filter (PEP 706): paths and links confined to the destination, no
    special files, no owners, and no set-uid or group- and other-writable bits."""
    try:
        return tarfile.data_filter(member, path)
    except tarfile.FilterError as exc:
        raise _Refused(str(exc)) from exc


def _unzip(archive: Path, destination: Path) -> None:
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        if len(members) > MAX_MEMBERS:
            raise _Refused(f"it has more than {MAX_MEMBERS} members")
        # Declared sizes bound what zipfile reads for each member (it stops there and checks
        # the CRC), so their sum bounds the whole.
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise _Refused(f"its members hold more than {MAX_UNPACKED_BYTES} bytes")
        root = destination.resolve()
        for member in members:
            relative = _member_path(member.filename)
            target = root.joinpath(*relative.parts)
            if member.is_dir() or member.filename.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.parent.resolve() != target.parent or not target.parent.is_relative_to(root):
                raise _Refused(f"a member's folder leads out of the archive: {member.filename!r}")
            unix_mode = member.external_attr >> 16
            executable = bool(unix_mode & stat.S_IXUSR) and stat.S_ISREG(unix_mode)
            # A symlink in a zip is written as a file holding its target, as pip does.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            descriptor = os.open(target, flags, 0o755 if executable else 0o644)
            with os.fdopen(descriptor, "wb") as sink, zipped.open(member) as source:
                shutil.copyfileobj(source, sink, _CHUNK)
