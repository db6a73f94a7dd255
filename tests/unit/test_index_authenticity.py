"""What the simple pages say about provenance (PEP 740) and project status (PEP 792), in
HTML and JSON, and where the provenance of a file is asked for."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from hardenreq.index.client import HttpFetcher
from hardenreq.index.location import IndexSettings
from hardenreq.index.policy import RetryPolicy
from hardenreq.index.provenance import ProvenanceFetcher, integrity_base
from hardenreq.index.sources import SimpleApiSource
from hardenreq.models import Pin, ProjectStatus, Release

INDEX = "https://index.example.com/simple"
SHA = "a" * 64
PIN = Pin(canonicalize_name("demo"), Version("1.0"))


def fetch(body: bytes, content_type: str) -> tuple[Release, list[str]]:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.path.endswith("/provenance"):
            return httpx.Response(404)
        headers = {"Content-Type": content_type}
        return httpx.Response(200, stream=httpx.ByteStream(body), headers=headers)

    async def run() -> tuple[Release, list[str]]:
        settings = IndexSettings(INDEX)
        transport = httpx.MockTransport(answer)
        async with HttpFetcher(settings, RetryPolicy(attempts=1), transport=transport) as fetcher:
            release = await SimpleApiSource(fetcher, INDEX).fetch_release(PIN)
            provenance = ProvenanceFetcher(fetcher, settings.urls)
            for file in release.files:
                await provenance.fetch_provenance(release, file)
            return release, asked

    return asyncio.run(run())


def html(version: str, status: str = "", provenance: str = "") -> bytes:
    meta = f'<meta name="pypi:repository-version" content="{version}">'
    if status:
        meta += (
            f'<meta name="pypi:project-status" content="{status}">'
            '<meta name="pypi:project-status-reason" content="see &lt;successor&gt;">'
        )
    attribute = f' data-provenance="{provenance}"' if provenance else ""
    return (
        f"<html><head>{meta}</head><body>"
        f'<a href="../../files/demo-1.0.tar.gz#sha256={SHA}"{attribute}>demo-1.0.tar.gz</a>'
        f'<a href="../../files/demo-1.0-py3-none-any.whl#sha256={SHA}">'
        "demo-1.0-py3-none-any.whl</a></body></html>"
    ).encode()


def test_html_page_with_provenance_and_status() -> None:
    release, asked = fetch(
        html("1.3", "archived", "../../provenance/demo-1.0.tar.gz.json"), "text/html"
    )
    assert release.status == ProjectStatus("archived", "see <successor>")
    sdist, wheel = release.files
    assert sdist.provenance == "https://index.example.com/provenance/demo-1.0.tar.gz.json"
    assert (sdist.provenance_listed, wheel.provenance, wheel.provenance_listed) == (
        True,
        None,
        True,
    )
    # The named URL is asked; the wheel, which the page says has none, is not asked at all.
    assert asked[1:] == ["https://index.example.com/provenance/demo-1.0.tar.gz.json"]


def test_an_older_html_page_leaves_it_to_the_integrity_api() -> None:
    release, asked = fetch(html("1.1"), "text/html")
    assert release.status is None
    assert all(not f.provenance_listed and f.provenance is None for f in release.files)
    assert asked[1:] == [
        "https://index.example.com/integrity/demo/1.0/demo-1.0.tar.gz/provenance",
        "https://index.example.com/integrity/demo/1.0/demo-1.0-py3-none-any.whl/provenance",
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"status": "quarantined", "reason": "malware"}, ProjectStatus("quarantined", "malware")),
        ({"status": "active"}, None),
        ({"status": "Deprecated"}, ProjectStatus("deprecated")),
        (None, None),
    ],
)
def test_json_page_status(status: dict[str, str] | None, expected: ProjectStatus | None) -> None:
    document: dict[str, object] = {
        "meta": {"api-version": "1.4"},
        "name": "demo",
        "files": [
            {
                "filename": "demo-1.0.tar.gz",
                "url": "https://files.example.com/demo-1.0.tar.gz",
                "hashes": {"sha256": SHA},
                "provenance": None,
            }
        ],
    }
    if status is not None:
        document["project-status"] = status
    release, asked = fetch(json.dumps(document).encode(), "application/vnd.pypi.simple.v1+json")
    assert release.status == expected
    (file,) = release.files
    assert (file.provenance, file.provenance_listed) == (None, True)
    assert len(asked) == 1  # null provenance on a 1.4 page: nothing to ask


@pytest.mark.parametrize(
    ("index", "base"),
    [
        ("https://index.example.com/simple", "https://index.example.com"),
        ("https://index.example.com/simple/", "https://index.example.com"),
        (
            "https://user:pw@index.example.com/mirror/simple",
            "https://user:pw@index.example.com/mirror",
        ),
        ("https://index.example.com/root/pypi/+simple/", None),
    ],
)
def test_integrity_base(index: str, base: str | None) -> None:
    assert integrity_base(index) == base
