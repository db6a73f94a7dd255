"""Where a file's PEP 740 provenance comes from: the URL its simple page names, else the
index's integrity API (``<root>/integrity/<project>/<version>/<filename>/provenance``).

Every request goes through the run's ``HttpFetcher`` (bounded in size and time, retried,
credentials to their own origin only); each URL is asked once per event loop, however many
pins share the file. An index that has no integrity API answers 404 there, which means
"no provenance": so does an answer that is not JSON (a proxy's catch-all page), which is
logged. The bytes are verified elsewhere (``hardenreq.provenance``), never here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from urllib.parse import quote, urlsplit, urlunsplit

from hardenreq.index.client import HttpFetcher
from hardenreq.models import DistributionFile, Release
from hardenreq.redact import redact_url

__all__ = ["INTEGRITY_MEDIA_TYPE", "ProvenanceFetcher", "integrity_base"]

logger = logging.getLogger(__name__)

INTEGRITY_MEDIA_TYPE = "application/vnd.pypi.integrity.v1+json"
_ACCEPT = f"{INTEGRITY_MEDIA_TYPE}, application/json;q=0.9"
# "This index has no provenance here": no such file, or no such route (a mirror or proxy
# that refuses paths it does not know).
_NONE = frozenset({400, 401, 403, 404, 405, 410, 501})


def integrity_base(index_url: str) -> str | None:
    """The root under which an index whose simple URL ends in ``/simple`` serves its
    integrity API (the public index's layout), else None."""
    parts = urlsplit(index_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/simple"):
        return None
    return urlunsplit(parts._replace(path=path[: -len("/simple")], query="", fragment=""))


class ProvenanceFetcher:
    """Fetches provenance objects for release files (``hardenreq.provenance.ProvenanceClient``).

    ``index_urls`` are the run's indexes, unredacted: the integrity API of each (in order)
    is asked for a file whose page names no provenance URL, until one has it.
    """

    def __init__(self, fetcher: HttpFetcher, index_urls: Sequence[str]) -> None:
        self._fetcher = fetcher
        self._bases = [base for base in map(integrity_base, index_urls) if base is not None]
        self._pending: dict[str, asyncio.Future[bytes | None]] = {}
        self.requests = 0

    def urls(self, release: Release, file: DistributionFile) -> list[str]:
        """Where the provenance of ``file`` would be: none at all when the page speaks PEP
        740 and names none."""
        if file.provenance:
            return [file.provenance]
        if file.provenance_listed:
            return []
        name, version = quote(release.pin.name), quote(str(release.pin.version))
        filename = quote(file.filename, safe="")
        return [f"{base}/integrity/{name}/{version}/{filename}/provenance" for base in self._bases]

    async def fetch_provenance(self, release: Release, file: DistributionFile) -> bytes | None:
        """The provenance object of ``file`` as the index sent it, or None when it has none.

        Raises IndexUnavailable or IndexResponseInvalid as any index request does.
        """
        for url in self.urls(release, file):
            body = await self._once(url, f"{release.pin}: {file.filename}")
            if body is not None:
                return body
        return None

    async def _once(self, url: str, what: str) -> bytes | None:
        pending = self._pending.get(url)
        if pending is None:
            pending = asyncio.ensure_future(self._get(url, what))
            self._pending[url] = pending
        return await asyncio.shield(pending)

    async def _get(self, url: str, what: str) -> bytes | None:
        self.requests += 1
        response = await self._fetcher.get(url, what=what, accept=_ACCEPT, answer=_NONE)
        if response.status != 200:
            return None
        media_type = response.content_type.split(";")[0].strip().lower()
        if "json" not in media_type:
            logger.info(
                "%s: %s answered %s, not a provenance object: taken as none",
                what,
                redact_url(url),
                media_type or "no Content-Type",
            )
            return None
        return response.body
