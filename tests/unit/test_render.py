"""reqfile.render: pip-compile's hash layout, byte-exact splicing, and pip reading the result."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pip._internal.network.session import PipSession
from pip._internal.req.req_file import ParsedRequirement
from pip._internal.req.req_file import parse_requirements as pip_parse_requirements

from hardenreq.models import HashPin
from hardenreq.reqfile.parse import OptionEntry, RequirementEntry, RequirementsFile, parse_text
from hardenreq.reqfile.render import Edit, apply_edits, render_hashed

H1 = hashlib.sha256(b"one").hexdigest()
H2 = hashlib.sha256(b"two").hexdigest()
H3 = hashlib.sha256(b"three").hexdigest()
P1, P2, P3 = (HashPin("sha256", h) for h in (H1, H2, H3))
LOW, HIGH = sorted([P1, P2])
REQ = Path("requirements.txt")


def _entry(text: str) -> tuple[RequirementEntry, RequirementsFile]:
    parsed = parse_text(REQ, text, environ={})
    (entry,) = parsed.requirements
    return entry, parsed


def _hash_lines(*pins: HashPin, newline: str = "\n") -> str:
    return "".join(f" \\{newline}    {pin.render()}" for pin in pins)


# --------------------------------------------------------------------------------------------
# render_hashed
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("foo==1.0\n", "foo==1.0" + _hash_lines(LOW, HIGH), id="plain"),
        pytest.param(
            "foo==1.0  # why\n", "foo==1.0" + _hash_lines(LOW, HIGH) + "  # why", id="comment"
        ),
        pytest.param(
            f"foo==1.0 --hash=sha256:{H3}\n",
            "foo==1.0" + _hash_lines(LOW, HIGH),
            id="existing-hash-replaced",
        ),
        pytest.param(
            f"foo==1.0 \\\n    --hash=sha256:{H3}  # trailing\n",
            "foo==1.0" + _hash_lines(LOW, HIGH) + "  # trailing",
            id="continued",
        ),
        pytest.param(
            "foo==1.0 -C key=value --pre\n",
            "foo==1.0 \\\n    -C key=value \\\n    --pre" + _hash_lines(LOW, HIGH),
            id="other-options-first",
        ),
        pytest.param(
            "  foo==1.0  # c\n", "  foo==1.0" + _hash_lines(LOW, HIGH) + "  # c", id="indented"
        ),
        pytest.param(
            'foo==1.0 ; python_version < "3.9"\n',
            'foo==1.0 ; python_version < "3.9"' + _hash_lines(LOW, HIGH),
            id="marker",
        ),
        pytest.param(
            f"six==1.17.0  # note \\\n    --hash=sha256:{H1}\n",
            "six==1.17.0" + _hash_lines(LOW, HIGH) + "  # note",
            id="swallowing-comment-moved-after-hashes",
        ),
        pytest.param(
            "foo==1.0 \\\n# comment line\n",
            "foo==1.0" + _hash_lines(LOW, HIGH) + "  # comment line",
            id="comment-line",
        ),
    ],
)
def test_layout(text: str, expected: str) -> None:
    entry, _ = _entry(text)
    assert render_hashed(entry, [HIGH, LOW], "\n") == expected


def test_hashes_sorted_and_deduplicated() -> None:
    entry, _ = _entry("foo==1.0\n")
    pins = [P3, P1, P2, P1, P3]
    rendered = render_hashed(entry, pins, "\n")
    assert rendered == "foo==1.0" + _hash_lines(*sorted({P1, P2, P3}))
    assert rendered.splitlines() == [
        "foo==1.0 \\",
        *(f"    {p.render()} \\" for p in sorted({P1, P2, P3})[:-1]),
        f"    {sorted({P1, P2, P3})[-1].render()}",
    ]


def test_crlf_newline() -> None:
    entry, parsed = _entry("foo==1.0  # c\r\n")
    rendered = render_hashed(entry, [P1, P2], parsed.newline)
    assert rendered == "foo==1.0" + _hash_lines(LOW, HIGH, newline="\r\n") + "  # c"
    assert "\n" not in rendered.replace("\r\n", "")


def test_cr_newline() -> None:
    text = "foo==1.0\rbar==2.0\r"
    parsed = parse_text(REQ, text)
    rendered = render_hashed(parsed.requirements[0], [P1], parsed.newline)
    assert rendered == "foo==1.0" + _hash_lines(P1, newline="\r")


def test_no_hashes_gives_the_head() -> None:
    entry, _ = _entry(f"foo==1.0 --hash=sha256:{H1}  # c\n")
    assert render_hashed(entry, [], "\n") == "foo==1.0  # c"


def test_sha512_sorted_with_sha256() -> None:
    entry, _ = _entry("foo==1.0\n")
    p512 = HashPin("sha512", hashlib.sha512(b"x").hexdigest())
    rendered = render_hashed(entry, [p512, P1], "\n")
    assert rendered == "foo==1.0" + _hash_lines(P1, p512)


# --------------------------------------------------------------------------------------------
# apply_edits
# --------------------------------------------------------------------------------------------

TEXT = "alpha==1\r\nbeta==2  # b\r\n\r\ngamma==3"


def test_no_edits_is_identity() -> None:
    assert apply_edits(TEXT, []) == TEXT
    assert apply_edits("", []) == ""


def test_untouched_bytes_are_identical() -> None:
    start = TEXT.index("beta")
    end = TEXT.index("\r\n", start)
    result = apply_edits(TEXT, [Edit(start, end, "BETA")])
    assert result == TEXT[:start] + "BETA" + TEXT[end:]
    assert result.startswith(TEXT[:start])
    assert result.endswith(TEXT[end:])


def test_edits_in_any_order() -> None:
    edits = [Edit(len(TEXT) - 8, len(TEXT), "G"), Edit(0, 8, "A"), Edit(10, 17, "B")]
    expected = "A\r\nB  # b\r\n\r\nG"
    assert apply_edits(TEXT, edits) == expected
    assert apply_edits(TEXT, list(reversed(edits))) == expected


@pytest.mark.parametrize(
    "edits",
    [
        pytest.param([Edit(0, 5, "x"), Edit(5, 8, "y")], id="adjacent"),
        pytest.param([Edit(0, 0, "x")], id="insert-at-start"),
        pytest.param([Edit(len(TEXT), len(TEXT), "x")], id="insert-at-end"),
        pytest.param([Edit(3, 6, "")], id="delete"),
        pytest.param([Edit(0, len(TEXT), "x")], id="everything"),
    ],
)
def test_boundaries(edits: list[Edit]) -> None:
    expected = TEXT
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        expected = expected[: edit.start] + edit.replacement + expected[edit.end :]
    assert apply_edits(TEXT, edits) == expected


@pytest.mark.parametrize(
    "edits",
    [
        pytest.param([Edit(0, 5, "x"), Edit(4, 8, "y")], id="overlap"),
        pytest.param([Edit(4, 8, "y"), Edit(0, 5, "x")], id="overlap-reversed"),
        pytest.param([Edit(0, 10, "x"), Edit(2, 3, "y")], id="nested"),
        pytest.param([Edit(0, 10, "x"), Edit(5, 5, "y")], id="insert-inside"),
        pytest.param([Edit(2, 4, "x"), Edit(2, 4, "y")], id="same-span"),
    ],
)
def test_overlapping_edits_raise(edits: list[Edit]) -> None:
    with pytest.raises(ValueError, match="overlapping"):
        apply_edits(TEXT, edits)


# --------------------------------------------------------------------------------------------
# Round trip through pip: the rendered file means the same, with exactly the given hashes
# --------------------------------------------------------------------------------------------

_COMES_FROM_RE = re.compile(r"^-[rc] (?P<file>.+) \(line (?P<line>\d+)\)$")

PipLine = tuple[str, bool, frozenset[HashPin], Mapping[str, Any]]


@pytest.fixture(scope="module")
def session() -> Iterator[PipSession]:
    with PipSession() as pip_session:
        yield pip_session


def _pip_lines(path: Path, session: PipSession) -> list[PipLine]:
    """(requirement, editable, hashes, other per-requirement options) of each line of ``path``."""
    lines: list[PipLine] = []
    parsed: ParsedRequirement
    for parsed in pip_parse_requirements(str(path), session=session):
        match = _COMES_FROM_RE.match(parsed.comes_from)
        assert match is not None
        if os.path.abspath(match["file"]) != str(path):
            continue
        options = dict(parsed.options or {})
        hashes: Mapping[str, list[str]] = options.pop("hashes", {})
        pins = frozenset(HashPin(a, d.lower()) for a, digests in hashes.items() for d in digests)
        lines.append((parsed.requirement.strip(), parsed.is_editable, pins, options))
    return lines


def _render_all(parsed: RequirementsFile, hashes: Sequence[HashPin]) -> str:
    edits = [
        Edit(entry.start, entry.end, render_hashed(entry, hashes, parsed.newline))
        for entry in parsed.requirements
        if not entry.editable
    ]
    return apply_edits(parsed.text, edits)


ROUND_TRIP = [
    pytest.param("foo==1.0\n", id="plain"),
    pytest.param("foo==1.0  # why\n", id="comment"),
    pytest.param(f"foo==1.0 --hash=sha256:{H3}\n", id="existing-hash"),
    pytest.param(f"six==1.17.0  # note \\\n    --hash=sha256:{H1}\nbar==2\n", id="swallowed-hash"),
    pytest.param("six==1.17.0  # note \\\nbar==2.0\nbaz==3.0\n", id="swallowed-requirement"),
    pytest.param('foo==1.0 ; python_version < "3.9"  # m\n', id="marker"),
    pytest.param('foo==1.0 \\\n    ; python_version < "3.9"\n', id="marker-on-continued-line"),
    pytest.param("foo==1.0 -C key=value --config-settings=k2=v2\n", id="config-settings"),
    pytest.param("foo==1.0 -C 'key=a b'\n", id="config-settings-quoted"),
    pytest.param("  foo==1.0\r\nbar==2.0  # c\r\n", id="crlf"),
    pytest.param("foo==1.0\rbar==2.0 # c\r", id="cr-only"),
    pytest.param("foo==1.0\fbar==2.0\n", id="form-feed"),
    pytest.param("pkg @ https://files.example/pkg-1.0-py3-none-any.whl\n", id="name-at-url"),
    pytest.param(
        'https://files.example/pkg-1.0-py3-none-any.whl ; python_version < "3.9"\n',
        id="bare-url-with-marker",
    ),
    pytest.param("foo==1.0 \\\n# comment line\nbar==2.0\n", id="comment-line"),
    pytest.param("foo==1.0 \\", id="continuation-at-end-of-file"),
    pytest.param("foo==1.0", id="no-trailing-newline"),
    pytest.param("foo==1.0  # c \\", id="comment-with-backslash-at-end-of-file"),
    pytest.param("Foo.Bar_baz[x]==1.0\n", id="extras"),
    pytest.param("-i https://x.example/simple\nfoo==1.0\n--pre\n-e .\n", id="option-lines"),
    pytest.param("foo==1.0 --pre --index-url https://x.example/simple\n", id="global-options"),
    pytest.param(
        "foo==1.0 \\\n# c \\\nbar==2.0\n",
        id="comment-line-ending-with-backslash",
    ),
    pytest.param('foo==1.0 --config-settings="key=a b"\n', id="attached-quoted-value"),
    pytest.param("foo==1.0 -C'key=a b'\n", id="short-attached-quoted-value"),
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_pip_reads_rendered_file(text: str, tmp_path: Path, session: PipSession) -> None:
    before = tmp_path / "before.txt"
    before.write_bytes(text.encode())
    original = parse_text(before, text, environ={})
    rendered = _render_all(original, [P2, P1])
    after = tmp_path / "after.txt"
    after.write_bytes(rendered.encode())

    expected = [
        (requirement, editable, frozenset() if editable else frozenset({P1, P2}), options)
        for requirement, editable, _, options in _pip_lines(before, session)
    ]
    assert _pip_lines(after, session) == expected

    reparsed = parse_text(after, rendered, environ={})
    assert [e.spec for e in reparsed.requirements] == [e.spec for e in original.requirements]
    assert [e.other_options for e in reparsed.requirements] == [
        e.other_options for e in original.requirements
    ]
    # A comment's trailing "\" is dropped: after the last hash it would continue the line.
    assert [e.comment for e in reparsed.requirements] == [
        (e.comment or "").rstrip(" \\") or None for e in original.requirements
    ]
    for entry in reparsed.requirements:
        assert entry.ignored_text is None
        if not entry.editable:
            assert entry.hashes == (LOW, HIGH)
    # Option lines, comments and blank lines between the requirements are untouched.
    assert _gaps(reparsed) == _gaps(original)
    assert _option_lines(reparsed) == _option_lines(original)


def _option_lines(parsed: RequirementsFile) -> list[tuple[str, tuple[tuple[str, str | None], ...]]]:
    return [
        (parsed.text[e.start : e.end], e.options)
        for e in parsed.entries
        if isinstance(e, OptionEntry)
    ]


def _gaps(parsed: RequirementsFile) -> list[str]:
    """The text before, between and after the requirement lines."""
    gaps: list[str] = []
    position = 0
    for entry in parsed.requirements:
        gaps.append(parsed.text[position : entry.start])
        position = entry.end
    gaps.append(parsed.text[position:])
    return gaps
