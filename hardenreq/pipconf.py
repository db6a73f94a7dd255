"""Render or merge the pip configuration file that turns on pip's hash-checking mode.

The setting goes in ``[install]`` and ``[download]``, never ``[global]``: in ``[global]`` it
holds every pip command to hashes, so ``pip wheel`` and ``pip lock`` break and
``--no-require-hashes`` becomes an error everywhere. ``[download]`` affects only
``pip download``, which fetches artifacts for air-gapped installs, so it is hashed too.
``[install]`` still covers every ``pip install``, as observed with pip 26.3: upgrading pip
itself, and the ``pip install`` subprocess that puts an sdist's build requirements into its
isolated build environment (those need ``--build-constraint`` with hashed pins).

pip reads the file with ``configparser`` (``pip/_internal/configuration.py``), which drops
comments when it writes. So the merge is line based: a small parser that repeats
``RawConfigParser._read`` (sections, ``=``/``:`` options, indented continuation lines, full-line
comments) decides where the one line goes, every other byte stays as it was, and the result is
checked by parsing both texts the way pip 26.3 does.

When a lock has pins pip builds from their sdist, the same sections get ``build-constraint``
naming the hashed build-constraints file (pip 26.3 reads the option for ``pip install``,
``pip download``, ``pip wheel`` and ``pip lock``; hardenreq sets the two hash checking is on
for). pip reads the value as a list split at whitespace, and opens each path relative to
the folder pip runs in, in the build subprocess as well: so the path is written absolute,
and a path with whitespace cannot be written at all. A value already there keeps its files
(the new one is added to them); a path in it that names the same file from here, relative
or not, is left as it is.
"""

from __future__ import annotations

import configparser
import enum
import io
import os
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hardenreq._atomic import PendingWrite, write_all
from hardenreq._files import MAX_PIP_CONF_BYTES, read_optional_file
from hardenreq.errors import ConfigError, HardenreqError, UnreadableFile

__all__ = [
    "BUILD_CONSTRAINT_KEY",
    "UV_HINT",
    "PipConfPlan",
    "build_constraint_values",
    "default_pip_conf_path",
    "pip_conf_write",
    "plan_pip_conf",
    "read_pip_conf",
    "render_pip_conf",
    "uv_build_hint",
    "write_pip_conf",
]

#: What the CLI prints after writing pip.conf: uv never reads it.
UV_HINT = (
    "uv ignores pip.conf: to make `uv pip install` require hashes as well, set "
    "UV_REQUIRE_HASHES=1 or add `require-hashes = true` under `[pip]` in uv.toml."
)

_KEY = "require-hashes"
#: pip's option for hashed build requirements, as pip.conf spells it.
BUILD_CONSTRAINT_KEY = "build-constraint"
_SECTIONS = ("install", "download")
_DEFAULT_SECTION = "DEFAULT"  # configparser's: its keys are copied into every section
# pip's strtobool (pip/_internal/utils/misc.py) accepts exactly these, after lower().
_TRUE = frozenset({"y", "yes", "t", "true", "on", "1"})
_FALSE = frozenset({"n", "no", "f", "false", "off", "0"})
_WINDOWS = sys.platform == "win32"
# pip splits lines as a text-mode file does (universal newlines), not like str.splitlines.
_LINE_RE = re.compile(r"([^\r\n]*)(\r\n|\r|\n|\Z)")
# configparser's own patterns, so a header or an option means here what it means to pip.
_SECTION_RE = configparser.RawConfigParser.SECTCRE
_OPTION_RE = configparser.RawConfigParser.OPTCRE
_NONSPACE_RE = configparser.RawConfigParser.NONSPACECRE

_HEADER = """\
# pip configuration written by hardenreq: it turns on pip's hash-checking mode for
# pip install and pip download. Every requirement they fetch must then be pinned with ==
# and carry --hash values, and pip checks each downloaded file against them.
# [install] and [download], not [global]: [global] would hold pip wheel, pip lock and
# every other pip command to hashes as well.
# Building an sdist runs pip install for its build requirements, so they need hashes
# too: pass --build-constraint FILE, with == pins and --hash values.
# pip refuses --no-require-hashes while this is set; PIP_REQUIRE_HASHES=0 overrides it.
# uv ignores this file: set UV_REQUIRE_HASHES=1, or `require-hashes = true` under [pip]
# in uv.toml.
"""


@dataclass(frozen=True, slots=True)
class PipConfPlan:
    """What writing the pip configuration file would do.

    ``old`` is the current text (None if the file does not exist) and ``new`` the text to write;
    ``changed`` is False when the file already turns hash checking on. ``overrode`` names the
    sections whose ``require-hashes`` was false (or empty) and is now true; ``warnings`` are
    notes for the user about settings this plan leaves alone.
    """

    path: Path
    old: str | None
    new: str
    changed: bool
    overrode: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


class _Kind(enum.Enum):
    BLANK = "blank"
    COMMENT = "comment"
    SECTION = "section"
    OPTION = "option"
    CONTINUATION = "continuation"


@dataclass(frozen=True, slots=True)
class _Line:
    number: int  # 1-based, as in error messages
    body: str  # the line without its line ending
    ending: str  # "\r\n", "\n", "\r", or "" for a last line without one
    kind: _Kind
    key: str | None = None  # OPTION and CONTINUATION: the normalised key


@dataclass(slots=True)
class _Option:
    line: int  # index of the option line
    parts: list[str]  # value pieces, joined with "\n" as configparser does

    @property
    def value(self) -> str:
        return "\n".join(self.parts).rstrip()


@dataclass(slots=True)
class _Section:
    name: str
    header: int  # index of the (last) header line
    last: int  # index of the section's last header, option or continuation line
    options: dict[str, _Option] = field(default_factory=dict)
    last_option: int | None = None  # index of the last option line (not continuation)


@dataclass(frozen=True, slots=True)
class _Document:
    lines: tuple[_Line, ...]
    sections: dict[str, _Section]
    newline: str


def read_pip_conf(path: Path) -> str | None:
    """Read a pip configuration file for ``plan_pip_conf``; None if it does not exist.

    Line endings are kept as they are, and bytes that are not UTF-8 survive a round trip
    through ``pip_conf_write`` unchanged. Raises ConfigError if the file cannot be read, is
    not a regular file, or is larger than ``MAX_PIP_CONF_BYTES`` (1 MiB).
    """
    try:
        data = read_optional_file(path, limit=MAX_PIP_CONF_BYTES, what="the pip configuration")
    except UnreadableFile as exc:
        raise ConfigError(exc.message) from exc
    return None if data is None else data.decode("utf-8", "surrogateescape")


def build_constraint_values(paths: Sequence[Path]) -> tuple[tuple[str, ...], list[str]]:
    """The ``build-constraint`` values for ``paths`` (absolute: pip opens them from the
    folder it runs in), and a warning for each path that pip.conf cannot hold (pip splits
    the value at whitespace)."""
    values: list[str] = []
    problems: list[str] = []
    for path in paths:
        value = os.path.normpath(path.absolute())
        if any(character.isspace() for character in value):
            problems.append(
                f"{value}: pip splits build-constraint values in pip.conf at whitespace, so "
                "this path cannot be named there; pass it on the command line instead: "
                "pip install --build-constraint PATH (or choose a path without spaces with "
                "--build-constraints)"
            )
        elif value not in values:
            values.append(value)
    return tuple(values), problems


def uv_build_hint(values: Sequence[str]) -> str:
    """What uv needs for the same build constraints (it reads no pip.conf)."""
    flags = " ".join(f"--build-constraints {shlex.quote(v)}" for v in values)
    return (
        f"uv: pass {flags} to `uv pip install` (or set UV_BUILD_CONSTRAINT), with "
        "UV_REQUIRE_HASHES=1, so that uv builds sdists from the same hashed pins."
    )


def render_pip_conf(build_constraints: Sequence[str] = ()) -> str:
    """Return the text of a new pip configuration file that turns hash checking on (and
    names the ``build_constraints`` files, absolute paths)."""
    extra = f"{BUILD_CONSTRAINT_KEY} = {' '.join(build_constraints)}\n" if build_constraints else ""
    blocks = "\n".join(f"[{name}]\n{_KEY} = true\n{extra}" for name in _SECTIONS)
    return f"{_HEADER}\n{blocks}"


def plan_pip_conf(
    path: Path, *, existing: str | None, build_constraints: Sequence[str] = ()
) -> PipConfPlan:
    """Plan the pip configuration file at ``path`` so that pip requires hashes.

    ``existing`` is the file's current text, or None if there is no file: then the plan is
    ``render_pip_conf()``. Otherwise only the ``require-hashes`` line of ``[install]`` and
    ``[download]`` is added or set to true; every other byte is kept. With
    ``build_constraints`` (absolute paths, see ``build_constraint_values``), those sections
    also get a ``build-constraint`` line naming them, added to the files the value (or the
    ``[global]`` one pip would use) already names. Pure: no I/O. Raises ConfigError,
    naming the file and line, if pip could not load the existing file or its
    ``require-hashes`` value is not one pip accepts.
    """
    for value in build_constraints:
        if not value or any(character.isspace() for character in value):
            raise ConfigError(f"{value!r}: pip.conf cannot name a build-constraint path "
                              "that is empty or holds whitespace")  # fmt: skip
    if existing is None:
        new = render_pip_conf(build_constraints)
        wanted = {name: " ".join(build_constraints) for name in _SECTIONS if build_constraints}
        _check_result(path, None, new, wanted)
        return PipConfPlan(path=path, old=None, new=new, changed=True)
    document = _parse(path, existing)
    _check_pip_agrees(path, existing, document)
    warnings = _warnings(path, document)
    new, overrode, wanted = _merge(path, document, tuple(build_constraints))
    if new != existing:
        _check_result(path, document, new, wanted)
    return PipConfPlan(
        path=path,
        old=existing,
        new=new,
        changed=new != existing,
        overrode=overrode,
        warnings=warnings,
    )


def pip_conf_write(plan: PipConfPlan) -> PendingWrite | None:
    """The write that carries out ``plan`` (None if it changes nothing), for ``write_all``.

    The text goes back to bytes the way ``read_pip_conf`` decoded it, so every byte that was
    not UTF-8 is kept. ``expected`` is the file as it was read (or "must not exist"), so
    ``write_all`` refuses to overwrite a concurrent edit. A new file gets mode 0o644; an
    existing file keeps its mode and owner.
    """
    if not plan.changed:
        return None
    expected = None if plan.old is None else _encode(plan.old)
    return PendingWrite(plan.path, _encode(plan.new), 0o644, expected=expected)


def write_pip_conf(plan: PipConfPlan) -> None:
    """Write ``plan.new`` to ``plan.path`` atomically, if the plan changes anything.

    ``write_all([pip_conf_write(plan)])``: raises WriteFailed if the file changed since
    ``plan.old`` was read, or cannot be written. To write pip.conf together with other files
    (all or none), pass ``pip_conf_write(plan)`` to ``write_all`` with them instead.
    """
    write = pip_conf_write(plan)
    if write is not None:
        write_all([write])


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def default_pip_conf_path(
    *,
    output: Path,
    environ: Mapping[str, str],
    prefix: str,
    base_prefix: str,
    windows: bool = _WINDOWS,
) -> tuple[Path, str]:
    """Choose where to write the pip configuration file, and say how pip will find it.

    Inside a virtual environment (``VIRTUAL_ENV`` set, else ``prefix != base_prefix``; pass
    ``sys.prefix`` and ``sys.base_prefix``) the answer is the environment's own "site" file,
    ``<venv>/pip.conf`` (``pip.ini`` on Windows), which pip reads for that environment only.
    Outside one it is a file next to ``output``, which pip reads only when PIP_CONFIG_FILE
    names it. Returns the path and a one-line explanation for the user.
    """
    basename = "pip.ini" if windows else "pip.conf"
    venv = environ.get("VIRTUAL_ENV") or (prefix if prefix != base_prefix else None)
    if venv:
        path = Path(venv) / basename
        return path, (
            f"pip run from the virtual environment {venv} reads {path} (its site configuration); "
            "a PIP_CONFIG_FILE file or PIP_* variables take precedence over it"
        )
    path = output.parent / basename
    shown = str(path) if windows else shlex.quote(str(path))
    return path, f"point pip at it with PIP_CONFIG_FILE={shown} (for example in CI)"


def _normalize_key(name: str) -> str:
    # pip 26.3 _RawConfigParser.optionxform: so require_hashes, Require-Hashes and
    # --require-hashes are one key, and a file that repeats it is a DuplicateOptionError.
    return name.lower().replace("_", "-").removeprefix("--")


def _split_lines(text: str) -> list[tuple[str, str]]:
    lines = [(m.group(1), m.group(2)) for m in _LINE_RE.finditer(text)]
    # The pattern matches once more, empty, at the very end of the text.
    if lines and lines[-1] == ("", ""):
        lines.pop()
    return lines


def _parse(path: Path, text: str) -> _Document:
    """Classify each line the way ``configparser.RawConfigParser._read`` (Python 3.11+) does."""
    raw_lines = _split_lines(text)
    lines: list[_Line] = []
    sections: dict[str, _Section] = {}
    current: _Section | None = None
    option: _Option | None = None  # the option that continuation lines extend
    indent_level = 0
    seen: set[str] = set()
    for index, (body, ending) in enumerate(raw_lines):
        number = index + 1
        stripped = body.strip()
        if stripped.startswith(("#", ";")):
            lines.append(_Line(number, body, ending, _Kind.COMMENT))
            continue
        if not stripped:
            # A blank line does not end a value (empty_lines_in_values=True): it becomes part
            # of it, and configparser strips it again if nothing indented follows.
            if option is not None:
                option.parts.append("")
            lines.append(_Line(number, body, ending, _Kind.BLANK))
            continue
        match = _NONSPACE_RE.search(body)
        indent = match.start() if match else 0
        if current is not None and option is not None and indent > indent_level:
            option.parts.append(stripped)
            key = lines[option.line].key
            lines.append(_Line(number, body, ending, _Kind.CONTINUATION, key))
            current.last = index
            continue
        indent_level = indent
        header = _SECTION_RE.match(stripped)
        if header:
            name = header.group("header")
            if name in seen:
                raise ConfigError(
                    f"{path}:{number}: section [{name}] appears twice; pip refuses to load "
                    "a file that repeats a section",
                    hint="merge the two sections into one",
                )
            if name != _DEFAULT_SECTION:
                seen.add(name)
            current = sections.get(name)
            if current is None:
                current = sections[name] = _Section(name, index, index)
            else:  # [DEFAULT] may appear more than once
                current.header = current.last = index
            option = None
            lines.append(_Line(number, body, ending, _Kind.SECTION))
            continue
        if current is None:
            raise ConfigError(
                f"{path}:{number}: a setting before the first [section] header; "
                "pip cannot load this file",
                hint="put settings under a header such as [global] or [install]",
            )
        assignment = _OPTION_RE.match(stripped)
        if assignment is None or not assignment.group("option").rstrip():
            raise ConfigError(
                f"{path}:{number}: pip cannot parse this line; expected `name = value`, "
                "a [section] header, or a comment starting with # or ;"
            )
        key = _normalize_key(assignment.group("option").rstrip())
        if key in current.options:
            raise ConfigError(
                f"{path}:{number}: {key} is set twice in [{current.name}] (pip treats "
                "letter case, - and _ alike); pip refuses to load such a file",
                hint="keep one of the lines",
            )
        option = current.options[key] = _Option(index, [assignment.group("value").strip()])
        current.last = current.last_option = index
        lines.append(_Line(number, body, ending, _Kind.OPTION, key))
    newline = next((ending for _, ending in raw_lines if ending), "\n")
    return _Document(tuple(lines), sections, newline)


class _PipParser(configparser.RawConfigParser):
    """The parser pip 26.3 reads configuration files with (strict, normalised keys)."""

    def optionxform(self, optionstr: str) -> str:
        return _normalize_key(optionstr)


def _pip_view(path: Path, text: str) -> dict[str, dict[str, str]]:
    """Every section's settings as pip sees them, [DEFAULT] keys copied in; ConfigError if none."""
    parser = _PipParser()
    try:
        # newline=None: read with universal newlines, as pip's open() in text mode does.
        parser.read_file(io.StringIO(text, newline=None), source=str(path))
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        if line is None and isinstance(exc, configparser.ParsingError) and exc.errors:
            line = exc.errors[0][0]
        where = f"{path}:{line}" if line is not None else str(path)
        raise ConfigError(f"{where}: pip cannot load this file: {exc.message}") from exc
    view = {_DEFAULT_SECTION: dict(parser.defaults())}
    view.update({name: dict(parser.items(name)) for name in parser.sections()})
    return view


def _document_view(document: _Document) -> dict[str, dict[str, str]]:
    defaults = document.sections.get(_DEFAULT_SECTION)
    inherited = {k: o.value for k, o in defaults.options.items()} if defaults else {}
    view = {_DEFAULT_SECTION: inherited}
    for name, section in document.sections.items():
        if name != _DEFAULT_SECTION:
            view[name] = inherited | {k: o.value for k, o in section.options.items()}
    return view


def _check_pip_agrees(path: Path, text: str, document: _Document) -> None:
    # configparser has the last word on what pip reads: if it disagrees with the line parser,
    # a line would go in the wrong place, so stop rather than guess.
    if _pip_view(path, text) != _document_view(document):
        raise HardenreqError(
            f"internal error: hardenreq reads {path} differently from pip; "
            "please report this with the file attached"
        )


def _check_result(path: Path, before: _Document | None, new: str, build: Mapping[str, str]) -> None:
    # Expected: everything as before, except that [install] and [download] now have their
    # own require-hashes line, kept where it was already true and "true" everywhere else,
    # and the build-constraint value planned for them (``build``), if any.
    expected: dict[str, dict[str, str]] = {_DEFAULT_SECTION: {}}
    if before is not None:
        expected = {name: dict(values) for name, values in _document_view(before).items()}
    for name in _SECTIONS:
        values = expected.setdefault(name, dict(expected[_DEFAULT_SECTION]))
        section = before.sections.get(name) if before is not None else None
        own = section.options.get(_KEY) if section is not None else None
        keep = own is not None and own.value.lower() in _TRUE
        values[_KEY] = own.value if own is not None and keep else "true"
        if name in build:
            values[BUILD_CONSTRAINT_KEY] = build[name]
    document = _parse(path, new)
    if _pip_view(path, new) != expected or _document_view(document) != expected:
        raise HardenreqError(
            f"internal error: the planned {path} would not read as intended; "
            "please report this with the file attached"
        )


def _warnings(path: Path, document: _Document) -> tuple[str, ...]:
    notes: list[str] = []
    known = {"global", *_SECTIONS}
    notes.extend(
        f"{path}:{document.lines[section.header].number}: pip ignores [{name}]: "
        f"section names are case-sensitive, and pip reads [{name.lower()}]"
        for name, section in document.sections.items()
        if name.lower() in known and name not in known
    )
    for name in ("global", _DEFAULT_SECTION):
        option = _own_option(document, name)
        if option is None:
            continue
        number = document.lines[option.line].number
        value = option.value.lower()
        if name == _DEFAULT_SECTION:
            notes.append(
                f"{path}:{number}: [DEFAULT] sets {_KEY} = {option.value}, and configparser "
                "copies [DEFAULT] into every section, so it applies to other pip commands too"
            )
        elif value in _TRUE:
            notes.append(
                f"{path}:{number}: [global] sets {_KEY} = {option.value}, which applies to "
                "every pip command: pip wheel, pip lock and the rest will refuse unhashed "
                "requirements too; [install] and [download] are enough"
            )
        elif value in _FALSE:
            notes.append(
                f"{path}:{number}: [global] sets {_KEY} = {option.value}; [install] and "
                "[download] take precedence over [global] for pip install and pip download, "
                "so hash checking is still on"
            )
    notes.extend(
        f"{path}:{line.number}: {line.body.strip()} is indented, so pip reads it as part "
        f"of the value of {line.key}, not as a section header"
        for line in document.lines
        if line.kind is _Kind.CONTINUATION and _SECTION_RE.match(line.body.strip())
    )
    return tuple(notes)


def _own_option(document: _Document, section_name: str) -> _Option | None:
    """The section's own require-hashes option (not one inherited from [DEFAULT])."""
    section = document.sections.get(section_name)
    return section.options.get(_KEY) if section is not None else None


def _check_value(path: Path, document: _Document, section: str, option: _Option) -> str:
    """Return the lowercased value, or raise ConfigError if pip would reject it."""
    value = option.value
    if not value or value.lower() in _TRUE | _FALSE:
        return value.lower()
    hint = None
    if "#" in value or ";" in value:
        hint = "pip keeps a comment after a value as part of it: move it to a line of its own"
    raise ConfigError(
        f"{path}:{document.lines[option.line].number}: {_KEY} = {value!r} in [{section}] "
        "is not a value pip accepts (true/false, yes/no, on/off, 1/0)",
        hint=hint,
    )


def _set_true(body: str) -> str:
    """Replace the value of the option line ``body`` with ``true``, keeping everything else."""
    return _set_value(body, "true")


def _set_value(body: str, value: str) -> str:
    """Replace the value of the option line ``body`` with ``value``, keeping everything else."""
    start = len(body) - len(body.lstrip())
    match = _OPTION_RE.match(body.strip())
    if match is None:  # pragma: no cover - the parser classified the line as an option
        raise HardenreqError(f"internal error: not an option line: {body!r}")
    value_start = start + match.start("value")
    value_end = start + match.end("value")
    # "require-hashes =" has no value yet: keep a space after the "=" as written by hand.
    empty_after_delimiter = value_start == value_end and not body[value_start - 1].isspace()
    new_value = f" {value}" if empty_after_delimiter else value
    return body[:value_start] + new_value + body[value_end:]


def _insertion_indent(document: _Document, section: _Section) -> str:
    """Leading whitespace for a new option line that keeps the lines around it as they are."""
    lines = document.lines
    if section.last_option is not None:
        # Same indent as the last option: deeper would make it a continuation of that option.
        body = lines[section.last_option].body
        return body[: len(body) - len(body.lstrip())]
    # Only a header so far: the next header must not end up indented deeper than the new
    # line, or configparser would read it as a continuation of the new value.
    candidates = [lines[section.header].body]
    following = (
        line.body
        for line in lines[section.last + 1 :]
        if line.kind not in (_Kind.BLANK, _Kind.COMMENT)
    )
    next_line = next(following, None)
    if next_line is not None:
        candidates.append(next_line)
    return max((body[: len(body) - len(body.lstrip())] for body in candidates), key=len)


def _same_file(value: str, wanted: str) -> bool:
    """Whether the build-constraint value ``value`` names ``wanted`` from here (pip opens
    a relative path from the folder it runs in: hardenreq runs where pip will)."""
    return os.path.normpath(os.path.abspath(value)) == os.path.normpath(wanted)


def _build_value(current: str | None, wanted: tuple[str, ...]) -> str | None:
    """The build-constraint value that keeps ``current``'s files and adds ``wanted``;
    None when ``current`` names every one already."""
    tokens = current.split() if current else []
    missing = [w for w in wanted if not any(_same_file(t, w) for t in tokens)]
    if not missing:
        return None
    return " ".join([*tokens, *missing])


def _merge(
    path: Path, document: _Document, build: tuple[str, ...] = ()
) -> tuple[str, tuple[str, ...], dict[str, str]]:
    lines = document.lines
    replaced: dict[int, str] = {}
    removed: set[int] = set()
    inserted: dict[int, list[str]] = {}
    appended: list[list[str]] = []
    overrode: list[str] = []
    wanted: dict[str, str] = {}
    view = _document_view(document)
    # For pip install, [install]'s own value replaces [global]'s: a new [install] value
    # must carry [global]'s files, or they would stop applying.
    inherited = view.get("global", {}).get(BUILD_CONSTRAINT_KEY)
    for name in ("global", _DEFAULT_SECTION):
        # pip applies [global] (and [DEFAULT], copied into it) before [install]: a value it
        # rejects there stops pip install whatever [install] says.
        option = _own_option(document, name)
        if option is not None:
            _check_value(path, document, name, option)
    for name in _SECTIONS:
        section = document.sections.get(name)
        if section is None:
            block = [f"[{name}]", f"{_KEY} = true"]
            value = _build_value(view.get(_DEFAULT_SECTION, {}).get(BUILD_CONSTRAINT_KEY)
                                 or inherited, build) if build else None  # fmt: skip
            if value is not None:
                block.append(f"{BUILD_CONSTRAINT_KEY} = {value}")
                wanted[name] = value
            appended.append(block)
            continue
        option = section.options.get(_KEY)
        indent = _insertion_indent(document, section)
        if option is None:
            inserted.setdefault(section.last, []).append(f"{indent}{_KEY} = true")
        elif _check_value(path, document, name, option) not in _TRUE:
            replaced[option.line] = _set_true(lines[option.line].body)
            overrode.append(name)
        if not build:
            continue
        own = section.options.get(BUILD_CONSTRAINT_KEY)
        current = own.value if own is not None else view[name].get(BUILD_CONSTRAINT_KEY)
        value = _build_value(current or inherited, build)
        if value is None:
            continue
        wanted[name] = value
        if own is None:
            inserted.setdefault(section.last, []).append(
                f"{indent}{BUILD_CONSTRAINT_KEY} = {value}"
            )
        else:
            # One line, whatever the old value's layout: pip splits it at any whitespace.
            replaced[own.line] = _set_value(lines[own.line].body, value)
            removed.update(
                index
                for index in range(own.line + 1, len(lines))
                if lines[index].kind is _Kind.CONTINUATION
                and lines[index].key == BUILD_CONSTRAINT_KEY
                and _owner(lines, index) == own.line
            )
    records: list[list[str]] = []
    for index, line in enumerate(lines):
        if index not in removed:
            records.append([replaced.get(index, line.body), line.ending])
        records.extend([body, document.newline] for body in inserted.get(index, []))
    if appended:
        if records and records[-1][0].strip():
            records.append(["", document.newline])
        for number, block in enumerate(appended):
            if number:
                records.append(["", document.newline])
            records.extend([body, document.newline] for body in block)
    _fix_endings(records, lines, document.newline)
    return "".join(body + ending for body, ending in records), tuple(overrode), wanted


def _owner(lines: tuple[_Line, ...], index: int) -> int:
    """The option line a continuation line belongs to."""
    while index > 0 and lines[index].kind in (_Kind.CONTINUATION, _Kind.BLANK, _Kind.COMMENT):
        index -= 1
    return index


def _fix_endings(records: list[list[str]], lines: tuple[_Line, ...], newline: str) -> None:
    # Only the original last line can lack an ending. If lines now follow it, it needs one,
    # and the new last line goes without, so a file without a final newline stays so.
    no_final_newline = bool(lines) and not lines[-1].ending
    for record in records[:-1]:
        record[1] = record[1] or newline
    if records and no_final_newline:
        records[-1][1] = ""
