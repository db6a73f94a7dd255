"""A loopback OSV API for tests: ``POST /v1/querybatch``, ``POST /v1/query`` (what pip-audit
asks, one package at a time) and ``GET /v1/vulns/{id}``, answering from OSV records (the
real ones in tests/data/osv), served by a stdlib HTTP server in a daemon thread.

Its matching is its own, written apart from ``hardenreq.advisories.match`` so that each
checks the other: a query matches a record when one of its ``PyPI`` entries names the
project (normalized) and lists the version (PEP 440 equality) or holds it in an
``ECOSYSTEM`` range, read as intervals ``[introduced, fixed)`` / ``[introduced,
last_affected]``. Withdrawn records are answered too (as a careless mirror would): the client
must drop them. ``page_size`` splits long answers into pages (``next_page_token``).

Faults (``add_fault(path_regex, kind, times=1)``): ``500``, ``404``, ``malformed`` (a 200 that
is not JSON), ``wrong-count`` (a batch with one result too few), ``slow`` (``delay`` seconds,
then the answer), ``redirect`` (``status``, default 307, to ``location``: a path here or any
URL). ``OsvServer.down()`` makes a URL on which nothing listens. ``tls`` (a server context from
``tests.index.tls``) serves https.

Run standalone for benchmarks: ``python -m tests.osv.server --records DIR [--port N]``.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import unquote

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

RECORDS: Final = Path(__file__).parent.parent / "data" / "osv"
"""The real OSV records the tests answer from (see tests/data/osv/README.md)."""

FaultKind = Literal["500", "404", "malformed", "wrong-count", "slow", "redirect"]


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    kind: FaultKind
    remaining: int
    delay: float = 0.0
    location: str = ""
    status: int = 307


@dataclass
class Request:
    """One request the server received: method, path, and the queries of a batch."""

    method: str
    path: str
    queries: int = 0


def load_records(folder: Path = RECORDS) -> list[dict[str, Any]]:
    """Every ``*.json`` record of ``folder``, sorted by file name."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _intervals(events: list[dict[str, str]]) -> list[tuple[Version, Version | None, bool]]:
    """An ECOSYSTEM range as (start, end, end included) intervals, by walking its events
    in version order; None for an end means "no fix yet"."""
    keyed: list[tuple[Version, int, str]] = []
    for event in events:
        for kind, text in event.items():
            if kind == "limit":
                continue
            at = Version("0") if text == "0" else _version(text)
            if at is None:
                return []
            keyed.append((at, 0 if kind == "introduced" else 1, kind))
    keyed.sort()
    intervals: list[tuple[Version, Version | None, bool]] = []
    start: Version | None = None
    for at, _, kind in keyed:
        if kind == "introduced":
            if start is None:
                start = at
        elif start is not None:
            intervals.append((start, at, kind == "last_affected"))
            start = None
    if start is not None:
        intervals.append((start, None, False))
    return intervals


def matches(record: Mapping[str, Any], name: str, version: str) -> bool:
    """Whether ``record`` affects ``name`` at ``version`` (the module docstring's rules)."""
    wanted = canonicalize_name(name)
    asked = _version(version)
    for entry in record.get("affected") or ():
        package = entry.get("package") or {}
        if package.get("ecosystem") != "PyPI" or canonicalize_name(package.get("name", "")) != (
            wanted
        ):
            continue
        for listed in entry.get("versions") or ():
            parsed = _version(listed)
            if (parsed is not None and parsed == asked) or listed == version:
                return True
        if asked is None:
            continue
        for ranges in entry.get("ranges") or ():
            if ranges.get("type") != "ECOSYSTEM":
                continue
            for start, end, included in _intervals(ranges.get("events") or []):
                if asked >= start and (end is None or asked < end or (included and asked == end)):
                    return True
    return False


class OsvServer:
    """An OSV API on 127.0.0.1 (port 0); ``url`` is its base (``http://127.0.0.1:PORT/v1``)."""

    def __init__(
        self,
        records: Iterable[Mapping[str, Any]] = (),
        *,
        page_size: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.tls = tls
        self._records: dict[str, dict[str, Any]] = {}
        self._by_name: dict[str, list[str]] = {}
        self.page_size = page_size
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._requests: list[Request] = []
        self.errors: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for record in records:
            self.add(record)

    def add(self, record: Mapping[str, Any]) -> None:
        """Serve ``record`` (replacing one of the same ID)."""
        with self._lock:
            identifier = str(record["id"])
            self._records[identifier] = dict(record)
            for entry in record.get("affected") or ():
                package = entry.get("package") or {}
                if package.get("ecosystem") == "PyPI":
                    key = canonicalize_name(package.get("name", ""))
                    if identifier not in self._by_name.setdefault(key, []):
                        self._by_name[key].append(identifier)

    def add_fault(
        self,
        path_regex: str,
        kind: FaultKind,
        *,
        times: int = 1,
        delay: float = 0.0,
        location: str = "",
        status: int = 307,
    ) -> None:
        """Make the next ``times`` requests whose path matches misbehave (module docstring)."""
        with self._lock:
            self._faults.append(
                _Fault(re.compile(path_regex), kind, times, delay, location, status)
            )

    @property
    def requests(self) -> list[Request]:
        """Every request so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self._requests.clear()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, port: int = 0) -> Self:
        """Listen on 127.0.0.1 and serve in a daemon thread."""
        server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        server.daemon_threads = True
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        server.osv = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API's base URL, what ``--osv-url`` takes."""
        if self._server is None:
            raise RuntimeError("the OSV server is not running")
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def query_url(self) -> str:
        """The single-query endpoint, what pip-audit's ``--osv-url`` takes."""
        return f"{self.url}/query"

    @staticmethod
    def down() -> str:
        """The base URL of an OSV API that is down: a loopback port nothing listens on."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    # -- answers -----------------------------------------------------------------------------

    def _hits(self, name: str, version: str) -> list[dict[str, Any]]:
        with self._lock:
            ids = list(self._by_name.get(canonicalize_name(name), ()))
            records = [self._records[i] for i in ids]
        return [r for r in records if matches(r, name, version)]

    def _page(self, hits: list[Any], token: str | None) -> tuple[list[Any], str | None]:
        start = int(token) if token else 0
        if not self.page_size:
            return hits[start:], None
        end = start + self.page_size
        return hits[start:end], (str(end) if end < len(hits) else None)

    def answer(self, method: str, target: str, body: bytes) -> tuple[int, bytes]:
        """The status and JSON body for one request (the query string is ignored)."""
        path = target.partition("?")[0]
        if method == "POST" and path == "/v1/querybatch":
            queries = json.loads(body)["queries"]
            results = []
            for query in queries:
                hits = self._hits(query["package"]["name"], query["version"])
                page, token = self._page(hits, query.get("page_token"))
                result: dict[str, Any] = {}
                if page:
                    result["vulns"] = [{"id": r["id"], "modified": r.get("modified")} for r in page]
                if token:
                    result["next_page_token"] = token
                results.append(result)
            return 200, json.dumps({"results": results}).encode()
        if method == "POST" and path == "/v1/query":
            query = json.loads(body)
            hits = self._hits(query["package"]["name"], query["version"])
            return 200, json.dumps({"vulns": hits} if hits else {}).encode()
        if method == "GET" and (match := re.fullmatch(r"/v1/vulns/([^/]+)", path)):
            with self._lock:
                record = self._records.get(unquote(match[1]))
            if record is None:
                return 404, b'{"code": 5, "message": "Bug not found."}'
            return 200, json.dumps(record).encode()
        return 404, b'{"code": 5, "message": "Not found."}'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hardenreq-test-osv/1"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._handle(self.rfile.read(length))

    def _handle(self, body: bytes) -> None:
        osv: OsvServer = self.server.osv  # type: ignore[attr-defined]
        queries = 0
        if self.command == "POST":
            try:
                document = json.loads(body)
                queries = len(document.get("queries", [document]))
            except (ValueError, AttributeError):
                queries = 0
        with osv._lock:
            osv._requests.append(Request(self.command, self.path, queries))
            fault = next((f for f in osv._faults if f.pattern.search(self.path)), None)
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    osv._faults.remove(fault)
        kind = None if fault is None else fault.kind
        if kind == "slow" and fault is not None:
            time.sleep(fault.delay)
        if kind == "redirect" and fault is not None:
            location = fault.location
            if location.startswith("/"):
                location = osv.url.removesuffix("/v1") + location
            self._send(fault.status, b"", {"Location": location})
            return
        if kind in ("500", "404"):
            self._send(int(kind), b'{"message": "fault"}')
            return
        if kind == "malformed":
            self._send(200, b"<html>not json</html>")
            return
        try:
            status, answer = osv.answer(self.command, self.path, body)
        except Exception as exc:  # a bad request from the client under test
            osv.errors.append(f"{self.command} {self.path}: {type(exc).__name__}: {exc}")
            status, answer = 400, b'{"message": "bad request"}'
        if kind == "wrong-count" and status == 200:
            document = json.loads(answer)
            document["results"] = document.get("results", [])[:-1]
            answer = json.dumps(document).encode()
        self._send(status, answer)

    def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    """Serve records until interrupted (benchmarks): prints the base URL on one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=Path, action="append", default=[])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    records: list[dict[str, Any]] = []
    for folder in args.records or [RECORDS]:
        records += load_records(folder)
    server = OsvServer(records).start(args.port)
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
