"""Tests of the loopback test index itself: builder output, every route, faults, auth, file swaps,
and pip 26 accepting the index and its wheels."""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import pytest_socket
from packaging.utils import parse_sdist_filename, parse_wheel_filename

from tests.index import (
    BAD_DIGEST,
    SIMPLE_HTML,
    SIMPLE_JSON,
    FaultKind,
    IndexFactory,
    IndexServer,
    build_sdist,
    build_wheel,
    file_sha256,
)

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
SHA256_RE = re.compile(r"[0-9a-f]{64}")
FILE_KEYS = {
    "filename",
    "url",
    "digests",
    "packagetype",
    "python_version",
    "requires_python",
    "size",
    "upload_time_iso_8601",
    "yanked",
    "yanked_reason",
}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(
    index: IndexServer, target: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> Reply:
    """One request on a fresh connection, without following redirects."""
    port = urlsplit(index.url).port
    with contextlib.closing(http.client.HTTPConnection("127.0.0.1", port, timeout=10)) as conn:
        conn.request(method, target, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def path_of(url: str) -> str:
    return urlsplit(url).path


def simple_json(index: IndexServer, name: str) -> Any:
    reply = fetch(index, f"/simple/{name}/", headers={"Accept": SIMPLE_JSON})
    assert reply.status == 200
    return reply.json()


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


def anchors(page: bytes) -> list[dict[str, str | None]]:
    parser = _Anchors()
    parser.feed(page.decode())
    parser.close()
    return parser.anchors


def run_pip(*args: str) -> subprocess.CompletedProcess[str]:
    """Run this interpreter's pip with no configuration file and the isolated environment."""
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull)
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--no-cache-dir", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


# -- builder ------------------------------------------------------------------------------------


def test_builds_are_byte_for_byte_reproducible(tmp_path: Path) -> None:
    first = [
        build_wheel(tmp_path / "a", "tinyweb", "1.0", requires=["tinyutil>=1"]),
        build_sdist(tmp_path / "a", "tinyweb", "1.0", requires=["tinyutil>=1"]),
    ]
    second = [
        build_wheel(tmp_path / "b", "tinyweb", "1.0", requires=["tinyutil>=1"]),
        build_sdist(tmp_path / "b", "tinyweb", "1.0", requires=["tinyutil>=1"]),
    ]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    with_payload = build_wheel(
        tmp_path / "c", "tinyweb", "1.0", requires=["tinyutil>=1"], payload=b"x"
    )
    assert file_sha256(with_payload) != file_sha256(first[0])
    assert gzip.decompress(first[1].read_bytes())  # a valid gzip stream
    assert first[1].read_bytes()[4:8] == b"\0\0\0\0"  # gzip header mtime


@pytest.mark.parametrize(
    ("name", "version", "tag", "wheel", "sdist"),
    [
        ("tinyweb", "1.0", "py3-none-any", "tinyweb-1.0-py3-none-any.whl", "tinyweb-1.0.tar.gz"),
        (
            "Foo.Bar-baz",
            "1.0",
            "py3-none-any",
            "foo_bar_baz-1.0-py3-none-any.whl",
            "foo_bar_baz-1.0.tar.gz",
        ),
        (
            "foo_bar",
            "1.0.0-rc1",
            "py2.py3-none-any",
            "foo_bar-1.0.0rc1-py2.py3-none-any.whl",
            "foo_bar-1.0.0rc1.tar.gz",
        ),
    ],
)
def test_filenames_follow_the_spec(
    tmp_path: Path, name: str, version: str, tag: str, wheel: str, sdist: str
) -> None:
    assert build_wheel(tmp_path, name, version, tag=tag).name == wheel
    assert build_sdist(tmp_path, name, version).name == sdist
    parse_wheel_filename(wheel)
    parse_sdist_filename(sdist)


def test_wheel_contents_and_record(tmp_path: Path) -> None:
    path = build_wheel(
        tmp_path,
        "Tiny.Mixed_Case",
        "0.5",
        requires=["tinyutil>=1.0", 'colorama; sys_platform == "win32"'],
        tag="cp311-cp311-manylinux_2_17_x86_64",
        requires_python=">=3.11",
        payload=b"\x00\xff",
    )
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        files = {n: archive.read(n) for n in names}
    assert names == [
        "tiny_mixed_case/__init__.py",
        "tiny_mixed_case-0.5.dist-info/METADATA",
        "tiny_mixed_case-0.5.dist-info/WHEEL",
        "tiny_mixed_case-0.5.dist-info/RECORD",
    ]
    metadata = files["tiny_mixed_case-0.5.dist-info/METADATA"].decode()
    assert "Name: Tiny.Mixed_Case\n" in metadata
    assert "Requires-Python: >=3.11\n" in metadata
    assert "Requires-Dist: tinyutil>=1.0\n" in metadata
    assert 'Requires-Dist: colorama; sys_platform == "win32"\n' in metadata
    wheel_text = files["tiny_mixed_case-0.5.dist-info/WHEEL"].decode()
    assert "Root-Is-Purelib: false\n" in wheel_text
    assert "Tag: cp311-cp311-manylinux_2_17_x86_64\n" in wheel_text
    assert b"# payload: 00ff" in files["tiny_mixed_case/__init__.py"]
    record = files["tiny_mixed_case-0.5.dist-info/RECORD"].decode().splitlines()
    assert record[-1] == "tiny_mixed_case-0.5.dist-info/RECORD,,"
    for line in record[:-1]:
        member, digest, size = line.split(",")
        data = files[member]
        expected = hashlib.sha256(data).digest()
        assert digest == "sha256=" + _urlsafe_b64(expected)
        assert int(size) == len(data)


def _urlsafe_b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_sdist_contents(tmp_path: Path) -> None:
    path = build_sdist(
        tmp_path, "foo-bar", "2.0", requires=["tinyweb==1.1"], requires_python=">=3.9"
    )
    with tarfile.open(path) as archive:
        members = {m.name: m for m in archive.getmembers()}
        assert set(members) == {
            "foo_bar-2.0/PKG-INFO",
            "foo_bar-2.0/pyproject.toml",
            "foo_bar-2.0/foo_bar/__init__.py",
        }
        assert {m.mtime for m in members.values()} == {1_580_601_600}

        def read(name: str) -> str:
            extracted = archive.extractfile(name)
            assert extracted is not None
            with extracted:
                return extracted.read().decode()

        pkg_info = read("foo_bar-2.0/PKG-INFO")
        pyproject = tomllib.loads(read("foo_bar-2.0/pyproject.toml"))
    assert "Requires-Dist: tinyweb==1.1\n" in pkg_info
    assert "Requires-Python: >=3.9\n" in pkg_info
    assert pyproject["project"] == {
        "name": "foo-bar",
        "version": "2.0",
        "dependencies": ["tinyweb==1.1"],
        "requires-python": ">=3.9",
    }


@pytest.mark.parametrize(
    ("name", "requires", "tag"),
    [
        ("-bad-", (), "py3-none-any"),
        ("tinyweb", ("not a requirement!",), "py3-none-any"),
        ("tinyweb", (), "py3-none"),
    ],
)
def test_builder_rejects_invalid_input(
    tmp_path: Path, name: str, requires: tuple[str, ...], tag: str
) -> None:
    with pytest.raises(ValueError, match=r"."):
        build_wheel(tmp_path, name, "1.0", requires=requires, tag=tag)


# -- simple API ---------------------------------------------------------------------------------


def test_simple_root_lists_projects_as_html_and_json(index: IndexServer) -> None:
    page = fetch(index, "/simple/")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert [a["href"] for a in anchors(page.body)] == [
        "/simple/tiny-mixed-case/",
        "/simple/tinyutil/",
        "/simple/tinyweb/",
        "/simple/yankee/",
    ]
    document = fetch(index, "/simple/", headers={"Accept": SIMPLE_JSON}).json()
    assert document["meta"]["api-version"] == "1.1"
    assert {p["name"] for p in document["projects"]} == {
        "Tiny.Mixed_Case",
        "tinyutil",
        "tinyweb",
        "yankee",
    }


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("", "text/html; charset=utf-8"),
        ("text/html", "text/html; charset=utf-8"),
        (SIMPLE_JSON, SIMPLE_JSON),
        (PIP_ACCEPT, SIMPLE_JSON),
        ("application/vnd.pypi.simple.latest+json", SIMPLE_JSON),
        (SIMPLE_HTML, SIMPLE_HTML),
        (f"{SIMPLE_JSON}; q=0, text/html", "text/html; charset=utf-8"),
    ],
)
def test_simple_page_content_negotiation(
    index: IndexServer, accept: str, content_type: str
) -> None:
    reply = fetch(index, "/simple/tinyweb/", headers={"Accept": accept} if accept else {})
    assert reply.status == 200
    assert reply.headers["content-type"] == content_type
    assert reply.headers["vary"] == "Accept"


def test_simple_json_project_page(index: IndexServer) -> None:
    document = simple_json(index, "tinyutil")
    assert document["meta"]["api-version"] == "1.1"
    assert document["name"] == "tinyutil"
    assert document["versions"] == ["1.0", "1.2"]
    assert [f["filename"] for f in document["files"]] == [
        "tinyutil-1.0-py3-none-any.whl",
        "tinyutil-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
        "tinyutil-1.0.tar.gz",
        "tinyutil-1.2-py3-none-any.whl",
        "tinyutil-1.2-cp311-cp311-manylinux_2_17_x86_64.whl",
        "tinyutil-1.2.tar.gz",
    ]
    for entry in document["files"]:
        assert set(entry) == {
            "filename",
            "url",
            "hashes",
            "requires-python",
            "yanked",
            "size",
            "upload-time",
        }
        assert entry["url"].startswith(index.url + "/packages/")
        assert entry["requires-python"] == ">=3.8"
        assert entry["yanked"] is False
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", entry["upload-time"])
        download = fetch(index, path_of(entry["url"]))
        assert download.status == 200
        assert hashlib.sha256(download.body).hexdigest() == entry["hashes"]["sha256"]
        assert len(download.body) == entry["size"]
    yankee = {f["filename"]: f["yanked"] for f in simple_json(index, "yankee")["files"]}
    assert yankee == {
        "yankee-1.0-py3-none-any.whl": "broken build",
        "yankee-1.0.tar.gz": "broken build",
        "yankee-1.1-py3-none-any.whl": False,
        "yankee-1.1.tar.gz": False,
    }


def test_simple_html_project_page(index: IndexServer) -> None:
    reply = fetch(index, "/simple/tinyutil/")
    assert b'data-requires-python="&gt;=3.8"' in reply.body
    for anchor in anchors(reply.body):
        href = anchor["href"]
        assert href is not None
        url, _, fragment = href.partition("#sha256=")
        download = fetch(index, path_of(url))
        assert hashlib.sha256(download.body).hexdigest() == fragment
        assert anchor["data-requires-python"] == ">=3.8"
    yankee = {
        a["href"].rsplit("/", 1)[-1].split("#")[0]: a.get("data-yanked", "-")
        for a in anchors(fetch(index, "/simple/yankee/").body)
        if a["href"]
    }
    assert yankee == {
        "yankee-1.0-py3-none-any.whl": "broken build",
        "yankee-1.0.tar.gz": "broken build",
        "yankee-1.1-py3-none-any.whl": "-",
        "yankee-1.1.tar.gz": "-",
    }


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/simple", "/simple/"),
        ("/simple/tinyweb", "/simple/tinyweb/"),
        ("/simple/Tiny.Mixed_Case/", "/simple/tiny-mixed-case/"),
        ("/simple/TINYWEB/?format=text/html", "/simple/tinyweb/?format=text/html"),
        ("/pypi/tiny-mixed-case/json", "/pypi/Tiny.Mixed_Case/json"),
    ],
)
def test_non_canonical_names_redirect(index: IndexServer, target: str, location: str) -> None:
    reply = fetch(index, target)
    assert reply.status == 301
    assert reply.headers["location"] == index.url + location
    assert fetch(index, location).status == 200


@pytest.mark.parametrize(
    "target", ["/simple/nothere/", "/pypi/nothere/json", "/files/nothere-1.0.tar.gz", "/elsewhere"]
)
def test_unknown_targets_are_404_json(index: IndexServer, target: str) -> None:
    reply = fetch(index, target)
    assert reply.status == 404
    assert reply.json() == {"message": "Not Found"}


# -- JSON API -----------------------------------------------------------------------------------


def test_project_json_has_the_real_shape(index: IndexServer) -> None:
    reply = fetch(index, "/pypi/tinyweb/json")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    document = reply.json()
    assert set(document) == {"info", "last_serial", "releases", "urls", "vulnerabilities"}
    info = document["info"]
    assert (info["name"], info["version"], info["yanked"]) == ("tinyweb", "2.0", False)
    assert info["requires_dist"] == ["tinyutil>=1.0"]
    assert document["vulnerabilities"] == []
    assert int(reply.headers["x-pypi-last-serial"]) == document["last_serial"]
    assert list(document["releases"]) == ["1.0", "1.1", "2.0"]
    assert document["urls"] == document["releases"]["2.0"]
    for files in document["releases"].values():
        assert [(f["packagetype"], f["python_version"]) for f in files] == [
            ("bdist_wheel", "py3"),
            ("sdist", "source"),
        ]
        for entry in files:
            assert set(entry) >= FILE_KEYS
            assert (entry["yanked"], entry["yanked_reason"]) == (False, None)
            body = fetch(index, path_of(entry["url"])).body
            assert entry["digests"]["sha256"] == hashlib.sha256(body).hexdigest()
            assert entry["digests"]["md5"] == hashlib.md5(body, usedforsecurity=False).hexdigest()
            assert entry["size"] == len(body)
    platform = fetch(index, "/pypi/tinyutil/json").json()["releases"]["1.2"][1]
    assert (platform["python_version"], platform["requires_python"]) == ("cp311", ">=3.8")


def test_project_json_latest_skips_yanked_releases(index: IndexServer) -> None:
    yankee = fetch(index, "/pypi/yankee/json").json()
    assert yankee["info"]["version"] == "1.1"
    assert [(f["yanked"], f["yanked_reason"]) for f in yankee["releases"]["1.0"]] == [
        (True, "broken build"),
        (True, "broken build"),
    ]
    index.yank("tinyweb", "2.0", reason="oops")
    tinyweb = fetch(index, "/pypi/tinyweb/json").json()
    assert tinyweb["info"]["version"] == "1.1"
    assert [f["filename"] for f in tinyweb["urls"]] == [
        "tinyweb-1.1-py3-none-any.whl",
        "tinyweb-1.1.tar.gz",
    ]
    index.unyank("tinyweb", "2.0")
    assert fetch(index, "/pypi/tinyweb/json").json()["info"]["version"] == "2.0"


def test_release_endpoint_is_off_by_default(index: IndexServer) -> None:
    reply = fetch(index, "/pypi/tinyweb/1.0/json")
    assert reply.status == 404
    assert reply.json() == {"message": "Not Found"}


def test_release_endpoint_when_enabled(make_index: IndexFactory) -> None:
    index = make_index(release_endpoint=True)
    document = fetch(index, "/pypi/tinyweb/1.0/json").json()
    assert set(document) == {"info", "last_serial", "urls", "vulnerabilities"}
    assert document["info"]["version"] == "1.0"
    assert [f["filename"] for f in document["urls"]] == [
        "tinyweb-1.0-py3-none-any.whl",
        "tinyweb-1.0.tar.gz",
    ]
    assert fetch(index, "/pypi/tinyweb/9.9/json").status == 404
    redirect = fetch(index, "/pypi/tinyweb/1.00/json")
    assert (redirect.status, redirect.headers["location"]) == (
        301,
        index.url + "/pypi/tinyweb/1.0/json",
    )


def test_relative_urls_resolve_against_the_response(make_index: IndexFactory) -> None:
    index = make_index(relative_urls=True, release_endpoint=True)
    for target in ("/pypi/tinyweb/json", "/pypi/tinyweb/1.1/json"):
        document = fetch(index, target).json()
        for entry in document["urls"]:
            assert entry["url"].startswith("../")
            absolute = urljoin(index.url + target, entry["url"])
            assert absolute == index.file_url(entry["filename"])
            body = fetch(index, path_of(absolute)).body
            assert hashlib.sha256(body).hexdigest() == entry["digests"]["sha256"]
    assert fetch(index, "/pypi/tinyweb/json").json()["urls"][0]["url"].startswith("../../packages/")


# -- files and connections ----------------------------------------------------------------------


def test_files_get_and_head(index: IndexServer) -> None:
    filename = "tinyweb-1.1-py3-none-any.whl"
    by_packages = fetch(index, path_of(index.file_url(filename)))
    by_files = fetch(index, f"/files/{filename}")
    assert by_packages.body == by_files.body
    assert hashlib.sha256(by_files.body).hexdigest() == index.sha256(filename)
    head = fetch(index, f"/files/{filename}", method="HEAD")
    assert head.status == 200
    assert head.body == b""
    assert int(head.headers["content-length"]) == len(by_files.body)


def test_connections_are_kept_alive(index: IndexServer) -> None:
    port = urlsplit(index.url).port
    with contextlib.closing(http.client.HTTPConnection("127.0.0.1", port, timeout=10)) as conn:
        conn.request("GET", "/simple/tinyweb/")
        conn.getresponse().read()
        first_socket = conn.sock
        conn.request("GET", "/pypi/tinyweb/json")
        assert conn.getresponse().status == 200
        assert conn.sock is first_socket


def test_stop_drops_idle_keep_alive_connections() -> None:
    with IndexServer() as index:
        port = urlsplit(index.url).port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/simple/")
        conn.getresponse().read()
        started = time.monotonic()
    try:
        assert time.monotonic() - started < 2
    finally:
        conn.close()


def test_requests_are_recorded(index: IndexServer) -> None:
    fetch(index, "/simple/tinyweb/", headers={"Accept": SIMPLE_JSON, "X-Probe": "1"})
    method, path, headers = index.requests[-1]
    assert (method, path) == ("GET", "/simple/tinyweb/")
    assert headers["accept"] == SIMPLE_JSON
    assert headers["x-probe"] == "1"
    index.clear_requests()
    assert index.requests == []


# -- publishing -----------------------------------------------------------------------------------


def test_add_file_rejects_a_duplicate_filename(index: IndexServer, tmp_path: Path) -> None:
    path = build_wheel(tmp_path, "tinyweb", "1.0")
    with pytest.raises(ValueError, match="already on the index"):
        index.add_file(path)


def test_add_file_options(make_index: IndexFactory, tmp_path: Path) -> None:
    index = make_index(standard=False)
    wheel = build_wheel(tmp_path, "odd", "1.0", requires_python=">=3.7")
    index.add_file(wheel, requires_python=">=3.10,<4", upload_time="2023-05-06T07:08:09", yanked="")
    [entry] = simple_json(index, "odd")["files"]
    assert entry["requires-python"] == ">=3.10,<4"
    assert entry["upload-time"] == "2023-05-06T07:08:09.000000Z"
    assert entry["yanked"] is True  # PEP 691: yanked without a reason
    page = fetch(index, "/simple/odd/").body
    assert b'data-requires-python="&gt;=3.10,&lt;4"' in page
    assert b'data-yanked=""' in page
    [file_dict] = fetch(index, "/pypi/odd/json").json()["releases"]["1.0"]
    assert (file_dict["yanked"], file_dict["yanked_reason"]) == (True, None)


def test_remove_file_keeps_the_release(index: IndexServer) -> None:
    filename = "tinyweb-1.1.tar.gz"
    url = index.file_url(filename)
    index.remove_file(filename)
    assert filename not in {f["filename"] for f in simple_json(index, "tinyweb")["files"]}
    assert [
        f["filename"] for f in fetch(index, "/pypi/tinyweb/json").json()["releases"]["1.1"]
    ] == ["tinyweb-1.1-py3-none-any.whl"]
    assert fetch(index, path_of(url)).status == 404
    with pytest.raises(KeyError):
        index.remove_file(filename)


@pytest.mark.parametrize("update_metadata", [False, True])
def test_swap_file(index: IndexServer, tmp_path: Path, update_metadata: bool) -> None:
    filename = "tinyweb-1.1-py3-none-any.whl"
    original = index.sha256(filename)
    evil = build_wheel(tmp_path, "tinyweb", "1.1", payload=b"evil").read_bytes()
    new = hashlib.sha256(evil).hexdigest()
    index.swap_file(filename, evil, update_metadata=update_metadata)
    served = fetch(index, f"/files/{filename}").body
    assert served == evil
    advertised = {
        f["filename"]: f["hashes"]["sha256"] for f in simple_json(index, "tinyweb")["files"]
    }
    json_api = {
        f["filename"]: f["digests"]["sha256"]
        for f in fetch(index, "/pypi/tinyweb/json").json()["releases"]["1.1"]
    }
    expected = new if update_metadata else original
    assert advertised[filename] == json_api[filename] == index.sha256(filename) == expected
    assert new != original


# -- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "503", "429", "404"])
def test_status_faults_answer_then_are_consumed(index: IndexServer, kind: FaultKind) -> None:
    index.add_fault(r"^/pypi/tinyweb/json$", kind, times=2, retry_after=7)
    assert fetch(index, "/pypi/tinyutil/json").status == 200  # not matching: untouched
    for _ in range(2):
        reply = fetch(index, "/pypi/tinyweb/json")
        assert reply.status == int(kind)
        assert reply.headers["retry-after"] == "7"
    assert index.pending_faults == 0
    assert fetch(index, "/pypi/tinyweb/json").status == 200


def test_status_fault_without_retry_after(index: IndexServer) -> None:
    index.add_fault("tinyweb", "429")
    reply = fetch(index, "/simple/tinyweb/")
    assert reply.status == 429
    assert "retry-after" not in reply.headers


def test_slow_fault_delays_a_normal_answer(index: IndexServer) -> None:
    index.add_fault("/simple/tinyweb/", "slow", delay=0.3)
    started = time.monotonic()
    reply = fetch(index, "/simple/tinyweb/")
    assert time.monotonic() - started >= 0.3
    assert reply.status == 200


@pytest.mark.parametrize("target", ["/pypi/tinyweb/json", "/files/tinyweb-1.0.tar.gz"])
def test_truncated_fault_hangs_up_mid_body(index: IndexServer, target: str) -> None:
    index.add_fault(re.escape(target), "truncated")
    port = urlsplit(index.url).port
    with contextlib.closing(http.client.HTTPConnection("127.0.0.1", port, timeout=10)) as conn:
        conn.request("GET", target)
        response = conn.getresponse()
        declared = int(response.headers["Content-Length"])
        with pytest.raises(http.client.IncompleteRead) as caught:
            response.read()
    assert len(caught.value.partial) == declared // 2
    assert fetch(index, target).status == 200


@pytest.mark.parametrize(
    ("target", "accept"),
    [("/pypi/tinyweb/json", ""), ("/simple/tinyweb/", SIMPLE_JSON)],
)
def test_malformed_fault_sends_broken_json(index: IndexServer, target: str, accept: str) -> None:
    index.add_fault(target, "malformed")
    reply = fetch(index, target, headers={"Accept": accept})
    assert reply.status == 200
    assert reply.body == b'{"releases": ['
    with pytest.raises(json.JSONDecodeError):
        reply.json()


def test_wrong_shape_fault_sends_valid_json_of_another_shape(index: IndexServer) -> None:
    index.add_fault("/pypi/", "wrong-shape")
    index.add_fault("/simple/", "wrong-shape")
    assert fetch(index, "/pypi/tinyweb/json").json() == {"releases": {"1.0": [{"filename": 3}]}}
    simple = fetch(index, "/simple/tinyweb/", headers={"Accept": SIMPLE_JSON})
    assert simple.headers["content-type"] == SIMPLE_JSON
    assert simple.json()["files"] == [{"filename": 3}]


def test_bad_digest_fault(index: IndexServer) -> None:
    for _ in range(3):
        index.add_fault("tinyweb", "bad-digest")
    project = fetch(index, "/pypi/tinyweb/json").json()
    simple = simple_json(index, "tinyweb")
    page = fetch(index, "/simple/tinyweb/").body.decode()
    digests = [f["digests"]["sha256"] for files in project["releases"].values() for f in files]
    digests += [f["hashes"]["sha256"] for f in simple["files"]]
    digests += re.findall(r"#sha256=([^\"]*)", page)
    assert len(digests) == 18
    assert set(digests) == {BAD_DIGEST}
    assert not SHA256_RE.fullmatch(BAD_DIGEST)
    assert SHA256_RE.fullmatch(simple_json(index, "tinyweb")["files"][0]["hashes"]["sha256"])


def test_add_fault_rejects_unknown_kinds(index: IndexServer) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        index.add_fault(".", "teapot")  # type: ignore[arg-type]


# -- auth -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["/simple/", "/simple/tinyweb/", "/pypi/tinyweb/json", "/files/tinyweb-1.0.tar.gz"]
)
def test_basic_auth_guards_every_route(make_index: IndexFactory, target: str) -> None:
    index = make_index(auth=("user", "s3cret"))
    missing = fetch(index, target)
    assert missing.status == 401
    assert missing.headers["www-authenticate"].startswith("Basic ")
    wrong = fetch(index, target, headers={"Authorization": "Basic dXNlcjpub3BlCg=="})
    assert wrong.status == 401
    right = fetch(index, target, headers={"Authorization": "Basic dXNlcjpzM2NyZXQ="})
    assert right.status == 200
    assert index.requests[-1].headers["authorization"] == "Basic dXNlcjpzM2NyZXQ="
    assert index.simple_url_with_auth == index.simple_url.replace("http://", "http://user:s3cret@")


# -- isolation ------------------------------------------------------------------------------------


def test_environment_is_isolated_from_this_machine() -> None:
    assert "PIP_FIND_LINKS" not in os.environ
    assert os.environ["PIP_CONFIG_FILE"] == os.devnull
    assert not any(name.startswith("UV_") for name in os.environ)
    assert "SSL_CERT_FILE" not in os.environ
    assert Path(os.environ["HOME"]) != Path("/root")
    assert Path(os.environ["XDG_CACHE_HOME"]).parent == Path(os.environ["HOME"])


def test_only_loopback_connections_are_allowed(index: IndexServer) -> None:
    with (
        pytest.raises(pytest_socket.SocketConnectBlockedError),
        pytest.warns(UserWarning, match="192.0.2.1"),
    ):
        socket.create_connection(("192.0.2.1", 9), timeout=1)
    assert fetch(index, "/simple/").status == 200


# -- pip ------------------------------------------------------------------------------------------


def test_pip_downloads_with_require_hashes(index: IndexServer, tmp_path: Path) -> None:
    filename = "tinyweb-1.1-py3-none-any.whl"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"tinyweb==1.1 --hash=sha256:{index.sha256(filename)}\n")
    dest = tmp_path / "dest"
    result = run_pip(
        "download",
        "--no-deps",
        "--require-hashes",
        "-r",
        str(requirements),
        "--index-url",
        index.simple_url,
        "-d",
        str(dest),
    )
    assert result.returncode == 0, result.stderr
    assert [p.name for p in dest.iterdir()] == [filename]
    assert file_sha256(dest / filename) == index.sha256(filename)
    simple_requests = [r for r in index.requests if r.path == "/simple/tinyweb/"]
    assert simple_requests
    assert SIMPLE_JSON in simple_requests[0].headers["accept"]  # pip reads the PEP 691 page


def test_pip_rejects_a_tampered_mirror(index: IndexServer, tmp_path: Path) -> None:
    filename = "tinyweb-1.1-py3-none-any.whl"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"tinyweb==1.1 --hash=sha256:{index.sha256(filename)}\n")
    evil = build_wheel(tmp_path / "evil", "tinyweb", "1.1", payload=b"evil").read_bytes()
    index.swap_file(filename, evil, update_metadata=False)
    result = run_pip(
        "download",
        "--no-deps",
        "--require-hashes",
        "-r",
        str(requirements),
        "--index-url",
        index.simple_url,
        "-d",
        str(tmp_path / "dest"),
    )
    assert result.returncode != 0
    assert "DO NOT MATCH THE HASHES" in result.stderr


def test_pip_installs_a_wheel_and_its_dependency(index: IndexServer, tmp_path: Path) -> None:
    target = tmp_path / "target"
    result = run_pip(
        "install",
        "--only-binary",
        ":all:",
        "--target",
        str(target),
        "--index-url",
        index.simple_url,
        "tinyweb==2.0",
    )
    assert result.returncode == 0, result.stderr
    installed = sorted(p.name for p in target.iterdir())
    assert installed == ["tinyutil", "tinyutil-1.2.dist-info", "tinyweb", "tinyweb-2.0.dist-info"]
    assert '__version__ = "2.0"' in (target / "tinyweb" / "__init__.py").read_text()


def test_pip_sends_credentials_from_the_index_url(make_index: IndexFactory, tmp_path: Path) -> None:
    index = make_index(auth=("user", "s3cret"))
    result = run_pip(
        "download",
        "--no-deps",
        "--index-url",
        index.simple_url_with_auth,
        "-d",
        str(tmp_path),
        "tinyweb==1.1",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tinyweb-1.1-py3-none-any.whl").is_file()
    downloads = [r for r in index.requests if r.path.startswith("/packages/")]
    assert [r.headers.get("authorization") for r in downloads] == ["Basic dXNlcjpzM2NyZXQ="]
