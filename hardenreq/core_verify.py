"""``hardenreq verify``'s entry point, and what every command shares to reach the index.

Apart from ``hardenreq.core`` (harden and refresh), which imports this module: a verify run
loads none of the resolving, planning and writing machinery (each module imported costs
start-up time, and verify runs on every push).

    verify    files ─parse→ tree ─verify_tree→ VerifyReport (+ builds, pylock checks)
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName

from hardenreq._paths import is_pylock_path
from hardenreq._tasks import run as run_tasks
from hardenreq.authenticity import AuthenticityOptions
from hardenreq.errors import ConfigError, InputError
from hardenreq.index.location import FileIndexOption, IndexSettings, load_index_settings
from hardenreq.index.policy import RetryPolicy
from hardenreq.layout import PYPROJECT, display_path, read_header
from hardenreq.models import Finding, Pin, PublisherIdentity, Release, VerifyReport
from hardenreq.progress import Progress
from hardenreq.reqfile.parse import (
    OptionEntry,
    RequirementEntry,
    RequirementsTree,
    expand_variables,
    parse_requirements,
    parse_text,
    read_file,
)
from hardenreq.select import select_hashes
from hardenreq.targets import HERE, Targets
from hardenreq.verify import UpgradeLimits, verify_tree

if TYPE_CHECKING:
    from hardenreq.advisories import AdvisoryOptions
    from hardenreq.lockfile.flows import PylockChecks
    from hardenreq.provenance import Attestations

__all__ = [
    "VerifyRequest",
    "attestations_for",
    "index_for",
    "index_settings_for",
    "pinned_count",
    "probed_for",
    "upgrade_limits",
    "verify",
]

logger = logging.getLogger(__name__)

_INDEX_OPTIONS = frozenset({"--index-url", "--extra-index-url", "--no-index", "--trusted-host"})


def index_settings_for(
    tree: RequirementsTree,
    *,
    index_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> IndexSettings:
    """The index settings pip would use for ``tree``: pip's configuration, then the files'
    option lines in the order pip reads them (includes where they stand)."""
    env = os.environ if environ is None else environ
    options = [
        FileIndexOption(
            option,
            expand_variables(value, env) if value else None,
            f"{display_path(entry.path)}:{entry.lineno}",
        )
        for entry, _ in tree.walk()
        if isinstance(entry, OptionEntry)
        for option, value in entry.options
        if option in _INDEX_OPTIONS
    ]
    return load_index_settings(file_options=options, override_index_url=index_url, environ=environ)


def index_for(
    tree: RequirementsTree, index_url: str | None, environ: Mapping[str, str] | None, what: str
) -> IndexSettings:
    settings = index_settings_for(tree, index_url=index_url, environ=environ)
    if not settings.urls:
        raise ConfigError(
            f"no index to {what} (--no-index is set)",
            hint="pass --index-url, or remove --no-index from the file or pip configuration",
        )
    return settings


def probed_for(
    tree: RequirementsTree, recorded: Mapping[NormalizedName, Sequence[PublisherIdentity]]
) -> Callable[[Pin], bool]:
    """Whose provenance to ask for while the releases are listed: the pins the lock records
    a publisher for, and the first few others (``authenticity.probe_pins``)."""
    from hardenreq.authenticity import probe_pins

    pins = {
        Pin(e.name, e.pinned_version)
        for e in tree.requirements()
        if e.name is not None and e.pinned_version is not None
    }
    first = probe_pins(pins, recorded)
    return lambda pin: pin in first or bool(recorded.get(pin.name))


def attestations_for(options: AuthenticityOptions) -> Attestations | None:
    """The run's provenance verifier (shared by its locks), None when it checks none."""
    if not options.provenance:
        return None
    from hardenreq.provenance import Attestations

    return Attestations(offline=options.offline)


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    """``verify``: the files to check and how to reach the index."""

    files: Sequence[Path]
    index_url: str | None = None
    retry: RetryPolicy | None = None
    environ: Mapping[str, str] | None = None
    #: The environments to check the files for; None: what their headers say, else this
    #: machine.
    targets: Targets | None = None
    #: The advisory sources to ask (None: the index's own data only).
    advisories: AdvisoryOptions | None = None
    authenticity: AuthenticityOptions = field(default_factory=AuthenticityOptions)


def verify(
    request: VerifyRequest, progress: Progress | None = None
) -> tuple[VerifyReport, IndexSettings]:
    """Parse the files (and their includes) and compare every pin with the index now, and
    with the advisory sources of the request (asked at the same time)."""
    from hardenreq.advisories.check import AdvisoryChecker
    from hardenreq.index.client import HttpFetcher
    from hardenreq.index.helper import page_helper
    from hardenreq.index.sources import IndexChain

    # A pylock.toml is read through its requirements view; what only it records is
    # checked after the common checks (the pylock code is loaded only for one).
    pylocks: PylockChecks | None = None
    if any(is_pylock_path(Path(path)) for path in request.files):
        from hardenreq.lockfile.flows import PylockChecks

        pylocks = PylockChecks.read(request.files, request.environ)
    tree = parse_requirements(
        list(request.files),
        environ=request.environ,
        overrides=pylocks.overrides if pylocks is not None else None,
    )
    settings = index_for(tree, request.index_url, request.environ, "check against")
    targets = request.targets or next(
        (
            header.targets
            for parsed in tree.files.values()
            if (header := read_header(parsed.text)) is not None and header.targets is not None
        ),
        None,
    )
    environments = targets.all if targets is not None else (HERE,)
    upgrade = dataclasses.replace(
        upgrade_limits(tree, request.environ), environments=tuple(environments)
    )
    options = request.authenticity
    attestations = attestations_for(options)
    notes: list[str] = []
    summary: list[str] = []

    async def run() -> VerifyReport:
        from hardenreq.authenticity import recorded_identities, verify_findings
        from hardenreq.index.provenance import PrefetchingSource, ProvenanceFetcher

        async with (
            HttpFetcher(settings, request.retry) as fetcher,
            helper.serving(IndexChain(fetcher, settings.urls, want_latest=True)) as chain,
        ):
            checker = AdvisoryChecker(request.advisories, fetcher) if request.advisories else None
            provenance = ProvenanceFetcher(fetcher, settings.urls)
            recorded = recorded_identities(tree)
            if attestations is not None:
                chain = PrefetchingSource(
                    chain, provenance, lambda r: select_hashes(r).chosen, probed_for(tree, recorded)
                )
            if pylocks is not None:
                chain = pylocks.watch(chain)

            async def authenticity(
                wanted: Mapping[Pin, Sequence[tuple[RequirementEntry, str]]],
                releases: Mapping[Pin, Release],
            ) -> list[Finding]:
                found, said, remarks = await verify_findings(
                    wanted,
                    releases,
                    recorded,
                    attestations,
                    provenance,
                    min_release_age=options.min_release_age,
                    progress=progress,
                )
                notes.extend(said)
                summary.extend(remarks)
                return found

            releases: dict[Pin, Release] = {}
            try:
                report = await verify_tree(
                    tree,
                    settings,
                    chain,
                    progress,
                    upgrade=upgrade,
                    advisories=checker,
                    environments=environments,
                    release_checks=authenticity,
                    fetched=releases,
                )
                # Every pin's page is read: the helper's exit overlaps what is left.
                helper.stop()
                from hardenreq.build_deps import verify_builds

                report = await verify_builds(
                    report,
                    tree,
                    releases,
                    chain,
                    environ=request.environ,
                    progress=progress,
                    environments=environments,
                )
                return pylocks.amend(report) if pylocks is not None else report
            finally:
                await provenance.aclose()

    with page_helper(settings, request.retry, pins=pinned_count(tree), want_latest=True) as helper:
        report = run_tasks(run())
    return dataclasses.replace(report, notes=tuple(notes), remarks=tuple(summary)), settings


def pinned_count(tree: RequirementsTree) -> int:
    """How many releases a run over ``tree`` reads the pages of."""
    return len({(e.name, e.pinned_version) for e in tree.requirements() if e.pinned_version})


def upgrade_limits(tree: RequirementsTree, environ: Mapping[str, str] | None) -> UpgradeLimits:
    """The ranges the locks' sources ask for: a lock's header names its source (else a
    sibling ``.in``, pip-compile's layout); an upgrade stays within them. A source that
    cannot be read only leaves the ranges out: verify checks the lock, not the source."""
    env = os.environ if environ is None else environ
    ranges: dict[str, SpecifierSet] = {}
    sources: dict[str, str] = {}
    requested: list[RequirementEntry] = []
    for path, parsed in tree.files.items():
        header = read_header(parsed.text)
        source = header.source_path(path) if header else path.with_suffix(".in")
        if source == path or not source.is_file():
            continue
        try:
            if source.name == PYPROJECT:
                from hardenreq.lock import pyproject_requirements

                extras = header.extras if header else ()
                template = parse_text(source, pyproject_requirements(source, extras), environ=env)
            else:
                template = read_file(source, env)
        except InputError as exc:
            logger.info("not reading the ranges of %s: %s", display_path(source), exc)
            continue
        requested += template.requirements
        for entry in template.requirements:
            if entry.name is not None and entry.requirement is not None:
                specifier = entry.requirement.specifier
                ranges[entry.name] = ranges.get(entry.name, SpecifierSet()) & specifier
                sources[entry.name] = f"{display_path(entry.path)}:{entry.lineno}"
    return UpgradeLimits(ranges, sources, requested=tuple(requested))
