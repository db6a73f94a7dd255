"""Everything drawn on stderr: messages, logging and the progress bar (rich lives here)."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, TextIO

from hardenreq.redact import redact_text

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.status import Status

__all__ = ["Ui"]


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class _ConsoleHandler(logging.Handler):
    """Log records as console lines; credentials in URLs are redacted (last line of defence)."""

    def __init__(self, ui: Ui) -> None:
        super().__init__()
        self._ui = ui

    def emit(self, record: logging.LogRecord) -> None:
        style = {"WARNING": "yellow", "ERROR": "red", "CRITICAL": "red"}.get(record.levelname)
        label = record.levelname.lower()
        message = _escape(redact_text(record.getMessage()))
        prefix = f"[{style}]{label}:[/] " if style else f"[dim]{label}:[/] "
        self._ui.err.print(prefix + message)


class Ui:
    """The user-facing side of a run: stderr messages, logs, progress; stdout for reports."""

    def __init__(self, *, quiet: bool, verbose: bool, stderr: TextIO | None = None) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self._stream = stderr or sys.stderr
        self._console: Console | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._status: Status | None = None
        handler = _ConsoleHandler(self)
        root = logging.getLogger("hardenreq")
        root.handlers[:] = [handler]
        root.propagate = False
        if quiet:
            root.setLevel(logging.ERROR)
        elif verbose:
            root.setLevel(logging.DEBUG)
        else:
            root.setLevel(logging.WARNING)

    @property
    def err(self) -> Console:
        """The stderr console, made on first use (a quiet run that prints nothing never
        loads rich)."""
        if self._console is None:
            from rich.console import Console

            no_color = bool(os.environ.get("NO_COLOR"))
            self._console = Console(
                file=self._stream, no_color=no_color, highlight=False, soft_wrap=True
            )
        return self._console

    def info(self, message: str) -> None:
        """A normal message (hidden by --quiet)."""
        if not self.quiet:
            self.err.print(_escape(redact_text(message)))

    def detail(self, message: str) -> None:
        """A message shown with --verbose only."""
        if self.verbose and not self.quiet:
            self.err.print(_escape(redact_text(message)), style="dim")

    def warn(self, message: str) -> None:
        """A warning (shown even with --quiet: warnings are about security)."""
        self.err.print(f"[yellow]warning:[/] {_escape(redact_text(message))}")

    def error(self, message: str, hint: str | None = None) -> None:
        """An error message and its hint."""
        lines = redact_text(message).splitlines() or [""]
        self.err.print(f"[bold red]error:[/] {_escape(lines[0])}")
        for line in lines[1:]:
            self.err.print(f"  {_escape(line)}")
        if hint:
            self.err.print(f"[cyan]hint:[/] {_escape(redact_text(hint))}")

    # Progress protocol (hardenreq.progress.Progress)
    def status(self, message: str) -> None:
        """A step without a count: a line, and on a terminal a spinner with the time spent
        until the next step begins."""
        self._stop_status()
        if self.quiet:
            return
        self.info(f"{message} ...")
        if self.err.is_terminal:
            self._status = self.err.status(_escape(redact_text(message)), spinner="dots")
            self._status.start()

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def start(self, total: int, description: str) -> None:
        """Show a progress bar when stderr is a terminal and not --quiet."""
        self._stop_status()
        if self.quiet or not self.err.is_terminal or total == 0:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

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
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, label=label)

    def finish(self) -> None:
        """Remove the bar (and any spinner)."""
        self._stop_status()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
