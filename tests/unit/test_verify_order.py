"""The order verify asks for the pinned releases: the biggest pages first, so that the page
a run waits for last is a small one (the run ends as soon as that page is read)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hardenreq.errors import NotOnIndex
from hardenreq.index.location import IndexSettings
from hardenreq.models import FindingKind, Pin, Release
from hardenreq.reqfile.parse import parse_requirements
from hardenreq.verify import verify_tree


def _hashes(count: int) -> str:
    return "".join(f" --hash=sha256:{index:064x}" for index in range(count))


class _Recording:
    """An index that has none of the releases, and records what it was asked, in order."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def fetch_release(self, pin: Pin) -> Release:
        self.asked.append(str(pin.name))
        await asyncio.sleep(0)
        raise NotOnIndex(f"{pin}: not here")

    async def digest(self, url: str, *, what: str) -> str | None:
        raise AssertionError(url)

    async def fetch_requires(self, release: Release) -> tuple[str, ...] | None:
        raise AssertionError(release)


def test_the_releases_with_the_most_files_are_asked_for_first(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(
        f"alpha==1.0{_hashes(2)}\n"
        f"beta==1.0{_hashes(1)}\n"
        f"gamma==1.0{_hashes(2)}\n"
        f"omega==1.0{_hashes(40)}\n"
        f"zeta==1.0{_hashes(9)}\n"
        f"delta==1.0{_hashes(9)}\n",
        encoding="utf-8",
    )
    index = _Recording()
    report = asyncio.run(
        verify_tree(parse_requirements([lock]), IndexSettings("https://index.example.com"), index)
    )
    # Most hashes first; alike, by name.
    assert index.asked == ["omega", "delta", "zeta", "alpha", "gamma", "beta"]
    # The report is in file and line order whatever the order of the answers.
    missing = [f for f in report.findings if f.kind == FindingKind.NOT_FOUND]
    assert [f.line for f in missing] == [1, 2, 3, 4, 5, 6]
