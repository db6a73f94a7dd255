"""Plain, frozen data passed between hardenreq's stages (parse, index, select, plan)."""

from __future__ import annotations

import enum
import operator
from dataclasses import dataclass, field, fields

from packaging.utils import NormalizedName
from packaging.version import Version

__all__ = [
    "SEVERITIES",
    "AdvisorySource",
    "AffectedVersions",
    "DistributionFile",
    "FileKind",
    "Finding",
    "FindingKind",
    "HashPin",
    "NewerRelease",
    "NormalizedName",
    "Pin",
    "ProjectStatus",
    "PublisherIdentity",
    "Release",
    "Severity",
    "VerifyReport",
    "Vulnerability",
]


@dataclass(frozen=True, slots=True, order=True)
class HashPin:
    """One ``--hash=ALGORITHM:HEXDIGEST`` value; the digest is lower-case hex."""

    algorithm: str
    digest: str

    def render(self) -> str:
        """The option as it is written in a requirements file."""
        return f"--hash={self.algorithm}:{self.digest}"


@dataclass(frozen=True, slots=True)
class Pin:
    """A project pinned to one exact version."""

    name: NormalizedName
    version: Version

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


class FileKind(enum.StrEnum):
    """What sort of distribution file a release file is."""

    WHEEL = "wheel"
    SDIST = "sdist"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class DistributionFile:
    """One file of a release as the index lists it.

    ``yanked`` is None when the file is not yanked, else the reason (possibly empty).
    ``url`` is where the index says the file is, absolute, without userinfo: it may still
    hold a token in its query or path, so redact it before showing it (a pylock.toml lock
    records it, ``hardenreq.lockfile`` checks it first). ``download_url`` is the address
    to fetch it from, userinfo included: never shown nor written ("" when unknown).
    ``upload_time`` is the index's ISO 8601 text.
    """

    filename: str
    url: str
    sha256: str
    kind: FileKind
    requires_python: str | None = None
    yanked: str | None = None
    size: int | None = None
    upload_time: str | None = None
    download_url: str = ""
    #: PEP 658: the index serves the file's metadata at ``url + ".metadata"``; its sha256
    #: ("" when the index gives none), None when it does not serve it.
    core_metadata: str | None = None
    #: PEP 740: the URL of the file's provenance where the page names one (never shown:
    #: it may carry the index's credentials), and whether the page speaks PEP 740 at all
    #: (simple API 1.3+), so that no URL there means "no provenance".
    provenance: str | None = field(default=None, repr=False)
    provenance_listed: bool = False

    def __reduce__(self) -> tuple[type[DistributionFile], tuple[object, ...]]:
        # Pickled (to and from the page helper) as its fields in order: the dataclass
        # default walks fields() for every file, twice as slow.
        return (DistributionFile, _file_fields(self))


_file_fields = operator.attrgetter(*(f.name for f in fields(DistributionFile)))


@dataclass(frozen=True, slots=True)
class ProjectStatus:
    """PEP 792: a project's status on the index (``active``, ``archived``, ``quarantined``,
    ``deprecated``) and the index's reason, if it gives one."""

    status: str
    reason: str | None = None


@dataclass(frozen=True, slots=True, order=True)
class PublisherIdentity:
    """A Trusted Publishing identity (PEP 740 publisher) that verified a file's provenance.

    ``kind`` is spelled as PEP 740 spells it (``GitHub``, ``GitLab``, ``Google``,
    ``CircleCI``); ``claims`` are the publisher's claims that the signing certificate
    proves, as sorted (name, value) pairs with PEP 740's names (``repository``,
    ``workflow``, ``workflow_filepath``, ``email``, ...). Unverifiable claims (a GitHub
    ``environment``) are not part of an identity.
    """

    kind: str
    claims: tuple[tuple[str, str], ...] = ()

    def claim(self, name: str) -> str | None:
        """The value of one claim, or None."""
        return dict(self.claims).get(name)

    def as_table(self) -> dict[str, str]:
        """The identity as a PEP 751 ``attestation-identities`` table (``kind`` first)."""
        return {"kind": self.kind, **dict(self.claims)}

    @classmethod
    def from_table(cls, table: dict[str, object]) -> PublisherIdentity:
        """The inverse of ``as_table``; ValueError for a table without a string ``kind``
        or with a value that is not a string."""
        kind = table.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ValueError("an attestation identity needs a kind")
        claims: list[tuple[str, str]] = []
        for key, value in table.items():
            if key == "kind":
                continue
            if not isinstance(value, str):
                raise ValueError(f"attestation identity claim {key!r} is not a string")
            claims.append((key, value))
        return cls(kind, tuple(sorted(claims)))

    def __str__(self) -> str:
        return " ".join([self.kind, *(value for _, value in self.claims)])


@dataclass(frozen=True, slots=True)
class AffectedVersions:
    """The versions of one project that one OSV ``affected`` entry covers: the ``versions``
    it lists, and its ``ECOSYSTEM`` ranges, each a tuple of ``(event, version)`` pairs with
    event ``introduced``, ``fixed`` or ``last_affected`` (``hardenreq.advisories.match``
    decides membership by PEP 440 ordering)."""

    versions: tuple[str, ...] = ()
    ranges: tuple[tuple[tuple[str, str], ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Vulnerability:
    """A known vulnerability (or, with ``malicious``, a malware report) of a release.

    From the index (``fixed_in`` only) or from OSV records, which also give ``affected``:
    which versions of the project each merged record covers, so that refresh can tell which
    release fixes it. ``sources`` names where it was found (``index``, ``osv-api``,
    ``advisory-db``).
    """

    id: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    fixed_in: tuple[str, ...] = ()
    link: str | None = None
    malicious: bool = False
    affected: tuple[AffectedVersions, ...] = ()
    sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewerRelease:
    """A release after the pinned one, with what decides whether an upgrade can take it:
    the Requires-Python of its files ("" for none) and whether every file is yanked."""

    version: Version
    requires_python: tuple[str, ...] = ()
    yanked: bool = False
    #: When its first file was uploaded (ISO 8601, as the index says), if the index says.
    uploaded: str | None = None


@dataclass(frozen=True, slots=True)
class Release:
    """Every file of one pinned release, and which index (redacted) and API answered."""

    pin: Pin
    files: tuple[DistributionFile, ...]
    index: str
    source: str
    latest: Version | None = None
    # None: this source has no vulnerability data for the release (only the JSON API's
    # release endpoint carries it); an empty tuple: the index knows of none.
    vulnerabilities: tuple[Vulnerability, ...] | None = None
    #: Releases after this one that the project's page lists, oldest first.
    newer: tuple[NewerRelease, ...] = ()
    #: Requires-Dist of the release where the answer carried it (the JSON release endpoint).
    requires_dist: tuple[str, ...] | None = None
    #: PEP 792: the project's status where the index states one.
    status: ProjectStatus | None = None

    @property
    def yanked(self) -> str | None:
        """The yank reason when every file of the release is yanked, else None."""
        if self.files and all(f.yanked is not None for f in self.files):
            return next(f.yanked for f in self.files if f.yanked is not None)
        return None

    @property
    def sha256s(self) -> frozenset[str]:
        """The sha256 digests of every file of the release."""
        return frozenset(f.sha256 for f in self.files)


class FindingKind(enum.StrEnum):
    """What ``verify`` found; the values are stable (JSON, SARIF rule ids, README)."""

    UNPINNED = "unpinned"
    NO_HASHES = "no-hashes"
    UNKNOWN_HASH = "unknown-hash"
    MISSING_HASH = "missing-hash"
    YANKED = "yanked"
    NOT_FOUND = "not-found"
    UNHASHABLE = "unhashable"
    INEFFECTIVE_HASH = "ineffective-hash"
    OUTDATED = "outdated"
    INSECURE_INDEX = "insecure-index"
    EXTRA_INDEX = "extra-index"
    VULNERABLE = "vulnerable"
    INVALID_CONSTRAINT = "invalid-constraint"
    CONFLICTING_PINS = "conflicting-pins"
    UNHASHED_BUILD = "unhashed-build"
    BUILD_CONSTRAINT = "build-constraint"
    MISSING_DEPENDENCY = "missing-dependency"
    INCOMPLETE_ENVIRONMENT = "incomplete-environment"
    UNINSTALLABLE_HERE = "uninstallable-here"
    MALICIOUS = "malicious"
    ADVISORIES_UNAVAILABLE = "advisories-unavailable"
    ATTESTATION_INVALID = "attestation-invalid"
    PUBLISHER_CHANGED = "publisher-changed"
    ATTESTATION_MISSING = "attestation-missing"
    UNATTESTED = "unattested"
    QUARANTINED = "quarantined"
    ARCHIVED = "archived"
    DEPRECATED = "deprecated"
    TOO_NEW = "too-new"
    #: pylock.toml only: the index lists a locked file (same sha256) with another URL,
    #: size or upload time than the lock records.
    FILE_CHANGED = "file-changed"


class Severity(enum.StrEnum):
    """How much a finding matters: errors fail verify, warnings fail it with --strict."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


SEVERITIES: dict[FindingKind, Severity] = {
    FindingKind.UNPINNED: Severity.ERROR,
    FindingKind.NO_HASHES: Severity.ERROR,
    FindingKind.UNKNOWN_HASH: Severity.ERROR,
    FindingKind.MISSING_HASH: Severity.WARNING,
    FindingKind.YANKED: Severity.ERROR,
    FindingKind.NOT_FOUND: Severity.ERROR,
    FindingKind.UNHASHABLE: Severity.ERROR,
    FindingKind.INEFFECTIVE_HASH: Severity.ERROR,
    FindingKind.OUTDATED: Severity.INFO,
    FindingKind.INSECURE_INDEX: Severity.WARNING,
    FindingKind.EXTRA_INDEX: Severity.WARNING,
    FindingKind.VULNERABLE: Severity.ERROR,
    FindingKind.INVALID_CONSTRAINT: Severity.ERROR,
    FindingKind.CONFLICTING_PINS: Severity.ERROR,
    FindingKind.UNHASHED_BUILD: Severity.ERROR,
    FindingKind.BUILD_CONSTRAINT: Severity.ERROR,
    FindingKind.MISSING_DEPENDENCY: Severity.ERROR,
    FindingKind.INCOMPLETE_ENVIRONMENT: Severity.ERROR,
    FindingKind.UNINSTALLABLE_HERE: Severity.WARNING,
    FindingKind.MALICIOUS: Severity.ERROR,
    FindingKind.ADVISORIES_UNAVAILABLE: Severity.WARNING,
    FindingKind.ATTESTATION_INVALID: Severity.ERROR,
    FindingKind.PUBLISHER_CHANGED: Severity.ERROR,
    FindingKind.ATTESTATION_MISSING: Severity.ERROR,
    FindingKind.UNATTESTED: Severity.INFO,
    FindingKind.QUARANTINED: Severity.ERROR,
    FindingKind.ARCHIVED: Severity.WARNING,
    FindingKind.DEPRECATED: Severity.WARNING,
    FindingKind.TOO_NEW: Severity.WARNING,
    FindingKind.FILE_CHANGED: Severity.ERROR,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem ``verify`` reports: a kind, where it is, and kind-specific details.

    ``details`` holds JSON-ready values only (str, int, bool, None, lists of them).
    ``level`` overrides the kind's severity where the user chose another one (``vulnerable``
    under ``--vulnerable-severity warning``).
    """

    kind: FindingKind
    file: str
    line: int | None
    message: str
    package: str | None = None
    version: str | None = None
    details: tuple[tuple[str, object], ...] = ()
    level: Severity | None = None

    @property
    def severity(self) -> Severity:
        """The finding's severity: ``level``, else the kind's."""
        return self.level or SEVERITIES[self.kind]


@dataclass(frozen=True, slots=True)
class AdvisorySource:
    """One source of advisory data a verify run asked, and how it went.

    ``name`` is ``index``, ``osv-api`` or ``advisory-db``; ``location`` the (redacted) URL or
    the path; ``records`` how many advisory records it gave for the pins (for a dump: how
    many it holds). A dump also has its ``sha256`` (of the zip, or of the folder's sorted
    listing of paths and file digests) and ``date`` (the newest ``modified`` of its records).
    ``problem`` says why a source could not be used; ``ok`` is then False. ``note`` is
    said of a source that works (the index serves no vulnerability data).
    """

    name: str
    location: str = ""
    ok: bool = True
    records: int = 0
    problem: str = ""
    sha256: str | None = None
    date: str | None = None
    skipped: int = 0
    note: str = ""


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Everything ``verify`` found in a set of files, in file and line order."""

    findings: tuple[Finding, ...]
    files: tuple[str, ...]
    requirements: int
    #: The advisory sources asked (none when the check was off), in the order asked.
    advisories: tuple[AdvisorySource, ...] = ()
    #: What the user should hear on stderr besides the findings (not part of reports).
    notes: tuple[str, ...] = ()
    #: Said once in the summary line rather than as a finding per package (``unattested:
    #: ...`` when no pinned file has provenance).
    remarks: tuple[str, ...] = ()

    def count(self, severity: Severity) -> int:
        """How many findings have this severity."""
        return sum(1 for f in self.findings if f.severity == severity)

    def failed(self, *, strict: bool) -> bool:
        """Whether verify exits 1: any error, or with ``strict`` any warning too."""
        return self.count(Severity.ERROR) > 0 or (strict and self.count(Severity.WARNING) > 0)
