"""The report as GitHub Actions workflow commands: one annotation per finding, then a summary.

``::error file=requirements.txt,line=3,title=hardenreq unpinned::MESSAGE``; warnings use
``::warning`` and info findings ``::notice``. Values are escaped as the Actions runner
unescapes them, so a message that quotes the index (a yank reason) cannot end the annotation
and start a command of its own on the next line; they are redacted, bounded and freed of
terminal control characters first (``hardenreq.escape.github_data``/``github_property``).
"""

from __future__ import annotations

from hardenreq.escape import github_data, github_property
from hardenreq.models import Finding, Severity, VerifyReport
from hardenreq.redact import redact_text
from hardenreq.report._common import ordered, posix_path, summary_line

__all__ = ["GithubReporter", "escape_data", "escape_property"]

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(value: str) -> str:
    """Escape a command's message: ``%``, CR and LF (the toolkit's ``escapeData``); the
    reporter calls ``github_data``, which does this after redacting and bounding."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a command property: as data, plus ``:`` and ``,`` (``escapeProperty``)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _command(finding: Finding) -> str:
    # Redact before posix_path, which would fold the "//" of a URL that redaction looks for.
    properties = [("file", posix_path(redact_text(finding.file)))]
    if finding.line is not None:
        properties.append(("line", str(finding.line)))
    properties.append(("title", f"hardenreq {finding.kind.value}"))
    rendered = ",".join(f"{key}={github_property(value)}" for key, value in properties)
    return f"::{_COMMANDS[finding.severity]} {rendered}::{github_data(finding.message)}"


class GithubReporter:
    """One workflow command per finding (sorted as every report is), then the summary line."""

    name = "github"

    def render(self, report: VerifyReport) -> str:
        """The commands and the summary, one per line, ending with a newline."""
        lines = [_command(f) for f in ordered(report.findings)]
        lines.append(summary_line(report))
        return "\n".join(lines) + "\n"
