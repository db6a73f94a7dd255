"""Which files of a release a lock pins: the digests chosen, and every file left out with why.

pip's hash-checking mode installs a file only if its digest is listed, so the lock must list
every file pip could pick on the targets the lock is for. Today that is every wheel and the
sdist of the release (the lock installs on every platform); the policy is the one place that
narrows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardenreq.models import DistributionFile, FileKind, Release

__all__ = ["HashPolicy", "HashSelection", "select_hashes"]


@dataclass(frozen=True, slots=True)
class HashPolicy:
    """What a lock may install: every file pip can install, by default."""


@dataclass(frozen=True, slots=True)
class HashSelection:
    """The files of a release a lock pins, and those it leaves out, each with a reason."""

    release: Release
    chosen: tuple[DistributionFile, ...]
    excluded: tuple[tuple[DistributionFile, str], ...] = ()

    @property
    def digests(self) -> frozenset[str]:
        """The sha256 digests to pin."""
        return frozenset(f.sha256 for f in self.chosen)


def select_hashes(release: Release, policy: HashPolicy | None = None) -> HashSelection:
    """The files of ``release`` that a lock made under ``policy`` must pin."""
    del policy  # one policy today: every installable file
    chosen = tuple(f for f in release.files if f.kind in (FileKind.WHEEL, FileKind.SDIST))
    if len(chosen) == len(release.files):
        return HashSelection(release, chosen)  # the usual case: nothing left out
    kept = {id(f) for f in chosen}  # by identity: comparing files field by field is O(n^2)
    excluded = tuple(
        (f, "pip does not install this kind of file") for f in release.files if id(f) not in kept
    )
    return HashSelection(release, chosen, excluded)
