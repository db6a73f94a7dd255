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
from collections.abc import Callable, Sequence
from urllib.parse import quote, urlsplit, urlunsplit

from hardenreq.index.client import HttpFetcher
from hardenreq.index.interface import IndexClient
from hardenreq.models import DistributionFile, Pin, Release
from hardenreq.provenance import probe_file
from hardenreq.redact import redact_url

__all__ = ["INTEGRITY_MEDIA_TYPE", "PrefetchingSource", "ProvenanceFetcher", "integrity_base"]

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

    def prefetch(
        self, release: Release, files: Sequence[DistributionFile], *, probe: bool = True
    ) -> None:
        """Start asking for what ``Attestations.check`` will ask of ``files``: every URL a
        page names, and (``probe``) the first URL of the one file probed where it names
        none."""
        unlisted = [f for f in files if not f.provenance and not f.provenance_listed]
        chosen = probe_file(unlisted) if probe else None
        for file in [f for f in files if f.provenance] + ([chosen] if chosen else []):
            urls = self.urls(release, file)
            if urls:
                self._start(urls[0], f"{release.pin}: {file.filename}")

    async def aclose(self) -> None:
        """Cancel the requests still running (a run that stopped early), and wait for them:
        none may outlive the HTTP client."""
        running = [f for f in self._pending.values() if not f.done()]
        for future in running:
            future.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _once(self, url: str, what: str) -> bytes | None:
        return await asyncio.shield(self._start(url, what))

    def _start(self, url: str, what: str) -> asyncio.Future[bytes | None]:
        pending = self._pending.get(url)
        if pending is None:
            pending = asyncio.ensure_future(self._get(url, what))
            # A prefetch nobody awaits (the run stopped on another error) stays quiet.
            pending.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._pending[url] = pending
        return pending

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


class PrefetchingSource:
    """An IndexClient that starts each release's provenance requests as soon as the release
    is listed, so that they overlap the listing of the other releases (an index without
    PEP 740 then costs a run almost no time). ``choose`` gives the files a lock pins;
    ``probed``, the pins whose unlisted files are probed first (``authenticity.probe_pins``,
    and those the lock records a publisher for)."""

    def __init__(
        self,
        source: IndexClient,
        provenance: ProvenanceFetcher,
        choose: Callable[[Release], Sequence[DistributionFile]],
        probed: Callable[[Pin], bool],
    ) -> None:
        self._source = source
        self._provenance = provenance
        self._choose = choose
        self._probed = probed

    async def fetch_release(self, pin: Pin) -> Release:
        """The release, as the wrapped source lists it."""
        release = await self._source.fetch_release(pin)
        self._provenance.prefetch(release, self._choose(release), probe=self._probed(pin))
        return release

    async def digest(self, url: str, *, what: str) -> str | None:
        """As the wrapped source."""
        return await self._source.digest(url, what=what)

    async def fetch_requires(self, release: Release) -> tuple[str, ...] | None:
        """As the wrapped source."""
        return await self._source.fetch_requires(release)
