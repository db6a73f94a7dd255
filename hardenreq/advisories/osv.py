"""The OSV API (https://google.github.io/osv.dev/api/) as a source of advisories.

All pins go in one ``POST {base}/querybatch`` (1,000 queries a request, OSV's limit; pages
followed by ``page_token``); the batch answers IDs only, so each new ID's record is then
fetched with ``GET {base}/vulns/{id}``, concurrently, once per run (later calls reuse it).
Every request goes through hardenreq's ``HttpFetcher``: TLS verified, bounded in size and
time, no redirect from https to http, URLs redacted in messages. The server's matching of
name and version is taken as it is; withdrawn records are dropped.

The default base URL is OSV's public API. OSV is not a package registry; a mirror or a
proxy of it is given with ``--osv-url``, ``osv-url`` in ``[tool.hardenreq]`` or
``HARDENREQ_OSV_URL``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final
from urllib.parse import quote, urlsplit

import msgspec

from hardenreq.advisories import DEFAULT_OSV_URL
from hardenreq.advisories.match import ECOSYSTEM, OsvRecord, RecordInvalid, decode_record, valid_id
from hardenreq.errors import IndexResponseInvalid, IndexUnavailable
from hardenreq.index.client import HttpFetcher
from hardenreq.models import Pin
from hardenreq.redact import redact_url

__all__ = ["DEFAULT_OSV_URL", "MAX_BATCH", "OsvApi", "osv_base"]

#: Queries per ``querybatch`` request: OSV's documented limit.
MAX_BATCH: Final = 1000
# A query whose answer runs to more pages than this is cut off: a real one needs one or two.
_MAX_PAGES: Final = 50
_JSON: Final = "application/json"
# Statuses answered here with a message about the OSV API (the client's own words are
# about an index).
_NOT_OK: Final = frozenset({400, 401, 403, 404, 405, 413, 422})
_WHAT: Final = "OSV API"


class _Hit(msgspec.Struct):
    id: str
    modified: str | None = None


class _Result(msgspec.Struct):
    vulns: list[_Hit] = msgspec.field(default_factory=list)
    next_page_token: str | None = None


class _Batch(msgspec.Struct):
    results: list[_Result] = msgspec.field(default_factory=list)


_batch_decoder = msgspec.json.Decoder(_Batch)
_encoder = msgspec.json.Encoder()


def osv_base(url: str) -> str:
    """The API's base URL as given, without a trailing slash; the endpoint pip-audit takes
    (``.../v1/query``) and ``.../v1/querybatch`` are accepted and cut back to ``.../v1``."""
    base = url.rstrip("/")
    for endpoint in ("/querybatch", "/query"):
        if base.endswith(endpoint):
            return base.removesuffix(endpoint)
    return base


class OsvApi:
    """Queries one OSV API for the pins of a run; records are cached for the run."""

    def __init__(self, fetcher: HttpFetcher, url: str = DEFAULT_OSV_URL) -> None:
        self._fetcher = fetcher
        self._base = osv_base(url)
        self.location = redact_url(self._base)
        self._records: dict[str, asyncio.Future[OsvRecord]] = {}
        self.requests = 0

    @property
    def plain_http(self) -> bool:
        """Whether answers come over plain http from another machine (they can be changed
        on the way: advisories hidden)."""
        parts = urlsplit(self._base)
        return parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1")

    async def affecting(self, pins: Sequence[Pin]) -> dict[Pin, list[OsvRecord]]:
        """The records that affect each pin (withdrawn ones dropped). Raises
        IndexUnavailable or IndexResponseInvalid (the caller reports the source)."""
        ids = await self._query(pins)
        wanted = sorted({identifier for found in ids.values() for identifier in found})
        records = dict(zip(wanted, await asyncio.gather(*map(self.record, wanted)), strict=True))
        return {
            pin: [records[i] for i in found if not records[i].withdrawn]
            for pin, found in ids.items()
        }

    async def record(self, identifier: str) -> OsvRecord:
        """One record by ID, fetched at most once per run."""
        pending = self._records.get(identifier)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(identifier))
            self._records[identifier] = pending
        return await asyncio.shield(pending)

    async def _fetch(self, identifier: str) -> OsvRecord:
        url = f"{self._base}/vulns/{quote(identifier, safe='')}"
        self.requests += 1
        response = await self._fetcher.get(url, what=_WHAT, accept=_JSON, answer=_NOT_OK)
        _check_status(response.status, url)
        try:
            record = decode_record(response.body)
        except RecordInvalid as exc:
            raise IndexResponseInvalid(
                f"{_WHAT}: {redact_url(url)} is not an OSV record: {exc}"
            ) from exc
        if record.id != identifier:
            raise IndexResponseInvalid(
                f"{_WHAT}: {redact_url(url)} answered with the record {record.id}, not {identifier}"
            )
        return record

    async def _query(self, pins: Sequence[Pin]) -> dict[Pin, list[str]]:
        found: dict[Pin, list[str]] = {pin: [] for pin in pins}
        pending: list[tuple[Pin, str | None]] = [(pin, None) for pin in pins]
        for _page in range(_MAX_PAGES):
            if not pending:
                return found
            chunks = [pending[i : i + MAX_BATCH] for i in range(0, len(pending), MAX_BATCH)]
            answers = await asyncio.gather(*map(self._batch, chunks))
            pending = []
            for chunk, results in zip(chunks, answers, strict=True):
                for (pin, _token), result in zip(chunk, results, strict=True):
                    for hit in result.vulns:
                        if not valid_id(hit.id):
                            raise IndexResponseInvalid(
                                f"{_WHAT}: {self.location} named an advisory "
                                f"{hit.id[:60]!r}, which is not an OSV ID"
                            )
                        if hit.id not in found[pin]:
                            found[pin].append(hit.id)
                    if result.next_page_token:
                        pending.append((pin, result.next_page_token))
        raise IndexResponseInvalid(
            f"{_WHAT}: {self.location} kept answering with more pages (over {_MAX_PAGES})"
        )

    async def _batch(self, chunk: Sequence[tuple[Pin, str | None]]) -> list[_Result]:
        queries: list[dict[str, object]] = []
        for pin, token in chunk:
            query: dict[str, object] = {
                "package": {"name": str(pin.name), "ecosystem": ECOSYSTEM},
                "version": str(pin.version),
            }
            if token is not None:
                query["page_token"] = token
            queries.append(query)
        url = f"{self._base}/querybatch"
        self.requests += 1
        response = await self._fetcher.post(
            url, _encoder.encode({"queries": queries}), what=_WHAT, accept=_JSON, answer=_NOT_OK
        )
        _check_status(response.status, url)
        try:
            batch = _batch_decoder.decode(response.body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise IndexResponseInvalid(
                f"{_WHAT}: {redact_url(url)} did not answer with a batch of results: "
                f"{str(exc)[:200]}"
            ) from exc
        if len(batch.results) != len(chunk):
            raise IndexResponseInvalid(
                f"{_WHAT}: {redact_url(url)} answered {len(batch.results)} results for "
                f"{len(chunk)} queries"
            )
        return batch.results


def _check_status(status: int, url: str) -> None:
    if status == 200:
        return
    hint = " (are the credentials in the URL or ~/.netrc right?)" if status in (401, 403) else ""
    raise IndexUnavailable(f"{_WHAT}: {redact_url(url)} answered HTTP {status}{hint}")
