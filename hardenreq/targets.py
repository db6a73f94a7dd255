"""The environments a lock is for: Python versions x platforms, as data every stage can take.

A target is one Python version (major.minor, CPython) on one platform. It knows its PEP 508
marker environment (what pip on that machine would evaluate markers against), the wheel
platform tags that machine accepts, and the marker that singles it out in a lock.
``marker_for`` turns a set of targets into the shortest marker that is true on exactly
those among the lock's targets, which is what a line of a multi-environment lock carries.
"""

from __future__ import annotations

import functools
import platform
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.markers import Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, sys_tags
from packaging.version import Version

from hardenreq.errors import InputError

__all__ = [
    "HERE",
    "PLATFORMS",
    "Environment",
    "Target",
    "Targets",
    "admits_python",
    "describe_environments",
    "make_targets",
    "marker_for",
    "parse_platforms",
    "parse_python_versions",
    "this_platform",
]


@dataclass(frozen=True, slots=True)
class _Platform:
    """What a platform name means: markers, and the wheel platform tags, best first."""

    name: str
    sys_platform: str
    platform_system: str
    os_name: str
    machine: str
    wheel_platforms: tuple[str, ...]


def _manylinux(arch: str) -> tuple[str, ...]:
    # glibc 2.17 (manylinux2014) and newer, as pip on a current Linux accepts them.
    modern = tuple(f"manylinux_2_{minor}_{arch}" for minor in range(39, 16, -1))
    legacy: tuple[str, ...] = (f"manylinux2014_{arch}",)
    if arch == "x86_64":
        legacy += ("manylinux2010_x86_64", "manylinux1_x86_64")
    return (*modern, *legacy, f"linux_{arch}")


def _macos(arch: str) -> tuple[str, ...]:
    versions = [(major, 0) for major in range(15, 10, -1)]
    if arch == "x86_64":
        versions += [(10, minor) for minor in range(16, 8, -1)]
    tags = []
    for major, minor in versions:
        tags += [f"macosx_{major}_{minor}_{arch}", f"macosx_{major}_{minor}_universal2"]
        if arch == "x86_64":
            tags.append(f"macosx_{major}_{minor}_intel")
    return tuple(tags)


PLATFORMS: dict[str, _Platform] = {
    p.name: p
    for p in (
        _Platform("linux", "linux", "Linux", "posix", "x86_64", _manylinux("x86_64")),
        _Platform("linux-aarch64", "linux", "Linux", "posix", "aarch64", _manylinux("aarch64")),
        _Platform("macos", "darwin", "Darwin", "posix", "arm64", _macos("arm64")),
        _Platform("macos-x86_64", "darwin", "Darwin", "posix", "x86_64", _macos("x86_64")),
        _Platform("windows", "win32", "Windows", "nt", "AMD64", ("win_amd64",)),
    )
}
"""The platforms a lock can be made for, by the names ``--platform`` takes."""

_RANGE_RE = re.compile(r"^3\.(\d+)(?:-3\.(\d+))?$")


@dataclass(frozen=True, slots=True, order=True)
class Target:
    """One environment: CPython ``3.minor`` on a platform of ``PLATFORMS``."""

    minor: int
    platform: str

    @property
    def python(self) -> str:
        """``3.11``."""
        return f"3.{self.minor}"

    @property
    def name(self) -> str:
        """``python 3.11 on windows``, as messages and reports say it."""
        return f"python {self.python} on {self.platform}"

    @property
    def _platform(self) -> _Platform:
        return PLATFORMS[self.platform]

    def environment(self) -> dict[str, str]:
        """The PEP 508 marker environment of this target."""
        platform = self._platform
        return {
            "implementation_name": "cpython",
            "implementation_version": f"{self.python}.0",
            "os_name": platform.os_name,
            "platform_machine": platform.machine,
            "platform_release": "",
            "platform_system": platform.platform_system,
            "platform_version": "",
            "python_full_version": f"{self.python}.0",
            "platform_python_implementation": "CPython",
            "python_version": self.python,
            "sys_platform": platform.sys_platform,
        }

    def wheel_platforms(self) -> tuple[str, ...]:
        """The wheel platform tags this target accepts, best first."""
        return self._platform.wheel_platforms

    def tags(self) -> frozenset[Tag]:
        """Every wheel tag a CPython of this version on this platform installs."""
        return _target_tags(self.minor, self.platform)

    def evaluate(self, marker: Marker | None, extras: Iterable[str] = ()) -> bool:
        """Whether ``marker`` is true on this target (with any of ``extras`` requested)."""
        if marker is None:
            return True
        environment: dict[str, str] = self.environment()
        return any(marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras))

    @property
    def python_full(self) -> Version:
        """The version Requires-Python is checked against (``3.11.0``)."""
        return Version(f"{self.python}.0")

    def spec(self) -> dict[str, object]:
        """What ``hardenreq._target_compile`` needs to resolve for this target."""
        return {
            "environment": self.environment(),
            "python": [3, self.minor],
            "platforms": list(self.wheel_platforms()),
            "implementation": "cp",
        }


@functools.cache
def _here_tags() -> frozenset[Tag]:
    return frozenset(sys_tags())


@functools.cache
def _target_tags(minor: int, platform_name: str) -> frozenset[Tag]:
    platforms = list(PLATFORMS[platform_name].wheel_platforms)
    version = (3, minor)
    return frozenset(
        (
            *cpython_tags(version, platforms=platforms),
            *compatible_tags(version, f"cp3{minor}", platforms),
        )
    )


class _Here:
    """The environment of this interpreter: the one target of a lock made without targets."""

    name = "this machine"

    def evaluate(self, marker: Marker | None, extras: Iterable[str] = ()) -> bool:
        """Whether ``marker`` is true here (with any of ``extras`` requested)."""
        if marker is None:
            return True
        return any(marker.evaluate({"extra": extra}) for extra in ("", *extras))

    def tags(self) -> frozenset[Tag]:
        """The wheel tags this interpreter installs."""
        return _here_tags()

    @property
    def python_full(self) -> Version:
        """This interpreter's version, for Requires-Python."""
        return Version(platform.python_version())


HERE = _Here()
"""This machine, as an environment of a lock."""

Environment = _Here | Target
"""Where a lock installs: this machine, or one of the targets asked for."""


@dataclass(frozen=True, slots=True)
class Targets:
    """The environments of one lock: every Python version on every platform."""

    minors: tuple[int, ...]
    platforms: tuple[str, ...]

    @property
    def all(self) -> tuple[Target, ...]:
        """Every target, platforms outer, Python versions inner."""
        return tuple(Target(m, p) for p in self.platforms for m in self.minors)

    def describe(self) -> str:
        """``python 3.10-3.13 on linux, macos, windows``, as the lock's header says it."""
        return f"python {_versions_text(self.minors)} on {', '.join(self.platforms)}"

    def options(self) -> str:
        """The same as command-line options, for the header's command."""
        versions = _versions_text(self.minors)
        parts = [f"--python-version {versions}"]
        parts += [f"--platform {p}" for p in self.platforms]
        return " ".join(parts)


def _versions_text(minors: Sequence[int]) -> str:
    ordered = sorted(minors)
    if len(ordered) > 1 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"3.{ordered[0]}-3.{ordered[-1]}"
    return ",".join(f"3.{m}" for m in ordered)


def parse_python_versions(values: Iterable[str]) -> tuple[int, ...]:
    """``["3.10-3.13"]``, ``["3.11", "3.12"]`` or ``["3.10,3.12"]`` as minor versions.
    Raises InputError for anything but CPython 3 minor versions (3.8 to 3.15)."""
    minors: set[int] = set()
    for value in values:
        for part in value.split(","):
            match = _RANGE_RE.match(part.strip())
            if match is None:
                raise InputError(
                    f"--python-version {part.strip()!r}: give a version such as 3.12 or a "
                    "range such as 3.10-3.13"
                )
            low = int(match[1])
            high = int(match[2]) if match[2] else low
            if not 8 <= low <= high <= 15:
                raise InputError(f"--python-version {part.strip()}: from 3.8 to 3.15 only")
            minors.update(range(low, high + 1))
    return tuple(sorted(minors))


def parse_platforms(values: Iterable[str]) -> tuple[str, ...]:
    """Platform names as ``--platform`` takes them, checked against ``PLATFORMS``."""
    chosen: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if name not in PLATFORMS:
                known = ", ".join(PLATFORMS)
                raise InputError(f"--platform {name!r}: not one of {known}")
            if name not in chosen:
                chosen.append(name)
    return tuple(chosen)


def describe_environments(environments: Iterable[Environment]) -> str:
    """``python 3.10-3.13 on windows, python 3.10 on linux``: a set of environments as a
    message says it, grouped by platform."""
    by_platform: dict[str, list[int]] = {}
    others: list[str] = []
    for environment in environments:
        if isinstance(environment, Target):
            by_platform.setdefault(environment.platform, []).append(environment.minor)
        else:
            others.append(environment.name)
    parts = [f"python {_versions_text(m)} on {p}" for p, m in by_platform.items()]
    return ", ".join([*others, *parts])


def this_platform() -> str | None:
    """The name in ``PLATFORMS`` of the machine this runs on (None for another)."""
    machine = platform.machine().lower()
    # A variable, not sys.platform itself: mypy would call every other branch unreachable.
    system: str = sys.platform
    if system.startswith("linux"):
        return "linux-aarch64" if machine in ("aarch64", "arm64") else "linux"
    if system == "darwin":
        return "macos" if machine == "arm64" else "macos-x86_64"
    if system == "win32":
        return "windows"
    return None


def make_targets(python_versions: Sequence[str], platforms: Sequence[str]) -> Targets | None:
    """The targets of ``--python-version`` and ``--platform`` (either may be left out: it
    is then this interpreter's version or this machine's platform); None when neither is
    given, for a lock of this machine only. Raises InputError."""
    if not python_versions and not platforms:
        return None
    minors = parse_python_versions(python_versions) if python_versions else (sys.version_info[1],)
    chosen = parse_platforms(platforms) if platforms else ()
    if not chosen:
        here = this_platform()
        if here is None:
            raise InputError("this platform has no name hardenreq knows: pass --platform")
        chosen = (here,)
    return Targets(minors, chosen)


def marker_for(chosen: Iterable[Target], targets: Targets) -> str | None:
    """The shortest marker true on exactly ``chosen`` among ``targets`` (None for all).

    A whole platform is ``sys_platform == "win32"``; a set of Python versions on every
    platform is a range (``python_version < "3.11"``) or a list; anything else is the OR, per
    platform, of the two. The marker may be true elsewhere too (on targets the lock is not
    for), never on a target of the lock outside ``chosen``.
    """
    picked = set(chosen)
    everything = set(targets.all)
    if not picked:
        raise ValueError("a line installed on no environment has no marker")
    if picked >= everything:
        return None
    by_platform = {p: {t.minor for t in picked if t.platform == p} for p in targets.platforms}
    minors = set(targets.minors)
    full = [p for p, ms in by_platform.items() if ms == minors]
    partial = {p: ms for p, ms in by_platform.items() if ms and ms != minors}
    version_sets = {frozenset(ms) for ms in partial.values()}
    clauses = [_platform_marker(p, targets) for p in full]
    missing = [p for p in targets.platforms if not by_platform[p]]
    if partial and not missing and len(version_sets) == 1:
        # The same versions on every platform not wholly chosen: a Python marker covers
        # them (it is also true there on the wholly chosen platforms, which are chosen).
        clauses.append(_python_marker(next(iter(version_sets)), minors))
    else:
        clauses += [
            f"{_platform_marker(p, targets)} and {_group(_python_marker(ms, minors))}"
            for p, ms in partial.items()
        ]
    if len(clauses) == 1:
        return clauses[0]
    return " or ".join(f"({c})" if " and " in c or " or " in c else c for c in clauses)


def _group(marker: str) -> str:
    return f"({marker})" if " or " in marker else marker


def _platform_marker(name: str, targets: Targets) -> str:
    platform = PLATFORMS[name]
    # Two platforms of one sys_platform (linux and linux-aarch64) tell apart by machine.
    twins = [p for p in targets.platforms if PLATFORMS[p].sys_platform == platform.sys_platform]
    marker = f'sys_platform == "{platform.sys_platform}"'
    if len(twins) > 1:
        marker += f' and platform_machine == "{platform.machine}"'
    return marker


def _python_marker(chosen: Iterable[int], minors: set[int]) -> str:
    picked = sorted(set(chosen))
    ordered = sorted(minors)
    if picked == ordered[: len(picked)]:
        after = ordered[len(picked)]
        return f'python_version < "3.{after}"'
    if picked == ordered[-len(picked) :]:
        return f'python_version >= "3.{picked[0]}"'
    start = ordered.index(picked[0])
    if picked == ordered[start : start + len(picked)]:
        after = ordered[start + len(picked)]
        return f'python_version >= "3.{picked[0]}" and python_version < "3.{after}"'
    return " or ".join(f'python_version == "3.{m}"' for m in picked)


@functools.lru_cache(maxsize=2048)
def admits_python(requires_python: str | None, python: Version) -> bool:
    """Whether pip takes a file of this Requires-Python on ``python`` (one it cannot parse
    is ignored, as pip ignores it); once per distinct pair (files share a few)."""
    if not requires_python:
        return True
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True
