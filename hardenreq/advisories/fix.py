"""``refresh --fix-vulnerable``: which release each vulnerable pin should move to.

For every vulnerable pin of the locks: the advisories of every enabled source (merged by
alias), the releases an upgrade may take (after the pin, within the ranges the lock's source
asks for, installable on this Python, not yanked: ``verify.newer_releases``), what the
sources say about each of those (one more batch), and the lowest that fixes every advisory
some allowed release fixes (``match.fix_target``). The refresh then moves exactly those pins
with pip-compile's ``--upgrade-package NAME==VERSION``, and ``fix_results`` reports what the
new pins fix, judged on the versions pip-compile chose.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName
from packaging.version import Version

from hardenreq._tasks import run as run_tasks
from hardenreq.advisories import AdvisoryOptions
from hardenreq.advisories.match import FixPlan, fix_target, still_affects
from hardenreq.errors import NotOnIndex
from hardenreq.index.location import IndexSettings
from hardenreq.index.policy import RetryPolicy
from hardenreq.layout import display_path
from hardenreq.models import Pin, Release, Vulnerability
from hardenreq.refresh import VulnerabilityFix
from hardenreq.reqfile.parse import RequirementsFile
from hardenreq.verify import UpgradeLimits, newer_releases

__all__ = ["PinFix", "fix_moves", "fix_results", "plan_fixes"]


@dataclass(frozen=True, slots=True)
class PinFix:
    """A vulnerable pin of one lock, its advisories, and the release chosen to fix them."""

    lock: Path
    pin: Pin
    vulnerabilities: tuple[Vulnerability, ...]
    plan: FixPlan


def fix_moves(fixes: Sequence[PinFix]) -> dict[NormalizedName, Version]:
    """The version each vulnerable project moves to; where locks pin it differently, the
    highest of their targets (it fixes what the lower ones fix)."""
    chosen: dict[NormalizedName, Version] = {}
    for fix in fixes:
        target = fix.plan.target
        if target is not None:
            chosen[fix.pin.name] = max(chosen.get(fix.pin.name, target), target)
    return chosen


def _lock_pins(parsed: RequirementsFile) -> list[Pin]:
    return sorted(
        {
            Pin(entry.name, entry.pinned_version)
            for entry in parsed.requirements
            if entry.name is not None and entry.pinned_version is not None
        },
        key=str,
    )


def plan_fixes(
    locks: Mapping[Path, RequirementsFile],
    limits: UpgradeLimits,
    settings: IndexSettings,
    options: AdvisoryOptions,
    retry: RetryPolicy | None,
) -> list[PinFix]:
    """Every vulnerable pin of ``locks`` (malware aside: no release fixes it) and its fix.

    Raises what the index client raises when the index cannot be asked, and what the
    advisory check raises (AdvisoriesUnavailable under ``require``).
    """
    by_lock = {path: _lock_pins(parsed) for path, parsed in locks.items()}
    pins = sorted({pin for found in by_lock.values() for pin in found}, key=str)
    planned = run_tasks(_plan(pins, limits, settings, options, retry))
    return [
        PinFix(path, pin, *planned[pin])
        for path, found in by_lock.items()
        for pin in found
        if pin in planned
    ]


async def _plan(
    pins: Sequence[Pin],
    limits: UpgradeLimits,
    settings: IndexSettings,
    options: AdvisoryOptions,
    retry: RetryPolicy | None,
) -> dict[Pin, tuple[tuple[Vulnerability, ...], FixPlan]]:
    from hardenreq.advisories.check import AdvisoryChecker
    from hardenreq.index.client import HttpFetcher
    from hardenreq.index.sources import IndexChain

    external = options.use_osv_api or options.advisory_db is not None
    async with HttpFetcher(settings, retry) as fetcher:
        checker = AdvisoryChecker(options, fetcher)
        chain = IndexChain(fetcher, settings.urls, want_latest=True)
        lookup = await checker.lookup(pins)
        # The index's own data needs every release fetched; OSV's, only the vulnerable ones.
        asked = [p for p in pins if not external or checker.vulnerabilities(lookup, p, None)]
        fetched = await asyncio.gather(
            *(chain.fetch_release(p) for p in asked), return_exceptions=True
        )
        for outcome in fetched:
            if isinstance(outcome, BaseException) and not isinstance(outcome, NotOnIndex):
                raise outcome
        vulnerable: dict[Pin, tuple[Vulnerability, ...]] = {}
        candidates: dict[Pin, list[Version]] = {}
        for pin, release in zip(asked, fetched, strict=True):
            if not isinstance(release, Release):
                continue  # not on the index: verify reports it; nothing to move to
            found = tuple(
                v for v in checker.vulnerabilities(lookup, pin, release) if not v.malicious
            )
            if found:
                vulnerable[pin] = found
                allowed = limits.ranges.get(pin.name)
                # Installable on every environment the lock is for.
                pythons = [e.python_full for e in limits.environments] or [limits.python]
                candidates[pin] = newer_releases(release, allowed, pythons)
        later_pins = sorted(
            {Pin(pin.name, v) for pin, versions in candidates.items() for v in versions}, key=str
        )
        later = await checker.lookup(later_pins) if later_pins else None
        planned: dict[Pin, tuple[tuple[Vulnerability, ...], FixPlan]] = {}
        for pin, found in vulnerable.items():
            known = {
                version: checker.vulnerabilities(later, Pin(pin.name, version), None)
                for version in candidates[pin]
                if later is not None
            }
            planned[pin] = (found, fix_target(pin.version, found, candidates[pin], known))
        return planned


def fix_results(
    fixes: Sequence[PinFix], new_pins: Mapping[Path, Mapping[NormalizedName, Version]]
) -> tuple[VulnerabilityFix, ...]:
    """What each vulnerable pin became in the planned locks (``new_pins``, by lock path) and
    which of its advisories that fixes; ``no_fix`` lists those no allowed release fixes."""
    planned = {_key(path): pins for path, pins in new_pins.items()}
    results: list[VulnerabilityFix] = []
    for fix in fixes:
        new = planned.get(_key(fix.lock), {}).get(fix.pin.name)
        fixed = tuple(
            v.id
            for v in fix.vulnerabilities
            if new is not None and not still_affects(v, new, fix.pin.version)
        )
        results.append(
            VulnerabilityFix(
                lock=display_path(fix.lock),
                package=str(fix.pin.name),
                old=str(fix.pin.version),
                new=None if new is None else str(new),
                fixed=fixed,
                unfixed=tuple(v.id for v in fix.vulnerabilities if v.id not in fixed),
                no_fix=fix.plan.unfixed,
            )
        )
    return tuple(results)


def _key(path: Path) -> Path:
    return Path(os.path.normpath(path.absolute()))
