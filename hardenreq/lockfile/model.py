"""The Lock model: what a lock records, whatever format it is written in.

``requirements.txt`` and ``pylock.toml`` are two writers and readers of this one model
(``hardenreq.lockfile.requirements``, ``hardenreq.lockfile.pylock``). A requirements file
holds only part of it (pins, markers, hashes, options, ``# via`` notes); pylock.toml holds
all of it (each file's name, URL, size and upload time, the index, Requires-Python, the
environments the lock is for).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from hardenreq.models import FileKind, HashPin, Pin
from hardenreq.targets import Targets

__all__ = ["Lock", "LockOrigin", "LockedFile", "LockedPackage"]


@dataclass(frozen=True, slots=True)
class LockedFile:
    """One file a lock lets an installer take: its name, where it is, and its hashes.

    ``hashes`` are sorted (algorithm, lower-case hex digest) pairs, sha256 for every file
    hardenreq writes. ``url`` and ``size``/``upload_time`` are as the index listed them
    when the lock was made (``upload_time`` in UTC); ``path`` is a local archive's path,
    relative to the lock's folder, for direct references only.
    """

    filename: str
    hashes: tuple[tuple[str, str], ...]
    url: str | None = None
    path: str | None = None
    size: int | None = None
    upload_time: datetime | None = None

    @property
    def sha256(self) -> str | None:
        """The sha256 digest, if the lock records one."""
        return next((digest for algorithm, digest in self.hashes if algorithm == "sha256"), None)

    @property
    def pins(self) -> tuple[HashPin, ...]:
        """The hashes as ``--hash`` values."""
        return tuple(HashPin(algorithm, digest) for algorithm, digest in self.hashes)

    @property
    def kind(self) -> FileKind:
        """Wheel or sdist, by the filename (PEP 427: wheels end in ``.whl``)."""
        return FileKind.WHEEL if self.filename.lower().endswith(".whl") else FileKind.SDIST


@dataclass(frozen=True, slots=True)
class LockedPackage:
    """One entry of a lock: a project pinned to a version, with every file it may install.

    ``marker`` says where the entry applies (a source line's marker, and, once locks cover
    several environments (issue 11), the environments that need it); ``requires_python``
    is what the release's files declare. A direct reference (``name @ URL``) has no
    version and one ``archive`` instead of wheels and an sdist. ``via`` are the reasons
    the package is in the lock as pip-compile words them (``-r requirements.in``,
    ``django``); ``dependencies`` the entries it needs. ``unsupported`` is set on entries
    read from a pylock.toml that hardenreq cannot check (VCS, local directory): why.
    ``line`` is where the entry starts in the file it was read from.
    """

    name: NormalizedName
    version: Version | None
    marker: Marker | None = None
    requires_python: SpecifierSet | None = None
    index: str | None = None
    sdist: LockedFile | None = None
    wheels: tuple[LockedFile, ...] = ()
    archive: LockedFile | None = None
    dependencies: tuple[NormalizedName, ...] = ()
    via: tuple[str, ...] = ()
    attestation_identities: tuple[tuple[tuple[str, str], ...], ...] = ()
    unsupported: str | None = None
    line: int | None = None

    @property
    def files(self) -> tuple[LockedFile, ...]:
        """Every file of the entry: the sdist, the wheels, or the direct archive."""
        return (
            *((self.sdist,) if self.sdist else ()),
            *self.wheels,
            *((self.archive,) if self.archive else ()),
        )

    @property
    def pin(self) -> Pin | None:
        """``name==version``, None for a direct reference."""
        return None if self.version is None else Pin(self.name, self.version)


@dataclass(frozen=True, slots=True)
class LockOrigin:
    """What the lock was made from, so that harden and refresh can make it again.

    ``source`` is relative to the lock's folder (POSIX separators); ``command`` is the
    command that rebuilds it; ``options`` are the option lines of the source that the
    lock keeps (``--index-url ...``, ``-c base.txt``), as the user wrote them, variables
    unexpanded; ``targets`` the environments it was made for (None: the machine it was
    made on). pylock.toml keeps all of it under ``[tool.hardenreq]``.
    """

    source: str | None = None
    extras: tuple[str, ...] = ()
    command: str | None = None
    options: tuple[str, ...] = ()
    targets: Targets | None = None


@dataclass(frozen=True, slots=True)
class Lock:
    """A whole lock: its packages in order, and what applies to all of them.

    ``environments`` (markers) lists the environments the lock is for, one per platform of
    its targets, empty for "the machine it was made on"; ``requires_python`` the Pythons
    it installs on.
    """

    packages: tuple[LockedPackage, ...]
    origin: LockOrigin = field(default_factory=LockOrigin)
    requires_python: SpecifierSet | None = None
    environments: tuple[Marker, ...] = ()
    created_by: str = "hardenreq"
