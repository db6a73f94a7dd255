"""OSV records and what they say about a pinned release: pure functions, no I/O.

``decode_record`` reads one OSV record (JSON, schema 1.x) into an ``OsvRecord``, keeping only
its ``PyPI`` entries, by normalized project name. ``affects`` decides whether a version is
in an ``affected`` entry: listed in ``versions``, or inside an ``ECOSYSTEM`` range, whose
``introduced`` / ``fixed`` / ``last_affected`` events are ordered by PEP 440 (``"0"`` is
before every version), as the OSV schema's evaluation algorithm says. ``merge`` joins the
records of one pin whose IDs or aliases meet (PYSEC-2023-74 and GHSA-j8r2-6x86-q33q share
CVE-2023-32681) into one ``Vulnerability``. ``still_affects`` and ``fix_target`` say which
release fixes what (``refresh --fix-vulnerable``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from hardenreq.models import AffectedVersions, Vulnerability

__all__ = [
    "ECOSYSTEM",
    "FixPlan",
    "OsvRecord",
    "RecordInvalid",
    "affects",
    "decode_record",
    "fix_target",
    "is_malicious",
    "merge",
    "record_names",
    "still_affects",
    "valid_id",
]

#: The OSV ecosystem name of the Python Package Index (OSV schema, "Defined ecosystems").
ECOSYSTEM = "PyPI"
#: Where an advisory's page is: OSV's site names every ID of every database it imports.
_ADVISORY_PAGE = "https://osv.dev/vulnerability/{id}"
# OSV IDs are "<DB>-<ENTRY>" of letters, digits and a few punctuation marks; anything else
# is refused before it goes into a URL or a message.
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_MAX_SUMMARY = 300
# Malware reports (ossf/malicious-packages) have IDs "MAL-YYYY-N".
_MALWARE_PREFIX = "MAL-"
_ID_PRIORITY = ("PYSEC-", "GHSA-", "MAL-")


class RecordInvalid(ValueError):
    """A record that is not OSV JSON of schema 1.x (the reader says which one)."""


# --- the parts of a record that are read; msgspec leaves the rest undecoded --------------


class _Event(msgspec.Struct):
    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None
    limit: str | None = None


class _Range(msgspec.Struct):
    type: str = ""
    events: list[_Event] = msgspec.field(default_factory=list)


class _Package(msgspec.Struct):
    ecosystem: str = ""
    name: str = ""


class _Affected(msgspec.Struct):
    package: _Package | None = None
    ranges: list[_Range] = msgspec.field(default_factory=list)
    versions: list[str] = msgspec.field(default_factory=list)


class _Record(msgspec.Struct):
    id: str
    schema_version: str | None = None
    modified: str | None = None
    withdrawn: str | None = None
    aliases: list[str] | None = None
    summary: str | None = None
    details: str | None = None
    affected: list[_Affected] | None = None


class _NamesOnly(msgspec.Struct):
    modified: str | None = None
    affected: list[_Affected] | None = None


_record_decoder = msgspec.json.Decoder(_Record)
_names_decoder = msgspec.json.Decoder(_NamesOnly)


@dataclass(frozen=True, slots=True)
class OsvRecord:
    """One OSV record, reduced to what hardenreq reports: its PyPI entries by project."""

    id: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    modified: str = ""
    withdrawn: bool = False
    affected: Mapping[NormalizedName, tuple[AffectedVersions, ...]] = field(default_factory=dict)

    @property
    def malicious(self) -> bool:
        """Whether this is a malware report (an ossf/malicious-packages ``MAL-`` record)."""
        return is_malicious(self.id)

    def vulnerability(self, name: NormalizedName, source: str) -> Vulnerability:
        """What this record says about project ``name``, as one Vulnerability."""
        # An entry with neither versions nor ECOSYSTEM ranges (GIT ranges only) cannot say
        # which release is clean: it is kept out, and the fixed versions decide.
        entries = tuple(e for e in self.affected.get(name, ()) if e.versions or e.ranges)
        return Vulnerability(
            id=self.id,
            aliases=self.aliases,
            summary=self.summary,
            fixed_in=_fixed_versions(entries),
            link=_ADVISORY_PAGE.format(id=self.id),
            malicious=self.malicious,
            affected=entries,
            sources=(source,),
        )


def valid_id(text: str) -> bool:
    """Whether ``text`` has the shape of an OSV ID (safe in a URL path and a message)."""
    return _ID_RE.fullmatch(text) is not None


def is_malicious(identifier: str) -> bool:
    """Whether an ID names a malware report."""
    return identifier.upper().startswith(_MALWARE_PREFIX)


def decode_record(data: bytes) -> OsvRecord:
    """One OSV record from its JSON bytes; raises RecordInvalid for anything else."""
    try:
        record = _record_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RecordInvalid(str(exc)[:200]) from None
    if not valid_id(record.id):
        raise RecordInvalid(f"the record's id {record.id[:60]!r} is not an OSV ID")
    if record.schema_version is not None and not record.schema_version.startswith("1."):
        raise RecordInvalid(f"schema version {record.schema_version[:20]!r} is not 1.x")
    affected: dict[NormalizedName, list[AffectedVersions]] = {}
    for entry in record.affected or ():
        package = entry.package
        if package is None or package.ecosystem != ECOSYSTEM or not package.name:
            continue
        ranges = tuple(
            tuple(_events(r.events)) for r in entry.ranges if r.type == "ECOSYSTEM" and r.events
        )
        affected.setdefault(canonicalize_name(package.name), []).append(
            AffectedVersions(tuple(entry.versions), ranges)
        )
    return OsvRecord(
        id=record.id,
        aliases=tuple(a for a in record.aliases or () if valid_id(a) and a != record.id),
        summary=_summary(record.summary, record.details),
        modified=record.modified or "",
        withdrawn=bool(record.withdrawn),
        affected={name: tuple(entries) for name, entries in affected.items()},
    )


def record_names(data: bytes) -> tuple[set[NormalizedName], str | None]:
    """The PyPI projects a record names and its ``modified`` time, read cheaply (to skip
    the records of a dump that no pin needs); raises RecordInvalid."""
    try:
        record = _names_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RecordInvalid(str(exc)[:200]) from None
    names = {
        canonicalize_name(entry.package.name)
        for entry in record.affected or ()
        if entry.package is not None and entry.package.ecosystem == ECOSYSTEM
    }
    return names, record.modified


def _events(events: Iterable[_Event]) -> Iterable[tuple[str, str]]:
    for event in events:
        for kind in ("introduced", "fixed", "last_affected"):
            value = getattr(event, kind)
            if value is not None:
                yield kind, value


def _summary(summary: str | None, details: str | None) -> str:
    """The record's summary, else the first non-empty line of its details; one line."""
    text = summary or next((line for line in (details or "").splitlines() if line.strip()), "")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SUMMARY else text[: _MAX_SUMMARY - 3] + "..."


@functools.lru_cache(maxsize=65536)
def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _fixed_versions(entries: Iterable[AffectedVersions]) -> tuple[str, ...]:
    fixed = {
        version
        for entry in entries
        for events in entry.ranges
        for kind, version in events
        if kind == "fixed" and _version(version) is not None
    }
    return tuple(sorted(fixed, key=lambda v: _version(v) or Version("0")))


# --- matching ----------------------------------------------------------------------------


def affects(entries: Iterable[AffectedVersions], version: Version) -> bool:
    """Whether ``version`` is in any of ``entries``: listed, or inside a range.

    A range whose events hold a version PEP 440 cannot read is skipped (it cannot be
    ordered); its ``versions`` list still counts.
    """
    for entry in entries:
        if any(_listed(text, version) for text in entry.versions):
            return True
        if any(_in_range(events, version) for events in entry.ranges):
            return True
    return False


def _listed(text: str, version: Version) -> bool:
    listed = _version(text)
    return listed == version if listed is not None else text == str(version)


def _in_range(events: Sequence[tuple[str, str]], version: Version) -> bool:
    """The OSV schema's evaluation of one ECOSYSTEM range: walk the events in version order;
    ``introduced`` at or below the version opens it, ``fixed`` at or below (``last_affected``
    below) closes it."""
    ordered: list[tuple[Version, int, str]] = []
    for kind, text in events:
        if kind == "introduced" and text == "0":
            ordered.append((Version("0"), 0, kind))
            continue
        at = _version(text)
        if at is None:
            return False
        # At one version, "introduced" comes first: "fixed" at the same version wins.
        ordered.append((at, 0 if kind == "introduced" else 1, kind))
    ordered.sort()
    affected = False
    for at, _, kind in ordered:
        if kind == "introduced":
            affected = affected or version >= at
        elif version > at or (kind == "fixed" and version == at):
            affected = False
    return affected


# --- merging aliases ---------------------------------------------------------------------


def merge(vulnerabilities: Iterable[Vulnerability]) -> list[Vulnerability]:
    """``vulnerabilities`` of one pin with every group that shares an ID or an alias joined,
    transitively, into one: a CVE known to several databases is one finding.

    The merged ID is a record's own ID, PYSEC first (the index's own database, as pip-audit
    chooses), then GHSA, then MAL, then the rest by name; the others become aliases; the
    summary is the group's shortest. The result is sorted by ID.
    """
    items = list(vulnerabilities)
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for index, item in enumerate(items):
        for name in (item.id, *item.aliases):
            key = name.upper()
            if key in owner:
                parent[root(index)] = root(owner[key])
            else:
                owner[key] = index
    groups: dict[int, list[Vulnerability]] = {}
    for index, item in enumerate(items):
        groups.setdefault(root(index), []).append(item)
    merged = [_joined(group) for group in groups.values()]
    return sorted(merged, key=lambda v: v.id)


def _priority(identifier: str) -> tuple[int, str]:
    upper = identifier.upper()
    rank = next((i for i, p in enumerate(_ID_PRIORITY) if upper.startswith(p)), len(_ID_PRIORITY))
    return rank, identifier


def _joined(group: list[Vulnerability]) -> Vulnerability:
    first = min(group, key=lambda v: _priority(v.id))
    names = {name for v in group for name in (v.id, *v.aliases)}
    aliases = sorted({n for n in names if n.upper() != first.id.upper()})
    # The shortest: a record without a summary gives the first line of its details, which
    # is longer than the one-line summary another database gives the same advisory.
    summary = min((v.summary for v in group if v.summary), key=len, default="")
    fixed = {f for v in group for f in v.fixed_in}
    affected: list[AffectedVersions] = []
    for v in group:
        affected += [a for a in v.affected if a not in affected]
    sources: list[str] = []
    for v in group:
        sources += [s for s in v.sources if s not in sources]
    return Vulnerability(
        id=first.id,
        aliases=tuple(aliases),
        summary=summary,
        fixed_in=tuple(sorted(fixed, key=lambda v: _version(v) or Version("0"))),
        link=first.link or next((v.link for v in group if v.link), None),
        malicious=any(v.malicious for v in group),
        # An index-only member knows its fixes but not its ranges: then no ranges are
        # trusted to say a version is clean, and the fixed versions decide.
        affected=tuple(affected) if all(v.affected for v in group) else (),
        sources=tuple(sources),
    )


# --- fixing ------------------------------------------------------------------------------


def still_affects(vulnerability: Vulnerability, version: Version, pinned: Version) -> bool:
    """Whether ``version`` (a candidate upgrade of ``pinned``) is still affected.

    With OSV ranges, by them. With only the index's fixed versions, a candidate is clean
    when a fixed version lies after the pin and at or before the candidate.
    """
    if vulnerability.affected:
        return affects(vulnerability.affected, version)
    for text in vulnerability.fixed_in:
        fixed = _version(text)
        if fixed is not None and pinned < fixed <= version:
            return False
    return True


@dataclass(frozen=True, slots=True)
class FixPlan:
    """For one vulnerable pin: the release to move to (None: none helps), the advisories
    that release fixes, and those that no allowed release fixes."""

    target: Version | None
    fixed: tuple[str, ...]
    unfixed: tuple[str, ...]


def fix_target(
    pinned: Version,
    vulnerabilities: Sequence[Vulnerability],
    candidates: Sequence[Version],
    known: Mapping[Version, Sequence[Vulnerability]] | None = None,
) -> FixPlan:
    """The lowest of ``candidates`` (allowed releases after the pin) that fixes every
    advisory of the pin that some candidate fixes.

    Among candidates that fix as many of them as any can, one with fewer advisories of its
    own (``known``, the advisories found for each candidate) wins, then the lowest: a nearer
    release that brings a new advisory loses to one that does not.
    """
    if not vulnerabilities:
        return FixPlan(None, (), ())
    known = known or {}
    ids = {v.id for v in vulnerabilities}
    best: tuple[int, int, Version] | None = None
    for candidate in sorted(set(candidates)):
        left = sum(still_affects(v, candidate, pinned) for v in vulnerabilities)
        new = sum(1 for v in known.get(candidate, ()) if v.id not in ids)
        key = (left, new, candidate)
        if best is None or key < best:
            best = key
    if best is None or best[0] == len(vulnerabilities):
        return FixPlan(None, (), tuple(sorted(ids)))
    target = best[2]
    fixed = tuple(sorted(v.id for v in vulnerabilities if not still_affects(v, target, pinned)))
    unfixed = tuple(sorted(ids - set(fixed)))
    return FixPlan(target, fixed, unfixed)
