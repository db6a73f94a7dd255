"""Render a lock from its source: the user's own file, every requirement pinned, then the rest.

The source (a ``.in`` file, a hand-kept requirements.txt, or the dependencies of a
pyproject.toml) is the template. Its comments, blank lines, option lines and order stay;
each requirement line becomes an exact pin (marker and trailing comment kept; extras are
dropped, as ``pip-compile --strip-extras`` does, so that the lock is a valid constraints file);
``-r`` includes are flattened, because pip's hash-checking mode needs every pin hashed and
an included loose file would not be. The dependencies follow, sorted, each with ``# via``
notes as pip-compile writes them. Hashes are added afterwards by ``plan.plan_harden``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from hardenreq._files import MAX_TEXT_BYTES, read_regular_file
from hardenreq.errors import ConfigError, HardenreqError, UnreadableFile
from hardenreq.models import HashPin, Pin
from hardenreq.redact import has_credentials
from hardenreq.reqfile.parse import OptionEntry, RequirementEntry, RequirementsFile
from hardenreq.reqfile.render import Edit, apply_edits, render_hashed
from hardenreq.resolve import Resolution, ResolvedPin
from hardenreq.targets import HERE, Environment, Target, Targets, marker_for

__all__ = [
    "DEPENDENCIES_HEADING",
    "LockedPin",
    "Universe",
    "merge_resolutions",
    "pyproject_requirements",
    "render_lock",
]

DEPENDENCIES_HEADING = "# Dependencies of the requirements above, resolved by hardenreq:"


@dataclass(frozen=True, slots=True)
class Universe:
    """The environments one lock is for: this machine, or the targets asked for."""

    targets: Targets | None = None

    @property
    def environments(self) -> tuple[Environment, ...]:
        """Every environment, in a stable order."""
        return (HERE,) if self.targets is None else self.targets.all

    def where(self, marker: Marker | None, extras: Iterable[str] = ()) -> frozenset[Environment]:
        """The environments on which ``marker`` is true."""
        chosen = tuple(extras)
        return frozenset(e for e in self.environments if e.evaluate(marker, chosen))

    def marker(self, chosen: frozenset[Environment]) -> str | None:
        """The marker a line installed on exactly ``chosen`` carries (None: on all)."""
        if self.targets is None or chosen >= set(self.environments):
            return None
        return marker_for((t for t in chosen if isinstance(t, Target)), self.targets)

    def describe(self, chosen: Iterable[Environment]) -> str:
        """``python 3.10 on windows, python 3.11 on windows``: for messages."""
        return ", ".join(e.name for e in self.environments if e in set(chosen))


@dataclass(frozen=True, slots=True)
class LockedPin:
    """One version of one package in a lock, and the environments that install it."""

    resolved: ResolvedPin
    where: frozenset[Environment]


def merge_resolutions(
    resolutions: Mapping[Environment, Resolution],
) -> dict[NormalizedName, list[LockedPin]]:
    """Each package's versions over the environments: one entry per version (a direct URL
    counts as its own), with every environment that installs it and their ``# via`` notes
    joined."""
    grouped: dict[NormalizedName, dict[str, tuple[ResolvedPin, set[Environment], list[str]]]] = {}
    for environment, resolution in resolutions.items():
        for name, pin in resolution.pins.items():
            key = str(pin.version) if pin.version is not None else pin.line
            versions = grouped.setdefault(name, {})
            _, where, via = versions.setdefault(key, (pin, set(), []))
            where.add(environment)
            via += [v for v in pin.via if v not in via]
    return {
        name: [
            LockedPin(dataclasses.replace(first, via=tuple(via)), frozenset(where))
            for first, where, via in versions.values()
        ]
        for name, versions in sorted(grouped.items())
    }


def render_lock(
    template: RequirementsFile,
    locked: Mapping[NormalizedName, list[LockedPin]],
    *,
    header: str,
    carried: Mapping[Pin | str, tuple[HashPin, ...]],
    source_dir: Path,
    output_dir: Path,
    link_heads: Mapping[str, str] | None = None,
    universe: Universe | None = None,
) -> str:
    """The lock's text, with the hashes carried over from the previous lock (if any).

    Each requirement line of the template becomes a pin for the environments its marker
    is true on (one line per version where they need different ones, each with the marker
    of its environments); the rest of each package's environments get lines in the
    dependencies section. Raises HardenreqError if a requirement whose marker is true on
    some environment was not resolved there.
    """
    universe = universe or Universe()
    newline = template.newline
    edits: list[Edit] = []
    placed: dict[tuple[NormalizedName, int], set[Environment]] = {}
    for entry in template.entries:
        if isinstance(entry, RequirementEntry):
            edits.append(_pin_lines(entry, locked, universe, carried, newline, placed))
        elif isinstance(entry, OptionEntry):
            edit = _option_line(entry, template.text, source_dir, output_dir)
            if edit is not None:
                edits.append(edit)
    body = apply_edits(template.text, edits)
    rest: list[str] = []
    for name, pins in locked.items():
        for index, pin in enumerate(pins):
            remaining = pin.where - placed.get((name, index), set())
            if remaining:
                marker = universe.marker(frozenset(remaining))
                rest.append(_dependency(pin.resolved, marker, carried, newline, link_heads or {}))
    if rest:
        if body and not body.endswith(("\n", "\r")):
            body += newline
        if body.strip():
            body += newline
        body += DEPENDENCIES_HEADING + newline + "".join(rest)
    return header + body


def _left_out(entry: RequirementEntry, universe: Universe) -> Edit:
    where = "here" if universe.targets is None else "on every target"
    note = f"# {entry.head.splitlines()[0]}  # left out: its marker is false {where}"
    return Edit(entry.start, entry.end, note)


def _pin_lines(
    entry: RequirementEntry,
    locked: Mapping[NormalizedName, list[LockedPin]],
    universe: Universe,
    carried: Mapping[Pin | str, tuple[HashPin, ...]],
    newline: str,
    placed: dict[tuple[NormalizedName, int], set[Environment]],
) -> Edit:
    name = entry.name
    requirement = entry.requirement
    wanted = universe.where(entry.marker, entry.extras)
    pins = locked.get(name, []) if name is not None else []
    if not wanted:
        return _left_out(entry, universe)
    covered = [(i, pin, pin.where & wanted) for i, pin in enumerate(pins) if pin.where & wanted]
    missing = wanted - set().union(*(c for _, _, c in covered))
    if requirement is None or not covered or missing:
        shown = universe.describe(missing) if missing else universe.describe(wanted)
        raise HardenreqError(
            f"{entry.path}:{entry.lineno}: pip-compile did not pin {entry.spec} for {shown}; "
            "nothing was written (please report this)"
        )
    blocks: list[str] = []
    for index, pin, where in covered:
        placed.setdefault((pin.resolved.name, index), set()).update(where)
        resolved = pin.resolved
        if (
            entry.link is None
            and resolved.version is not None
            and not requirement.specifier.contains(resolved.version, prereleases=True)
        ):
            raise HardenreqError(
                f"{entry.path}:{entry.lineno}: pip-compile pinned {resolved.name}=="
                f"{resolved.version}, outside {requirement.specifier}; nothing was written"
            )
        if entry.link is not None or resolved.version is None:
            head = entry.head
            hashes = carried.get(entry.link or "", ())
        else:
            # No extras: the lock lists what they pull in anyway, and pip refuses a lock
            # with extras when another file reads it through -c.
            marker = _joined(
                requirement.marker, universe.marker(where) if where != wanted else None
            )
            head = f"{requirement.name}=={resolved.version}" + (f" ; {marker}" if marker else "")
            hashes = carried.get(resolved.pin, ()) if resolved.pin is not None else ()
        # Hashes written in the source are checked like any other: never dropped unseen.
        hashes = tuple(dict.fromkeys((*hashes, *entry.hashes, *entry.ignored_hashes)))
        comment = entry.comment if not blocks else None
        pinned = dataclasses.replace(
            entry, head=head, hashes=hashes, ignored_text=None, comment=comment
        )
        blocks.append(render_hashed(pinned, hashes, newline))
    return Edit(entry.start, entry.end, newline.join(blocks))


def _joined(own: Marker | None, group: str | None) -> str | None:
    """The user's marker and the marker of the environments a line is for, together."""
    if own is None:
        return group
    if group is None:
        return str(own)
    return str(Marker(f"({own}) and ({group})"))


def _option_line(entry: OptionEntry, text: str, source_dir: Path, output_dir: Path) -> Edit | None:
    names = [name for name, _ in entry.options]
    if "--requirement" in names:
        original = text[entry.start : entry.end].splitlines()[0].strip()
        note = f"# {original}  # flattened: its pins are in this file"
        return Edit(entry.start, entry.end, note)
    if "--constraint" in names and source_dir != output_dir:
        parts: list[str] = []
        for name, value in entry.options:
            if name == "--constraint" and value and "${" not in value:
                moved = Path(value) if Path(value).is_absolute() else source_dir / value
                parts.append(f"-c {Path(os.path.relpath(moved, output_dir)).as_posix()}")
            else:
                parts.append(name if value is None else f"{name} {value}")
        return Edit(entry.start, entry.end, " ".join(parts))
    return None


def _dependency(
    pin: ResolvedPin,
    marker: str | None,
    carried: Mapping[Pin | str, tuple[HashPin, ...]],
    newline: str,
    link_heads: Mapping[str, str],
) -> str:
    line = pin.line
    if pin.pin is not None:
        hashes = carried.get(pin.pin, ())
        if marker is not None:
            line = f"{pin.name}=={pin.version} ; {marker}"
    else:
        # A direct URL from an included file: pip-compile prints it with ${VAR}s expanded,
        # so write it as the user did (a credential must never land in the lock).
        link = line.partition("@")[2].strip() if "@" in line else line
        hashes = carried.get(link, ())
        line = link_heads.get(pin.name, line)
        if has_credentials(line):
            raise HardenreqError(
                f"{pin.name}: its URL holds credentials that hardenreq will not write into a "
                "lock; put them in ${VARIABLES} or ~/.netrc"
            )
        if marker is not None:
            line = f"{line} ; {marker}"
    lines = [line, *(h.render() for h in sorted(hashes))]
    text = f" \\{newline}    ".join(lines) + newline
    if len(pin.via) == 1:
        text += f"    # via {pin.via[0]}{newline}"
    elif pin.via:
        text += f"    # via{newline}" + "".join(f"    #   {v}{newline}" for v in pin.via)
    return text


def _dependency_list(path: Path, key: str, value: object) -> list[Requirement]:
    """A PEP 508 dependency list of pyproject.toml, validated (never a pip option line)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{path}: [project] {key} must be a list of strings")
    requirements: list[Requirement] = []
    for index, item in enumerate(value):
        try:
            requirements.append(Requirement(item))
        except InvalidRequirement as exc:
            raise ConfigError(
                f"{path}: [project] {key}[{index}] is not a PEP 508 requirement: {item!r}"
            ) from exc
    return requirements


def pyproject_requirements(path: Path, extras: tuple[str, ...]) -> str:
    """``[project]`` dependencies (and the named optional ones) as requirements-file text.

    Extras of the project itself (``name[test]`` inside optional-dependencies) are expanded.
    Raises ConfigError for a missing or dynamic dependency list or an unknown extra.
    """
    try:
        raw = read_regular_file(path, limit=MAX_TEXT_BYTES, what="the file")
    except UnreadableFile as exc:
        raise ConfigError(exc.message) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it as TOML: {exc}") from exc
    except RecursionError as exc:  # tomllib recurses into nested values
        raise ConfigError(f"{path}: cannot read it as TOML: values nested too deep") from exc
    project = data.get("project")
    if not isinstance(project, dict):
        raise ConfigError(f"{path}: no [project] table")
    if "dependencies" in project.get("dynamic", []):
        raise ConfigError(
            f"{path}: [project] dependencies are dynamic",
            hint="list them in pyproject.toml, or keep them in a requirements.in",
        )
    own_name = canonicalize_name(str(project.get("name", "")))
    optional = project.get("optional-dependencies", {})
    if not isinstance(optional, dict):
        raise ConfigError(f"{path}: [project] optional-dependencies must be a table of lists")
    known = {
        canonicalize_name(k): _dependency_list(path, f"optional-dependencies.{k}", v)
        for k, v in optional.items()
    }
    lines = [f"# {path.name}: [project] dependencies"]
    lines += [
        str(r) for r in _dependency_list(path, "dependencies", project.get("dependencies", []))
    ]
    seen: set[str] = set()
    pending = [canonicalize_name(e) for e in extras]
    while pending:
        extra = pending.pop(0)
        if extra in seen:
            continue
        seen.add(extra)
        if extra not in known:
            choices = ", ".join(sorted(known)) or "none"
            raise ConfigError(f"{path}: no optional dependencies named {extra!r} ({choices})")
        lines.append(f"# {path.name}: [project.optional-dependencies] {extra}")
        for requirement in known[extra]:
            if canonicalize_name(requirement.name) == own_name:
                pending += [canonicalize_name(e) for e in requirement.extras]
            else:
                lines.append(str(requirement))
    return "\n".join(lines) + "\n"
