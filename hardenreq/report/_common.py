"""Helpers shared by the reporters: one finding order and one summary line for every format."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath

from hardenreq.models import Finding, Severity, VerifyReport

__all__ = ["ordered", "posix_path", "summary_line"]


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


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary_line(report: VerifyReport) -> str:
    """One line without a newline, e.g. ``2 errors, 1 warning, 0 info in 2 files (14
    requirements)``, or ``no findings in 1 file (3 requirements)``."""
    where = (
        f"in {_plural(len(report.files), 'file')} ({_plural(report.requirements, 'requirement')})"
    )
    if not report.findings:
        return f"no findings {where}"
    errors = _plural(report.count(Severity.ERROR), "error")
    warnings = _plural(report.count(Severity.WARNING), "warning")
    return f"{errors}, {warnings}, {report.count(Severity.INFO)} info {where}"


def posix_path(file: str) -> str:
    """A finding's path with forward slashes (a Windows path's backslashes become ``/``)."""
    return PurePath(file).as_posix()
