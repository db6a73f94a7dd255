"""Parse requirements files exactly as pip reads them, keeping every byte for round trips.

pip's reader (``pip/_internal/req/req_file.py``) works on logical lines: physical lines are
split with ``str.splitlines``, joined on a trailing backslash (unless the line is a comment),
stripped of comments, expanded for ``${VAR}``, then cut into a requirement part and an option
part at the first token that starts with ``-``. This module repeats those steps while keeping
the offsets of every logical line in the original text, so a rewrite can splice new text into
exactly the span it replaces.
"""

from __future__ import annotations

import codecs
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import Specifier
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from hardenreq._files import read_regular_file
from hardenreq.errors import IncludeError, RequirementsSyntaxError, UnreadableFile
from hardenreq.layout import display_path
from hardenreq.models import HashPin
from hardenreq.redact import redact_line, redact_url, register_secret

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_INCLUDE_DEPTH",
    "Entry",
    "OptionEntry",
    "RequirementEntry",
    "RequirementsFile",
    "RequirementsTree",
    "expand_variables",
    "parse_bytes",
    "parse_requirements",
    "parse_text",
    "read_file",
]

#: Refuse requirements files larger than this: no real one comes close.
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Refuse include chains deeper than this (real layouts have two or three levels).
MAX_INCLUDE_DEPTH = 32
_MAX_WALK = 1_000_000

# pip's own patterns (req_file.py): a comment starts at "#" at the start or after whitespace.
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_ENV_VAR_RE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)\}")
_SCHEME_RE = re.compile(r"^(http|https|file):", re.IGNORECASE)
_URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_PEP263_RE = re.compile(rb"coding[:=]\s*([-\w.]+)")
_HASH_RE = re.compile(r"^(?P<algorithm>sha256|sha384|sha512):(?P<digest>[0-9a-fA-F]+)$")
_LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# A character that may make shlex read options otherwise than str.split does (quotes,
# backslashes, whitespace that is not shlex's, such as a no-break space): only text free of
# them takes the plain split.
_NOT_PLAIN_RE = re.compile(r"[^A-Za-z0-9 \t=:._/+,@%~-]")
_HASH_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_VCS_SCHEMES = ("git+", "hg+", "svn+", "bzr+")
# pip also takes "git:..." and the like for -e, by prefixing "git+".
_VCS_PREFIXES = ("git:", "hg:", "svn:", "bzr:")
# Archive suffixes pip installs from (pip/_internal/utils/filetypes.py).
_ARCHIVE_SUFFIXES = (
    ".whl",
    ".tar.gz",
    ".tgz",
    ".tar",
    ".zip",
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tlz",
    ".tar.lz",
    ".tar.lzma",
)

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)


@dataclass(frozen=True, slots=True)
class _Option:
    canonical: str
    takes_value: bool
    per_requirement: bool = False


# Every option pip 26 accepts in a requirements file, plus --global-option, which older pips
# accept on requirement lines. Keys are every spelling; optparse also accepts unique prefixes.
_OPTIONS: dict[str, _Option] = {}


def _register(names: tuple[str, ...], takes_value: bool, per_requirement: bool = False) -> None:
    option = _Option(names[-1], takes_value, per_requirement)
    for name in names:
        _OPTIONS[name] = option


_register(("-i", "--pypi-url", "--index-url"), True)
_register(("--extra-index-url",), True)
_register(("--no-index",), False)
_register(("-c", "--constraint"), True)
_register(("-r", "--requirement"), True)
_register(("-e", "--editable"), True)
_register(("-f", "--find-links"), True)
_register(("--no-binary",), True)
_register(("--only-binary",), True)
_register(("--prefer-binary",), False)
_register(("--require-hashes",), False)
_register(("--no-require-hashes",), False)
_register(("--pre",), False)
_register(("--all-releases",), True)
_register(("--only-final",), True)
_register(("--trusted-host",), True)
_register(("--use-feature",), True)
_register(("--hash",), True, per_requirement=True)
_register(("-C", "--config-settings"), True, per_requirement=True)
_register(("--global-option",), True, per_requirement=True)
_LONG_NAMES = sorted(name for name in _OPTIONS if name.startswith("--"))
# pip 26's --use-feature choices (cli/cmdoptions.py): pip refuses a file naming another.
_FEATURES = frozenset(
    {"fast-deps", "inprocess-build-deps", "venv-isolation", "truststore",
     "no-binary-enable-wheel-cache", "build-constraint"}
)  # fmt: skip
_EXTRAS_RE = re.compile(r"^(.+)(\[[^\]]+\])$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One logical line that pip acts on (comments and blank lines are not entries).

    ``start``/``end`` are offsets into the file's text covering the physical lines of the
    logical line up to its last non-blank one, without that line's terminator (blank lines
    that close a continuation stay outside). ``lineno``/``end_lineno`` are 1-based.
    """

    path: Path
    lineno: int
    end_lineno: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class OptionEntry(Entry):
    """A line of global options, such as ``-r base.txt`` or ``--index-url URL``.

    ``options`` holds (canonical long name, value or None) pairs, in order.
    """

    options: tuple[tuple[str, str | None], ...]
    hashes: tuple[HashPin, ...] = ()


@dataclass(frozen=True, slots=True)
class RequirementEntry(Entry):
    """A requirement line, with its per-requirement options.

    ``spec`` is the requirement as pip reads it (variables expanded). ``requirement`` is
    None only for a bare URL or path with no name; ``extras`` and ``marker`` are filled for
    those too (``./project[dev] ; python_version >= "3.9"``). ``comment`` is the trailing comment of
    the logical line, if any. ``ignored_text`` is text pip skips because a comment comes
    before a ``\\`` continuation; ``ignored_hashes`` are the hashes inside it.
    """

    spec: str
    requirement: Requirement | None
    link: str | None
    editable: bool
    hashes: tuple[HashPin, ...]
    other_options: tuple[str, ...]
    head: str
    comment: str | None
    ignored_text: str | None = None
    ignored_hashes: tuple[HashPin, ...] = ()
    #: The extras and marker pip applies, for named and unnamed (URL, path) lines alike.
    extras: frozenset[str] = frozenset()
    marker: Marker | None = None
    # ``name`` and ``pinned_version``, worked out once (every check asks for them).
    _name: NormalizedName | None = field(init=False, repr=False, compare=False)
    _pinned: Version | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        requirement = self.requirement
        name = None if requirement is None else canonicalize_name(requirement.name)
        pinned = None
        if requirement is not None and self.link is None:
            specifiers = list(requirement.specifier)
            if len(specifiers) == 1:
                pinned = exact_version(specifiers[0])
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_pinned", pinned)

    @property
    def ignored_other(self) -> str | None:
        """What pip ignores on this line besides ``--hash`` options (None if nothing)."""
        if not self.ignored_text:
            return None
        rest = re.sub(r"--hash(?:=|\s+)\S+", " ", self.ignored_text).replace("\\", " ")
        return " ".join(rest.split()) or None

    @property
    def name(self) -> NormalizedName | None:
        """The normalised project name, if the line names one."""
        return self._name

    @property
    def pinned_version(self) -> Version | None:
        """The exact version of a ``==`` (no wildcard) or ``===`` pin, else None."""
        return self._pinned

    @property
    def unhashable_reason(self) -> str | None:
        """Why pip cannot check this requirement by hash, or None when it can."""
        if self.editable:
            return "an editable (-e) requirement cannot be pinned by hash"
        if self.link is None:
            return None
        if self.link.lower().startswith(_VCS_SCHEMES):
            return "a VCS URL cannot be pinned by hash (pip builds it from a checkout)"
        if not _URL_RE.match(self.link) or self.link.lower().startswith("file:"):
            local = self.link.split("#", 1)[0]
            if not local.lower().endswith(_ARCHIVE_SUFFIXES):
                return "a local directory cannot be pinned by hash (pip builds it in place)"
        return None


def exact_version(specifier: Specifier) -> Version | None:
    """The version a single ``==`` (without ``.*``) or ``===`` specifier pins, else None."""
    if specifier.operator == "==" and not specifier.version.endswith(".*"):
        try:
            return Version(specifier.version)
        except InvalidVersion:
            return None
    if specifier.operator == "===":
        try:
            return Version(specifier.version)
        except InvalidVersion:
            return None
    return None


@dataclass(frozen=True, slots=True)
class RequirementsFile:
    """A parsed file: its exact text, its entries, and the line ending it mostly uses."""

    path: Path
    text: str
    encoding: str
    bom: bytes
    newline: str
    entries: tuple[Entry, ...]

    @property
    def requirements(self) -> tuple[RequirementEntry, ...]:
        """Every requirement line of this file (not of its includes)."""
        return tuple(e for e in self.entries if isinstance(e, RequirementEntry))

    def to_bytes(self, text: str | None = None) -> bytes:
        """Encode ``text`` (default: the original) as the file was encoded, BOM included."""
        return self.bom + (self.text if text is None else text).encode(self.encoding)


@dataclass(frozen=True, slots=True)
class Include:
    """A ``-r``/``-c`` edge: which file includes which, and from what line."""

    parent: Path
    line: int
    child: Path
    constraint: bool


@dataclass(slots=True)
class RequirementsTree:
    """Root files and every file they include, each parsed once, in discovery order.

    ``constraint_files`` are the files pip reads as constraints: those included with
    ``-c`` (pip decides per include, so a ``-r`` inside a constraints file is read as
    requirements again).
    """

    files: dict[Path, RequirementsFile] = field(default_factory=dict)
    includes: list[Include] = field(default_factory=list)
    constraint_files: set[Path] = field(default_factory=set)
    roots: list[Path] = field(default_factory=list)

    def requirements(self) -> Iterator[RequirementEntry]:
        """Every requirement line of every file, in discovery order."""
        for parsed in self.files.values():
            yield from parsed.requirements

    def walk(self) -> Iterator[tuple[Entry, bool]]:
        """Every entry in the order pip reads them, with whether it is read as a constraint.

        pip reads an included file where its ``-r``/``-c`` line stands, and again each time
        it is included; options such as ``--index-url`` take effect in that order.
        """
        children = {(i.parent, i.line): i for i in self.includes}
        roots = self.roots or list(self.files)[:1]
        stack: list[tuple[Iterator[Entry], bool]] = [
            (iter(self.files[root].entries), False) for root in reversed(roots)
        ]
        # A file included twice is read twice, as pip does; a lattice of includes could
        # make that exponential, so the walk is bounded.
        budget = _MAX_WALK
        while stack:
            entries, constraint = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            budget -= 1
            if budget < 0:
                raise IncludeError(
                    entry.path, entry.lineno, "the files include each other too many times"
                )
            yield entry, constraint
            include = children.get((entry.path, entry.lineno))
            if include is not None and include.child in self.files:
                stack.append((iter(self.files[include.child].entries), include.constraint))


def parse_requirements(
    roots: list[Path],
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[Path, bytes | RequirementsFile] | None = None,
) -> RequirementsTree:
    """Parse files and, recursively, what they include with ``-r``/``-c``.

    Includes resolve relative to the including file, as pip does. A file reached twice is
    parsed once; a file that includes itself (directly or through others) is an error.
    ``overrides`` holds the planned contents of files (absolute, normalised paths), as
    bytes or already parsed, that are used instead of the disk. Raises
    RequirementsSyntaxError or IncludeError (exit 2).
    """
    env = os.environ if environ is None else environ
    tree = RequirementsTree()
    for root in roots:
        absolute = Path(os.path.normpath(root.absolute()))
        if absolute not in tree.roots:
            tree.roots.append(absolute)
        _parse_recursive(
            absolute, tree, env, (), constraint=False, origin=None, overrides=overrides or {}
        )
    return tree


def _parse_recursive(
    path: Path,
    tree: RequirementsTree,
    environ: Mapping[str, str],
    stack: tuple[Path, ...],
    *,
    constraint: bool,
    origin: tuple[Path, int] | None,
    overrides: Mapping[Path, bytes | RequirementsFile],
) -> None:
    if path in stack:
        chain = " -> ".join(str(p) for p in (*stack, path))
        where, line = origin if origin is not None else (path, None)
        raise IncludeError(where, line, f"include cycle: {chain}")
    if len(stack) >= MAX_INCLUDE_DEPTH and origin is not None:
        raise IncludeError(
            origin[0],
            origin[1],
            f"includes nested more than {MAX_INCLUDE_DEPTH} levels deep; refusing to follow",
        )
    if constraint:
        tree.constraint_files.add(path)
    if path in tree.files:
        return
    override = overrides.get(path)
    try:
        if isinstance(override, RequirementsFile):
            parsed = override
        elif override is not None:
            parsed = parse_bytes(path, override, environ)
        else:
            parsed = read_file(path, environ, origin)
    except RequirementsSyntaxError as exc:
        if origin is None or exc.path != path:
            raise
        raise _hidden(exc, origin) from None

    tree.files[path] = parsed
    for entry in parsed.entries:
        if not isinstance(entry, OptionEntry):
            continue
        # pip follows one include per line: the first -r, else the first -c.
        includes: list[tuple[str, str]] = []
        for wanted in ("--requirement", "--constraint"):
            includes += [(o, v) for o, v in entry.options if o == wanted and v is not None]
        for option, value in includes[:1]:
            if _URL_RE.match(value):
                raise IncludeError(
                    path,
                    entry.lineno,
                    f"cannot harden a remote include ({option} {redact_url(value)})",
                    hint="download it into the repository and include it by path",
                )
            child = Path(expand_variables(value, environ))
            if not child.is_absolute():
                child = path.parent / child
            child = Path(os.path.normpath(child))
            tree.includes.append(
                Include(path, entry.lineno, child, constraint=option == "--constraint")
            )
            _parse_recursive(
                child,
                tree,
                environ,
                (*stack, path),
                constraint=option == "--constraint",
                origin=(path, entry.lineno),
                overrides=overrides,
            )


def _hidden(exc: RequirementsSyntaxError, origin: tuple[Path, int]) -> RequirementsSyntaxError:
    """A bad line of an included file, shown only by its first word: ``-r ~/.netrc`` or
    ``-r ../../etc/passwd`` in a pull request must not print those files into a CI log."""
    shown = redact_line(exc.source_line) if exc.source_line is not None else "(not shown)"
    return RequirementsSyntaxError(
        exc.path,
        exc.line,
        f"not a line pip accepts, in a file included from {display_path(origin[0])}:{origin[1]}: "
        f"{shown}",
        hint="check that the -r/-c line names the requirements file you meant",
    )


def read_file(
    path: Path, environ: Mapping[str, str] | None = None, origin: tuple[Path, int] | None = None
) -> RequirementsFile:
    """Read and parse one requirements file (its includes are not followed).

    ``origin`` is the ``-r``/``-c`` line that names it, for messages. Raises
    RequirementsSyntaxError or IncludeError (exit 2).
    """
    try:
        data = read_regular_file(path, limit=MAX_FILE_BYTES, what="the requirements file")
    except UnreadableFile as exc:
        if origin is not None:
            raise IncludeError(origin[0], origin[1], f"cannot read {path}: {exc.reason}") from exc
        raise RequirementsSyntaxError(path, None, exc.detail) from exc
    return parse_bytes(path, data, environ)


def parse_bytes(
    path: Path, data: bytes, environ: Mapping[str, str] | None = None
) -> RequirementsFile:
    """Decode a file's bytes as pip does (BOM, PEP 263 line, else UTF-8) and parse them."""
    bom = b""
    encoding = "utf-8"
    for candidate, name in _BOMS:
        if data.startswith(candidate):
            bom, encoding = candidate, name
            break
    else:
        for line in data.split(b"\n")[:2]:
            if line[:1] == b"#" and (match := _PEP263_RE.search(line)):
                encoding = match.group(1).decode("ascii")
                break
    body = data[len(bom) :]
    try:
        text = body.decode(encoding)
    except LookupError as exc:
        raise RequirementsSyntaxError(path, 1, f"unknown encoding {encoding!r}") from exc
    except UnicodeDecodeError as exc:
        bad_line = len(body[: exc.start + 1].splitlines())
        raise RequirementsSyntaxError(
            path, bad_line, f"not valid {encoding} text (byte {exc.start + len(bom)})"
        ) from exc
    if "\x00" in text:
        nul_line = len(text[: text.index("\x00") + 1].splitlines())
        raise RequirementsSyntaxError(path, nul_line, "not a text file (it contains NUL bytes)")
    return parse_text(path, text, encoding=encoding, bom=bom, environ=environ)


class _Physical(NamedTuple):
    lineno: int
    start: int
    end: int  # excludes the line terminator


@dataclass(slots=True)
class _Logical:
    first: _Physical
    last: _Physical
    # The last physical line with something on it: blank lines that end a continuation
    # belong to the logical line for pip, but a rewrite must leave them in place.
    content_last: _Physical
    # (offset in joined text, offset in file text, length) per joined piece
    pieces: list[tuple[int, int, int]]
    joined: str


def _physical_lines(text: str) -> list[_Physical]:
    lines: list[_Physical] = []
    offset = 0
    for lineno, line in enumerate(text.splitlines(keepends=True), start=1):
        # A line holds one terminator at most (str.splitlines split on all of them).
        content = len(line.rstrip(_LINE_BREAKS))
        lines.append(_Physical(lineno, offset, offset + content))
        offset += len(line)
    return lines


def _join(text: str, lines: list[_Physical]) -> Iterator[_Logical]:
    """pip's join_lines, keeping where every piece of a joined line came from."""
    first: _Physical | None = None
    content_last: _Physical | None = None
    pieces: list[tuple[int, int, int]] = []
    parts: list[str] = []
    joined_length = 0
    for physical in lines:
        line = text[physical.start : physical.end]
        # A comment line starts with "#" (after blanks): most lines hold no "#" at all.
        comment_line = "#" in line and _COMMENT_RE.match(line) is not None
        continued = line.endswith("\\") and not comment_line
        if continued:
            # pip strips backslashes at both ends of a continued line.
            piece = line.strip("\\")
            start = physical.start + len(line) - len(line.lstrip("\\"))
        elif comment_line:
            piece, start = " " + line, physical.start - 1
        else:
            piece, start = line, physical.start
        if first is None:
            first = content_last = physical
        pieces.append((joined_length, start, len(piece)))
        parts.append(piece)
        joined_length += len(piece)
        if piece.strip():
            content_last = physical
        if not continued:
            yield _Logical(first, physical, content_last or first, pieces, "".join(parts))
            first = content_last = None
            pieces, parts, joined_length = [], [], 0
    if first is not None:
        yield _Logical(first, lines[-1], content_last or first, pieces, "".join(parts))


def _to_file_offset(logical: _Logical, index: int) -> int:
    for joined_at, file_at, length in reversed(logical.pieces):
        if index >= joined_at:
            return file_at + min(index - joined_at, length)
    return logical.first.start


def parse_text(
    path: Path,
    text: str,
    *,
    encoding: str = "utf-8",
    bom: bytes = b"",
    environ: Mapping[str, str] | None = None,
) -> RequirementsFile:
    """Parse the text of one requirements file (its includes are not followed).

    Raises RequirementsSyntaxError naming the file and line.
    """
    env = os.environ if environ is None else environ
    entries: list[Entry] = []
    for logical in _join(text, _physical_lines(text)):
        try:
            entry = _parse_logical(path, text, logical, env)
        except RequirementsSyntaxError as exc:
            exc.source_line = text[logical.first.start : logical.last.end]
            raise
        if entry is not None:
            entries.append(entry)
    crlf = text.count("\r\n")
    endings = {"\r\n": crlf, "\n": text.count("\n") - crlf, "\r": text.count("\r") - crlf}
    # The ending the file mostly uses (CRLF on a tie); LF for a file of one line.
    newline = (
        max(endings, key=lambda e: (endings[e], e == "\r\n")) if any(endings.values()) else "\n"
    )
    return RequirementsFile(path, text, encoding, bom, newline, tuple(entries))


def _parse_logical(
    path: Path, text: str, logical: _Logical, environ: Mapping[str, str]
) -> Entry | None:
    joined = logical.joined
    comment, ignored_text, content = _split_comment(text, logical)
    stripped = content.strip()
    if not stripped:
        return None
    lineno, end_lineno = logical.first.lineno, logical.content_last.lineno
    start, end = logical.first.start, logical.content_last.end
    try:
        args, option_tokens, option_index = _break_args_options(stripped)
    except ValueError as exc:
        raise RequirementsSyntaxError(path, lineno, f"cannot split options: {exc}") from exc
    options = _parse_options(path, lineno, option_tokens)
    # pip expands ${VAR} in the whole line; only hash values need it here (index URLs and
    # include paths are expanded where they are used, so they are never written expanded).
    hashes = tuple(
        _parse_hash(path, lineno, expand_variables(option.value, environ))
        for option in options
        if option.name == "--hash" and option.value is not None
    )
    ignored_hashes = _hashes_in(ignored_text) if ignored_text else ()
    if not args:
        editables = [o.value for o in options if o.name == "--editable" and o.value]
        if editables:
            editable = expand_variables(editables[0], environ)
            target, target_extras = _editable(path, lineno, editable)
            return RequirementEntry(
                path,
                lineno,
                end_lineno,
                start,
                end,
                spec=editable,
                requirement=_named_requirement(path, lineno, target, target_extras),
                link=target,
                editable=True,
                hashes=(),  # pip ignores --hash on -e lines
                other_options=(),
                head=text[start:end],
                comment=comment,
                ignored_text=ignored_text,
                ignored_hashes=ignored_hashes,
                extras=target_extras,
            )
        for option in options:
            if _OPTIONS[option.name].per_requirement and option.name != "--hash":
                raise RequirementsSyntaxError(
                    path, lineno, f"{option.name} needs a requirement on the same line"
                )
        pairs = tuple((o.name, o.value) for o in options)
        return OptionEntry(path, lineno, end_lineno, start, end, pairs, hashes)
    spec = expand_variables(args, environ)
    requirement, link, extras, marker = _parse_requirement(path, lineno, spec)
    leading = len(joined) - len(joined.lstrip())
    if option_tokens:
        head_end = _to_file_offset(logical, leading + option_index)
    else:
        head_end = _to_file_offset(logical, len(content.rstrip()))
    return RequirementEntry(
        path,
        lineno,
        end_lineno,
        start,
        end,
        spec=spec,
        requirement=requirement,
        link=link,
        editable=False,
        hashes=hashes,
        other_options=tuple(o.raw for o in options if o.name != "--hash"),
        head=text[start:head_end].rstrip(" \t\\\r\n"),
        comment=comment,
        ignored_text=ignored_text,
        ignored_hashes=ignored_hashes,
        extras=extras,
        marker=marker,
    )


def _split_comment(text: str, logical: _Logical) -> tuple[str | None, str | None, str]:
    """Find the logical line's comment as pip does (the first one ends the line).

    Returns the comment text (from "#", as written), the text pip ignores because the
    comment came before a continuation (or None), and the content before the comment.
    """
    joined = logical.joined
    match = _COMMENT_RE.search(joined) if "#" in joined else None
    if match is None:
        return None, None, joined
    hash_index = match.start() + len(match.group(0)) - len(match.group(0).lstrip())
    hash_at = _to_file_offset(logical, hash_index)
    if hash_at >= logical.last.start:
        return text[hash_at : logical.last.end], None, joined[: match.start()]
    # A comment before a "\" continuation: pip drops the rest of the logical line, and
    # with it any --hash options there (INDEX-FACTS: hashes silently switched off).
    piece_end = next(
        joined_at + length
        for joined_at, _, length in logical.pieces
        if joined_at <= hash_index < joined_at + length
    )
    comment = joined[hash_index:piece_end].rstrip()
    ignored = joined[piece_end:].strip() or None
    return comment, ignored, joined[: match.start()]


def _break_args_options(line: str) -> tuple[str, list[tuple[str, str]], int]:
    """pip's break_args_options: args end at the first space-separated token starting '-'.

    Returns the args string, the option tokens as (shlex-split value, text as written)
    pairs, and where the options begin.
    """
    tokens = line.split(" ")
    position = 0
    args: list[str] = []
    for token in tokens:
        if token.startswith("-"):
            break
        args.append(token)
        position += len(token) + 1
    option_text = line[position:] if len(args) < len(tokens) else ""
    if not _NOT_PLAIN_RE.search(option_text):
        # Nothing to unquote (the usual --hash lines): shlex would split on whitespace only.
        values = option_text.split()
        written = values
    else:
        values = shlex.split(option_text)
        # The same split with quotes kept, so a rewrite writes options back as they were.
        written = _split_keeping_quotes(option_text)
        if len(written) != len(values):
            written = [_requote(value) for value in values]
    return " ".join(args).strip(), list(zip(values, written, strict=True)), position


def _split_keeping_quotes(text: str) -> list[str]:
    """Split like ``shlex.split`` (POSIX rules) but return each token as written."""
    tokens: list[str] = []
    current: list[str] = []
    quote: str | None = None
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\" and quote != "'":
            current.append(char)
            escaped = True
        elif quote is not None:
            current.append(char)
            if char == quote:
                quote = None
        elif char in "'\"":
            current.append(char)
            quote = char
        elif char.isspace():
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


def _requote(token: str) -> str:
    name, equals, value = token.partition("=")
    if token.startswith("--") and equals:
        return f"{name}={shlex.quote(value)}"
    return shlex.quote(token)


class _ParsedOption(NamedTuple):
    name: str
    value: str | None
    raw: str


def _parse_options(path: Path, lineno: int, tokens: list[tuple[str, str]]) -> list[_ParsedOption]:
    """optparse's rules for the options pip accepts: attached or separate values, prefixes."""
    result: list[_ParsedOption] = []
    index = 0
    while index < len(tokens):
        token, raw = tokens[index]
        index += 1
        if token.startswith("--hash="):
            # Most tokens of a lock: what the general path below makes of them, directly.
            result.append(_ParsedOption("--hash", token[7:], raw))
            continue
        value: str | None = None
        # "--" is an option token, not a password.
        if token == "--":  # noqa: S105  # nosec B105
            # optparse stops at "--" and pip drops the rest: a --hash there does nothing.
            raise RequirementsSyntaxError(
                path, lineno, "pip ignores everything after '--' on this line"
            )
        if token.startswith("--"):
            name, has_value, attached = token.partition("=")
            name = _resolve_long(path, lineno, name)
            if has_value:
                value = attached
        elif token.startswith("-") and len(token) > 1:
            name = token[:2]
            if name not in _OPTIONS:
                raise RequirementsSyntaxError(
                    path, lineno, f"pip does not accept the option {name} in a requirements file"
                )
            if len(token) > 2:
                value = token[2:]
        elif any(o.name == "--editable" for o in result):
            # pip ignores what follows an -e value (a marker there does nothing).
            continue
        else:
            raise RequirementsSyntaxError(
                path, lineno, f"unexpected {token!r} after the options of this line"
            )
        option = _OPTIONS[name]
        if option.takes_value and value is None:
            if index >= len(tokens):
                raise RequirementsSyntaxError(path, lineno, f"{name} needs a value")
            value, written = tokens[index]
            raw = f"{raw} {written}"
            index += 1
        elif not option.takes_value and value is not None:
            raise RequirementsSyntaxError(path, lineno, f"{name} takes no value")
        if option.canonical == "--use-feature" and value not in _FEATURES:
            choices = ", ".join(sorted(_FEATURES))
            raise RequirementsSyntaxError(
                path, lineno, f"pip has no feature {value!r} for --use-feature ({choices})"
            )
        if option.canonical == "--config-settings" and "=" not in (value or ""):
            raise RequirementsSyntaxError(
                path, lineno, f"{name} needs a KEY=VALUE argument, not {value!r}"
            )
        result.append(_ParsedOption(option.canonical, value, raw))
    return result


def _resolve_long(path: Path, lineno: int, name: str) -> str:
    if name in _OPTIONS:
        return name
    matches = {_OPTIONS[n].canonical for n in _LONG_NAMES if n.startswith(name)}
    if len(matches) == 1:
        return matches.pop()
    if matches:
        choices = ", ".join(sorted(matches))
        raise RequirementsSyntaxError(path, lineno, f"ambiguous option {name} ({choices})")
    raise RequirementsSyntaxError(
        path, lineno, f"pip does not accept the option {name} in a requirements file"
    )


def _parse_hash(path: Path, lineno: int, value: str) -> HashPin:
    match = _HASH_RE.match(value)
    if match is None or len(match["digest"]) != _HASH_LENGTHS[match["algorithm"]]:
        raise RequirementsSyntaxError(
            path,
            lineno,
            f"malformed --hash value {value!r} (expected sha256:<64 hex digits>)",
        )
    return HashPin(match["algorithm"], match["digest"].lower())


def _hashes_in(text: str) -> tuple[HashPin, ...]:
    """Well-formed hashes in text pip ignores; anything else there is not pip's business."""
    hashes: list[HashPin] = []
    for value in re.findall(r"--hash[= ]\s*(\S+)", text):
        match = _HASH_RE.match(value.rstrip("\\"))
        if match is not None and len(match["digest"]) == _HASH_LENGTHS[match["algorithm"]]:
            hashes.append(HashPin(match["algorithm"], match["digest"].lower()))
    return tuple(hashes)


def expand_variables(value: str, environ: Mapping[str, str]) -> str:
    """pip's ${VAR} expansion: upper-case names only; unset or empty variables stay as-is."""
    if "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        value = environ.get(match["name"])
        if not value:
            return match.group(0)
        # What a ${VARIABLE} holds is never shown, wherever the expanded text ends up.
        register_secret(value)
        return value

    return _ENV_VAR_RE.sub(replace, value)


def _split_marker(spec: str, url_like: bool) -> tuple[str, str | None]:
    # pip: URLs need "; " before a marker (a ";" can be part of a URL), names need only ";".
    separator = "; " if url_like else ";"
    if separator in spec:
        head, marker = spec.split(separator, 1)
        return head.strip(), marker.strip()
    return spec, None


def _parse_requirement(
    path: Path, lineno: int, spec: str
) -> tuple[Requirement | None, str | None, frozenset[str], Marker | None]:
    """A name (PEP 508), ``name @ URL``, a bare URL, or an archive or directory path,
    as pip's ``parse_req_from_line`` reads it: (requirement, link, extras, marker)."""
    url_like = bool(_URL_RE.match(spec))
    head, marker_text = _split_marker(spec, url_like=url_like)
    if url_like:
        marker = _marker(path, lineno, marker_text)
        return (
            _named_requirement(path, lineno, head, frozenset(), marker),
            head,
            frozenset(),
            marker,
        )
    bare, extras_text = _strip_extras(head)
    if _is_local(bare):
        marker = _marker(path, lineno, marker_text)
        extras = _extras(path, lineno, extras_text)
        requirement = _named_requirement(path, lineno, bare, extras, marker)
        return requirement, bare, extras, marker
    requirement = _pep508(path, lineno, spec)
    return requirement, requirement.url, frozenset(requirement.extras), requirement.marker


def _is_local(bare: str) -> bool:
    """Whether pip reads this (extras stripped) as a local path rather than a PEP 508 name:
    it looks like a path, or names an archive (pip's ``_get_url_from_path``), and is not a
    ``name @ URL`` requirement."""
    if not (_looks_like_path(bare) or bare.lower().endswith(_ARCHIVE_SUFFIXES)):
        return False
    before, at, _ = bare.partition("@")
    return not at or _looks_like_path(before)


def _looks_like_path(text: str) -> bool:
    """pip's ``_looks_like_path`` (with ``~`` and absolute paths)."""
    return (
        text.startswith((".", "/", "~"))
        or os.sep in text
        or (os.altsep is not None and os.altsep in text)
    )


def _strip_extras(text: str) -> tuple[str, str | None]:
    """pip's ``strip_extras``: ``path[extra,...]`` -> (path, "[extra,...]")."""
    match = _EXTRAS_RE.match(text)
    if match is None:
        return text, None
    return match.group(1).rstrip(), match.group(2)


def _extras(path: Path, lineno: int, text: str | None) -> frozenset[str]:
    if text is None:
        return frozenset()
    try:
        return frozenset(Requirement(f"placeholder{text}").extras)
    except InvalidRequirement as exc:
        raise RequirementsSyntaxError(path, lineno, f"invalid extras {text!r}") from exc


def _marker(path: Path, lineno: int, text: str | None) -> Marker | None:
    if not text:
        return None
    try:
        return Marker(text)
    except InvalidMarker as exc:
        detail = str(exc).splitlines()[0]
        raise RequirementsSyntaxError(path, lineno, f"invalid marker {text!r}: {detail}") from exc


def _editable(path: Path, lineno: int, spec: str) -> tuple[str, frozenset[str]]:
    """An ``-e`` value as pip's ``parse_editable`` takes it: a local project (path or
    ``file:`` URL, extras allowed) or a VCS URL; anything else pip refuses."""
    bare, extras_text = _strip_extras(spec)
    # pip asks the disk whether the path is a directory; hardenreq reads text only, so a
    # path-like value that is no archive counts as the project's directory.
    directory = (
        not any(c in bare for c in "[;#")  # pip finds no such directory: marker or comment
        and not _URL_RE.match(bare)
        and _looks_like_path(bare)
        and not bare.lower().endswith(_ARCHIVE_SUFFIXES)
    )
    if bare.lower().startswith("file:") or directory:
        return bare, _extras(path, lineno, extras_text)
    if spec.lower().startswith(_VCS_SCHEMES) or spec.lower().startswith(_VCS_PREFIXES):
        return spec, frozenset()
    raise RequirementsSyntaxError(
        path,
        lineno,
        f"-e {redact_url(spec)} is not an editable pip accepts: it must be a path to a local "
        "project or a VCS URL (git+, hg+, svn+, bzr+)",
    )


def _pep508(path: Path, lineno: int, spec: str) -> Requirement:
    try:
        return Requirement(spec)
    except InvalidRequirement as exc:
        detail = str(exc).splitlines()[0]
        raise RequirementsSyntaxError(
            path, lineno, f"invalid requirement {spec!r}: {detail}"
        ) from exc


def _named_requirement(
    path: Path,
    lineno: int,
    link: str,
    extras: frozenset[str] = frozenset(),
    marker: Marker | None = None,
) -> Requirement | None:
    """The project a URL or path names: ``#egg=name``, else the archive's filename."""
    fragment = link.partition("#")[2]
    suffix = f"[{','.join(sorted(extras))}]" if extras else ""
    where = f" ; {marker}" if marker is not None else ""
    for part in fragment.split("&"):
        key, _, value = part.partition("=")
        if key == "egg" and value:
            return _pep508(path, lineno, f"{value}{suffix}{where}")
    filename = link.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    try:
        if filename.endswith(".whl"):
            name, version, *_ = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return Requirement(f"{name}{suffix}=={version}{where}")
