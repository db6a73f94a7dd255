"""How patiently the index client retries: kept apart so the CLI can build one without
importing httpx (commands that never reach the network start faster)."""

from __future__ import annotations

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
    waits. ``deadline`` bounds all the index traffic of a run (every request, retry and
    wait); None means no such bound.
    """

    attempts: int = 4
    backoff: float = 0.5
    max_delay: float = 20.0
    timeout: float = 30.0
    concurrency: int = 64
    max_total_delay: float = 30.0
    deadline: float | None = DEFAULT_DEADLINE
