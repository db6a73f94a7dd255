"""The report as GitHub Actions workflow commands: one annotation per finding, then a summary.

``::error file=requirements.txt,line=3,title=hardenreq unpinned::MESSAGE``; warnings use
``::warning`` and info findings ``::notice``. Values are escaped as the Actions runner
unescapes them, so a message that quotes the index (a yank reason) cannot end the annotation
and start a command of its own on the next line.
"""

from __future__ import annotations

from hardenreq.models import Finding, Severity, VerifyReport
from hardenreq.report._common import ordered, posix_path, summary_line

__all__ = ["GithubReporter", "escape_data", "escape_property"]

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(value: str) -> str:
    """Escape a command's message: ``%``, CR and LF (the runner's ``escapeData``)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a command property: as data, plus ``:`` and ``,`` (``escapeProperty``)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _command(finding: Finding) -> str:
    properties = [("file", posix_path(finding.file))]
    if finding.line is not None:
        properties.append(("line", str(finding.line)))
    properties.append(("title", f"hardenreq {finding.kind.value}"))
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::{_COMMANDS[finding.severity]} {rendered}::{escape_data(finding.message)}"


class GithubReporter:
    """One workflow command per finding (sorted as every report is), then the summary line."""

    name = "github"

    def render(self, report: VerifyReport) -> str:
        """The commands and the summary, one per line, ending with a newline."""
        lines = [_command(f) for f in ordered(report.findings)]
        lines.append(summary_line(report))
        return "\n".join(lines) + "\n"
