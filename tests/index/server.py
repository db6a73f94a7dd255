"""A loopback package index for tests: PEP 503/691 simple pages, the PyPI JSON API, file downloads,
basic auth, plain http or https, and injected faults, served by a stdlib HTTP server in a daemon
thread.

Faults (`IndexServer.add_fault`) make matching requests misbehave. The ordinary ones model a flaky
index; the hostile ones (the "hostile mode") model an index, mirror or proxy that attacks its
client (tests/integration/test_hostile_http.py drives each through hardenreq).

Ordinary faults:
- `500` `503` `429` `404` `403` `405`: that status (with `Retry-After` if given).
- `slow`: the normal answer after `delay` seconds.
- `truncated`: the full Content-Length, half the body, then a hang-up.
- `malformed` / `wrong-shape`: 200 with broken JSON / valid JSON of the wrong shape.
- `bad-digest`: the normal answer with every sha256 replaced by `BAD_DIGEST`.
- `gzip` / `deflate`: the normal answer, honestly compressed with that Content-Encoding.

Hostile faults:
- `gzip-bomb`: `Content-Encoding: gzip`, a body inflating to `size` zero bytes (default 2 GiB;
  about 1 KB per MiB, so 2 MB).
- `nested-gzip-bomb`: `Content-Encoding: gzip, gzip`, the same bomb gzipped again (3.5 KB for
  2 GiB).
- `bad-encoding`: the normal body, uncompressed, labelled `Content-Encoding: <encoding>`
  (default `x-hostile`; `gzip` makes a body that does not decode).
- `drip`: the headers, then the normal body one byte every `delay` seconds (default 1).
- `redirect`: 302 to `location`, a path on this server or any URL (`http://` from https,
  another host, `ftp://...`).
- `redirect-loop`: 302 to the request's own URL, every time it matches (give a large `times`).
- `oversized`: the normal body padded with spaces (still valid JSON) to `size` bytes (default
  256 MiB), with Content-Length declared.
- `oversized-chunked`: the same, chunked, with no Content-Length.
- `json-as-html`: the PEP 691 JSON page, whatever was asked for, labelled `text/html`.
- `huge-headers`: the normal answer plus an `X-Hostile-Padding` header of `size` bytes (default
  1 MiB).

Bodies of `size` are streamed, never held in memory; bombs are built once per size and cached.

Authenticity (issue 13): `set_provenance(filename, body)` serves a PEP 740 provenance object at
the integrity API (`/integrity/<project>/<version>/<filename>/provenance`, 404 for a file without
one), and from `api_version="1.3"` on names it in the simple pages too (`provenance` in PEP 691
JSON, `data-provenance` in HTML, null for none), at a route of its own
(`/provenance/<filename>.json`) so that a test sees which one a client asked.
`set_project_status(name, status, reason)` serves PEP 792's `project-status` (JSON) and the
`pypi:project-status` meta tags (HTML). `add_file(path, core_metadata=True)` gives an sdist its
own PKG-INFO as its PEP 658 metadata (served while `core_metadata` is on), so pip resolves a
real sdist without building it.
"""

from __future__ import annotations

import base64
import contextlib
import email.parser
import functools
import gzip
import hashlib
import hmac
import html
import io
import json
import os
import posixpath
import re
import shutil
import socket
import ssl
import struct
import sys
import tarfile
import tempfile
import threading
import traceback
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, NamedTuple, Protocol, Self, get_args
from urllib.parse import parse_qs, quote, unquote, urlsplit

from packaging.utils import (
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from .builder import build_sdist, build_wheel, sdist_filename, wheel_filename

FaultKind = Literal[
    "500",
    "503",
    "429",
    "404",
    "403",
    "405",
    "slow",
    "truncated",
    "malformed",
    "wrong-shape",
    "bad-digest",
    "gzip",
    "deflate",
    "gzip-bomb",
    "nested-gzip-bomb",
    "bad-encoding",
    "drip",
    "redirect",
    "redirect-loop",
    "oversized",
    "oversized-chunked",
    "json-as-html",
    "huge-headers",
]
"""What `IndexServer.add_fault` can make the index do to a matching request (module docstring)."""

SIMPLE_JSON: Final = "application/vnd.pypi.simple.v1+json"
SIMPLE_HTML: Final = "application/vnd.pypi.simple.v1+html"
BAD_DIGEST: Final = "DEADBEEF-not-a-sha256"
"""The digest a `bad-digest` fault puts in place of every sha256."""

_FAULT_KINDS: Final = frozenset(get_args(FaultKind))
_STATUS_FAULTS: Final = {"500", "503", "429", "404", "403", "405"}
_BOMB_SIZE: Final = 2 * 1024**3
_OVERSIZED_SIZE: Final = 256 * 1024**2
_HUGE_HEADER_SIZE: Final = 1024**2
_MIB: Final = 1024**2
_LATEST_JSON: Final = "application/vnd.pypi.simple.latest+json"
_UPLOAD_EPOCH: Final = datetime(2024, 1, 1, tzinfo=UTC)
_LOG_ENV: Final = "HARDENREQ_TEST_INDEX_LOG"
# Bump when the builder's output changes, so cached artifacts of an older layout are not reused.
_BUILD_FORMAT: Final = 1


class RecordedRequest(NamedTuple):
    """One request the index received; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]


class IndexFactory(Protocol):
    """The `make_index` fixture: start an index (by default with the standard projects)."""

    def __call__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        release_endpoint: bool = False,
        relative_urls: bool = False,
        standard: bool = True,
        tls: bool = False,
        hostname: str = "127.0.0.1",
        api_version: str = "1.1",
    ) -> IndexServer: ...


@dataclass
class _File:
    filename: str
    name: NormalizedName
    version: Version
    packagetype: Literal["bdist_wheel", "sdist"]
    python_version: str
    content: bytes
    requires_python: str | None
    yanked: str | None
    upload_time: datetime
    metadata: bytes = b""
    sha256: str = ""
    md5: str = ""
    blake2b_256: str = ""
    size: int = 0
    provenance: bytes | None = None

    def advertise(self, content: bytes) -> None:
        """Make the index list `content`'s digests and size for this file."""
        self.sha256 = hashlib.sha256(content).hexdigest()
        self.md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
        self.blake2b_256 = hashlib.blake2b(content, digest_size=32).hexdigest()
        self.size = len(content)

    @property
    def url_path(self) -> str:
        """Where the file is served, laid out like the real index (blake2b of the upload)."""
        digest = self.blake2b_256
        return f"/packages/{digest[:2]}/{digest[2:4]}/{digest[4:]}/{quote(self.filename)}"


@dataclass
class _Release:
    version: Version
    summary: str = ""
    requires_python: str | None = None
    requires_dist: tuple[str, ...] = ()
    files: list[_File] = field(default_factory=list)
    vulnerabilities: list[dict[str, Any]] = field(default_factory=list)

    @property
    def yanked(self) -> bool:
        return bool(self.files) and all(f.yanked is not None for f in self.files)


@dataclass
class _Project:
    display_name: str
    releases: dict[Version, _Release] = field(default_factory=dict)
    status: str | None = None
    status_reason: str | None = None


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    kind: FaultKind
    remaining: int
    retry_after: int | None
    delay: float
    size: int | None = None
    location: str | None = None
    encoding: str | None = None


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class IndexServer:
    """A package index on 127.0.0.1 (port 0) for tests, started in a daemon thread.

    Use it as a context manager, or call `start()` and `stop()`. Publish files with `publish()`
    (builds them) or `add_file()`, then point clients at `simple_url` (PEP 503/691) or at
    `json_api_url` (PyPI JSON API: `/pypi/<name>/json`). The release endpoint
    (`/pypi/<name>/<version>/json`) answers 404 unless `release_endpoint=True`, like the index
    these machines use. `relative_urls=True` makes the JSON API give file URLs relative to the
    response (`../../packages/...`). `auth=(user, password)` requires basic auth on every route.
    `tls` (a server-side context, see `tests.index.tls`) serves https instead of http. The server
    always listens on 127.0.0.1; `hostname` is how its URLs name it (`localhost` makes a second
    host for tests of cross-host redirects and netrc).
    """

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        release_endpoint: bool = False,
        relative_urls: bool = False,
        cache_dir: Path | None = None,
        tls: ssl.SSLContext | None = None,
        hostname: str = "127.0.0.1",
        api_version: str = "1.1",
    ) -> None:
        self.auth = auth
        #: The simple API version the pages declare: "1.3" and up name provenance (PEP 740).
        self.api_version = api_version
        self.tls = tls
        self.hostname = hostname
        self.release_endpoint = release_endpoint
        self.relative_urls = relative_urls
        #: Serve PEP 658 metadata files (``<wheel url>.metadata``) and name them on the simple
        #: pages (PEP 691 ``core-metadata``, PEP 503 ``data-core-metadata``), as the public
        #: index does; off by default, like the index these machines reach.
        self.core_metadata = False
        self._cache_dir = cache_dir
        self._owned_cache: Path | None = None
        self._lock = threading.RLock()
        self._projects: dict[NormalizedName, _Project] = {}
        self._faults: list[_Fault] = []
        self._requests: list[RecordedRequest] = []
        self._errors: list[str] = []
        self._serial = 0
        self._uploads = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind a free loopback port and serve in a daemon thread; RuntimeError if running."""
        if self._server is not None:
            raise RuntimeError("index server already started")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"index-server-{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open keep-alive connections and remove the owned build cache."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None and thread is not None:
            self._stopping.set()
            server.shutdown()
            server.close_connections()
            server.server_close()
            thread.join()
        if self._owned_cache is not None:
            shutil.rmtree(self._owned_cache, ignore_errors=True)
            self._owned_cache = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The root URL, `http://127.0.0.1:PORT` (no trailing slash; https with `tls`)."""
        if self._server is None:
            raise RuntimeError("index server is not running")
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://{self.hostname}:{self._server.server_address[1]}"

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            raise RuntimeError("index server is not running")
        return int(self._server.server_address[1])

    @property
    def simple_url(self) -> str:
        """What a user passes as `--index-url`: the root + `/simple`."""
        return f"{self.url}/simple"

    @property
    def json_api_url(self) -> str:
        """The JSON API base: the root + `/pypi`."""
        return f"{self.url}/pypi"

    @property
    def simple_url_with_auth(self) -> str:
        """`simple_url` with the basic-auth credentials in it (just `simple_url` without auth)."""
        if self.auth is None:
            return self.simple_url
        user, password = (quote(part, safe="") for part in self.auth)
        return self.simple_url.replace("://", f"://{user}:{password}@", 1)

    def file_url(self, filename: str) -> str:
        """The absolute download URL of a published file. Raises KeyError if unknown."""
        with self._lock:
            return self.url + self._find(filename).url_path

    def sha256(self, filename: str) -> str:
        """The sha256 the index advertises for a file (see `swap_file`). Raises KeyError."""
        with self._lock:
            return self._find(filename).sha256

    # -- observation -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self._requests.clear()

    @property
    def errors(self) -> list[str]:
        """Tracebacks of exceptions raised while serving (a bug in this server or a test)."""
        with self._lock:
            return list(self._errors)

    @property
    def pending_faults(self) -> int:
        """How many fault answers are still waiting for a matching request."""
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def clear_faults(self) -> None:
        """Drop every fault still waiting for a matching request."""
        with self._lock:
            self._faults.clear()

    def filenames(self) -> list[str]:
        """The name of every file the index serves, sorted."""
        with self._lock:
            return sorted(
                f.filename
                for project in self._projects.values()
                for release in project.releases.values()
                for f in release.files
            )

    # -- publishing --------------------------------------------------------------------------

    def publish(
        self,
        name: str,
        version: str,
        *,
        requires: Sequence[str] = (),
        wheel_tags: Sequence[str] = ("py3-none-any",),
        sdist: bool = True,
        yanked: str | None = None,
        payload: bytes = b"",
        requires_python: str | None = None,
        upload_time: str | None = None,
    ) -> list[Path]:
        """Build a wheel per tag (and an sdist), add them all, and return their paths.

        Built files are cached in `cache_dir` (or a directory removed by `stop()`), keyed by every
        argument that changes their bytes, so a second publish of the same release is a copy.
        """
        paths = [
            self._cached_build(
                "wheel",
                name,
                version,
                wheel_filename(name, version, tag),
                requires,
                requires_python,
                payload,
                tag,
            )
            for tag in wheel_tags
        ]
        if sdist:
            paths.append(
                self._cached_build(
                    "sdist",
                    name,
                    version,
                    sdist_filename(name, version),
                    requires,
                    requires_python,
                    payload,
                    "",
                )
            )
        for path in paths:
            self.add_file(path, yanked=yanked, upload_time=upload_time)
        return paths

    def add_file(
        self,
        path: Path,
        *,
        yanked: str | None = None,
        requires_python: str | None = None,
        upload_time: str | None = None,
        core_metadata: bool = False,
    ) -> None:
        """Publish a wheel or sdist; its name and version come from the filename.

        `yanked` is the reason ("" = yanked without one). `requires_python` defaults to the file's
        own metadata. `upload_time` is ISO 8601; by default each upload is a minute after the last.
        `core_metadata` makes an sdist's PKG-INFO its PEP 658 metadata (a wheel's METADATA is
        its always), served while the index's `core_metadata` is on.
        Raises ValueError for a filename that is not a distribution or is already on the index.
        """
        filename = path.name
        content = path.read_bytes()
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
            python_version = filename.removesuffix(".whl").split("-")[-3]
            packagetype: Literal["bdist_wheel", "sdist"] = "bdist_wheel"
        else:
            name, version = parse_sdist_filename(filename)
            python_version, packagetype = "source", "sdist"
        metadata = _read_metadata(filename, content)
        display_name = metadata.get("Name", name)
        if canonicalize_name(display_name) != name:
            display_name = name
        if requires_python is None:
            requires_python = metadata.get("Requires-Python")
        with self._lock:
            if self._find_or_none(filename) is not None:
                raise ValueError(f"{filename} is already on the index")
            self._uploads += 1
            when = (
                datetime.fromisoformat(upload_time)
                if upload_time is not None
                else _UPLOAD_EPOCH + timedelta(minutes=self._uploads)
            )
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            file = _File(
                filename=filename,
                name=name,
                version=version,
                packagetype=packagetype,
                python_version=python_version,
                content=content,
                requires_python=requires_python,
                yanked=yanked,
                upload_time=when,
            )
            file.advertise(content)
            if filename.endswith(".whl"):
                file.metadata = metadata.as_bytes()
            elif core_metadata:
                file.metadata = _raw_metadata(filename, content)
            project = self._projects.setdefault(name, _Project(display_name))
            release = project.releases.setdefault(version, _Release(version))
            if not release.files:
                release.summary = metadata.get("Summary", "")
                release.requires_python = requires_python
                release.requires_dist = tuple(metadata.get_all("Requires-Dist", []))
            release.files.append(file)
            self._serial += 1

    def add_listing(
        self,
        project: str,
        version: str,
        filename: str,
        content: bytes = b"not a real distribution",
        *,
        sha256: str | None = None,
    ) -> None:
        """List a file under `project` and `version` whatever its name says, as real indexes
        do for odd old uploads (``cffi-1.0.2-2.tar.gz``) and as a hostile one might
        (unsafe names, one name twice). `sha256` overrides the advertised digest (the
        same filename listed twice with two digests). The file is served at its URL.
        """
        with self._lock:
            self._uploads += 1
            file = _File(
                filename=filename,
                name=canonicalize_name(project),
                version=Version(version),
                packagetype="bdist_wheel" if filename.endswith(".whl") else "sdist",
                python_version="source",
                content=content,
                requires_python=None,
                yanked=None,
                upload_time=_UPLOAD_EPOCH + timedelta(minutes=self._uploads),
            )
            file.advertise(content)
            if sha256 is not None:
                file.sha256 = sha256
            entry = self._projects.setdefault(file.name, _Project(project))
            entry.releases.setdefault(file.version, _Release(file.version)).files.append(file)
            self._serial += 1

    def yank(self, name: str, version: str, reason: str = "") -> None:
        """Yank every file of a release (PEP 592). Raises KeyError for an unknown release."""
        self._set_yanked(name, version, reason)

    def add_vulnerability(
        self, name: str, version: str, vulnerability_id: str, *, fixed_in: Sequence[str] = ()
    ) -> None:
        """Report a vulnerability for a release in its release JSON, as the real index does."""
        with self._lock:
            release = self._projects[canonicalize_name(name)].releases[Version(version)]
            release.vulnerabilities.append(
                {
                    "id": vulnerability_id,
                    "aliases": [f"CVE-2099-{len(release.vulnerabilities) + 1:04d}"],
                    "details": f"{vulnerability_id}: a test vulnerability",
                    "summary": None,
                    "fixed_in": list(fixed_in),
                    "link": f"https://osv.example/vulnerability/{vulnerability_id}",
                    "source": "osv",
                    "withdrawn": None,
                }
            )
            self._serial += 1

    def set_provenance(self, filename: str, body: bytes | None) -> None:
        """Serve `body` as the PEP 740 provenance of a published file (None: none). KeyError."""
        with self._lock:
            self._find(filename).provenance = body
            self._serial += 1

    def set_project_status(self, name: str, status: str | None, reason: str | None = None) -> None:
        """PEP 792: give a project a status (`archived`, `quarantined`, ...; None: active)."""
        with self._lock:
            project = self._projects[canonicalize_name(name)]
            project.status, project.status_reason = status, reason
            self._serial += 1

    def integrity_path(self, filename: str) -> str:
        """Where the integrity API serves a file's provenance (a path on this server)."""
        with self._lock:
            file = self._find(filename)
            return f"/integrity/{file.name}/{file.version}/{quote(file.filename)}/provenance"

    def unyank(self, name: str, version: str) -> None:
        """Undo `yank`. Raises KeyError for an unknown release."""
        self._set_yanked(name, version, None)

    def remove_file(self, filename: str) -> None:
        """Delete a file; its release stays listed, as on the real index. Raises KeyError."""
        with self._lock:
            file = self._find(filename)
            self._projects[file.name].releases[file.version].files.remove(file)
            self._serial += 1

    def swap_file(self, filename: str, new_bytes: bytes, *, update_metadata: bool) -> None:
        """Serve `new_bytes` for `filename` from now on.

        With `update_metadata=False` the pages keep the old sha256, md5 and size (a tampered
        mirror); with True they advertise the new ones (a replaced upload). Raises KeyError.
        """
        with self._lock:
            file = self._find(filename)
            file.content = new_bytes
            if update_metadata:
                file.advertise(new_bytes)
            self._serial += 1

    def relist_file(
        self, filename: str, *, size: int | None = None, upload_time: str | None = None
    ) -> None:
        """List `filename` with another size and/or upload time (ISO 8601), its bytes and
        digests unchanged: an index whose record of a file changed. Raises KeyError."""
        with self._lock:
            file = self._find(filename)
            if size is not None:
                file.size = size
            if upload_time is not None:
                when = datetime.fromisoformat(upload_time)
                file.upload_time = when if when.tzinfo else when.replace(tzinfo=UTC)
            self._serial += 1

    def add_fault(
        self,
        path_regex: str,
        kind: FaultKind,
        *,
        times: int = 1,
        retry_after: int | None = None,
        delay: float | None = None,
        size: int | None = None,
        location: str | None = None,
        encoding: str | None = None,
    ) -> None:
        """Make the next `times` requests whose path (with query) matches `path_regex`
        (`re.search`) misbehave; faults are tried in the order they were added.

        Every kind is described in the module docstring. `retry_after` goes with the status
        kinds; `delay` with "slow" (default 0) and "drip" (seconds per byte, default 1); `size`
        with the bombs, "oversized*" and "huge-headers"; `location` with "redirect" (required);
        `encoding` with "bad-encoding". Raises ValueError for an unknown kind or a missing
        `location`.
        """
        if kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(_FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if (kind == "redirect") != (location is not None):
            raise ValueError("a redirect fault needs a location, and only it takes one")
        if size is not None and size < 0:
            raise ValueError("size must not be negative")
        if delay is None:
            delay = 1.0 if kind == "drip" else 0.0
        fault = _Fault(
            re.compile(path_regex), kind, times, retry_after, delay, size, location, encoding
        )
        with self._lock:
            self._faults.append(fault)

    # -- internals: state --------------------------------------------------------------------

    def _cached_build(
        self,
        kind: Literal["wheel", "sdist"],
        name: str,
        version: str,
        filename: str,
        requires: Sequence[str],
        requires_python: str | None,
        payload: bytes,
        tag: str,
    ) -> Path:
        key_source = [_BUILD_FORMAT, kind, name, version, list(requires), requires_python, tag]
        key_source.append(payload.hex())
        key = hashlib.sha256(json.dumps(key_source).encode()).hexdigest()[:20]
        target_dir = self._build_root() / key
        target = target_dir / filename
        if target.is_file():
            return target
        if kind == "wheel":
            return build_wheel(
                target_dir,
                name,
                version,
                requires=requires,
                tag=tag,
                requires_python=requires_python,
                payload=payload,
            )
        return build_sdist(
            target_dir,
            name,
            version,
            requires=requires,
            requires_python=requires_python,
            payload=payload,
        )

    def _build_root(self) -> Path:
        if self._cache_dir is not None:
            return self._cache_dir
        with self._lock:
            if self._owned_cache is None:
                self._owned_cache = Path(tempfile.mkdtemp(prefix="hardenreq-index-"))
            return self._owned_cache

    def _find_or_none(self, filename: str) -> _File | None:
        for project in self._projects.values():
            for release in project.releases.values():
                for file in release.files:
                    if file.filename == filename:
                        return file
        return None

    def _find(self, filename: str) -> _File:
        file = self._find_or_none(filename)
        if file is None:
            raise KeyError(filename)
        return file

    def _set_yanked(self, name: str, version: str, reason: str | None) -> None:
        with self._lock:
            release = self._projects[canonicalize_name(name)].releases[Version(version)]
            for file in release.files:
                file.yanked = reason
            self._serial += 1

    def _record(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._requests.append(RecordedRequest(method, path, headers))

    def _record_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.pattern.search(path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _authorized(self, header: str | None) -> bool:
        if self.auth is None:
            return True
        expected = base64.b64encode(":".join(self.auth).encode()).decode()
        return header is not None and hmac.compare_digest(
            header.encode(), f"Basic {expected}".encode()
        )

    # -- internals: routes -------------------------------------------------------------------

    def _respond(self, target: str, accept: str, *, bad_digest: bool) -> _Response:
        """Answer a GET (or HEAD) for `target` (path and query)."""
        split = urlsplit(target)
        path = split.path
        query = f"?{split.query}" if split.query else ""
        with self._lock:
            if path == "/simple":
                return self._redirect("/simple/" + query)
            if path == "/simple/":
                return self._simple_root(accept, split.query)
            if match := re.fullmatch(r"/simple/([^/]+)(/?)", path):
                name = unquote(match[1])
                if name != canonicalize_name(name) or not match[2]:
                    return self._redirect(f"/simple/{canonicalize_name(name)}/{query}")
                return self._simple_project(
                    canonicalize_name(name), accept, split.query, bad_digest
                )
            if match := re.fullmatch(r"/pypi/([^/]+)/json/?", path):
                return self._project_json(unquote(match[1]), path, bad_digest)
            if match := re.fullmatch(r"/pypi/([^/]+)/([^/]+)/json/?", path):
                if not self.release_endpoint:
                    return _not_found_json()
                return self._release_json(unquote(match[1]), unquote(match[2]), path, bad_digest)
            if match := re.fullmatch(r"/integrity/([^/]+)/([^/]+)/([^/]+)/provenance", path):
                file = self._find_or_none(unquote(match[3]))
                if (
                    file is None
                    or file.provenance is None
                    or canonicalize_name(unquote(match[1])) != file.name
                    or unquote(match[2]) != str(file.version)
                ):
                    return _not_found_json()
                return _Response(
                    200, file.provenance, {"Content-Type": "application/vnd.pypi.integrity.v1+json"}
                )
            if match := re.fullmatch(r"/provenance/([^/]+)\.json", path):
                file = self._find_or_none(unquote(match[1]))
                if file is None or file.provenance is None or not self._lists_provenance:
                    return _not_found_json()
                return _Response(
                    200, file.provenance, {"Content-Type": "application/vnd.pypi.integrity.v1+json"}
                )
            if (match := re.fullmatch(r"/packages(?:/[^/]+)*/([^/]+)\.metadata", path)) and (
                self.core_metadata
            ):
                file = self._find_or_none(unquote(match[1]))
                if file is None or not file.metadata:
                    return _not_found_json()
                return _Response(200, file.metadata, {"Content-Type": "application/octet-stream"})
            if match := re.fullmatch(r"/(?:files|packages(?:/[^/]+)*)/([^/]+)", path):
                file = self._find_or_none(unquote(match[1]))
                if file is None:
                    return _not_found_json()
                return _Response(200, file.content, {"Content-Type": "application/octet-stream"})
        return _not_found_json()

    def _metadata_key(self, file: _File) -> dict[str, object]:
        if not (self.core_metadata and file.metadata):
            return {}
        return {"core-metadata": {"sha256": hashlib.sha256(file.metadata).hexdigest()}}

    def _redirect(self, location: str) -> _Response:
        return _Response(HTTPStatus.MOVED_PERMANENTLY, b"", {"Location": self.url + location})

    def _serial_headers(self, content_type: str) -> dict[str, str]:
        return {"Content-Type": content_type, "X-PyPI-Last-Serial": str(self._serial)}

    def _simple_root(self, accept: str, query: str) -> _Response:
        names = sorted(self._projects)
        headers = {"Vary": "Accept"}
        if _wants_json(accept, query):
            document = {
                "meta": {"api-version": "1.1", "_last-serial": self._serial},
                "projects": [{"name": self._projects[n].display_name} for n in names],
            }
            headers |= self._serial_headers(SIMPLE_JSON)
            return _Response(200, _json_bytes(document), headers)
        links = "".join(f'    <a href="/simple/{n}/">{html.escape(n)}</a>\n' for n in names)
        page = (
            "<!DOCTYPE html>\n<html>\n  <head>\n"
            '    <meta name="pypi:repository-version" content="1.1">\n'
            "    <title>Simple index</title>\n  </head>\n  <body>\n"
            f"{links}  </body>\n</html>\n"
        )
        headers |= self._serial_headers(_html_type(accept))
        return _Response(200, page.encode(), headers)

    def _simple_project(
        self, name: NormalizedName, accept: str, query: str, bad_digest: bool
    ) -> _Response:
        project = self._projects.get(name)
        if project is None:
            return _not_found_json()
        files = [f for release in project.releases.values() for f in release.files]
        headers = {"Vary": "Accept"}
        if _wants_json(accept, query):
            document: dict[str, Any] = {
                "meta": {"api-version": self.api_version, "_last-serial": self._serial},
                "name": name,
                "versions": [str(v) for v in sorted(project.releases)],
                "files": [self._simple_file(f, bad_digest) for f in files],
            }
            if project.status is not None:
                document["project-status"] = {"status": project.status}
                if project.status_reason is not None:
                    document["project-status"]["reason"] = project.status_reason
            headers |= self._serial_headers(SIMPLE_JSON)
            return _Response(200, _json_bytes(document), headers)
        anchors = []
        for f in files:
            href = f"{self.url}{f.url_path}#sha256={BAD_DIGEST if bad_digest else f.sha256}"
            attributes = f'href="{html.escape(href)}"'
            if f.requires_python is not None:
                attributes += f' data-requires-python="{html.escape(f.requires_python)}"'
            if f.yanked is not None:
                attributes += f' data-yanked="{html.escape(f.yanked)}"'
            if self._lists_provenance and f.provenance is not None:
                url = self.url + self._listed_path(f)
                attributes += f' data-provenance="{html.escape(url)}"'
            if self.core_metadata and f.metadata:
                digest = hashlib.sha256(f.metadata).hexdigest()
                attributes += f' data-core-metadata="sha256={digest}"'
            anchors.append(f"    <a {attributes}>{html.escape(f.filename)}</a><br />\n")
        status = ""
        if project.status is not None:
            status = (
                f'    <meta name="pypi:project-status" content="{html.escape(project.status)}">\n'
            )
            if project.status_reason is not None:
                reason = html.escape(project.status_reason)
                status += f'    <meta name="pypi:project-status-reason" content="{reason}">\n'
        page = (
            "<!DOCTYPE html>\n<html>\n  <head>\n"
            f'    <meta name="pypi:repository-version" content="{self.api_version}">\n{status}'
            f"    <title>Links for {html.escape(name)}</title>\n  </head>\n  <body>\n"
            f"    <h1>Links for {html.escape(name)}</h1>\n{''.join(anchors)}  </body>\n</html>\n"
        )
        headers |= self._serial_headers(_html_type(accept))
        return _Response(200, page.encode(), headers)

    @property
    def _lists_provenance(self) -> bool:
        major, _, minor = self.api_version.partition(".")
        return (int(major), int(minor or 0)) >= (1, 3)

    def _listed_path(self, f: _File) -> str:
        # Not the integrity API's path: a test can tell which one a client asked.
        return f"/provenance/{quote(f.filename)}.json"

    def _simple_file(self, f: _File, bad_digest: bool) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "filename": f.filename,
            "url": self.url + f.url_path,
            "hashes": {"sha256": BAD_DIGEST if bad_digest else f.sha256},
            "requires-python": f.requires_python,
            # PEP 691: a reason string, or true when yanked without one.
            "yanked": (f.yanked or True) if f.yanked is not None else False,
            "size": f.size,
            "upload-time": _iso_8601(f.upload_time),
        }
        entry.update(self._metadata_key(f))
        if self._lists_provenance:
            # PEP 740: the provenance URL, or null for a file without provenance.
            entry["provenance"] = None if f.provenance is None else self.url + self._listed_path(f)
        return entry

    def _project_json(self, requested: str, path: str, bad_digest: bool) -> _Response:
        project = self._projects.get(canonicalize_name(requested))
        if project is None:
            return _not_found_json()
        if requested != project.display_name:
            # The real index redirects to the project's display name, not the normalised one.
            return self._redirect(f"/pypi/{quote(project.display_name)}/json")
        latest = _latest(project)
        document: dict[str, Any] = {
            "info": self._info(project, latest),
            "last_serial": self._serial,
            "releases": {
                str(version): [self._file_dict(f, path, bad_digest) for f in release.files]
                for version, release in sorted(project.releases.items())
            },
            "urls": []
            if latest is None
            else [self._file_dict(f, path, bad_digest) for f in latest.files],
            "vulnerabilities": [],
        }
        return _Response(200, _json_bytes(document), self._serial_headers("application/json"))

    def _release_json(
        self, requested: str, version_text: str, path: str, bad_digest: bool
    ) -> _Response:
        project = self._projects.get(canonicalize_name(requested))
        try:
            version = Version(version_text)
        except ValueError:
            return _not_found_json()
        release = None if project is None else project.releases.get(version)
        if project is None or release is None:
            return _not_found_json()
        if requested != project.display_name or version_text != str(version):
            return self._redirect(f"/pypi/{quote(project.display_name)}/{version}/json")
        document = {
            "info": self._info(project, release),
            "last_serial": self._serial,
            "urls": [self._file_dict(f, path, bad_digest) for f in release.files],
            "vulnerabilities": release.vulnerabilities,
        }
        return _Response(200, _json_bytes(document), self._serial_headers("application/json"))

    def _info(self, project: _Project, release: _Release | None) -> dict[str, Any]:
        slug = canonicalize_name(project.display_name)
        first_yank = None if release is None else next((f.yanked for f in release.files), None)
        return {
            "author": "",
            "author_email": "",
            "classifiers": [],
            "description": "",
            "description_content_type": None,
            "docs_url": None,
            "download_url": "",
            "home_page": "",
            "keywords": "",
            "license": "",
            "maintainer": "",
            "maintainer_email": "",
            "name": project.display_name,
            "package_url": f"{self.url}/project/{slug}/",
            "platform": None,
            "project_url": f"{self.url}/project/{slug}/",
            "project_urls": None,
            "release_url": None
            if release is None
            else f"{self.url}/project/{slug}/{release.version}/",
            "requires_dist": None
            if release is None or not release.requires_dist
            else list(release.requires_dist),
            "requires_python": None if release is None else release.requires_python,
            "summary": "" if release is None else release.summary,
            "version": None if release is None else str(release.version),
            "yanked": release is not None and release.yanked,
            "yanked_reason": (first_yank or None)
            if release is not None and release.yanked
            else None,
        }

    def _file_dict(self, f: _File, response_path: str, bad_digest: bool) -> dict[str, Any]:
        if self.relative_urls:
            # e.g. ../../packages/... from /pypi/<name>/json, as the real index sometimes answers.
            url = posixpath.relpath(f.url_path, posixpath.dirname(response_path))
        else:
            url = self.url + f.url_path
        return {
            "comment_text": "",
            "digests": {
                "blake2b_256": f.blake2b_256,
                "md5": f.md5,
                "sha256": BAD_DIGEST if bad_digest else f.sha256,
            },
            "downloads": -1,
            "filename": f.filename,
            "has_sig": False,
            "md5_digest": f.md5,
            "packagetype": f.packagetype,
            "python_version": f.python_version,
            "requires_python": f.requires_python,
            "size": f.size,
            "upload_time": f.upload_time.strftime("%Y-%m-%dT%H:%M:%S"),
            "upload_time_iso_8601": _iso_8601(f.upload_time),
            "url": url,
            "yanked": f.yanked is not None,
            "yanked_reason": f.yanked or None,
        }


def publish_standard_projects(index: IndexServer) -> None:
    """Publish the standard set the `index` fixture serves (see its docstring)."""
    for version in ("1.0", "1.1"):
        index.publish("tinyweb", version)
    index.publish("tinyweb", "2.0", requires=["tinyutil>=1.0"])
    for version in ("1.0", "1.2"):
        index.publish(
            "tinyutil",
            version,
            wheel_tags=("py3-none-any", "cp311-cp311-manylinux_2_17_x86_64"),
            requires_python=">=3.8",
        )
    index.publish("Tiny.Mixed_Case", "0.5")
    index.publish("yankee", "1.0", yanked="broken build")
    index.publish("yankee", "1.1")


# -- HTTP plumbing -----------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks its connections so `stop()` can close idle keep-alives."""

    daemon_threads = True

    def __init__(self, index: IndexServer) -> None:
        self.index = index
        self._connections: set[socket.socket] = set()
        self._handlers: set[threading.Thread] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        if index.tls is not None:
            # The handshake happens on the first read, in the connection's own thread, so a
            # client that never completes one cannot stall the accept loop.
            self.socket = index.tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), daemon=True
        )
        with self._connections_lock:
            self._connections.add(request)
            self._handlers.add(thread)
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._connections_lock:
                self._connections.discard(request)
                self._handlers.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        # A client that hangs up mid-answer (truncated or slow faults, timeouts) is not a bug, nor
        # is a write to a connection that `stop()` has just shut down.
        # Nor is a client that refuses the certificate or speaks plain http to https.
        stopping = self.index._stopping.is_set()
        if not stopping and not isinstance(error, ConnectionError | TimeoutError | ssl.SSLError):
            self.index._record_error(traceback.format_exc())

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, handlers = list(self._connections), list(self._handlers)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for handler in handlers:
            handler.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, so pip and httpx reuse connections
    server_version = "hardenreq-test-index/1"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection is dropped after this many seconds

    def do_GET(self) -> None:
        self._handle(head=False)

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get(_LOG_ENV) == "1":
            super().log_message(format, *args)

    def _handle(self, *, head: bool) -> None:
        index = self.server.index
        index._record(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        if not index._authorized(self.headers.get("Authorization")):
            self._send(
                _Response(
                    HTTPStatus.UNAUTHORIZED,
                    b'{"message": "Unauthorized"}',
                    {
                        "Content-Type": "application/json",
                        "WWW-Authenticate": 'Basic realm="hardenreq test index"',
                    },
                ),
                head=head,
            )
            return
        fault = index._take_fault(self.path)
        kind = None if fault is None else fault.kind
        if fault is not None and kind in _STATUS_FAULTS:
            self._send(_status_fault(fault), head=head)
            return
        if fault is not None and kind in ("redirect", "redirect-loop"):
            target = fault.location if kind == "redirect" else self.path
            assert target is not None
            location = index.url + target if target.startswith("/") else target
            self._send(_Response(HTTPStatus.FOUND, b"", {"Location": location}), head=head)
            return
        if fault is not None and kind == "slow" and index._stopping.wait(fault.delay):
            return  # the index stopped meanwhile: the client gets no answer
        accept = SIMPLE_JSON if kind == "json-as-html" else self.headers.get("Accept", "")
        try:
            response = index._respond(self.path, accept, bad_digest=kind == "bad-digest")
        except Exception:
            index._record_error(traceback.format_exc())
            response = _Response(500, b'{"message": "Internal Server Error"}')
        if fault is not None and kind in _HOSTILE_FAULTS:
            self._send_hostile(fault, response, head=head)
            return
        if kind in ("malformed", "wrong-shape"):
            content_type = response.headers.get("Content-Type", "application/json")
            if response.status != 200 or "json" not in content_type:
                content_type = "application/json"
            is_simple = self.path.startswith("/simple")
            response = _Response(
                200,
                _WRONG_SHAPE_SIMPLE if kind == "wrong-shape" and is_simple else _FAULT_BODIES[kind],
                {"Content-Type": content_type},
            )
        self._send(response, head=head, truncate=kind == "truncated")

    def _send(self, response: _Response, *, head: bool, truncate: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if not head:
            self.wfile.write(
                response.body[: len(response.body) // 2] if truncate else response.body
            )
        if truncate:
            # Hang up with the body short of its Content-Length, like a dropped connection.
            self.close_connection = True

    def _send_hostile(self, fault: _Fault, response: _Response, *, head: bool) -> None:
        """Answer as a hostile index would (the module docstring lists the kinds)."""
        kind, headers, body = fault.kind, dict(response.headers), response.body
        chunks: Iterable[bytes] = (body,)
        length: int | None = len(body)
        pace = 0.0
        if kind == "gzip":
            body = gzip.compress(body, mtime=0)
            chunks, length, headers["Content-Encoding"] = (body,), len(body), "gzip"
        elif kind == "deflate":
            body = zlib.compress(body)
            chunks, length, headers["Content-Encoding"] = (body,), len(body), "deflate"
        elif kind in ("gzip-bomb", "nested-gzip-bomb"):
            layers = 2 if kind == "nested-gzip-bomb" else 1
            body = _gzip_bomb(_BOMB_SIZE if fault.size is None else fault.size, layers)
            chunks, length = (body,), len(body)
            headers["Content-Encoding"] = ", ".join(["gzip"] * layers)
        elif kind == "bad-encoding":
            headers["Content-Encoding"] = fault.encoding or "x-hostile"
        elif kind == "drip":
            pace = fault.delay
            chunks = (body[i : i + 1] for i in range(len(body)))
        elif kind in ("oversized", "oversized-chunked"):
            size = max(len(body), _OVERSIZED_SIZE if fault.size is None else fault.size)
            chunks = _padded(body, size)
            length = size if kind == "oversized" else None
        elif kind == "json-as-html":
            headers["Content-Type"] = "text/html; charset=utf-8"
        elif kind == "huge-headers":
            headers["X-Hostile-Padding"] = "a" * (
                _HUGE_HEADER_SIZE if fault.size is None else fault.size
            )
        self.send_response(response.status)
        for name, value in headers.items():
            self.send_header(name, value)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        if head:
            return
        for chunk in chunks:
            if length is None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                self.wfile.write(chunk)
            if pace and self.server.index._stopping.wait(pace):
                self.close_connection = True
                return
        if length is None:
            self.wfile.write(b"0\r\n\r\n")


_FAULT_BODIES: Final = {
    "malformed": b'{"releases": [',
    "wrong-shape": b'{"releases": {"1.0": [{"filename": 3}]}}',
}
_WRONG_SHAPE_SIMPLE: Final = (
    b'{"meta": {"api-version": "1.1"}, "name": 3, "files": [{"filename": 3}]}'
)


# The kinds `_Handler._send_hostile` answers: every one that reshapes the normal answer.
_HOSTILE_FAULTS: Final = frozenset(
    {
        "gzip",
        "deflate",
        "gzip-bomb",
        "nested-gzip-bomb",
        "bad-encoding",
        "drip",
        "oversized",
        "oversized-chunked",
        "json-as-html",
        "huge-headers",
    }
)


@functools.cache
def _gzip_bomb(size: int, layers: int) -> bytes:
    """A gzip stream of `size` zero bytes, gzipped again `layers - 1` times.

    Built in milliseconds rather than by compressing 2 GiB (12 s): after a full flush the
    compressor's state is reset, so each MiB of zeros compresses to the same bytes, repeated.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = bytes(_MIB)
    segment = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(size, _MIB)
    crc = _crc32_of_zeros(whole * _MIB)
    crc = zlib.crc32(bytes(rest), crc)
    deflated = segment * whole + compressor.compress(bytes(rest)) + compressor.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, mtime 0
    body = header + deflated + struct.pack("<II", crc, size & 0xFFFFFFFF)
    for _ in range(layers - 1):
        body = gzip.compress(body, compresslevel=9, mtime=0)
    return body


def _crc32_of_zeros(length: int) -> int:
    """zlib.crc32(bytes(length)) in microseconds, not seconds: the CRC of n zero bytes is a
    linear map of GF(2), applied by squaring its matrix (zlib's crc32_combine)."""

    def times(matrix: list[int], vector: int) -> int:
        total, row = 0, 0
        while vector:
            if vector & 1:
                total ^= matrix[row]
            vector >>= 1
            row += 1
        return total

    def square(matrix: list[int]) -> list[int]:
        return [times(matrix, matrix[n]) for n in range(32)]

    # The operator for one zero bit (the reflected CRC-32 polynomial), then for one byte.
    operator = square(square(square([0xEDB88320] + [1 << n for n in range(31)])))
    # CRC-32 pre- and post-inverts its register: zeros appended to the empty message's
    # register 0xFFFFFFFF, inverted at the end.
    register = 0xFFFFFFFF
    while length:
        if length & 1:
            register = times(operator, register)
        length >>= 1
        operator = square(operator)
    return register ^ 0xFFFFFFFF


def _padded(body: bytes, size: int) -> Iterator[bytes]:
    """`body`, then spaces up to `size` bytes (still valid JSON), a MiB at a time."""
    yield body
    left = size - len(body)
    spaces = b" " * _MIB
    while left > 0:
        yield spaces[: min(left, _MIB)]
        left -= _MIB


def _status_fault(fault: _Fault) -> _Response:
    status = HTTPStatus(int(fault.kind))
    headers = {"Content-Type": "application/json"}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    return _Response(status, _json_bytes({"message": status.phrase}), headers)


def _not_found_json() -> _Response:
    return _Response(404, b'{"message": "Not Found"}', {"Content-Type": "application/json"})


def _json_bytes(document: object) -> bytes:
    return json.dumps(document).encode()


def _iso_8601(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _media_types(accept: str) -> dict[str, float]:
    """Parse an Accept header into media type -> q (PEP 691 content negotiation, simplified)."""
    types: dict[str, float] = {}
    for part in accept.split(","):
        media, *parameters = part.split(";")
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.strip():
            types[media.strip().lower()] = quality
    return types


def _wants_json(accept: str, query: str) -> bool:
    # PEP 691 lets a `format` query parameter override the Accept header.
    formats = parse_qs(query).get("format")
    if formats:
        return formats[-1] in (SIMPLE_JSON, _LATEST_JSON)
    types = _media_types(accept)
    return types.get(SIMPLE_JSON, 0.0) > 0 or types.get(_LATEST_JSON, 0.0) > 0


def _html_type(accept: str) -> str:
    if _media_types(accept).get(SIMPLE_HTML, 0.0) > 0:
        return SIMPLE_HTML
    return "text/html; charset=utf-8"


def _latest(project: _Project) -> _Release | None:
    """The release the JSON API describes in `info`: newest non-yanked final, else newest."""
    releases = sorted(project.releases.values(), key=lambda r: r.version)
    for candidates in (
        [r for r in releases if not r.yanked and not r.version.is_prerelease],
        [r for r in releases if not r.yanked],
        releases,
    ):
        if candidates:
            return candidates[-1]
    return None


def _read_metadata(filename: str, content: bytes) -> Message:
    """The core metadata inside a wheel (METADATA) or sdist (PKG-INFO); empty if absent."""
    return email.parser.BytesHeaderParser().parsebytes(_raw_metadata(filename, content))


def _raw_metadata(filename: str, content: bytes) -> bytes:
    """The bytes of the core metadata inside a wheel or sdist (b"" if absent)."""
    raw = b""
    buffer = io.BytesIO(content)
    with contextlib.suppress(zipfile.BadZipFile, tarfile.TarError, OSError, KeyError):
        if filename.endswith(".whl"):
            with zipfile.ZipFile(buffer) as archive:
                member = next(
                    (
                        n
                        for n in archive.namelist()
                        if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)
                    ),
                    None,
                )
                if member is not None:
                    raw = archive.read(member)
        elif filename.endswith(".tar.gz"):
            with tarfile.open(fileobj=buffer, mode="r:gz") as archive:
                for member_info in archive.getmembers():
                    if re.fullmatch(r"[^/]+/PKG-INFO", member_info.name):
                        extracted = archive.extractfile(member_info)
                        if extracted is not None:
                            with extracted:
                                raw = extracted.read()
                        break
    return raw
