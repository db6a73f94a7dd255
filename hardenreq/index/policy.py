"""How patiently the index client retries: kept apart so the CLI can build one without
importing httpx (commands that never reach the network start faster)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts per request, backoff, timeout (seconds) and concurrent requests."""

    attempts: int = 4
    backoff: float = 0.5
    max_delay: float = 20.0
    timeout: float = 30.0
    concurrency: int = 64
