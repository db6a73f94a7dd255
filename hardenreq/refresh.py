"""refresh: what changed between a lock and its refreshed version, as a reviewable report.

The report is Markdown ready to be a pull-request body (or JSON). Hash-only changes (same
version, different files on the index) get a section of their own: a file that changes
under an existing version is what a compromised upload looks like, so a person should look.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from hardenreq import __version__
from hardenreq.models import Pin, Release
from hardenreq.reqfile.parse import parse_text

__all__ = [
    "ChangeKind",
    "LockChanges",
    "PinChange",
    "RefreshReport",
    "diff_locks",
    "render_json",
    "render_markdown",
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
class RefreshReport:
    """The changes of every lock a refresh run touched."""

    locks: tuple[LockChanges, ...]
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        """Whether any lock changed (``--exit-code`` exits 1 then)."""
        return any(lock.changed for lock in self.locks)


def _pins(text: str) -> dict[str, tuple[str, frozenset[str]]]:
    parsed = parse_text(Path("lock"), text, environ={})
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    for entry in parsed.requirements:
        if entry.name is None:
            continue
        version = str(entry.pinned_version) if entry.pinned_version else entry.spec
        pins[str(entry.name)] = (version, frozenset(h.digest for h in entry.hashes))
    return pins


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def diff_locks(old_text: str, new_text: str, releases: Mapping[Pin, Release]) -> list[PinChange]:
    """Changes from ``old_text`` to ``new_text`` (lock files), sorted by package.

    ``releases`` names the files behind new digests where the run fetched them.
    """
    old, new = _pins(old_text), _pins(new_text)
    filenames = {f.sha256: f.filename for r in releases.values() for f in r.files}
    changes: list[PinChange] = []
    for package in sorted(old.keys() | new.keys()):
        before, after = old.get(package), new.get(package)
        if before is None and after is not None:
            changes.append(PinChange(package, ChangeKind.ADDED, None, after[0]))
        elif after is None and before is not None:
            changes.append(PinChange(package, ChangeKind.REMOVED, before[0], None))
        elif before is not None and after is not None:
            if before[0] != after[0]:
                old_version, new_version = _version(before[0]), _version(after[0])
                downgraded = (
                    old_version is not None
                    and new_version is not None
                    and new_version < old_version
                )
                kind = ChangeKind.DOWNGRADED if downgraded else ChangeKind.UPGRADED
                changes.append(PinChange(package, kind, before[0], after[0]))
            elif before[1] != after[1] and before[1]:
                added = tuple(sorted(after[1] - before[1]))
                changes.append(
                    PinChange(
                        package,
                        ChangeKind.HASHES,
                        before[0],
                        after[0],
                        added_hashes=added,
                        removed_hashes=tuple(sorted(before[1] - after[1])),
                        added_files=tuple(filenames.get(d, "") for d in added),
                    )
                )
    return changes


_HEADINGS = {
    ChangeKind.UPGRADED: "upgraded",
    ChangeKind.DOWNGRADED: "downgraded",
    ChangeKind.ADDED: "added",
    ChangeKind.REMOVED: "removed",
    ChangeKind.HASHES: "hash-only",
}


def _counts(lock: LockChanges) -> str:
    parts = [f"{lock.count(kind)} {word}" for kind, word in _HEADINGS.items() if lock.count(kind)]
    if lock.created:
        parts.insert(0, "new lock")
    elif lock.other_changes:
        parts.append("comments and notes changed")
    return ", ".join(parts) if parts else "no changes"


def render_markdown(report: RefreshReport) -> str:
    """The report as Markdown, ready to be a pull-request body."""
    lines = ["## hardenreq refresh", ""]
    if report.dry_run:
        lines += ["_Dry run: nothing was written._", ""]
    if not report.changed:
        lines += ["Every pin and hash is current: nothing to change.", ""]
    for lock in report.locks:
        lines.append(f"### `{lock.output}` (from `{lock.source}`): {_counts(lock)}")
        lines.append("")
        versions = [c for c in lock.changes if c.kind != ChangeKind.HASHES]
        if versions:
            lines += ["| package | change | old | new |", "| --- | --- | --- | --- |"]
            lines += [
                f"| {c.package} | {c.kind.value} | {c.old or ''} | {c.new or ''} |"
                for c in versions
            ]
            lines.append("")
        hashes = [c for c in lock.changes if c.kind == ChangeKind.HASHES]
        if hashes:
            lines += [
                "#### Hash-only changes: review these",
                "",
                "These releases kept their version, but their files on the index changed. A "
                "new file (for example a wheel for a new Python) is usually harmless; a file "
                "that disappeared or was replaced is what a compromised upload looks like. "
                "Check each one before merging.",
                "",
            ]
            for change in hashes:
                lines.append(f"- `{change.package}=={change.new}`")
                for digest, filename in zip(change.added_hashes, change.added_files, strict=True):
                    lines.append(f"  - added `sha256:{digest}` {filename}".rstrip())
                lines += [f"  - removed `sha256:{d}`" for d in change.removed_hashes]
            lines.append("")
    lines.append(f"<sub>hardenreq {__version__}</sub>")
    return "\n".join(lines) + "\n"


def render_json(report: RefreshReport) -> str:
    """The report as JSON (schema version 1)."""
    document = {
        "version": 1,
        "tool": {"name": "hardenreq", "version": __version__},
        "dry_run": report.dry_run,
        "changed": report.changed,
        "locks": [
            {
                "output": lock.output,
                "source": lock.source,
                "changes": [
                    {
                        "package": c.package,
                        "change": c.kind.value,
                        "old": c.old,
                        "new": c.new,
                        "added_hashes": list(c.added_hashes),
                        "removed_hashes": list(c.removed_hashes),
                        "added_files": list(c.added_files),
                    }
                    for c in lock.changes
                ],
            }
            for lock in report.locks
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def render(report: RefreshReport, report_format: str) -> str:
    """The report in ``markdown`` or ``json``."""
    return render_json(report) if report_format == "json" else render_markdown(report)


def summary(report: RefreshReport, locks: Sequence[LockChanges] | None = None) -> str:
    """One line per lock for stderr."""
    return "\n".join(
        f"{lock.output}: {_counts(lock)}" for lock in (locks if locks is not None else report.locks)
    )
