"""The report for people: findings grouped under their file, in aligned plain-text columns.

No colour and no terminal codes. Messages can quote the index (a yank reason), so control and
invisible format characters are shown escaped rather than sent to the terminal.
"""

from __future__ import annotations

import itertools
import unicodedata

from hardenreq.models import Finding, VerifyReport
from hardenreq.report._common import ordered, summary_line

__all__ = ["TextReporter"]

_INDENT = "  "
_GAP = "  "


def _printable(text: str) -> str:
    """``text`` with control, format, private-use and unassigned characters escaped.

    Category C covers ESC (terminal escape sequences) and the bidi overrides of "Trojan
    Source" (CVE-2021-42574), which would make a line read differently from what it holds.
    """
    out: list[str] = []
    for char in text:
        if unicodedata.category(char).startswith("C"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def _package(finding: Finding) -> str:
    if finding.package is None:
        return "-"
    if finding.version is None:
        return finding.package
    return f"{finding.package}=={finding.version}"


class TextReporter:
    """``LINE  SEVERITY  KIND  PACKAGE==VERSION  MESSAGE`` rows under a heading per file,
    then the summary line; a multi-line message continues under the message column."""

    name = "text"

    def render(self, report: VerifyReport) -> str:
        """The whole report, ending with a newline."""
        findings = ordered(report.findings)
        rows = [
            (
                "-" if f.line is None else str(f.line),
                f.severity.value,
                f.kind.value,
                _printable(_package(f)),
            )
            for f in findings
        ]
        widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
        lines: list[str] = []
        index = 0
        for file, group in itertools.groupby(findings, key=lambda f: f.file):
            if lines:
                lines.append("")
            lines.append(_printable(file))
            for finding in group:
                line, severity, kind, package = rows[index]
                index += 1
                prefix = _INDENT + _GAP.join(
                    (
                        line.rjust(widths[0]),
                        severity.ljust(widths[1]),
                        kind.ljust(widths[2]),
                        package.ljust(widths[3]),
                    )
                )
                message = [_printable(part) for part in finding.message.splitlines()] or [""]
                lines.append(f"{prefix}{_GAP}{message[0]}".rstrip())
                continued = " " * (len(prefix) + len(_GAP))
                lines.extend(f"{continued}{part}".rstrip() for part in message[1:])
        if lines:
            lines.append("")
        lines.append(summary_line(report))
        return "\n".join(lines) + "\n"
