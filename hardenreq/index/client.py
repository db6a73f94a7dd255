"""The HTTP client every index request goes through: TLS, HTTP/2, limits, bounded retries.

One ``httpx.AsyncClient`` per run. Retries cover connection errors, timeouts, truncated
bodies, 429 and 5xx, with exponential backoff, jitter and ``Retry-After``; then the error
names the package and the (redacted) index.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import logging
import netrc
import os
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from hardenreq import __version__
from hardenreq.errors import IndexResponseInvalid, IndexUnavailable
from hardenreq.index.location import IndexSettings
from hardenreq.index.policy import RetryPolicy
from hardenreq.redact import redact_text, redact_url

__all__ = ["HttpFetcher", "Response"]

logger = logging.getLogger(__name__)

#: No index page we read comes near this; a bigger answer is refused, not buffered.
MAX_RESPONSE_BYTES = 128 * 1024 * 1024
#: Direct-URL archives are streamed and hashed; refuse anything larger than this.
MAX_DOWNLOAD_BYTES = 4 * 1024 * 1024 * 1024
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CONNECTIONS = 3
_random = random.SystemRandom()


@dataclass(frozen=True, slots=True)
class Response:
    """A finished response: status, final URL (for resolving relative links), body."""

    status: int
    url: str
    content_type: str
    body: bytes
    retry_after: str | None = None


def _ssl_context(cert: str | None, environ: Mapping[str, str]) -> ssl.SSLContext:
    """Always-verified TLS, trusting what pip trusts.

    pip's ``cert`` setting (a CA bundle) wins, then ``SSL_CERT_FILE``; otherwise the
    operating system's trust store through truststore, as pip itself does by default, so
    a company CA installed on the machine works without configuration.
    """
    bundle = cert or environ.get("SSL_CERT_FILE")
    if bundle:
        try:
            return ssl.create_default_context(cafile=bundle)
        except (OSError, ssl.SSLError) as exc:
            raise IndexUnavailable(f"cannot load the CA bundle {bundle}: {exc}") from exc
    import truststore

    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class HttpFetcher:
    """GETs with bounded concurrency and retries; use as an async context manager."""

    def __init__(
        self,
        settings: IndexSettings,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._policy = policy or RetryPolicy()
        self._semaphore = asyncio.Semaphore(self._policy.concurrency)
        netrc_path = Path.home() / ".netrc"
        verify = _ssl_context(settings.cert, os.environ)
        auth = _netrc_auth(netrc_path)
        # A few HTTP/2 connections, not one: a single TCP connection's window and one
        # stream of frames to process bound a run that moves tens of megabytes.
        self._clients = [self._make_client(verify, auth) for _ in range(_CONNECTIONS)]
        self._next = 0
        self._sleep = sleep
        self.requests = 0
        self.bytes_received = 0

    def _make_client(self, verify: ssl.SSLContext, auth: httpx.Auth | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            http2=True,
            verify=verify,
            timeout=httpx.Timeout(self._policy.timeout, pool=None),
            limits=httpx.Limits(
                max_connections=self._policy.concurrency,
                max_keepalive_connections=self._policy.concurrency,
            ),
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": f"hardenreq/{__version__}"},
            auth=auth,
            trust_env=True,
        )

    @property
    def _client(self) -> httpx.AsyncClient:
        self._next = (self._next + 1) % len(self._clients)
        return self._clients[self._next]

    async def __aenter__(self) -> HttpFetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for client in self._clients:
            await client.aclose()

    async def get(
        self,
        url: str,
        *,
        what: str,
        accept: str | None = None,
        answer: frozenset[int] = frozenset({404}),
    ) -> Response:
        """GET ``url``; 200 and the ``answer`` statuses are returned, failures retried.

        ``what`` names the package for messages. Raises IndexUnavailable (after retries)
        or IndexResponseInvalid (a body over the size limit).
        """
        headers = {"Accept": accept} if accept else {}
        return await self._with_retries(
            url, what, lambda: self._get_once(url, headers), answer=answer
        )

    async def digest(self, url: str, *, what: str) -> str | None:
        """Stream ``url`` and return its sha256 hex digest, or None on 404."""
        response = await self._with_retries(url, what, lambda: self._digest_once(url))
        return response.body.decode("ascii") if response.status == 200 else None

    async def _get_once(self, url: str, headers: dict[str, str]) -> Response:
        async with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                return _status_only(response)
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
                raise _TooLarge(int(declared))
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise _TooLarge(size)
                chunks.append(chunk)
            self.bytes_received += size
            return Response(
                200,
                str(response.url),
                response.headers.get("Content-Type", ""),
                b"".join(chunks),
            )

    async def _digest_once(self, url: str) -> Response:
        async with self._client.stream("GET", url) as response:
            if response.status_code != 200:
                return _status_only(response)
            hasher = hashlib.sha256()
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise _TooLarge(size)
                hasher.update(chunk)
            self.bytes_received += size
            return Response(200, str(response.url), "", hasher.hexdigest().encode())

    async def _with_retries(
        self,
        url: str,
        what: str,
        attempt_once: Callable[[], Awaitable[Response]],
        *,
        answer: frozenset[int] = frozenset({404}),
    ) -> Response:
        shown = redact_url(url)
        last_problem = "no attempt made"
        for attempt in range(1, self._policy.attempts + 1):
            retry_after: float | None = None
            try:
                async with self._semaphore:
                    self.requests += 1
                    response = await attempt_once()
            except _TooLarge as exc:
                raise IndexResponseInvalid(
                    f"{what}: the index sent more than {exc.size} bytes for {shown}; refusing it"
                ) from exc
            except httpx.TransportError as exc:
                last_problem = _describe_transport_error(exc)
            else:
                if response.status in _RETRY_STATUSES:
                    last_problem = f"HTTP {response.status}"
                    retry_after = parse_retry_after(response.retry_after)
                elif response.status == 200 or response.status in answer:
                    return response
                elif response.status in (401, 403):
                    raise IndexUnavailable(
                        f"{what}: the index refused access to {shown} (HTTP {response.status})",
                        hint="check the credentials in the index URL, ~/.netrc or keyring",
                    )
                else:
                    raise IndexUnavailable(
                        f"{what}: the index answered HTTP {response.status} for {shown}"
                    )
            if attempt == self._policy.attempts:
                break
            delay = self._delay(attempt, retry_after)
            logger.info(
                "%s: %s from %s; retry %d of %d in %.1fs",
                what,
                last_problem,
                shown,
                attempt,
                self._policy.attempts - 1,
                delay,
            )
            await self._pause(delay)
        raise IndexUnavailable(
            f"{what}: could not fetch {shown} after {self._policy.attempts} attempts "
            f"({last_problem})",
            hint="check the network and the index URL; pip's configuration decides the index",
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._policy.max_delay)
        base: float = self._policy.backoff * 2.0 ** (attempt - 1)
        # Full jitter spreads the retries of concurrent requests (not used for security).
        jitter: float = _random.uniform(0, base)
        return min(base + jitter, self._policy.max_delay)

    async def _pause(self, delay: float) -> None:
        if self._sleep is not None:
            self._sleep(delay)
            return
        await asyncio.sleep(delay)


def _netrc_auth(path: Path) -> httpx.Auth | None:
    """Credentials from ~/.netrc, as pip uses them; a broken file is skipped, as pip does."""
    if not path.is_file():
        return None
    try:
        return httpx.NetRCAuth(str(path))
    except (OSError, netrc.NetrcParseError) as exc:
        logger.warning("ignoring %s: %s", path, exc)
        return None


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _status_only(response: httpx.Response) -> Response:
    return Response(
        response.status_code,
        str(response.url),
        "",
        b"",
        retry_after=response.headers.get("Retry-After"),
    )


def _describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        detail = redact_text(str(exc)).strip()
        return f"could not connect: {detail}" if detail else "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection broke off mid-answer"
    return type(exc).__name__


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))
