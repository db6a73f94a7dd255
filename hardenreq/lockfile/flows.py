"""pylock.toml in harden, refresh and verify: the steps the core takes where a lock is one.

The core works on requirements text. A pylock.toml enters it as its requirements view
(``read_view``: one line per pin with all its hashes, each entry carrying the TOML line of
its package, so every message the core has names the right line), and a lock the core
planned leaves it as pylock.toml, its files filled in from the releases the run fetched.
``PylockChecks`` adds to verify what only pylock.toml can tell (a file whose URL, size or
upload time changed on the index).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from packaging.utils import NormalizedName

from hardenreq._files import read_regular_file
from hardenreq.errors import HardenreqError, InputError, LocatedError, RequirementsSyntaxError
from hardenreq.index.interface import IndexClient
from hardenreq.layout import display_path
from hardenreq.lockfile.model import Lock, LockedFile, LockedPackage, LockOrigin
from hardenreq.lockfile.pylock import PylockDocument, is_pylock_path, parse_pylock, render_pylock
from hardenreq.lockfile.requirements import (
    lock_from_requirements,
    origin_of,
    requirements_view,
    upload_time_of,
    via_of,
)
from hardenreq.models import (
    DistributionFile,
    FileKind,
    Finding,
    FindingKind,
    Pin,
    Release,
    VerifyReport,
)
from hardenreq.plan import FilePlan, HardenResult
from hardenreq.publishers import read_identities
from hardenreq.redact import redact_url, strip_userinfo
from hardenreq.reqfile.parse import (
    MAX_FILE_BYTES,
    OptionEntry,
    RequirementEntry,
    RequirementsFile,
    parse_text,
)
from hardenreq.resolve import read_via

__all__ = [
    "PylockChecks",
    "PylockView",
    "check_lock_name",
    "is_pylock_path",
    "pylock_from_requirements",
    "pylock_layer",
    "pylock_plan",
    "pylock_source",
    "read_pylock",
    "read_view",
    "refuse_pylocks",
]


def check_lock_name(path: Path) -> None:
    """A lock named ``*.toml`` must be a pylock.toml name: the format is chosen by the
    name (as pip chooses it), and ``lock.toml`` would get requirements text. Raises
    InputError."""
    if path.suffix.lower() == ".toml" and not is_pylock_path(path):
        raise InputError(
            f"{display_path(path)}: a lock in pylock.toml format must be named pylock.toml or "
            "pylock.NAME.toml (PEP 751), and a requirements-format lock should not end in .toml",
            hint="for example -o pylock.toml, -o pylock.dev.toml or -o requirements.txt",
        )


def refuse_pylocks(paths: Sequence[Path], why: str, hint: str) -> None:
    """Raise InputError naming the first pylock.toml of ``paths`` (for steps that take
    requirements files only)."""
    for path in paths:
        if is_pylock_path(path):
            raise InputError(f"{display_path(path)}: {why}", hint=hint)


def read_pylock(path: Path) -> PylockDocument:
    """Read and parse a pylock.toml (bounded, regular files only). Raises LocatedError."""
    data = read_regular_file(path, limit=MAX_FILE_BYTES, what="the lock")
    return parse_pylock(path, data)


@dataclass(frozen=True, slots=True)
class PylockView:
    """A pylock.toml as the core reads locks: its requirements view (parsed, under the
    pylock.toml's own path), why each package is there, and the document itself."""

    document: PylockDocument
    file: RequirementsFile
    via: dict[NormalizedName, tuple[str, ...]]

    @property
    def lock(self) -> Lock:
        """The Lock the file holds."""
        return self.document.lock


def read_view(
    path: Path, data: bytes, environ: Mapping[str, str] | None, *, as_path: Path | None = None
) -> PylockView:
    """The requirements view of a pylock.toml's bytes; ``as_path`` is the path the view
    is parsed under (default: ``path``). Raises LocatedError for a file that is not a valid
    single-use pylock.toml."""
    document = parse_pylock(path, data)
    text, lines = requirements_view(document)
    try:
        parsed = parse_text(as_path or path, text, environ=environ)
    except RequirementsSyntaxError as exc:
        # A marker or name pip would not read: said about the TOML file, not the view.
        raise LocatedError(path, None, f"an entry pip cannot read: {exc.detail}") from exc
    entries = [e for e in parsed.entries if isinstance(e, OptionEntry | RequirementEntry)]
    if len(entries) != len(lines):
        raise HardenreqError(f"internal error: the view of {display_path(path)} lost an entry")
    # Each entry on the line of the TOML file it stands for: the view's own lines are
    # nobody's, and every message about an entry names its line.
    placed = {
        id(entry): replace(entry, lineno=line, end_lineno=line)
        for entry, line in zip(entries, lines, strict=True)
        if line is not None
    }
    parsed = replace(parsed, entries=tuple(placed.get(id(e), e) for e in parsed.entries))
    return PylockView(document, parsed, via_of(document.lock))


def pylock_source(path: Path) -> tuple[Path, tuple[str, ...]] | None:
    """The source a pylock.toml hardenreq wrote was made from (``[tool.hardenreq]
    source``, relative to the lock), with its extras; None when the lock records none."""
    origin = read_pylock(path).lock.origin
    if origin.source is None:
        return None
    return path.parent / origin.source, origin.extras


def pylock_from_requirements(
    text: str,
    path: Path,
    releases: Mapping[Pin, Release],
    index_urls: Sequence[str],
    *,
    environ: Mapping[str, str] | None,
    origin: LockOrigin | None = None,
    via: Mapping[NormalizedName, tuple[str, ...]] | None = None,
) -> tuple[bytes, list[str]]:
    """A planned requirements lock (hashed, with its header and ``# via`` notes) as
    pylock.toml bytes, and warnings for what the lock leaves out.

    ``origin`` and ``via`` replace what the text says (a re-hash keeps the lock's own).
    The result is validated before it is returned. Raises InputErrors.
    """
    parsed = parse_text(path, text, environ=environ)
    lock, warnings = lock_from_requirements(
        parsed.requirements,
        releases,
        origin=origin or origin_of(parsed),
        index_urls=index_urls,
        via=read_via(parsed) if via is None else via,
        identities=read_identities(parsed),
    )
    return render_pylock(lock).encode("utf-8"), warnings


# -- verify -------------------------------------------------------------------------------


class _Recording:
    """An index client that remembers every release it returned (verify compares the
    files of pylock.toml locks with them afterwards)."""

    def __init__(self, inner: IndexClient) -> None:
        self._inner = inner
        self.releases: dict[Pin, Release] = {}

    async def fetch_release(self, pin: Pin) -> Release:
        release = await self._inner.fetch_release(pin)
        self.releases[pin] = release
        return release

    async def digest(self, url: str, *, what: str) -> str | None:
        return await self._inner.digest(url, what=what)

    async def fetch_requires(self, release: Release) -> tuple[str, ...] | None:
        return await self._inner.fetch_requires(release)


@dataclass(slots=True)
class PylockChecks:
    """verify's part for the pylock.toml files among those it checks.

    ``overrides`` gives the parser each pylock.toml's requirements view in place of the
    file; ``watch`` wraps the index client to see the releases; ``amend`` adds to the
    report what only pylock.toml records.
    """

    views: dict[Path, PylockView] = field(default_factory=dict)
    _recording: _Recording | None = None

    @classmethod
    def read(cls, files: Sequence[Path], environ: Mapping[str, str] | None) -> PylockChecks:
        """The views of the pylock.toml files among ``files``. Raises LocatedError."""
        checks = cls()
        for path in files:
            if is_pylock_path(path):
                key = Path(os.path.normpath(path.absolute()))
                data = read_regular_file(path, limit=MAX_FILE_BYTES, what="the lock")
                checks.views[key] = read_view(path, data, environ, as_path=key)
        return checks

    @property
    def overrides(self) -> dict[Path, bytes | RequirementsFile]:
        """What the parser reads for each pylock.toml: its view."""
        return {path: view.file for path, view in self.views.items()}

    def watch(self, client: IndexClient) -> IndexClient:
        """``client``, remembering releases when there is a pylock.toml to check."""
        if not self.views:
            return client
        self._recording = _Recording(client)
        return self._recording

    def amend(self, report: VerifyReport) -> VerifyReport:
        """``report`` with the findings of each pylock.toml put in its terms: a hash is a
        locked file (named, on its own line), files pylock.toml cannot hold are not
        missing, and ``file-changed``, ``unhashable`` (VCS, directory) are added."""
        if not self.views:
            return report
        releases = self._recording.releases if self._recording else {}
        shown = {display_path(path): view for path, view in self.views.items()}
        findings: list[Finding] = []
        for finding in report.findings:
            view = shown.get(finding.file)
            if view is None:
                findings.append(finding)
            else:
                findings += _in_pylock_terms(finding, view, releases)
        for file, view in shown.items():
            findings += _pylock_findings(file, view, releases)
        findings.sort(key=lambda f: (f.file, f.line or 0, f.kind.value, f.message))
        return replace(report, findings=tuple(findings))


def _package_at(view: PylockView, line: int | None) -> tuple[int, LockedPackage] | None:
    for number, package in enumerate(view.lock.packages):
        if package.line is not None and package.line == line:
            return number, package
    return None


def _in_pylock_terms(
    finding: Finding, view: PylockView, releases: Mapping[Pin, Release]
) -> list[Finding]:
    found = _package_at(view, finding.line)
    if found is None:
        return [finding]
    number, package = found
    release = releases.get(package.pin) if package.pin is not None else None
    if finding.kind == FindingKind.UNKNOWN_HASH:
        value = str(dict(finding.details).get("hash", ""))
        algorithm, _, digest = value.partition(":")
        locked = next((f for f in package.files if (algorithm, digest) in f.hashes), None)
        if locked is None or release is None:
            return [finding]
        same_name = next((f for f in release.files if f.filename == locked.filename), None)
        replaced = (
            f"; the index now lists {locked.filename} with sha256:{same_name.sha256} (the file "
            "was replaced)"
            if same_name is not None and algorithm == "sha256"
            else " (removed, or replaced under another name: find out which before trusting it)"
        )
        return [
            Finding(
                finding.kind,
                finding.file,
                view.document.file_line(number, digest) or finding.line,
                f"{release.pin}: the lock lists {locked.filename} ({value}), which no file of "
                f"this release on the index has now{replaced}",
                finding.package,
                finding.version,
                (*finding.details, ("filename", locked.filename)),
            )
        ]
    if finding.kind == FindingKind.MISSING_HASH and release is not None:
        listed = {f.sha256 for f in package.files}
        on_index = {f.sha256 for f in release.files}
        # pylock.toml holds one sdist per package: while the locked one is still there, a
        # second sdist of the release cannot be added, so it is not missing.
        one_sdist = package.sdist is not None and package.sdist.sha256 in on_index
        missing = [
            f
            for f in sorted(release.files, key=lambda f: f.filename)
            if f.sha256 not in listed
            and f.kind in (FileKind.WHEEL, FileKind.SDIST)
            and not (f.kind == FileKind.SDIST and one_sdist)
        ]
        if not missing:
            return []
        names = ", ".join(f.filename for f in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        return [
            Finding(
                finding.kind,
                finding.file,
                finding.line,
                f"{release.pin}: {len(missing)} file(s) on the index are not in the lock "
                f"({names}{more}); an installer that wants one of them fails, or takes "
                "another file",
                finding.package,
                finding.version,
                (("files", [_file_detail(f) for f in missing]),),
            )
        ]
    return [finding]


def _file_detail(file: DistributionFile) -> dict[str, object]:
    return {"filename": file.filename, "sha256": file.sha256, "upload_time": file.upload_time}


def _pylock_findings(file: str, view: PylockView, releases: Mapping[Pin, Release]) -> list[Finding]:
    findings: list[Finding] = []
    for number, package in enumerate(view.lock.packages):
        if package.unsupported:
            findings.append(
                Finding(
                    FindingKind.UNHASHABLE,
                    file,
                    package.line,
                    f"{package.name}: {package.unsupported}: no hash pins it, so neither an "
                    "installer nor hardenreq can check it",
                    package.name,
                )
            )
            continue
        release = releases.get(package.pin) if package.pin is not None else None
        if release is None:
            continue
        by_digest = {f.sha256: f for f in release.files}
        for locked in package.files:
            listed = by_digest.get(locked.sha256 or "")
            if listed is None:
                continue
            changes = _changes(locked, listed)
            if not changes:
                continue
            words = "; ".join(_change_words(what, before, after) for what, before, after in changes)
            findings.append(
                Finding(
                    FindingKind.FILE_CHANGED,
                    file,
                    view.document.file_line(number, locked.sha256 or "") or package.line,
                    f"{release.pin}: {locked.filename} (same sha256) is listed differently now: "
                    f"{words}",
                    package.name,
                    str(package.version),
                    (
                        ("filename", locked.filename),
                        ("sha256", locked.sha256),
                        (
                            "changes",
                            [
                                {"field": what, "locked": _json(before), "index": _json(after)}
                                for what, before, after in changes
                            ],
                        ),
                    ),
                )
            )
    return findings


def _changes(locked: LockedFile, listed: DistributionFile) -> list[tuple[str, object, object]]:
    """What the index says differently about a file the lock records (only where both
    say something: an index without sizes or upload times, such as a PEP 503 HTML page,
    changes nothing)."""
    changes: list[tuple[str, object, object]] = []
    if locked.url is not None and strip_userinfo(listed.url) != locked.url:
        changes.append(("url", locked.url, strip_userinfo(listed.url)))
    if locked.size is not None and listed.size is not None and locked.size != listed.size:
        changes.append(("size", locked.size, listed.size))
    index_time = upload_time_of(listed.upload_time)
    if locked.upload_time is not None and index_time not in (None, locked.upload_time):
        changes.append(("upload-time", locked.upload_time, index_time))
    return changes


def _change_words(what: str, before: object, after: object) -> str:
    if what == "url":
        # Every channel redacts the long digests in a file URL's path, so the message names
        # the hosts; the details carry both URLs.
        old, new = _host(str(before)), _host(str(after))
        if old != new:
            return f"URL on {old} in the lock, on {new} on the index"
        return "the index gives another URL path on the same host"
    return f"{what} {_shown(before)} in the lock, {_shown(after)} on the index"


def _host(url: str) -> str:
    parts = urlsplit(url)
    return redact_url(f"{parts.scheme}://{parts.netloc}")


def _json(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _shown(value: object) -> str:
    return str(_json(value))


def unsupported_error(path: Path, package: LockedPackage) -> LocatedError:
    """The error for an entry hardenreq cannot hash (VCS, local directory)."""
    return LocatedError(
        path,
        package.line,
        f"{package.name}: {package.unsupported}: no hash pins it, so hardenreq cannot lock "
        "or check it",
        hint="build a wheel, publish it, and lock it by version",
    )


# -- harden and refresh ---------------------------------------------------------------------


def pylock_layer(
    source: Path,
    output: Path,
    includes: Sequence[Path],
    planned: Mapping[Path, bytes],
    environ: Mapping[str, str] | None,
) -> Mapping[Path, bytes]:
    """What a layer that locks to (or from) a pylock.toml resolves against: ``planned``,
    plus the requirements view of each pylock.toml its source includes with ``-c`` that
    this run does not plan (pip-compile cannot read pylock.toml).

    Raises InputError for a pylock.toml that records no source (it can only be re-hashed)
    and for a requirements-format lock whose source includes a pylock.toml (pip reads
    ``-c``/``-r`` files as requirements, so that lock would not install).
    """
    if is_pylock_path(source):
        raise InputError(
            f"{display_path(source)}: records no source ([tool.hardenreq] source) to resolve "
            "it from",
            hint="re-hash it as it is with --hashes-only, or make it with: hardenreq harden "
            f"SOURCE -o {display_path(source)}",
        )
    included = [path for path in includes if is_pylock_path(path)]
    if included and not is_pylock_path(output):
        raise InputError(
            f"{display_path(source)}: includes {included[0].name}, which pip cannot read as a "
            f"requirements file, so the requirements-format lock {display_path(output)} "
            "would not install",
            hint="lock this layer to a pylock.toml too, or constrain it with a "
            "requirements-format lock",
        )
    layered = dict(planned)
    for path in included:
        key = Path(os.path.normpath(path.absolute()))
        if key not in layered and path.is_file():
            data = read_regular_file(path, limit=MAX_FILE_BYTES, what="the lock")
            layered[key] = read_view(path, data, environ).file.text.encode("utf-8")
    return layered


def pylock_plan(
    plan: FilePlan,
    old: bytes | None,
    old_text: str,
    result: HardenResult,
    index_urls: Sequence[str],
    environ: Mapping[str, str] | None,
    view: PylockView | None = None,
) -> tuple[FilePlan, tuple[str, str]]:
    """A planned (hashed) requirements lock as the pylock.toml it is written as: the plan
    of the pylock.toml (``old`` its bytes now), and the lock before (``old_text``, its
    view) and after as requirements text. ``view`` is the lock being re-hashed, whose
    origin and ``via`` notes are kept. The result's warnings gain what the lock leaves
    out."""
    text = plan.new.decode("utf-8")
    data, warnings = pylock_from_requirements(
        text,
        plan.path,
        result.releases,
        index_urls,
        environ=environ,
        origin=view.lock.origin if view is not None else None,
        via=view.via if view is not None else None,
    )
    result.warnings += warnings
    return FilePlan(plan.path, old, data), (old_text, text)
