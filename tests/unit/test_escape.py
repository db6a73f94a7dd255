"""Hostile strings through every output channel: stderr (Ui), the text, GitHub, JSON and SARIF
verify reports, and the Markdown and JSON refresh reports. Each channel must show the value
(escaped), run nothing (no terminal sequence, no CI-log command, no Markdown or HTML markup,
no mention), stay valid (JSON, SARIF), stay bounded, and print no secret; ordinary text must
come out unchanged."""

from __future__ import annotations

import html
import io
import json
import logging
import re
import time
import unicodedata
from pathlib import Path

import jsonschema
import pytest
from markdown_it import MarkdownIt

from hardenreq._console import Ui
from hardenreq.escape import (
    clip,
    github_data,
    github_property,
    inert,
    json_message,
    json_output,
    markdown_code,
    markdown_text,
    shown_lines,
    shown_value,
    terminal_lines,
    terminal_value,
    visible,
)
from hardenreq.models import Finding, FindingKind, VerifyReport
from hardenreq.refresh import ChangeKind, LockChanges, PinChange, RefreshReport
from hardenreq.report import get_refresh_reporter, get_reporter

SECRET = "S3CRET"
BIG = 300_000
# What a channel writes for one finding, one refresh report or six stderr messages holding a
# value is bounded whatever the value's size (the huge ones below are 300,000 characters or
# 100,000 lines): a value is cut at VALUE_LIMIT characters, then an escape may take 10.
REPORT_BOUND = 100_000

# (id, hostile string). Every channel gets each of them in every value it shows.
HOSTILE = [
    ("ansi", "\x1b[31mred\x1b[0m"),
    ("osc8-link", "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"),
    ("osc-title", "\x1b]0;title\x07"),
    ("cr-overwrite", "harmless\rEVIL"),
    ("bidi", "\u202eexe.txt\u202c"),
    ("nul", "a\x00b"),
    ("c1-csi", "\x9b31m"),
    ("del-bell-backspace", "a\x7f\x07\x08b"),
    ("workflow-command", "\n::error file=x::INJECTED"),
    ("workflow-indented", "reason\n   ::add-mask::x"),
    ("workflow-tab", "reason\n\t::error::INJECTED"),
    ("workflow-nbsp", "reason\n\u00a0::error::INJECTED"),
    ("legacy-command", "ok ##[error]INJECTED"),
    ("azure-command", "##vso[task.setvariable variable=x]1"),
    ("separators", "a\u2028::error::b\u2029c\x85d\x0b\x0ce"),
    ("html", "<img src=x onerror=alert(1)>"),
    ("html-comment", "<!-- hidden -->"),
    ("entity", "&lt;script&gt;"),
    ("link", "[link](http://x.example)"),
    ("image", "![i](http://x.example/i.png)"),
    ("autolink", "<http://x.example>"),
    ("bare-url", "see http://evil.example/path"),
    ("www", "www.evil.example"),
    ("mention", "@team and @org/team"),
    ("issue-ref", "fixes #1"),
    ("emphasis", "*a* _b_ **c** ~~d~~"),
    ("math", "$\\href{x}{y}$"),
    ("backticks", "``` code `x` ``"),
    ("pipes", "a | b || c"),
    ("table-break", "a\n| --- |\n| x |"),
    ("rich-markup", "[bold red]markup[/] :thumbs_up:"),
    ("backslashes", "\\[not a link\\](x) \\"),
    ("lone-surrogates", "\ud800x\udfff"),
    ("secret-url", "http://alice:S3CRET/PW@host/simple"),
    ("secret-query", "https://index.example.com/simple?token=S3CRET"),
    ("huge", "x" * BIG),
    ("huge-lines", "\n" * 100_000 + "x"),
    ("huge-url", "http://" + "@" * BIG),
]
IDS = [h[0] for h in HOSTILE]
VALUES = [h[1] for h in HOSTILE]

# Ordinary values every channel must leave alone.
ORDINARY = [
    "requirements/base.txt",
    "django==5.2.19",
    "tiny_mixed_case-0.5-py3-none-any.whl",
    "numpy-2.2.6-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "sha256:5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00",
    "zürich-tools==1.0",
    "日本語パッケージ",
    "1.0.post2+local.7",
    "C:\\Users\\me\\requirements.txt",
]


def _unsafe_characters(text: str, *, allowed: str = "\n") -> list[str]:
    return [
        repr(c)
        for c in text
        if c not in allowed
        and (c == "\x1b" or unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"})
    ]


def _assert_log_safe(text: str, *, commands: int = 0) -> None:
    """Nothing a terminal or CI log acts on; exactly ``commands`` lines are commands."""
    assert _unsafe_characters(text) == []
    lines = text.split("\n")
    assert sum(line.lstrip().startswith("::") for line in lines) == commands
    assert "##[" not in text
    assert "##vso[" not in text
    assert SECRET not in text


# The building blocks


def test_clip_marks_what_it_cut() -> None:
    assert clip("abc", 3) == "abc"
    assert clip("abcdef", 3) == "abc... [3 more characters]"
    assert shown_lines("a\r\nb\nc", lines=2) == ["a", "b", "... [1 more lines]"]
    assert shown_lines("x" * 5, width=2) == ["xx... [3 more characters]"]


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("abc", 3, "abc"),
        ("abc def", 4, "abc ... [3 more characters]"),
        ("abc def", 5, "abc d... [2 more characters]"),
        # The cut falls inside the URL: the whole URL is redacted first, then cut.
        ("see https://alice:S3CRET@h.example/x", 12, "see https://... [15 more characters]"),
        ("see https://alice:S3CRET@h.example/x", 30, "see https://***@h.example/x"),
        (
            "see https://alice:S3CRET@h.example/x tail",
            30,
            "see https://***@h.example/x... [5 more characters]",
        ),
        ("https://h.example/?a=S3CRET " + "x" * 50, 10, "https://h.... [65 more characters]"),
    ],
)
def test_shown_value_redacts_what_it_shows_then_cuts(text: str, limit: int, shown: str) -> None:
    assert shown_value(text, limit) == shown
    assert SECRET not in shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[31m", "\\x1b[31m"),
        ("\u202e", "\\u202e"),
        ("\U000e0001", "\\U000e0001"),
        ("\ud800", "\\ud800"),
        ("a\tb\nc", "a\\x09b\\x0ac"),
        ("\x9b\x85\u2028", "\\x9b\\x85\\u2028"),
        ("\u200b\ufeff", "\\u200b\\ufeff"),
        ("\u00a0", "\\xa0"),
    ],
)
def test_visible(text: str, shown: str) -> None:
    assert visible(text) == shown


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("::error::x", "\\x3a:error::x"),
        ("   ::error::x", "   \\x3a:error::x"),
        ("a ::error::x", "a ::error::x"),
        ("ok ##[error]x", "ok #\\x23[error]x"),
        ("##vso[x]", "#\\x23vso[x]"),
        ("# via -r requirements.in", "# via -r requirements.in"),
    ],
)
def test_inert(line: str, shown: str) -> None:
    assert inert(line) == shown


@pytest.mark.parametrize("value", ORDINARY)
def test_ordinary_values_pass_every_channel_unchanged(value: str) -> None:
    assert terminal_value(value) == value
    assert terminal_lines(value) == [value]
    assert github_data(value) == value
    assert json_message(value) == value
    assert markdown_code(value) == f"`{value}`"
    if "\\" not in value:  # a backslash is Markdown's escape character
        assert markdown_text(value) == value


# Terminal: Ui on stderr


@pytest.fixture(autouse=True)
def _no_forced_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    # Styles would be terminal sequences of our own; stderr here is a StringIO.
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def _ui_output(value: str, *, through_rich: bool = False) -> str:
    """What the Ui writes for ``value``; ``through_rich``: as rich draws it (as on a
    terminal, colours off), not as written to a stream that is no terminal."""
    stream = io.StringIO()
    ui = Ui(quiet=False, verbose=True, stderr=stream)
    if through_rich:
        ui._plain = False
    ui.info(f"info {value}")
    ui.detail(f"detail {value}")
    ui.warn(f"tiny==1.0 is yanked: {value}")
    ui.error(f"error {value}", hint=f"hint {value}")
    ui.traceback(f"Traceback (most recent call last):\nValueError: {value}\n")
    logging.getLogger("hardenreq.test").warning("logged %s", value)
    return stream.getvalue()


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_ui_shows_hostile_text_inert(value: str) -> None:
    out = _ui_output(value)

    _assert_log_safe(out)
    # A continuation line is indented: nothing from a value reaches column 0.
    starts = ("info ", "detail ", "warning: ", "error: ", "hint: ", "Traceback", "... [")
    assert all(line.startswith((" ", *starts)) for line in out.splitlines() if line)
    assert len(out) < REPORT_BOUND


def test_ui_keeps_the_value_visible_and_markup_literal() -> None:
    out = _ui_output("\x1b[31m[bold]x[/bold] :thumbs_up:\n::error::y")

    assert "warning: tiny==1.0 is yanked: \\x1b[31m[bold]x[/bold] :thumbs_up:\n" in out
    assert "\n  \\x3a:error::y\n" in out


def test_ui_redacts_before_it_cuts() -> None:
    # A cut between the password and its "@" would leave the password unrecognised.
    url = "https://alice:" + SECRET + "x" * 2000 + "@index.example.com/simple"

    out = _ui_output(url)

    assert SECRET not in out
    assert "https://***@index.example.com/simple" in out


# The verify reports


def _finding(value: str) -> Finding:
    return Finding(
        FindingKind.YANKED,
        f"reqs/{value[:2000]}.txt",
        3,
        f"{value} is yanked: {value}",
        f"pkg{value[:2000]}",
        f"1.0{value[:2000]}",
        (("reason", value), ("url", "http://alice:S3CRET@host/simple")),
    )


def _verify(value: str, fmt: str) -> str:
    finding = _finding(value)
    return get_reporter(fmt).render(VerifyReport((finding,), (finding.file,), 1))


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_text_report_shows_hostile_text_inert(value: str) -> None:
    out = _verify(value, "text")

    _assert_log_safe(out)
    assert out.splitlines()[0] == terminal_value(f"reqs/{value[:2000]}.txt")
    assert len(out) < REPORT_BOUND


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_github_report_is_one_command_per_finding(value: str) -> None:
    out = _verify(value, "github")

    _assert_log_safe(out, commands=1)
    command, summary = out.splitlines()
    assert command.startswith("::error file=reqs/")
    assert ",line=3,title=hardenreq yanked::" in command
    assert summary == "1 error, 0 warnings, 0 info in 1 file (1 requirement)"
    assert len(out) < REPORT_BOUND


def test_github_data_and_properties_escape_as_the_toolkit() -> None:
    assert github_data("a%\r\nb\x1b") == "a%25%0Ab\\x1b"
    assert github_data("a\rb") == "a%0Db"
    assert github_property("a,b:c\nd") == "a%2Cb%3Ac%0Ad"


def _strict_json(text: str) -> object:
    """Parse, then re-encode as UTF-8: a lone surrogate anywhere would fail here."""
    document = json.loads(text)
    json.dumps(document, ensure_ascii=False).encode("utf-8")
    return document


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_json_report_stays_valid(value: str) -> None:
    out = _verify(value, "json")

    document = _strict_json(out)
    assert isinstance(document, dict)
    assert "##" not in out
    assert SECRET not in out
    (finding,) = document["findings"]
    assert finding["message"] == json_message(f"{value} is yanked: {value}")
    assert finding["details"]["url"] == "http://***@host/simple"
    # Details are data: kept whole (redacted, no lone surrogates).
    if "\ud800" not in value and "://" not in value:
        assert finding["details"]["reason"] == value


def _sarif_validator() -> jsonschema.protocols.Validator:
    path = Path(__file__).parent.parent / "data" / "sarif-schema-2.1.0.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    validator: jsonschema.protocols.Validator = jsonschema.Draft4Validator(schema)
    return validator


SARIF = _sarif_validator()


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_sarif_report_stays_valid(value: str) -> None:
    out = _verify(value, "sarif")

    log = _strict_json(out)
    assert list(SARIF.iter_errors(log)) == []
    assert "##" not in out
    assert SECRET not in out


def test_json_output_keeps_the_value() -> None:
    assert json.loads(json_output(json.dumps({"a": "x##[y \\## z"}))) == {"a": "x##[y \\## z"}


# The refresh reports


def _refresh(value: str) -> RefreshReport:
    digest = "ab" * 32
    changes = (
        PinChange(f"pkg{value}", ChangeKind.UPGRADED, f"1.0{value}", f"2.0{value}"),
        PinChange(
            f"other{value}",
            ChangeKind.HASHES,
            "1.0",
            f"1.0{value}",
            added_hashes=(digest,),
            removed_hashes=(digest,),
            added_files=(f"other-1.0-py3-none-any{value}.whl",),
        ),
    )
    return RefreshReport((LockChanges(f"reqs/{value}.txt", f"reqs/{value}.in", changes),))


_MARKDOWN = MarkdownIt("commonmark").enable("table")
_TAG_RE = re.compile(r"</?([a-z0-9]+)")


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_markdown_refresh_report_renders_as_text(value: str) -> None:
    out = get_refresh_reporter("markdown").render(_refresh(value))

    _assert_log_safe(out.replace("\u200b", ""))
    assert _unsafe_characters(out, allowed="\n\u200b") == []
    rendered = _MARKDOWN.render(out)
    # Outside code, no mention, issue reference or GFM autolink can form (GitHub's
    # patterns; GitHub looks for none of them inside code).
    prose = re.sub(r"<code>.*?</code>", "", rendered, flags=re.DOTALL)
    assert re.search(r"(?<![\w`])@[A-Za-z0-9]", prose) is None
    assert re.search(r"#[0-9]", prose) is None
    assert "://" not in prose
    assert "www." not in prose.lower()
    # Only the report's own elements, one table row per change, four cells each.
    tags = set(_TAG_RE.findall(rendered))
    assert tags <= {"h2", "h3", "h4", "p", "table", "thead", "tbody", "tr", "th", "td"} | {
        "code",
        "ul",
        "li",
        "sub",
    }
    rows = re.findall(r"<tr>(.*?)</tr>", rendered, re.DOTALL)
    assert len(rows) == 2
    assert [row.count("<td") for row in rows[1:]] == [4]
    # The cells say what the values are: visible escapes, no markup left in them.
    cells = re.findall(r"<td>(.*?)</td>", rows[1], re.DOTALL)
    assert "<" not in "".join(cells)
    expected = visible(shown_value(f"pkg{value}"))
    assert html.unescape(cells[0]).replace("\u200b", "") == expected
    assert len(out) < REPORT_BOUND


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_json_refresh_report_stays_valid(value: str) -> None:
    out = get_refresh_reporter("json").render(_refresh(value))

    document = _strict_json(out)
    assert isinstance(document, dict)
    assert "##" not in out
    assert SECRET not in out
    change = document["locks"][0]["changes"][0]
    if "\ud800" not in value and "://" not in value:
        assert change["package"] == f"pkg{value}"  # data: whole


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("django", "django"),
        ("a|b", "a\\|b"),
        ("a_b _c_", "a_b \\_c\\_"),
        ("<b>&", "&lt;b&gt;&amp;"),
        ("@team", "@\u200bteam"),
        ("#12", "#\u200b12"),
        ("http://x", "http:\u200b//x"),
        ("WWW.x", "WWW\u200b.x"),
        ("[a](b)", "\\[a\\](b)"),
        ("`x`", "\\`x\\`"),
        ("a\nb", "a\\\\x0ab"),  # the escape's backslash is escaped too: it renders as \x0a
    ],
)
def test_markdown_text(value: str, shown: str) -> None:
    assert markdown_text(value) == shown


@pytest.mark.parametrize(
    ("value", "table", "shown"),
    [
        ("x", False, "`x`"),
        ("a`b", False, "``a`b``"),
        ("`x``", False, "``` `x`` ```"),
        (" x", False, "`  x `"),
        ("a|b", True, "`a\\|b`"),
        ("a|b", False, "`a|b`"),
        ("a##[b", False, "`a#\\x23[b`"),
        ("", False, "`  `"),
    ],
)
def test_markdown_code(value: str, table: bool, shown: str) -> None:
    assert markdown_code(value, table=table) == shown


@pytest.mark.parametrize("value", ["a`b", "``x", "x ` y", "@team", "<img>", "a|b"])
def test_markdown_code_renders_its_value(value: str) -> None:
    rendered = _MARKDOWN.renderInline(markdown_code(value))

    assert rendered.startswith("<code>")
    assert html.unescape(rendered.removeprefix("<code>").removesuffix("</code>")) == value


def _one_hostile_field(value: str, channel: str) -> str:
    """One report or message where a single field holds ``value``, the rest ordinary."""
    if channel == "stderr":
        return _ui_output(value)
    if channel in ("markdown", "refresh-json"):
        change = PinChange(
            "tiny",
            ChangeKind.HASHES,
            "1.0",
            "1.0",
            added_hashes=("ab" * 32,),
            added_files=(value,),
        )
        report = RefreshReport((LockChanges("requirements.txt", "requirements.in", (change,)),))
        return get_refresh_reporter(channel.removeprefix("refresh-")).render(report)
    finding = Finding(
        FindingKind.YANKED, "requirements.txt", 3, value, "tiny", "1.0", (("reason", value),)
    )
    return get_reporter(channel).render(VerifyReport((finding,), (finding.file,), 1))


@pytest.mark.parametrize(
    "channel", ["text", "github", "json", "sarif", "markdown", "refresh-json", "stderr"]
)
def test_every_channel_renders_a_megabyte_quickly(channel: str) -> None:
    # 40,000 distinct URLs with userinfo, and terminal and Markdown syntax between them:
    # the worst case for redaction per character. Channels that show a value redact only
    # what they show; JSON keeps data whole, so it redacts it all (in linear time).
    value = "".join(f"\x1b[31m@a <b> http://u{i}:p@h{i}.example/ " for i in range(40_000))
    value = value[:1_000_000]
    start = time.perf_counter()
    out = _one_hostile_field(value, channel)
    assert time.perf_counter() - start < 2.0
    assert "u1:p@" not in out


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_a_stream_that_is_no_terminal_gets_what_rich_would_write(value: str) -> None:
    # A CI log or a pipe is written without rich: the same text, to the character.
    assert _ui_output(value) == _ui_output(value, through_rich=True)


def test_rich_draws_only_a_terminal_or_a_stream_forced_to_be_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Ui(quiet=False, verbose=False, stderr=io.StringIO())._plain
    assert not Ui(quiet=False, verbose=False, stderr=Terminal())._plain
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert not Ui(quiet=False, verbose=False, stderr=io.StringIO())._plain
