"""The advisory check of one run: ask every enabled source about the pins, merge what they
say per pin, and turn it into findings (verify), warnings or an error (harden).

A source that cannot be used (the OSV API down, answering garbage) becomes an
``advisories-unavailable`` finding that names it, never a silent "no vulnerabilities";
with ``require`` it stops the run instead (AdvisoriesUnavailable, exit 3). A dump named with
``--advisory-db`` that cannot be read is bad input (exit 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName

from hardenreq.advisories import AdvisoryOptions
from hardenreq.advisories.match import affects, merge
from hardenreq.errors import AdvisoriesUnavailable, HardenreqError, InputError
from hardenreq.layout import display_path
from hardenreq.models import (
    AdvisorySource,
    Finding,
    FindingKind,
    Pin,
    Release,
    Severity,
    Vulnerability,
)

if TYPE_CHECKING:
    from hardenreq.advisories.offline import AdvisoryDatabase
    from hardenreq.advisories.osv import OsvApi
    from hardenreq.index.client import HttpFetcher

__all__ = [
    "AdvisoryChecker",
    "AdvisoryLookup",
    "advisory_findings",
    "describe",
    "source_findings",
]

logger = logging.getLogger(__name__)

INDEX = "index"
OSV_API = "osv-api"
ADVISORY_DB = "advisory-db"
_SHOWN_IDS = 3


@dataclass(slots=True)
class AdvisoryLookup:
    """What the OSV API and the dump said about a set of pins, and how each source went."""

    found: dict[Pin, list[Vulnerability]] = field(default_factory=dict)
    sources: list[AdvisorySource] = field(default_factory=list)


class AdvisoryChecker:
    """The enabled sources of one run. ``fetcher`` is needed for the OSV API only."""

    def __init__(self, options: AdvisoryOptions, fetcher: HttpFetcher | None = None) -> None:
        self.options = options
        self._api: OsvApi | None = None
        if options.use_osv_api:
            if fetcher is None:
                raise ValueError("the OSV API needs an HttpFetcher")
            from hardenreq.advisories.osv import OsvApi

            self._api = OsvApi(fetcher, options.osv_url)
        self._database: AdvisoryDatabase | None = None
        self._loaded: frozenset[NormalizedName] = frozenset()

    async def lookup(self, pins: Sequence[Pin]) -> AdvisoryLookup:
        """Ask the OSV API and the dump about ``pins`` (the index's data is added per pin
        by ``vulnerabilities``). Raises AdvisoriesUnavailable when a source fails and the
        options require every source, InputError for a dump that cannot be read."""
        lookup = AdvisoryLookup({pin: [] for pin in pins})
        if not self.options.enabled:
            return lookup
        api = self._ask_api(self._api, pins) if self._api is not None else None
        offline = AdvisoryLookup({pin: [] for pin in pins})
        try:
            path = self.options.advisory_db
            if path is not None:
                self._add_database(offline, pins, await self._load(path, {p.name for p in pins}))
        except BaseException:
            if api is not None:
                api.cancel()
                with contextlib.suppress(BaseException):
                    await api
            raise
        if api is not None:
            status = await api
            if isinstance(status, AdvisorySource):
                lookup.sources.append(status)
            else:
                records, source = status
                lookup.sources.append(source)
                for pin, found in records.items():
                    lookup.found[pin].extend(found)
        # In the order of the sources: the API, then the dump.
        lookup.sources += offline.sources
        for pin, found in offline.found.items():
            lookup.found[pin].extend(found)
        failed = [s for s in lookup.sources if not s.ok]
        if failed and self.options.require:
            raise AdvisoriesUnavailable(
                "; ".join(f"{_source_name(s)} could not be used: {s.problem}" for s in failed),
                hint="check the network and --osv-url, or give an offline dump with "
                "--advisory-db; without --require-advisories this is a warning",
            )
        return lookup

    def _ask_api(
        self, api: OsvApi, pins: Sequence[Pin]
    ) -> asyncio.Future[tuple[dict[Pin, list[Vulnerability]], AdvisorySource] | AdvisorySource]:
        async def ask() -> tuple[dict[Pin, list[Vulnerability]], AdvisorySource] | AdvisorySource:
            try:
                records = await api.affecting(pins)
            except InputError as exc:
                return AdvisorySource(OSV_API, api.location, ok=False, problem=exc.message)
            except HardenreqError as exc:
                logger.info("the OSV API failed: %s", exc.message)
                return AdvisorySource(OSV_API, api.location, ok=False, problem=exc.message)
            found = {
                pin: [r.vulnerability(pin.name, OSV_API) for r in records[pin]] for pin in pins
            }
            count = len({r.id for rs in records.values() for r in rs})
            return found, AdvisorySource(OSV_API, api.location, records=count)

        return asyncio.ensure_future(ask())

    async def _load(self, path: Path, names: set[NormalizedName]) -> AdvisoryDatabase:
        """The dump, read once per run for the projects asked (again only for new ones)."""
        if self._database is not None and names <= self._loaded:
            return self._database
        from hardenreq.advisories.offline import load_database

        wanted = frozenset(names | self._loaded)
        # In a thread: the network requests of the same run go on meanwhile.
        self._database = await asyncio.to_thread(load_database, path, wanted)
        self._loaded = wanted
        return self._database

    def _add_database(
        self, lookup: AdvisoryLookup, pins: Sequence[Pin], database: AdvisoryDatabase
    ) -> None:
        matched: set[str] = set()
        for pin in pins:
            for record in database.by_name.get(pin.name, ()):
                if affects(record.affected.get(pin.name, ()), pin.version):
                    lookup.found[pin].append(record.vulnerability(pin.name, ADVISORY_DB))
                    matched.add(record.id)
        if database.skipped:
            logger.warning(
                "%s: %d records of the advisory database are not valid OSV JSON (or too "
                "large) and were skipped",
                display_path(database.path),
                database.skipped,
            )
        lookup.sources.append(
            AdvisorySource(
                ADVISORY_DB,
                display_path(database.path),
                records=database.records,
                sha256=database.sha256,
                date=database.date,
                skipped=database.skipped,
            )
        )

    def vulnerabilities(
        self, lookup: AdvisoryLookup, pin: Pin, release: Release | None
    ) -> list[Vulnerability]:
        """Everything known about ``pin`` from every enabled source, aliases merged."""
        if not self.options.enabled:
            return []
        items = list(lookup.found.get(pin, ()))
        if self.options.use_index and release is not None and release.vulnerabilities:
            items += [dataclasses.replace(v, sources=(INDEX,)) for v in release.vulnerabilities]
        return merge(items)

    def sources(
        self, lookup: AdvisoryLookup, releases: Iterable[Release | None]
    ) -> tuple[AdvisorySource, ...]:
        """Every source asked, the index first; none when the check is off."""
        if not self.options.enabled:
            return ()
        shown: list[AdvisorySource] = []
        if self.options.use_index:
            served = [r.vulnerabilities for r in releases if r is not None]
            known = {v.id for vs in served if vs is not None for v in vs}
            note = "" if any(vs is not None for vs in served) else "no vulnerability data served"
            shown.append(AdvisorySource(INDEX, records=len(known), note=note))
        return (*shown, *lookup.sources)


def _source_name(source: AdvisorySource) -> str:
    names = {INDEX: "the index", OSV_API: "the OSV API", ADVISORY_DB: "the advisory database"}
    where = f" ({source.location})" if source.location else ""
    return f"{names.get(source.name, source.name)}{where}"


def describe(vulnerability: Vulnerability) -> str:
    """``PYSEC-2023-74 (CVE-2023-32681, GHSA-j8r2-6x86-q33q)``: the ID and its aliases."""
    if not vulnerability.aliases:
        return vulnerability.id
    return f"{vulnerability.id} ({', '.join(vulnerability.aliases)})"


def advisory_findings(
    pin: Pin,
    vulnerabilities: Sequence[Vulnerability],
    file: str,
    line: int | None,
    options: AdvisoryOptions,
) -> list[Finding]:
    """One finding per merged advisory of ``pin``: ``malicious`` for malware reports (always
    an error), ``vulnerable`` for the rest (graded by the options)."""
    findings: list[Finding] = []
    name, version = str(pin.name), str(pin.version)
    for vulnerability in vulnerabilities:
        details: tuple[tuple[str, object], ...] = (
            ("id", vulnerability.id),
            ("aliases", list(vulnerability.aliases)),
            ("summary", vulnerability.summary),
            ("fixed_in", list(vulnerability.fixed_in)),
            ("link", vulnerability.link),
            ("sources", list(vulnerability.sources)),
        )
        summary = f": {vulnerability.summary}" if vulnerability.summary else ""
        link = f" ({vulnerability.link})" if vulnerability.link else ""
        if vulnerability.malicious:
            findings.append(
                Finding(
                    FindingKind.MALICIOUS,
                    file,
                    line,
                    f"{pin} is reported as malware: {describe(vulnerability)}{summary}{link}; "
                    "remove it, and treat any machine that installed it as compromised",
                    name,
                    version,
                    details,
                )
            )
            continue
        fixed = ", ".join(vulnerability.fixed_in) or "no fixed release yet"
        level = None if options.vulnerable_severity == Severity.ERROR else Severity.WARNING
        findings.append(
            Finding(
                FindingKind.VULNERABLE,
                file,
                line,
                f"{pin}: {describe(vulnerability)}{summary}; fixed in: {fixed}{link}",
                name,
                version,
                details,
                level=level,
            )
        )
    return findings


def source_findings(sources: Iterable[AdvisorySource], file: str) -> list[Finding]:
    """An ``advisories-unavailable`` warning for each source that could not be used."""
    return [
        Finding(
            FindingKind.ADVISORIES_UNAVAILABLE,
            file,
            None,
            f"{_source_name(source)} could not be used: {source.problem}; known "
            "vulnerabilities and malware it would report are not checked",
            details=(
                ("source", source.name),
                ("location", source.location),
                ("problem", source.problem),
            ),
        )
        for source in sources
        if not source.ok
    ]


def harden_notes(
    checker: AdvisoryChecker, lookup: AdvisoryLookup, releases: Mapping[Pin, Release]
) -> tuple[list[str], list[str]]:
    """What harden says about the pins it writes: warnings (vulnerable pins, sources that
    failed) and errors (malware)."""
    warnings = [
        f"{_source_name(s)} could not be used: {s.problem}; the pins written were not "
        "checked against it"
        for s in lookup.sources
        if not s.ok
    ]
    errors: list[str] = []
    for pin in sorted(releases, key=str):
        found = checker.vulnerabilities(lookup, pin, releases[pin])
        malware = [v for v in found if v.malicious]
        if malware:
            errors.append(
                f"{pin} is reported as malware: "
                + "; ".join(describe(v) + (f": {v.summary}" if v.summary else "") for v in malware)
            )
        vulnerable = [v for v in found if not v.malicious]
        if vulnerable:
            ids = ", ".join(v.id for v in vulnerable[:_SHOWN_IDS])
            more = (
                f" and {len(vulnerable) - _SHOWN_IDS} more" if len(vulnerable) > _SHOWN_IDS else ""
            )
            fixes = sorted({f for v in vulnerable for f in v.fixed_in})
            fixed = f" (fixed in {', '.join(fixes)})" if fixes else " (no fixed release yet)"
            warnings.append(
                f"{pin} has {len(vulnerable)} known "
                f"{'vulnerability' if len(vulnerable) == 1 else 'vulnerabilities'}: "
                f"{ids}{more}{fixed}; `hardenreq refresh --fix-vulnerable` moves it to the "
                "nearest fixed release"
            )
    return warnings, errors
