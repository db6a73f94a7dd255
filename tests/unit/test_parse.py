"""reqfile.parse: table-driven cases, each also read by pip's own parser (pip 26) for comparison.

The pip cross-check writes every case to a file and reads it with
``pip._internal.req.req_file.parse_requirements`` (what ``pip install -r`` uses), then with
``install_req_from_parsed_requirement`` (how pip turns a line into a project name, link and
markers). Our parser must see the same requirement lines, at the same line numbers, with the
same hashes, and the same options on option lines.
"""

from __future__ import annotations

import codecs
import hashlib
import optparse
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version
from pip._internal.exceptions import PipError
from pip._internal.network.session import PipSession
from pip._internal.req.constructors import install_req_from_parsed_requirement
from pip._internal.req.req_file import (
    ParsedRequirement,
    get_file_content,
    get_line_parser,
    preprocess,
)
from pip._internal.req.req_file import parse_requirements as pip_parse_requirements
from pip._internal.utils.urls import url_to_path

from hardenreq.errors import IncludeError, RequirementsSyntaxError
from hardenreq.models import HashPin
from hardenreq.reqfile import parse as parse_module
from hardenreq.reqfile.parse import (
    OptionEntry,
    RequirementEntry,
    RequirementsFile,
    parse_bytes,
    parse_requirements,
    parse_text,
)

H1 = hashlib.sha256(b"one").hexdigest()
H2 = hashlib.sha256(b"two").hexdigest()
H384 = hashlib.sha384(b"three").hexdigest()
H512 = hashlib.sha512(b"four").hexdigest()
MD5 = hashlib.md5(b"five", usedforsecurity=False).hexdigest()
PYPROJECT = '[project]\nname = "localpkg"\nversion = "1.0"\n'
REQ = Path("requirements.txt")


# --------------------------------------------------------------------------------------------
# What pip sees
# --------------------------------------------------------------------------------------------

_COMES_FROM_RE = re.compile(r"^-[rc] (?P<file>.+) \(line (?P<line>\d+)\)$")


@dataclass(frozen=True, slots=True)
class ReqLine:
    """One requirement line as both parsers report it."""

    file: str
    lineno: int
    requirement: str
    editable: bool
    hashes: frozenset[HashPin]


def pip_hashes(options: Mapping[str, Any] | None) -> frozenset[HashPin]:
    """pip's ``{"sha256": [digest, ...]}`` as HashPins (pip keeps the digest's case)."""
    hashes: Mapping[str, list[str]] = (options or {}).get("hashes") or {}
    return frozenset(
        HashPin(algorithm, digest.lower())
        for algorithm, digests in hashes.items()
        for digest in digests
    )


def pip_req_line(parsed: ParsedRequirement) -> ReqLine:
    match = _COMES_FROM_RE.match(parsed.comes_from)
    assert match is not None, parsed.comes_from
    # pip keeps the spaces between the requirement and its options ("foo  --pre" -> "foo ").
    return ReqLine(
        os.path.abspath(match["file"]),
        int(match["line"]),
        parsed.requirement.strip(),
        parsed.is_editable,
        pip_hashes(parsed.options),
    )


def our_req_line(entry: RequirementEntry) -> ReqLine:
    return ReqLine(
        os.path.abspath(entry.path),
        entry.lineno,
        entry.spec,
        entry.editable,
        frozenset(entry.hashes),
    )


def pip_parse(path: Path, session: PipSession) -> list[ParsedRequirement]:
    return list(pip_parse_requirements(str(path), session=session, constraint=False))


Pairs = frozenset[tuple[str, str | None]]

_PIP_LIST_OPTIONS = (
    ("--extra-index-url", "extra_index_urls"),
    ("--find-links", "find_links"),
    ("--trusted-host", "trusted_hosts"),
    ("--requirement", "requirements"),
    ("--constraint", "constraints"),
    ("--editable", "editables"),
)
_PIP_FLAGS = (
    ("--no-index", "no_index"),
    ("--pre", "pre"),
    ("--prefer-binary", "prefer_binary"),
    ("--require-hashes", "require_hashes"),
    ("--no-require-hashes", "no_require_hashes"),
)
_NAME_LIST_OPTIONS = ("--no-binary", "--only-binary", "--all-releases", "--only-final")


def _pip_option_pairs(opts: optparse.Values) -> Pairs:
    """The options pip parsed from one line, as (our canonical name, value) pairs.

    --use-feature is left out: pip's option default list is shared between lines.
    """
    pairs: set[tuple[str, str | None]] = set()
    if opts.index_url:
        pairs.add(("--index-url", opts.index_url))
    for name, dest in _PIP_LIST_OPTIONS:
        pairs.update((name, value) for value in getattr(opts, dest) or ())
    pairs.update((name, None) for name, dest in _PIP_FLAGS if getattr(opts, dest))
    pairs.update(("--no-binary", value) for value in opts.format_control.no_binary)
    pairs.update(("--only-binary", value) for value in opts.format_control.only_binary)
    pairs.update(("--all-releases", value) for value in opts.release_control.all_releases)
    pairs.update(("--only-final", value) for value in opts.release_control.only_final)
    for algorithm, digests in (opts.hashes or {}).items():
        pairs.update(("--hash", f"{algorithm}:{digest.lower()}") for digest in digests)
    for key, value in (opts.config_settings or {}).items():
        for item in value if isinstance(value, list) else [value]:
            pairs.add(("--config-settings", f"{key}={item}"))
    return frozenset(pairs)


def _our_option_pairs(entry: OptionEntry) -> Pairs:
    pairs: set[tuple[str, str | None]] = {
        ("--hash", f"{h.algorithm}:{h.digest}") for h in entry.hashes
    }
    for name, value in entry.options:
        if name == "--hash" or name == "--use-feature":
            continue
        if name in _NAME_LIST_OPTIONS and value is not None:
            pairs.update(
                (name, v if v.startswith(":") else canonicalize_name(v)) for v in value.split(",")
            )
        else:
            pairs.add((name, value))
    return frozenset(pairs)


def pip_option_lines(path: Path, session: PipSession) -> dict[int, Pairs]:
    """Line number -> options of every line pip reads as an option line (no requirement)."""
    _, content = get_file_content(str(path), session)
    parse_line = get_line_parser(None)
    lines: dict[int, Pairs] = {}
    for lineno, line in preprocess(content):
        args, opts = parse_line(line)
        if not args and not opts.editables:
            lines[lineno] = _pip_option_pairs(opts)
    return lines


def our_option_lines(parsed: RequirementsFile) -> dict[int, Pairs]:
    return {
        entry.lineno: _our_option_pairs(entry)
        for entry in parsed.entries
        if isinstance(entry, OptionEntry)
    }


def pip_error(path: Path, session: PipSession) -> PipError | None:
    """What pip raises reading ``path`` and building an InstallRequirement per line, if any."""
    try:
        for parsed in pip_parse(path, session):
            install_req_from_parsed_requirement(parsed)
    except PipError as exc:
        return exc
    return None


@pytest.fixture(scope="module")
def session() -> Iterator[PipSession]:
    with PipSession() as pip_session:
        yield pip_session


# --------------------------------------------------------------------------------------------
# The corpus: inputs pip accepts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A requirements file, the requirement strings we expect, and its surroundings.

    ``env`` values of None mean "unset". ``files`` are written next to the requirements file.
    ``raw`` replaces ``text.encode()`` when the encoding itself is under test.
    """

    text: str
    specs: tuple[str, ...]
    env: Mapping[str, str | None] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    raw: bytes | None = None

    @property
    def data(self) -> bytes:
        return self.text.encode() if self.raw is None else self.raw


def _case(case_id: str, text: str, *specs: str, **kwargs: Any) -> Any:
    return pytest.param(Case(text, specs, **kwargs), id=case_id)


CORPUS = [
    _case("pinned", "requests==2.32.3\n", "requests==2.32.3"),
    _case(
        "comments-and-blank-lines",
        "# header\n\n   \nfoo==1.0\n  # indented comment\n\t\nbar>=2\n",
        "foo==1.0",
        "bar>=2",
    ),
    _case(
        "trailing-comments",
        "foo==1.0  # why\nbar==2.0\t# after a tab\nbaz==3.0 #\n",
        "foo==1.0",
        "bar==2.0",
        "baz==3.0",
    ),
    _case(
        "hash-sign-without-space-is-not-a-comment",
        f"pkg @ https://files.example/pkg-1.0.tar.gz#sha256={H1}\n",
        f"pkg @ https://files.example/pkg-1.0.tar.gz#sha256={H1}",
    ),
    _case(
        "continuation-with-hashes",
        f"foo==1.0 \\\n    --hash=sha256:{H1} \\\n    --hash=sha256:{H2}\nbar==2.0\n",
        "foo==1.0",
        "bar==2.0",
    ),
    _case(
        "continuation-ends-at-comment-line",
        "foo==1.0 \\\n# a comment line\nbar==2.0\n",
        "foo==1.0",
        "bar==2.0",
    ),
    _case(
        "comment-line-ending-with-backslash",
        "# a comment \\\nfoo==1.0\n",
        "foo==1.0",
    ),
    _case(
        "continuation-then-comment-line-ending-with-backslash",
        "foo==1.0 \\\n# a comment \\\nbar==2.0\n",
        "foo==1.0",
        "bar==2.0",
    ),
    _case(
        "trailing-comment-swallows-hashes",
        f"six==1.17.0  # note \\\n    --hash=sha256:{H1}\n",
        "six==1.17.0",
    ),
    _case(
        "trailing-comment-swallows-next-requirement",
        "six==1.17.0  # note \\\nbar==2.0\nbaz==3.0\n",
        "six==1.17.0",
        "baz==3.0",
    ),
    _case(
        "crlf",
        f"foo==1.0 \\\r\n    --hash=sha256:{H1}\r\n\r\nbar==2.0  # c\r\n",
        "foo==1.0",
        "bar==2.0",
    ),
    _case("no-trailing-newline", "foo==1.0\nbar==2.0", "foo==1.0", "bar==2.0"),
    _case("continuation-at-end-of-file", "foo==1.0 \\", "foo==1.0"),
    _case(
        "cr-only",
        f"foo==1.0\rbar==2.0 \\\r    --hash=sha256:{H1}\r# c\rbaz==3.0\r",
        "foo==1.0",
        "bar==2.0",
        "baz==3.0",
    ),
    _case(
        "form-feed-and-vertical-tab",
        "foo==1.0\fbar==2.0\vbaz==3.0\n",
        "foo==1.0",
        "bar==2.0",
        "baz==3.0",
    ),
    _case(
        "unicode-line-separators",
        "a==1\x1cb==2\x85c==3\u2028d==4\n",
        "a==1",
        "b==2",
        "c==3",
        "d==4",
    ),
    _case(
        "pep503-names",
        "Foo.Bar_baz==1.0\nzope.interface==6.0\ntyping_extensions==4.12.2\n",
        "Foo.Bar_baz==1.0",
        "zope.interface==6.0",
        "typing_extensions==4.12.2",
    ),
    _case(
        "extras",
        "requests[socks]==2.32.3\nuvicorn[standard, dev]>=0.30\n",
        "requests[socks]==2.32.3",
        "uvicorn[standard, dev]>=0.30",
    ),
    _case(
        "every-operator",
        "a==1.0\nb===1.0\nc!=1.0\nd~=1.0\ne<2\nf<=2\ng>1\nh>=1\ni==1.*\nj>=1,<2\n",
        "a==1.0",
        "b===1.0",
        "c!=1.0",
        "d~=1.0",
        "e<2",
        "f<=2",
        "g>1",
        "h>=1",
        "i==1.*",
        "j>=1,<2",
    ),
    _case(
        "marker-with-space",
        'foo==1.0 ; python_version < "3.9"\n',
        'foo==1.0 ; python_version < "3.9"',
    ),
    _case(
        "marker-without-space",
        'foo==1.0; python_version < "3.9"\nbar==2.0;sys_platform=="linux"\n',
        'foo==1.0; python_version < "3.9"',
        'bar==2.0;sys_platform=="linux"',
    ),
    _case(
        "marker-then-hash",
        f'foo==1.0 ; python_version < "3.9" --hash=sha256:{H1}\n',
        'foo==1.0 ; python_version < "3.9"',
    ),
    _case(
        "hash-with-separate-value-and-upper-case-digest",
        f"foo==1.0 --hash sha256:{H1} --hash=sha256:{H2.upper()}\n",
        "foo==1.0",
    ),
    _case(
        "hash-sha384-sha512",
        f"foo==1.0 --hash=sha384:{H384} --hash=sha512:{H512}\n",
        "foo==1.0",
    ),
    _case(
        "config-settings",
        "foo==1.0 --config-settings key=value\nbar==2.0 -C key=value -C other=1\n"
        "baz==3.0 --config-settings=k=v\n",
        "foo==1.0",
        "bar==2.0",
        "baz==3.0",
    ),
    _case(
        "many-spaces-before-options",
        f"foo==1.0      --hash=sha256:{H1}\n",
        "foo==1.0",
    ),
    _case("leading-whitespace", "   foo==1.0\n\tbar==2.0\n", "foo==1.0", "bar==2.0"),
    _case(
        "index-options",
        "-i https://pypi.example/simple\n--index-url=https://pypi.example/simple\n"
        "--extra-index-url https://extra.example/simple\n"
        "--extra-index https://prefix.example/simple\n"
        "-ihttps://attached.example/simple\n--pypi-url https://old.example/simple\nfoo==1.0\n",
        "foo==1.0",
    ),
    _case(
        "find-links",
        "-f ./wheels\n--find-links https://wheels.example/\n--find-links=./other\n",
    ),
    _case("binary-options", "--only-binary :all:\n--no-binary pkg\n--prefer-binary\n"),
    _case(
        "flags",
        "--pre\n--require-hashes\n--no-index\n--trusted-host h.example\n"
        "--trusted-host=other.example\n",
    ),
    _case(
        "include-requirements",
        "-r base.txt\n--requirement=base2.txt\nfoo==1.0\n",
        "foo==1.0",
        files={"base.txt": "base==1.0\n", "base2.txt": "base2==1.0\n"},
    ),
    _case(
        "include-constraints",
        "-c constraints.txt\nfoo\n",
        "foo",
        files={"constraints.txt": "foo==1.0\n"},
    ),
    _case(
        "variable-set",
        "foo==${FOO_VERSION}\npkg @ https://${FILES_HOST}/pkg-1.0-py3-none-any.whl\n",
        "foo==1.0",
        "pkg @ https://files.example/pkg-1.0-py3-none-any.whl",
        env={"FOO_VERSION": "1.0", "FILES_HOST": "files.example"},
    ),
    _case(
        "variable-unset",
        "pkg @ https://${FILES_HOST}/pkg-1.0-py3-none-any.whl\n",
        "pkg @ https://${FILES_HOST}/pkg-1.0-py3-none-any.whl",
        env={"FILES_HOST": None},
    ),
    _case(
        "variable-empty",
        "pkg @ https://${FILES_HOST}/pkg-1.0-py3-none-any.whl\n",
        "pkg @ https://${FILES_HOST}/pkg-1.0-py3-none-any.whl",
        env={"FILES_HOST": ""},
    ),
    _case(
        "variable-lowercase-not-expanded",
        "pkg @ https://${files_host}/pkg-1.0-py3-none-any.whl\n",
        "pkg @ https://${files_host}/pkg-1.0-py3-none-any.whl",
        env={"files_host": "files.example"},
    ),
    _case(
        "name-at-url",
        "pkg @ https://files.example/pkg-1.0-py3-none-any.whl\n",
        "pkg @ https://files.example/pkg-1.0-py3-none-any.whl",
    ),
    _case(
        "bare-url-with-marker",
        'https://files.example/pkg-1.0-py3-none-any.whl ; python_version < "3.9"\n',
        'https://files.example/pkg-1.0-py3-none-any.whl ; python_version < "3.9"',
    ),
    _case("local-directory", "./dir\n", "./dir", files={"dir/pyproject.toml": PYPROJECT}),
    _case(
        "local-archive",
        "./pkg-1.0.tar.gz\n",
        "./pkg-1.0.tar.gz",
        files={"pkg-1.0.tar.gz": ""},
    ),
    _case("editable-dot", "-e .\n", ".", files={"pyproject.toml": PYPROJECT}),
    _case(
        "editable-vcs",
        "-e git+https://github.com/o/x.git#egg=x\n--editable=git+https://github.com/o/y.git#egg=y\n",
        "git+https://github.com/o/x.git#egg=x",
        "git+https://github.com/o/y.git#egg=y",
    ),
    _case(
        "vcs-name-at",
        "x @ git+https://github.com/o/x.git@v1.0\n",
        "x @ git+https://github.com/o/x.git@v1.0",
    ),
    _case(
        "utf-8-bom",
        "",
        "foo==1.0",
        raw=codecs.BOM_UTF8 + b"foo==1.0\r\n",
    ),
    _case(
        "pep263-latin-1",
        "",
        "foo==1.0",
        raw="# -*- coding: latin-1 -*-\nfoo==1.0  # café\n".encode("latin-1"),
    ),
    _case(
        "blank-line-ends-continuation",
        "foo==1.0 \\\n\nbar==2.0\n",
        "foo==1.0",
        "bar==2.0",
    ),
    _case(
        "backslash-only-line",
        f"foo==1.0 \\\n\\\n    --hash=sha256:{H1}\n",
        "foo==1.0",
    ),
    _case("hash-on-an-option-line", f"--hash=sha256:{H1}\n"),
    _case(
        "global-option-on-requirement-line",
        "foo==1.0 --index-url https://x.example/simple --pre\n",
        "foo==1.0",
    ),
]


def _write_case(case: Case, directory: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in case.env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    for name, content in case.files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(content)
    path = directory / "requirements.txt"
    path.write_bytes(case.data)
    return path


@pytest.mark.parametrize("case", CORPUS)
def test_requirement_lines_match_pip(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session: PipSession
) -> None:
    path = _write_case(case, tmp_path, monkeypatch)
    ours = parse_bytes(path, case.data)
    assert tuple(e.spec for e in ours.requirements) == case.specs
    theirs = [pip_req_line(p) for p in pip_parse(path, session)]
    own_file = [line for line in theirs if line.file == str(path)]
    assert [our_req_line(e) for e in ours.requirements] == own_file


@pytest.mark.parametrize("case", CORPUS)
def test_option_lines_match_pip(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session: PipSession
) -> None:
    path = _write_case(case, tmp_path, monkeypatch)
    ours = parse_bytes(path, case.data)
    assert our_option_lines(ours) == pip_option_lines(path, session)


@pytest.mark.parametrize("case", CORPUS)
def test_names_links_and_markers_match_pip(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session: PipSession
) -> None:
    """pip's InstallRequirement for each line names the project, link and markers we derive."""
    path = _write_case(case, tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)  # pip resolves local paths against the working directory
    ours = parse_bytes(path, case.data).requirements
    theirs = [p for p in pip_parse(path, session) if pip_req_line(p).file == str(path)]
    assert len(ours) == len(theirs)
    for entry, parsed in zip(ours, theirs, strict=True):
        ireq = install_req_from_parsed_requirement(parsed)
        assert entry.editable == ireq.editable
        if ireq.name is not None:
            assert entry.name == canonicalize_name(ireq.name)
        if ireq.link is not None:
            assert entry.link is not None
            if ireq.link.scheme == "file":
                expected = Path(url_to_path(ireq.link.url))
                assert (tmp_path / entry.link.split("#")[0]).resolve() == expected
            else:
                assert entry.link == ireq.link.url
        else:
            assert entry.link is None
        requirement = entry.requirement
        if ireq.req is not None:
            assert requirement is not None
            assert requirement.extras == ireq.req.extras
            if ireq.link is None:
                assert str(requirement.specifier) == str(ireq.req.specifier)
        if ireq.markers is not None:
            assert requirement is not None
            assert str(requirement.marker) == str(ireq.markers)
        elif requirement is not None:
            assert requirement.marker is None


# --------------------------------------------------------------------------------------------
# Inputs pip rejects: a RequirementsSyntaxError naming the file and the line
# --------------------------------------------------------------------------------------------

REJECTED = [
    pytest.param("foo==1.0\n--frobnicate\n", 2, id="unknown-long-option"),
    pytest.param("-x foo\n", 1, id="unknown-short-option"),
    pytest.param("foo==1.0 --frobnicate\n", 1, id="unknown-option-on-requirement-line"),
    pytest.param(f"foo==1.0 --hash=md5:{MD5}\n", 1, id="hash-md5"),
    pytest.param(f"foo==1.0 --hash={H1}\n", 1, id="hash-without-algorithm"),
    pytest.param(f"foo==1.0 --hash=SHA256:{H1}\n", 1, id="hash-upper-case-algorithm"),
    pytest.param("foo==1.0 --hash\n", 1, id="hash-without-value"),
    pytest.param("--pre=yes\n", 1, id="flag-with-value"),
    pytest.param("# comment\n-i\n", 2, id="index-url-without-value"),
    pytest.param("--no- x\n", 1, id="ambiguous-prefix"),
    pytest.param("foo==1.0 --hash='sha256:abc\n", 1, id="unterminated-quote"),
    pytest.param(
        f"a==1\n\nb==2 \\\n    --hash=sha256:{H1} \\\n    --bogus\n",
        3,
        id="error-on-continued-line",
    ),
    pytest.param("a==1\r\nb==2\r\n--bogus\r\n", 3, id="crlf-line-number"),
    pytest.param("a==1\rb==2\r--bogus\r", 3, id="cr-only-line-number"),
    pytest.param("foo==\n", 1, id="invalid-requirement"),
    pytest.param("foo bar\n", 1, id="space-in-name"),
    pytest.param(f"foo==1.0\\\n--hash=sha256:{H1}\n", 1, id="no-space-before-backslash"),
    pytest.param(
        "foo==1.0 -C novalue\n",
        1,
        id="config-settings-without-equals",
    ),
]


@pytest.mark.parametrize(("text", "line"), REJECTED)
def test_rejected_like_pip(text: str, line: int, tmp_path: Path, session: PipSession) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(text.encode())
    assert pip_error(path, session) is not None, "pip accepts this input"
    with pytest.raises(RequirementsSyntaxError) as caught:
        parse_text(path, text)
    assert caught.value.path == path
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}:")


# Inputs pip accepts (ignoring part of them) that we reject on purpose: each hides a mistake.
STRICTER = [
    pytest.param(f"foo==1.0 --hash=sha256:{H1} {H2}\n", id="positional-after-options"),
    pytest.param("foo==1.0 --hash=sha256:abc\n", id="hash-too-short"),
    pytest.param(f"foo==1.0 --hash=sha256:{'g' * 64}\n", id="hash-not-hex"),
    pytest.param("--config-settings key=value\n", id="config-settings-without-requirement"),
]


@pytest.mark.parametrize("text", STRICTER)
def test_stricter_than_pip(text: str, tmp_path: Path, session: PipSession) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    assert pip_error(path, session) is None, "pip now rejects this too: move it to REJECTED"
    with pytest.raises(RequirementsSyntaxError) as caught:
        parse_text(path, text)
    assert caught.value.line == 1


def test_global_option_accepted_for_older_pips() -> None:
    """pip 26 rejects --global-option; the module accepts it, as older pips did (documented)."""
    entry = parse_text(REQ, "foo==1.0 --global-option=--quiet\n").requirements[0]
    assert entry.other_options == ("--global-option=--quiet",)


# --------------------------------------------------------------------------------------------
# Fields of RequirementEntry and OptionEntry
# --------------------------------------------------------------------------------------------


def _only_requirement(text: str) -> RequirementEntry:
    (entry,) = parse_text(REQ, text, environ={}).requirements
    return entry


@pytest.mark.parametrize(
    ("text", "head", "comment"),
    [
        pytest.param("foo==1.0\n", "foo==1.0", None, id="plain"),
        pytest.param("foo==1.0  # why\n", "foo==1.0", "# why", id="trailing-comment"),
        pytest.param("foo==1.0 #\n", "foo==1.0", "#", id="empty-comment"),
        pytest.param("  foo==1.0 --pre  # c\n", "  foo==1.0", "# c", id="indented-with-option"),
        pytest.param(
            f"foo==1.0 \\\n    --hash=sha256:{H1}  # trailing\n",
            "foo==1.0",
            "# trailing",
            id="comment-after-last-hash",
        ),
        pytest.param(
            "foo==1.0 \\\n# comment line\n", "foo==1.0", "# comment line", id="comment-line"
        ),
        pytest.param(
            f"six==1.17.0  # note \\\n    --hash=sha256:{H1}\n",
            "six==1.17.0",
            "# note",
            id="swallowing-comment",
        ),
        pytest.param(
            'foo==1.0 ; python_version < "3.9" --hash=sha256:' + H1 + "\n",
            'foo==1.0 ; python_version < "3.9"',
            None,
            id="marker",
        ),
        pytest.param(
            'foo==1.0 \\\n    ; python_version < "3.9"\n',
            'foo==1.0 \\\n    ; python_version < "3.9"',
            None,
            id="marker-on-continued-line",
        ),
        pytest.param(
            f"foo==1.0 \t --hash=sha256:{H1}\n",
            "foo==1.0",
            None,
            id="tab-before-options",
        ),
        pytest.param("foo==1.0\r\n", "foo==1.0", None, id="crlf"),
        pytest.param(f"foo==1.0 \\\r\n  --hash sha256:{H1}\r\n", "foo==1.0", None, id="crlf-cont"),
    ],
)
def test_head_and_comment(text: str, head: str, comment: str | None) -> None:
    entry = _only_requirement(text)
    assert entry.head == head
    assert entry.comment == comment


def test_spans_and_line_numbers() -> None:
    text = f"# c\n\nfoo==1.0 \\\r\n    --hash=sha256:{H1}\r\n-i https://x.example/simple\nbar==2"
    parsed = parse_text(REQ, text)
    foo, index, bar = parsed.entries
    assert (foo.lineno, foo.end_lineno) == (3, 4)
    assert text[foo.start : foo.end] == f"foo==1.0 \\\r\n    --hash=sha256:{H1}"
    assert (index.lineno, index.end_lineno) == (5, 5)
    assert text[index.start : index.end] == "-i https://x.example/simple"
    assert (bar.lineno, bar.end_lineno) == (6, 6)
    assert text[bar.start : bar.end] == "bar==2"


def test_swallowed_hashes_are_reported() -> None:
    text = f"six==1.17.0  # note \\\n    --hash=sha256:{H1} \\\n    --hash sha256:{H2}\nfoo==1\n"
    six, foo = parse_text(REQ, text).requirements
    assert six.hashes == ()
    assert six.comment == "# note"
    assert six.ignored_text == f"--hash=sha256:{H1}     --hash sha256:{H2}"
    assert six.ignored_hashes == (HashPin("sha256", H1), HashPin("sha256", H2))
    assert (six.lineno, six.end_lineno) == (1, 3)
    assert (foo.ignored_text, foo.ignored_hashes) == (None, ())


def test_swallowed_requirement_is_ignored_text() -> None:
    six, baz = parse_text(REQ, "six==1.17.0  # note \\\nbar==2.0\nbaz==3.0\n").requirements
    assert six.ignored_text == "bar==2.0"
    assert six.ignored_hashes == ()
    assert baz.spec == "baz==3.0"


def test_no_ignored_text_without_continuation() -> None:
    entry = _only_requirement(f"foo==1.0 --hash=sha256:{H1}  # note \\\n")
    assert entry.ignored_text is None
    assert entry.hashes == (HashPin("sha256", H1),)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"six==1.17.0  # note \\\n    --hash=md5:{MD5}\n", id="md5"),
        pytest.param(
            f"six==1.17.0  # note \\\n    --hash=sha256:{H1} \\\n# see --hash docs\n",
            id="prose-in-comment-line",
        ),
    ],
)
def test_swallowed_text_is_never_an_error(text: str) -> None:
    """pip never reads the text after the comment, so nothing in it can be a syntax error."""
    entry = _only_requirement(text)
    assert entry.spec == "six==1.17.0"
    assert entry.ignored_text is not None


def test_hashes_are_lower_cased_and_keep_order() -> None:
    entry = _only_requirement(f"foo==1.0 --hash=sha256:{H2.upper()} --hash sha256:{H1}\n")
    assert entry.hashes == (HashPin("sha256", H2), HashPin("sha256", H1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("foo==1.0\n", Version("1.0"), id="eq"),
        pytest.param("foo===1.0\n", Version("1.0"), id="arbitrary-eq"),
        pytest.param("foo===not.a-version!\n", None, id="arbitrary-eq-not-a-version"),
        pytest.param("foo==1.*\n", None, id="eq-wildcard"),
        pytest.param("foo!=1.0\n", None, id="ne"),
        pytest.param("foo~=1.0\n", None, id="compatible"),
        pytest.param("foo<2\n", None, id="lt"),
        pytest.param("foo<=2\n", None, id="le"),
        pytest.param("foo>1\n", None, id="gt"),
        pytest.param("foo>=1\n", None, id="ge"),
        pytest.param("foo==1.0,<2\n", None, id="two-specifiers"),
        pytest.param("foo\n", None, id="unpinned"),
        pytest.param("foo==1.0+local.1\n", Version("1.0+local.1"), id="local-version"),
        pytest.param("Foo[x]==2.0 ; python_version >= '3'\n", Version("2.0"), id="extras-marker"),
        pytest.param(
            "pkg @ https://files.example/pkg-1.0-py3-none-any.whl\n", None, id="name-at-url"
        ),
        pytest.param("./pkg-1.0.tar.gz\n", None, id="local-archive"),
        pytest.param("-e git+https://github.com/o/x.git#egg=x\n", None, id="editable"),
    ],
)
def test_pinned_version(text: str, expected: Version | None) -> None:
    assert _only_requirement(text).pinned_version == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("-e .\n", "editable", id="editable-dir"),
        pytest.param("-e git+https://github.com/o/x.git#egg=x\n", "editable", id="editable-vcs"),
        pytest.param("x @ git+https://github.com/o/x.git@v1.0\n", "VCS", id="vcs-name-at"),
        pytest.param("git+https://github.com/o/x.git#egg=x\n", "VCS", id="vcs-bare"),
        pytest.param("hg+https://hg.example/x#egg=x\n", "VCS", id="vcs-hg"),
        pytest.param("./dir\n", "local directory", id="local-dir"),
        pytest.param("./dir[extra]\n", "local directory", id="local-dir-extras"),
        pytest.param("/abs/dir\n", "local directory", id="absolute-dir"),
        pytest.param("file:///abs/dir\n", "local directory", id="file-url-dir"),
        pytest.param("pkg @ file:///abs/dir\n", "local directory", id="name-at-file-url-dir"),
        pytest.param("./pkg-1.0.tar.gz\n", None, id="local-sdist"),
        pytest.param("./pkg-1.0-py3-none-any.whl\n", None, id="local-wheel"),
        pytest.param("file:///abs/pkg-1.0.tar.gz\n", None, id="file-url-archive"),
        pytest.param("https://files.example/pkg-1.0.tar.gz\n", None, id="url-archive"),
        pytest.param(
            "pkg @ https://files.example/pkg-1.0-py3-none-any.whl\n", None, id="name-at-url"
        ),
        pytest.param("foo==1.0\n", None, id="pinned"),
        pytest.param("foo\n", None, id="unpinned"),
    ],
)
def test_unhashable_reason(text: str, reason: str | None) -> None:
    actual = _only_requirement(text).unhashable_reason
    if reason is None:
        assert actual is None
    else:
        assert actual is not None
        assert reason in actual


@pytest.mark.parametrize(
    ("text", "name", "link"),
    [
        pytest.param("Foo.Bar_baz==1.0\n", "foo-bar-baz", None, id="pep503"),
        pytest.param("./pkg-1.0.tar.gz\n", "pkg", "./pkg-1.0.tar.gz", id="sdist-filename"),
        pytest.param(
            "https://f.example/My_Pkg-2.0-py3-none-any.whl\n",
            "my-pkg",
            "https://f.example/My_Pkg-2.0-py3-none-any.whl",
            id="wheel-filename",
        ),
        pytest.param(
            "-e git+https://github.com/o/x.git#egg=X_y\n",
            "x-y",
            "git+https://github.com/o/x.git#egg=X_y",
            id="egg-fragment",
        ),
        pytest.param("./dir\n", None, "./dir", id="directory-has-no-name"),
        pytest.param(
            'https://f.example/pkg-1.0-py3-none-any.whl ; python_version < "3.9"\n',
            "pkg",
            "https://f.example/pkg-1.0-py3-none-any.whl",
            id="bare-url-marker",
        ),
    ],
)
def test_name_and_link(text: str, name: str | None, link: str | None) -> None:
    entry = _only_requirement(text)
    assert entry.name == name
    assert entry.link == link


IDX = "https://a.example/simple"
XTRA = "https://b.example/simple"
OPTION_LINES = [
    pytest.param("-i " + IDX, [("--index-url", IDX)], id="i"),
    pytest.param("-i" + IDX, [("--index-url", IDX)], id="i-attached"),
    pytest.param("--index-url=" + IDX, [("--index-url", IDX)], id="index-url-equals"),
    pytest.param("--pypi-url " + IDX, [("--index-url", IDX)], id="pypi-url"),
    pytest.param("--extra-index-url " + XTRA, [("--extra-index-url", XTRA)], id="extra-index-url"),
    pytest.param("--extra-index " + XTRA, [("--extra-index-url", XTRA)], id="unique-prefix"),
    pytest.param("-f ./wheels", [("--find-links", "./wheels")], id="f"),
    pytest.param("--find-links " + XTRA, [("--find-links", XTRA)], id="find-links"),
    pytest.param("--only-binary :all:", [("--only-binary", ":all:")], id="only-binary"),
    pytest.param("--no-binary pkg", [("--no-binary", "pkg")], id="no-binary"),
    pytest.param("--pre", [("--pre", None)], id="pre"),
    pytest.param("--prefer-binary", [("--prefer-binary", None)], id="prefer-binary"),
    pytest.param("--trusted-host h", [("--trusted-host", "h")], id="trusted-host"),
    pytest.param("--require-hashes", [("--require-hashes", None)], id="require-hashes"),
    pytest.param("--no-index", [("--no-index", None)], id="no-index"),
    pytest.param("-r base.txt", [("--requirement", "base.txt")], id="r"),
    pytest.param("-c c.txt", [("--constraint", "c.txt")], id="c"),
    pytest.param(
        "--pre --trusted-host h  # c",
        [("--pre", None), ("--trusted-host", "h")],
        id="two-options-and-comment",
    ),
    pytest.param("--index-url \\\n    " + IDX, [("--index-url", IDX)], id="continued"),
]


@pytest.mark.parametrize(("line", "options"), OPTION_LINES)
def test_option_entries(line: str, options: list[tuple[str, str | None]]) -> None:
    (entry,) = parse_text(REQ, line + "\n").entries
    assert isinstance(entry, OptionEntry)
    assert list(entry.options) == options
    assert (entry.lineno, entry.start, entry.end) == (1, 0, len(line))


OTHER_OPTIONS = [
    pytest.param("--config-settings key=value", ("--config-settings key=value",), id="long"),
    pytest.param("--config-settings=key=value", ("--config-settings=key=value",), id="long-eq"),
    pytest.param("-C key=value", ("-C key=value",), id="short"),
    pytest.param("-Ckey=value", ("-Ckey=value",), id="short-attached"),
    pytest.param(f"-C k=v --hash=sha256:{H1} --pre", ("-C k=v", "--pre"), id="mixed"),
    pytest.param("-C 'k=a b'", ("-C 'k=a b'",), id="quoted-separate-value"),
]


@pytest.mark.parametrize(("options", "other_options"), OTHER_OPTIONS)
def test_other_options_are_kept_as_written(options: str, other_options: tuple[str, ...]) -> None:
    assert _only_requirement(f"foo==1.0 {options}\n").other_options == other_options


def test_editable_entry() -> None:
    entry = _only_requirement("-e git+https://github.com/o/x.git#egg=x  # dev\n")
    assert entry.editable
    assert entry.spec == entry.link == "git+https://github.com/o/x.git#egg=x"
    assert entry.requirement is not None
    assert entry.name == "x"
    assert entry.comment == "# dev"


@pytest.mark.parametrize(
    ("environ", "host"),
    [
        pytest.param({"FILES_HOST": "f.example"}, "f.example", id="set"),
        pytest.param({}, "${FILES_HOST}", id="unset"),
        pytest.param({"FILES_HOST": ""}, "${FILES_HOST}", id="empty"),
        pytest.param({"files_host": "f.example"}, "${FILES_HOST}", id="other-case"),
    ],
)
def test_environ_argument(
    environ: dict[str, str], host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FILES_HOST", "from-os-environ.example")  # ignored: environ is given
    text = "pkg @ https://${FILES_HOST}/pkg-1.0-py3-none-any.whl  # ${FILES_HOST}\n"
    entry = parse_text(REQ, text, environ=environ).requirements[0]
    assert entry.spec == f"pkg @ https://{host}/pkg-1.0-py3-none-any.whl"
    assert entry.comment == "# ${FILES_HOST}"
    assert entry.head == "pkg @ https://${FILES_HOST}/pkg-1.0-py3-none-any.whl"


def test_environ_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOO_VERSION", "2.0")
    assert parse_text(REQ, "foo==${FOO_VERSION}\n").requirements[0].spec == "foo==2.0"


def test_editable_hashes_ignored(tmp_path: Path, session: PipSession) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(f"-e git+https://github.com/o/x.git#egg=x --hash=sha256:{H1}\n")
    (theirs,) = [pip_req_line(p) for p in pip_parse(path, session)]
    assert theirs.editable
    assert theirs.hashes == frozenset()
    (ours,) = parse_text(path, path.read_text()).requirements
    assert ours.hashes == ()


@pytest.mark.parametrize("space", ["\xa0", "\u2003", "\x1f"])
def test_options_split_on_shlex_whitespace_only(
    space: str, tmp_path: Path, session: PipSession
) -> None:
    # str.split would see two hashes here; pip (shlex) sees one value, which is no hash.
    path = tmp_path / "requirements.txt"
    text = f"foo==1.0 --hash=sha256:{H1}{space}--hash=sha256:{H2}\n"
    path.write_text(text)
    (theirs,) = [pip_req_line(p).hashes for p in pip_parse(path, session)]
    assert theirs != frozenset({HashPin("sha256", H1), HashPin("sha256", H2)})
    with pytest.raises(RequirementsSyntaxError, match="malformed --hash value"):
        parse_text(path, text)


def test_lowercase_variable_names_are_not_expanded() -> None:
    text = "pkg @ https://${host}/pkg-1.0-py3-none-any.whl\n"
    entry = parse_text(REQ, text, environ={"host": "x.example", "HOST": "y.example"}).requirements[
        0
    ]
    assert entry.spec == text.strip()


def test_variables_in_options_are_expanded_like_pip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session: PipSession
) -> None:
    monkeypatch.setenv("FOO_HASH", f"sha256:{H1}")
    path = tmp_path / "requirements.txt"
    path.write_text("foo==1.0 --hash=${FOO_HASH}\n")
    assert [pip_req_line(p).hashes for p in pip_parse(path, session)] == [
        frozenset({HashPin("sha256", H1)})
    ]
    entry = parse_requirements([path]).files[path].requirements[0]
    assert entry.hashes == (HashPin("sha256", H1),)


# --------------------------------------------------------------------------------------------
# Line endings, encodings and bad bytes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "newline"),
    [
        pytest.param("a==1\nb==2\n", "\n", id="lf"),
        pytest.param("a==1\r\nb==2\r\n", "\r\n", id="crlf"),
        pytest.param("a==1\rb==2\r", "\r", id="cr"),
        pytest.param("a==1", "\n", id="one-line"),
        pytest.param("a==1\r\nb==2\r\nc==3\n", "\r\n", id="mostly-crlf"),
        pytest.param("a==1\nb==2\nc==3\nd==4\r\n", "\n", id="mostly-lf"),
        pytest.param("a==1\rb==2\rc==3\n", "\r", id="mostly-cr"),
    ],
)
def test_newline(text: str, newline: str) -> None:
    assert parse_text(REQ, text).newline == newline


@pytest.mark.parametrize(
    ("data", "encoding", "bom"),
    [
        pytest.param(b"foo==1.0\n", "utf-8", b"", id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + b"foo==1.0\r\n", "utf-8", codecs.BOM_UTF8, id="utf-8-bom"),
        pytest.param(
            codecs.BOM_UTF16_LE + "foo==1.0  # é\r\n".encode("utf-16-le"),
            "utf-16-le",
            codecs.BOM_UTF16_LE,
            id="utf-16-le",
        ),
        pytest.param(
            codecs.BOM_UTF16_BE + "foo==1.0  # é\n".encode("utf-16-be"),
            "utf-16-be",
            codecs.BOM_UTF16_BE,
            id="utf-16-be",
        ),
        pytest.param(
            codecs.BOM_UTF32_LE + "foo==1.0\n".encode("utf-32-le"),
            "utf-32-le",
            codecs.BOM_UTF32_LE,
            id="utf-32-le",
        ),
        pytest.param(
            "# -*- coding: latin-1 -*-\nfoo==1.0  # café\n".encode("latin-1"),
            "latin-1",
            b"",
            id="pep263",
        ),
        pytest.param(
            b"foo==1.0  # vim: set fileencoding=cp1252\n",
            "utf-8",
            b"",
            id="pep263-only-on-a-comment-line",
        ),
    ],
)
def test_encodings_round_trip(
    data: bytes, encoding: str, bom: bytes, tmp_path: Path, session: PipSession
) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(data)
    parsed = parse_bytes(path, data)
    assert (parsed.encoding, parsed.bom) == (encoding, bom)
    assert [e.spec for e in parsed.requirements] == ["foo==1.0"]
    assert parsed.to_bytes() == data
    assert (
        parsed.to_bytes(parsed.text + "bar==2\n") == data + parsed.to_bytes("bar==2\n")[len(bom) :]
    )
    assert [pip_req_line(p).requirement for p in pip_parse(path, session)] == ["foo==1.0"]


@pytest.mark.parametrize(
    ("data", "line"),
    [
        pytest.param(b"a==1\n\xff\n", 2, id="lf"),
        pytest.param(b"a==1\r\nb==2\r\nc==3  # caf\xe9\r\n", 3, id="crlf"),
        pytest.param(
            b"a==1\rb==2\r\xff\r",
            3,
            id="cr-only",
        ),
    ],
)
def test_invalid_utf8_names_the_line(data: bytes, line: int) -> None:
    with pytest.raises(RequirementsSyntaxError) as caught:
        parse_bytes(REQ, data)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{REQ}:{line}:")
    assert "utf-8" in str(caught.value)


def test_unknown_declared_encoding() -> None:
    with pytest.raises(RequirementsSyntaxError) as caught:
        parse_bytes(REQ, b"# -*- coding: no-such-codec -*-\nfoo\n")
    assert caught.value.line == 1


@pytest.mark.parametrize(
    ("data", "line"),
    [
        pytest.param(b"a==1\nb\x00==2\n", 2, id="lf"),
        pytest.param(b"\x00", 1, id="first-byte"),
        pytest.param(b"a==1\rb==2\rc\x00\r", 3, id="cr-only"),
        pytest.param(b"a==1\r\nb==2\r\n\x00\r\n", 3, id="crlf-start-of-line"),
        pytest.param(b"a==1\n\x00\n", 2, id="start-of-line"),
    ],
)
def test_nul_bytes_rejected(data: bytes, line: int) -> None:
    with pytest.raises(RequirementsSyntaxError) as caught:
        parse_bytes(REQ, data)
    assert caught.value.line == line
    assert "NUL" in str(caught.value)


def test_file_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("foo==1.0\n" * 10)
    monkeypatch.setattr(parse_module, "MAX_FILE_BYTES", 50)
    with pytest.raises(RequirementsSyntaxError) as caught:
        parse_requirements([path])
    assert caught.value.path == path
    assert caught.value.line is None


def test_missing_root_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(RequirementsSyntaxError) as caught:
        parse_requirements([path])
    assert caught.value.path == path
    assert caught.value.line is None
    assert str(caught.value).startswith(f"{path}: ")


# --------------------------------------------------------------------------------------------
# -r / -c includes
# --------------------------------------------------------------------------------------------


def _write(files: Mapping[str, str], root: Path) -> None:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)


def _tree_lines(roots: list[Path]) -> set[tuple[str, int, str]]:
    tree = parse_requirements(roots, environ={})
    return {(str(e.path), e.lineno, e.spec) for e in tree.requirements()}


def _pip_tree_lines(root: Path, session: PipSession) -> set[tuple[str, int, str]]:
    return {
        (line.file, line.lineno, line.requirement)
        for line in map(pip_req_line, pip_parse(root, session))
    }


def test_include_relative_to_including_file(tmp_path: Path, session: PipSession) -> None:
    _write(
        {
            "app/requirements.txt": "-r ../common/base.txt\napp==1.0\n",
            "common/base.txt": "# base\n-c pins.txt\nbase==1.0\n",
            "common/pins.txt": "app==1.0\n",
        },
        tmp_path,
    )
    root = tmp_path / "app" / "requirements.txt"
    tree = parse_requirements([root])
    base, pins = tmp_path / "common" / "base.txt", tmp_path / "common" / "pins.txt"
    assert list(tree.files) == [root, base, pins]
    assert [(i.parent, i.line, i.child, i.constraint) for i in tree.includes] == [
        (root, 1, base, False),
        (base, 2, pins, True),
    ]
    assert tree.constraint_files == {pins}
    assert _tree_lines([root]) == _pip_tree_lines(root, session)


def test_nested_includes(tmp_path: Path, session: PipSession) -> None:
    _write(
        {
            "requirements.txt": "-r sub/a.txt\nroot==1.0\n",
            "sub/a.txt": "-r deeper/b.txt\na==1.0\n",
            "sub/deeper/b.txt": "b==1.0\n",
        },
        tmp_path,
    )
    root = tmp_path / "requirements.txt"
    tree = parse_requirements([root])
    assert [p.relative_to(tmp_path).as_posix() for p in tree.files] == [
        "requirements.txt",
        "sub/a.txt",
        "sub/deeper/b.txt",
    ]
    assert [e.spec for e in tree.requirements()] == ["root==1.0", "a==1.0", "b==1.0"]
    assert _tree_lines([root]) == _pip_tree_lines(root, session)


def test_a_requirement_include_inside_constraints_is_read_as_requirements(
    tmp_path: Path, session: PipSession
) -> None:
    # pip decides per include line: a -r inside a constraints file reads requirements again.
    _write({"r.txt": "-c c.txt\n", "c.txt": "-r d.txt\n", "d.txt": "x==1\n"}, tmp_path)
    tree = parse_requirements([tmp_path / "r.txt"])
    assert tree.constraint_files == {tmp_path / "c.txt"}
    assert [constraint for _, constraint in tree.walk()] == [False, True, False]
    ours = {(e.spec, c) for e, c in tree.walk() if isinstance(e, RequirementEntry)}
    theirs = {(r.requirement, r.constraint) for r in pip_parse(tmp_path / "r.txt", session)}
    assert ours == theirs == {("x==1", False)}


def test_diamond_parsed_once(tmp_path: Path, session: PipSession) -> None:
    _write(
        {
            "requirements.txt": "-r a.txt\n-r b.txt\n",
            "a.txt": "-r common.txt\na==1.0\n",
            "b.txt": "-r ./common.txt\nb==1.0\n",
            "common.txt": "common==1.0\n",
        },
        tmp_path,
    )
    root = tmp_path / "requirements.txt"
    tree = parse_requirements([root])
    assert len(tree.files) == 4
    assert [e.spec for e in tree.requirements()].count("common==1.0") == 1
    assert len(tree.includes) == 4
    # pip reads common.txt twice; the set of lines is the same.
    assert _tree_lines([root]) == _pip_tree_lines(root, session)


def test_same_file_as_two_roots(tmp_path: Path) -> None:
    _write({"a.txt": "a==1\n"}, tmp_path)
    tree = parse_requirements([tmp_path / "a.txt", tmp_path / "a.txt"])
    assert [e.spec for e in tree.requirements()] == ["a==1"]


def test_include_cycle(tmp_path: Path) -> None:
    _write({"a.txt": "a==1\n-r b.txt\n", "b.txt": "# b\nb==1\n-r a.txt\n"}, tmp_path)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    with pytest.raises(IncludeError) as caught:
        parse_requirements([a])
    assert (caught.value.path, caught.value.line) == (b, 3)
    assert str(caught.value).startswith(f"{b}:3: ")
    assert f"{a} -> {b} -> {a}" in str(caught.value)


def test_self_include(tmp_path: Path) -> None:
    _write({"a.txt": "-r ./a.txt\n"}, tmp_path)
    a = tmp_path / "a.txt"
    with pytest.raises(IncludeError) as caught:
        parse_requirements([a])
    assert (caught.value.path, caught.value.line) == (a, 1)
    assert f"{a} -> {a}" in str(caught.value)


def test_missing_include(tmp_path: Path) -> None:
    _write({"requirements.txt": "foo==1\n\n-r missing.txt\n"}, tmp_path)
    root = tmp_path / "requirements.txt"
    with pytest.raises(IncludeError) as caught:
        parse_requirements([root])
    assert (caught.value.path, caught.value.line) == (root, 3)
    assert str(caught.value).startswith(f"{root}:3: ")
    assert "missing.txt" in str(caught.value)


def test_include_path_variable(tmp_path: Path) -> None:
    _write({"requirements.txt": "-r ${REQ_DIR}/base.txt\n", "sub/base.txt": "x==1\n"}, tmp_path)
    tree = parse_requirements([tmp_path / "requirements.txt"], environ={"REQ_DIR": "sub"})
    assert tmp_path / "sub" / "base.txt" in tree.files


def test_remote_include_is_refused_without_credentials(tmp_path: Path) -> None:
    _write({"requirements.txt": "-r https://user:s3cret@files.example/base.txt\n"}, tmp_path)
    with pytest.raises(IncludeError) as caught:
        parse_requirements([tmp_path / "requirements.txt"])
    assert caught.value.line == 1
    assert "s3cret" not in str(caught.value)
    assert "files.example" in str(caught.value)


def test_include_error_in_child_names_child(tmp_path: Path) -> None:
    _write({"requirements.txt": "-r base.txt\n", "base.txt": "ok==1\n--bogus\n"}, tmp_path)
    with pytest.raises(RequirementsSyntaxError) as caught:
        parse_requirements([tmp_path / "requirements.txt"])
    assert (caught.value.path, caught.value.line) == (tmp_path / "base.txt", 2)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("-r a.txt -r not-there.txt", id="two-r"),
        pytest.param("-c not-there.txt -r a.txt", id="r-before-c"),
        pytest.param("--requirement=a.txt --constraint not-there.txt", id="long"),
    ],
)
def test_only_the_first_include_of_a_line_is_followed(
    line: str, tmp_path: Path, session: PipSession
) -> None:
    """pip follows one include per option line: the first -r, else the first -c."""
    _write({"requirements.txt": line + "\n", "a.txt": "a==1\n"}, tmp_path)
    root = tmp_path / "requirements.txt"
    assert _pip_tree_lines(root, session) == {(str(tmp_path / "a.txt"), 1, "a==1")}
    assert _tree_lines([root]) == _pip_tree_lines(root, session)
