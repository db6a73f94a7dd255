"""The entry points the CLI calls: each joins parse, resolve, index and plan for one command.

    harden --no-resolve   files ─parse→ tree ─plan_harden→ FilePlans
    harden / refresh      sources ─order by -c/-r→ each: template ─resolve→ pins ─render_lock→
                          lock text ─plan_harden→ FilePlan (later layers read earlier ones
                          as planned in this run)
    verify                hardenreq.core_verify (apart, so that verify loads none of this)

Nothing is written here: every entry point returns plans, and the CLI writes them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import platform
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from hardenreq._files import read_optional_file
from hardenreq._tasks import run as run_tasks
from hardenreq.advisories import AdvisoryOptions
from hardenreq.authenticity import (
    AuthenticityCheck,
    AuthenticityOptions,
    PublisherChange,
    YoungRelease,
)
from hardenreq.core_verify import (
    VerifyRequest,
    attestations_for,
    index_for,
    index_settings_for,
    pinned_count,
    probed_for,
    upgrade_limits,
    verify,
)
from hardenreq.errors import (
    HashMismatch,
    InputError,
    InputErrors,
    LocatedError,
    MaliciousRelease,
    ResolutionFailed,
)
from hardenreq.index.location import IndexSettings
from hardenreq.index.policy import RetryPolicy
from hardenreq.index.sources import ListedFile
from hardenreq.layout import (
    PYPROJECT,
    LockHeader,
    command_path,
    default_output,
    display_path,
    header_lines,
    order_by_includes,
    read_header,
    render_header,
)
from hardenreq.lock import (
    LockedPin,
    Universe,
    merge_resolutions,
    pyproject_requirements,
    render_lock,
)
from hardenreq.models import HashPin, Pin, PublisherIdentity, Release
from hardenreq.plan import FilePlan, HardenOptions, HardenResult, plan_harden, plural
from hardenreq.progress import Progress
from hardenreq.redact import redact_url
from hardenreq.reqfile.parse import (
    MAX_FILE_BYTES,
    OptionEntry,
    RequirementsFile,
    RequirementsTree,
    parse_bytes,
    parse_requirements,
    parse_text,
    read_file,
)
from hardenreq.reqfile.render import Edit, apply_edits
from hardenreq.resolve import Resolution, dependents_closure, read_via, resolve, stop_all
from hardenreq.select import select_hashes
from hardenreq.targets import HERE, Environment, Target, Targets

if TYPE_CHECKING:
    from hardenreq.advisories.fix import PinFix
    from hardenreq.build_deps import BuildPlan
    from hardenreq.index.helper import PageHelper
    from hardenreq.provenance import Attestations
    from hardenreq.refresh import RefreshReport

__all__ = [
    "HardenRequest",
    "LockJob",
    "LockOutcome",
    "LocksPlan",
    "LocksRequest",
    "RefreshRequest",
    "VerifyRequest",
    "harden",
    "index_settings_for",
    "plan_locks",
    "plan_refresh",
    "verify",
]

if TYPE_CHECKING:
    # A type only: the index client (httpx) is imported when a command reaches the index.
    from hardenreq.index.sources import ListedFile

logger = logging.getLogger(__name__)

#: How many of a source's projects a failed resolution looks up to tell a wrong index URL.
_MAX_PROBES = 50


# harden --no-resolve ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HardenRequest:
    """``harden --no-resolve``: pinned files to hash in place, with their includes."""

    files: Sequence[Path]
    options: HardenOptions
    index_url: str | None = None
    retry: RetryPolicy | None = None
    environ: Mapping[str, str] | None = None
    #: Check the pins written against these advisory sources (None: no check).
    advisories: AdvisoryOptions | None = None
    authenticity: AuthenticityOptions = field(default_factory=AuthenticityOptions)
    #: The build-constraints file (None: build-constraints.txt beside the first file).
    build_constraints: Path | None = None
    #: ``--only-binary`` values of the command line (``:all:``: no sdist may be built).
    only_binary: tuple[str, ...] = ()


def harden(
    request: HardenRequest, progress: Progress | None = None
) -> tuple[HardenResult, IndexSettings]:
    """Parse the files, fetch every pinned release's digests and plan the rewrite.

    Returns the plan (nothing is written) and the index settings used; vulnerable pins
    are in its warnings, the build constraints of pins built from their sdist in
    ``result.builds``. Raises MaliciousRelease (exit 1) for a pin reported as malware,
    before any sdist's build backend runs.
    """
    from hardenreq.lockfile.flows import refuse_pylocks

    refuse_pylocks(
        request.files,
        "--no-resolve rewrites requirements files in place",
        "re-hash a pylock.toml with: hardenreq refresh --hashes-only pylock.toml",
    )
    tree = parse_requirements(list(request.files), environ=request.environ)
    settings = index_for(tree, request.index_url, request.environ, "ask for hashes")
    check = _check_for(request.authenticity, attestations_for(request.authenticity), tree)
    result = _harden(tree, settings, request.options, request.retry, progress, check=check)
    result.warnings += _advise(result.releases, request.advisories, settings, request.retry)
    from hardenreq.build_deps import LockBuilds, plan_builds

    first = request.files[0]
    command = "hardenreq harden --no-resolve " + " ".join(command_path(f) for f in request.files)
    # The files as the user wrote them: their lines are the ones errors name (hashing
    # only adds lines).
    result.builds = plan_builds(
        [LockBuilds(first, tree, result.selections, settings, command)],
        default=request.build_constraints,
        only_binary=request.only_binary,
        options=request.options,
        retry=request.retry,
        environ=request.environ,
        progress=progress,
    )
    return result, settings


def _advise(
    releases: Mapping[Pin, Release],
    options: AdvisoryOptions | None,
    settings: IndexSettings,
    retry: RetryPolicy | None,
) -> list[str]:
    """What the advisory sources say about the pins a run writes: warnings for vulnerable
    pins (and sources that failed); MaliciousRelease for malware, which stops the run."""
    if options is None or not options.enabled or not releases:
        return []
    from hardenreq.advisories.check import AdvisoryChecker, harden_notes
    from hardenreq.index.client import HttpFetcher

    async def run() -> tuple[list[str], list[str]]:
        async with HttpFetcher(settings, retry) as fetcher:
            checker = AdvisoryChecker(options, fetcher)
            lookup = await checker.lookup(sorted(releases, key=str))
            return harden_notes(checker, lookup, releases)

    warnings, errors = run_tasks(run())
    if errors:
        raise MaliciousRelease(
            "\n".join(errors),
            hint="remove it from the source (often a misspelt name of a well-known project)",
        )
    return warnings


def _harden(
    tree: RequirementsTree,
    settings: IndexSettings,
    options: HardenOptions,
    retry: RetryPolicy | None,
    progress: Progress | None,
    *,
    check: AuthenticityCheck | None = None,
    want_latest: bool = False,
) -> HardenResult:
    """The digests of every pin of ``tree`` from the index, and the rewrite they make."""
    # Imported here: commands that never reach the index (init, pip-conf) skip httpx.
    from hardenreq.index.helper import page_helper

    with page_helper(settings, retry, pins=pinned_count(tree), want_latest=want_latest) as helper:
        return run_tasks(
            _harden_async(
                tree, settings, options, retry, progress, helper, check, want_latest=want_latest
            )
        )


async def _harden_async(
    tree: RequirementsTree,
    settings: IndexSettings,
    options: HardenOptions,
    retry: RetryPolicy | None,
    progress: Progress | None,
    helper: PageHelper,
    check: AuthenticityCheck | None,
    *,
    want_latest: bool,
) -> HardenResult:
    from hardenreq.index.client import HttpFetcher
    from hardenreq.index.sources import IndexChain

    async with (
        HttpFetcher(settings, retry) as fetcher,
        helper.serving(IndexChain(fetcher, settings.urls, want_latest=want_latest)) as client,
    ):
        if check is None:
            return await plan_harden(tree, client, options, progress)
        from hardenreq.authenticity import apply_check
        from hardenreq.index.provenance import PrefetchingSource, ProvenanceFetcher

        provenance = ProvenanceFetcher(fetcher, settings.urls)
        client = PrefetchingSource(
            client,
            provenance,
            lambda release: select_hashes(release, options.policy).chosen,
            probed_for(tree, check.recorded),
        )
        try:
            result = await plan_harden(tree, client, options, progress)
            await apply_check(result, tree, check, provenance, progress)
        finally:
            await provenance.aclose()
        return result


def _check_for(
    options: AuthenticityOptions,
    attestations: Attestations | None,
    tree: RequirementsTree,
    *,
    recorded: Mapping[NormalizedName, tuple[PublisherIdentity, ...]] | None = None,
    previous: Mapping[NormalizedName, frozenset[Version]] | None = None,
) -> AuthenticityCheck | None:
    """What to check a lock's releases against: the publishers it records (those of
    ``tree`` by default) and the versions it pinned before (those of ``tree``)."""
    if attestations is None:
        return None
    from hardenreq.authenticity import recorded_identities

    if previous is None:
        pinned: dict[NormalizedName, set[Version]] = {}
        for e in tree.requirements():
            if e.name is not None and e.pinned_version is not None:
                pinned.setdefault(e.name, set()).add(e.pinned_version)
        previous = {name: frozenset(versions) for name, versions in pinned.items()}
    return AuthenticityCheck(
        attestations,
        recorded_identities(tree) if recorded is None else recorded,
        previous,
        frozenset(canonicalize_name(n) for n in options.accept_publishers),
    )


# harden with resolution, and refresh -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LockJob:
    """One lock to make: its source (.in, pyproject.toml, hand-kept .txt, or a lock whose
    header names its source), its output when not the default, and pyproject extras."""

    source: Path
    output: Path | None = None
    extras: tuple[str, ...] = ()
    #: This lock's own build-constraints file (None: the run's default).
    build_constraints: Path | None = None


@dataclass(frozen=True, slots=True)
class LocksRequest:
    """Locks to make in one run; layers that ``-c`` another's output are done after it."""

    jobs: Sequence[LockJob]
    options: HardenOptions = field(default_factory=HardenOptions)
    upgrade: bool = False
    upgrade_packages: tuple[str, ...] = ()
    hashes_only: bool = False
    index_url: str | None = None
    retry: RetryPolicy | None = None
    environ: Mapping[str, str] | None = None
    #: The build-constraints file of every lock without its own (None: beside each lock).
    build_constraints: Path | None = None
    #: ``--only-binary`` values of the command line (``:all:``: no sdist may be built).
    only_binary: tuple[str, ...] = ()
    #: The environments the locks are for; None: what each lock's header says, else this
    #: machine.
    targets: Targets | None = None
    #: ``NAME==VERSION``: move only these pins, to exactly these versions (what they need
    #: may move too; nothing else does).
    pinned_upgrades: tuple[str, ...] = ()
    #: Check the pins written against these advisory sources (None: no check).
    advisories: AdvisoryOptions | None = None
    authenticity: AuthenticityOptions = field(default_factory=AuthenticityOptions)


@dataclass(slots=True)
class LockOutcome:
    """One planned lock: its FilePlan, the harden result behind it, and what it came from."""

    lock: FilePlan
    result: HardenResult
    settings: IndexSettings
    source: Path
    output: Path
    saved_source: FilePlan | None
    pins: int
    #: The lock before and after as requirements text, where it is a pylock.toml (refresh
    #: compares these; a layer that -c includes it resolves against the second).
    texts: tuple[str, str] | None = None
    command: str = ""
    build_constraints: Path | None = None

    @property
    def lock_text(self) -> bytes:
        """The planned lock as requirements text (a pylock.toml's requirements view)."""
        return self.texts[1].encode("utf-8") if self.texts is not None else self.lock.new


@dataclass(slots=True)
class LocksPlan:
    """Every lock of a run, in the order they were made, its build-constraints files, and
    warnings for the user."""

    outcomes: list[LockOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    builds: list[BuildPlan] = field(default_factory=list)

    @property
    def plans(self) -> list[FilePlan]:
        """Every file the run would write: the locks, any saved sources, the build
        constraints."""
        plans: list[FilePlan] = []
        for outcome in self.outcomes:
            plans.append(outcome.lock)
            if outcome.saved_source is not None:
                plans.append(outcome.saved_source)
        plans += [build.plan for build in self.builds]
        return plans

    def summary(self) -> list[str]:
        """One line per lock, for stderr."""
        lines: list[str] = []
        for outcome in self.outcomes:
            if outcome.saved_source is not None:
                lines.append(
                    f"kept your requirements as {display_path(outcome.saved_source.path)}: "
                    "edit it and re-run harden (or refresh) to update the lock"
                )
            result = outcome.result
            lines.append(
                f"locked {display_path(outcome.source)} -> {display_path(outcome.output)}: "
                f"{plural(outcome.pins, 'pin')}, {plural(result.hashes, 'hash', 'hashes')} "
                f"({result.hashes_added} new)"
            )
            checked = result.authenticity.summary() if result.authenticity else None
            if checked:
                lines.append(f"  {checked}")
        lines += [build.summary() for build in self.builds]
        return lines


@dataclass(frozen=True, slots=True)
class _LockTarget:
    """A job with its source read and parsed once, and its output decided."""

    job: LockJob
    source: Path
    output: Path
    template: RequirementsFile
    header_source: str
    extras: tuple[str, ...]
    parse_source: bool
    save_source: Path | None

    def includes(self) -> list[Path]:
        """The files the source includes with ``-c``/``-r`` (for ordering layers)."""
        if not self.parse_source:
            return []
        return [
            self.source.parent / value
            for entry in self.template.entries
            if isinstance(entry, OptionEntry)
            for option, value in entry.options
            if option in ("--constraint", "--requirement") and value and "://" not in value
        ]


def plan_locks(request: LocksRequest, progress: Progress | None = None) -> LocksPlan:
    """Resolve every job's source through pip-tools, then hash every pin of the closure.

    Jobs run in include order: a layer whose source ``-c``/``-r`` includes another job's
    output resolves against that output as planned in this same run, so layers agree and
    a second run changes nothing. With ``hashes_only`` every lock keeps its pins and its
    hashes are fetched again. Nothing is written here. Raises InputErrors, ConfigError,
    ResolutionFailed, or an index error.
    """
    environ = os.environ if request.environ is None else request.environ
    targets = [_lock_target(job, environ) for job in request.jobs]
    _check_outputs(targets)
    ordered = order_by_includes(targets, lambda t: t.output, lambda t: t.includes())
    planned: dict[Path, bytes] = {}
    plan = LocksPlan()
    known: set[NormalizedName] = set()
    attestations = attestations_for(request.authenticity)
    for target in ordered:
        if request.hashes_only:
            outcome = _rehash(target, request, planned, progress, attestations)
        else:
            outcome = _plan_lock(target, request, planned, progress, plan.warnings, attestations)
        outcome.command = _update_command(outcome.lock_text, target)
        outcome.build_constraints = target.job.build_constraints
        plan.outcomes.append(outcome)
        planned[_key(outcome.output)] = (
            outcome.lock.new if outcome.texts is None else outcome.texts[1].encode("utf-8")
        )
        known |= {p.name for p in outcome.result.releases}
    plan.builds = _plan_builds(plan.outcomes, request, progress)
    unknown = [p for p in request.upgrade_packages if canonicalize_name(p) not in known]
    plan.warnings += [
        f"--upgrade-package {name}: no lock of this run pins {name}; nothing to upgrade"
        for name in unknown
    ]
    releases = {pin: r for o in plan.outcomes for pin, r in o.result.releases.items()}
    if plan.outcomes:
        settings = plan.outcomes[0].settings
        plan.warnings += _advise(releases, request.advisories, settings, request.retry)
    return plan


def _update_command(lock: bytes, target: _LockTarget) -> str:
    """The command the lock's header says rebuilds it (its second line)."""
    lines = lock[:8192].decode("utf-8", "replace").splitlines()
    prefix = "# To update it: "
    if len(lines) > 1 and lines[1].startswith(prefix):
        return lines[1].removeprefix(prefix)
    return f"hardenreq harden {command_path(target.source)}"


def _plan_builds(
    outcomes: Sequence[LockOutcome], request: LocksRequest, progress: Progress | None
) -> list[BuildPlan]:
    """The build constraints of the sdists the locks install (build_deps.plan_builds)."""
    from hardenreq.build_deps import LockBuilds, plan_builds

    environ = os.environ if request.environ is None else request.environ
    locks = []
    for outcome in outcomes:
        parsed = parse_bytes(outcome.output, outcome.lock_text, environ)
        tree = RequirementsTree(files={outcome.output: parsed}, roots=[outcome.output])
        locks.append(
            LockBuilds(
                outcome.output,
                tree,
                outcome.result.selections,
                outcome.settings,
                outcome.command,
                outcome.build_constraints,
                planned=True,
            )
        )
    return plan_builds(
        locks,
        default=request.build_constraints,
        only_binary=request.only_binary,
        options=request.options,
        upgrade=request.upgrade,
        upgrade_packages=request.upgrade_packages,
        hashes_only=request.hashes_only,
        retry=request.retry,
        environ=request.environ,
        progress=progress,
    )


def _key(path: Path) -> Path:
    return Path(os.path.normpath(path.absolute()))


def _check_outputs(targets: Sequence[_LockTarget]) -> None:
    seen: dict[Path, _LockTarget] = {}
    for target in targets:
        key = _key(target.output)
        if key in seen:
            raise InputError(
                f"{display_path(seen[key].source)} and {display_path(target.source)} both "
                f"lock to {display_path(target.output)}",
                hint="give each source its own output with -o or [[tool.hardenreq.locks]]",
            )
        seen[key] = target


def _lock_target(job: LockJob, environ: Mapping[str, str]) -> _LockTarget:
    from hardenreq.lockfile.flows import check_lock_name, is_pylock_path, pylock_source

    source = job.source
    if job.output is not None:
        check_lock_name(job.output)
    if source.name == PYPROJECT:
        output = job.output or default_output(source)
        text = pyproject_requirements(source, job.extras)
        return _LockTarget(
            job=job,
            source=source,
            output=output,
            template=parse_text(source, text, environ=environ),
            header_source=_relative(source, output),
            extras=job.extras,
            parse_source=False,
            save_source=None,
        )
    if job.extras:
        raise InputError("--extra applies to a pyproject.toml source only")
    if is_pylock_path(source):
        # A pylock.toml hardenreq wrote names its source in [tool.hardenreq].
        named = pylock_source(source)
        if named is not None:
            return _lock_target(LockJob(named[0], job.output or source, named[1]), environ)
        return _LockTarget(
            job, source, job.output or source, parse_text(source, "", environ=environ),
            source.name, (), parse_source=False, save_source=None,
        )  # fmt: skip
    template = read_file(source, environ)
    header = read_header(template.text)
    if job.output is None and header is not None:
        # A lock hardenreq wrote: rebuild it from the source its header names.
        origin = header.source_path(source)
        return _lock_target(
            LockJob(origin, source, job.extras or header.extras, job.build_constraints), environ
        )
    output = job.output or default_output(source)
    recorded, save = source, None
    if job.output is None and output == source:
        # The one-shot rewrite of a hand-kept file: what the user asked for (the ranges)
        # is kept as the sibling .in, which later runs and refresh resolve from.
        recorded = source.with_suffix(".in")
        if not recorded.exists():
            save = recorded
        elif read_file(recorded, environ).text != template.text:
            raise InputError(
                f"{display_path(recorded)} already exists and differs from {display_path(source)}",
                hint="to lock from it, run: hardenreq harden "
                f"{command_path(recorded)} -o {command_path(source)}",
            )
    return _LockTarget(
        job=job,
        source=source,
        output=output,
        template=template,
        header_source=_relative(recorded, output),
        extras=(),
        parse_source=True,
        save_source=save,
    )


def _relative(source: Path, output: Path) -> str:
    return Path(os.path.relpath(source.absolute(), output.absolute().parent)).as_posix()


@dataclass(frozen=True, slots=True)
class _PreviousLock:
    """What an existing lock holds: hashes by pin (or direct URL) with the line carrying
    them, ``# via`` notes, its header lines, and lines hardenreq did not write."""

    file: RequirementsFile | None
    data: bytes | None
    hashes: dict[Pin | str, tuple[HashPin, ...]]
    lines: dict[Pin | str, int]
    via: dict[NormalizedName, tuple[str, ...]]
    markers: dict[Pin, Marker | None] = field(default_factory=dict)

    def preferred(self, environment: Environment, upgrading: Sequence[str]) -> list[Pin]:
        """The old lock's pins for one environment (its lines whose marker is true there),
        but for the packages being upgraded: pip-compile keeps them where it can."""
        return [
            pin
            for pin, marker in self.markers.items()
            if pin.name not in upgrading and environment.evaluate(marker)
        ]

    #: The publishers it records (``# publisher:`` notes), by package.
    identities: dict[NormalizedName, tuple[PublisherIdentity, ...]] = field(default_factory=dict)

    @property
    def versions(self) -> dict[NormalizedName, frozenset[Version]]:
        """The versions it pins for each package (several, in a lock for several
        environments)."""
        found: dict[NormalizedName, set[Version]] = {}
        for key in self.hashes:
            if isinstance(key, Pin):
                found.setdefault(key.name, set()).add(key.version)
        return {name: frozenset(versions) for name, versions in found.items()}

    @property
    def header(self) -> str | None:
        """The first three lines of a lock hardenreq wrote (kept while the source is the
        same, so the recorded command does not change with the folder a run starts in)."""
        if self.file is None:
            return None
        count = header_lines(self.file.text)
        lines = self.file.text.splitlines(keepends=True)[:count]
        if not count or len(lines) != count or lines[-1].rstrip("\r\n") != "#":
            return None
        return "".join(lines)


def _previous_lock(output: Path, environ: Mapping[str, str]) -> _PreviousLock:
    """The lock as it is before the run, read once, before resolution: these bytes are what
    the write later checks the file still holds (a concurrent edit is never overwritten)."""
    data = read_optional_file(output, limit=MAX_FILE_BYTES, what="the lock")
    if data is None:
        return _PreviousLock(None, None, {}, {}, {})
    from hardenreq.lockfile.flows import is_pylock_path, read_view

    via = None
    if is_pylock_path(output):
        view = read_view(output, data, environ)
        parsed, via = view.file, view.via
    else:
        parsed = parse_bytes(output, data, environ)
    hashes: dict[Pin | str, tuple[HashPin, ...]] = {}
    lines: dict[Pin | str, int] = {}
    markers: dict[Pin, Marker | None] = {}
    for entry in parsed.requirements:
        version, name = entry.pinned_version, entry.name
        key: Pin | str | None = None
        if entry.link is not None:
            key = entry.link
        elif version is not None and name is not None:
            key = Pin(name, version)
        if key is not None:
            hashes[key] = entry.hashes + entry.ignored_hashes
            lines[key] = entry.lineno
        if isinstance(key, Pin):
            markers[key] = entry.marker
    from hardenreq.publishers import read_identities

    return _PreviousLock(
        parsed,
        data,
        hashes,
        lines,
        read_via(parsed) if via is None else via,
        markers,
        read_identities(parsed),
    )


#: Resolutions a lock may take to hold releases back at their old pins (publisher checks).
_HOLD_ROUNDS = 3


def _plan_lock(
    target: _LockTarget,
    request: LocksRequest,
    planned: Mapping[Path, bytes],
    progress: Progress | None,
    warnings: list[str],
    attestations: Attestations | None = None,
) -> LockOutcome:
    environ = os.environ if request.environ is None else request.environ
    if any(map(_is_pylock, (target.source, target.output, *target.includes()))):
        from hardenreq.lockfile.flows import pylock_layer

        planned = pylock_layer(target.source, target.output, target.includes(), planned, environ)
    if target.parse_source:
        overrides: dict[Path, bytes | RequirementsFile] = dict(planned)
        overrides[_key(target.source)] = target.template
        tree = parse_requirements([target.source], environ=environ, overrides=overrides)
    else:
        tree = RequirementsTree(files={target.source: target.template}, roots=[target.source])
    from hardenreq.plan import check_entries

    _, errors = check_entries(tree, HardenOptions(require_pins=False))
    if errors:
        raise InputErrors(errors)
    settings = index_for(tree, request.index_url, request.environ, "resolve against")
    previous = _previous_lock(target.output, environ)
    # "Upgrade boto3" frees boto3 and what it needs (by the old lock's # via notes): with
    # botocore still pinned, pip-compile could not move boto3 at all.
    upgrading = sorted(dependents_closure(previous.via, request.upgrade_packages))
    # Exact moves (refresh --fix-vulnerable): only the named pin is freed, and pip-compile
    # gets NAME==VERSION, which it reads as a constraint on that package.
    exact = {canonicalize_name(spec.partition("==")[0]): spec for spec in request.pinned_upgrades}
    upgrading = sorted(set(upgrading) - set(exact))
    freed = sorted(set(upgrading) | set(exact))
    targets = request.targets
    if targets is None and previous.file is not None:
        header_targets = read_header(previous.file.text)
        targets = header_targets.targets if header_targets is not None else None
    universe = Universe(targets)
    retry = request.retry or RetryPolicy()
    check = _check_for(
        request.authenticity,
        attestations,
        tree,
        recorded=previous.identities,
        previous=previous.versions,
    )
    cutoff = request.authenticity.cutoff()
    header = previous.header
    wanted = LockHeader(target.header_source, target.extras, targets)
    if header is None or read_header(header) != wanted:
        header = render_header(
            target.header_source,
            target.extras,
            _command(target, targets),
            target.template.newline,
            targets,
        )
    held: dict[NormalizedName, PublisherChange] = {}
    # Round 1 prefers the old lock's pins (but for the packages upgraded); later rounds
    # keep every pin as resolved, and the held ones at their old versions.
    kept: dict[Environment, list[Pin]] | None = None
    for _round in range(_HOLD_ROUNDS):
        if progress is not None:
            on = f" for {targets.describe()}" if targets is not None else ""
            progress.status(f"resolving {display_path(target.source)} with pip-tools{on}")
        resolutions = _resolve_lock(
            target, request, planned, tree, settings, retry, universe,
            preferred=(
                kept.__getitem__ if kept is not None
                else lambda environment: previous.preferred(environment, freed)
            ),
            upgrade=request.upgrade and kept is None,
            upgrading=[*upgrading, *exact.values()] if kept is None else [],
            cutoff=cutoff,
        )  # fmt: skip
        locked = merge_resolutions(resolutions)
        carried = {pin: hashes for pin, hashes in previous.hashes.items() if hashes}
        text = render_lock(
            target.template,
            locked,
            universe=universe,
            header=header,
            carried=carried,
            source_dir=target.source.parent.absolute(),
            output_dir=target.output.parent.absolute(),
            link_heads={
                entry.name: entry.head
                for entry in tree.requirements()
                if entry.link is not None and entry.name is not None
            },
        )
        lock_file = parse_text(target.output, text, environ=environ)
        lock_tree = RequirementsTree(files={target.output: lock_file}, roots=[target.output])
        try:
            result = _harden(
                lock_tree,
                settings,
                request.options,
                request.retry,
                progress,
                check=check,
                want_latest=cutoff is not None,
            )
        except InputErrors as exc:
            raise InputErrors(
                [_to_source(e, lock_file, target, previous) for e in exc.errors]
            ) from exc
        holds = result.authenticity.held if result.authenticity else {}
        if not holds:
            break
        if not set(holds) - set(held):
            raise _cannot_hold(holds, target)
        held.update(holds)
        kept = {
            environment: [p for p in previous.preferred(environment, []) if p.name in held]
            + [
                resolved.pin
                for name, resolved in resolution.pins.items()
                if resolved.pin is not None and name not in held
            ]
            for environment, resolution in resolutions.items()
        }
    else:
        raise _cannot_hold(held, target)
    warnings += _hand_edits(previous, locked, target)
    if result.authenticity is not None:
        result.authenticity.held = held
        if cutoff is not None:
            result.authenticity.young = _young(result, target, cutoff)
    warnings += [
        f"{display_path(target.output)}: kept {name}=={change.kept}, not {change.offered}: "
        f"{change.message}; take it with --accept-publisher {name} once reviewed"
        for name, change in held.items()
    ]
    lock = FilePlan(target.output, previous.data, result.plans[0].new)
    texts = None
    if _is_pylock(target.output):
        from hardenreq.lockfile.flows import pylock_plan

        old_text = previous.file.text if previous.file is not None else ""
        lock, texts = pylock_plan(lock, lock.old, old_text, result, settings.urls, environ)
    saved = None
    if target.save_source is not None:
        saved = FilePlan(target.save_source, None, target.template.to_bytes())
    pins = sum(len(versions) for versions in locked.values())
    return LockOutcome(lock, result, settings, target.source, target.output, saved, pins, texts)


#: pip-compile runs for different targets at once; each is mostly waiting on the index.
_RESOLVERS = 4


def _resolve_all(
    universe: Universe,
    resolve_for: Callable[[Environment], Resolution],
    tree: RequirementsTree,
    settings: IndexSettings,
    retry: RetryPolicy,
    preferred: Callable[[Environment], list[Pin]],
) -> dict[Environment, Resolution]:
    """One resolution per environment of the lock. Targets run in waves of several
    pip-compiles at once; after each wave, a target that would be resolved exactly as a
    finished one was (hardenreq.equivalence) takes that resolution instead of running
    pip-compile again. A failure names the environment it happened for."""
    environments = universe.environments
    if len(environments) == 1:
        try:
            return {environments[0]: resolve_for(environments[0])}
        except ResolutionFailed as exc:
            raise _explain(exc, tree, settings, retry) from exc
    from hardenreq.equivalence import resolves_the_same, waves

    targets = [e for e in environments if isinstance(e, Target)]
    results: dict[Environment, Resolution] = {}
    done: list[Target] = []
    pages: dict[NormalizedName, tuple[ListedFile, ...]] = {}
    pending = list(targets)
    first = True
    while pending:
        if done:
            _fetch_pages(done, results, pages, settings, retry)
            for candidate in list(pending):
                twin = next(
                    (
                        d
                        for d in done
                        if preferred(d) == preferred(candidate)
                        and resolves_the_same(d, results[d], candidate, pages)
                    ),
                    None,
                )
                if twin is not None:
                    results[candidate] = results[twin]
                    pending.remove(candidate)
                    logger.info("%s: resolved as %s (same markers and files)", candidate.name,
                                twin.name)  # fmt: skip
        if not pending:
            break
        wave = waves(pending, first, _RESOLVERS)
        first = False
        results.update(_run_wave(wave, resolve_for, tree, settings, retry))
        done += wave
        pending = [t for t in pending if t not in wave]
    return results


def _run_wave(
    wave: Sequence[Target],
    resolve_for: Callable[[Environment], Resolution],
    tree: RequirementsTree,
    settings: IndexSettings,
    retry: RetryPolicy,
) -> dict[Environment, Resolution]:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=_RESOLVERS)
    futures = {t: pool.submit(resolve_for, t) for t in wave}
    results: dict[Environment, Resolution] = {}
    try:
        for environment in wave:
            try:
                results[environment] = futures[environment].result()
            except ResolutionFailed as exc:
                explained = _explain(exc, tree, settings, retry)
                raise type(explained)(
                    f"for {environment.name}: {explained.message}", hint=explained.hint
                ) from exc
    except BaseException:
        # A failure, Ctrl-C or SIGTERM here: the other pip-compiles stop too, at once.
        pool.shutdown(wait=False, cancel_futures=True)
        stop_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def _fetch_pages(
    done: Sequence[Target],
    results: Mapping[Environment, Resolution],
    pages: dict[NormalizedName, tuple[ListedFile, ...]],
    settings: IndexSettings,
    retry: RetryPolicy,
) -> None:
    """The simple pages of every project the finished resolutions looked up (once each)."""
    wanted = sorted(
        {
            p
            for t in done
            if (record := results[t].record) is not None
            for p in record.projects
            if p not in pages
        }
    )
    if not wanted:
        return
    from hardenreq.index.client import HttpFetcher
    from hardenreq.index.sources import IndexChain

    async def run() -> list[tuple[ListedFile, ...]]:
        async with HttpFetcher(settings, retry) as fetcher:
            chain = IndexChain(fetcher, settings.urls)
            return await asyncio.gather(*(chain.project_files(name) for name in wanted))

    pages.update(zip(wanted, run_tasks(run()), strict=True))


def _resolve_lock(
    target: _LockTarget,
    request: LocksRequest,
    planned: Mapping[Path, bytes],
    tree: RequirementsTree,
    settings: IndexSettings,
    retry: RetryPolicy,
    universe: Universe,
    *,
    preferred: Callable[[Environment], list[Pin]],
    upgrade: bool,
    upgrading: Sequence[str],
    cutoff: datetime | None,
) -> dict[Environment, Resolution]:
    """One resolution of the lock's source per environment (``_resolve_all``)."""
    with tempfile.TemporaryDirectory(prefix="hardenreq-layers-") as scratch:
        requirements, renamed = _with_overrides(target, planned, Path(scratch))

        def resolve_for(environment: Environment) -> Resolution:
            return resolve(
                requirements,
                cwd=target.source.absolute().parent,
                source_name=target.header_source,
                index=settings,
                preferred=preferred(environment),
                upgrade=upgrade,
                upgrade_packages=upgrading,
                environ=request.environ,
                renamed=renamed,
                timeout=retry.remaining(),
                network_timeout=retry.timeout,
                network_retries=retry.attempts - 1,
                on_line=_log_resolver_line,
                target=environment if isinstance(environment, Target) else None,
                uploaded_prior_to=cutoff,
            )

        return _resolve_all(universe, resolve_for, tree, settings, retry, preferred)


def _cannot_hold(held: Mapping[NormalizedName, PublisherChange], target: _LockTarget) -> InputError:
    names = ", ".join(sorted(held))
    return InputError(
        f"{display_path(target.output)}: cannot keep {names} at the old pin: the resolution "
        "needs the new release, whose publisher check fails ("
        + "; ".join(change.message for change in held.values())
        + ")",
        hint=f"review the release, then re-run with --accept-publisher for {names}",
    )


def _young(result: HardenResult, target: _LockTarget, cutoff: datetime) -> list[YoungRelease]:
    """Newer releases the minimum release age kept out, within the source's own ranges."""
    from hardenreq.authenticity import young_releases

    ranges = {
        e.name: e.requirement.specifier
        for e in target.template.requirements
        if e.name is not None and e.requirement is not None
    }
    return [
        young
        for young in young_releases(result.releases.values(), cutoff)
        if young.package not in ranges
        or ranges[canonicalize_name(young.package)].contains(young.version, prereleases=True)
    ]


def _is_pylock(path: Path) -> bool:
    from hardenreq.lockfile.flows import is_pylock_path

    return is_pylock_path(path)


def _log_resolver_line(line: str) -> None:
    logger.debug("pip-compile: %s", line)


def _explain(
    failure: ResolutionFailed, tree: RequirementsTree, settings: IndexSettings, retry: RetryPolicy
) -> InputError:
    """pip-compile's failure in the user's terms: which line of which file, which package,
    and why (no such project, no such version, a conflict). A project pip found no version
    of is looked up on the index: missing, or the index is unreachable (exit 3)."""
    entries = [entry for entry in tree.requirements() if entry.name is not None]

    def where(requirement: str) -> tuple[str, NormalizedName | None]:
        try:
            parsed = Requirement(requirement)
        except InvalidRequirement:
            return "", None
        name = canonicalize_name(parsed.name)
        named = [e for e in entries if e.name == name]
        # The line that says exactly this, else any line of the project.
        exact = [e for e in named if e.requirement and e.requirement.specifier == parsed.specifier]
        entry = next(iter(exact or named), None)
        return (f"{display_path(entry.path)}:{entry.lineno}: " if entry is not None else ""), name

    messages: list[str] = []
    unknown = [u for u in failure.unsatisfied if not u.versions]
    missing = set(_missing_projects([where(u.requirement)[1] for u in unknown], settings, retry))
    index = ", ".join(redact_url(u) for u in settings.urls)
    if missing:
        # pip stops at the first project it cannot find; if the index has none of the
        # source's projects, the URL is wrong, and one line should say so.
        named = sorted({e.name for e in entries if e.name is not None})[:_MAX_PROBES]
        if len(named) >= 2 and len(_missing_projects(named, settings, retry)) == len(named):
            return ResolutionFailed(
                f"{index} has none of the {len(named)} projects asked for (HTTP 404 for "
                "every one): it is probably not the URL of a package index",
                hint="check --index-url, the file's --index-url line and pip's configuration "
                "(an index URL usually ends in /simple)",
            )
    for unsatisfied in failure.unsatisfied:
        prefix, name = where(unsatisfied.requirement)
        shown = unsatisfied.requirement
        if not prefix:
            shown += " (needed by another package)"
        if name in missing:
            messages.append(f"{prefix}{shown}: no such project on {index}")
        elif unsatisfied.versions:
            listed = ", ".join(unsatisfied.versions[-8:])
            more = "" if len(unsatisfied.versions) <= 8 else " ..."
            messages.append(
                f"{prefix}{shown}: no release matches (the index has{more} {listed}; "
                f"newest {unsatisfied.versions[-1]})"
            )
        elif failure.requires_python:
            messages.append(
                f"{prefix}{shown}: no release installs on this Python "
                f"({platform.python_version()}): {failure.requires_python[:200]}"
            )
        else:
            messages.append(f"{prefix}{shown}: no release has a file that installs here")
    if failure.conflicts:
        parts = []
        for conflict in failure.conflicts:
            prefix, _ = where(conflict.requirement)
            if conflict.parent is None:
                parts.append(f"{conflict.requirement} ({prefix.rstrip(': ') or 'requested'})")
            else:
                parent_where, _ = where(conflict.parent.split("==")[0])
                via = f", from {parent_where.rstrip(': ')}" if parent_where else ""
                parts.append(f"{conflict.requirement} (required by {conflict.parent}{via})")
        messages.append("conflicting requirements: " + " and ".join(parts))
    if not messages:
        return failure
    hint = (
        "loosen one of the conflicting requirements"
        if failure.conflicts
        else "check the name and the version, and that the index serves the project"
    )
    return ResolutionFailed("\n".join(messages), hint=hint)


def _missing_projects(
    names: Sequence[NormalizedName | None], settings: IndexSettings, retry: RetryPolicy
) -> list[NormalizedName]:
    """The names no index has at all (asked of the index; unreachable: exit 3)."""
    wanted = sorted({n for n in names if n is not None})
    if not wanted:
        return []
    from hardenreq.index.client import HttpFetcher
    from hardenreq.index.sources import IndexChain

    async def run() -> list[bool]:
        async with HttpFetcher(settings, retry) as fetcher:
            chain = IndexChain(fetcher, settings.urls)
            return await asyncio.gather(*(chain.has_project(n) for n in wanted))

    return [name for name, found in zip(wanted, run_tasks(run()), strict=True) if not found]


def _command(target: _LockTarget, targets: Targets | None) -> str:
    """The command that rebuilds the lock, with paths as seen from where this run started."""
    folder = target.output.parent
    source = command_path(folder / target.header_source, folder)
    extras = "".join(f" --extra {e}" for e in target.extras)
    on = f" {targets.options()}" if targets is not None else ""
    return f"hardenreq harden {source}{extras}{on} -o {command_path(target.output, folder)}"


def _hand_edits(
    previous: _PreviousLock, locked: Mapping[NormalizedName, list[LockedPin]], target: _LockTarget
) -> list[str]:
    """Lines someone added to the lock by hand, which the new lock drops: say so.

    A line of the old lock that no ``# via`` note explains and that is not in the source
    was not written by hardenreq (or pip-compile); the next lock has no place for it.
    """
    if previous.file is None:
        return []
    in_source = {e.name for e in target.template.requirements if e.name is not None}
    warnings: list[str] = []
    for entry in previous.file.requirements:
        name = entry.name
        if name is None or name in in_source or previous.via.get(name):
            continue
        if name in locked:
            continue
        warnings.append(
            f"{display_path(previous.file.path)}:{entry.lineno}: {entry.spec} is not in "
            f"{display_path(target.source)} (added to the lock by hand?); the new lock drops "
            f"it: add it to {display_path(target.source)} to keep it"
        )
    return warnings


def _to_source(
    error: InputError, lock: RequirementsFile, target: _LockTarget, previous: _PreviousLock
) -> InputError:
    """Point an error about a line of the lock being built at the line it came from: the
    source line that names the package, or the old lock's line whose hash it carries."""
    if not isinstance(error, LocatedError) or error.path != lock.path:
        return error
    entry = next((e for e in lock.requirements if e.lineno == error.line), None)
    name = entry.name if entry is not None else None
    origin = next((e for e in target.template.requirements if name and e.name == name), None)
    if isinstance(error, HashMismatch) and entry is not None:
        from_source = origin is not None and set(error.hashes) <= set(
            origin.hashes + origin.ignored_hashes
        )
        key: Pin | str | None = entry.link
        if key is None and entry.name is not None and entry.pinned_version is not None:
            key = Pin(entry.name, entry.pinned_version)
        old_line = previous.lines.get(key) if key is not None else None
        if not from_source and old_line is not None and previous.file is not None:
            return HashMismatch(
                previous.file.path,
                old_line,
                f"{error.detail} (a hash of the existing lock)",
                hint=error.hint,
                hashes=error.hashes,
            )
    if origin is None:
        return type(error)(
            lock.path, None, f"{error.detail} (a dependency in the lock being built)",
            hint=error.hint,
        )  # fmt: skip
    return type(error)(origin.path, origin.lineno, error.detail, hint=error.hint)


def _with_overrides(
    target: _LockTarget, planned: Mapping[Path, bytes], scratch: Path
) -> tuple[str, dict[str, str]]:
    """What pip-compile reads on standard input: the source's text, with every ``-c``/``-r``
    include made absolute, and pointed at a stand-in holding the planned text where this
    run plans to rewrite the included file.

    The text always goes through standard input, planned includes or not, so that
    pip-compile's ``# via`` notes are the same in every kind of run (pip-tools copies
    standard input to a temporary file, so relative includes would not resolve). Returns
    the text and how ``# via`` notes name the rewritten includes.
    """
    edits: list[Edit] = []
    renamed: dict[str, str] = {}
    for entry in target.template.entries if target.parse_source else ():
        if not isinstance(entry, OptionEntry):
            continue
        for option, value in entry.options:
            if option not in ("--constraint", "--requirement") or not value:
                continue
            if "://" in value:
                break
            included = _key(target.source.parent / value)
            flag = "-c" if option == "--constraint" else "-r"
            if included in planned:
                stand_in = scratch / f"{len(renamed)}-{included.name}"
                stand_in.write_bytes(_absolute_includes(included, planned[included]))
                read = stand_in
            else:
                read = included
            edits.append(Edit(entry.start, entry.end, f"{flag} {read}"))
            renamed[f"{flag} {read}"] = f"{flag} {value}"
            break
    return apply_edits(target.template.text, edits), renamed


def _absolute_includes(path: Path, data: bytes) -> bytes:
    """A planned file's bytes with its own relative includes made absolute, so that a
    stand-in copy elsewhere still includes what the file includes."""
    parsed = parse_bytes(path, data, environ={})
    edits: list[Edit] = []
    for entry in parsed.entries:
        if not isinstance(entry, OptionEntry):
            continue
        parts: list[str] = []
        for option, value in entry.options:
            if option in ("--constraint", "--requirement") and value and "://" not in value:
                flag = "-c" if option == "--constraint" else "-r"
                parts.append(f"{flag} {(path.parent / value).absolute()}")
            else:
                parts.append(option if value is None else f"{option} {value}")
        edits.append(Edit(entry.start, entry.end, " ".join(parts)))
    return parsed.to_bytes(apply_edits(parsed.text, edits))


def _rehash(
    target: _LockTarget,
    request: LocksRequest,
    planned: Mapping[Path, bytes],
    progress: Progress | None,
    attestations: Attestations | None = None,
) -> LockOutcome:
    """``--hashes-only``: the lock's own pins, every hash fetched again."""
    del planned  # the pins stay: nothing to resolve against
    environ = os.environ if request.environ is None else request.environ
    if not target.output.exists():
        raise InputError(
            f"{display_path(target.output)}: no lock to re-hash",
            hint=f"create it first: hardenreq harden {command_path(target.source)}",
        )
    from hardenreq.lockfile.flows import pylock_plan, read_view

    texts, view, data = None, None, None
    if _is_pylock(target.output):
        data = read_optional_file(target.output, limit=MAX_FILE_BYTES, what="the lock")
        view = read_view(target.output, data or b"", environ)
        lock_file = view.file
    else:
        lock_file = read_file(target.output, environ)
    tree = RequirementsTree(files={target.output: lock_file}, roots=[target.output])
    settings = index_for(tree, request.index_url, request.environ, "ask for hashes")
    check = _check_for(request.authenticity, attestations, tree)
    result = _harden(tree, settings, request.options, request.retry, progress, check=check)
    plan = result.plans[0]
    if view is not None:
        plan, texts = pylock_plan(plan, data, view.file.text, result, settings.urls, environ, view)
    return LockOutcome(
        plan, result, settings, target.source, target.output, None, len(result.releases), texts
    )


# refresh -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefreshRequest:
    """``refresh``: the locks to refresh and how."""

    jobs: Sequence[LockJob]
    upgrade_packages: tuple[str, ...] = ()
    hashes_only: bool = False
    dry_run: bool = False
    index_url: str | None = None
    retry: RetryPolicy | None = None
    environ: Mapping[str, str] | None = None
    #: The build-constraints file of every lock without its own (None: beside each lock).
    build_constraints: Path | None = None
    targets: Targets | None = None
    #: Move each vulnerable pin to the lowest allowed release that fixes its advisories.
    fix_vulnerable: bool = False
    #: The advisory sources to ask (None: no check, and no --fix-vulnerable).
    advisories: AdvisoryOptions | None = None
    authenticity: AuthenticityOptions = field(default_factory=AuthenticityOptions)


def plan_refresh(
    request: RefreshRequest, progress: Progress | None = None
) -> tuple[LocksPlan, RefreshReport]:
    """Re-resolve (with upgrades) and re-hash every lock; nothing is written here.

    Without ``upgrade_packages`` every package may move; with them, only those and what
    they need. ``hashes_only`` keeps every pin and re-fetches the hashes. Hashes that
    change under an unchanged version are allowed here (a refresh is reviewed) and the
    report lists them apart. The report is computed from the bytes before and after.

    With ``fix_vulnerable`` nothing moves but the vulnerable pins (to the lowest release
    within the source's ranges that fixes their advisories) and what those need; the
    report lists each advisory fixed and those no allowed release fixes.
    """
    # Imported here: harden and verify need none of refresh's reporting.
    from hardenreq.advisories.fix import fix_moves, fix_results
    from hardenreq.refresh import LockChanges, RefreshReport, diff_locks

    fixes: list[PinFix] = []
    if request.fix_vulnerable:
        if request.hashes_only:
            raise InputError("--fix-vulnerable moves pins: it does not go with --hashes-only")
        if request.advisories is None or not request.advisories.enabled:
            raise InputError("--fix-vulnerable needs the advisory check (drop --no-advisories)")
        fixes = _plan_fixes(request, request.advisories)
    moves = fix_moves(fixes)
    plan = plan_locks(
        LocksRequest(
            jobs=request.jobs,
            options=HardenOptions(replace_hashes=True),
            upgrade=not request.upgrade_packages and not request.fix_vulnerable,
            upgrade_packages=request.upgrade_packages,
            hashes_only=request.hashes_only,
            index_url=request.index_url,
            retry=request.retry,
            environ=request.environ,
            build_constraints=request.build_constraints,
            targets=request.targets,
            pinned_upgrades=tuple(f"{name}=={version}" for name, version in sorted(moves.items())),
            advisories=request.advisories,
            authenticity=request.authenticity,
        ),
        progress,
    )
    locks: list[LockChanges] = []
    for outcome in plan.outcomes:
        lock = outcome.lock
        old_text, new_text = outcome.texts or (
            (lock.old or b"").decode("utf-8", "replace"),
            lock.new.decode("utf-8", "replace"),
        )
        header = read_header(new_text)
        targets = header.targets if header is not None else None
        changes = diff_locks(
            old_text,
            new_text,
            outcome.result.releases,
            targets.all if targets is not None else (HERE,),
        )
        checked = outcome.result.authenticity
        locks.append(
            LockChanges(
                display_path(lock.path),
                display_path(outcome.source),
                tuple(changes),
                text_changed=lock.changed,
                created=lock.old is None,
                publisher_changes=((*checked.held.values(), *checked.accepted) if checked else ()),
                held_by_age=tuple(checked.young) if checked else (),
            )
        )
    builds = [
        LockChanges(
            display_path(build.plan.path),
            ", ".join(display_path(p) for p in build.locks),
            tuple(
                diff_locks(
                    (build.plan.old or b"").decode("utf-8", "replace"),
                    build.plan.new.decode("utf-8", "replace"),
                    build.result.releases if build.result is not None else {},
                )
            ),
            text_changed=build.plan.changed,
            created=build.plan.old is None,
        )
        for build in plan.builds
    ]
    new_pins = {
        outcome.output: {pin.name: pin.version for pin in outcome.result.releases}
        for outcome in plan.outcomes
    }
    report = RefreshReport(
        tuple(locks),
        dry_run=request.dry_run,
        build_constraints=tuple(builds),
        fixes=fix_results(fixes, new_pins),
    )
    return plan, report


def _plan_fixes(request: RefreshRequest, options: AdvisoryOptions) -> list[PinFix]:
    """The vulnerable pins of the locks as they are now, and where each should move
    (``hardenreq.advisories.fix``), within the ranges their sources ask for."""
    from hardenreq.advisories.fix import plan_fixes

    environ = os.environ if request.environ is None else request.environ
    outputs = [_lock_target(job, environ).output for job in request.jobs]
    locks = {path: read_file(path, environ) for path in outputs if path.is_file()}
    if not locks:
        return []
    tree = RequirementsTree(files=dict(locks), roots=list(locks))
    settings = index_for(tree, request.index_url, request.environ, "check against")
    return plan_fixes(
        locks, upgrade_limits(tree, request.environ), settings, options, request.retry
    )
