"""How the core reports progress without knowing who draws it (the CLI's Ui, or nobody)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["NoProgress", "Progress"]


class Progress(Protocol):
    """Receives progress from the core; the CLI draws it, tests may ignore it."""

    def start(self, total: int, description: str) -> None:
        """Work on ``total`` items begins."""

    def advance(self, label: str) -> None:
        """One item is done."""

    def finish(self) -> None:
        """All items are done."""

    def status(self, message: str) -> None:
        """A step without a count began (for example resolving); shown until the next one."""


class NoProgress:
    """A Progress that shows nothing."""

    def start(self, total: int, description: str) -> None:
        """Ignore."""

    def advance(self, label: str) -> None:
        """Ignore."""

    def finish(self) -> None:
        """Ignore."""

    def status(self, message: str) -> None:
        """Ignore."""
