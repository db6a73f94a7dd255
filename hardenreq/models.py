"""Plain, frozen data passed between hardenreq's stages (parse, index, select, plan)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from packaging.utils import NormalizedName
from packaging.version import Version

__all__ = [
    "DistributionFile",
    "FileKind",
    "HashPin",
    "NormalizedName",
    "Pin",
    "Release",
]


@dataclass(frozen=True, slots=True, order=True)
class HashPin:
    """One ``--hash=ALGORITHM:HEXDIGEST`` value; the digest is lower-case hex."""

    algorithm: str
    digest: str

    def render(self) -> str:
        """The option as it is written in a requirements file."""
        return f"--hash={self.algorithm}:{self.digest}"


@dataclass(frozen=True, slots=True)
class Pin:
    """A project pinned to one exact version."""

    name: NormalizedName
    version: Version

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


class FileKind(enum.StrEnum):
    """What sort of distribution file a release file is."""

    WHEEL = "wheel"
    SDIST = "sdist"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class DistributionFile:
    """One file of a release as the index lists it.

    ``yanked`` is None when the file is not yanked, else the reason (possibly empty).
    """

    filename: str
    url: str
    sha256: str
    kind: FileKind
    requires_python: str | None = None
    yanked: str | None = None
    size: int | None = None
    upload_time: str | None = None


@dataclass(frozen=True, slots=True)
class Release:
    """Every file of one pinned release, and which index (redacted) and API answered."""

    pin: Pin
    files: tuple[DistributionFile, ...]
    index: str
    source: str
    latest: Version | None = None

    @property
    def yanked(self) -> str | None:
        """The yank reason when every file of the release is yanked, else None."""
        if self.files and all(f.yanked is not None for f in self.files):
            return next(f.yanked for f in self.files if f.yanked is not None)
        return None

    @property
    def sha256s(self) -> frozenset[str]:
        """The sha256 digests of every file of the release."""
        return frozenset(f.sha256 for f in self.files)
