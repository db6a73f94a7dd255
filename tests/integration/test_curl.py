"""libcurl's transport (hardenreq.index.curl) on its own, against a loopback server: what
only it must guarantee, beyond the hostile-index cases that run under both engines
(test_hostile_http.py): a reader that falls behind pauses the transfer (memory stays
bounded), a cancelled or closed request leaves no transfer running, curl follows no
redirect and uses no proxy from the environment, and httpx, beside it, is handed no trust
it could misuse. TLS verification is tested under both
engines in test_hostile_http.py (an untrusted certificate, https to a plain server)."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

pycurl = pytest.importorskip("pycurl")

from hardenreq.index import curl  # noqa: E402
from hardenreq.index.client import HttpFetcher, _trust_nothing  # noqa: E402
from hardenreq.index.curl import CurlTransport  # noqa: E402
from hardenreq.index.location import IndexSettings  # noqa: E402
from tests.index import IndexFactory  # noqa: E402

BIG = 48 * 1024 * 1024
CAFILE = "/dev/null"  # plain http here: the bundle is never read, but one is required


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/big")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        slow = self.path == "/slow"
        self.send_response(200)
        self.send_header("Content-Length", str(BIG))
        self.end_headers()
        chunk = b"x" * (1024 if slow else 1024 * 1024)
        try:
            for _ in range(BIG // len(chunk)):
                self.wfile.write(chunk)
                if slow:
                    self.wfile.flush()
                    time.sleep(0.05)
        except OSError:
            pass  # the client went away: expected when a test closes early

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_bundle_is_required() -> None:
    with pytest.raises(ValueError, match="CA bundle"):
        CurlTransport()


def test_a_reader_that_falls_behind_pauses_the_transfer(server: str) -> None:
    async def main() -> tuple[int, int]:
        transport = CurlTransport(cafile=CAFILE)
        async with (
            httpx.AsyncClient(transport=transport) as client,
            client.stream("GET", f"{server}/big") as response,
        ):
            await asyncio.sleep(1.0)  # the server could send all 48 MiB meanwhile
            assert transport._engine is not None
            (transfer,) = transport._engine._transfers.values()
            held = transfer.buffered
            total = 0
            async for chunk in response.aiter_raw():
                total += len(chunk)
            return held, total

    held, total = asyncio.run(main())
    assert total == BIG
    assert 0 < held <= curl._HIGH_WATER + curl._BUFFER_SIZE


def test_a_closed_response_and_a_cancelled_request_leave_nothing_running(server: str) -> None:
    async def main() -> tuple[int, int]:
        transport = CurlTransport(cafile=CAFILE)
        async with httpx.AsyncClient(transport=transport) as client:
            async with client.stream("GET", f"{server}/big") as response:
                async for _ in response.aiter_raw():
                    break  # closed after the first chunk
            engine = transport._engine
            assert engine is not None
            after_close = len(engine._transfers)
            task = asyncio.create_task(client.get(f"{server}/slow"))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return after_close, len(engine._transfers)

    assert asyncio.run(main()) == (0, 0)


def test_no_redirect_is_followed(server: str) -> None:
    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=CurlTransport(cafile=CAFILE)) as client:
            return await client.get(f"{server}/redirect")

    response = asyncio.run(main())
    assert response.status_code == 302
    assert response.headers["location"] == "/big"


def test_no_proxy_from_the_environment(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A request that reaches this transport goes direct: httpx mounts its own transport
    # for proxied URLs (trust_env), and curl must not add the environment's proxy.
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")

    async def main() -> int:
        transport = CurlTransport(cafile=CAFILE)
        async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
            return (await client.get(f"{server}/redirect")).status_code

    assert asyncio.run(main()) == 302


_PROXY_VARIABLES = (
    *("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"),
    *("no_proxy", "NO_PROXY"),
)


def test_a_fetcher_on_libcurl_hands_httpx_no_trust_it_could_misuse(
    make_index: IndexFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With libcurl carrying every request, httpx makes no connection of its own: the CA
    # bundle is not loaded for it, and the context it holds trusts no certificate, so a
    # connection made through it by mistake fails (it is never unverified).
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HARDENREQ_HTTP", raising=False)
    index = make_index(tls=True)
    settings = IndexSettings(index_url=index.simple_url)

    async def main() -> tuple[int, list[object], object, str]:
        async with HttpFetcher(settings) as fetcher:
            (client,) = fetcher._clients
            page = await fetcher.get(index.simple_url + "/tinyweb/", what="tinyweb")
            context = client._transport
            async with httpx.AsyncClient(verify=_trust_nothing()) as other:
                try:
                    await other.get(index.simple_url + "/tinyweb/")
                    refused = ""
                except httpx.ConnectError as exc:
                    refused = str(exc)
            return page.status, list(client._mounts.values()), context, refused

    status, mounts, transport, refused = asyncio.run(main())
    assert status == 200  # through libcurl, which trusts the index's CA
    assert isinstance(transport, CurlTransport)
    assert mounts == []  # no proxy: httpx mounts no transport of its own
    assert "CERTIFICATE_VERIFY_FAILED" in refused
    assert _trust_nothing().cert_store_stats()["x509_ca"] == 0


def test_with_a_proxy_httpx_carries_the_requests_trusting_what_pip_trusts(
    make_index: IndexFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libcurl's transport takes no proxy from the environment: with one named, httpx's own
    # transport is used (test_hostile_http.py runs a request through a loopback proxy),
    # verifying with the CA bundle pip would use.
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("HARDENREQ_HTTP", raising=False)
    index = make_index(tls=True)
    fetcher = HttpFetcher(IndexSettings(index_url=index.simple_url))
    try:
        for client in fetcher._clients:
            assert not isinstance(client._transport, CurlTransport)
            proxies = [t for t in client._mounts.values() if t is not None]
            assert proxies
            for proxy in proxies:
                context = proxy._pool._ssl_context  # type: ignore[attr-defined]
                assert context.cert_store_stats()["x509_ca"] >= 1
    finally:
        asyncio.run(fetcher.__aexit__(None, None, None))
