"""``hardenreq._tasks.run``: asyncio.run without the loop's main task holding the result."""

from __future__ import annotations

import pytest

from hardenreq._tasks import run


class Costly:
    """A result whose repr must never be asked for (a harden plan's takes 30 ms)."""

    reprs = 0

    def __repr__(self) -> str:
        Costly.reprs += 1
        return "Costly()"


def test_the_result_comes_back_and_is_never_formatted() -> None:
    async def plan() -> Costly:
        return Costly()

    Costly.reprs = 0
    assert isinstance(run(plan()), Costly)
    # asyncio.Runner formats its main task (result included) when it restores SIGINT.
    assert Costly.reprs == 0


def test_an_error_comes_back_as_raised() -> None:
    async def fail() -> None:
        raise ValueError("the index said no")

    with pytest.raises(ValueError, match="the index said no"):
        run(fail())
