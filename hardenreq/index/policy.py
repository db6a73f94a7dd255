"""How patiently the index client retries: kept apart so the CLI can build one without
importing httpx (commands that never reach the network start faster)."""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["DEFAULT_DEADLINE", "RetryPolicy"]

#: Seconds a run's index traffic may take by default (``RetryPolicy.deadline``).
DEFAULT_DEADLINE = 600.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts, backoff and the time bounds of a run's requests (seconds).

    ``timeout`` bounds each attempt at an index page as a whole (connect, headers and the
    entire body), not each read: an index that drips a byte a second is cut off. Downloads
    of direct-URL archives, which can legitimately take minutes, are bounded per read by
    ``timeout`` and as a whole by ``deadline`` only. ``max_delay`` caps one wait between
    attempts (a ``Retry-After`` included), ``max_total_delay`` the sum of one request's
    waits. ``deadline`` bounds a run (every request, retry and wait, and pip-compile's
    resolution) from ``started`` (a ``time.monotonic()`` reading; None: from the first use);
    None means no such bound.
    """

    attempts: int = 4
    backoff: float = 0.5
    max_delay: float = 20.0
    timeout: float = 30.0
    concurrency: int = 64
    max_total_delay: float = 30.0
    deadline: float | None = DEFAULT_DEADLINE
    started: float | None = None

    def deadline_at(self) -> float | None:
        """The ``time.monotonic()`` reading at which the run's deadline passes, or None."""
        if self.deadline is None:
            return None
        return (time.monotonic() if self.started is None else self.started) + self.deadline

    def remaining(self) -> float | None:
        """Seconds left before the run's deadline (at least a small fraction), or None."""
        at = self.deadline_at()
        return None if at is None else max(0.1, at - time.monotonic())
