"""The loopback index's hostile mode and https, tested on their own (raw http.client, no
hardenreq): each fault kind does what the server's docstring says, so other tests can rely on it."""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import os
import ssl
import struct
import time
import zlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.index import SIMPLE_JSON, IndexFactory, IndexServer


@contextlib.contextmanager
def connect(index: IndexServer) -> Iterator[http.client.HTTPConnection]:
    """A fresh connection to `index` (verified TLS for an https index)."""
    connection: http.client.HTTPConnection
    if index.tls is None:
        connection = http.client.HTTPConnection("127.0.0.1", index.port, timeout=10)
    else:
        context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
        connection = http.client.HTTPSConnection(
            index.hostname, index.port, context=context, timeout=10
        )
    with contextlib.closing(connection):
        yield connection


def get(
    index: IndexServer, target: str, headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    with connect(index) as connection:
        connection.request("GET", target, headers=headers or {})
        response = connection.getresponse()
        return response, response.read()


def test_gzip_and_deflate_compress_the_normal_answer(index: IndexServer) -> None:
    _, plain = get(index, "/simple/tinyweb/")
    index.add_fault("tinyweb", "gzip")
    index.add_fault("tinyweb", "deflate")
    response, body = get(index, "/simple/tinyweb/")
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == plain
    response, body = get(index, "/simple/tinyweb/")
    assert response.headers["Content-Encoding"] == "deflate"
    assert zlib.decompress(body) == plain


def test_gzip_bomb_inflates_to_its_size(index: IndexServer) -> None:
    index.add_fault("tinyweb", "gzip-bomb", size=10 * 1024**2 + 5)
    response, body = get(index, "/simple/tinyweb/")
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(body) < 20_000
    assert gzip.decompress(body) == bytes(10 * 1024**2 + 5)


def test_the_default_bombs_are_two_gib_in_a_few_kilobytes(index: IndexServer) -> None:
    index.add_fault("tinyweb", "gzip-bomb")
    index.add_fault("tinyweb", "nested-gzip-bomb")
    _, single = get(index, "/simple/tinyweb/")
    response, nested = get(index, "/simple/tinyweb/")
    assert response.headers["Content-Encoding"] == "gzip, gzip"
    assert len(single) < 3 * 1024**2
    assert len(nested) < 10_000
    inner = gzip.decompress(nested)
    assert inner == single
    _crc, size = struct.unpack("<II", single[-8:])
    assert size == (2 * 1024**3) & 0xFFFFFFFF
    # Inflate the first MiB only: zeros, and much more to come.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert inflater.decompress(single, 1024**2) == bytes(1024**2)
    assert inflater.unconsumed_tail


def test_bad_encoding_labels_a_plain_body(index: IndexServer) -> None:
    _, plain = get(index, "/simple/tinyweb/")
    index.add_fault("tinyweb", "bad-encoding")
    index.add_fault("tinyweb", "bad-encoding", encoding="gzip, br")
    response, body = get(index, "/simple/tinyweb/")
    assert (response.headers["Content-Encoding"], body) == ("x-hostile", plain)
    response, body = get(index, "/simple/tinyweb/")
    assert (response.headers["Content-Encoding"], body) == ("gzip, br", plain)


def test_drip_sends_headers_then_a_byte_at_a_time(index: IndexServer) -> None:
    index.add_fault("tinyweb", "drip", delay=0.1)
    with connect(index) as connection:
        connection.request("GET", "/simple/tinyweb/")
        started = time.monotonic()
        response = connection.getresponse()
        assert response.status == 200
        assert time.monotonic() - started < 1
        assert int(response.headers["Content-Length"]) > 1000
        assert response.read(5) == b"<!DOC"
        assert time.monotonic() - started >= 0.4


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/simple/tinyutil/", "{url}/simple/tinyutil/"),
        ("http://127.0.0.1:9/simple/", "http://127.0.0.1:9/simple/"),
        ("ftp://index.example.com/x", "ftp://index.example.com/x"),
    ],
)
def test_redirect_answers_302_to_the_location(
    index: IndexServer, location: str, expected: str
) -> None:
    index.add_fault("tinyweb", "redirect", location=location)
    response, _ = get(index, "/simple/tinyweb/")
    assert response.status == 302
    assert response.headers["Location"] == expected.format(url=index.url)


def test_redirect_loop_points_at_the_request_itself(index: IndexServer) -> None:
    index.add_fault("tinyweb", "redirect-loop", times=3)
    for _ in range(3):
        response, _ = get(index, "/simple/tinyweb/?x=1")
        assert (response.status, response.headers["Location"]) == (
            302,
            f"{index.url}/simple/tinyweb/?x=1",
        )
    assert get(index, "/simple/tinyweb/?x=1")[0].status == 200


@pytest.mark.parametrize("kind", ["oversized", "oversized-chunked"])
def test_oversized_pads_the_answer_to_size(index: IndexServer, kind: str) -> None:
    _, plain = get(index, "/simple/tinyweb/", {"Accept": SIMPLE_JSON})
    index.add_fault("tinyweb", kind, size=3 * 1024**2 + 7)  # type: ignore[arg-type]
    response, body = get(index, "/simple/tinyweb/", {"Accept": SIMPLE_JSON})
    assert len(body) == 3 * 1024**2 + 7
    assert body.startswith(plain)
    assert json.loads(body) == json.loads(plain)
    if kind == "oversized":
        assert response.headers["Content-Length"] == str(len(body))
    else:
        assert response.headers["Content-Length"] is None
        assert response.headers["Transfer-Encoding"] == "chunked"


def test_json_as_html_mislabels_the_pep_691_page(index: IndexServer) -> None:
    index.add_fault("tinyweb", "json-as-html")
    response, body = get(index, "/simple/tinyweb/", {"Accept": "text/html"})
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert {f["filename"] for f in json.loads(body)["files"]} >= {"tinyweb-2.0.tar.gz"}


def test_huge_headers_add_one_long_header(index: IndexServer) -> None:
    index.add_fault("tinyweb", "huge-headers", size=5000)
    response, body = get(index, "/simple/tinyweb/")
    assert response.headers["X-Hostile-Padding"] == "a" * 5000
    assert body.startswith(b"<!DOCTYPE html>")
    index.add_fault("tinyweb", "huge-headers")  # 1 MiB: more than http.client takes
    with pytest.raises(http.client.LineTooLong):
        get(index, "/simple/tinyweb/")


def test_add_fault_checks_the_options_of_hostile_kinds(index: IndexServer) -> None:
    with pytest.raises(ValueError, match="needs a location"):
        index.add_fault(".", "redirect")
    with pytest.raises(ValueError, match="needs a location"):
        index.add_fault(".", "drip", location="/x")
    with pytest.raises(ValueError, match="size must not be negative"):
        index.add_fault(".", "oversized", size=-1)
    assert index.pending_faults == 0


def test_https_index_with_a_second_host_name(make_index: IndexFactory) -> None:
    first = make_index(tls=True)
    second = make_index(tls=True, hostname="localhost", auth=("user", "pw"))
    assert urlsplit(first.url)[:2] == ("https", f"127.0.0.1:{first.port}")
    assert urlsplit(second.url)[:2] == ("https", f"localhost:{second.port}")
    assert second.simple_url_with_auth.startswith(f"https://user:pw@localhost:{second.port}/")
    response, body = get(first, "/simple/tinyweb/")
    assert response.status == 200
    assert b"tinyweb-2.0.tar.gz" in body
    assert get(second, "/simple/tinyweb/")[0].status == 401
    # The certificate is refused without the test CA, and the server shrugs that off.
    no_ca = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, trusting nothing
    with (
        contextlib.closing(
            http.client.HTTPSConnection("127.0.0.1", first.port, context=no_ca, timeout=10)
        ) as untrusting,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        untrusting.request("GET", "/simple/")
