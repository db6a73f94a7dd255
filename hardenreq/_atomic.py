"""Atomic file writes: stage every file in its own folder, then swap them all in."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hardenreq.errors import WriteFailed


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """A file's new content; ``mode`` applies when the file does not exist yet."""

    path: Path
    data: bytes
    mode: int = 0o644


def write_all(writes: Iterable[PendingWrite]) -> None:
    """Write every file or none: stage each as a temp file beside its target, then rename.

    The existing file's permission bits are kept. If staging any file fails, nothing is
    replaced. Raises WriteFailed.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        staged.extend((_stage(write), write.path) for write in writes)
        for temp, target in staged:
            os.replace(temp, target)
    except OSError as exc:
        for temp, _ in staged:
            with contextlib.suppress(OSError):
                temp.unlink()
        raise WriteFailed(f"could not write {exc.filename or 'a file'}: {exc.strerror}") from exc


def _stage(write: PendingWrite) -> Path:
    target = write.path
    folder = target.parent if str(target.parent) else Path()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = write.mode
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(write.data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return temp
