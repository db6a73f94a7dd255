"""Helpers shared by the reporters: one finding order and one summary line for every format,
and the counts a refresh report and its stderr summary show for each lock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Final

from hardenreq.models import AdvisorySource, Finding, Severity, VerifyReport

if TYPE_CHECKING:
    # Types only: a verify run loads none of the refresh code.
    from hardenreq.refresh import ChangeKind, LockChanges, RefreshReport

__all__ = [
    "advisory_line",
    "change_counts",
    "ordered",
    "posix_path",
    "refresh_summary",
    "summary_line",
]


def _change_words() -> dict[ChangeKind, str]:
    from hardenreq.refresh import ChangeKind

    return {
        ChangeKind.UPGRADED: "upgraded",
        ChangeKind.DOWNGRADED: "downgraded",
        ChangeKind.ADDED: "added",
        ChangeKind.REMOVED: "removed",
        ChangeKind.HASHES: "hash-only",
    }


def _sort_key(finding: Finding) -> tuple[str, int, str, str, str, str]:
    # The same order verify's core sorts by (file, line, kind), made total with the rest, so
    # a report renders the same whatever order its findings arrive in. No line sorts first:
    # such findings are about the whole file.
    return (
        finding.file,
        finding.line or 0,
        finding.kind.value,
        finding.package or "",
        finding.version or "",
        finding.message,
    )


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """``findings`` sorted by file, line (none first), kind, package, version and message."""
    return sorted(findings, key=_sort_key)


def _plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {words or word + 's'}"


def summary_line(report: VerifyReport) -> str:
    """One line without a newline, e.g. ``2 errors, 1 warning, 0 info in 2 files (14
    requirements)``, or ``no findings in 1 file (3 requirements)``."""
    where = (
        f"in {_plural(len(report.files), 'file')} ({_plural(report.requirements, 'requirement')})"
    )
    remarks = "".join(f"; {remark}" for remark in report.remarks)
    if not report.findings:
        return f"no findings {where}{remarks}"
    errors = _plural(report.count(Severity.ERROR), "error")
    warnings = _plural(report.count(Severity.WARNING), "warning")
    return f"{errors}, {warnings}, {report.count(Severity.INFO)} info {where}{remarks}"


_SOURCE_NAMES: Final = {
    "index": "the index",
    "osv-api": "the OSV API",
    "advisory-db": "the advisory database",
}


def _source(source: AdvisorySource) -> str:
    text = _SOURCE_NAMES.get(source.name, source.name)
    if source.location:
        text += f" {source.location}"
    if not source.ok:
        return f"{text}: not used ({source.problem})"
    if source.note:
        return f"{text} ({source.note})"
    what = "records" if source.name == "advisory-db" else "advisories for these pins"
    parts = [f"{source.records} {what}"]
    if source.skipped:
        parts.append(f"{source.skipped} unreadable skipped")
    if source.date:
        parts.append(f"newest {source.date}")
    if source.sha256:
        parts.append(f"sha256 {source.sha256}")
    return f"{text} ({', '.join(parts)})"


def advisory_line(report: VerifyReport) -> str | None:
    """``advisories: the index (...); the OSV API https://... (3 advisories ...)``: which
    sources the advisory check asked and what each gave; None when the check was off."""
    if not report.advisories:
        return None
    return "advisories: " + "; ".join(_source(s) for s in report.advisories)


def posix_path(file: str) -> str:
    """A finding's path with forward slashes (a Windows path's backslashes become ``/``)."""
    return PurePath(file).as_posix()


def change_counts(lock: LockChanges) -> str:
    """``1 upgraded, 2 added`` (kinds present only, in a fixed order), ``new lock``,
    ``comments and notes changed`` when only those did, or ``no changes``: true to the bytes
    the lock's file gets, not only to its pins."""
    parts = [
        f"{lock.count(kind)} {word}" for kind, word in _change_words().items() if lock.count(kind)
    ]
    if lock.created:
        parts.insert(0, "new lock")
    elif lock.other_changes:
        parts.append("comments and notes changed")
    return ", ".join(parts) if parts else "no changes"


def refresh_summary(report: RefreshReport, locks: Sequence[LockChanges] | None = None) -> str:
    """One line per lock (all of ``report``'s, or ``locks``) for stderr:
    ``requirements.txt: 1 upgraded, 1 added``; then one per build-constraints file (all of
    them when ``locks`` is not given)."""
    chosen = report.locks if locks is None else locks
    lines = [f"{lock.output}: {change_counts(lock)}" for lock in chosen]
    if locks is None:
        lines += [f"{b.output} (build): {change_counts(b)}" for b in report.build_constraints]
    if report.fixes and locks is None:
        fixed = sum(len(f.fixed) for f in report.fixes)
        left = sum(len(f.unfixed) for f in report.fixes)
        pins = sum(1 for f in report.fixes if f.fixed)
        lines.append(
            f"--fix-vulnerable: {_plural(fixed, 'advisory', 'advisories')} fixed in "
            f"{_plural(pins, 'pin')}; {_plural(left, 'advisory', 'advisories')} left"
        )
    return "\n".join(lines)
