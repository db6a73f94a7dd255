"""A second process that reads a share of a run's index pages, on a second core.

Why: once libcurl moves the bytes, a run that checks hundreds of pins is CPU in one Python
thread (TLS and HTTP/2 in C, then decoding and going through some 200,000 file names in
Python), with the machine's other cores idle. Where there are at least two, a copy of the
process forked before the run's event loop starts reads pages too: the pins go to
whichever of the two processes has a free slot, so each takes what it keeps up with.

    parent  fetch_release(pin) ─slot: here─→ IndexChain (its own HttpFetcher)
                               └slot: helper─→ pipe ─→ child: IndexChain (its own) ─→ pipe

What does not change:

- The child is this process, forked: the same code, settings, credentials and limits. It
  reads every page with its own HttpFetcher under the same RetryPolicy (the run's deadline
  counted from the fork, so it ends no later than the parent's), and validates every
  answer as the parent would. What crosses back is the ``Release`` it built, or the error
  it raised (``HardenreqError`` pickles whole), so a run's findings, messages and exit code
  are the same with or without it; a test runs every hostile-index case both ways.
- It writes no file and prints nothing: its log records are sent to the parent and logged
  there. It ignores Ctrl-C (the parent decides) and exits when the parent closes the pipe
  or dies.
- If it fails or stops answering, the pins it held are read by the parent.
- Memory: each process bounds the pages it reads at once (``MAX_BUFFERED_BYTES``).

Only where forking is safe and worth it: Linux, a process with no other thread, two or more
usable CPUs, and at least ``MIN_PINS`` pins. ``HARDENREQ_HELPER=0`` turns it off;
``HARDENREQ_HELPER=1`` uses it from two pins on (and on one CPU), for tests.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import gc
import itertools
import logging
import os
import pickle  # nosec B403
import signal
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, NoReturn, cast

from hardenreq.index.interface import IndexClient
from hardenreq.index.location import IndexSettings
from hardenreq.index.policy import RetryPolicy
from hardenreq.models import Pin, Release

__all__ = ["MIN_PINS", "PageHelper", "page_helper"]

logger = logging.getLogger(__name__)

#: The fewest pins a run forks a helper for: below this the fork, the helper's own TLS
#: handshake and the pipe cost about what the second core saves.
MIN_PINS = 24
#: Pages each process reads at once (requests in flight, then parsing): small enough that
#: the pins keep going to whichever process is ahead, large enough to fill the network.
_SLOTS = 16
_HEADER = 4
#: Seconds the parent waits for the child to exit once the pipe is closed, before killing it.
_EXIT_WAIT = 2.0
_ENV = "HARDENREQ_HELPER"
#: Marks a log record the parent logs for the helper.
_FROM_HELPER = "hardenreq_helper"
#: Seconds past the run's deadline that the parent waits for an answer from the helper.
_GRACE = 5.0


#: A frame: what it is ("fetch", "cancel"; "done", "error", "log"), the request it is
#: about, and its value (a Pin, a Release, an exception, a log record's level, logger and
#: message).
_Message = tuple[str, int, Any]


class _Gone(Exception):
    """The helper exited or stopped answering: its pins are read here."""


class _Wait:
    """No slot is free: the pin waits for one."""


_WAIT = _Wait()
#: A slot: a pin sent to the helper (its ident and answer), or None for one read here.
_Slot = tuple[int, "asyncio.Future[Release]"] | None


def _frame(message: _Message) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(payload).to_bytes(_HEADER, "big") + payload


class _Frames(asyncio.Protocol):
    """Length-prefixed pickles from a pipe, handed on one by one."""

    def __init__(self, on_message: Callable[[_Message], None], on_end: Callable[[], None]) -> None:
        self._buffer = bytearray()
        self._on_message = on_message
        self._on_end = on_end

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while len(buffer) - start >= _HEADER:
            size = int.from_bytes(buffer[start : start + _HEADER], "big")
            end = start + _HEADER + size
            if len(buffer) < end:
                break
            # Written by this program's own forked child (never by the index): the pickle
            # holds the Release it built, or the error it raised.
            message = pickle.loads(buffer[start + _HEADER : end])  # noqa: S301  # nosec B301
            start = end
            self._on_message(cast(_Message, message))
        del buffer[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        del exc
        self._on_end()


def _wanted(environ: Mapping[str, str], pins: int) -> bool:
    setting = environ.get(_ENV, "").strip()
    if setting == "0" or not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    if threading.active_count() != 1:
        # A thread holding a lock at the fork would leave the child waiting on it forever.
        return False
    if setting == "1":
        return pins >= 2
    return pins >= MIN_PINS and len(os.sched_getaffinity(0)) >= 2


class PageHelper:
    """The parent's end of a helper process (or of none: then ``serving`` hands the source
    back unchanged)."""

    def __init__(
        self,
        pid: int | None = None,
        read_fd: int = -1,
        write_fd: int = -1,
        deadline_at: float | None = None,
    ) -> None:
        self._pid = pid
        self._deadline_at = deadline_at
        self._read_fd = read_fd
        self._write_fd = write_fd
        self._writer: asyncio.WriteTransport | None = None
        self._reader: asyncio.ReadTransport | None = None
        self._waiting: dict[int, asyncio.Future[Release]] = {}
        self._ids = itertools.count()
        self.gone = pid is None
        #: Called each time the helper is done with a pin (it answered, or the pin was
        #: withdrawn): it has a free slot.
        self.on_answer: Callable[[], None] | None = None

    @contextlib.asynccontextmanager
    async def serving(self, source: IndexClient) -> AsyncIterator[IndexClient]:
        """``source``, with a share of its ``fetch_release`` calls made by the helper."""
        if self._pid is None:
            yield source
            return
        loop = asyncio.get_running_loop()
        write_file = os.fdopen(self._write_fd, "wb", buffering=0)
        read_file = os.fdopen(self._read_fd, "rb", buffering=0)
        self._write_fd = self._read_fd = -1
        writer, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, write_file)
        self._writer = writer
        reader, _ = await loop.connect_read_pipe(
            lambda: _Frames(self._on_message, self._on_end), read_file
        )
        self._reader = reader
        shared = _SharedSource(source, self)
        try:
            yield shared
        finally:
            self._stop()
            logger.debug(
                "%d of %d pages were read in a second process", shared.remote, shared.asked
            )

    def submit(self, pin: Pin) -> tuple[int, asyncio.Future[Release]]:
        """Send ``pin`` to the helper now; its answer resolves the future (``answer``
        waits for it). Raises _Gone if the helper cannot take it."""
        if self.gone or self._writer is None:
            raise _Gone
        ident = next(self._ids)
        answer: asyncio.Future[Release] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = answer
        self._writer.write(_frame(("fetch", ident, pin)))
        return ident, answer

    async def answer(self, ident: int, answer: asyncio.Future[Release]) -> Release:
        """The release (or error) the helper sends for a ``submit``; raises _Gone if it
        exits or stops answering first."""
        wait = None if self._deadline_at is None else self._deadline_at - time.monotonic()
        try:
            # The helper keeps the run's deadline itself; past it (and a grace), it is taken
            # to be stuck, and the parent's own client reports the deadline.
            async with asyncio.timeout(None if wait is None else max(0.0, wait) + _GRACE):
                return await answer
        except TimeoutError:
            logger.info("the page process stopped answering; its pages are read here")
            self._stop()
            raise _Gone from None
        except asyncio.CancelledError:
            self.withdraw(ident)
            raise

    def withdraw(self, ident: int) -> None:
        """A ``submit`` whose answer is no longer wanted: the helper drops it."""
        if self._waiting.pop(ident, None) is None:
            return
        if not self.gone and self._writer is not None:
            self._writer.write(_frame(("cancel", ident, None)))
        if self.on_answer is not None:
            self.on_answer()

    def _on_message(self, message: _Message) -> None:
        kind, ident, value = message
        if kind == "log":
            level, name, text = value
            logging.getLogger(name).log(level, "%s", text, extra={_FROM_HELPER: True})
            return
        answer = self._waiting.pop(ident, None)
        if answer is None or answer.done():
            return
        if kind == "done":
            answer.set_result(value)
        else:
            answer.set_exception(value)
        # Here, as the answer is read (not once its reader runs): the helper's next pin is
        # sent before the parent gets back to its own pages.
        if self.on_answer is not None:
            self.on_answer()

    def _on_end(self) -> None:
        """The helper closed its end (it exited): whatever it held is read here."""
        if not self.gone:
            logger.info("the page process ended early; its pages are read here")
        self._stop()

    def stop(self) -> None:
        """No more pages are wanted of the helper: it exits now, while the run goes on
        (pages asked for later are read here)."""
        self._stop()

    def _stop(self) -> None:
        self.gone = True
        for answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(_Gone())
        self._waiting.clear()
        for transport in (self._writer, self._reader):
            if transport is not None:
                transport.close()
        self._writer = self._reader = None

    def close(self) -> None:
        """Close the pipes and reap the helper (killed if it does not exit in time)."""
        for fd in (self._read_fd, self._write_fd):
            if fd >= 0:
                os.close(fd)
        self._read_fd = self._write_fd = -1
        self._stop()
        pid, self._pid = self._pid, None
        if pid is None:
            return
        give_up = time.monotonic() + _EXIT_WAIT
        while time.monotonic() < give_up:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
            time.sleep(0.005)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


class _SaidOnce(logging.Filter):
    """What both processes say (what each learns of the index, a warning about the
    configuration) is said as often as one of them says it, not twice over."""

    def __init__(self) -> None:
        super().__init__()
        self._said: dict[bool, dict[tuple[int, str, str], int]] = {True: {}, False: {}}

    def filter(self, record: logging.LogRecord) -> bool:
        side = bool(getattr(record, _FROM_HELPER, False))
        key = (record.levelno, record.name, record.getMessage())
        count = self._said[side][key] = self._said[side].get(key, 0) + 1
        return count > self._said[not side].get(key, 0)


def _loggers() -> list[logging.Logger]:
    """The root logger and every other one made so far."""
    return [logging.getLogger()] + [
        item
        for item in logging.root.manager.loggerDict.values()
        if isinstance(item, logging.Logger)
    ]


def _handlers() -> list[logging.Handler]:
    """Every handler of every logger (where records end up)."""
    return list({id(h): h for each in _loggers() for h in each.handlers}.values())


@contextlib.contextmanager
def _said_once() -> Iterator[None]:
    said = _SaidOnce()
    handlers = _handlers()
    for handler in handlers:
        handler.addFilter(said)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(said)


class _SharedSource:
    """An IndexClient whose ``fetch_release`` calls go to a free slot, here or in the
    helper; everything else is the parent's.

    Each process has ``_SLOTS``; a pin goes to whichever has more free (the helper on a
    tie), else waits its turn. A slot the helper frees is filled as its answer is read, in
    the pipe's callback: the parent is busy with its own pages, and the helper must not
    wait for it to get round to sending the next pin."""

    def __init__(self, inner: IndexClient, helper: PageHelper) -> None:
        self._inner = inner
        self._helper = helper
        self._free_here = _SLOTS
        self._free_there = _SLOTS
        # The pins waiting for a slot; each future is given where it goes: a submitted
        # pin's (ident, answer) for the helper, None for here.
        self._queue: collections.deque[tuple[Pin, asyncio.Future[_Slot]]] = collections.deque()
        helper.on_answer = self._freed_there
        self.asked = 0
        self.remote = 0

    async def fetch_release(self, pin: Pin) -> Release:
        self.asked += 1
        slot = self._take(pin)
        if isinstance(slot, _Wait):
            waiter: asyncio.Future[_Slot] = asyncio.get_running_loop().create_future()
            self._queue.append((pin, waiter))
            try:
                slot = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._give_back(waiter.result())  # given a slot as it was cancelled
                raise
        if slot is None:
            try:
                return await self._inner.fetch_release(pin)
            finally:
                self._freed_here()
        with contextlib.suppress(_Gone):
            release = await self._helper.answer(*slot)
            self.remote += 1
            return release
        # The helper is gone: its pins are read here (beside this process's own slots).
        return await self._inner.fetch_release(pin)

    def _take(self, pin: Pin) -> _Slot | _Wait:
        """A slot for ``pin`` now (the helper's is taken by sending it the pin), or _WAIT."""
        there = self._free_there if not self._helper.gone else 0
        if there and there >= self._free_here:
            with contextlib.suppress(_Gone):
                slot = self._helper.submit(pin)
                self._free_there -= 1
                return slot
        if self._free_here:
            self._free_here -= 1
            return None
        return _WAIT

    def _give_back(self, slot: _Slot) -> None:
        if slot is None:
            self._freed_here()
        else:
            self._helper.withdraw(slot[0])

    def _freed_here(self) -> None:
        self._free_here += 1
        self._dispatch()

    def _freed_there(self) -> None:
        self._free_there += 1
        self._dispatch()

    def _dispatch(self) -> None:
        """Give the free slots to the pins waiting, in the order they came."""
        queue = self._queue
        while queue:
            pin, waiter = queue[0]
            if waiter.done():  # its caller was cancelled
                queue.popleft()
                continue
            slot = self._take(pin)
            if isinstance(slot, _Wait):
                return
            queue.popleft()
            waiter.set_result(slot)

    async def digest(self, url: str, *, what: str) -> str | None:
        return await self._inner.digest(url, what=what)

    async def fetch_requires(self, release: Release) -> tuple[str, ...] | None:
        return await self._inner.fetch_requires(release)


@contextlib.contextmanager
def page_helper(
    settings: IndexSettings,
    policy: RetryPolicy | None,
    *,
    pins: int,
    want_latest: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Iterator[PageHelper]:
    """A helper process for a run that will read ``pins`` pages, where one is worth it;
    to be entered before the run's event loop starts (``asyncio.run``)."""
    if not _wanted(os.environ if environ is None else environ, pins):
        yield PageHelper()
        return
    policy = policy or RetryPolicy()
    if policy.started is None:
        policy = dataclasses.replace(policy, started=time.monotonic())
    to_child, from_parent = os.pipe()
    to_parent, from_child = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    # What both processes load is loaded once, before the fork (not in each of them).
    import hardenreq.index.client
    import hardenreq.index.sources

    with contextlib.suppress(ImportError):
        import hardenreq.index.curl  # noqa: F401 - libcurl's transport, where it imports
    # What both processes hold from before the fork is left out of their collections: a
    # collection writes to every object it walks, which would copy the shared pages.
    gc.freeze()
    try:
        pid = os.fork()
    except OSError as exc:  # no process to spare (a limit): the run reads every page itself
        logger.debug("no second process for the pages: %s", exc)
        gc.unfreeze()
        for fd in (to_child, from_parent, to_parent, from_child):
            os.close(fd)
        yield PageHelper()
        return
    if pid == 0:
        os.close(from_parent)
        os.close(to_parent)
        _child(to_child, from_child, settings, policy, want_latest)
    os.close(to_child)
    os.close(from_child)
    helper = PageHelper(pid, to_parent, from_parent, policy.deadline_at())
    try:
        with _said_once():
            yield helper
    finally:
        helper.close()


# -- the child ------------------------------------------------------------------------------


def _child(
    read_fd: int, write_fd: int, settings: IndexSettings, policy: RetryPolicy, want_latest: bool
) -> NoReturn:
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        asyncio.run(_serve(read_fd, write_fd, settings, policy, want_latest))
        code = 0
    except BaseException:  # noqa: S110 - nothing may escape into the parent's code
        # Nothing is printed (a traceback may quote the index): the parent sees the pipe
        # close and reads the pages it held itself.
        pass
    finally:
        os._exit(code)


class _Forward(logging.Handler):
    """Sends each record to the parent, once, as its message."""

    def __init__(self, send: Callable[[_Message], None]) -> None:
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "hardenreq_forwarded", False):
            return
        record.hardenreq_forwarded = True
        self._send(("log", -1, (record.levelno, record.name, record.getMessage())))


def _forward_logs(send: Callable[[_Message], None]) -> None:
    forward = _Forward(send)
    for each in _loggers():
        if each.handlers:
            each.handlers = [forward]


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it pickles; else what it says, with where it came from."""
    try:
        pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # any failure to pickle
        text = "".join(traceback.format_exception(exc))
        return RuntimeError(f"in the page process: {text}")
    return exc


async def _serve(
    read_fd: int, write_fd: int, settings: IndexSettings, policy: RetryPolicy, want_latest: bool
) -> None:
    from hardenreq.index.client import HttpFetcher
    from hardenreq.index.sources import IndexChain

    loop = asyncio.get_running_loop()
    writer, _ = await loop.connect_write_pipe(
        asyncio.BaseProtocol, os.fdopen(write_fd, "wb", buffering=0)
    )

    def send(message: _Message) -> None:
        if not writer.is_closing():
            writer.write(_frame(message))

    _forward_logs(send)
    ended = loop.create_future()
    tasks: dict[int, asyncio.Task[None]] = {}
    async with HttpFetcher(settings, policy) as fetcher:
        chain = IndexChain(fetcher, settings.urls, want_latest=want_latest)

        async def one(ident: int, pin: Pin) -> None:
            try:
                release = await chain.fetch_release(pin)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every error goes to the parent
                send(("error", ident, _portable(exc)))
            else:
                send(("done", ident, release))
            finally:
                tasks.pop(ident, None)

        def on_message(message: _Message) -> None:
            kind, ident, pin = message
            if kind == "fetch":
                tasks[ident] = loop.create_task(one(ident, pin))
            elif (task := tasks.pop(ident, None)) is not None:
                task.cancel()

        def on_end() -> None:
            if not ended.done():
                ended.set_result(None)

        reader, _ = await loop.connect_read_pipe(
            lambda: _Frames(on_message, on_end), os.fdopen(read_fd, "rb", buffering=0)
        )
        try:
            await ended
        finally:
            running = list(tasks.values())
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            reader.close()
    writer.close()
