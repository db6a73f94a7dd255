"""Reporters, by name: a VerifyReport as text, JSON, GitHub Actions commands or SARIF; a
RefreshReport as Markdown or JSON.

Each reporter is pure: it takes the report and returns the whole output as a string ending
with a newline; the CLI decides where it goes. Each is the channel boundary for its format:
it redacts, bounds and escapes what it writes (``hardenreq.escape``), so reports carry raw
data. ``summary_line`` is the one-line summary that the text and GitHub formats end with;
``refresh_summary`` the per-lock lines refresh prints on stderr.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Protocol

from hardenreq.models import VerifyReport
from hardenreq.report._common import refresh_summary, summary_line

if TYPE_CHECKING:
    from hardenreq.refresh import RefreshReport
    from hardenreq.report.github import GithubReporter
    from hardenreq.report.json import JSON_REPORT_SCHEMA, JsonReporter
    from hardenreq.report.refresh_json import JsonRefreshReporter
    from hardenreq.report.refresh_markdown import MarkdownRefreshReporter
    from hardenreq.report.sarif import SarifReporter
    from hardenreq.report.text import TextReporter

# Each reporter's module is imported when its format is asked for (a run renders one).
_HOMES: Final = {
    "GithubReporter": "github",
    "JSON_REPORT_SCHEMA": "json",
    "JsonReporter": "json",
    "JsonRefreshReporter": "refresh_json",
    "MarkdownRefreshReporter": "refresh_markdown",
    "SarifReporter": "sarif",
    "TextReporter": "text",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


def _lazy(name: str) -> Callable[[], Any]:
    return lambda: __getattr__(name)()


__all__ = [
    "FORMATS",
    "JSON_REPORT_SCHEMA",
    "REFRESH_FORMATS",
    "REFRESH_REPORTERS",
    "REPORTERS",
    "GithubReporter",
    "JsonRefreshReporter",
    "JsonReporter",
    "MarkdownRefreshReporter",
    "RefreshReporter",
    "Reporter",
    "SarifReporter",
    "TextReporter",
    "get_refresh_reporter",
    "get_reporter",
    "refresh_summary",
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
    "text": _lazy("TextReporter"),
    "json": _lazy("JsonReporter"),
    "github": _lazy("GithubReporter"),
    "sarif": _lazy("SarifReporter"),
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


class RefreshReporter(Protocol):
    """Renders a refresh report in one output format."""

    name: str

    def render(self, report: RefreshReport) -> str:
        """The whole report, ending with a newline."""
        ...


REFRESH_FORMATS: Final = ("markdown", "json")

REFRESH_REPORTERS: Final[dict[str, Callable[[], RefreshReporter]]] = {
    "markdown": _lazy("MarkdownRefreshReporter"),
    "json": _lazy("JsonRefreshReporter"),
}


def get_refresh_reporter(name: str) -> RefreshReporter:
    """A new refresh reporter for the format ``name`` (one of ``REFRESH_FORMATS``).

    Raises ValueError naming the valid formats when ``name`` is not one of them.
    """
    try:
        factory = REFRESH_REPORTERS[name]
    except KeyError:
        raise ValueError(
            f"unknown refresh report format {name!r}; choose one of: {', '.join(REFRESH_FORMATS)}"
        ) from None
    return factory()
