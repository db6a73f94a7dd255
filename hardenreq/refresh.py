"""refresh: what changed between a lock and its refreshed version, as plain data.

``diff_locks`` compares two lock texts; ``RefreshReport`` holds the changes of every lock a
run touched. Rendering them (Markdown for a pull-request body, JSON) is the reporters' job:
``hardenreq.report.get_refresh_reporter``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from hardenreq.models import Pin, Release
from hardenreq.reqfile.parse import parse_text
from hardenreq.targets import HERE, Environment, describe_environments

if TYPE_CHECKING:
    from hardenreq.authenticity import PublisherChange, YoungRelease

__all__ = [
    "ChangeKind",
    "LockChanges",
    "PinChange",
    "RefreshReport",
    "VulnerabilityFix",
    "diff_locks",
]


class ChangeKind(enum.StrEnum):
    """How one package's pin changed."""

    UPGRADED = "upgraded"
    DOWNGRADED = "downgraded"
    ADDED = "added"
    REMOVED = "removed"
    HASHES = "hashes"


@dataclass(frozen=True, slots=True)
class PinChange:
    """One package of a lock: its version before and after, and hash changes."""

    package: str
    kind: ChangeKind
    old: str | None
    new: str | None
    added_hashes: tuple[str, ...] = ()
    removed_hashes: tuple[str, ...] = ()
    added_files: tuple[str, ...] = ()
    #: The environments the change is on, for a lock of several ("python 3.10 on linux").
    environments: str | None = None


@dataclass(frozen=True, slots=True)
class LockChanges:
    """Every change of one lock file.

    ``text_changed`` says whether the file's bytes change at all (comments and ``# via``
    notes included), ``created`` that the lock did not exist before: the report is true to
    the bytes written, not only to the pins.
    """

    output: str
    source: str
    changes: tuple[PinChange, ...]
    text_changed: bool = True
    created: bool = False
    #: Releases not adopted because their publisher check failed (kept at the old pin),
    #: and those taken with --accept-publisher: for a reviewer (hardenreq.authenticity).
    publisher_changes: tuple[PublisherChange, ...] = ()
    #: Newer releases --min-release-age kept out of the lock.
    held_by_age: tuple[YoungRelease, ...] = ()

    def count(self, kind: ChangeKind) -> int:
        """How many changes of this kind."""
        return sum(1 for c in self.changes if c.kind == kind)

    @property
    def changed(self) -> bool:
        """Whether the lock's file changes."""
        return self.text_changed or bool(self.changes)

    @property
    def other_changes(self) -> bool:
        """The file changes, but no pin or hash does (comments, ``# via`` notes, layout)."""
        return self.text_changed and not self.changes and not self.created


@dataclass(frozen=True, slots=True)
class VulnerabilityFix:
    """``--fix-vulnerable``: one vulnerable pin of a lock, what it became, the advisories
    that fixes, those still affecting it, and (of those) the ones no allowed release fixes."""

    lock: str
    package: str
    old: str
    new: str | None
    fixed: tuple[str, ...]
    unfixed: tuple[str, ...]
    no_fix: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """The changes of every lock a refresh run touched, of the build-constraints files that go
    with them (``source`` then names the locks a file serves), and, with ``--fix-vulnerable``,
    what became of each vulnerable pin."""

    locks: tuple[LockChanges, ...]
    dry_run: bool = False
    build_constraints: tuple[LockChanges, ...] = ()
    fixes: tuple[VulnerabilityFix, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether any lock or build-constraints file changed (``--exit-code`` exits 1)."""
        return any(lock.changed for lock in (*self.locks, *self.build_constraints))


_Pinned = tuple[str, frozenset[str]]


def _pins(text: str, environment: Environment) -> dict[str, _Pinned]:
    """Each package's version and hashes as a lock gives them on one environment."""
    parsed = parse_text(Path("lock"), text, environ={})
    pins: dict[str, _Pinned] = {}
    for entry in parsed.requirements:
        if entry.name is None or not environment.evaluate(entry.marker, entry.extras):
            continue
        version = str(entry.pinned_version) if entry.pinned_version else entry.spec
        pins.setdefault(str(entry.name), (version, frozenset(h.digest for h in entry.hashes)))
    return pins


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def diff_locks(
    old_text: str,
    new_text: str,
    releases: Mapping[Pin, Release],
    environments: Sequence[Environment] = (HERE,),
) -> list[PinChange]:
    """Changes from ``old_text`` to ``new_text`` (lock files), sorted by package.

    A lock for several environments is compared on each: one change per package and per
    set of environments that see the same change, which the change names.
    ``releases`` names the files behind new digests where the run fetched them.
    """
    filenames = {f.sha256: f.filename for r in releases.values() for f in r.files}
    seen: dict[tuple[str, _Pinned | None, _Pinned | None], list[Environment]] = {}
    for environment in environments:
        old, new = _pins(old_text, environment), _pins(new_text, environment)
        for package in old.keys() | new.keys():
            before, after = old.get(package), new.get(package)
            if before != after:
                seen.setdefault((package, before, after), []).append(environment)
    changes: list[PinChange] = []
    for (package, before, after), where in sorted(seen.items(), key=lambda item: item[0][0]):
        shown = describe_environments(where) if len(environments) > 1 else None
        change = _change(package, before, after, filenames)
        if change is not None:
            changes.append(dataclasses.replace(change, environments=shown))
    return changes


def _change(
    package: str, before: _Pinned | None, after: _Pinned | None, filenames: Mapping[str, str]
) -> PinChange | None:
    if before is None and after is not None:
        return PinChange(package, ChangeKind.ADDED, None, after[0])
    if after is None and before is not None:
        return PinChange(package, ChangeKind.REMOVED, before[0], None)
    if before is None or after is None:
        return None
    if before[0] != after[0]:
        old_version, new_version = _version(before[0]), _version(after[0])
        downgraded = (
            old_version is not None and new_version is not None and new_version < old_version
        )
        kind = ChangeKind.DOWNGRADED if downgraded else ChangeKind.UPGRADED
        return PinChange(package, kind, before[0], after[0])
    if before[1] != after[1] and before[1]:
        added = tuple(sorted(after[1] - before[1]))
        return PinChange(
            package,
            ChangeKind.HASHES,
            before[0],
            after[0],
            added_hashes=added,
            removed_hashes=tuple(sorted(before[1] - after[1])),
            added_files=tuple(filenames.get(d, "") for d in added),
        )
    return None
