"""The index HTTP client against a hostile loopback index (issue 9, HTTP layer): decompression
bombs, oversized answers, slow drips, far-off Retry-After, TLS downgrades and loops through
redirects, credentials and netrc across hosts, and every exception the HTTP stack can raise;
each under both HTTP engines (libcurl's transport and httpx's own).

Every CLI case asserts the exit code, a wall-time bound (generous: the machine is shared), that
no secret appears on stdout or stderr (the index URL carries `user:S3CRET@`), and that no file
changed on failure; where memory is the attack, the CLI runs in a subprocess and its peak RSS
(`ru_maxrss` from `wait4`, as `tests/measured.py` takes it) is bounded too.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http.client
import os
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h2.exceptions
import httpx
import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version
from typer.testing import CliRunner

from hardenreq.cli import app
from hardenreq.errors import (
    ExitCode,
    HardenreqError,
    IndexResponseInvalid,
    IndexUnavailable,
    InputError,
)
from hardenreq.index.client import MAX_DOWNLOAD_BYTES, MAX_RESPONSE_BYTES, HttpFetcher
from hardenreq.index.location import load_index_settings
from hardenreq.index.policy import RetryPolicy
from hardenreq.index.sources import IndexChain
from hardenreq.models import Pin, Release
from tests.index import FaultKind, IndexFactory, IndexServer
from tests.measured import run_measured

SECRET = "S3CRET"
AUTH = ("user", SECRET)


@pytest.fixture(autouse=True, params=["curl", "httpx"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every case against both HTTP engines: libcurl's transport (the default on Linux) and
    httpx's own (elsewhere, and with HARDENREQ_HTTP=httpx)."""
    if request.param == "httpx":
        monkeypatch.setenv("HARDENREQ_HTTP", "httpx")
    else:
        pytest.importorskip("pycurl")
        monkeypatch.delenv("HARDENREQ_HTTP", raising=False)
    return str(request.param)


PIN = Pin(canonicalize_name("tinyweb"), Version("2.0"))
PINNED = "tinyweb==2.0\n"
MEMORY_LIMIT_MB = 300
runner = CliRunner()


@dataclass(frozen=True)
class Outcome:
    """What a hardenreq run did: exit code, output, wall time and (subprocess) peak RSS."""

    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float | None = None

    @property
    def flat(self) -> str:
        """stderr with the console's line wrapping undone."""
        return " ".join(self.stderr.split())

    def assert_clean(self) -> None:
        """No secret on any channel (also across wrapped lines), no traceback, never exit 4."""
        for text in (self.stdout, self.stderr):
            assert SECRET not in text
            assert SECRET not in "".join(text.split())
        assert "Traceback" not in self.stderr
        assert self.code != ExitCode.INTERNAL, self.stderr


def cli(*args: str) -> Outcome:
    """hardenreq in this process (CliRunner)."""
    started = time.monotonic()
    result = runner.invoke(app, list(args))
    return Outcome(result.exit_code, result.stdout, result.stderr, time.monotonic() - started)


def cli_subprocess(*args: str, timeout: float = 120) -> Outcome:
    """hardenreq in a child process, with its own peak RSS (``tests.measured``)."""
    run = run_measured([sys.executable, "-m", "hardenreq", *args], timeout=timeout)
    return Outcome(run.code, run.stdout, run.stderr, run.seconds, run.peak_mb)


@pytest.fixture
def secure_index(make_index: IndexFactory) -> IndexServer:
    """An https index that requires `user:S3CRET`, trusted through SSL_CERT_FILE."""
    return make_index(auth=AUTH, tls=True)


@pytest.fixture
def requirements(tmp_path: Path) -> Iterator[Path]:
    """A pinned requirements file; after the test, nothing else may have appeared beside it."""
    folder = tmp_path / "project"
    folder.mkdir()
    path = folder / "requirements.txt"
    path.write_text(PINNED)
    yield path
    leftovers = sorted(p.name for p in folder.iterdir() if p != path)
    assert not leftovers, f"files left beside the requirements: {leftovers}"


def harden_args(url: str, path: Path, *extra: str) -> list[str]:
    return ["harden", "--no-resolve", "--no-pip-conf", "--index-url", url, *extra, str(path)]


def assert_failed_cleanly(outcome: Outcome, path: Path, before: str, code: int) -> None:
    outcome.assert_clean()
    assert outcome.code == code, outcome.stderr
    assert path.read_text() == before
    assert "tinyweb==2.0" in outcome.flat


def shown_url(index: IndexServer, path: str) -> str:
    """How an error message shows a URL of `index` (credentials redacted)."""
    return f"{index.url}{path}".replace("://", "://***@", 1) if index.auth else index.url + path


# -- memory: bombs and oversized answers ------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("gzip-bomb", f"the index sent more than {MAX_RESPONSE_BYTES} bytes"),
        ("nested-gzip-bomb", "stacked encodings 'gzip, gzip'"),
    ],
)
def test_a_decompression_bomb_fails_fast_in_bounded_memory(
    secure_index: IndexServer, requirements: Path, kind: FaultKind, message: str
) -> None:
    secure_index.add_fault(r"^/simple/tinyweb/", kind, times=10)
    outcome = cli_subprocess(*harden_args(secure_index.simple_url_with_auth, requirements))
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    assert message in outcome.flat
    assert f"{secure_index.url}/simple/tinyweb/" in "".join(outcome.stderr.split())
    assert outcome.peak_mb is not None
    assert outcome.peak_mb < MEMORY_LIMIT_MB, outcome.peak_mb
    assert outcome.seconds < 30


def test_bombs_on_every_pin_at_once_stay_in_bounded_memory(
    secure_index: IndexServer, requirements: Path
) -> None:
    # Four bombs inflating side by side: each is cut off by the bound shared by the answers
    # being read at once (MAX_BUFFERED_BYTES), long before its own MAX_RESPONSE_BYTES.
    pins = "tinyweb==2.0\ntinyutil==1.2\nyankee==1.1\ntiny-mixed-case==0.5\n"
    requirements.write_text(pins)
    secure_index.add_fault(r"^/(simple|pypi)/", "gzip-bomb", times=40)
    outcome = cli_subprocess(*harden_args(secure_index.simple_url_with_auth, requirements))
    outcome.assert_clean()
    assert outcome.code == ExitCode.UNFINISHED, outcome.stderr
    assert requirements.read_text() == pins
    assert any(f"{pin}: " in outcome.flat for pin in pins.split())
    assert "refusing" in outcome.flat
    assert outcome.peak_mb is not None
    assert outcome.peak_mb < MEMORY_LIMIT_MB, outcome.peak_mb
    assert outcome.seconds < 30


def test_an_oversized_answer_without_content_length_is_cut_off(
    secure_index: IndexServer, requirements: Path
) -> None:
    secure_index.add_fault(r"^/simple/tinyweb/", "oversized-chunked", times=10)
    outcome = cli_subprocess(*harden_args(secure_index.simple_url_with_auth, requirements))
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    assert f"the index sent more than {MAX_RESPONSE_BYTES} bytes" in outcome.flat
    assert outcome.peak_mb is not None
    assert outcome.peak_mb < MEMORY_LIMIT_MB, outcome.peak_mb
    assert outcome.seconds < 30


def test_an_oversized_content_length_is_refused_before_reading(
    secure_index: IndexServer, requirements: Path
) -> None:
    secure_index.add_fault(r"^/simple/tinyweb/", "oversized", times=10, size=10 * 1024**3)
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements))
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    assert f"more than {MAX_RESPONSE_BYTES} bytes ({10 * 1024**3})" in outcome.flat
    assert outcome.seconds < 10


def test_a_download_is_hashed_as_sent_never_inflated(
    secure_index: IndexServer, requirements: Path
) -> None:
    # pip hashes a download's bytes as they come (Accept-Encoding: identity,
    # decode_content=False), so a gzip-labelled archive is hashed, not inflated.
    url = secure_index.file_url("tinyweb-2.0.tar.gz")
    with_auth = url.replace("://", f"://user:{SECRET}@", 1)
    secure_index.add_fault("tinyweb-2.0.tar.gz", "gzip-bomb", times=2, size=512 * 1024**2)
    requirements.write_text(f"tinyweb @ {with_auth}\n")
    outcome = cli_subprocess(*harden_args(secure_index.simple_url_with_auth, requirements))
    outcome.assert_clean()
    assert outcome.code == ExitCode.OK, outcome.stderr
    sent = _raw_get(secure_index, url)
    assert f"--hash=sha256:{hashlib.sha256(sent).hexdigest()}" in requirements.read_text()
    assert outcome.peak_mb is not None
    assert outcome.peak_mb < MEMORY_LIMIT_MB, outcome.peak_mb
    downloads = [r for r in secure_index.requests if r.path.endswith(".tar.gz")]
    assert downloads[0].headers["accept-encoding"] == "identity"
    # The secret went only into the Authorization header, never into the lock's text.
    assert SECRET not in requirements.read_text().replace(with_auth, "")


def test_a_download_declared_too_large_is_refused(
    secure_index: IndexServer, requirements: Path
) -> None:
    url = secure_index.file_url("tinyweb-2.0.tar.gz").replace("://", f"://user:{SECRET}@", 1)
    before = f"tinyweb @ {url}\n"
    requirements.write_text(before)
    secure_index.add_fault("tinyweb-2.0.tar.gz", "oversized", size=MAX_DOWNLOAD_BYTES + 1)
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements))
    outcome.assert_clean()
    assert outcome.code == ExitCode.UNFINISHED, outcome.stderr
    assert f"more than {MAX_DOWNLOAD_BYTES} bytes" in outcome.flat
    assert requirements.read_text() == before
    assert outcome.seconds < 10


# -- time: drips, deadlines, Retry-After ------------------------------------------------------


def test_a_slow_drip_is_cut_off_by_the_request_timeout(
    secure_index: IndexServer, requirements: Path
) -> None:
    # Each read gets a byte within the timeout; only a bound on the whole request ends it.
    secure_index.add_fault(r"^/simple/tinyweb/", "drip", times=10, delay=0.5)
    outcome = cli(
        *harden_args(
            secure_index.simple_url_with_auth, requirements, "--timeout", "1", "--retries", "1"
        )
    )
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    assert "after 2 attempts (timed out)" in outcome.flat
    assert outcome.seconds < 20


def test_the_run_deadline_bounds_every_request_and_retry(
    secure_index: IndexServer, requirements: Path
) -> None:
    secure_index.add_fault(r"^/simple/tinyweb/", "drip", times=10, delay=0.5)
    outcome = cli(
        *harden_args(
            secure_index.simple_url_with_auth,
            requirements,
            *("--timeout", "60", "--retries", "10", "--deadline", "2"),
        )
    )
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    assert "the run's deadline of 2 s" in outcome.flat
    assert outcome.seconds < 15


def test_a_far_retry_after_cannot_stretch_the_run_past_the_deadline(
    secure_index: IndexServer, requirements: Path
) -> None:
    secure_index.add_fault(r"^/simple/tinyweb/", "503", times=10, retry_after=999999)
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements, "--deadline", "3"))
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    assert "deadline of 3 s" in outcome.flat
    assert "HTTP 503" in outcome.flat
    assert outcome.seconds < 15


def test_the_waits_of_one_request_are_capped_in_sum(index: IndexServer) -> None:
    index.add_fault(r"^/simple/tinyweb/", "503", times=10, retry_after=999999)
    delays: list[float] = []
    policy = RetryPolicy(attempts=10, max_delay=20.0, max_total_delay=30.0)
    with pytest.raises(IndexUnavailable, match=r"after 3 attempts \(HTTP 503\)"):
        fetch(index.simple_url, policy, sleep=delays.append)
    assert delays == [20.0, 10.0]


def test_the_deadline_also_bounds_a_library_run(index: IndexServer) -> None:
    index.add_fault(r"^/simple/tinyweb/", "drip", times=10, delay=0.3)
    started = time.monotonic()
    with pytest.raises(IndexUnavailable, match=r"the run's deadline of 1\.5 s"):
        fetch(index.simple_url, RetryPolicy(attempts=10, timeout=60, deadline=1.5))
    assert time.monotonic() - started < 10


# -- redirects -----------------------------------------------------------------------------------


def test_a_redirect_from_https_to_http_is_refused(
    secure_index: IndexServer, make_index: IndexFactory, requirements: Path
) -> None:
    plain = make_index()
    secure_index.add_fault(
        r"^/simple/tinyweb/", "redirect", times=10, location=f"{plain.url}/simple/tinyweb/"
    )
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements, "-v"))
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    flat = "".join(outcome.stderr.split())
    assert "refusingtofollowaredirectfromhttpstohttp" in flat
    assert shown_url(secure_index, "/simple/tinyweb/") in flat
    assert f"{plain.url}/simple/tinyweb/" in flat
    assert plain.requests == []
    assert outcome.seconds < 10


@pytest.mark.parametrize(
    "location", ["ftp://127.0.0.1/simple/tinyweb/", "file:///etc/passwd", "javascript:alert(1)"]
)
def test_a_redirect_to_another_scheme_is_refused(
    secure_index: IndexServer, requirements: Path, location: str
) -> None:
    secure_index.add_fault(r"^/simple/tinyweb/", "redirect", times=10, location=location)
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements))
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    assert "which is not an http(s) URL; refusing to follow it" in outcome.flat
    assert outcome.seconds < 10


def test_a_redirect_loop_ends_after_a_few_hops(
    secure_index: IndexServer, requirements: Path
) -> None:
    secure_index.add_fault(r"^/simple/tinyweb/", "redirect-loop", times=100)
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements))
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    assert "more than 5 redirects" in outcome.flat
    hops = [r for r in secure_index.requests if r.path == "/simple/tinyweb/"]
    assert len(hops) == 6
    assert outcome.seconds < 10


def test_a_cross_host_https_redirect_is_followed_reported_and_gets_no_credentials(
    secure_index: IndexServer, make_index: IndexFactory, requirements: Path
) -> None:
    other = make_index(tls=True, hostname="localhost")
    secure_index.add_fault(
        r"^/simple/tinyweb/", "redirect", location=f"{other.url}/simple/tinyweb/"
    )
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements, "-v"))
    outcome.assert_clean()
    assert outcome.code == ExitCode.OK, outcome.stderr
    flat = "".join(outcome.stderr.split())
    assert (
        f"{shown_url(secure_index, '/simple/tinyweb/')}redirected(HTTP302)to"
        f"{other.url}/simple/tinyweb/" in flat
    )
    assert "--hash=sha256:" in requirements.read_text()
    assert other.requests
    assert all("authorization" not in r.headers for r in other.requests)
    # The same origin keeps the URL's credentials: every request there carried them.
    assert all("authorization" in r.headers for r in secure_index.requests)


def test_a_same_origin_redirect_keeps_the_credentials(
    secure_index: IndexServer, requirements: Path
) -> None:
    # The index redirects /simple/Tiny.Mixed_Case/ to the normalised name; auth is required.
    requirements.write_text("Tiny.Mixed_Case==0.5\n")
    secure_index.add_fault(
        r"^/simple/tiny-mixed-case/", "redirect", location="/simple/Tiny.Mixed_Case/"
    )
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements))
    outcome.assert_clean()
    assert outcome.code == ExitCode.OK, outcome.stderr
    assert "--hash=sha256:" in requirements.read_text()


# -- credentials and netrc ---------------------------------------------------------------------


def write_netrc(text: str) -> None:
    path = Path.home() / ".netrc"
    path.write_text(text)
    path.chmod(0o600)


def test_url_credentials_win_over_a_netrc_for_another_host(
    secure_index: IndexServer, requirements: Path
) -> None:
    write_netrc("machine index.example.com login someone password elsewhere\n")
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements))
    outcome.assert_clean()
    assert outcome.code == ExitCode.OK, outcome.stderr


def test_url_credentials_win_over_a_netrc_for_the_same_host(
    secure_index: IndexServer, requirements: Path
) -> None:
    write_netrc("machine 127.0.0.1 login user password wrong-password\n")
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements))
    outcome.assert_clean()
    assert outcome.code == ExitCode.OK, outcome.stderr


def test_netrc_credentials_go_to_their_host_only(
    secure_index: IndexServer, make_index: IndexFactory, requirements: Path
) -> None:
    other = make_index(auth=("other", "other-password"), tls=True, hostname="localhost")
    write_netrc(f"machine 127.0.0.1 login user password {SECRET}\n")
    secure_index.add_fault(
        r"^/simple/tinyweb/", "redirect", times=10, location=f"{other.url}/simple/tinyweb/"
    )
    outcome = cli(*harden_args(secure_index.simple_url, requirements))
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    assert "refused access" in outcome.flat
    assert other.requests
    assert all("authorization" not in r.headers for r in other.requests)
    assert all("authorization" in r.headers for r in secure_index.requests)

    # With an entry for the other host too, each host gets its own (pip does the same).
    write_netrc(
        f"machine 127.0.0.1 login user password {SECRET}\n"
        "machine localhost login other password other-password\n"
    )
    other.clear_requests()
    outcome = cli(*harden_args(secure_index.simple_url, requirements))
    outcome.assert_clean()
    assert outcome.code == ExitCode.OK, outcome.stderr
    expected = "Basic " + base64.b64encode(b"other:other-password").decode()
    assert {r.headers.get("authorization") for r in other.requests} == {expected}


# -- TLS -----------------------------------------------------------------------------------------


def test_an_untrusted_certificate_fails_at_once(
    secure_index: IndexServer, requirements: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements))
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    assert "did not verify" in outcome.flat
    assert "retry" not in outcome.flat
    assert outcome.seconds < 10


def test_https_to_a_plain_http_server_fails_at_once(index: IndexServer, requirements: Path) -> None:
    url = index.simple_url.replace("http://", f"https://user:{SECRET}@")
    outcome = cli(*harden_args(url, requirements))
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    assert "TLS handshake" in outcome.flat
    assert outcome.seconds < 10


class _ConnectProxy:
    """A loopback HTTP proxy that tunnels CONNECT requests and records where to."""

    def __init__(self) -> None:
        import socket
        import socketserver

        self.tunnels: list[str] = []
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = self.connection.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
                if method != "CONNECT":
                    self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                    return
                proxy.tunnels.append(target)
                host, _, port = target.rpartition(":")
                with socket.create_connection((host, int(port)), timeout=10) as upstream:
                    self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    self.wfile.flush()
                    pipe = threading.Thread(
                        target=_pipe, args=(upstream, self.connection), daemon=True
                    )
                    pipe.start()
                    _pipe(self.connection, upstream)
                    pipe.join(10)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _pipe(source: Any, sink: Any) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(1)  # SHUT_WR: the other side reads the end


def test_a_proxy_from_the_environment_carries_every_request(
    secure_index: IndexServer, requirements: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As pip does: HTTPS_PROXY is used, under either engine (libcurl's transport takes no
    # proxy from the environment, so such a run goes through httpx's own), with TLS verified
    # end to end through the tunnel.
    proxy = _ConnectProxy()
    try:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements))
    finally:
        proxy.close()
    outcome.assert_clean()
    assert outcome.code == ExitCode.OK, outcome.stderr
    assert requirements.read_text().count("--hash=sha256:") == 2
    port = secure_index.url.rsplit(":", 1)[1].split("/")[0]
    assert proxy.tunnels
    assert set(proxy.tunnels) == {f"127.0.0.1:{port}"}


# -- odd answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gzip", "deflate"])
def test_honestly_compressed_pages_are_read(
    secure_index: IndexServer, requirements: Path, kind: FaultKind
) -> None:
    secure_index.add_fault(r"^/simple/tinyweb/", kind)
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements))
    outcome.assert_clean()
    assert outcome.code == ExitCode.OK, outcome.stderr
    assert requirements.read_text().count("--hash=sha256:") == 2
    page = next(r for r in secure_index.requests if r.path == "/simple/tinyweb/")
    assert page.headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("x-hostile", "Content-Encoding 'x-hostile', which was not asked for"),
        ("br", "Content-Encoding 'br', which was not asked for"),
        ("gzip", "a body that is not valid gzip"),
        ("deflate", "a body that is not valid deflate"),
        ("gzip, deflate", "stacked encodings 'gzip, deflate'"),
    ],
)
def test_a_bad_content_encoding_is_refused(
    secure_index: IndexServer, requirements: Path, encoding: str, message: str
) -> None:
    secure_index.add_fault(r"^/simple/tinyweb/", "bad-encoding", times=10, encoding=encoding)
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements))
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    assert message in outcome.flat
    assert outcome.seconds < 10


def test_huge_headers_are_refused(secure_index: IndexServer, requirements: Path) -> None:
    secure_index.add_fault(r"^/simple/tinyweb/", "huge-headers", times=10)
    outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements, "--retries", "1"))
    assert_failed_cleanly(outcome, requirements, PINNED, ExitCode.UNFINISHED)
    assert "the connection broke off mid-answer" in outcome.flat
    assert outcome.seconds < 10


def test_a_project_name_too_long_for_a_url_is_bad_input(
    index: IndexServer, requirements: Path
) -> None:
    name = "a" * 70_000
    requirements.write_text(f"{name}==1.0\n")
    outcome = cli(*harden_args(index.simple_url_with_auth, requirements))
    outcome.assert_clean()
    assert outcome.code == ExitCode.INPUT, outcome.stderr[:2000]
    assert "cannot request" in outcome.flat
    assert len(outcome.stderr) < 5000
    assert requirements.read_text() == f"{name}==1.0\n"


@pytest.mark.parametrize(
    "url",
    [
        "https://index.example.com/simple/" + "a" * 70_000 + "/",
        "https://index.exa\x00mple.com/simple/tinyweb/",
        "https://\u2603\ud800.example.com/simple/tinyweb/",
        "ftp://index.example.com/simple/tinyweb/",
        "https:///simple/tinyweb/",
    ],
    ids=["too-long", "nul-in-host", "lone-surrogate", "ftp", "no-host"],
)
def test_a_url_that_cannot_be_requested_is_bad_input(url: str) -> None:
    settings = load_index_settings(override_index_url="https://index.example.com/simple")

    async def run() -> None:
        async with HttpFetcher(settings, RetryPolicy(attempts=1)) as fetcher:
            await fetcher.get(url, what="tinyweb==2.0")

    with pytest.raises(InputError, match=r"^tinyweb==2\.0: cannot request ") as caught:
        asyncio.run(run())
    assert len(caught.value.message) < 1200


# -- no exit 4 from the HTTP layer, whatever the index does ------------------------------------

HOSTILE_CASES: list[tuple[FaultKind, dict[str, Any]]] = [
    ("gzip-bomb", {"size": 136 * 1024**2}),
    ("nested-gzip-bomb", {}),
    ("bad-encoding", {"encoding": "gzip"}),
    ("bad-encoding", {"encoding": "zstd"}),
    ("drip", {"delay": 0.5}),
    ("redirect", {"location": "http://127.0.0.1:9/simple/tinyweb/"}),
    ("redirect", {"location": "https://[::1"}),
    ("redirect", {"location": "javascript:alert(1)"}),
    ("redirect-loop", {}),
    ("oversized", {"size": 1024**3}),
    ("oversized-chunked", {"size": 136 * 1024**2}),
    ("json-as-html", {}),
    ("huge-headers", {}),
    ("truncated", {}),
    ("malformed", {}),
    ("wrong-shape", {}),
    ("bad-digest", {}),
    ("500", {}),
    ("403", {}),
    ("405", {}),
]


# The slow ones (a bomb to inflate, a drip to wait out) run through harden only: the dedicated
# tests above cover them, and verify goes through the same client.
_SLOW_CASES = {"gzip-bomb", "oversized-chunked", "drip"}


@pytest.mark.parametrize(
    ("command", "kind", "options"),
    [
        pytest.param(command, kind, options, id=f"{command}-{kind}-{number}")
        for number, (kind, options) in enumerate(HOSTILE_CASES)
        for command in ("harden", "verify")
        if command == "harden" or kind not in _SLOW_CASES
    ],
)
def test_no_hostile_answer_gives_exit_4(
    secure_index: IndexServer,
    requirements: Path,
    command: str,
    kind: FaultKind,
    options: dict[str, Any],
) -> None:
    # verify reads a hashed lock; harden rewrites a pinned file (which must stay as it was).
    if command == "verify":
        assert cli(*harden_args(secure_index.simple_url_with_auth, requirements)).code == 0
    before = requirements.read_text()
    secure_index.add_fault(r"^/(simple|pypi)/tinyweb/", kind, times=20, **options)
    limits = ("--timeout", "1", "--retries", "1", "--deadline", "4")
    if command == "verify":
        args = ["verify", "--index-url", secure_index.simple_url_with_auth, *limits]
        outcome = cli(*args, str(requirements))
    else:
        outcome = cli(*harden_args(secure_index.simple_url_with_auth, requirements, *limits))
    outcome.assert_clean()
    # verify reports what it can as findings (exit 1); nothing may be an internal error.
    allowed = {ExitCode.INPUT, ExitCode.UNFINISHED} | (
        {ExitCode.FINDINGS} if command == "verify" else set()
    )
    assert outcome.code in allowed, outcome.stderr
    assert requirements.read_text() == before
    assert outcome.seconds < 20


# -- every exception the HTTP stack can raise becomes a HardenreqError ------------------------


def _subclasses(base: type[BaseException]) -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for cls in base.__subclasses__():
        if cls.__module__.startswith("httpx"):
            found += [cls, *_subclasses(cls)]
    return found


HTTPX_EXCEPTIONS = sorted(
    {
        cls
        for root in (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError)
        for cls in (root, *_subclasses(root))
    },
    key=lambda cls: cls.__name__,
)
OTHER_EXCEPTIONS: list[Callable[[], BaseException]] = [
    lambda: h2.exceptions.ProtocolError("frame too large"),
    lambda: h2.exceptions.StreamClosedError(1),
    lambda: ssl.SSLError(1, "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC]"),
    lambda: ssl.SSLCertVerificationError(1, "certificate verify failed"),
    lambda: ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
    lambda: ConnectionResetError(104, "Connection reset by peer"),
    lambda: OSError(101, "Network is unreachable"),
    lambda: TimeoutError(),
    lambda: UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    lambda: UnicodeEncodeError("ascii", "\u2603", 0, 1, "ordinal not in range"),
]


def _instance(cls: type[BaseException]) -> BaseException:
    """An instance of an httpx exception, with whatever its constructor needs."""
    request = httpx.Request("GET", "https://index.example.com/simple/tinyweb/")
    if issubclass(cls, httpx.HTTPStatusError):
        return cls("boom", request=request, response=httpx.Response(500, request=request))
    if issubclass(cls, httpx.StreamError):
        try:
            return cls()  # type: ignore[call-arg]  # the subclasses word their own message
        except TypeError:
            return cls("boom")
    if issubclass(cls, httpx.RequestError):
        return cls(f"boom with https://user:{SECRET}@index.example.com/", request=request)
    return cls(f"boom with https://user:{SECRET}@index.example.com/")


def _all_failures() -> list[Any]:
    cases = [
        pytest.param(lambda cls=cls: _instance(cls), id=cls.__name__) for cls in HTTPX_EXCEPTIONS
    ]
    cases += [
        pytest.param(make, id=f"{type(make()).__name__}-{n}")
        for n, make in enumerate(OTHER_EXCEPTIONS)
    ]
    return cases


class _FailingStream(httpx.AsyncByteStream):
    def __init__(self, failure: BaseException) -> None:
        self._failure = failure

    async def __aiter__(self) -> Any:
        yield b'{"files": ['
        raise self._failure


class _FailingTransport(httpx.AsyncBaseTransport):
    """Raises `failure` when sending (phase "send") or while the body streams ("body")."""

    def __init__(self, failure: Callable[[], BaseException], phase: str) -> None:
        self._failure, self._phase = failure, phase
        self.paths: list[str] = []

    @property
    def calls(self) -> int:
        return len(self.paths)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self._phase == "send":
            raise self._failure()
        return httpx.Response(200, stream=_FailingStream(self._failure()))


@pytest.mark.parametrize("phase", ["send", "body"])
@pytest.mark.parametrize("failure", _all_failures())
def test_every_http_layer_exception_becomes_a_hardenreq_error(
    failure: Callable[[], BaseException], phase: str
) -> None:
    transport = _FailingTransport(failure, phase)
    url = f"https://user:{SECRET}@index.example.com/simple"
    with pytest.raises(HardenreqError) as caught:
        fetch(url, RetryPolicy(attempts=2), sleep=lambda _: None, transport=transport)
    error = caught.value
    assert type(error) in (IndexUnavailable, IndexResponseInvalid, InputError)
    assert error.exit_code in (ExitCode.INPUT, ExitCode.UNFINISHED)
    assert error.message.startswith("tinyweb==2.0: ")
    assert SECRET not in error.message + (error.hint or "")
    assert transport.calls >= 1


def test_an_h2_error_mid_body_is_retried_then_an_index_error() -> None:
    # httpcore maps h2 errors while sending headers, not while the body streams: h2's own
    # exception reaches the client there, and must still become a HardenreqError.
    transport = _FailingTransport(lambda: h2.exceptions.FlowControlError("window"), "body")
    with pytest.raises(IndexUnavailable, match="connection broke off mid-answer"):
        fetch("https://index.example.com/simple", RetryPolicy(attempts=2), transport=transport)
    # The release endpoint (whose error is raised) was tried twice, attempts=2; the simple
    # page fetched meanwhile is cancelled when that error comes, after one or two attempts.
    assert transport.paths.count("/pypi/tinyweb/2.0/json") == 2


# -- helpers -------------------------------------------------------------------------------------


def fetch(
    url: str,
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], object] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Release:
    settings = load_index_settings(override_index_url=url)

    async def run() -> Release:
        async with HttpFetcher(settings, policy, sleep=sleep, transport=transport) as fetcher:
            return await IndexChain(fetcher, settings.urls).fetch_release(PIN)

    return asyncio.run(run())


def _raw_get(index: IndexServer, url: str) -> bytes:
    """The bytes the index sends for `url`, as sent (no decoding), over verified TLS."""
    context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    path = url.split(str(index.port), 1)[1]
    auth = "Basic " + base64.b64encode(f"user:{SECRET}".encode()).decode()
    connection = http.client.HTTPSConnection("127.0.0.1", index.port, context=context, timeout=30)
    with contextlib.closing(connection):
        connection.request("GET", path, headers={"Authorization": auth})
        return connection.getresponse().read()
