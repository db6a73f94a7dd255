"""What the core asks of an index, as a Protocol: no httpx behind this import."""

from __future__ import annotations

from typing import Protocol

from hardenreq.models import Pin, Release

__all__ = ["IndexClient", "ReleaseSource"]


class ReleaseSource(Protocol):
    """Anything that lists the files of one pinned release: one index, or all of them."""

    async def fetch_release(self, pin: Pin) -> Release:
        """Every installable file of ``pin``.

        Raises NotOnIndex when the index does not have it, IndexUnavailable or
        IndexResponseInvalid when the index cannot be asked.
        """
        ...


class IndexClient(ReleaseSource, Protocol):
    """The index side of harden and verify: the files of a release, and direct-URL digests."""

    async def digest(self, url: str, *, what: str) -> str | None:
        """The sha256 of the file at ``url`` (downloaded and hashed), None on 404."""
        ...

    async def fetch_requires(self, release: Release) -> tuple[str, ...] | None:
        """The release's Requires-Dist, None when the index serves no metadata for it."""
        ...
