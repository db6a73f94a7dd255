"""Package indexes: which one pip would use, the HTTP client, and the release sources."""

from __future__ import annotations

import sys
import types


def _skip_httpx_cli() -> None:
    """Keep ``import httpx`` from loading its command-line interface.

    httpx's ``__init__`` imports ``httpx._main`` (its ``httpx`` command) whenever click,
    rich and pygments are installed, as they are here: about 85 ms of every run, for
    pygments' lexers and rich's syntax and progress modules that hardenreq never uses. A
    placeholder module in its place makes ``httpx.main`` say so instead; nothing else in
    httpx refers to it. A process that imported httpx earlier keeps the real one.
    """
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    placeholder = types.ModuleType("httpx._main", "Not loaded: hardenreq uses httpx as a library.")

    def main() -> None:
        raise RuntimeError("httpx's command line is not loaded in hardenreq's process")

    placeholder.main = main  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = placeholder


_skip_httpx_cli()
