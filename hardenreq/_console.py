"""Everything drawn on stderr: messages, logging and the progress bar (rich lives here).

This is stderr's channel boundary: every message, log record and progress label is
redacted, bounded and escaped here (``hardenreq.escape.terminal_lines``), so the core can
put raw index text (a yank reason, a filename) into a message. The first line of a message
follows its label; every further line is indented, so a newline inside a value never starts
a line at column 0, and no line can start a CI-log command.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, TextIO

from hardenreq.escape import terminal_lines, terminal_value

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.status import Status

__all__ = ["Ui"]


_INDENT = "  "
# A traceback (--verbose, internal errors only) is longer than a message but still bounded.
_TRACEBACK_LINES = 400


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _lines(message: str, *, lines: int | None = None) -> list[str]:
    """``message`` as safe lines (not markup); the first bare, the others indented."""
    shown = terminal_lines(message) if lines is None else terminal_lines(message, lines=lines)
    return [shown[0], *(_INDENT + line for line in shown[1:])]


#: What makes rich draw a stream as a terminal although it is none.
_FORCING = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def _plain(stream: TextIO) -> bool:
    """Whether rich would write nothing but the text to ``stream``: no terminal, and no
    variable that makes rich treat it as one. Such a stream (a CI log, a pipe) is written
    directly, without loading rich (about 40 ms of a run)."""
    if any(os.environ.get(name) for name in _FORCING):
        return False
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return False


class _ConsoleHandler(logging.Handler):
    """Log records as console lines, redacted and escaped like every other message."""

    def __init__(self, ui: Ui) -> None:
        super().__init__()
        self._ui = ui

    def emit(self, record: logging.LogRecord) -> None:
        style = {"WARNING": "yellow", "ERROR": "red", "CRITICAL": "red"}.get(record.levelname)
        label = record.levelname.lower() + ":"
        self._ui.print_lines(_lines(record.getMessage()), label, label_style=style or "dim")


class Ui:
    """The user-facing side of a run: stderr messages, logs, progress; stdout for reports."""

    def __init__(self, *, quiet: bool, verbose: bool, stderr: TextIO | None = None) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self._stream = stderr or sys.stderr
        self._plain = _plain(self._stream)
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
            # emoji=False: ":thumbs_up:" in a yank reason stays text.
            self._console = Console(
                file=self._stream,
                no_color=no_color,
                highlight=False,
                soft_wrap=True,
                emoji=False,
            )
        return self._console

    def print_lines(
        self,
        lines: list[str],
        label: str = "",
        *,
        label_style: str | None = None,
        style: str | None = None,
    ) -> None:
        """Print safe ``lines`` (``_lines``), the first after ``label`` and a space; on a
        terminal in ``style``, the label in ``label_style``."""
        if self._plain:
            self._stream.write((label + " " if label else "") + "\n".join(lines) + "\n")
            return
        # Text, not markup: printed as it is (markup escaping doubles a trailing backslash).
        from rich.text import Text

        first = Text.assemble((label, label_style or ""), " ") if label else Text()
        first.append(lines[0])
        self.err.print(first, style=style)
        for line in lines[1:]:
            self.err.print(Text(line), style=style)

    def info(self, message: str) -> None:
        """A normal message (hidden by --quiet)."""
        if not self.quiet:
            self.print_lines(_lines(message))

    def detail(self, message: str) -> None:
        """A message shown with --verbose only."""
        if self.verbose and not self.quiet:
            self.print_lines(_lines(message), style="dim")

    def warn(self, message: str) -> None:
        """A warning (shown even with --quiet: warnings are about security)."""
        self.print_lines(_lines(message), "warning:", label_style="yellow")

    def error(self, message: str, hint: str | None = None) -> None:
        """An error message and its hint."""
        self.print_lines(_lines(message), "error:", label_style="bold red")
        if hint:
            self.print_lines(_lines(hint), "hint:", label_style="cyan")

    def traceback(self, text: str) -> None:
        """A traceback (--verbose after an internal error), redacted and escaped: the
        exception messages in it can quote the index."""
        lines = text.rstrip("\n").split("\n")
        if len(lines) > _TRACEBACK_LINES:  # the end says what failed: keep that
            skipped = len(lines) - _TRACEBACK_LINES
            lines = [f"... [{skipped} earlier lines]", *lines[-_TRACEBACK_LINES:]]
        self.print_lines(_lines("\n".join(lines), lines=_TRACEBACK_LINES + 1), style="dim")

    # Progress protocol (hardenreq.progress.Progress)
    def status(self, message: str) -> None:
        """A step without a count: a line, and on a terminal a spinner with the time spent
        until the next step begins."""
        self._stop_status()
        if self.quiet:
            return
        self.info(f"{message} ...")
        if not self._plain and self.err.is_terminal:
            self._status = self.err.status(_escape(terminal_value(message)), spinner="dots")
            self._status.start()

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def start(self, total: int, description: str) -> None:
        """Show a progress bar when stderr is a terminal and not --quiet."""
        self._stop_status()
        if self.quiet or self._plain or total == 0 or not self.err.is_terminal:
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
        self._task = self._progress.add_task(
            _escape(terminal_value(description)), total=total, label=""
        )

    def advance(self, label: str) -> None:
        """One item done (``label``: what it was, often a URL or a package from the index)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, label=_escape(terminal_value(label)))

    def finish(self) -> None:
        """Remove the bar (and any spinner)."""
        self._stop_status()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
