"""An httpx transport on libcurl (pycurl): HTTP/2 framing, TLS and socket reads done in C.

Why: the index sends tens of megabytes per run (107 MB of simple pages for a 274-pin lock).
httpx's own transport frames HTTP/2 in pure Python (h2, with a lock round trip and a socket
write per DATA frame): about 3 s of CPU for those 107 MB, where libcurl needs 0.4 s. The
client above stays httpx (``HttpFetcher``), so what the hostile-index guarantees rest on is
unchanged; this module only moves bytes, and adds nothing of curl's own behaviour:

- TLS is always verified (peer and host name), against the CA bundle the fetcher chose,
  TLS 1.2 at least. Only http and https are spoken.
- Redirects are never followed (``HttpFetcher._open`` judges each hop); bodies are never
  decoded (the fetcher undoes content codings in bounded steps); curl reads no netrc, no
  cookies and no proxy environment: where the environment names a proxy, the fetcher uses
  httpx's own transport, which honours it as pip does, so a request that reaches this one
  goes direct.
- Memory: a transfer holds at most ``_HIGH_WATER`` unread bytes; past that it is paused
  (HTTP/2 flow control then stops the sender) until the reader catches up.
- Time: connect and read timeouts of httpx's ``Timeout``; a cancelled request, or a
  response closed before its end, removes the transfer at once.
- Failures become httpx exceptions (a certificate failure carries its ``ssl`` error), so
  the fetcher's retry rules and messages are the same for both transports.

One ``CurlMulti`` per transport drives every transfer from the running asyncio loop: curl
tells which sockets to watch (``M_SOCKETFUNCTION``) and when to wake (``M_TIMERFUNCTION``);
no thread is started. With ``PIPEWAIT`` every request to a host multiplexes onto one
HTTP/2 connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator

import httpx
import pycurl

__all__ = ["CurlTransport"]

#: Unread bytes a transfer may hold before it is paused.
_HIGH_WATER = 4 * 1024 * 1024
#: curl's receive buffer: fewer, larger write callbacks (its default is 16 KiB).
_BUFFER_SIZE = 256 * 1024
#: Headers that curl derives from the URL and the body itself, or that HTTP/2 forbids.
_CURL_OWNS = frozenset({b"host", b"connection", b"content-length", b"transfer-encoding"})
_CONNECT_ERRORS = frozenset({5, 6, 7, 45})
_TLS_ERRORS = frozenset({35, 53, 54, 58, 59, 64, 66, 77, 80, 82, 83, 90, 91, 98})
_CERTIFICATE_ERRORS = frozenset({51, 60})
_PROTOCOL_ERRORS = frozenset({8, 16, 18, 52, 56, 61, 92, 95, 100})
_TIMEOUT = 28
_SEND_ERROR = 55
_UNSUPPORTED = 1


class CurlTransport(httpx.AsyncBaseTransport):
    """Send httpx requests through libcurl; ``cafile`` (or ``capath``) is the CA trust."""

    def __init__(self, *, cafile: str | None = None, capath: str | None = None) -> None:
        if not (cafile or capath):
            raise ValueError("a CA bundle (cafile or capath) is required")
        self._cafile = cafile
        self._capath = capath
        self._engine: _Engine | None = None

    def _running_engine(self) -> _Engine:
        loop = asyncio.get_running_loop()
        if self._engine is None or self._engine.closed:
            self._engine = _Engine(loop)
        elif self._engine.loop is not loop:
            raise RuntimeError("a CurlTransport serves one event loop")
        return self._engine

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        engine = self._running_engine()
        body = await request.aread() if request.method != "GET" else b""
        transfer = _Transfer(engine, request, body, self._cafile, self._capath)
        engine.start(transfer)
        timeouts = request.extensions.get("timeout", {})
        wait = _sum_timeouts(timeouts, ("connect", "write", "read"))
        try:
            async with asyncio.timeout(wait):
                await transfer.head
        except TimeoutError:
            engine.stop(transfer)
            raise httpx.ReadTimeout("no response in time", request=request) from None
        except BaseException:
            engine.stop(transfer)
            raise
        return httpx.Response(
            transfer.status,
            headers=transfer.headers,
            stream=_CurlStream(transfer, timeouts.get("read")),
            extensions={"http_version": transfer.http_version},
            request=request,
        )

    async def aclose(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def _sum_timeouts(timeouts: dict[str, float | None], keys: tuple[str, ...]) -> float | None:
    values = [timeouts.get(key) for key in keys]
    if any(value is None for value in values):
        return None
    return sum(value for value in values if value is not None)


class _Engine:
    """One CurlMulti, driven from ``loop`` by curl's socket and timer callbacks."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.closed = False
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._timer: asyncio.TimerHandle | None = None
        self._watched: set[int] = set()
        self._transfers: dict[pycurl.Curl, _Transfer] = {}

    def start(self, transfer: _Transfer) -> None:
        self._transfers[transfer.curl] = transfer
        self._multi.add_handle(transfer.curl)

    def stop(self, transfer: _Transfer) -> None:
        """Abort a transfer that is still running (a cancelled or closed request)."""
        if self._transfers.pop(transfer.curl, None) is not None:
            self._multi.remove_handle(transfer.curl)
        transfer.close()

    def resume(self, transfer: _Transfer) -> None:
        """Unpause a transfer whose reader caught up."""
        if transfer.curl in self._transfers:
            transfer.curl.pause(pycurl.PAUSE_CONT)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for transfer in list(self._transfers.values()):
            self.stop(transfer)
        if self._timer is not None:
            self._timer.cancel()
        for fd in self._watched:
            self.loop.remove_reader(fd)
            self.loop.remove_writer(fd)
        self._watched.clear()
        self._multi.close()

    # -- curl's callbacks (called from within curl; they only (un)register and schedule) --

    def _on_socket(self, what: int, fd: int, multi: object, data: object) -> None:
        del multi, data
        if what == pycurl.POLL_REMOVE:
            if fd in self._watched:
                self._watched.discard(fd)
                self.loop.remove_reader(fd)
                self.loop.remove_writer(fd)
            return
        self._watched.add(fd)
        if what in (pycurl.POLL_IN, pycurl.POLL_INOUT):
            self.loop.add_reader(fd, self._act, fd, pycurl.CSELECT_IN)
        else:
            self.loop.remove_reader(fd)
        if what in (pycurl.POLL_OUT, pycurl.POLL_INOUT):
            self.loop.add_writer(fd, self._act, fd, pycurl.CSELECT_OUT)
        else:
            self.loop.remove_writer(fd)

    def _on_timer(self, timeout_ms: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if timeout_ms >= 0 and not self.closed:
            self._timer = self.loop.call_later(
                timeout_ms / 1000, self._act, pycurl.SOCKET_TIMEOUT, 0
            )

    # -- driving ----------------------------------------------------------------------------

    def _act(self, fd: int, events: int) -> None:
        if self.closed:
            return
        while True:
            result, _running = self._multi.socket_action(fd, events)
            if result != pycurl.E_CALL_MULTI_PERFORM:
                break
        self._collect()

    def _collect(self) -> None:
        while True:
            queued, succeeded, failed = self._multi.info_read()
            for curl in succeeded:
                self._finish(curl, None, "")
            for curl, code, message in failed:
                self._finish(curl, code, message)
            if not queued:
                return

    def _finish(self, curl: pycurl.Curl, code: int | None, message: str) -> None:
        transfer = self._transfers.pop(curl, None)
        if transfer is None:
            return
        self._multi.remove_handle(curl)
        transfer.complete(code, message)


class _Transfer:
    """One request: its curl handle, the response head as it arrives, the unread body."""

    def __init__(
        self,
        engine: _Engine,
        request: httpx.Request,
        body: bytes,
        cafile: str | None,
        capath: str | None,
    ) -> None:
        self.engine = engine
        self.request = request
        self.head: asyncio.Future[None] = engine.loop.create_future()
        self.status = 0
        self.http_version = b"HTTP/1.1"
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.paused = False
        self.done = False
        self.error: httpx.TransportError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.curl = self._handle(request, body, cafile, capath)

    def _handle(
        self, request: httpx.Request, body: bytes, cafile: str | None, capath: str | None
    ) -> pycurl.Curl:
        curl = pycurl.Curl()
        curl.setopt(pycurl.URL, str(request.url))
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_2TLS)
        curl.setopt(pycurl.PIPEWAIT, 1)
        curl.setopt(pycurl.FOLLOWLOCATION, 0)
        curl.setopt(pycurl.HTTP_CONTENT_DECODING, 0)
        curl.setopt(pycurl.PROXY, "")
        curl.setopt(pycurl.NOSIGNAL, 1)
        curl.setopt(pycurl.TCP_KEEPALIVE, 1)
        curl.setopt(pycurl.BUFFERSIZE, _BUFFER_SIZE)
        curl.setopt(pycurl.SSL_VERIFYPEER, 1)
        curl.setopt(pycurl.SSL_VERIFYHOST, 2)
        curl.setopt(pycurl.SSLVERSION, pycurl.SSLVERSION_TLSv1_2)
        if cafile:
            curl.setopt(pycurl.CAINFO, cafile)
        if capath:
            curl.setopt(pycurl.CAPATH, capath)
        connect = request.extensions.get("timeout", {}).get("connect")
        if connect is not None:
            curl.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(connect * 1000)))
        if request.method == "POST":
            curl.setopt(pycurl.POSTFIELDSIZE, len(body))
            curl.setopt(pycurl.COPYPOSTFIELDS, body)
        elif request.method == "HEAD":
            curl.setopt(pycurl.NOBODY, 1)
        elif request.method != "GET":
            raise httpx.UnsupportedProtocol(
                f"{request.method} is not sent through curl", request=request
            )
        # An empty Expect keeps curl from waiting for "100 Continue" before a POST body.
        headers = [b"Expect:"]
        headers.extend(
            name + b": " + value
            for name, value in request.headers.raw
            if name.lower() not in _CURL_OWNS
        )
        curl.setopt(pycurl.HTTPHEADER, headers)
        curl.setopt(pycurl.HEADERFUNCTION, self._on_header)
        curl.setopt(pycurl.WRITEFUNCTION, self._on_body)
        return curl

    # -- curl's callbacks ---------------------------------------------------------------

    def _on_header(self, line: bytes) -> int | None:
        if self.head.done():
            return None  # trailers
        if line.startswith(b"HTTP/"):
            version, _, rest = line.partition(b" ")
            code = rest[:3]
            if not code.isdigit():
                return self._refuse(f"a malformed status line {line[:80]!r}")
            self.status = int(code)
            self.http_version = b"HTTP/2" if version.startswith(b"HTTP/2") else version
            self.headers = []
            return None
        if line in (b"\r\n", b"\n"):
            if 100 <= self.status < 200:
                return None  # an interim response; the real one follows
            self.head.set_result(None)
            return None
        if line[:1] in (b" ", b"\t") and self.headers:
            name, value = self.headers[-1]
            self.headers[-1] = (name, value + b" " + line.strip())
            return None
        name, colon, value = line.partition(b":")
        name = name.strip()
        if not colon or not name:
            return self._refuse(f"a malformed header line {line[:80]!r}")
        self.headers.append((name, value.strip()))
        return None

    def _on_body(self, data: bytes) -> int | None:
        if self.buffered >= _HIGH_WATER:
            # Not taken: curl hands the same bytes again once the transfer is resumed.
            self.paused = True
            return int(pycurl.WRITEFUNC_PAUSE)
        self.chunks.append(data)
        self.buffered += len(data)
        self._wake()
        return None

    def _refuse(self, what: str) -> int:
        self.error = httpx.RemoteProtocolError(f"the server sent {what}", request=self.request)
        return 0  # fewer bytes than given: curl aborts the transfer

    # -- completion -----------------------------------------------------------------------

    def complete(self, code: int | None, message: str) -> None:
        self.done = True
        if code is not None and self.error is None:
            self.error = _curl_error(code, message, self.request, started=self.head.done())
        if not self.head.done():
            self.head.set_exception(
                self.error
                or httpx.RemoteProtocolError("the server sent no response", request=self.request)
            )
        self._wake()
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.curl.close()
        if not self.head.done():
            self.head.cancel()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float | None) -> None:
        """Until more body arrives or the transfer ends."""
        self._waiter = self.engine.loop.create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._waiter
        except TimeoutError:
            raise httpx.ReadTimeout("the answer stalled", request=self.request) from None
        finally:
            self._waiter = None

    def take(self) -> bytes:
        data = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks.clear()
        self.buffered = 0
        if self.paused:
            self.paused = False
            self.engine.resume(self)
        return data


class _CurlStream(httpx.AsyncByteStream):
    def __init__(self, transfer: _Transfer, read_timeout: float | None) -> None:
        self._transfer = transfer
        self._read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        transfer = self._transfer
        while True:
            if transfer.chunks:
                yield transfer.take()
            elif transfer.done:
                if transfer.error is not None:
                    raise transfer.error
                return
            else:
                await transfer.wait(self._read_timeout)

    async def aclose(self) -> None:
        transfer = self._transfer
        if not transfer.done:
            with contextlib.suppress(pycurl.error):
                transfer.engine.stop(transfer)
        transfer.chunks.clear()


def _curl_error(
    code: int, message: str, request: httpx.Request, *, started: bool
) -> httpx.TransportError:
    """The httpx exception for a curl error, so the fetcher judges both transports alike."""
    text = message or f"curl error {code}"
    if code in _CERTIFICATE_ERRORS:
        error: httpx.TransportError = httpx.ConnectError(text, request=request)
        cause = ssl.SSLCertVerificationError(1, text)
        cause.verify_message = text.removeprefix("SSL certificate problem: ")
        error.__cause__ = cause
        return error
    if code in _TLS_ERRORS:
        error = httpx.ConnectError(text, request=request)
        error.__cause__ = ssl.SSLError(1, text)
        return error
    if code == _TIMEOUT:
        if started:
            return httpx.ReadTimeout(text, request=request)
        return httpx.ConnectTimeout(text, request=request)
    if code in _CONNECT_ERRORS:
        return httpx.ConnectError(text, request=request)
    if code in _PROTOCOL_ERRORS:
        return httpx.RemoteProtocolError(text, request=request)
    if code == _SEND_ERROR:
        return httpx.WriteError(text, request=request)
    if code == _UNSUPPORTED:
        return httpx.UnsupportedProtocol(text, request=request)
    return httpx.NetworkError(text, request=request)
