"""The report for people: findings grouped under their file, in aligned plain-text columns.

No colour and no terminal codes. Messages can quote the index (a yank reason), so every value
goes through ``hardenreq.escape``: redacted, at most 1,000 characters a line and 50 lines a
message, control and invisible format characters shown escaped, and no line that a CI log
would read as a command.
"""

from __future__ import annotations

import itertools

from hardenreq.escape import terminal_lines, terminal_value
from hardenreq.models import Finding, VerifyReport
from hardenreq.report._common import advisory_line, ordered, summary_line

__all__ = ["TextReporter"]

_INDENT = "  "
_GAP = "  "
# The package column is as wide as its widest cell: a hostile name must not push every
# message off the screen.
_PACKAGE_WIDTH = 100


def _package(finding: Finding) -> str:
    if finding.package is None:
        return "-"
    if finding.version is None:
        return finding.package
    return f"{finding.package}=={finding.version}"


class TextReporter:
    """``LINE  SEVERITY  KIND  PACKAGE==VERSION  MESSAGE`` rows under a heading per file,
    then the advisory sources asked (when the check ran) and the summary line; a multi-line
    message continues under the message column."""

    name = "text"

    def render(self, report: VerifyReport) -> str:
        """The whole report, ending with a newline."""
        findings = ordered(report.findings)
        rows = [
            (
                "-" if f.line is None else str(f.line),
                f.severity.value,
                f.kind.value,
                terminal_value(_package(f), _PACKAGE_WIDTH),
            )
            for f in findings
        ]
        widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
        lines: list[str] = []
        index = 0
        for file, group in itertools.groupby(findings, key=lambda f: f.file):
            if lines:
                lines.append("")
            lines.append(terminal_value(file))
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
                message = terminal_lines(finding.message)
                lines.append(f"{prefix}{_GAP}{message[0]}".rstrip())
                continued = " " * (len(prefix) + len(_GAP))
                lines.extend(f"{continued}{part}".rstrip() for part in message[1:])
        if lines:
            lines.append("")
        advisories = advisory_line(report)
        if advisories is not None:
            lines.append(terminal_value(advisories))
        lines.append(summary_line(report))
        return "\n".join(lines) + "\n"
