"""An offline OSV dump (``--advisory-db``): OSV's ``all.zip`` of one ecosystem, or a folder
of OSV JSON records (the zip unpacked, or a checkout of ossf/malicious-packages).

Read with bounds, because a dump is a file someone handed over: the zip's entry count is
read from its end records before ``zipfile`` builds its table (a forged directory of
millions of entries is refused), every record is read in bounded steps and refused past
``MAX_RECORD_BYTES`` whatever its header claims, and all records together past
``MAX_DUMP_BYTES``. Only the records that name a pinned project are kept in memory. The
dump's sha256 and its newest ``modified`` date go into the report, so a reader can tell
which copy of the data was used.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Final

from packaging.utils import NormalizedName

from hardenreq._files import open_regular_file, read_regular_file
from hardenreq.advisories.match import OsvRecord, RecordInvalid, decode_record, record_names
from hardenreq.errors import InputError, UnreadableFile
from hardenreq.layout import display_path

__all__ = [
    "MAX_DUMP_BYTES",
    "MAX_RECORDS",
    "MAX_RECORD_BYTES",
    "AdvisoryDatabase",
    "load_database",
]

#: The largest single record read (the largest in OSV's PyPI dump are well under 1 MiB).
MAX_RECORD_BYTES: Final = 8 * 1024 * 1024
#: All records of a dump together, decompressed (OSV's PyPI dump is a few hundred MB).
MAX_DUMP_BYTES: Final = 4 * 1024 * 1024 * 1024
#: Entries of a zip, or JSON files of a folder (OSV's PyPI dump has some tens of thousands).
MAX_RECORDS: Final = 2_000_000
_STEP: Final = 256 * 1024
_EOCD: Final = b"PK\x05\x06"
_ZIP64_LOCATOR: Final = b"PK\x06\x07"
_ZIP64_EOCD: Final = b"PK\x06\x06"
# The end record is 22 bytes plus a comment of at most 65,535.
_TAIL: Final = 22 + 65535 + 20


@dataclass(frozen=True, slots=True)
class AdvisoryDatabase:
    """What a dump says about the projects asked for, and which dump it was.

    ``records`` counts the records read, ``skipped`` those that were not valid OSV JSON
    (or too large), ``date`` is the newest ``modified`` among the records read (ISO 8601),
    ``sha256`` the zip's digest, or for a folder the digest of its sorted listing
    (``relative/path NUL sha256 LF`` per record).
    """

    path: Path
    kind: str
    sha256: str
    records: int
    skipped: int
    date: str | None
    by_name: dict[NormalizedName, list[OsvRecord]] = field(default_factory=dict)


def load_database(path: Path, names: Collection[NormalizedName]) -> AdvisoryDatabase:
    """Read the dump at ``path``, keeping the records that name one of ``names``.

    Raises InputError (exit 2, naming the dump) for a path that is neither a zip nor a
    folder, a broken zip, or a dump over the bounds above.
    """
    wanted = set(names)
    if path.is_dir():
        return _Reader(path, "folder", wanted).folder()
    return _Reader(path, "zip", wanted).zip()


class _Reader:
    def __init__(self, path: Path, kind: str, wanted: set[NormalizedName]) -> None:
        self.path = path
        self.kind = kind
        self.wanted = wanted
        self.records = 0
        self.skipped = 0
        self.total = 0
        self.newest: datetime | None = None
        self.newest_text: str | None = None
        self.by_name: dict[NormalizedName, list[OsvRecord]] = {}

    def _error(self, problem: str) -> InputError:
        return InputError(
            f"{display_path(self.path)}: cannot read the advisory database: {problem}",
            hint="give OSV's all.zip of the PyPI ecosystem, or a folder of OSV JSON records",
        )

    def _result(self, sha256: str) -> AdvisoryDatabase:
        return AdvisoryDatabase(
            self.path,
            self.kind,
            sha256,
            self.records,
            self.skipped,
            self.newest_text,
            self.by_name,
        )

    def _take(self, data: bytes) -> None:
        """One record's bytes: counted, and kept when it names a wanted project."""
        self.records += 1
        self.total += len(data)
        if self.total > MAX_DUMP_BYTES:
            raise self._error(f"its records hold more than {MAX_DUMP_BYTES} bytes")
        try:
            names, modified = record_names(data)
            self._date(modified)
            names &= self.wanted
            if not names:
                return
            record = decode_record(data)
        except RecordInvalid:
            self.skipped += 1
            return
        if record.withdrawn:
            return
        for name in names:
            self.by_name.setdefault(name, []).append(record)

    def _date(self, modified: str | None) -> None:
        if not modified:
            return
        try:
            moment = datetime.fromisoformat(modified)
        except ValueError:
            return
        if moment.tzinfo is None:
            return
        if self.newest is None or moment > self.newest:
            self.newest, self.newest_text = moment, modified

    # -- a zip ------------------------------------------------------------------------------

    def zip(self) -> AdvisoryDatabase:
        try:
            handle = open_regular_file(self.path, what="the advisory database")
        except UnreadableFile as exc:
            raise self._error(exc.reason) from exc
        with handle:
            digest = hashlib.sha256()
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
            entries = self._entry_count(handle)
            if entries > MAX_RECORDS:
                raise self._error(f"it has {entries} entries (at most {MAX_RECORDS} are read)")
            handle.seek(0)
            try:
                with zipfile.ZipFile(handle) as archive:
                    for info in archive.infolist():
                        if info.is_dir() or not info.filename.endswith(".json"):
                            continue
                        if info.file_size > MAX_RECORD_BYTES:
                            self.skipped += 1
                            continue
                        with archive.open(info) as member:
                            data = self._bounded(member)
                        if data is not None:
                            self._take(data)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
                raise self._error(f"not a valid zip ({' '.join(str(exc).split())[:200]})") from exc
            except NotImplementedError as exc:  # a compression method zipfile lacks
                raise self._error(str(exc)[:200]) from exc
        return self._result(digest.hexdigest())

    def _entry_count(self, handle: IO[bytes]) -> int:
        """The entries the zip's end record declares (zip64 too), before zipfile reads its
        central directory into memory; a file without an end record is not a zip."""
        size = handle.seek(0, os.SEEK_END)
        start = max(0, size - _TAIL)
        handle.seek(start)
        tail = handle.read()
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < 22:
            raise self._error("not a zip file (no end of central directory record)")
        count = int(struct.unpack_from("<H", tail, at + 10)[0])
        locator = at - 20
        if count == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == _ZIP64_LOCATOR:
            (offset,) = struct.unpack_from("<Q", tail, locator + 8)
            if offset < size:
                handle.seek(offset)
                record = handle.read(56)
                if len(record) == 56 and record[:4] == _ZIP64_EOCD:
                    count = int(struct.unpack_from("<Q", record, 32)[0])
        return count

    def _bounded(self, member: IO[bytes]) -> bytes | None:
        """A member's bytes, read in bounded steps (a member's header can lie about its
        size; the decompressor never hands out more than a step); None past the bound."""
        chunks: list[bytes] = []
        size = 0
        while piece := member.read(_STEP):
            size += len(piece)
            if size > MAX_RECORD_BYTES:
                self.skipped += 1
                return None
            chunks.append(piece)
        return b"".join(chunks)

    # -- a folder ---------------------------------------------------------------------------

    def folder(self) -> AdvisoryDatabase:
        listing: list[tuple[str, str]] = []
        for file in self._json_files():
            try:
                data = read_regular_file(file, limit=MAX_RECORD_BYTES, what="the advisory record")
            except UnreadableFile:
                self.skipped += 1
                continue
            listing.append(
                (file.relative_to(self.path).as_posix(), hashlib.sha256(data).hexdigest())
            )
            self._take(data)
        digest = hashlib.sha256()
        for relative, file_digest in sorted(listing):
            digest.update(f"{relative}\0{file_digest}\n".encode("utf-8", "surrogateescape"))
        return self._result(digest.hexdigest())

    def _json_files(self) -> Iterator[Path]:
        seen = 0
        # Symbolic links are not followed: a link loop or a link out of the folder is skipped.
        for folder, subfolders, files in os.walk(self.path, followlinks=False):
            subfolders.sort()
            for name in sorted(files):
                if not name.endswith(".json"):
                    continue
                seen += 1
                if seen > MAX_RECORDS:
                    raise self._error(f"it holds more than {MAX_RECORDS} JSON files")
                yield Path(folder) / name
