"""verify: compare hashed requirements files with the index as it is now, as findings.

A bad line is reported, never raised: the result is a VerifyReport whatever the files hold.
Only what stops the check itself raises: an unreadable or unparsable file (exit 2) and an
unreachable index (exit 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from hardenreq._tasks import gather_inputs
from hardenreq.advisories import INDEX_ONLY
from hardenreq.advisories.check import AdvisoryChecker, advisory_findings, source_findings
from hardenreq.classify import DirectLink, Pinned, classify, line_problems, option_problems
from hardenreq.errors import InputError, NotOnIndex
from hardenreq.index.filenames import wheel_tags
from hardenreq.index.interface import IndexClient
from hardenreq.index.location import IndexSettings
from hardenreq.layout import display_path
from hardenreq.models import (
    DistributionFile,
    FileKind,
    Finding,
    FindingKind,
    Pin,
    Release,
    VerifyReport,
)
from hardenreq.progress import NoProgress, Progress
from hardenreq.redact import redact_text, redact_url
from hardenreq.reqfile.parse import OptionEntry, RequirementEntry, RequirementsTree
from hardenreq.select import select_hashes
from hardenreq.targets import HERE, Environment, admits_python, describe_environments

__all__ = ["ReleaseChecks", "UpgradeLimits", "newer_releases", "upgrade_target", "verify_tree"]

#: More findings about the releases found (authenticity: ``hardenreq.authenticity``): given
#: each pin's lines (entry, file shown) and its release on the index.
ReleaseChecks = Callable[
    [Mapping[Pin, Sequence[tuple[RequirementEntry, str]]], Mapping[Pin, Release]],
    Awaitable[list[Finding]],
]

logger = logging.getLogger(__name__)

_HERE_NAME = f"python {platform.python_version()} on {platform.system().lower()}"


def _plain_http(url: str) -> bool:
    """http to anything but this machine (loopback traffic never leaves it)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1")


def _option_findings(entry: OptionEntry, file: str) -> Iterable[Finding]:
    for problem in option_problems(entry):
        yield problem.finding(file)
    for option, value in entry.options:
        if option in ("--index-url", "--extra-index-url") and value:
            shown = redact_url(value)
            if _plain_http(value):
                yield Finding(
                    FindingKind.INSECURE_INDEX,
                    file,
                    entry.lineno,
                    f"{option} {shown} is plain http: anyone on the path can change what "
                    "pip sees (hashes still protect pinned files)",
                    details=(("url", shown),),
                )
            if option == "--extra-index-url":
                yield Finding(
                    FindingKind.EXTRA_INDEX,
                    file,
                    entry.lineno,
                    f"--extra-index-url {shown}: pip takes a project from whichever index "
                    "offers the best version, so a name published on both invites "
                    "dependency confusion",
                    details=(("url", shown),),
                )
        elif option == "--trusted-host" and value:
            yield Finding(
                FindingKind.INSECURE_INDEX,
                file,
                entry.lineno,
                f"--trusted-host {value} turns off TLS checks for that host",
                details=(("host", value),),
            )


def _release_findings(
    entry: RequirementEntry, file: str, release: Release, upgrade: UpgradeLimits
) -> list[Finding]:
    findings: list[Finding] = []
    pin = release.pin
    name, version = str(pin.name), str(pin.version)
    by_digest = {f.sha256: f for f in release.files}
    if entry.hashes:
        for pinned in entry.hashes:
            if pinned.algorithm == "sha256" and pinned.digest in by_digest:
                continue
            why = (
                "matches no file of this release on the index (replaced, tampered with or "
                "removed: find out which before trusting it)"
                if pinned.algorithm == "sha256"
                else "cannot be confirmed: the index publishes sha256 digests only"
            )
            findings.append(
                Finding(
                    FindingKind.UNKNOWN_HASH,
                    file,
                    entry.lineno,
                    f"{pin}: --hash={pinned.algorithm}:{pinned.digest} {why}",
                    name,
                    version,
                    (("hash", f"{pinned.algorithm}:{pinned.digest}"),),
                )
            )
        listed = {h.digest for h in entry.hashes if h.algorithm == "sha256"}
        chosen = select_hashes(release).chosen
        missing = sorted((f for f in chosen if f.sha256 not in listed), key=_by_name)
        if missing:
            names = ", ".join(f.filename for f in missing[:3])
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            findings.append(
                Finding(
                    FindingKind.MISSING_HASH,
                    file,
                    entry.lineno,
                    f"{pin}: {len(missing)} file(s) on the index have no hash here ({names}"
                    f"{more}); pip may pick one and refuse it, or use another file",
                    name,
                    version,
                    (("files", [_file_detail(f) for f in missing]),),
                )
            )
    if (reason := release.yanked) is not None:
        findings.append(
            Finding(
                FindingKind.YANKED,
                file,
                entry.lineno,
                f"{pin} is yanked" + (f": {reason}" if reason else " (no reason given)"),
                name,
                version,
                (("reason", reason),),
            )
        )
    pythons = [e.python_full for e in upgrade.environments if _true_on(e, entry)]
    target = upgrade_target(release, upgrade.ranges.get(pin.name), pythons or [upgrade.python])
    if target is not None:
        newest = release.latest if release.latest is not None and release.latest > target else None
        extra = f" (the newest, {newest}, is outside {upgrade.why(pin.name)})" if newest else ""
        findings.append(
            Finding(
                FindingKind.OUTDATED,
                file,
                entry.lineno,
                f"{pin}: {target} is out{extra}",
                name,
                version,
                (("latest", str(target)), ("newest", str(newest or target))),
            )
        )
    return findings


@dataclass(frozen=True, slots=True)
class UpgradeLimits:
    """What an upgrade may move a pin to: the ranges its source asks for (by project, with
    the file they come from) and the Python it must install on."""

    ranges: Mapping[str, SpecifierSet] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    python: Version = field(default_factory=lambda: Version(platform.python_version()))
    #: The requirement lines of the locks' sources: each environment must install them.
    requested: tuple[RequirementEntry, ...] = ()
    #: The environments the lock is for: an upgrade must install on each its line is for.
    environments: tuple[Environment, ...] = (HERE,)

    def why(self, name: str) -> str:
        """What limits the upgrade of ``name``, in words."""
        if name in self.ranges:
            source = self.sources.get(name, "the source")
            return f"{self.ranges[name]} ({source}) or Python {self.python}"
        return f"what installs on Python {self.python}"


def upgrade_target(
    release: Release, allowed: SpecifierSet | None, pythons: Sequence[Version]
) -> Version | None:
    """The newest release an upgrade would move the pin to: not yanked, installable on
    every one of ``pythons`` (its files' Requires-Python), within ``allowed``, and no
    pre-release unless the pin is one. None when there is none newer."""
    return max(newer_releases(release, allowed, pythons), default=None)


def newer_releases(
    release: Release, allowed: SpecifierSet | None, pythons: Sequence[Version]
) -> list[Version]:
    """Every release after the pin an upgrade may move it to (``upgrade_target``'s rules),
    oldest first."""
    return sorted(
        newer.version
        for newer in release.newer
        if not newer.yanked
        and (not newer.version.is_prerelease or release.pin.version.is_prerelease)
        and all(_installs_on(newer.requires_python, python) for python in pythons)
        and (allowed is None or allowed.contains(newer.version, prereleases=True))
    )


def _installs_on(requires_python: tuple[str, ...], python: Version) -> bool:
    if not requires_python:
        return True
    for text in requires_python:
        try:
            if not text or SpecifierSet(text).contains(python, prereleases=True):
                return True
        except InvalidSpecifier:
            return True  # pip ignores a Requires-Python it cannot parse
    return False


def _configured_findings(settings: IndexSettings, file: str) -> list[Finding]:
    """Extra indexes and trusted hosts from pip's configuration or the environment.

    Lines of the files are reported where they stand; these have no line, so they are
    reported against the first file checked.
    """
    findings: list[Finding] = []
    for url in settings.extra_index_urls:
        if url in settings.from_files:
            continue
        shown = redact_url(url)
        findings.append(
            Finding(
                FindingKind.EXTRA_INDEX,
                file,
                None,
                f"extra index {shown} (from pip configuration or PIP_EXTRA_INDEX_URL): a name "
                "published on two indexes invites dependency confusion",
                details=(("url", shown),),
            )
        )
        if _plain_http(url):
            findings.append(
                Finding(
                    FindingKind.INSECURE_INDEX,
                    file,
                    None,
                    f"extra index {shown} (from pip configuration) is plain http",
                    details=(("url", shown),),
                )
            )
    findings.extend(
        Finding(
            FindingKind.INSECURE_INDEX,
            file,
            None,
            f"trusted host {host} (from pip configuration) turns off TLS checks",
            details=(("host", host),),
        )
        for host in settings.trusted_hosts
        if host not in settings.from_files
    )
    return findings


async def _link_findings(
    links: list[tuple[RequirementEntry, str]], client: IndexClient
) -> list[Finding]:
    """Download direct-URL archives that carry hashes and compare."""
    checkable = [
        (entry, file)
        for entry, file in links
        if entry.link is not None and urlsplit(entry.link).scheme in ("http", "https")
    ]

    async def digest(entry: RequirementEntry) -> str | None:
        link = (entry.link or "").split("#", 1)[0]
        return await client.digest(link, what=redact_url(link))

    digests = await gather_inputs(digest(entry) for entry, _ in checkable)
    findings: list[Finding] = []
    for (entry, file), actual in zip(checkable, digests, strict=True):
        if isinstance(actual, InputError):
            raise actual
        name = str(entry.name) if entry.name else None
        spec = redact_text(entry.spec)
        if actual is None:
            findings.append(
                Finding(FindingKind.NOT_FOUND, file, entry.lineno, f"{spec}: not found", name)
            )
            continue
        for pinned in entry.hashes:
            if pinned.algorithm == "sha256" and pinned.digest == actual:
                continue
            findings.append(
                Finding(
                    FindingKind.UNKNOWN_HASH,
                    file,
                    entry.lineno,
                    f"{spec}: --hash={pinned.algorithm}:{pinned.digest} does not match the file "
                    f"served now (sha256:{actual})",
                    name,
                    details=(("hash", f"{pinned.algorithm}:{pinned.digest}"),),
                )
            )
    return findings


def _marker_true(entry: RequirementEntry) -> bool:
    marker = entry.requirement.marker if entry.requirement is not None else None
    if marker is None:
        return True
    try:
        return marker.evaluate()
    except (UndefinedComparison, UndefinedEnvironmentName):
        return True


def _conflicting_pins(tree: RequirementsTree) -> list[Finding]:
    """Two pins of one package in the files pip reads together, which pip cannot satisfy:
    different versions (pip stops with a conflict), or one version with hash lists that
    share no file (which file pip accepts then depends on the order of the lines)."""
    seen: dict[tuple[Path, int], RequirementEntry] = {}
    for entry, _ in tree.walk():
        if isinstance(entry, RequirementEntry) and _marker_true(entry):
            seen.setdefault((entry.path, entry.lineno), entry)
    by_name: dict[str, list[RequirementEntry]] = defaultdict(list)
    for entry in seen.values():
        if entry.name is not None and entry.pinned_version is not None:
            by_name[entry.name].append(entry)
    findings: list[Finding] = []
    for name, entries in by_name.items():
        first = entries[0]
        for other in entries[1:]:
            where = f"{display_path(first.path)}:{first.lineno}"
            if other.pinned_version != first.pinned_version:
                problem = (
                    f"{name}=={other.pinned_version} here, {name}=={first.pinned_version} at "
                    f"{where}: pip cannot install both and stops"
                )
            elif (
                other.hashes
                and first.hashes
                and not {h.digest for h in other.hashes} & {h.digest for h in first.hashes}
            ):
                problem = (
                    f"{name}=={other.pinned_version} here and at {where} list hashes of no "
                    "common file: which one pip accepts depends on the order it reads them in"
                )
            else:
                continue
            findings.append(
                Finding(
                    FindingKind.CONFLICTING_PINS,
                    display_path(other.path),
                    other.lineno,
                    problem,
                    str(name),
                    str(other.pinned_version),
                    (("other", where),),
                )
            )
    return findings


async def _dependency_findings(
    tree: RequirementsTree,
    releases: Mapping[Pin, Release],
    client: IndexClient,
    environments: Sequence[Environment],
) -> list[Finding]:
    """Dependencies pip's hash-checking mode would refuse to install, on each environment
    of the lock: not pinned by the files, or pinned to a version the release does not
    accept. Needs each release's Requires-Dist, which an index without PEP 658 metadata (or a
    release endpoint) does not serve: then the check is skipped for that release, and said
    so."""
    requirements: dict[Pin, tuple[str, ...] | None] = {}
    # The releases installed as requirements (a constraint installs nothing by itself).
    named = {
        Pin(e.name, e.pinned_version)
        for e, constraint in tree.walk()
        if isinstance(e, RequirementEntry)
        and not constraint
        and e.name is not None
        and e.pinned_version is not None
    }
    needed = sorted((pin for pin in releases if pin in named), key=str)
    fetched = await gather_inputs(client.fetch_requires(releases[pin]) for pin in needed)
    for pin, found in zip(needed, fetched, strict=True):
        if isinstance(found, InputError):
            raise found
        requirements[pin] = found
    findings: list[Finding] = []
    for environment in environments:
        findings += _missing_on(tree, releases, requirements, environment, len(environments) > 1)
    unknown = sum(1 for found in requirements.values() if found is None)
    if unknown:
        logger.info(
            "dependencies not checked for %d of %d pins: the index serves no metadata for "
            "them (PEP 658)",
            unknown,
            len(requirements),
        )
    return findings


def _missing_on(
    tree: RequirementsTree,
    releases: Mapping[Pin, Release],
    requirements: Mapping[Pin, tuple[str, ...] | None],
    environment: Environment,
    several: bool,
) -> list[Finding]:
    lines: dict[str, list[RequirementEntry]] = defaultdict(list)
    pins: dict[str, Version] = {}
    for entry, constraint in tree.walk():
        if not isinstance(entry, RequirementEntry) or entry.name is None:
            continue
        if not _true_on(environment, entry) or entry.pinned_version is None:
            continue
        # A constraint pins what pip installs only when it carries hashes.
        if constraint and not entry.hashes:
            continue
        pins.setdefault(entry.name, entry.pinned_version)
        if not constraint:
            lines[entry.name].append(entry)
    findings: list[Finding] = []
    kind = FindingKind.INCOMPLETE_ENVIRONMENT if several else FindingKind.MISSING_DEPENDENCY
    on = f" on {environment.name}" if several else ""
    for pin, release in releases.items():
        found = requirements.get(pin)
        if found is None or pin.name not in lines or pins.get(pin.name) != pin.version:
            continue
        entry = lines[pin.name][0]
        extras = set().union(*(e.extras for e in lines[pin.name]))
        for requirement in _needed(pin.name, found, extras, environment):
            name = canonicalize_name(requirement.name)
            pinned = pins.get(name)
            if pinned is not None and requirement.specifier.contains(pinned, prereleases=True):
                continue
            why = (
                "which no line of the files pins"
                if pinned is None
                else f"but the files pin {name}=={pinned}"
            )
            findings.append(
                Finding(
                    kind,
                    display_path(entry.path),
                    entry.lineno,
                    f"{release.pin} needs {requirement.name}{requirement.specifier or ''}{on}, "
                    f"{why}: pip's hash-checking mode refuses the install",
                    str(release.pin.name),
                    str(release.pin.version),
                    (("dependency", f"{requirement.name}{requirement.specifier}"),)
                    + ((("environment", environment.name),) if several else ()),
                )
            )
    return findings


def _true_on(environment: Environment, entry: RequirementEntry) -> bool:
    try:
        return environment.evaluate(entry.marker, entry.extras)
    except (UndefinedComparison, UndefinedEnvironmentName):
        return True


def _environment_findings(
    tree: RequirementsTree,
    releases: Mapping[Pin, Release],
    environments: Sequence[Environment],
    requested: Sequence[RequirementEntry],
) -> list[Finding]:
    """What each environment of the lock would miss: a requirement of the source with no
    line that installs there, or a line none of whose hashed files installs there (no
    wheel for its tags, a Requires-Python that excludes it). One finding per line, naming
    every environment it fails on."""
    several = len(environments) > 1
    entries = [
        (e, c) for e, c in tree.walk() if isinstance(e, RequirementEntry) and e.name is not None
    ]
    missing: dict[tuple[Path, int], tuple[RequirementEntry, list[Environment]]] = {}
    uninstallable: dict[tuple[Path, int], tuple[RequirementEntry, Release, int, list[Environment]]]
    uninstallable = {}
    for environment in environments:
        active = [e for e, c in entries if not c and _true_on(environment, e)]
        names = {e.name for e in active}
        for source in requested:
            if source.name is None or source.name in names or not _true_on(environment, source):
                continue
            missing.setdefault((source.path, source.lineno), (source, []))[1].append(environment)
        for entry in active:
            version = entry.pinned_version
            if entry.name is None or version is None or not entry.hashes:
                continue
            release = releases.get(Pin(entry.name, version))
            if release is None:
                continue
            listed = {h.digest for h in entry.hashes}
            files = [f for f in release.files if f.sha256 in listed]
            if not files or any(_installs_file(f, environment) for f in files):
                continue
            key = (entry.path, entry.lineno)
            uninstallable.setdefault(key, (entry, release, len(files), []))[3].append(environment)
    first = display_path(next(iter(tree.files))) if tree.files else ""
    # A lock that names no environments is checked for this machine; where it fails here,
    # it may well be meant for another: a warning, not an error.
    kind = FindingKind.INCOMPLETE_ENVIRONMENT if several else FindingKind.UNINSTALLABLE_HERE
    findings: list[Finding] = []
    for source, where in missing.values():
        on = f"on {describe_environments(where)}" if several else f"here ({_HERE_NAME})"
        findings.append(
            Finding(
                kind,
                first,
                None,
                f"{source.name} ({display_path(source.path)}:{source.lineno}) has no line "
                f"that installs {on}: the lock is incomplete there",
                str(source.name),
                details=(("environments", [e.name for e in where]),),
            )
        )
    for entry, release, count, where in uninstallable.values():
        on = f"on {describe_environments(where)}" if several else f"here ({_HERE_NAME})"
        findings.append(
            Finding(
                kind,
                display_path(entry.path),
                entry.lineno,
                f"{release.pin}: none of its {count} hashed file(s) installs {on} (no wheel "
                "for its platform, or a Requires-Python that excludes it)",
                str(release.pin.name),
                str(release.pin.version),
                (("environments", [e.name for e in where]),),
            )
        )
    return findings


def _installs_file(file: DistributionFile, environment: Environment) -> bool:
    if not admits_python(file.requires_python, environment.python_full):
        return False
    if file.kind == FileKind.SDIST:
        return True
    if file.kind != FileKind.WHEEL:
        return False
    tags = wheel_tags(file.filename)
    return tags is not None and not tags.isdisjoint(environment.tags())


def _needed(
    own: str, requires: Sequence[str], extras: set[str], environment: Environment
) -> list[Requirement]:
    """The requirements that apply here, with the extras asked for (and the extras those
    name of the project itself, as ``pkg[all]`` requiring ``pkg[fast]``)."""
    wanted = set(extras)
    parsed: list[Requirement] = []
    for text in requires:
        try:
            parsed.append(Requirement(text))
        except InvalidRequirement:
            continue  # pip skips a Requires-Dist it cannot parse, with a warning
    needed: dict[str, Requirement] = {}
    pending = True
    while pending:
        pending = False
        for requirement in parsed:
            if not _applies(requirement, wanted, environment):
                continue
            name = canonicalize_name(requirement.name)
            if name == own:
                if not set(requirement.extras) <= wanted:
                    wanted |= set(requirement.extras)
                    pending = True
                continue
            needed[str(requirement)] = requirement
    return list(needed.values())


def _applies(requirement: Requirement, extras: set[str], environment: Environment) -> bool:
    try:
        return environment.evaluate(requirement.marker, extras)
    except (UndefinedComparison, UndefinedEnvironmentName):
        return True


def _by_name(file: DistributionFile) -> str:
    return file.filename


def _file_detail(file: DistributionFile) -> dict[str, object]:
    return {"filename": file.filename, "sha256": file.sha256, "upload_time": file.upload_time}


async def verify_tree(
    tree: RequirementsTree,
    settings: IndexSettings,
    client: IndexClient,
    progress: Progress | None = None,
    *,
    check_links: bool = True,
    upgrade: UpgradeLimits | None = None,
    advisories: AdvisoryChecker | None = None,
    fetched: dict[Pin, Release] | None = None,
    environments: Sequence[Environment] = (HERE,),
    release_checks: ReleaseChecks | None = None,
) -> VerifyReport:
    """Every finding for every file of ``tree`` (its includes too), in file and line order.

    ``check_links`` downloads direct-URL archives to check their hashes. ``advisories``
    are asked about the pins while the index is (default: the index's own data only);
    ``fetched``, if given, receives every release fetched. Raises only when the index cannot
    be asked (IndexUnavailable, IndexResponseInvalid), or an advisory source when the checker
    requires it (AdvisoriesUnavailable).
    """
    progress = progress or NoProgress()
    upgrade = upgrade or UpgradeLimits()
    checker = advisories or AdvisoryChecker(INDEX_ONLY)
    findings: list[Finding] = []
    wanted: dict[Pin, list[tuple[RequirementEntry, str]]] = defaultdict(list)
    links: list[tuple[RequirementEntry, str]] = []
    requirements = 0
    for path, parsed in tree.files.items():
        file = display_path(path)
        constraint = path in tree.constraint_files
        for entry in parsed.entries:
            if isinstance(entry, OptionEntry):
                findings.extend(_option_findings(entry, file))
            elif isinstance(entry, RequirementEntry):
                requirements += 1
                classified = classify(entry)
                findings += [
                    p.finding(file) for p in line_problems(entry, classified, constraint=constraint)
                ]
                if isinstance(classified, Pinned):
                    wanted[classified.pin].append((entry, file))
                elif isinstance(classified, DirectLink) and entry.hashes:
                    links.append((entry, file))
    findings += _conflicting_pins(tree)
    if settings.index_url and _plain_http(settings.index_url) and tree.files:
        # Not from a line of the files (those are reported above): from pip's configuration,
        # the environment or the command line. Reported against the first file checked.
        findings.append(
            Finding(
                FindingKind.INSECURE_INDEX,
                display_path(next(iter(tree.files))),
                None,
                f"the index {redact_url(settings.index_url)} (from {settings.origin}) is "
                "plain http",
                details=(("url", redact_url(settings.index_url)),),
            )
        )
    if tree.files:
        findings += _configured_findings(settings, display_path(next(iter(tree.files))))
    if check_links:
        findings += await _link_findings(links, client)
    pins = sorted(wanted, key=str)
    progress.start(len(pins), "checking the index")

    async def fetch(pin: Pin) -> Release:
        try:
            return await client.fetch_release(pin)
        finally:
            progress.advance(str(pin))

    lookup = asyncio.ensure_future(checker.lookup(pins))
    # The biggest pages are asked for first, so that the last to arrive is a small one: a
    # release the lock pins many files of is, as a rule, one of many releases of many files.
    order = sorted(pins, key=lambda pin: -max(len(entry.hashes) for entry, _ in wanted[pin]))
    try:
        arrived = dict(zip(order, await gather_inputs(fetch(pin) for pin in order), strict=True))
    except BaseException:
        lookup.cancel()
        # Waited for, so that its requests end before the client closes.
        with contextlib.suppress(BaseException):
            await lookup
        raise
    finally:
        progress.finish()
    found = await lookup
    outcomes = [arrived[pin] for pin in pins]
    for pin, outcome in zip(pins, outcomes, strict=True):
        known = checker.vulnerabilities(
            found, pin, outcome if isinstance(outcome, Release) else None
        )
        for entry, file in wanted[pin]:
            # A release the index no longer has is still reported: malware is removed.
            findings += advisory_findings(pin, known, file, entry.lineno, checker.options)
            if isinstance(outcome, NotOnIndex):
                findings.append(
                    Finding(
                        FindingKind.NOT_FOUND,
                        file,
                        entry.lineno,
                        outcome.message,
                        str(pin.name),
                        str(pin.version),
                    )
                )
            elif isinstance(outcome, InputError):
                raise outcome
            else:
                findings.extend(_release_findings(entry, file, outcome, upgrade))
    releases = {
        pin: outcome
        for pin, outcome in zip(pins, outcomes, strict=True)
        if isinstance(outcome, Release)
    }
    if fetched is not None:
        fetched.update(releases)
    findings += _environment_findings(tree, releases, environments, upgrade.requested)
    findings += await _dependency_findings(tree, releases, client, environments)
    sources = checker.sources(found, releases.values())
    if tree.files:
        findings += source_findings(sources, display_path(next(iter(tree.files))))
    if release_checks is not None:
        findings += await release_checks(wanted, releases)
    findings.sort(key=lambda f: (f.file, f.line or 0, f.kind.value, f.message))
    return VerifyReport(
        tuple(findings), tuple(display_path(p) for p in tree.files), requirements, sources
    )
