"""PEP 740 provenance: verify each file's attestations and judge them against the lock.

``Attestations`` is one run's verifier. It loads ``pypi-attestations`` (sigstore, pydantic,
cryptography: 0.8 s to import) only when some file has provenance, readies sigstore's trust
root once, and remembers each file's outcome for the run. Verification needs no download:
an attestation binds a filename and a sha256 to the CI identity that signed it, and the
sha256 is the lock's.

The trust root is sigstore's: refreshed online once per run through TUF where reachable
(within ``refresh_timeout`` seconds; else the local copy, with a warning), or with
``offline`` the local copy only, without any network: the one that ships inside the
sigstore package, or a newer one an earlier online run fetched and verified into sigstore's
cache folder.

``judge`` is the one place that decides what a package's files mean against the lock's
recorded publishers (trust on first use): the verdicts verify reports and harden acts on.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from hardenreq.models import DistributionFile, FileKind, Pin, PublisherIdentity, Release

__all__ = [
    "LIBRARY_HINT",
    "Attestations",
    "FileAttestation",
    "FileState",
    "PackageAttestation",
    "ProvenanceClient",
    "Verdict",
    "judge",
    "probe_file",
]

logger = logging.getLogger(__name__)

LIBRARY_HINT = "pip install 'hardenreq[attestations]' (pypi-attestations and sigstore)"
#: Claims a publisher states that its signing certificate does not prove.
_UNVERIFIED_CLAIMS = frozenset({"kind", "environment"})
_MAX_PROBLEM = 300


class ProvenanceClient(Protocol):
    """The index side: a file's provenance object as the index serves it."""

    async def fetch_provenance(self, release: Release, file: DistributionFile) -> bytes | None:
        """The provenance object's bytes, or None when the index has none for ``file``."""
        ...


class FileState(enum.StrEnum):
    """What one file's provenance came to."""

    VERIFIED = "verified"
    NONE = "none"
    INVALID = "invalid"
    #: Provenance exists but could not be checked (no pypi-attestations, no trust root).
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class FileAttestation:
    """One file's provenance outcome: the identities that verified it, or why not."""

    filename: str
    sha256: str
    state: FileState
    identities: tuple[PublisherIdentity, ...] = ()
    problem: str = ""


class Attestations:
    """One run's provenance verifier (thread-safe; shared by every lock of the run)."""

    def __init__(self, *, offline: bool = False, refresh_timeout: float = 20.0) -> None:
        self.offline = offline
        self.refresh_timeout = refresh_timeout
        self._lock = threading.Lock()
        self._prepared = False
        self._library: ModuleType | None = None
        self._unusable = ""
        self._cache: dict[tuple[str, str], FileAttestation] = {}
        #: Things the user should hear once (the trust root was not refreshed, ...).
        self.notes: list[str] = []
        self.files_fetched = 0

    def take_notes(self) -> list[str]:
        """The notes not yet taken (each is said once per run)."""
        with self._lock:
            notes, self.notes = self.notes, []
        return notes

    async def check(
        self,
        release: Release,
        files: Sequence[DistributionFile],
        client: ProvenanceClient,
        *,
        thorough: bool = False,
        probe: bool = True,
    ) -> tuple[FileAttestation, ...]:
        """The provenance outcome of each of ``files`` (of ``release``), fetched concurrently.

        Where the index's page does not say which files have provenance (simple API before
        1.3: an index without PEP 740, or a mirror that hides it), one file of the release
        is asked first (``probe_file``), and the others only when it has provenance: a
        Trusted Publishing upload attests every file, and an index without PEP 740 would
        otherwise cost a request per file (1,340 for 55 pins). ``thorough`` (the lock
        records a publisher for the project) asks for every file; without ``probe``, no
        unlisted file is asked (the index showed no provenance: ``authenticity.probe_pins``).
        Raises what the index client raises when the index cannot be asked.
        """
        unlisted = [f for f in files if not f.provenance and not f.provenance_listed]
        chosen = probe_file(unlisted) if unlisted and not thorough else None
        if chosen is not None:
            first = (
                await self._file(release, chosen, client)
                if probe
                else FileAttestation(chosen.filename, chosen.sha256, FileState.NONE)
            )
            if first.state == FileState.NONE:
                # By identity: a release can list a thousand files, compared field by field.
                skipped = {id(f) for f in unlisted}
                rest = [f for f in files if id(f) not in skipped]
                found = dict(
                    zip(
                        map(id, rest),
                        await asyncio.gather(*(self._file(release, f, client) for f in rest)),
                        strict=True,
                    )
                )
                found[id(chosen)] = first
                return tuple(
                    found.get(id(f)) or FileAttestation(f.filename, f.sha256, FileState.NONE)
                    for f in files
                )
        return tuple(await asyncio.gather(*(self._file(release, f, client) for f in files)))

    async def _file(
        self, release: Release, file: DistributionFile, client: ProvenanceClient
    ) -> FileAttestation:
        key = (file.filename, file.sha256)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        raw = await client.fetch_provenance(release, file)
        self.files_fetched += 1
        if raw is None:
            outcome = FileAttestation(file.filename, file.sha256, FileState.NONE)
        else:
            outcome = await asyncio.to_thread(self.verify, raw, file.filename, file.sha256)
        self._cache[key] = outcome
        return outcome

    def verify(self, raw: bytes, filename: str, sha256: str) -> FileAttestation:
        """Verify a provenance object (PEP 740) for the file ``filename`` with ``sha256``.

        Every attestation of every bundle must verify against the publisher its bundle
        names (sigstore signature, certificate identity, the statement's subject: this
        filename and this digest). Never raises for what the index sent.
        """
        library = self._prepare()
        if library is None:
            return FileAttestation(filename, sha256, FileState.UNCHECKED, problem=self._unusable)
        try:
            provenance = library.Provenance.model_validate_json(raw)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            return _invalid(filename, sha256, f"the provenance object is malformed: {exc}")
        try:
            distribution = library.Distribution(name=filename, digest=sha256)
        except ValueError as exc:
            return _invalid(filename, sha256, f"cannot check a file of this name: {exc}")
        identities: set[PublisherIdentity] = set()
        checked = 0
        for bundle in provenance.attestation_bundles:
            for attestation in bundle.attestations:
                checked += 1
                try:
                    attestation.verify(bundle.publisher, distribution, offline=True)
                except Exception as exc:  # what sigstore raises for hostile input varies
                    return _invalid(filename, sha256, _reason(exc))
            identities.add(_identity(bundle.publisher))
        if not checked:
            return _invalid(filename, sha256, "the provenance object holds no attestation")
        return FileAttestation(filename, sha256, FileState.VERIFIED, tuple(sorted(identities)))

    # -- the library and the trust root, once per run ----------------------------------------

    def _prepare(self) -> ModuleType | None:
        with self._lock:
            if not self._prepared:
                self._prepared = True
                self._library = self._load()
            return self._library

    def _load(self) -> ModuleType | None:
        try:
            import pypi_attestations
            from sigstore.verify import Verifier
        except ImportError as exc:
            self._unusable = f"pypi-attestations is not installed ({exc.name or exc})"
            return None
        # sigstore and tuf log through the root logger (warnings about offline mode):
        # what matters reaches the user as hardenreq's own messages.
        for name in ("sigstore", "tuf", "securesystemslib", "urllib3"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        if not self.offline:
            problem = _refresh_online(Verifier, self.refresh_timeout)
            if problem:
                self.notes.append(
                    f"could not refresh sigstore's trust root online ({problem}); provenance "
                    "was verified with the local copy (--offline does this without trying)"
                )
        try:
            # Also writes sigstore's own copy into its cache folder, once, before threads
            # verify in parallel and read it.
            Verifier.production(offline=True)
        except Exception as exc:
            self._unusable = f"sigstore's trust root cannot be loaded: {_reason(exc)}"
            return None
        return pypi_attestations


def probe_file(files: Sequence[DistributionFile]) -> DistributionFile | None:
    """The file of a release whose provenance is asked first: its sdist, else the first
    wheel by name (the same choice wherever it is made, so a prefetch is not wasted)."""
    ordered = sorted(files, key=lambda f: (f.kind != FileKind.SDIST, f.filename))
    return ordered[0] if ordered else None


def _refresh_online(verifier: Any, timeout: float) -> str:
    """Refresh sigstore's trust root through TUF, in a thread bounded by ``timeout``;
    what went wrong, or "" when it worked."""
    problem: list[str] = [f"it took longer than {timeout:g} s"]

    def refresh() -> None:
        try:
            verifier.production(offline=False)
        except Exception as exc:
            problem[0] = _reason(exc)
        else:
            problem[0] = ""

    worker = threading.Thread(target=refresh, name="sigstore-trust-root", daemon=True)
    worker.start()
    worker.join(timeout)
    return problem[0]


def _reason(exc: BaseException) -> str:
    """An exception as one short line, with its cause (sigstore wraps the real one)."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(parts) < 3:
        text = " ".join(str(current).split()) or type(current).__name__
        if text not in parts:
            parts.append(text)
        current = current.__cause__
    joined = ": ".join(parts)
    return joined if len(joined) <= _MAX_PROBLEM else joined[:_MAX_PROBLEM] + "..."


def _invalid(filename: str, sha256: str, problem: str) -> FileAttestation:
    return FileAttestation(filename, sha256, FileState.INVALID, problem=problem)


def _identity(publisher: Any) -> PublisherIdentity:
    """The identity a (verified) PEP 740 publisher object stands for: its kind and the
    claims the certificate proved (not the unverifiable environment)."""
    data = publisher.model_dump(exclude_none=True)
    claims = tuple(
        sorted(
            (str(key), str(value))
            for key, value in data.items()
            if key not in _UNVERIFIED_CLAIMS and isinstance(value, str)
        )
    )
    return PublisherIdentity(str(publisher.kind), claims)


# -- judging a package's files against the lock ----------------------------------------------


class Verdict(enum.StrEnum):
    """What a package's files mean against the lock (values: verify's finding kinds)."""

    OK = "ok"
    UNATTESTED = "unattested"
    INVALID = "attestation-invalid"
    CHANGED = "publisher-changed"
    MISSING = "attestation-missing"
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class PackageAttestation:
    """One pinned release's files, their outcomes and the judgement against the lock.

    ``recorded`` are the publishers the lock records for the project; ``identities`` what
    the lock should record from now on; ``files`` the files the verdict is about.
    """

    pin: Pin
    verdict: Verdict
    recorded: tuple[PublisherIdentity, ...]
    identities: tuple[PublisherIdentity, ...]
    outcomes: tuple[FileAttestation, ...]
    files: tuple[FileAttestation, ...] = ()
    accepted: bool = False
    message: str = field(default="")

    @property
    def verified(self) -> tuple[PublisherIdentity, ...]:
        """Every identity that verified a file of the release."""
        return tuple(sorted({i for o in self.outcomes for i in o.identities}))

    @property
    def problem(self) -> bool:
        """Whether the verdict stops the release from being adopted."""
        return self.verdict in (Verdict.INVALID, Verdict.CHANGED, Verdict.MISSING)


def _names(files: Sequence[FileAttestation]) -> str:
    shown = ", ".join(f.filename for f in files[:3])
    return shown + (f" and {len(files) - 3} more" if len(files) > 3 else "")


def _shown(identities: Sequence[PublisherIdentity]) -> str:
    return " or ".join(str(i) for i in identities) or "none"


def judge(
    pin: Pin,
    outcomes: Sequence[FileAttestation],
    recorded: Sequence[PublisherIdentity],
    *,
    accepted: bool = False,
) -> PackageAttestation:
    """The verdict on ``pin``'s files given the publishers the lock records for it.

    Trust on first use: a package the lock records no publisher for takes those that verify
    its files now; from then on every file must be attested by one of them. Within one
    release, attested and unattested files together are ``attestation-missing`` too (an
    upload outside the trusted workflow). ``accepted`` (``--accept-publisher``) takes the
    files as the index serves them: the verified publishers replace the recorded ones.
    """
    recorded = tuple(sorted(set(recorded)))
    outcomes = tuple(outcomes)
    verified = tuple(sorted({i for o in outcomes for i in o.identities}))
    invalid = tuple(o for o in outcomes if o.state == FileState.INVALID)
    unchecked = tuple(o for o in outcomes if o.state == FileState.UNCHECKED)
    none = tuple(o for o in outcomes if o.state == FileState.NONE)
    expected = recorded or verified

    def verdict(
        kind: Verdict, files: tuple[FileAttestation, ...], message: str
    ) -> PackageAttestation:
        keep = verified if accepted or kind == Verdict.OK else recorded
        if kind == Verdict.UNCHECKED:
            keep = recorded
        return PackageAttestation(
            pin, kind, recorded, keep, outcomes, files, accepted=accepted, message=message
        )

    if accepted:
        return verdict(Verdict.OK if verified else Verdict.UNATTESTED, (), "")
    if invalid:
        first = invalid[0]
        return verdict(
            Verdict.INVALID,
            invalid,
            f"{pin}: the provenance of {_names(invalid)} does not verify ({first.problem})",
        )
    changed = tuple(
        o
        for o in outcomes
        if o.state == FileState.VERIFIED and recorded and not set(o.identities) & set(recorded)
    )
    if changed:
        return verdict(
            Verdict.CHANGED,
            changed,
            f"{pin}: {_names(changed)} attested by {_shown(changed[0].identities)}, but the "
            f"lock records {_shown(recorded)} as the publisher",
        )
    if none and expected:
        whose = "the lock records" if recorded else "the release's other files are attested by"
        return verdict(
            Verdict.MISSING,
            none,
            f"{pin}: {_names(none)} has no provenance, but {whose} {_shown(expected)}",
        )
    if unchecked:
        return verdict(
            Verdict.UNCHECKED,
            unchecked,
            f"{pin}: the provenance of {_names(unchecked)} was not checked: {unchecked[0].problem}",
        )
    if not verified:
        return verdict(Verdict.UNATTESTED, none, "")
    return PackageAttestation(
        pin,
        Verdict.OK,
        recorded,
        tuple(sorted(set(recorded) | set(verified))),
        outcomes,
    )
