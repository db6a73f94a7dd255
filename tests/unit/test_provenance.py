"""PEP 740 verification with real provenance (tests/data/attestations/), the verdicts against a
lock's recorded publishers, and what a lock check holds back: no network (sigstore's own trust
root), no index."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from hardenreq.authenticity import AuthenticityCheck, check_lock
from hardenreq.errors import AttestationMismatch, InputErrors
from hardenreq.models import DistributionFile, FileKind, Pin, PublisherIdentity, Release
from hardenreq.provenance import Attestations, FileAttestation, FileState, Verdict, judge
from hardenreq.reqfile.parse import RequirementsTree, parse_text

DATA = Path(__file__).parent.parent / "data" / "attestations"
PYPI_ATTESTATIONS = "pypi_attestations-0.0.19.tar.gz"
PYPI_SHA = "9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3"
GITLAB_PROJECT = "gitlab_oidc_project-0.0.3.tar.gz"
GITLAB_SHA = "c1ca9b0d85df1606451098233018534497bf584362e10e4a8c21dfaea92c02a8"
GITHUB = PublisherIdentity(
    "GitHub", (("repository", "trailofbits/pypi-attestations"), ("workflow", "release.yml"))
)
GITLAB = PublisherIdentity(
    "GitLab",
    (("repository", "facutuesca/gitlab-oidc-project"), ("workflow_filepath", ".gitlab-ci.yml")),
)
FORK = PublisherIdentity("GitHub", (("repository", "evil/fork"), ("workflow", "release.yml")))


def provenance(filename: str) -> bytes:
    return (DATA / f"{filename}.provenance").read_bytes()


@pytest.fixture
def outside() -> Iterator[list[object]]:
    """Record (and refuse) every attempt to reach a host that is not loopback."""
    attempts: list[object] = []
    original_getaddrinfo = socket.getaddrinfo
    original_connect = socket.socket.connect

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host not in ("127.0.0.1", "::1", "localhost", None):
            attempts.append(host)
            raise socket.gaierror("no network in this test")
        return original_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    def connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost") and not isinstance(address, str | bytes):
            attempts.append(host)
            raise OSError("no network in this test")
        original_connect(self, address)  # type: ignore[arg-type]

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    try:
        yield attempts
    finally:
        socket.getaddrinfo = original_getaddrinfo
        socket.socket.connect = original_connect  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("filename", "sha256", "identity"),
    [(PYPI_ATTESTATIONS, PYPI_SHA, GITHUB), (GITLAB_PROJECT, GITLAB_SHA, GITLAB)],
)
def test_real_provenance_verifies_offline_without_any_network(
    filename: str, sha256: str, identity: PublisherIdentity, outside: list[object]
) -> None:
    attestations = Attestations(offline=True)
    outcome = attestations.verify(provenance(filename), filename, sha256)
    assert outcome == FileAttestation(filename, sha256, FileState.VERIFIED, (identity,))
    assert outside == []  # --offline: sigstore never tried to fetch a trust root
    assert attestations.take_notes() == []


def test_online_mode_tries_to_refresh_the_trust_root_and_says_when_it_cannot(
    outside: list[object],
) -> None:
    attestations = Attestations(offline=False, refresh_timeout=10)
    outcome = attestations.verify(provenance(PYPI_ATTESTATIONS), PYPI_ATTESTATIONS, PYPI_SHA)
    assert outcome.state == FileState.VERIFIED
    assert outside, "the online mode should have tried to reach sigstore's TUF repository"
    (note,) = attestations.take_notes()
    assert note.startswith("could not refresh sigstore's trust root online (")
    assert "verified with the local copy" in note
    # Said once per run.
    attestations.verify(provenance(GITLAB_PROJECT), GITLAB_PROJECT, GITLAB_SHA)
    assert attestations.take_notes() == []


@pytest.mark.parametrize(
    ("raw", "filename", "sha256", "problem"),
    [
        # Another file's provenance served for this one: its statement names the other file.
        (provenance(GITLAB_PROJECT), PYPI_ATTESTATIONS, PYPI_SHA, "subject does not match"),
        # The right statement, but the file in the lock has another digest.
        (provenance(PYPI_ATTESTATIONS), PYPI_ATTESTATIONS, "0" * 64, "digest"),
        (b'{"version": 1, "attestation_bundles": "no"}', PYPI_ATTESTATIONS, PYPI_SHA, "malformed"),
        (b"<html>not json</html>", PYPI_ATTESTATIONS, PYPI_SHA, "malformed"),
        (b'{"version": 1, "attestation_bundles": []}', PYPI_ATTESTATIONS, PYPI_SHA, "no attest"),
    ],
)
def test_provenance_that_does_not_verify_is_invalid(
    raw: bytes, filename: str, sha256: str, problem: str
) -> None:
    outcome = Attestations(offline=True).verify(raw, filename, sha256)
    assert outcome.state == FileState.INVALID
    assert outcome.identities == ()
    assert problem in outcome.problem


def test_a_bundle_claiming_another_publisher_is_invalid() -> None:
    tampered = provenance(PYPI_ATTESTATIONS).replace(
        b'"repository":"trailofbits/pypi-attestations"', b'"repository":"evil/fork"'
    )
    if tampered == provenance(PYPI_ATTESTATIONS):
        tampered = provenance(PYPI_ATTESTATIONS).replace(
            b'"trailofbits/pypi-attestations"', b'"evil/fork"'
        )
    assert tampered != provenance(PYPI_ATTESTATIONS)
    outcome = Attestations(offline=True).verify(tampered, PYPI_ATTESTATIONS, PYPI_SHA)
    assert outcome.state == FileState.INVALID


def test_without_the_library_provenance_is_unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pypi_attestations", None)
    outcome = Attestations(offline=True).verify(
        provenance(PYPI_ATTESTATIONS), PYPI_ATTESTATIONS, PYPI_SHA
    )
    assert outcome.state == FileState.UNCHECKED
    assert "pypi-attestations is not installed" in outcome.problem


PIN = Pin(canonicalize_name("pypi-attestations"), Version("0.0.19"))


def verified(name: str, *identities: PublisherIdentity) -> FileAttestation:
    return FileAttestation(name, "a" * 64, FileState.VERIFIED, identities)


def none(name: str) -> FileAttestation:
    return FileAttestation(name, "b" * 64, FileState.NONE)


@pytest.mark.parametrize(
    ("outcomes", "recorded", "verdict", "keep"),
    [
        # Trust on first use: the verified publisher is what the lock records from now on.
        ([verified("a.tar.gz", GITHUB)], (), Verdict.OK, (GITHUB,)),
        ([verified("a.tar.gz", GITHUB)], (GITHUB,), Verdict.OK, (GITHUB,)),
        ([verified("a.tar.gz", GITHUB)], (FORK,), Verdict.CHANGED, (FORK,)),
        ([none("a.tar.gz")], (GITHUB,), Verdict.MISSING, (GITHUB,)),
        ([none("a.tar.gz")], (), Verdict.UNATTESTED, ()),
        # A release with attested and unattested files: an upload outside the workflow.
        ([verified("a.tar.gz", GITHUB), none("a.whl")], (), Verdict.MISSING, ()),
        (
            [FileAttestation("a.tar.gz", "c" * 64, FileState.INVALID, problem="bad")],
            (GITHUB,),
            Verdict.INVALID,
            (GITHUB,),
        ),
        (
            [FileAttestation("a.tar.gz", "c" * 64, FileState.UNCHECKED, problem="no lib")],
            (GITHUB,),
            Verdict.UNCHECKED,
            (GITHUB,),
        ),
    ],
)
def test_verdicts(
    outcomes: list[FileAttestation],
    recorded: tuple[PublisherIdentity, ...],
    verdict: Verdict,
    keep: tuple[PublisherIdentity, ...],
) -> None:
    judged = judge(PIN, outcomes, recorded)
    assert judged.verdict == verdict
    assert judged.identities == keep
    assert judged.problem == (verdict in (Verdict.INVALID, Verdict.CHANGED, Verdict.MISSING))


def test_accepting_takes_the_publisher_as_served() -> None:
    judged = judge(PIN, [verified("a.tar.gz", GITHUB)], (FORK,), accepted=True)
    assert (judged.verdict, judged.identities) == (Verdict.OK, (GITHUB,))
    judged = judge(PIN, [none("a.tar.gz")], (FORK,), accepted=True)
    assert (judged.verdict, judged.identities) == (Verdict.UNATTESTED, ())


class RealProvenance:
    """The index side, serving the real provenance of the real file (and counting)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def fetch_provenance(self, release: Release, file: DistributionFile) -> bytes | None:
        self.asked.append(file.filename)
        return provenance(PYPI_ATTESTATIONS)


def release() -> Release:
    url = "https://index.example.com/packages/" + PYPI_ATTESTATIONS
    real = DistributionFile(PYPI_ATTESTATIONS, url, PYPI_SHA, FileKind.SDIST)
    return Release(PIN, (real,), "https://index.example.com/simple", "simple-json")


def lock_check(
    recorded: tuple[PublisherIdentity, ...], previous: str
) -> tuple[AuthenticityCheck, RequirementsTree]:
    text = f"pypi-attestations==0.0.19 --hash=sha256:{PYPI_SHA}\n"
    path = Path("requirements.txt")
    tree = RequirementsTree(files={path: parse_text(path, text)}, roots=[path])
    check = AuthenticityCheck(
        Attestations(offline=True),
        recorded={PIN.name: recorded},
        previous={PIN.name: frozenset({Version(previous)})},
    )
    return check, tree


def test_a_new_version_by_another_publisher_is_held_back() -> None:
    check, tree = lock_check((FORK,), previous="0.0.18")
    client = RealProvenance()
    found = release()
    outcome = asyncio.run(check_lock(tree, {PIN: found}, {PIN: found.files}, check, client))
    change = outcome.held[PIN.name]
    assert (change.kept, change.offered, change.verdict) == (
        "0.0.18",
        "0.0.19",
        "publisher-changed",
    )
    assert change.found == (GITHUB,)
    assert change.recorded == (FORK,)
    assert PIN.name not in outcome.identities
    assert client.asked == [PYPI_ATTESTATIONS]


def test_the_pinned_version_by_another_publisher_is_an_error() -> None:
    check, tree = lock_check((FORK,), previous="0.0.19")
    found = release()
    with pytest.raises(InputErrors) as info:
        asyncio.run(check_lock(tree, {PIN: found}, {PIN: found.files}, check, RealProvenance()))
    (error,) = info.value.errors
    assert isinstance(error, AttestationMismatch)
    assert error.line == 1
    assert "attested by GitHub trailofbits/pypi-attestations release.yml" in error.message
    assert "--accept-publisher pypi-attestations" in (error.hint or "")


def test_results_are_cached_per_file_within_a_run() -> None:
    check, tree = lock_check((), previous="0.0.19")
    client = RealProvenance()
    found = release()
    for _ in range(3):
        outcome = asyncio.run(check_lock(tree, {PIN: found}, {PIN: found.files}, check, client))
        assert outcome.identities == {PIN.name: (GITHUB,)}
    assert client.asked == [PYPI_ATTESTATIONS]
