"""When one target's resolution is another's too, so that pip-compile runs once for both.

pip's resolver is deterministic: given the same requirements, index and preferences, what
makes the resolutions of two targets differ is only what it asks of the target. That is:
each marker it evaluates, and for each project it looks up, which releases have a file that
installs there (wheel tags, Requires-Python; yanked releases are left alone either way).
The resolution of target A records the markers pip evaluated and the projects it looked
up (``hardenreq._target_compile``). Target B resolves the same way when every such marker
gives the same answer on B, and for every such project, each release at or after the one A
chose (every release, for a project A did not pin) installs on B exactly when it installs
on A: the resolver then takes the same path. Anything else, and B is resolved on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.tags import Tag
from packaging.utils import NormalizedName
from packaging.version import Version

from hardenreq.index.filenames import wheel_tags
from hardenreq.index.sources import ListedFile
from hardenreq.models import FileKind
from hardenreq.resolve import Resolution
from hardenreq.targets import Target, admits_python

__all__ = ["resolves_the_same", "waves"]


def resolves_the_same(
    done: Target,
    resolution: Resolution,
    other: Target,
    pages: Mapping[NormalizedName, Sequence[ListedFile]],
) -> bool:
    """Whether ``other`` would be resolved exactly as ``done`` was (see the module)."""
    record = resolution.record
    if record is None:
        return False
    done_environment, other_environment = done.environment(), other.environment()
    for text, extra in record.markers:
        try:
            marker = Marker(text)
            environment = {} if extra is None else {"extra": extra}
            if marker.evaluate({**done_environment, **environment}) != marker.evaluate(
                {**other_environment, **environment}
            ):
                return False
        except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
            return False
    done_tags, other_tags = done.tags(), other.tags()
    for project in record.projects:
        files = pages.get(project)
        if files is None:
            return False
        pinned = resolution.pins.get(project)
        chosen = pinned.version if pinned is not None else None
        versions: dict[Version, list[ListedFile]] = {}
        for file in files:
            if chosen is None or file.version >= chosen:
                versions.setdefault(file.version, []).append(file)
        for listed in versions.values():
            on_done = any(_installs(f, done, done_tags) for f in listed)
            if on_done != any(_installs(f, other, other_tags) for f in listed):
                return False
    return True


def _installs(file: ListedFile, target: Target, tags: frozenset[Tag]) -> bool:
    if file.yanked:
        return False
    if not admits_python(file.requires_python, target.python_full):
        return False
    if file.kind == FileKind.SDIST:
        return True
    found = wheel_tags(file.filename)
    return found is not None and not found.isdisjoint(tags)


def waves(pending: Sequence[Target], first: bool, size: int) -> list[Target]:
    """The targets to resolve next. Resolutions differ most often across Python versions
    (Requires-Python boundaries) and least across platforms, so the first wave is the first
    platform's oldest and newest Python, which most other targets then share; each later
    wave takes, per platform still to do, its oldest and its newest Python."""
    platforms = list(dict.fromkeys(t.platform for t in pending))
    by_platform = {p: sorted(t for t in pending if t.platform == p) for p in platforms}
    if first:
        first_platform = by_platform[platforms[0]]
        return list(dict.fromkeys([first_platform[0], first_platform[-1]]))[:size]
    wave = [t for targets in by_platform.values() for t in dict.fromkeys([targets[0], targets[-1]])]
    return wave[:size]
