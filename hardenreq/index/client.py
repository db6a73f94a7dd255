"""The HTTP client every index request goes through: TLS, HTTP/2, limits, bounded retries.

One ``HttpFetcher`` per run. Retries cover connection errors, timeouts, truncated bodies,
429 and 5xx, with exponential backoff, jitter and ``Retry-After``; then the error names the
package and the (redacted) index. Against an index that misbehaves on purpose (the README's
"Security model" lists each promise with its test):

- Bodies are bounded as they are *decoded*: content codings are undone here, at most
  ``_DECODE_STEP`` bytes per step, with a running count (httpx's decoders inflate a whole
  network chunk at once). Only identity, gzip and deflate are accepted, one at a time;
  stacked (``gzip, gzip``) or unknown codings are refused. Downloads are hashed as sent,
  as pip hashes them, and never decoded.
- Time: a page request is bounded as a whole by ``RetryPolicy.timeout``, the waits between
  one request's attempts by ``max_total_delay``, and the run by ``deadline``.
- Redirects are followed here, never from https to http nor to another scheme; every hop
  is logged at INFO. A POST (the OSV API's queries) keeps its method and body across 307
  and 308 only; 301, 302 and 303 turn it into a GET without a body, as browsers and
  requests do. Credentials go to the origin they were given for: the URL's own, to
  its origin only; ``~/.netrc``'s, to the host they name only.
- Every failure of the HTTP stack (httpx, h2, ssl, bad URLs) becomes a HardenreqError.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import logging
import netrc
import os
import random
import ssl
import sys
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import h2.exceptions
import httpx

from hardenreq import __version__
from hardenreq.errors import HardenreqError, IndexResponseInvalid, IndexUnavailable, InputError
from hardenreq.index.location import IndexSettings
from hardenreq.index.policy import RetryPolicy
from hardenreq.redact import redact_text, redact_url

__all__ = [
    "MAX_BUFFERED_BYTES",
    "MAX_DOWNLOAD_BYTES",
    "MAX_REDIRECTS",
    "MAX_RESPONSE_BYTES",
    "HttpFetcher",
    "Response",
]

logger = logging.getLogger(__name__)

#: No index page we read comes near this (the largest seen are a few MB); a bigger
#: answer, counted after decoding, is refused, not buffered.
MAX_RESPONSE_BYTES = 128 * 1024 * 1024
#: Direct-URL archives are streamed and hashed; refuse anything larger than this.
MAX_DOWNLOAD_BYTES = 4 * 1024 * 1024 * 1024
#: Decoded page bytes held at once by all the requests in flight: without it, 64
#: concurrent answers could each grow to MAX_RESPONSE_BYTES. One page of the largest size
#: always fits.
MAX_BUFFERED_BYTES = 128 * 1024 * 1024
#: Hops followed per request (pip's requests session allows 30; an index needs one or two).
MAX_REDIRECTS = 5
_DECODE_STEP = 1024 * 1024
# The codings we decode ourselves, in bounded steps; br and zstd would need decoders
# whose output cannot be bounded per call in every version.
_PAGE_ENCODINGS = "gzip, deflate"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_LOCATION = "hardenreq.location"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CONNECTIONS = 3
_SHOWN_URL_CHARS = 300
_SHOWN_WHAT_CHARS = 200
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


def _env_proxies() -> bool:
    """Whether the environment names a proxy (``HTTPS_PROXY``, ``ALL_PROXY``...), as httpx
    (``trust_env``) reads it."""
    from urllib.request import getproxies

    found = getproxies()
    return any(found.get(scheme) for scheme in ("http", "https", "all"))


def _trust_nothing() -> ssl.SSLContext:
    """The TLS context of a client whose every request goes through libcurl: httpx is
    handed one, but makes no connection with it. It trusts no certificate, so a
    connection made through it by mistake fails; it is never unverified. (Loading the CA
    bundle for nothing cost tens of milliseconds per run.)"""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


#: Where Linux distributions keep the CA bundle (as truststore looks for it), in order.
_CA_BUNDLES = (
    "/etc/ssl/cert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/cert.pem",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/ca-bundle.pem",
)


def _curl_transport(
    cert: str | None, environ: Mapping[str, str]
) -> httpx.AsyncBaseTransport | None:
    """libcurl's transport where it can be used, else None (httpx's own).

    Used on Linux where pycurl imports, unless ``HARDENREQ_HTTP=httpx``. It trusts what
    ``_ssl_context`` trusts: pip's ``cert`` or ``SSL_CERT_FILE``, else the system's CA
    bundle where truststore finds it on Linux (OpenSSL's default paths, then the
    distributions' usual files); with none found, httpx is used.
    """
    if environ.get("HARDENREQ_HTTP", "").lower() == "httpx" or not sys.platform.startswith("linux"):
        return None
    try:
        from hardenreq.index.curl import CurlTransport
    except ImportError:
        return None
    bundle = cert or environ.get("SSL_CERT_FILE")
    if bundle:
        return CurlTransport(cafile=bundle)
    paths = ssl.get_default_verify_paths()
    if paths.cafile and os.path.isfile(paths.cafile):
        return CurlTransport(cafile=paths.cafile)
    if paths.capath and os.path.isdir(paths.capath) and _has_hashed_certs(paths.capath):
        return CurlTransport(capath=paths.capath)
    for candidate in _CA_BUNDLES:
        if os.path.isfile(candidate):
            return CurlTransport(cafile=candidate)
    return None


def _has_hashed_certs(folder: str) -> bool:
    """Whether ``folder`` holds certificates by OpenSSL's hashed names (``c_rehash``)."""
    with os.scandir(folder) as entries:
        return any(len(e.name) == 10 and e.name[8:9] == "." for e in entries)


class HttpFetcher:
    """GETs with bounded concurrency, retries, sizes and time; an async context manager.

    ``sleep`` replaces the waits between attempts (tests record them); ``transport``
    replaces the network (tests inject failures); ``environ`` is read for ``NETRC`` and
    ``SSL_CERT_FILE`` (default: the process environment).
    """

    def __init__(
        self,
        settings: IndexSettings,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], object] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        self._policy = policy or RetryPolicy()
        self._semaphore = asyncio.Semaphore(self._policy.concurrency)
        self._netrc = _load_netrc(Path(environ.get("NETRC") or Path.home() / ".netrc"))
        # A proxy named by the environment is used as pip uses it, by httpx's own transport
        # (httpx takes no proxy from the environment for a transport it is handed).
        direct = transport is None and not _env_proxies()
        curl = _curl_transport(settings.cert, environ) if direct else None
        if curl is not None:
            # libcurl multiplexes every request onto one HTTP/2 connection per host and
            # frames it in C: one client is enough (``hardenreq.index.curl``). httpx makes
            # no connection of its own then, so it is not handed pip's trust.
            self._clients = [self._make_client(_trust_nothing(), curl)]
        else:
            verify = _ssl_context(settings.cert, environ)
            # A few HTTP/2 connections, not one: a single TCP connection's window and one
            # stream of frames to process bound a run that moves tens of megabytes.
            self._clients = [self._make_client(verify, transport) for _ in range(_CONNECTIONS)]
        self._next = 0
        self._sleep = sleep
        self._deadline_at = self._policy.deadline_at()
        self._buffered = 0
        self.requests = 0
        self.bytes_received = 0

    def _make_client(
        self, verify: ssl.SSLContext, transport: httpx.AsyncBaseTransport | None
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            http2=True,
            verify=verify,
            timeout=httpx.Timeout(self._policy.timeout, pool=None),
            limits=httpx.Limits(
                max_connections=self._policy.concurrency,
                max_keepalive_connections=self._policy.concurrency,
            ),
            # Redirects and credentials are handled in `_open`, hop by hop.
            follow_redirects=False,
            event_hooks={"response": [_detach_location]},
            headers={"User-Agent": f"hardenreq/{__version__}", "Accept-Encoding": _PAGE_ENCODINGS},
            trust_env=True,
            transport=transport,
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

        ``what`` names the package for messages. Raises IndexUnavailable (after retries,
        or when the run's deadline passes), IndexResponseInvalid (a body over the size
        limits, a refused encoding or redirect) or InputError (``url`` is not a URL that
        can be requested, e.g. a project name too long for one).
        """
        what = _clip(what, _SHOWN_WHAT_CHARS)
        target = _request_url(url, what)
        headers = {"Accept": accept} if accept else {}
        return await self._with_retries(
            url,
            what,
            lambda: self._get_once(target, headers, what),
            answer=answer,
            whole_request=True,
        )

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        what: str,
        content_type: str = "application/json",
        accept: str | None = None,
        answer: frozenset[int] = frozenset({404}),
    ) -> Response:
        """POST ``body`` to ``url``: the same bounds, deadlines, redirect rules, retries and
        errors as ``get``. Meant for idempotent queries (an OSV batch query), which are
        retried like a GET; ``body`` is sent as is, never compressed.
        """
        what = _clip(what, _SHOWN_WHAT_CHARS)
        target = _request_url(url, what)
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        return await self._with_retries(
            url,
            what,
            lambda: self._get_once(target, headers, what, method="POST", content=body),
            answer=answer,
            whole_request=True,
        )

    async def digest(self, url: str, *, what: str) -> str | None:
        """Stream ``url`` and return its sha256 hex digest, or None on 404.

        The digest is of the bytes as sent, undecoded, as pip computes it. Raises as
        ``get`` does.
        """
        what = _clip(what, _SHOWN_WHAT_CHARS)
        target = _request_url(url, what)
        response = await self._with_retries(
            url, what, lambda: self._digest_once(target, what), whole_request=False
        )
        return response.body.decode("ascii") if response.status == 200 else None

    async def download(self, url: str, *, what: str, into: Path, limit: int) -> str | None:
        """Stream ``url`` into the file ``into`` (created or truncated, at most ``limit``
        bytes) and return its sha256 hex digest, or None on 404.

        The bytes are written and hashed as sent, undecoded, as pip downloads them; a retry
        starts the file again. Raises as ``get`` does (a body over ``limit`` is
        IndexResponseInvalid).
        """
        what = _clip(what, _SHOWN_WHAT_CHARS)
        target = _request_url(url, what)
        response = await self._with_retries(
            url,
            what,
            lambda: self._digest_once(target, what, into=into, limit=limit),
            whole_request=False,
        )
        return response.body.decode("ascii") if response.status == 200 else None

    # -- one attempt ---------------------------------------------------------------------

    async def _get_once(
        self,
        url: httpx.URL,
        headers: dict[str, str],
        what: str,
        *,
        method: str = "GET",
        content: bytes | None = None,
    ) -> Response:
        async with self._open(url, headers, what, method=method, content=content) as response:
            if response.status_code != 200:
                return _status_only(response)
            shown = _shown(response.url)
            decoder = _Decoder.for_page(response.headers, what, shown)
            declared = _declared_length(response.headers)
            if declared is not None and declared > MAX_RESPONSE_BYTES:
                raise _too_large(what, shown, declared, MAX_RESPONSE_BYTES)
            chunks: list[bytes] = []
            size = 0

            def keep(piece: bytes) -> None:
                nonlocal size
                size += len(piece)
                self._buffered += len(piece)
                if size > MAX_RESPONSE_BYTES:
                    raise _too_large(what, shown, size, MAX_RESPONSE_BYTES)
                if self._buffered > MAX_BUFFERED_BYTES:
                    raise IndexResponseInvalid(
                        f"{what}: the answers being read at once hold more than "
                        f"{MAX_BUFFERED_BYTES} bytes (this one, from {shown}, {size}); "
                        "refusing them"
                    )
                chunks.append(piece)

            try:
                async for raw in response.aiter_raw():
                    for piece in decoder.feed(raw):
                        keep(piece)
                for piece in decoder.finish():
                    keep(piece)
            except zlib.error as exc:
                chunks.clear()
                raise IndexResponseInvalid(
                    f"{what}: {shown} sent a body that is not valid {decoder.coding}: {exc}"
                ) from exc
            except BaseException:
                # The traceback keeps this frame alive as long as the error is kept (a
                # gather collects every pin's): it must not keep the body too.
                chunks.clear()
                raise
            finally:
                self._buffered -= size
            self.bytes_received += size
            # Joined once, at the end (BytesIO or bytearray growth costs 3x the CPU here);
            # the page is briefly held twice, within MAX_BUFFERED_BYTES + MAX_RESPONSE_BYTES.
            body = b"".join(chunks)
            chunks.clear()
            return Response(200, str(response.url), response.headers.get("Content-Type", ""), body)

    async def _digest_once(
        self,
        url: httpx.URL,
        what: str,
        *,
        into: Path | None = None,
        limit: int = MAX_DOWNLOAD_BYTES,
    ) -> Response:
        # pip downloads with `Accept-Encoding: identity` and hashes the bytes as they come
        # (decode_content=False), whatever Content-Encoding says: so does this, which also
        # leaves nothing to inflate.
        async with self._open(url, {"Accept-Encoding": "identity"}, what) as response:
            if response.status_code != 200:
                return _status_only(response)
            shown = _shown(response.url)
            declared = _declared_length(response.headers)
            if declared is not None and declared > limit:
                raise _too_large(what, shown, declared, limit)
            hasher = hashlib.sha256()
            size = 0
            with contextlib.ExitStack() as stack:
                sink = stack.enter_context(into.open("wb")) if into is not None else None
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(what, shown, size, limit)
                    hasher.update(chunk)
                    if sink is not None:
                        sink.write(chunk)
            self.bytes_received += size
            return Response(200, str(response.url), "", hasher.hexdigest().encode())

    @contextlib.asynccontextmanager
    async def _open(
        self,
        url: httpx.URL,
        headers: Mapping[str, str],
        what: str,
        *,
        method: str = "GET",
        content: bytes | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Send the request and follow redirects by hand; yields the final, unread response."""
        client = self._client
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            bare, auth = self._authorize(current, url)
            request = client.build_request(method, bare, headers=headers, content=content)
            response = await client.send(request, auth=auth, stream=True)
            location = response.extensions.get(_LOCATION)
            if location is None:
                try:
                    yield response
                finally:
                    await response.aclose()
                return
            await response.aclose()
            following = _redirect_target(current, location, what)
            logger.info(
                "%s: %s redirected (HTTP %d) to %s",
                what,
                _shown(current),
                response.status_code,
                _shown(following),
            )
            current = following
            if method != "GET" and response.status_code not in (307, 308):
                # RFC 9110 15.4: 307/308 repeat the request; the others (as user agents
                # treat them) ask for a GET of the new location.
                method, content = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        raise IndexResponseInvalid(
            f"{what}: more than {MAX_REDIRECTS} redirects from {_shown(url)} "
            "(a redirect loop?); refusing to follow more"
        )

    def _authorize(self, target: httpx.URL, start: httpx.URL) -> tuple[httpx.URL, httpx.Auth]:
        """The URL without user-info, and the credentials for it, as pip chooses them.

        Credentials in the URL come first, and reach only their own origin (a redirect to
        another host loses them). Then ``~/.netrc``, for the host it names only. A URL
        with a user but no password falls back to netrc, then to the bare user (pip).
        """
        own = target if target.userinfo else start if _same_origin(start, target) else None
        bare = target.copy_with(username=None, password=None) if target.userinfo else target
        if own is not None and b":" in own.userinfo:
            return bare, httpx.BasicAuth(own.username, own.password)
        found = self._netrc_for(target.host)
        if found is not None:
            return bare, httpx.BasicAuth(*found)
        if own is not None and own.userinfo:
            return bare, httpx.BasicAuth(own.username, "")
        return bare, httpx.Auth()

    def _netrc_for(self, host: str) -> tuple[str, str] | None:
        if self._netrc is None:
            return None
        entry = self._netrc.authenticators(host)
        if entry is None or not entry[2]:
            return None
        login, account, password = entry
        return (login or account or ""), password

    # -- retries and time ----------------------------------------------------------------

    async def _with_retries(
        self,
        url: str,
        what: str,
        attempt_once: Callable[[], Awaitable[Response]],
        *,
        answer: frozenset[int] = frozenset({404}),
        whole_request: bool,
    ) -> Response:
        shown = _clip(redact_url(url))
        last_problem = "no attempt made"
        waited = 0.0
        attempt = 0
        while attempt < self._policy.attempts:
            attempt += 1
            retry_after: float | None = None
            try:
                async with self._semaphore:
                    budget = self._attempt_budget(what, shown, last_problem, whole_request)
                    self.requests += 1
                    async with asyncio.timeout(budget):
                        response = await attempt_once()
            except HardenreqError:
                raise
            except (TimeoutError, httpx.TimeoutException):
                last_problem = "timed out"
            except Exception as exc:
                last_problem = _retriable_problem(exc, what, shown)
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
            left = self._policy.max_total_delay - waited
            if left <= 0:
                break
            delay = min(delay, left)
            remaining = self._remaining()
            if remaining is not None and delay >= remaining:
                raise self._deadline_error(what, shown, last_problem)
            logger.info(
                "%s: %s from %s; retry %d of %d in %.1fs",
                what,
                last_problem,
                shown,
                attempt,
                self._policy.attempts - 1,
                delay,
            )
            waited += delay
            await self._pause(delay)
        plural = "attempt" if attempt == 1 else "attempts"
        raise IndexUnavailable(
            f"{what}: could not fetch {shown} after {attempt} {plural} ({last_problem})",
            hint="check the network and the index URL; pip's configuration decides the index",
        )

    def _remaining(self) -> float | None:
        return None if self._deadline_at is None else self._deadline_at - time.monotonic()

    def _attempt_budget(
        self, what: str, shown: str, last_problem: str, whole_request: bool
    ) -> float | None:
        """Seconds this attempt may take as a whole; raises once the run's deadline passed."""
        remaining = self._remaining()
        if remaining is not None and remaining <= 0:
            raise self._deadline_error(what, shown, last_problem)
        if not whole_request:
            return remaining
        if remaining is None:
            return self._policy.timeout
        return min(self._policy.timeout, remaining)

    def _deadline_error(self, what: str, shown: str, last_problem: str) -> IndexUnavailable:
        remaining = self._remaining()
        when = "passed" if remaining is None or remaining <= 0 else "leaves no time to retry"
        return IndexUnavailable(
            f"{what}: gave up on {shown}: the run's deadline of {self._policy.deadline:g} s "
            f"{when} (last: {last_problem})",
            hint="the index is slow or stalls on purpose; raise --deadline if it is only slow",
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


class _Decoder:
    """Undo one content coding, handing out at most ``_DECODE_STEP`` bytes at a time.

    httpx's decoders give zlib a whole network chunk with no output limit: one 64 KiB
    chunk of a gzip bomb inflates to 64 MiB in a single call, and a stacked ``gzip, gzip``
    to gigabytes, before any count can stop it. Here every step is bounded, so the caller's
    running count is a real bound.
    """

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._inflater = None if coding == "identity" else self._new_inflater(coding)
        self._first = True
        self._trailing = False

    @classmethod
    def for_page(cls, headers: httpx.Headers, what: str, shown: str) -> _Decoder:
        """The decoder for a page's Content-Encoding; refuses stacked or unknown codings."""
        codings = [c.strip().lower() for c in headers.get_list("Content-Encoding", True)]
        codings = [c for c in codings if c and c != "identity"]
        if not codings:
            return cls("identity")
        if len(codings) > 1:
            raise IndexResponseInvalid(
                f"{what}: {shown} sent a body with stacked encodings "
                f"{_clip(', '.join(codings), 60)!r}; refusing it (only one of gzip or deflate "
                "is accepted)"
            )
        coding = "gzip" if codings[0] == "x-gzip" else codings[0]
        if coding not in ("gzip", "deflate"):
            raise IndexResponseInvalid(
                f"{what}: {shown} sent a body with Content-Encoding {_clip(coding, 60)!r}, "
                f"which was not asked for (Accept-Encoding: {_PAGE_ENCODINGS}); refusing it"
            )
        return cls(coding)

    @staticmethod
    def _new_inflater(coding: str, *, raw: bool = False) -> zlib._Decompress:
        if coding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of ``data``, in pieces of at most ``_DECODE_STEP``."""
        if self._inflater is None:
            yield data
            return
        while data and not self._trailing:
            if self._inflater.eof:
                if self.coding != "gzip":
                    raise zlib.error("data after the end of the deflate stream")
                if not data.startswith(b"\x1f\x8b"):
                    # Garbage after a complete member is dropped, as urllib3 (so pip) does.
                    self._trailing = True
                    return
                # RFC 1952: a gzip body may hold several members, decoded in turn.
                self._inflater = self._new_inflater("gzip")
            try:
                out = self._inflater.decompress(data, _DECODE_STEP)
            except zlib.error:
                if not (self._first and self.coding == "deflate"):
                    raise
                # Some servers send raw deflate without the zlib wrapper (httpx does this).
                self._inflater = self._new_inflater("deflate", raw=True)
                out = self._inflater.decompress(data, _DECODE_STEP)
            self._first = False
            if out:
                yield out
            data = self._inflater.unconsumed_tail or self._inflater.unused_data

    def finish(self) -> Iterator[bytes]:
        """Whatever the decoder still holds; raises zlib.error for a stream cut short."""
        if self._inflater is None or self._trailing:
            return
        while not self._inflater.eof:
            out = self._inflater.decompress(b"", _DECODE_STEP)
            if not out:
                raise zlib.error("the compressed body ends early")
            yield out


async def _detach_location(response: httpx.Response) -> None:
    """Move a redirect's Location out of httpx's sight, for `_open` to judge.

    httpx builds the request for the next hop even when it does not follow redirects, and a
    hostile Location (``javascript:...``, ``https://[::1``) makes that raise before the
    response can be looked at.
    """
    if response.status_code in _REDIRECT_STATUSES and "Location" in response.headers:
        response.extensions[_LOCATION] = response.headers.pop("Location")


def _request_url(url: str, what: str) -> httpx.URL:
    """``url`` as httpx will send it; InputError for one that cannot be requested."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise InputError(
            f"{what}: cannot request {_clip(redact_url(url))}: {_detail(exc)}",
            hint="a requirement name or an index URL is malformed or too long",
        ) from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InputError(f"{what}: cannot request {_clip(redact_url(url))}: not an http(s) URL")
    return parsed


def _redirect_target(current: httpx.URL, location: str, what: str) -> httpx.URL:
    """Where a redirect leads; IndexResponseInvalid for a target that must not be followed."""
    try:
        target = current.join(location)
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise IndexResponseInvalid(
            f"{what}: {_shown(current)} redirected to an invalid URL: {_detail(exc)}"
        ) from exc
    if target.scheme not in ("http", "https") or not target.host:
        # Shown as httpx spells it (percent-encoded), never as the index sent it.
        raise IndexResponseInvalid(
            f"{what}: {_shown(current)} redirected to {_shown(target)}, "
            "which is not an http(s) URL; refusing to follow it"
        )
    if current.scheme == "https" and target.scheme == "http":
        raise IndexResponseInvalid(
            f"{what}: {_shown(current)} redirected to plain http ({_shown(target)}); "
            "refusing to follow a redirect from https to http",
            hint="an answer over plain http can be changed by anyone on the network; "
            "the index (or a proxy) must keep https",
        )
    return target


def _same_origin(start: httpx.URL, target: httpx.URL) -> bool:
    """Whether the start URL's credentials may go to ``target`` (requests' rule, as pip)."""
    if start.host != target.host:
        return False
    if start.scheme == target.scheme and start.port == target.port:
        return True
    # The one change requests keeps credentials across: http to https on default ports.
    return (
        start.scheme == "http"
        and target.scheme == "https"
        and start.port in (None, 80)
        and target.port in (None, 443)
    )


def _retriable_problem(exc: Exception, what: str, shown: str) -> str:
    """Describe a failure worth retrying; raise a HardenreqError for one that is not."""
    tls = _tls_failure(exc)
    if isinstance(tls, ssl.SSLCertVerificationError):
        raise IndexUnavailable(
            f"{what}: the TLS certificate of {shown} did not verify: "
            f"{_detail(getattr(tls, 'verify_message', None) or tls)}",
            hint="hardenreq always verifies TLS; trust a private CA with pip's `cert` "
            "setting or SSL_CERT_FILE",
        ) from exc
    if tls is not None and not isinstance(tls, ssl.SSLEOFError):
        raise IndexUnavailable(
            f"{what}: the TLS handshake with {shown} failed: {_detail(tls)}",
            hint="is it an https URL for a server that speaks plain http?",
        ) from exc
    if isinstance(exc, httpx.UnsupportedProtocol):
        raise IndexResponseInvalid(f"{what}: cannot request {shown}: {_detail(exc)}") from exc
    if isinstance(exc, httpx.ConnectError):
        detail = _detail(exc)
        return f"could not connect: {detail}" if detail else "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError | h2.exceptions.H2Error):
        detail = _detail(exc)
        return (
            f"the connection broke off mid-answer ({detail})"
            if detail
            else ("the connection broke off mid-answer")
        )
    if isinstance(exc, httpx.TransportError | OSError):
        detail = _detail(exc)
        return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    if isinstance(
        exc,
        httpx.HTTPError
        | httpx.InvalidURL
        | httpx.StreamError
        | httpx.CookieConflict
        | UnicodeError,
    ):
        raise IndexResponseInvalid(
            f"{what}: the exchange with {shown} failed: {type(exc).__name__}: {_detail(exc)}"
        ) from exc
    raise exc


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The ssl error behind ``exc`` (httpx wraps it in a ConnectError), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _load_netrc(path: Path) -> netrc.netrc | None:
    """~/.netrc (or $NETRC), as pip reads it; a broken file is skipped, as pip does."""
    if not path.is_file():
        return None
    try:
        return netrc.netrc(str(path))
    except (OSError, netrc.NetrcParseError) as exc:
        logger.warning("ignoring %s: %s", path, exc)
        return None


def _declared_length(headers: httpx.Headers) -> int | None:
    """Content-Length, when it is a plain number (the body is counted either way)."""
    value = headers.get("Content-Length", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _too_large(what: str, shown: str, size: int, limit: int) -> IndexResponseInvalid:
    return IndexResponseInvalid(
        f"{what}: the index sent more than {limit} bytes ({size}) for {shown}; refusing it"
    )


def _status_only(response: httpx.Response) -> Response:
    return Response(
        response.status_code,
        str(response.url),
        "",
        b"",
        retry_after=response.headers.get("Retry-After"),
    )


def _clip(text: str, limit: int = _SHOWN_URL_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _shown(url: httpx.URL) -> str:
    """A URL for messages: without credentials and of bounded length."""
    return _clip(redact_url(str(url)))


def _detail(exc: BaseException | str) -> str:
    """An exception's text for one line of a message: short, single-line, redacted."""
    text = " ".join(str(exc).split())
    return redact_text(_clip(text, 2 * _SHOWN_URL_CHARS))[: 2 * _SHOWN_URL_CHARS]


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
