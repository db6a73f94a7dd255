"""Make any text safe for the channel it is written to: terminal, CI log, Markdown or JSON.

The core keeps raw data; each output channel (``_console.Ui`` for stderr, each reporter)
calls the function for its channel at the boundary. Every channel function does the same
steps: bound the size (``VALUE_LIMIT`` characters a line or value, ``MESSAGE_LINES`` lines
a message, with a visible marker) and redact secrets (``hardenreq.redact``), then escape.
The cut never falls inside a URL that is not yet redacted (``shown_value``): a cut between
a password and the ``@`` after it would leave a fragment no rule recognises. Only what can
be shown is redacted, so a message of any size costs about as much as a short one.

Per channel:

- terminal and text report: control characters (C0, DEL, C1: ANSI and OSC sequences, ``\\r``
  overwrites, NUL), format characters (bidi overrides, zero-width), line and paragraph
  separators, lone surrogates and unassigned code points are shown as ``\\x1b``/``\\u202e``
  escapes; a line cannot start a CI-log command (``::`` after leading spaces, read by GitHub
  Actions) nor hold ``##`` (``##[`` anywhere in a line is GitHub's legacy form, ``##vso[``
  Azure's);
- GitHub workflow commands: as the terminal (CR and LF aside), then ``escapeData`` and
  ``escapeProperty`` of the Actions toolkit;
- Markdown (a pull-request body): Markdown and HTML metacharacters escaped, ``@mentions``,
  ``#123`` references and bare links broken with a zero-width space, code spans fenced
  longer than any backtick run inside;
- JSON and SARIF: valid for any input (lone surrogates become U+FFFD), ``##`` written as
  ``#\\u0023`` so a JSON document printed into a CI log runs no legacy command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from hardenreq.redact import redact_text

__all__ = [
    "MESSAGE_LINES",
    "VALUE_LIMIT",
    "clip",
    "github_data",
    "github_property",
    "inert",
    "json_message",
    "json_output",
    "json_text",
    "json_value",
    "markdown_code",
    "markdown_text",
    "shown_lines",
    "shown_value",
    "terminal_lines",
    "terminal_value",
    "visible",
]

VALUE_LIMIT: Final = 1000
"""Characters shown of one value, or of one line of a message; the rest is cut off."""
MESSAGE_LINES: Final = 50
"""Lines shown of one message; the rest is cut off."""

_SPACE_RE: Final = re.compile(r"\s")
_ZWSP: Final = "\u200b"  # breaks GitHub's mention, reference and autolink patterns
_BACKTICKS_RE: Final = re.compile(r"`+")
_MARKDOWN_BACKSLASHED: Final = frozenset("\\`*~[]|$")
_MARKDOWN_ENTITIES: Final = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def clip(text: str, limit: int = VALUE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, with ``... [N more characters]`` when cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


def shown_value(text: str, limit: int = VALUE_LIMIT) -> str:
    """What a channel may show of ``text``: redacted, then cut to ``limit`` characters with
    ``... [N more characters]``. Only the part that can be shown is redacted; when the limit
    falls inside a whitespace-free token (a URL), the whole token is redacted before the cut.
    """
    if len(text) <= limit or limit < 1:
        return redact_text(text) if len(text) <= limit else f"... [{len(text)} more characters]"
    end = limit
    if not text[limit - 1].isspace() and not text[limit].isspace():
        found = _SPACE_RE.search(text, limit)
        end = len(text) if found is None else found.start()
    shown = redact_text(text[:end])
    unread = len(text) - end
    if len(shown) <= limit:
        return f"{shown}... [{unread} more characters]" if unread else shown
    return f"{shown[:limit]}... [{len(shown) - limit + unread} more characters]"


def shown_lines(text: str, *, width: int = VALUE_LIMIT, lines: int = MESSAGE_LINES) -> list[str]:
    """What a channel may show of a message: split at ``\\n`` (``\\r\\n`` counts as one),
    at most ``lines`` lines, then ``... [N more lines]``; each line by ``shown_value``. The
    lines cut off are never redacted (nor shown)."""
    parts = text.replace("\r\n", "\n").split("\n")
    shown = [shown_value(part, width) for part in parts[:lines]]
    if len(parts) > lines:
        shown.append(f"... [{len(parts) - lines} more lines]")
    return shown


def _escaped(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str, *, keep: str = "") -> str:
    """``text`` with every character a terminal would act on, or that hides what a line
    says, shown as an escape: ``\\x1b``, ``\\u202e``, ``\\x00``.

    That is whatever ``str.isprintable`` refuses except the ASCII space: C0 and C1
    controls and DEL, format characters (bidi overrides of "Trojan Source",
    CVE-2021-42574; zero-width characters), line and paragraph separators, other spaces,
    surrogates, private-use and unassigned code points. Characters in ``keep`` pass.
    Letters, marks and symbols of every script pass: ``Zürich``, ``日本``.
    """
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() or char == " " or char in keep else _escaped(char)
        for char in text
    )


def inert(line: str) -> str:
    """One line that no CI log reads as a command.

    GitHub Actions reads ``::command::`` at the start of a line after leading whitespace,
    and its legacy ``##[command]`` anywhere in a line (``ActionCommand.TryParseV2`` and
    ``TryParse`` in actions/runner); Azure Pipelines reads ``##vso[`` anywhere. The first
    ``:`` of a leading ``::`` is shown as ``\\x3a`` and the second ``#`` of ``##`` as ``\\x23``.
    """
    body = line.lstrip()
    if body.startswith("::"):
        line = line[: len(line) - len(body)] + "\\x3a" + body[1:]
    if "##" in line:
        line = line.replace("##", "#\\x23")
    return line


def terminal_lines(message: str, *, lines: int = MESSAGE_LINES) -> list[str]:
    """A message for stderr or the text report, as lines to print (no newlines in them).

    Redacted, at most ``lines`` lines of ``VALUE_LIMIT`` characters, each passed through
    ``visible`` and ``inert``. The caller indents every line after the first, so a newline
    inside a value never starts a line at column 0.
    """
    return [inert(visible(line)) for line in shown_lines(message, lines=lines)]


def terminal_value(value: str, limit: int = VALUE_LIMIT) -> str:
    """One value on one line (a path, a package, a label): redacted, clipped, newlines
    shown as ``\\x0a`` like any other control character, and ``inert``."""
    return inert(visible(shown_value(value, limit)))


def _escape_data(value: str) -> str:
    # The runner reads a whole command line first, so "##[" inside one is inert; it is
    # still written "#\x23[" so that no line of any channel holds a legacy command.
    escaped = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return escaped.replace("##", "#\\x23") if "##" in escaped else escaped


def github_data(message: str) -> str:
    """A workflow command's message: redacted and bounded as for the terminal, control
    characters other than CR and LF made visible, then the toolkit's ``escapeData``
    (``%``, CR, LF), so the annotation keeps its lines and ends where it should."""
    shown = "\n".join(visible(line, keep="\r") for line in shown_lines(message))
    return _escape_data(shown)


def github_property(value: str) -> str:
    """A workflow command's property value (``file=``, ``title=``): as ``github_data``,
    plus ``:`` and ``,`` (the toolkit's ``escapeProperty``)."""
    shown = visible(shown_value(value), keep="\r\n")
    return _escape_data(shown).replace(":", "%3A").replace(",", "%2C")


def _alnum(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index].isalnum()


def markdown_text(value: str) -> str:
    """A value for inline Markdown (a table cell, a list item's text) that renders as
    itself and does nothing else, on GitHub and in CommonMark.

    Redacted and clipped; controls and newlines made visible (no raw newline ends a table
    row); ``\\ ` * ~ [ ] | $`` backslash-escaped, and ``_`` unless inside a word (GFM never
    reads ``win_amd64`` as emphasis); ``< > &`` as entities (no HTML tag, comment or
    entity); a zero-width space after ``@`` and ``#`` before a word character and inside
    ``://`` and ``www.``, so no mention, issue reference or autolink forms. Ordinary names,
    versions and filenames come out unchanged. Not meant for the start of a line.
    """
    text = visible(shown_value(value))
    out: list[str] = []
    for index, char in enumerate(text):
        if char in _MARKDOWN_BACKSLASHED:
            out.append("\\" + char)
        elif char in _MARKDOWN_ENTITIES:
            out.append(_MARKDOWN_ENTITIES[char])
        elif char == "_" and not (_alnum(text, index - 1) and _alnum(text, index + 1)):
            out.append("\\_")
        elif char in "@#" and (_alnum(text, index + 1) or text[index + 1 : index + 2] == "_"):
            out.append(char + _ZWSP)
        elif char == ":" and text.startswith("//", index + 1):
            out.append(":" + _ZWSP)
        elif char == "." and text[max(0, index - 3) : index].lower() == "www":
            out.append(_ZWSP + ".")
        else:
            out.append(char)
    return "".join(out)


def markdown_code(value: str, *, table: bool = False) -> str:
    """``value`` as a Markdown code span: nothing inside one is a link, a mention or HTML.

    Redacted, clipped, controls and newlines made visible, ``##`` shown as ``#\\x23`` (the
    report may be printed into a CI log, and backslashes do not escape inside code), and
    fenced with one backtick more than the longest run inside, padded with spaces when it
    starts or ends with a backtick or a space. ``table=True`` escapes ``|`` as ``\\|``, which
    GFM reads as a pipe inside a cell, even within code.
    """
    text = visible(shown_value(value))
    if "##" in text:
        text = text.replace("##", "#\\x23")
    if table:
        text = text.replace("|", "\\|")
    longest = max((len(m.group(0)) for m in _BACKTICKS_RE.finditer(text)), default=0)
    fence = "`" * (longest + 1)
    if not text or text[0] in "` " or text[-1] in "` ":
        text = f" {text} "
    return f"{fence}{text}{fence}"


def _without_lone_surrogates(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Pairs written as two code points join up; a lone half becomes U+FFFD.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def json_text(text: str) -> str:
    """One string for a JSON document: redacted and freed of lone surrogates."""
    return _without_lone_surrogates(redact_text(text))


def json_value(value: object) -> object:
    """``value`` for a JSON document: every string in it (keys too, in dicts, lists and
    tuples) redacted and freed of lone surrogates, which strict parsers refuse. Other
    values pass as they are; nothing is clipped (the document is data)."""
    if isinstance(value, str):
        return json_text(value)
    if isinstance(value, Mapping):
        return {json_text(k) if isinstance(k, str) else k: json_value(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [json_value(item) for item in value]
    return value


def json_message(message: str) -> str:
    """A human message inside a JSON document: redacted and bounded like the other
    channels (lines joined with ``\\n``), and freed of lone surrogates."""
    return _without_lone_surrogates("\n".join(shown_lines(message)))


def json_output(document: str) -> str:
    """A rendered JSON document (``ensure_ascii``) with ``##`` written ``#\\u0023``, the same
    value to a parser, but no ``##[`` or ``##vso[`` for a CI log that shows it."""
    return document.replace("##", "#\\u0023")
