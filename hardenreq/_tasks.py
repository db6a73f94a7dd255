"""Concurrent index work that stops at the first failure it cannot report as bad input.

One run reports every bad line at once, so an InputError (a project the index does not
have, a hash it does not confirm) is a result like any other. Any other failure (the index
unreachable, an answer that cannot be trusted) ends the run: the other requests are
cancelled at once, so that none keeps running or keeps its answer in memory while the
error is reported (64 pages of a hostile index, each under its size bound, would add up).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Iterable
from typing import Any, TypeVar

from hardenreq.errors import InputError

__all__ = ["gather_inputs", "run"]

_T = TypeVar("_T")


async def gather_inputs(awaitables: Iterable[Awaitable[_T]]) -> list[_T | InputError]:
    """Await everything concurrently; results in order, InputErrors as values.

    Raises the first other exception, after cancelling everything still running.
    """

    async def guarded(awaitable: Awaitable[_T]) -> _T | InputError:
        try:
            return await awaitable
        except InputError as exc:
            return exc

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(guarded(a)) for a in awaitables]
    except BaseExceptionGroup as failures:
        first = next(
            (e for e in failures.exceptions if not isinstance(e, asyncio.CancelledError)),
            failures.exceptions[0],
        )
        raise first from None
    return [task.result() for task in tasks]


def run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run(coroutine)``, but its result never held by the loop's main task.

    When it ends, Python 3.11's ``asyncio.Runner`` looks up its own SIGINT handler through
    ``signal.getsignal``, whose enum lookup formats the handler's repr, and with it the
    main task's result: for a harden plan, every file of every release (30 ms, twice a
    run). The result is handed back beside the task instead.
    """
    box: list[_T] = []

    async def main() -> None:
        box.append(await coroutine)

    asyncio.run(main())
    return box[0]
