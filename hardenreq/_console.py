"""Everything drawn on stderr: messages, logging and the progress bar (rich lives here)."""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hardenreq.redact import redact_text

__all__ = ["Ui"]


class _RedactingFilter(logging.Filter):
    """Last line of defence: no URL credentials in any log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        return True


class Ui:
    """The user-facing side of a run: stderr messages, logs, progress; stdout for reports."""

    def __init__(self, *, quiet: bool, verbose: bool, stderr: TextIO | None = None) -> None:
        self.quiet = quiet
        self.verbose = verbose
        stream = stderr or sys.stderr
        no_color = bool(os.environ.get("NO_COLOR"))
        self.err = Console(file=stream, no_color=no_color, highlight=False, soft_wrap=True)
        self._progress: Progress | None = None
        self._task: object | None = None
        handler = RichHandler(
            console=self.err, show_time=False, show_path=False, markup=False, rich_tracebacks=False
        )
        handler.addFilter(_RedactingFilter())
        root = logging.getLogger("hardenreq")
        root.handlers[:] = [handler]
        root.propagate = False
        if quiet:
            root.setLevel(logging.ERROR)
        elif verbose:
            root.setLevel(logging.DEBUG)
        else:
            root.setLevel(logging.WARNING)

    def info(self, message: str) -> None:
        """A normal message (hidden by --quiet)."""
        if not self.quiet:
            self.err.print(escape(redact_text(message)))

    def detail(self, message: str) -> None:
        """A message shown with --verbose only."""
        if self.verbose and not self.quiet:
            self.err.print(escape(redact_text(message)), style="dim")

    def warn(self, message: str) -> None:
        """A warning (shown even with --quiet: warnings are about security)."""
        self.err.print(f"[yellow]warning:[/] {escape(redact_text(message))}")

    def error(self, message: str, hint: str | None = None) -> None:
        """An error message and its hint."""
        lines = redact_text(message).splitlines() or [""]
        self.err.print(f"[bold red]error:[/] {escape(lines[0])}")
        for line in lines[1:]:
            self.err.print(f"  {escape(line)}")
        if hint:
            self.err.print(f"[cyan]hint:[/] {escape(redact_text(hint))}")

    # Progress protocol (hardenreq.plan.Progress)
    def start(self, total: int, description: str) -> None:
        """Show a progress bar when stderr is a terminal and not --quiet."""
        if self.quiet or not self.err.is_terminal or total == 0:
            return
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[label]}", style="dim"),
            console=self.err,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, label="")

    def advance(self, label: str) -> None:
        """One item done."""
        if self._progress is not None:
            self._progress.update(self._task, advance=1, label=label)  # type: ignore[arg-type]

    def finish(self) -> None:
        """Remove the bar."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
