"""Authenticity, beyond integrity: who published each pinned file, the project's status on
the index, and how old the release is. Verify's findings and harden's checks, in one place.

    releases ─select→ files ─provenance (Attestations)→ outcomes ─judge(recorded)→ verdicts
             └── status (PEP 792), upload times (--min-release-age)
    verify:  verdicts → Findings (attestation-invalid, publisher-changed, ...)
    harden:  verdicts → identities written into the lock, releases held back at their old
             pin (a new version whose publisher check fails), or errors (the pinned one fails)

Findings name the files and publishers in ``details``; ``unattested`` is said once when no
pinned file has provenance (an index without PEP 740), not once per package.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName
from packaging.version import Version

from hardenreq.errors import AttestationMismatch, ConfigError, InputError
from hardenreq.layout import display_path
from hardenreq.models import (
    DistributionFile,
    Finding,
    FindingKind,
    Pin,
    PublisherIdentity,
    Release,
)
from hardenreq.progress import NoProgress, Progress
from hardenreq.provenance import (
    LIBRARY_HINT,
    Attestations,
    FileAttestation,
    FileState,
    PackageAttestation,
    ProvenanceClient,
    Verdict,
    judge,
)
from hardenreq.publishers import read_identities, write_identities
from hardenreq.reqfile.parse import RequirementEntry, RequirementsTree, parse_text
from hardenreq.select import select_hashes

if TYPE_CHECKING:
    from hardenreq.plan import HardenResult

__all__ = [
    "AuthenticityCheck",
    "AuthenticityOptions",
    "AuthenticityOutcome",
    "PublisherChange",
    "YoungRelease",
    "apply_check",
    "check_lock",
    "parse_upload_time",
    "probe_pins",
    "recorded_identities",
    "status_finding",
    "verify_findings",
    "young_releases",
]

logger = logging.getLogger(__name__)

_STATUS_KINDS = {
    "quarantined": FindingKind.QUARANTINED,
    "archived": FindingKind.ARCHIVED,
    "deprecated": FindingKind.DEPRECATED,
}
_STATUS_WORDS = {
    "quarantined": "is quarantined by the index (found unsafe, e.g. malware)",
    "archived": "is archived: it expects no further releases (no fixes either)",
    "deprecated": "is deprecated by its maintainers",
}
_VERDICT_KINDS = {
    Verdict.INVALID: FindingKind.ATTESTATION_INVALID,
    Verdict.CHANGED: FindingKind.PUBLISHER_CHANGED,
    Verdict.MISSING: FindingKind.ATTESTATION_MISSING,
}


def recorded_identities(
    tree: RequirementsTree,
) -> dict[NormalizedName, tuple[PublisherIdentity, ...]]:
    """The publishers every file of ``tree`` records, by package (the union over files)."""
    found: dict[NormalizedName, set[PublisherIdentity]] = {}
    for parsed in tree.files.values():
        for name, identities in read_identities(parsed).items():
            found.setdefault(name, set()).update(identities)
    return {name: tuple(sorted(ids)) for name, ids in found.items()}


def parse_upload_time(value: str | None) -> datetime | None:
    """An index's upload time (ISO 8601, ``Z`` or an offset; naive means UTC), or None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _age(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days ago"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} hours ago"
    return f"{seconds // 60} minutes ago"


def _identity_details(identities: Iterable[PublisherIdentity]) -> list[dict[str, str]]:
    return [i.as_table() for i in identities]


def _file_details(outcomes: Iterable[FileAttestation]) -> list[dict[str, object]]:
    return [
        {
            "filename": o.filename,
            "sha256": o.sha256,
            "state": o.state.value,
            "publishers": _identity_details(o.identities),
            "problem": o.problem or None,
        }
        for o in outcomes
    ]


def status_finding(entry: RequirementEntry, file: str, release: Release) -> Finding | None:
    """PEP 792: a quarantined (error), archived or deprecated (warning) project."""
    status = release.status
    if status is None or status.status not in _STATUS_KINDS:
        return None
    reason = f": {status.reason}" if status.reason else " (no reason given)"
    return Finding(
        _STATUS_KINDS[status.status],
        file,
        entry.lineno,
        f"{release.pin.name} {_STATUS_WORDS[status.status]}{reason}",
        str(release.pin.name),
        str(release.pin.version),
        (("status", status.status), ("reason", status.reason)),
    )


def _young_files(
    entry: RequirementEntry, release: Release, cutoff: datetime
) -> list[tuple[DistributionFile, datetime]]:
    listed = {h.digest for h in entry.hashes if h.algorithm == "sha256"}
    files = [f for f in select_hashes(release).chosen if not listed or f.sha256 in listed]
    young: list[tuple[DistributionFile, datetime]] = []
    for f in files:
        moment = parse_upload_time(f.upload_time)
        if moment is not None and moment > cutoff:
            young.append((f, moment))
    return young


def _too_new(
    entry: RequirementEntry, file: str, release: Release, age: timedelta, now: datetime
) -> Finding | None:
    young = _young_files(entry, release, now - age)
    if not young:
        return None
    newest = max(moment for _, moment in young)
    names = ", ".join(f.filename for f, _ in young[:3])
    more = f" and {len(young) - 3} more" if len(young) > 3 else ""
    return Finding(
        FindingKind.TOO_NEW,
        file,
        entry.lineno,
        f"{release.pin}: {names}{more} uploaded {_age(newest, now)}, less than the "
        f"minimum release age ({_shown_age(age)}); a fresh upload is the riskiest one",
        str(release.pin.name),
        str(release.pin.version),
        (
            ("min_release_age_seconds", int(age.total_seconds())),
            (
                "files",
                [
                    {"filename": f.filename, "sha256": f.sha256, "upload_time": f.upload_time}
                    for f, _ in young
                ],
            ),
        ),
    )


def _shown_age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


async def _judge_all(
    releases: Mapping[Pin, Release],
    files: Mapping[Pin, Sequence[DistributionFile]],
    recorded: Mapping[NormalizedName, Sequence[PublisherIdentity]],
    attestations: Attestations,
    client: ProvenanceClient,
    progress: Progress,
    accepted: frozenset[NormalizedName] = frozenset(),
) -> dict[Pin, PackageAttestation]:
    pins = [p for p in sorted(releases, key=str) if files.get(p)]
    total = sum(len(files[p]) for p in pins)
    progress.start(total, "checking provenance")
    thorough = {p for p in pins if recorded.get(p.name) and p.name not in accepted}
    first = probe_pins(pins, recorded, accepted)

    async def one(pin: Pin, probe: bool) -> PackageAttestation:
        try:
            outcomes = await attestations.check(
                releases[pin], files[pin], client, thorough=pin in thorough, probe=probe
            )
        finally:
            for f in files[pin]:
                progress.advance(f.filename)
        return judge(pin, outcomes, recorded.get(pin.name, ()), accepted=pin.name in accepted)

    try:
        # First the packages the lock records a publisher for, the first few others and
        # those whose pages name provenance; the rest are asked only if the index showed
        # any provenance (an index without PEP 740 would cost a request per release).
        early = [p for p in pins if p in thorough or p in first or _listed(files[p])]
        judged = dict(zip(early, await asyncio.gather(*(one(p, True) for p in early)), strict=True))
        seen = any(o.state != FileState.NONE for j in judged.values() for o in j.outcomes)
        late = [p for p in pins if p not in judged]
        judged |= dict(zip(late, await asyncio.gather(*(one(p, seen) for p in late)), strict=True))
    finally:
        progress.finish()
    return {pin: judged[pin] for pin in pins}


#: Releases whose provenance is probed before an index without PEP 740 listings is taken
#: to have none (``probe_pins``).
PROBES = 8


def probe_pins(
    pins: Iterable[Pin],
    recorded: Mapping[NormalizedName, Sequence[PublisherIdentity]],
    accepted: frozenset[NormalizedName] = frozenset(),
) -> frozenset[Pin]:
    """The pins (the first ``PROBES`` by name that the lock records no publisher for) whose
    provenance tells whether an index that does not list provenance has any."""
    free = sorted((p for p in pins if not recorded.get(p.name) or p.name in accepted), key=str)
    return frozenset(free[:PROBES])


def _listed(files: Sequence[DistributionFile]) -> bool:
    return any(f.provenance for f in files)


def _unchecked(judged: Iterable[PackageAttestation]) -> tuple[list[str], ConfigError | None]:
    """What to say about provenance that could not be checked: a warning, or an error when
    the lock records a publisher the run cannot check (that must never pass silently)."""
    unchecked = [p for p in judged if p.verdict == Verdict.UNCHECKED]
    if not unchecked:
        return [], None
    problem = unchecked[0].files[0].problem if unchecked[0].files else ""
    count = sum(len(p.files) for p in unchecked)
    recorded = sorted(str(p.pin.name) for p in unchecked if p.recorded)
    if recorded:
        return [], ConfigError(
            f"cannot check the recorded publishers of {', '.join(recorded)}: {problem}",
            hint=LIBRARY_HINT if "not installed" in problem else None,
        )
    return [
        f"the provenance of {count} file(s) of {len(unchecked)} package(s) was not verified: "
        f"{problem}; install the extra to check it: {LIBRARY_HINT}"
    ], None


# -- verify ------------------------------------------------------------------------------


async def verify_findings(
    wanted: Mapping[Pin, Sequence[tuple[RequirementEntry, str]]],
    releases: Mapping[Pin, Release],
    recorded: Mapping[NormalizedName, Sequence[PublisherIdentity]],
    attestations: Attestations | None,
    client: ProvenanceClient,
    *,
    min_release_age: timedelta | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> tuple[list[Finding], list[str], list[str]]:
    """Authenticity findings for the pins verify checks (those the index has), and notes
    for stderr. Every file of each release that a lock would pin is checked: those the lock
    has (by its sha256) and those uploaded since.

    The third list is for the report's summary line: that no pinned file has provenance,
    said once there rather than as a finding per package (an index without PEP 740).
    Raises ConfigError when the lock records a publisher that cannot be checked (no
    pypi-attestations), or what the index client raises.
    """
    now = now or datetime.now(UTC)
    findings: list[Finding] = []
    for pin, release in sorted(releases.items(), key=lambda item: str(item[0])):
        for entry, file in wanted.get(pin, ()):
            status = status_finding(entry, file, release)
            if status is not None:
                findings.append(status)
            if min_release_age is not None:
                young = _too_new(entry, file, release, min_release_age, now)
                if young is not None:
                    findings.append(young)
    if attestations is None:
        return findings, [], []
    files = {pin: select_hashes(release).chosen for pin, release in releases.items()}
    judged = await _judge_all(
        releases, files, recorded, attestations, client, progress or NoProgress()
    )
    notes, error = _unchecked(judged.values())
    if error is not None:
        raise error
    unattested = [p for p in judged.values() if p.verdict == Verdict.UNATTESTED]
    every_pin = bool(judged) and len(unattested) == len(judged)
    for pin, package in judged.items():
        kind = _VERDICT_KINDS.get(package.verdict)
        for entry, file in wanted.get(pin, ()):
            if kind is not None:
                findings.append(_verdict_finding(kind, package, entry, file))
            elif package.verdict == Verdict.UNATTESTED and not every_pin:
                findings.append(
                    Finding(
                        FindingKind.UNATTESTED,
                        file,
                        entry.lineno,
                        f"{pin}: no provenance (PEP 740) on the index: who published its "
                        "files cannot be checked",
                        str(pin.name),
                        str(pin.version),
                        (("files", [o.filename for o in package.outcomes]),),
                    )
                )
    summary: list[str] = []
    if every_pin:
        summary.append(
            f"unattested: the index shows no provenance (PEP 740) for any of the "
            f"{len(unattested)} pinned releases"
        )
    notes += attestations.take_notes()
    return findings, list(dict.fromkeys(notes)), summary


def _verdict_finding(
    kind: FindingKind, package: PackageAttestation, entry: RequirementEntry, file: str
) -> Finding:
    return Finding(
        kind,
        file,
        entry.lineno,
        package.message,
        str(package.pin.name),
        str(package.pin.version),
        (
            ("recorded", _identity_details(package.recorded)),
            ("verified", _identity_details(package.verified)),
            ("files", _file_details(package.files)),
        ),
    )


# -- harden and refresh ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthenticityOptions:
    """The command line's say on authenticity: ``offline`` (sigstore's local trust root
    only), ``accept_publishers`` (take these packages' publishers as served now),
    ``min_release_age`` (resolve to and accept only releases at least this old), and
    ``provenance`` (False: ask for no provenance at all)."""

    offline: bool = False
    accept_publishers: tuple[str, ...] = ()
    min_release_age: timedelta | None = None
    provenance: bool = True

    def cutoff(self, now: datetime | None = None) -> datetime | None:
        """The newest upload time a release may have (None: no minimum age)."""
        if self.min_release_age is None:
            return None
        return (now or datetime.now(UTC)) - self.min_release_age


@dataclass(frozen=True, slots=True)
class AuthenticityCheck:
    """What a harden run checks the locked files against.

    ``recorded``: the publishers the lock records (trust on first use); ``previous``: the
    versions the lock pinned before this run, by package (several in a lock for several
    environments; a release whose check fails is held back at its old pin, not adopted);
    ``accepted``: ``--accept-publisher`` names.
    """

    attestations: Attestations
    recorded: Mapping[NormalizedName, tuple[PublisherIdentity, ...]] = field(default_factory=dict)
    previous: Mapping[NormalizedName, frozenset[Version]] = field(default_factory=dict)
    accepted: frozenset[NormalizedName] = frozenset()


@dataclass(frozen=True, slots=True)
class PublisherChange:
    """A release whose publisher check failed: not adopted (``held``), or taken with
    ``--accept-publisher`` (``accepted``). For refresh's "Publisher changes" section."""

    package: str
    kept: str | None
    offered: str
    verdict: str
    message: str
    recorded: tuple[PublisherIdentity, ...] = ()
    found: tuple[PublisherIdentity, ...] = ()
    accepted: bool = False


@dataclass(slots=True)
class AuthenticityOutcome:
    """What the check of one lock found: what to record, hold back, and say."""

    packages: dict[Pin, PackageAttestation] = field(default_factory=dict)
    identities: dict[NormalizedName, tuple[PublisherIdentity, ...]] = field(default_factory=dict)
    held: dict[NormalizedName, PublisherChange] = field(default_factory=dict)
    accepted: list[PublisherChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Newer releases ``--min-release-age`` kept out (refresh's report).
    young: list[YoungRelease] = field(default_factory=list)

    def summary(self) -> str | None:
        """One line for stderr: how many packages have a verified publisher."""
        if not self.packages:
            return None
        verified = sum(1 for p in self.packages.values() if p.identities)
        unattested = sum(1 for p in self.packages.values() if p.verdict == Verdict.UNATTESTED)
        if verified == 0:
            return (
                f"publishers: no file of the {len(self.packages)} pinned releases has "
                "provenance (PEP 740) on the index"
            )
        return f"publishers: {verified} verified and recorded, {unattested} without provenance"


def _entries(tree: RequirementsTree, pin: Pin) -> list[RequirementEntry]:
    return [
        e for e in tree.requirements() if e.name == pin.name and e.pinned_version == pin.version
    ]


async def check_lock(
    tree: RequirementsTree,
    releases: Mapping[Pin, Release],
    chosen: Mapping[Pin, Sequence[DistributionFile]],
    check: AuthenticityCheck,
    client: ProvenanceClient,
    progress: Progress | None = None,
) -> AuthenticityOutcome:
    """Check every chosen file of every pinned release of a lock being made.

    A pin whose check fails and whose version the lock did not pin before (an upgrade) is
    held back (``held``); one the lock already pinned, or pins anew without an old version
    to stay at, is an error. Raises InputErrors (AttestationMismatch at the lines of the
    pins, quarantined projects, unreadable recorded publishers) or ConfigError.
    """
    from hardenreq.errors import InputErrors, LocatedError

    outcome = AuthenticityOutcome()
    judged = await _judge_all(
        releases,
        chosen,
        check.recorded,
        check.attestations,
        client,
        progress or NoProgress(),
        check.accepted,
    )
    outcome.packages = judged
    notes, unchecked = _unchecked(judged.values())
    errors: list[InputError] = [] if unchecked is None else [unchecked]
    outcome.warnings += notes
    for pin, release in sorted(releases.items(), key=lambda item: str(item[0])):
        status = release.status
        if status is not None and status.status in _STATUS_WORDS:
            reason = f": {status.reason}" if status.reason else ""
            text = f"{pin.name} {_STATUS_WORDS[status.status]}{reason}"
            if status.status == "quarantined":
                errors += [
                    LocatedError(e.path, e.lineno, text, hint="remove it from the requirements")
                    for e in _entries(tree, pin)
                ]
            else:
                outcome.warnings.append(text)
    identities: dict[NormalizedName, set[PublisherIdentity]] = {}
    for pin, package in judged.items():
        old = check.previous.get(pin.name, frozenset())
        if package.accepted and set(package.verified) != set(package.recorded):
            outcome.accepted.append(_change(package, old, accepted=True))
        if package.problem:
            if old and pin.version not in old:
                outcome.held[pin.name] = _change(package, old)
                continue
            errors += [
                AttestationMismatch(
                    e.path,
                    e.lineno,
                    package.message,
                    hint=f"if the change is legitimate, re-run with --accept-publisher {pin.name} "
                    "(after checking the project's release history)",
                )
                for e in _entries(tree, pin)
            ]
            continue
        # A lock for several environments may pin two versions of a package: one note set.
        identities.setdefault(pin.name, set()).update(package.identities)
    outcome.identities = {name: tuple(sorted(ids)) for name, ids in identities.items() if ids}
    if errors:
        raise InputErrors(errors)
    outcome.warnings += check.attestations.take_notes()
    outcome.warnings = list(dict.fromkeys(outcome.warnings))
    return outcome


async def apply_check(
    result: HardenResult,
    tree: RequirementsTree,
    check: AuthenticityCheck,
    client: ProvenanceClient,
    progress: Progress | None = None,
) -> None:
    """Check the releases of a harden result (``check_lock``) and write what it found into
    it: the identities to record, warnings, and every planned file with its ``# publisher:``
    notes set. Raises as ``check_lock`` does."""
    chosen = {pin: selection.chosen for pin, selection in result.selections.items()}
    outcome = await check_lock(tree, result.releases, chosen, check, client, progress)
    result.authenticity = outcome
    result.identities = dict(outcome.identities)
    result.warnings += outcome.warnings
    plans = []
    for plan in result.plans:
        parsed = tree.files.get(plan.path)
        if parsed is None:
            plans.append(plan)
            continue
        text = plan.new[len(parsed.bom) :].decode(parsed.encoding)
        if not outcome.identities and "publisher:" not in text:
            plans.append(plan)  # nothing to write or remove: no need to parse it again
            continue
        new_text = write_lock_identities(plan.path, text, outcome.identities)
        plans.append(dataclasses.replace(plan, new=parsed.to_bytes(new_text)))
    result.plans = plans


def _change(
    package: PackageAttestation, old: frozenset[Version], *, accepted: bool = False
) -> PublisherChange:
    found = ", ".join(map(str, package.verified)) or "none"
    recorded = ", ".join(map(str, package.recorded)) or "none"
    message = package.message or (
        f"{package.pin}: publisher {found} taken with --accept-publisher (the lock recorded "
        f"{recorded})"
    )
    return PublisherChange(
        str(package.pin.name),
        ", ".join(str(v) for v in sorted(old)) or None,
        str(package.pin.version),
        package.verdict.value,
        message,
        package.recorded,
        package.verified,
        accepted=accepted,
    )


def write_lock_identities(
    path: Path, text: str, identities: Mapping[NormalizedName, Sequence[PublisherIdentity]]
) -> str:
    """``text`` (of the file at ``path``) with its ``# publisher:`` notes set to
    ``identities``; pip reads the result exactly as it reads ``text``."""
    parsed = parse_text(path, text)
    new_text = write_identities(parsed, identities)
    _same_meaning(parsed.path, text, new_text)
    return new_text


def _same_meaning(path: Path, old: str, new: str) -> None:
    from hardenreq.errors import HardenreqError

    def meaning(text: str) -> list[tuple[object, ...]]:
        parsed = parse_text(path, text)
        return [
            (type(e).__name__, getattr(e, "spec", None), getattr(e, "hashes", None))
            for e in parsed.entries
        ]

    if meaning(old) != meaning(new):
        raise HardenreqError(
            f"{display_path(path)}: internal error: writing publisher notes would change the "
            "requirements; nothing was written (please report this)"
        )


# -- refresh: releases held back by --min-release-age ------------------------------------


@dataclass(frozen=True, slots=True)
class YoungRelease:
    """A release newer than the pin that ``--min-release-age`` kept out of the lock."""

    package: str
    pinned: str
    version: str
    uploaded: str


def young_releases(releases: Iterable[Release], cutoff: datetime) -> list[YoungRelease]:
    """Releases after each pin, not yanked and not a pre-release (unless the pin is one),
    whose first file was uploaded after ``cutoff``: what the cooldown held back."""
    found: list[YoungRelease] = []
    for release in sorted(releases, key=lambda r: str(r.pin)):
        for newer in release.newer:
            moment = parse_upload_time(newer.uploaded)
            if moment is None or moment <= cutoff or newer.yanked:
                continue
            if newer.version.is_prerelease and not release.pin.version.is_prerelease:
                continue
            found.append(
                YoungRelease(
                    str(release.pin.name),
                    str(release.pin.version),
                    str(newer.version),
                    newer.uploaded or "",
                )
            )
    return found
