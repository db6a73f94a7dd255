"""Shared fixtures: an environment cut off from this machine's pip settings, sockets limited to
loopback, the loopback package index (`index`, `make_index`), and loopback OSV APIs: an empty
one every test's hardenreq asks by default (HARDENREQ_OSV_URL), and `osv`, serving the real
records of tests/data/osv."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_socket

from hardenreq.redact import forget_secrets
from tests.index import IndexFactory, IndexServer, publish_standard_projects
from tests.index.tls import LoopbackCA, make_loopback_ca, openssl_available
from tests.osv import OsvServer, load_records

# Environment variables that would let this machine's settings leak into a test: pip's and uv's
# own (this machine sets PIP_FIND_LINKS), proxies, CA bundles, netrc and an outer virtualenv.
_DROPPED_PREFIXES = ("PIP_", "UV_")
_DROPPED_NAMES = frozenset(
    {
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "ssl_cert_file",
        "ssl_cert_dir",
        "requests_ca_bundle",
        "curl_ca_bundle",
        "netrc",
        "virtual_env",
        "force_color",  # would fight NO_COLOR in rich
        "custom_compile_command",  # pip-tools writes it into the header of its output
    }
)
_LOOPBACK = ["127.0.0.1", "::1", "localhost"]


def _loopback_works() -> bool:
    with socket.socket() as server:
        try:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            with socket.create_connection(server.getsockname(), timeout=2):
                return True
        except OSError:
            return False


def _bring_up_loopback() -> None:
    """Bring up `lo` where the suite runs in a fresh network namespace with it down.

    The suite must pass with no network at all; a new namespace (`unshare -n`) has a
    loopback interface, but down. Setting IFF_UP needs CAP_NET_ADMIN in that namespace,
    which its creator has; it touches nothing outside it. Linux only, best effort.
    """
    if _loopback_works() or sys.platform != "linux":
        return
    import fcntl
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:
        try:
            request = struct.pack("16sH", b"lo", 0)
            flags = struct.unpack("16sH", fcntl.ioctl(control, siocgifflags, request))[1]
            fcntl.ioctl(control, siocsifflags, struct.pack("16sH", b"lo", flags | iff_up))
        except OSError as exc:
            pytest.exit(f"the loopback interface is down and cannot be brought up: {exc}")


def pytest_configure(config: pytest.Config) -> None:
    """Make sure loopback works: the tests' package index listens on 127.0.0.1."""
    del config
    _bring_up_loopback()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-golden`` rewrites golden files from the current output (``make golden``)."""
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files with the current output instead of comparing",
    )


_RESOLVED_HOSTS: dict[str, set[str]] = {}


@pytest.fixture(scope="session")
def empty_osv() -> Iterator[OsvServer]:
    """An OSV API on loopback that knows of no advisory, for the whole session."""
    with OsvServer() as server:
        yield server


@pytest.fixture
def osv() -> Iterator[OsvServer]:
    """An OSV API on loopback serving the real records of tests/data/osv (fresh per test)."""
    with OsvServer(load_records()) as server:
        yield server
    assert not server.errors, "the test OSV API got bad requests:\n" + "\n".join(server.errors)


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory, empty_osv: OsvServer
) -> None:
    """Clear pip, uv, proxy and CA settings, and point HOME and the XDG dirs at a fresh tmp dir.

    Subprocesses (pip, pip-compile) inherit this environment. PIP_CONFIG_FILE=os.devnull makes
    pip read no configuration file at all, including this machine's global pip.conf.
    """
    for name in list(os.environ):
        if name.upper().startswith(_DROPPED_PREFIXES) or name.lower() in _DROPPED_NAMES:
            monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("PIP_NO_INPUT", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    # hardenreq asks the OSV API by default: never the public one from a test.
    monkeypatch.setenv("HARDENREQ_OSV_URL", empty_osv.url)
    forget_secrets()  # values of ${VARIABLES} another test expanded


@pytest.fixture(autouse=True)
def _loopback_only(request: pytest.FixtureRequest) -> Iterator[None]:
    """Let this process connect to loopback only (tests marked `network` are exempt).

    pytest-socket undoes every restriction in its own `pytest_runtest_teardown`, so a single call
    at session start would only cover the first test: the restriction is applied per test.
    Subprocesses are not affected.
    """
    node = request.node
    if (
        node.get_closest_marker("network")
        or node.get_closest_marker("enable_socket")
        or node.get_closest_marker("allow_hosts")  # pytest-socket applies the test's own list
        or "socket_enabled" in request.fixturenames
    ):
        yield
        return
    original_connect = socket.socket.connect
    pytest_socket.socket_allow_hosts(
        _LOOPBACK, allow_unix_socket=True, resolution_cache=_RESOLVED_HOSTS
    )
    try:
        yield
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide directory where the index caches the wheels and sdists it builds."""
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def loopback_ca(tmp_path_factory: pytest.TempPathFactory) -> LoopbackCA:
    """A CA and a certificate for 127.0.0.1 and localhost, made once per session (openssl)."""
    if not openssl_available():
        pytest.skip("the openssl command is needed to make the https test index's certificate")
    return make_loopback_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def make_index(
    artifacts: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[IndexFactory]:
    """Start loopback indexes (stopped after the test), with the standard projects unless
    `standard=False`. Fails the test at teardown if the server raised while serving.

    `tls=True` serves https with a certificate from `loopback_ca`, which the test then trusts
    through SSL_CERT_FILE (set here); `hostname` is how the index's URLs name it."""
    servers: list[IndexServer] = []

    def factory(
        *,
        auth: tuple[str, str] | None = None,
        release_endpoint: bool = False,
        relative_urls: bool = False,
        standard: bool = True,
        tls: bool = False,
        hostname: str = "127.0.0.1",
        api_version: str = "1.1",
    ) -> IndexServer:
        context = None
        if tls:
            ca: LoopbackCA = request.getfixturevalue("loopback_ca")
            monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))
            context = ca.server_context()
        server = IndexServer(
            auth=auth,
            release_endpoint=release_endpoint,
            relative_urls=relative_urls,
            cache_dir=artifacts,
            tls=context,
            hostname=hostname,
            api_version=api_version,
        )
        servers.append(server)
        server.start()
        if standard:
            publish_standard_projects(server)
        return server

    yield factory
    for server in servers:
        server.stop()
    errors = [error for server in servers for error in server.errors]
    assert not errors, "the test index raised while serving:\n" + "\n".join(errors)


@pytest.fixture
def index(make_index: IndexFactory) -> IndexServer:
    """A running loopback index holding the standard projects (built once per session):

    - tinyweb 1.0, 1.1, 2.0 (2.0 requires `tinyutil>=1.0`): a py3-none-any wheel and an sdist each
    - tinyutil 1.0, 1.2 (Requires-Python `>=3.8`): a py3-none-any wheel, a
      cp311-cp311-manylinux_2_17_x86_64 wheel and an sdist each
    - Tiny.Mixed_Case 0.5 (normalised `tiny-mixed-case`; files `tiny_mixed_case-0.5*`): wheel and
      sdist
    - yankee 1.0 (yanked: "broken build") and 1.1 (not yanked): wheel + sdist each

    The release endpoint is off (404) and file URLs are absolute; use `make_index` for other
    options. Every file's bytes are the same in every run.
    """
    return make_index()
