"""pylock.toml (PEP 751): read a file into the Lock model, write the model as a file.

Reading validates with ``packaging.pylock`` (the PyPA reference), keeps the TOML line of
every package and file for messages, and refuses what a single-use, index-based lock
cannot be checked for (extras and dependency groups). Writing goes through tomlkit with a
fixed key and array order, and the result is validated with ``packaging.pylock`` and the
official JSON schema before anyone may write it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.markers import Marker
from packaging.utils import canonicalize_name, parse_sdist_filename
from packaging.utils import parse_wheel_filename as _parse_wheel_filename
from packaging.version import Version

from hardenreq._paths import is_pylock_path
from hardenreq.errors import HardenreqError, InputError, LocatedError
from hardenreq.lockfile.model import Lock, LockedFile, LockedPackage, LockOrigin
from hardenreq.targets import make_targets

if TYPE_CHECKING:
    from packaging.pylock import Package, Pylock

# The parsers and the writer are imported where they are used: a run that reads no
# pylock.toml (verify of requirements files) loads none of them. tomli, not tomllib: the
# same parser, compiled (mypyc) on the common platforms, and 3.4x faster on a 55-pin lock
# (80 ms against 260 ms), which verify reads on every run. tomlkit is confined to
# config.py by the banned-api rule; this module is the other TOML writer (config.py keeps
# a user's formatting, a lock is written whole here), and tomlkit gets TOML's escaping and
# datetimes right.

__all__ = [
    "LOCK_VERSION",
    "PylockDocument",
    "is_pylock_path",
    "multi_use_reason",
    "parse_pylock",
    "render_pylock",
    "validate_pylock",
]

LOCK_VERSION = "1.0"
#: Where hardenreq keeps its own data, top level and per package (PEP 751 ``[tool]``).
TOOL = "hardenreq"
_SCHEMA = "pylock.schema.json"
_AOT_PACKAGES_RE = re.compile(r"^[ \t]*\[\[[ \t]*packages[ \t]*\]\][ \t]*(?:#.*)?$")
_TOML_LINE_RE = re.compile(r"\(at line (\d+), column \d+\)")
_CONTEXT_RE = re.compile(r"^packages\[(\d+)\]")
_TOOL_HEADER_RE = re.compile(r"^[ \t]*\[[ \t]*tool[ \t]*\.[ \t]*hardenreq[ \t]*\]")
# PEP 751's file names, as packaging.pylock.is_valid_pylock_path and pip read them.
_MULTI_USE_VARIABLES = frozenset({"extra", "extras", "dependency_groups"})


@dataclass(frozen=True, slots=True)
class PylockDocument:
    """A pylock.toml as read: the Lock, and where things are in the file.

    ``option_lines`` are the lines of ``[tool.hardenreq] options`` entries, in order;
    ``lines`` the file's text, line by line, where ``file_line`` looks a file up (only
    findings about a file need its line, so it is not worked out for every file).
    """

    path: Path
    lock: Lock
    option_lines: tuple[int | None, ...]
    lines: tuple[str, ...] = ()

    def file_line(self, package: int, digest: str) -> int | None:
        """The line that records the file with ``digest`` of package number ``package``
        (its hashes), None if it cannot be told."""
        start = self.lock.packages[package].line
        if start is None:
            return None
        following = [p.line for p in self.lock.packages[package + 1 :] if p.line is not None]
        end = min([*following, len(self.lines) + 1])
        return _line_with(self.lines, digest, start, end)


# -- reading ---------------------------------------------------------------------------------


def parse_pylock(path: Path, data: bytes) -> PylockDocument:
    """Read a pylock.toml's bytes into the Lock model.

    Raises LocatedError (exit 2) naming the file and line for anything that is not a valid
    pylock.toml, for a multi-use lock (extras or dependency groups), and for a bad
    ``[tool.hardenreq]`` table. VCS and local-directory entries are kept, with their
    ``unsupported`` reason set, so that callers can say which entry they refuse.
    """
    import tomli
    from packaging.pylock import Pylock, PylockValidationError

    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        bad = data[: exc.start].count(b"\n") + 1
        raise LocatedError(path, bad, "not valid UTF-8 text (TOML must be UTF-8)") from exc
    try:
        document = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise LocatedError(path, _toml_error_line(exc, text), f"not valid TOML: {exc}") from exc
    except RecursionError as exc:  # tomli's answer to values nested too deep
        raise LocatedError(path, None, f"not valid TOML: {exc}") from exc
    lines = text.splitlines()
    package_lines = _package_lines(lines, document)
    try:
        pylock = Pylock.from_dict(document)
    except PylockValidationError as exc:
        found = _CONTEXT_RE.match(exc.context or "")
        where = int(found.group(1)) if found else len(package_lines)
        at = package_lines[where] if where < len(package_lines) else None
        raise LocatedError(path, at, f"not a valid pylock.toml: {exc}", hint="see PEP 751") from exc
    if reason := _multi_use_lock(pylock):
        raise LocatedError(
            path,
            None,
            f"a multi-use lock ({reason}): hardenreq checks and writes single-use locks",
            hint="lock each set of extras or dependency groups to a pylock.NAME.toml of its own",
        )
    tool = _tool_table(document.get("tool"), path, "[tool.hardenreq]")
    packages: list[LockedPackage] = []
    for number, package in enumerate(pylock.packages):
        line = package_lines[number] if number < len(package_lines) else None
        if package.marker is not None and (reason := multi_use_reason(package.marker)):
            raise LocatedError(
                path,
                line,
                f"{package.name}: its marker uses {reason}: a multi-use lock, which "
                "hardenreq does not check",
                hint="lock each set of extras or dependency groups to a pylock.NAME.toml",
            )
        raw = document["packages"][number] if number < len(document["packages"]) else {}
        packages.append(_package(package, raw, line, path))
    origin = _origin(tool, path)
    lock = Lock(
        packages=tuple(packages),
        origin=origin,
        requires_python=pylock.requires_python,
        environments=tuple(pylock.environments or ()),
        created_by=pylock.created_by,
    )
    option_lines = _option_lines(lines, origin.options)
    return PylockDocument(path, lock, option_lines, tuple(lines))


def _toml_error_line(exc: ValueError, text: str) -> int | None:
    found = _TOML_LINE_RE.search(str(exc))
    if found is not None:
        return int(found.group(1))
    return max(1, len(text.splitlines())) if "end of document" in str(exc) else None


def multi_use_reason(marker: Marker) -> str | None:
    """``extra`` or ``dependency_groups`` where the marker uses them (a multi-use lock's
    package markers do), else None."""
    # packaging has no public walk of a marker's variables; _markers is its parse tree of
    # (Variable | Value, Op, Value | Variable) tuples, "and"/"or" and nested lists.
    pending: list[object] = [getattr(marker, "_markers", [])]
    while pending:
        item = pending.pop()
        if isinstance(item, list | tuple):
            pending.extend(item)
        elif type(item).__name__ == "Variable":
            value = getattr(item, "value", None)
            if value in _MULTI_USE_VARIABLES:
                return f"'{value}'"
    return None


def _multi_use_lock(pylock: Pylock) -> str | None:
    for key, value in (
        ("extras", pylock.extras),
        ("dependency-groups", pylock.dependency_groups),
        ("default-groups", pylock.default_groups),
    ):
        if value:
            return f"{key} = {list(value)}"
    return None


def _package_lines(lines: Sequence[str], document: Mapping[str, Any]) -> list[int | None]:
    """The line each package starts on: its ``[[packages]]`` header, or for an inline
    array, the line naming it."""
    raw = document.get("packages")
    count = len(raw) if isinstance(raw, list) else 0
    headers = [number for number, line in enumerate(lines, 1) if _AOT_PACKAGES_RE.match(line)]
    if len(headers) == count:
        return list(headers)
    found: list[int | None] = []
    start = 0
    for entry in raw if isinstance(raw, list) else ():
        name = entry.get("name") if isinstance(entry, dict) else None
        line = None
        if isinstance(name, str):
            pattern = re.compile(r"\bname\s*=\s*[\"']" + re.escape(name) + r"[\"']")
            for number in range(start, len(lines)):
                if pattern.search(lines[number]):
                    line, start = number + 1, number + 1
                    break
        found.append(line)
    return found


def _line_with(lines: Sequence[str], needle: str, start: int, end: int) -> int | None:
    for number in range(start, min(end, len(lines) + 1)):
        if needle in lines[number - 1]:
            return number
    return None


def _option_lines(lines: Sequence[str], options: Sequence[str]) -> tuple[int | None, ...]:
    """The line of each ``[tool.hardenreq] options`` entry (its text, searched from the
    table's header on)."""
    header = next(
        (number for number, line in enumerate(lines, 1) if _TOOL_HEADER_RE.match(line)),
        None,
    )
    if header is None:
        return tuple(None for _ in options)
    found: list[int | None] = []
    start = header
    for option in options:
        line = _line_with(lines, json.dumps(option)[1:-1], start, len(lines) + 1)
        found.append(line)
        if line is not None:
            start = line + 1
    return tuple(found)


def _tool_table(tool: object, path: Path, where: str) -> Mapping[str, object]:
    if tool is None:
        return {}
    if not isinstance(tool, dict):
        raise LocatedError(path, None, "[tool] must be a table")
    own = tool.get(TOOL, {})
    if not isinstance(own, dict):
        raise LocatedError(path, None, f"{where} must be a table")
    return own


def _strings(value: object, path: Path, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise LocatedError(path, None, f"{where} must be a list of strings")
    return tuple(value)


def _origin(tool: Mapping[str, object], path: Path) -> LockOrigin:
    def text(key: str) -> str | None:
        value = tool.get(key)
        if value is not None and not isinstance(value, str):
            raise LocatedError(path, None, f"[tool.hardenreq] {key} must be a string")
        return value

    versions = _strings(tool.get("python-versions", []), path, "[tool.hardenreq] python-versions")
    platforms = _strings(tool.get("platforms", []), path, "[tool.hardenreq] platforms")
    try:
        targets = make_targets(versions, platforms) if versions and platforms else None
    except InputError as exc:
        raise LocatedError(path, None, f"[tool.hardenreq]: {exc.message}") from exc
    return LockOrigin(
        source=text("source"),
        extras=_strings(tool.get("extras", []), path, "[tool.hardenreq] extras"),
        command=text("command"),
        options=_strings(tool.get("options", []), path, "[tool.hardenreq] options"),
        targets=targets,
    )


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    # PEP 751 records upload times in UTC; a local time without an offset is read as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _hashes(hashes: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted((algorithm.lower(), digest.lower()) for algorithm, digest in hashes.items())
    )


def _package(
    package: Package, raw: Mapping[str, Any], line: int | None, path: Path
) -> LockedPackage:
    from packaging.pylock import PackageArchive, PackageDirectory, PackageVcs

    tool = _tool_table(raw.get("tool"), path, f"[packages.tool.hardenreq] of {package.name}")
    via = _strings(tool.get("via", []), path, f"{package.name}: [packages.tool.hardenreq] via")
    dependencies = tuple(
        canonicalize_name(str(d["name"]))
        for d in package.dependencies or ()
        if isinstance(d.get("name"), str)
    )
    identities = tuple(
        tuple(sorted((str(k), str(v)) for k, v in identity.items()))
        for identity in package.attestation_identities or ()
    )
    unsupported = None
    if isinstance(package.vcs, PackageVcs):
        unsupported = f"a {package.vcs.type} checkout (VCS entry)"
    elif isinstance(package.directory, PackageDirectory):
        unsupported = "a local directory"
    archive = None
    if isinstance(package.archive, PackageArchive):
        source = package.archive.path or package.archive.url or ""
        archive = LockedFile(
            filename=source.rstrip("/").rsplit("/", 1)[-1].split("#", 1)[0],
            hashes=_hashes(package.archive.hashes),
            url=package.archive.url,
            path=package.archive.path,
            size=package.archive.size,
            upload_time=_utc(package.archive.upload_time),
        )
    sdist = None
    if package.sdist is not None:
        sdist = LockedFile(
            filename=package.sdist.filename,
            hashes=_hashes(package.sdist.hashes),
            url=package.sdist.url,
            path=package.sdist.path,
            size=package.sdist.size,
            upload_time=_utc(package.sdist.upload_time),
        )
    wheels = tuple(
        LockedFile(
            filename=wheel.filename,
            hashes=_hashes(wheel.hashes),
            url=wheel.url,
            path=wheel.path,
            size=wheel.size,
            upload_time=_utc(wheel.upload_time),
        )
        for wheel in package.wheels or ()
    )
    version = package.version
    first = wheels[0] if wheels else sdist
    if version is None and first is not None:
        # PEP 751 makes the version optional; the files' names carry it.
        version = _file_version(first.filename)
    return LockedPackage(
        name=package.name,
        version=version,
        marker=package.marker,
        requires_python=package.requires_python,
        index=package.index,
        sdist=sdist,
        wheels=wheels,
        archive=archive,
        dependencies=dependencies,
        via=via,
        attestation_identities=identities,
        unsupported=unsupported,
        line=line,
    )


def _file_version(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return _parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except ValueError:
        return None


# -- writing ---------------------------------------------------------------------------------


def render_pylock(lock: Lock) -> str:
    """The lock as pylock.toml text, keys and arrays in a fixed order (PEP 751's own order
    of keys; packages as given, which hardenreq sorts by name; wheels by filename), so that
    a change to one package changes only its lines. Validated before it is returned
    (``validate_pylock``): raises HardenreqError (an internal error, exit 4) if it is not
    valid, so nothing invalid is ever written."""
    import tomlkit

    document = tomlkit.document()
    document["lock-version"] = LOCK_VERSION
    if lock.environments:
        document["environments"] = _array(str(m) for m in lock.environments)
    if lock.requires_python is not None:
        document["requires-python"] = str(lock.requires_python)
    document["created-by"] = lock.created_by
    packages = tomlkit.aot()
    for package in lock.packages:
        packages.append(_package_table(package))
    document["packages"] = packages
    origin = lock.origin
    own = tomlkit.table()
    if origin.source is not None:
        own["source"] = origin.source
    if origin.extras:
        own["extras"] = _array(origin.extras)
    if origin.command is not None:
        own["command"] = origin.command
    if origin.targets is not None:
        # The names [tool.hardenreq] and --python-version/--platform take.
        own["python-versions"] = _array(f"3.{m}" for m in origin.targets.minors)
        own["platforms"] = _array(origin.targets.platforms)
    own["options"] = _array(origin.options, multiline=len(origin.options) > 1)
    tool = tomlkit.table(is_super_table=True)
    tool[TOOL] = own
    document["tool"] = tool
    text = tomlkit.dumps(document)
    validate_pylock(text)
    return text


def _array(items: Iterable[str], *, multiline: bool = False) -> Any:
    import tomlkit

    array = tomlkit.array()
    array.extend(items)
    return array.multiline(multiline)


def _package_table(package: LockedPackage) -> Any:
    import tomlkit

    table = tomlkit.table()
    table["name"] = package.name
    if package.version is not None:
        table["version"] = str(package.version)
    if package.marker is not None:
        table["marker"] = str(package.marker)
    if package.requires_python is not None:
        table["requires-python"] = str(package.requires_python)
    if package.dependencies:
        dependencies = tomlkit.array()
        for name in package.dependencies:
            # By name: informational (PEP 751: installers must not use it), and a name
            # listed twice (one entry per environment) needs whichever entry applies.
            entry = tomlkit.inline_table()
            entry["name"] = name
            dependencies.append(entry)
        table["dependencies"] = dependencies
    if package.archive is not None:
        table["archive"] = _file_table(package.archive, with_name=False)
    if package.index is not None:
        table["index"] = package.index
    if package.sdist is not None:
        table["sdist"] = _file_table(package.sdist)
    if package.wheels:
        wheels = tomlkit.aot()
        for wheel in sorted(package.wheels, key=lambda w: w.filename):
            wheels.append(_file_table(wheel))
        table["wheels"] = wheels
    if package.attestation_identities:
        identities = tomlkit.aot()
        for identity in package.attestation_identities:
            publisher = tomlkit.table()
            for key, value in identity:
                publisher[key] = value
            identities.append(publisher)
        table["attestation-identities"] = identities
    if package.via:
        tool = tomlkit.table(is_super_table=True)
        own = tomlkit.table()
        own["via"] = _array(package.via)
        tool[TOOL] = own
        table["tool"] = tool
    return table


def _file_table(file: LockedFile, *, with_name: bool = True) -> Any:
    import tomlkit

    table = tomlkit.table()
    if with_name:
        table["name"] = file.filename
    if file.upload_time is not None:
        table["upload-time"] = file.upload_time.astimezone(UTC)
    if file.url is not None:
        table["url"] = file.url
    if file.path is not None:
        table["path"] = file.path
    if file.size is not None:
        table["size"] = file.size
    hashes = tomlkit.inline_table()
    for algorithm, digest in file.hashes:
        hashes[algorithm] = digest
    table["hashes"] = hashes
    return table


# -- validation ------------------------------------------------------------------------------


def validate_pylock(text: str) -> None:
    """Check pylock.toml text with ``packaging.pylock`` and the official JSON schema.

    Raises HardenreqError (exit 4: hardenreq made it, so a failure is a bug) naming what
    is wrong.
    """
    import tomli
    from packaging.pylock import Pylock, PylockValidationError

    try:
        document = tomli.loads(text)
        Pylock.from_dict(document)
    except (tomli.TOMLDecodeError, PylockValidationError) as exc:
        raise HardenreqError(
            f"internal error: the pylock.toml hardenreq made is not valid: {exc}; nothing "
            "was written (please report this)"
        ) from exc
    # Imported here: only writing a pylock.toml needs it (verify never loads it).
    import jsonschema

    validator = jsonschema.Draft7Validator(_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(_json_ready(document)))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "the document"
        raise HardenreqError(
            f"internal error: the pylock.toml hardenreq made does not match the PEP 751 JSON "
            f"schema at {where}: {error.message[:300]}; nothing was written (please report this)"
        )


@functools.cache
def _schema() -> dict[str, Any]:
    """The PyPA's pylock.toml JSON schema (kept byte for byte beside this module; CC BY-SA
    3.0, see pylock.schema.json.license), with the two defects of the published copy
    corrected as the specification reads:

    - ``additionalProperties: false`` stands at the top level, beside a ``oneOf`` that
      holds the properties, so it rejects every key of every document (SchemaStore fixed
      the same schema by moving it into the 1.0 definition: SchemaStore/schemastore#5050);
    - ``attestation-identities`` entries allow ``kind`` only, while PEP 751 puts the
      publisher's own keys beside it ("included in the table as-is").

    Each correction applies only while the defect is there, so a fixed upstream copy is
    used as it is.
    """
    schema: dict[str, Any] = json.loads(
        resources.files("hardenreq.lockfile").joinpath(_SCHEMA).read_text(encoding="utf-8")
    )
    version = schema.get("definitions", {}).get("1.0", {})
    if schema.get("additionalProperties") is False and "properties" not in schema:
        del schema["additionalProperties"]
        version.setdefault("additionalProperties", False)
    package = version.get("properties", {}).get("packages", {}).get("items", {})
    identities = package.get("properties", {}).get("attestation-identities", {}).get("items", {})
    if identities.get("additionalProperties") is False:
        identities["additionalProperties"] = True
    return schema


def _json_ready(value: object) -> object:
    """TOML data as JSON data: datetimes (which JSON lacks) as RFC 3339 text."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value
