"""The ``[tool.hardenreq]`` table of pyproject.toml: read it, merge flags over it, write one.

Keys mirror the long command-line options; every one is optional::

    [tool.hardenreq]
    index-url = "https://index.example.com/simple"
    pip-conf = "pip.conf"       # where to write the pip.conf; false: write none
    format = "text"             # verify report: text | json | github | sarif
    strict = false              # verify: warnings fail the check too
    report-format = "markdown"  # refresh report: markdown | json
    retries = 3                 # 0 to 10
    timeout = 30.0              # seconds, 1 to 600
    deadline = 600              # seconds for all index requests of a run, 1 to 86400
    build-constraints = "build-constraints.txt"  # the hashed build requirements of the
                                # sdists every lock installs (default: beside each lock)
    python-versions = ["3.10-3.13"]   # lock for these Pythons (default: this one)
    platforms = ["linux", "macos", "windows"]   # and these platforms (default: this one)
    advisories = true           # check pins against known vulnerabilities and malware
    index-advisories = true     # ... using the index's own vulnerability data
    osv-api = true              # ... and the OSV API (default: on unless advisory-db is set)
    osv-url = "https://osv.example.com/v1"   # the OSV API (default: OSV's public API)
    advisory-db = "osv/all.zip" # an offline OSV dump (a zip or a folder of OSV JSON)
    require-advisories = false  # a source that cannot be used stops the run (exit 3)
    vulnerable-severity = "error"   # verify's vulnerable findings: error | warning
    min-release-age = "7d"      # resolve to releases at least this old; verify: too-new
    offline = false             # provenance: sigstore's local trust root, never refreshed

    [[tool.hardenreq.locks]]    # the locks refresh maintains, in this order
    source = "requirements/base.in"   # a .in, a requirements .txt or pyproject.toml
    output = "requirements/base.txt"  # default: x.in -> x.txt, pyproject.toml ->
                                      # requirements.txt, any other file in place
    extras = ["dev"]                  # pyproject.toml sources only
    build-constraints = "requirements/base-build.txt"  # this lock's own file (default:
                                      # the one above; locks naming one file share it)

Paths are relative to the folder of the pyproject.toml. An unknown key is an error that
suggests the closest valid one (``index_url`` suggests ``index-url``); locks are named
``locks[1]``, ``locks[2]``... in file order in messages. Precedence is flag > pyproject >
default (``merge``). This is the only module that imports tomlkit, and its values are
unwrapped to plain Python at once.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import tomlkit

from hardenreq._files import MAX_TEXT_BYTES, open_regular_file, read_regular_file
from hardenreq.advisories import DEFAULT_OSV_URL, AdvisoryOptions
from hardenreq.errors import ConfigError, HardenreqError, InputError, UnreadableFile
from hardenreq.index.policy import DEFAULT_DEADLINE
from hardenreq.layout import default_output, order_by_includes, read_header
from hardenreq.models import Severity
from hardenreq.redact import redact_text
from hardenreq.reqfile.parse import OptionEntry, parse_text
from hardenreq.targets import parse_platforms, parse_python_versions

__all__ = [
    "FORMATS",
    "PIP_CONF_MARK",
    "REPORT_FORMATS",
    "VULNERABLE_SEVERITIES",
    "LockSpec",
    "Settings",
    "load_settings",
    "merge",
    "plan_init",
]

FORMATS: Final = ("text", "json", "github", "sarif")
"""Values of ``format``: the verify report formats (``hardenreq.report.FORMATS``)."""

REPORT_FORMATS: Final = ("markdown", "json")
"""Values of ``report-format``: the refresh report formats."""

_RETRIES: Final = (0, 10)
_TIMEOUT: Final = (1, 600)
_DEADLINE: Final = (1, 86400)
_TABLE: Final = "[tool.hardenreq]"
_KEYS: Final = (
    "index-url",
    "pip-conf",
    "format",
    "strict",
    "report-format",
    "retries",
    "timeout",
    "deadline",
    "build-constraints",
    "python-versions",
    "platforms",
    "advisories",
    "index-advisories",
    "osv-api",
    "osv-url",
    "advisory-db",
    "require-advisories",
    "vulnerable-severity",
    "min-release-age",
    "offline",
    "locks",
)
VULNERABLE_SEVERITIES: Final = ("error", "warning")
"""Values of ``vulnerable-severity``."""
_LOCK_KEYS: Final = ("source", "output", "extras", "build-constraints")
_PYPROJECT: Final = "pyproject.toml"
# *.in files that are not requirements: the sdist manifest sits beside pyproject.toml in
# many projects, and autotools templates in some.
_NOT_REQUIREMENTS: Final = frozenset({"manifest.in", "makefile.in", "configure.in"})
_INIT_COMMENT: Final = "hardenreq: see hardenreq --help"
#: The first line of every pip.conf hardenreq writes (pipconf.render_pip_conf).
PIP_CONF_MARK: Final = "# pip configuration written by hardenreq"
_ONE_SHOT_COMMENT: Final = (
    "No {sibling} here: the first run rewrites {name} as a lock and saves its lines",
    "as {sibling}, which later runs resolve from (source may then name that file).",
)


@dataclass(frozen=True, slots=True)
class LockSpec:
    """One ``[[tool.hardenreq.locks]]`` entry, paths relative to the pyproject.toml's folder.

    ``output`` is None when the table does not name one; ``output_path`` applies the default.
    """

    source: Path
    output: Path | None
    extras: tuple[str, ...]
    build_constraints: Path | None = None

    @property
    def output_path(self) -> Path:
        """The lock this entry writes: ``output``, or the default for its kind of source
        (``hardenreq.layout.default_output``)."""
        return self.output if self.output is not None else default_output(self.source)


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated settings: defaults, then ``[tool.hardenreq]``, then flags (``merge``).

    ``pip_conf`` None means the default location; ``write_pip_conf`` False means write no
    pip.conf (``pip-conf = false``). ``source`` is the pyproject.toml that was read, or None
    when there was none.
    """

    index_url: str | None = None
    pip_conf: Path | None = None
    write_pip_conf: bool = True
    format: str = "text"
    strict: bool = False
    report_format: str = "markdown"
    retries: int = 3
    timeout: float = 30.0
    deadline: float = DEFAULT_DEADLINE
    build_constraints: Path | None = None
    python_versions: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    advisories: bool = True
    index_advisories: bool = True
    osv_api: bool | None = None
    osv_url: str | None = None
    advisory_db: Path | None = None
    require_advisories: bool = False
    vulnerable_severity: str = "error"
    #: None: no minimum age (``min-release-age``, ``--min-release-age``).
    min_release_age: timedelta | None = None
    offline: bool = False
    locks: tuple[LockSpec, ...] = ()
    source: Path | None = None

    def advisory_options(self) -> AdvisoryOptions:
        """The advisory check these settings ask for (``hardenreq.advisories``)."""
        return AdvisoryOptions(
            enabled=self.advisories,
            index=self.index_advisories,
            osv_api=self.osv_api,
            osv_url=self.osv_url or DEFAULT_OSV_URL,
            advisory_db=self.advisory_db,
            require=self.require_advisories,
            vulnerable_severity=Severity(self.vulnerable_severity),
        )


def load_settings(pyproject: Path | None = None, *, cwd: Path | None = None) -> Settings:
    """Read ``[tool.hardenreq]`` from ``pyproject`` into Settings.

    With ``pyproject=None``, ``cwd/pyproject.toml`` is read if it exists (parent folders are
    not searched); without it, or without the table, the defaults apply. A relative
    ``pyproject`` is taken relative to ``cwd`` when ``cwd`` is given. Raises ConfigError
    naming the file and the key: unknown keys (with the closest valid one), wrong types or
    values, a lock without a source, extras on a source that is not a pyproject.toml, two
    locks writing the same file, a file that is missing (when named) or is not valid TOML.
    """
    base = Path() if cwd is None else cwd
    if pyproject is None:
        path = base / _PYPROJECT
        if not path.is_file():
            return Settings()
    else:
        path = pyproject if cwd is None else base / pyproject
        if not path.exists():
            raise ConfigError(f"{path}: no such file")
    data = _load(_read(path), path)
    tool = data.get("tool")
    table = tool.get("hardenreq") if isinstance(tool, dict) else None
    if table is None:
        return Settings(source=path)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: 'tool.hardenreq' must be a table, not {_describe(table)}")
    try:
        return _settings_from_table(table, path)
    except _Invalid as exc:
        raise ConfigError(f"{path}: {_TABLE} {exc}") from None


def merge(settings: Settings, **flags: object) -> Settings:
    """Settings with the command-line values in ``flags`` over those of ``settings``.

    ``flags`` are named after Settings fields (all but ``source``); a flag given as None was
    not given and keeps the value from the config. Values are validated as in the
    pyproject.toml (enum members count as their values). A ``pip_conf`` path turns
    ``write_pip_conf`` on, and ``write_pip_conf=False`` clears ``pip_conf``. Raises
    ConfigError for a bad value and TypeError for a name that is not a field.
    """
    unknown = sorted(set(flags) - set(_FLAG_CHECKS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(_FLAG_CHECKS), n=1)
        maybe = f"; did you mean {close[0]!r}?" if close else ""
        raise TypeError(f"merge() got an unknown flag {unknown[0]!r}{maybe}")
    changes: dict[str, Any] = {}
    for name, value in flags.items():
        if value is None:
            continue
        plain = value.value if isinstance(value, enum.Enum) else value
        try:
            changes[name] = _FLAG_CHECKS[name](plain, "--" + name.replace("_", "-"))
        except _Invalid as exc:
            raise ConfigError(str(exc)) from None
    if "pip_conf" in changes:
        if changes.get("write_pip_conf") is False:
            raise ConfigError("--pip-conf and --no-pip-conf exclude each other")
        changes["write_pip_conf"] = True
    elif changes.get("write_pip_conf") is False:
        changes["pip_conf"] = None
    return dataclasses.replace(settings, **changes)


def plan_init(pyproject: Path, folder: Path, *, force: bool = False) -> tuple[str, str]:
    """(old text, new text) of ``pyproject`` with a ``[tool.hardenreq]`` table for ``folder``.

    The table gets ``report-format = "markdown"``, ``pip-conf`` when exactly one pip.conf
    that hardenreq wrote sits beside the locks, a lock for every ``*.txt`` whose header says
    hardenreq wrote it (its source and extras from the header), and a lock for each other
    ``*.in`` of ``folder`` and ``folder/requirements/`` (``base.in`` first, then by path; a
    file that ``-c``/``-r`` includes another lock's output comes after that lock), each
    writing its sibling ``.txt``. A ``requirements.txt`` without a ``requirements.in`` beside
    it becomes a lock of its own (the one-shot rewrite). Without ``.in`` files, non-empty
    ``[project]`` dependencies give a ``pyproject.toml`` -> ``requirements.txt`` lock, unless a
    hand-kept requirements.txt already has that output.

    Every other byte of the file stays: the table is appended after a blank line, in the
    file's line ending, and a file without a final newline still ends without one. With
    ``force``, an existing ``[tool.hardenreq]`` is replaced where it stands. A missing file
    gives old text ``""`` and a file holding only the table. Raises ConfigError when the
    table exists (without ``force``), or the file is not valid TOML or cannot take the table.
    """
    old = _read(pyproject) if pyproject.exists() else ""
    document = _parse(old, pyproject)
    data = _unwrap(document)
    tool = data.get("tool")
    if tool is not None and not isinstance(tool, dict):
        raise ConfigError(f"{pyproject}: 'tool' is not a table, so {_TABLE} cannot be added")
    exists = tool is not None and "hardenreq" in tool
    if exists and not force:
        raise ConfigError(
            f"{pyproject} already has {_TABLE}", hint="edit it, or use --force to replace it"
        )
    newline = _newline(old)
    locks = _discover_locks(pyproject, folder, data.get("project"))
    section = _render_section(locks, pyproject.parent, newline, _existing_pip_conf(folder))
    if exists:
        import tomlkit
        from tomlkit.exceptions import TOMLKitError

        try:
            # With a blank line after it, for the table that may follow where it stands.
            table = tomlkit.parse(section + newline)["tool"]["hardenreq"]
            document["tool"]["hardenreq"] = table
            new = document.as_string()
        except (TOMLKitError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"{pyproject}: cannot replace {_TABLE} in this file: {exc}",
                hint=f"replace it by hand with:\n{section}",
            ) from exc
        if new.endswith(section + newline):
            new = new.removesuffix(newline)
    else:
        new = _append(old, section, newline)
    if old and not old.endswith(("\n", "\r")):
        new = new.removesuffix(newline)
    _check_init(pyproject, old, new, section)
    return old, new


# Reading and validating


class _Invalid(Exception):
    """A value that fails validation; the caller says in which file or flag."""


def _read(path: Path) -> str:
    # Bytes, not read_text(): universal newlines would turn CRLF into LF, and plan_init must
    # give back the file's exact text.
    try:
        return read_regular_file(path, limit=MAX_TEXT_BYTES, what="the file").decode("utf-8")
    except UnreadableFile as exc:
        raise ConfigError(exc.message) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def _load(text: str, path: Path) -> dict[str, Any]:
    """The TOML document as plain values. Read with tomli (compiled: a pyproject.toml in
    about a millisecond, where tomlkit takes tens); a file tomli refuses is read again by
    tomlkit, whose error names the line and column (or which reads it). tomli refuses
    values nested too deep with a RecursionError: the same."""
    import tomli

    try:
        return tomli.loads(text)
    except (tomli.TOMLDecodeError, RecursionError):
        return _unwrap(_parse(text, path))


def _parse(text: str, path: Path) -> tomlkit.TOMLDocument:
    # Imported here: most runs have no [tool.hardenreq] to read, and tomlkit is slow to load.
    import tomlkit
    from tomlkit.exceptions import ParseError, TOMLKitError

    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        reason = str(exc).removesuffix(f" at line {exc.line} col {exc.col}")
        raise ConfigError(
            f"{path}: invalid TOML at line {exc.line}, column {exc.col}: {reason}"
        ) from exc
    except TOMLKitError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def _unwrap(document: tomlkit.TOMLDocument) -> dict[str, Any]:
    # tomlkit's own types (Integer, String, ...) subclass the builtins but carry formatting;
    # nothing past this point sees them.
    return document.unwrap()


def _settings_from_table(table: Mapping[str, object], path: Path) -> Settings:
    folder = path.parent
    values: dict[str, Any] = {"source": path}
    for key, value in table.items():
        if key not in _KEYS:
            raise _Invalid(f"unknown key {key!r}{_suggestion(key, _KEYS, _LOCK_KEYS)}")
        name = f"{key!r}"
        if key == "pip-conf":
            if value is False:
                values["write_pip_conf"] = False
            else:
                values["pip_conf"] = folder / _text(value, name, "a path or false")
        elif key == "locks":
            values["locks"] = _locks(value, folder)
        elif key == "advisory-db":
            values["advisory_db"] = folder / _text(value, name, "a path")
        elif key == "build-constraints":
            values["build_constraints"] = folder / _text(value, name, "a path")
        else:
            values[key.replace("-", "_")] = _TOML_CHECKS[key](value, name)
    return Settings(**values)


def _locks(value: object, folder: Path) -> tuple[LockSpec, ...]:
    if not isinstance(value, list):
        raise _Invalid(
            f"'locks' must be an array of tables ([[tool.hardenreq.locks]]), not {_describe(value)}"
        )
    locks = tuple(_lock(entry, index, folder) for index, entry in enumerate(value, 1))
    written: dict[str, int] = {}
    for index, lock in enumerate(locks, 1):
        output = os.path.normpath(lock.output_path)
        if output in written:
            shown = _relative(Path(output), folder)
            raise _Invalid(f"locks[{written[output]}] and locks[{index}] both write {shown}")
        written[output] = index
    return locks


def _lock(entry: object, index: int, folder: Path) -> LockSpec:
    where = f"locks[{index}]"
    if not isinstance(entry, dict):
        raise _Invalid(f"{where!r} must be a table, not {_describe(entry)}")
    for key in entry:
        if key not in _LOCK_KEYS:
            raise _Invalid(f"{where} unknown key {key!r}{_suggestion(key, _LOCK_KEYS, _KEYS)}")
    if "source" not in entry:
        raise _Invalid(
            f"'{where}.source' is missing: the .in, requirements .txt or pyproject.toml to lock"
        )
    source_text = _text(entry["source"], f"'{where}.source'", "a path")
    source = folder / source_text
    output = None
    if "output" in entry:
        output = folder / _text(entry["output"], f"'{where}.output'", "a path")
        generated = source.name == _PYPROJECT or source.suffix == ".in"
        if generated and os.path.normpath(output) == os.path.normpath(source):
            raise _Invalid(f"'{where}.output' would overwrite its source {source_text}")
    build_constraints = None
    if "build-constraints" in entry:
        build_constraints = folder / _text(
            entry["build-constraints"], f"'{where}.build-constraints'", "a path"
        )
    extras: tuple[str, ...] = ()
    if "extras" in entry:
        extras = _extras(entry["extras"], f"'{where}.extras'")
        if extras and source.name != _PYPROJECT:
            raise _Invalid(
                f"'{where}.extras' apply to a pyproject.toml source only, "
                f"not {_describe(source_text)}"
            )
    return LockSpec(
        source=source, output=output, extras=extras, build_constraints=build_constraints
    )


def _suggestion(key: str, valid: Sequence[str], elsewhere: Sequence[str]) -> str:
    """What to say after ``unknown key 'x'``: the valid spelling, or where the key belongs."""
    dashed = key.strip().lower().replace("_", "-")
    if dashed in valid:
        return f"; did you mean {dashed!r}?"
    if dashed in {"no-pip-conf", "write-pip-conf"}:
        return "; write pip-conf = false to write no pip.conf"
    close = difflib.get_close_matches(dashed, valid, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    if dashed in elsewhere or dashed == "extra":
        if elsewhere is _LOCK_KEYS:
            return "; source, output and extras belong in [[tool.hardenreq.locks]] tables"
        return f"; it belongs in {_TABLE}, not in a lock"
    return "; valid keys: " + ", ".join(valid)


def _describe(value: object) -> str:
    """A value as TOML spells it, for messages (credentials in URLs redacted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        text = str(value)
        text = text if len(text) <= 60 else text[:57] + "..."
        return redact_text(json.dumps(text, ensure_ascii=False))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"  # dates and times


def _text(value: object, name: str, what: str) -> str:
    if not isinstance(value, str | Path) or not str(value).strip():
        raise _Invalid(f"{name} must be {what}, not {_describe(value)}")
    return str(value)


def _index_url(value: object, name: str) -> str:
    return _text(value, name, "a URL")


def _osv_url(value: object, name: str) -> str:
    text = _text(value, name, "an http(s) URL")
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Invalid(f"{name} must be an http(s) URL, not {_describe(value)}")
    return text.strip()


def _path(value: object, name: str) -> Path:
    return Path(_text(value, name, "a path"))


def _boolean(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"{name} must be true or false, not {_describe(value)}")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[object, str], str]:
    def check(value: object, name: str) -> str:
        if not isinstance(value, str) or value not in choices:
            listed = ", ".join(json.dumps(c) for c in choices)
            raise _Invalid(f"{name} must be one of {listed}, not {_describe(value)}")
        return value

    return check


def _retries(value: object, name: str) -> int:
    low, high = _RETRIES
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Invalid(
            f"{name} must be a whole number from {low} to {high}, not {_describe(value)}"
        )
    return value


def _timeout(value: object, name: str) -> float:
    low, high = _TIMEOUT
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise _Invalid(
            f"{name} must be a number of seconds from {low} to {high}, not {_describe(value)}"
        )
    return float(value)


def _deadline(value: object, name: str) -> float:
    low, high = _DEADLINE
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise _Invalid(
            f"{name} must be a number of seconds from {low} to {high}, not {_describe(value)}"
        )
    return float(value)


def _python_versions(value: object, name: str) -> tuple[str, ...]:
    values = _strings(value, name, 'an array of versions such as ["3.11", "3.12"] or "3.10-3.13"')
    try:
        parse_python_versions(values)
    except InputError as exc:
        raise _Invalid(f"{name}: {exc.message}") from exc
    return values


def _platforms(value: object, name: str) -> tuple[str, ...]:
    values = _strings(value, name, 'an array of platforms such as ["linux", "windows"]')
    try:
        parse_platforms(values)
    except InputError as exc:
        raise _Invalid(f"{name}: {exc.message}") from exc
    return values


def _strings(value: object, name: str, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(
        isinstance(item, str) and item.strip() for item in value
    ):
        raise _Invalid(f"{name} must be {what}, not {_describe(value)}")
    return tuple(value)


_AGE_RE = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_AGE_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MAX_AGE: Final = timedelta(days=3650)


def _min_release_age(value: object, name: str) -> timedelta | None:
    """``"7d"`` (also ``s``, ``m``, ``h``, ``w``); ``"0"`` or ``"0d"`` for none."""
    if isinstance(value, timedelta):
        return value if value > timedelta(0) else None
    text = value.strip() if isinstance(value, str) else None
    if text == "0":
        return None
    match = _AGE_RE.match(text or "")
    if match is None:
        raise _Invalid(f'{name} must be an age such as "7d", "12h" or "2w", not {_describe(value)}')
    age = timedelta(seconds=int(match[1]) * _AGE_UNITS[match[2]])
    if age > _MAX_AGE:
        raise _Invalid(f"{name} must be at most 3650 days, not {_describe(value)}")
    return age if age > timedelta(0) else None


def _extras(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(extra, str) and extra.strip() for extra in value
    ):
        raise _Invalid(f'{name} must be an array of names such as ["dev"], not {_describe(value)}')
    return tuple(value)


def _lock_specs(value: object, name: str) -> tuple[LockSpec, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, LockSpec) for v in value):
        raise _Invalid(f"{name} must be a sequence of LockSpec")
    return tuple(value)


_TOML_CHECKS: Final[dict[str, Callable[[object, str], object]]] = {
    "index-url": _index_url,
    "format": _choice(FORMATS),
    "strict": _boolean,
    "report-format": _choice(REPORT_FORMATS),
    "retries": _retries,
    "timeout": _timeout,
    "deadline": _deadline,
    "python-versions": _python_versions,
    "platforms": _platforms,
    "advisories": _boolean,
    "index-advisories": _boolean,
    "osv-api": _boolean,
    "osv-url": _osv_url,
    "require-advisories": _boolean,
    "vulnerable-severity": _choice(VULNERABLE_SEVERITIES),
    "min-release-age": _min_release_age,
    "offline": _boolean,
}

_FLAG_CHECKS: Final[dict[str, Callable[[object, str], object]]] = {
    "index_url": _index_url,
    "pip_conf": _path,
    "write_pip_conf": _boolean,
    "format": _choice(FORMATS),
    "strict": _boolean,
    "report_format": _choice(REPORT_FORMATS),
    "retries": _retries,
    "timeout": _timeout,
    "deadline": _deadline,
    "build_constraints": _path,
    "python_versions": _python_versions,
    "platforms": _platforms,
    "advisories": _boolean,
    "index_advisories": _boolean,
    "osv_api": _boolean,
    "osv_url": _osv_url,
    "advisory_db": _path,
    "require_advisories": _boolean,
    "vulnerable_severity": _choice(VULNERABLE_SEVERITIES),
    "min_release_age": _min_release_age,
    "offline": _boolean,
    "locks": _lock_specs,
}


# hardenreq init


@dataclass(frozen=True, slots=True)
class _Found:
    source: Path
    output: Path | None
    comment: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()

    @property
    def writes(self) -> str:
        return os.path.normpath(LockSpec(self.source, self.output, ()).output_path)


def _discover_locks(pyproject: Path, folder: Path, project: object) -> list[_Found]:
    # Locks hardenreq wrote name their source in their first line: they are found by that,
    # whatever their name (requirements-dev.txt from pyproject.toml[dev], say).
    found = _locks_by_header(folder)
    found += [
        _Found(path, path.with_suffix(".txt"))
        for directory in _lock_folders(folder)
        for path in sorted(directory.glob("*.in"))
        if path.is_file() and path.name.lower() not in _NOT_REQUIREMENTS
    ]
    by_output: dict[str, _Found] = {}
    for lock in found:
        by_output.setdefault(lock.writes, lock)  # a lock's own header wins over a guess
    found = list(by_output.values())
    in_files = any(lock.source.suffix == ".in" for lock in found)
    dependencies = isinstance(project, dict) and bool(project.get("dependencies"))
    hand_kept = folder / "requirements.txt"
    sibling = hand_kept.with_suffix(".in")
    if (
        hand_kept.is_file()
        and not sibling.exists()
        and all(lock.writes != os.path.normpath(hand_kept) for lock in found)
        and not (dependencies and not in_files and _locks_pyproject(hand_kept))
    ):
        comment = tuple(
            line.format(name=hand_kept.name, sibling=sibling.name) for line in _ONE_SHOT_COMMENT
        )
        found.append(_Found(hand_kept, None, comment))
    if dependencies and not in_files:
        lock = _Found(pyproject, pyproject.with_name("requirements.txt"))
        if all(other.writes != lock.writes for other in found):
            found.append(lock)
    found.sort(key=lambda lock: (lock.source.name != "base.in", _parts(lock.source, folder)))
    return _after_what_they_include(found)


def _lock_folders(folder: Path) -> list[Path]:
    return [d for d in (folder, folder / "requirements") if d.is_dir()]


def _head(path: Path) -> str:
    """The first 4 KiB of a regular file ("" for anything else: a FIFO is never opened)."""
    try:
        with open_regular_file(path, what="the file") as handle:
            return handle.read(4096).decode("utf-8", "replace")
    except (OSError, UnreadableFile):
        return ""


def _locks_by_header(folder: Path) -> list[_Found]:
    found: list[_Found] = []
    for directory in _lock_folders(folder):
        for path in sorted(directory.glob("*.txt")):
            header = read_header(_head(path)) if path.is_file() else None
            if header is not None:
                source = Path(os.path.normpath(header.source_path(path)))
                found.append(_Found(source, path, extras=header.extras))
    return found


def _existing_pip_conf(folder: Path) -> Path | None:
    """The one pip.conf hardenreq wrote beside the locks, if there is exactly one."""
    written = [
        directory / "pip.conf"
        for directory in _lock_folders(folder)
        if _head(directory / "pip.conf").startswith(PIP_CONF_MARK)
    ]
    return written[0] if len(written) == 1 else None


def _locks_pyproject(path: Path) -> bool:
    """Whether ``path`` says in its header that it is a lock of pyproject.toml.

    pip-compile writes its command line there, hardenreq the source it was built from.
    """
    try:
        data = read_regular_file(path, limit=MAX_TEXT_BYTES, what="the lock")
    except UnreadableFile:
        return False
    head = data[:4096].decode("utf-8", "replace")
    for line in head.splitlines():
        if not line.startswith("#"):
            break
        if _PYPROJECT in line:
            return True
    return False


def _after_what_they_include(locks: list[_Found]) -> list[_Found]:
    """``locks`` in order, but each after the locks whose output it includes with -c/-r."""
    return order_by_includes(
        locks,
        lambda lock: Path(lock.writes),
        lambda lock: [Path(p) for p in _includes(lock.source)],
    )


def _includes(source: Path) -> list[str]:
    """Normalised paths of the files that ``source`` includes with -c or -r (as pip reads it)."""
    if source.name == _PYPROJECT:
        return []
    try:
        data = read_regular_file(source, limit=MAX_TEXT_BYTES, what="the source")
        text = data.decode("utf-8", "replace").removeprefix("\ufeff")
        parsed = parse_text(source, text, environ={})
    except HardenreqError:
        return []  # only the order depends on it; locking the file will report the problem
    return [
        os.path.normpath(source.parent / value)
        for entry in parsed.entries
        if isinstance(entry, OptionEntry)
        for option, value in entry.options
        if option in {"--constraint", "--requirement"} and value and "://" not in value
    ]


def _parts(path: Path, folder: Path) -> tuple[str, ...]:
    return Path(_relative(path, folder)).parts


def _relative(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path.absolute(), folder.absolute())).as_posix()


def _render_section(
    locks: list[_Found], base: Path, newline: str, pip_conf: Path | None = None
) -> str:
    import tomlkit

    table = tomlkit.table()
    table.add(tomlkit.comment(_INIT_COMMENT))
    if pip_conf is not None:
        table.add("pip-conf", _relative(pip_conf, base))
    table.add("report-format", "markdown")
    if locks:
        array = tomlkit.aot()
        for lock in locks:
            entry = tomlkit.table()
            for line in lock.comment:
                entry.add(tomlkit.comment(line))
            entry.add("source", _relative(lock.source, base))
            if lock.output is not None:
                entry.add("output", _relative(lock.output, base))
            if lock.extras:
                entry.add("extras", list(lock.extras))
            array.append(entry)
        table.add("locks", array)
    tool = tomlkit.table(is_super_table=True)
    tool.add("hardenreq", table)
    document = tomlkit.document()
    document.add("tool", tool)
    return tomlkit.dumps(document).replace("\n", newline)


def _newline(text: str) -> str:
    """The line ending of the first line of ``text`` (LF for a text of one line)."""
    match = re.search(r"\r\n|\n|\r", text)
    return match.group(0) if match else "\n"


def _append(old: str, section: str, newline: str) -> str:
    if not old:
        return section
    text = old if old.endswith(("\n", "\r")) else old + newline
    lines = re.split(r"\r\n|\n|\r", text)  # the last item is the "" after the final newline
    if lines[-2].strip(" \t"):
        text += newline  # one blank line before the table
    return text + section


def _check_init(pyproject: Path, old: str, new: str, section: str) -> None:
    """Refuse a plan that would change anything but [tool.hardenreq], as tomllib reads it."""
    expected = tomllib.loads(section)["tool"]["hardenreq"]
    try:
        before = tomllib.loads(old)
        after = tomllib.loads(new)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{pyproject}: cannot add {_TABLE} to this file: {exc}",
            hint=f"add the table by hand:\n{section}",
        ) from exc
    added = after.get("tool", {}).pop("hardenreq", None)
    before.get("tool", {}).pop("hardenreq", None)
    for data in (before, after):
        if data.get("tool") == {}:
            del data["tool"]
    if added != expected or before != after:
        raise ConfigError(
            f"{pyproject}: cannot add {_TABLE} without changing the rest of this file",
            hint=f"add the table by hand:\n{section}",
        )
