"""Reporters: render a VerifyReport as text, JSON, GitHub Actions commands or SARIF, by name.

Each reporter is pure: it takes the report and returns the whole output as a string ending
with a newline; the CLI decides where it goes. ``summary_line`` is the one-line summary that
the text and GitHub formats end with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

from hardenreq.models import VerifyReport
from hardenreq.report._common import summary_line
from hardenreq.report.github import GithubReporter
from hardenreq.report.json import JSON_REPORT_SCHEMA, JsonReporter
from hardenreq.report.sarif import SarifReporter
from hardenreq.report.text import TextReporter

__all__ = [
    "FORMATS",
    "JSON_REPORT_SCHEMA",
    "REPORTERS",
    "GithubReporter",
    "JsonReporter",
    "Reporter",
    "SarifReporter",
    "TextReporter",
    "get_reporter",
    "summary_line",
]


class Reporter(Protocol):
    """Renders a verify report in one output format."""

    name: str

    def render(self, report: VerifyReport) -> str:
        """The whole report, ending with a newline."""
        ...


FORMATS: Final = ("text", "json", "github", "sarif")

REPORTERS: Final[dict[str, Callable[[], Reporter]]] = {
    "text": TextReporter,
    "json": JsonReporter,
    "github": GithubReporter,
    "sarif": SarifReporter,
}


def get_reporter(name: str) -> Reporter:
    """A new reporter for the format ``name`` (one of ``FORMATS``).

    Raises ValueError naming the valid formats when ``name`` is not one of them.
    """
    try:
        factory = REPORTERS[name]
    except KeyError:
        raise ValueError(
            f"unknown report format {name!r}; choose one of: {', '.join(FORMATS)}"
        ) from None
    return factory()
