"""Publisher identities in requirements locks: the ``# publisher:`` notes under each pin.

A requirements lock records the verified PEP 740 publisher of each package as an indented
comment after the pin (and after its ``# via`` notes), where a reviewer sees it in the diff::

    pypi-attestations==0.0.19 \\
        --hash=sha256:9bb1add0...
        # via -r requirements.in
        # publisher: github trailofbits/pypi-attestations release.yml

pip ignores comment lines, so pip's reading of the file is unchanged; hardenreq reads them
back (``read_identities``) as the identities later files of the project must match (trust on
first use). The form is ``# publisher: KIND VALUE...``: the kind in lower case, then the
kind's claims in a fixed order (GitHub and GitLab: repository, workflow file; Google: the
service account's email; CircleCI: project and pipeline definition ids), then any further
claim as ``name=value``. Whitespace, ``%`` and ``=`` inside a value are percent-encoded.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Mapping, Sequence
from urllib.parse import quote, unquote

from packaging.utils import NormalizedName

from hardenreq.errors import RequirementsSyntaxError
from hardenreq.models import PublisherIdentity
from hardenreq.reqfile.parse import RequirementsFile

__all__ = [
    "PUBLISHER_NOTE",
    "parse_identity",
    "read_identities",
    "render_identity",
    "write_identities",
]

PUBLISHER_NOTE = "# publisher:"
_INDENT = "    "
#: kind as written in a lock -> (PEP 740 spelling, claims written without a name, in order)
_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "github": ("GitHub", ("repository", "workflow")),
    "gitlab": ("GitLab", ("repository", "workflow_filepath")),
    "google": ("Google", ("email",)),
    "circleci": ("CircleCI", ("project_id", "pipeline_definition_id")),
}
_BY_KIND = {kind: (word, order) for word, (kind, order) in _KINDS.items()}
_NOTE_RE = re.compile(r"^[ \t]+#[ \t]*publisher:[ \t]*(?P<body>.*?)[ \t]*$")
_COMMENT_RE = re.compile(r"^[ \t]+#")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Percent-encoded in values: what would split or mislead the note.
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "%=")


def _encode(value: str) -> str:
    return quote(value, safe=_SAFE)


def render_identity(identity: PublisherIdentity) -> str:
    """The note for ``identity``, without indentation: ``# publisher: github owner/repo
    release.yml``."""
    word, order = _BY_KIND.get(identity.kind, (identity.kind.lower(), ()))
    claims = dict(identity.claims)
    parts = [_encode(word)]
    if all(name in claims for name in order):
        parts += [_encode(claims.pop(name)) for name in order]
    parts += [f"{name}={_encode(value)}" for name, value in sorted(claims.items())]
    return f"{PUBLISHER_NOTE} {' '.join(parts)}"


def parse_identity(body: str) -> PublisherIdentity:
    """The identity in a note's text after ``# publisher:``; ValueError saying what is wrong."""
    words = body.split()
    if not words:
        raise ValueError("it names no publisher")
    word = unquote(words[0]).lower()
    kind, order = _KINDS.get(word, (unquote(words[0]), ()))
    claims: dict[str, str] = {}
    positional = [w for w in words[1:] if "=" not in w]
    named = [w for w in words[1:] if "=" in w]
    if positional and len(positional) != len(order):
        expected = " ".join(order) or "name=value pairs only"
        raise ValueError(f"a {word} publisher is written as: {word} {expected}")
    for name, value in zip(order, positional, strict=False):
        claims[name] = unquote(value)
    for item in named:
        name, _, value = item.partition("=")
        if not _NAME_RE.match(name) or name in claims or name == "kind":
            raise ValueError(f"{item!r} is not a claim (name=value, each name once)")
        claims[name] = unquote(value)
    if any(name not in claims for name in order):
        raise ValueError(f"a {word} publisher needs {', '.join(order)}")
    if not claims:
        raise ValueError(f"the {word} publisher has no claims")
    return PublisherIdentity(kind, tuple(sorted(claims.items())))


def _note_block(lines: Sequence[str], after: int) -> range:
    """The indented comment lines right after line ``after`` (0-based index of the pin's
    last line): where ``# via`` and ``# publisher:`` notes of a pin sit."""
    end = after + 1
    while end < len(lines) and _COMMENT_RE.match(lines[end]):
        end += 1
    return range(after + 1, end)


def read_identities(
    parsed: RequirementsFile,
) -> dict[NormalizedName, tuple[PublisherIdentity, ...]]:
    """The publishers a lock records, by package (several pins of a package: the union).

    Raises RequirementsSyntaxError for a ``# publisher:`` note hardenreq cannot read: a
    recorded identity must never be dropped unseen.
    """
    lines = parsed.text.splitlines(keepends=True)
    starts = list(itertools.accumulate((len(line) for line in lines), initial=0))
    lines = [line.rstrip("\r\n") for line in lines]
    found: dict[NormalizedName, set[PublisherIdentity]] = {}
    for entry in parsed.requirements:
        if entry.name is None:
            continue
        # The entry's last line from its offset, not its line number: a pylock.toml's
        # requirements view numbers its entries by the TOML file's lines.
        last = bisect.bisect_right(starts, entry.end) - 1
        for index in _note_block(lines, last):
            match = _NOTE_RE.match(lines[index])
            if match is None:
                continue
            try:
                identity = parse_identity(match["body"])
            except ValueError as exc:
                raise RequirementsSyntaxError(
                    parsed.path,
                    index + 1,
                    f"cannot read this publisher note: {exc}",
                    hint="write it as hardenreq does (see the README: publisher notes), "
                    "or delete the line to trust the publisher anew",
                ) from None
            found.setdefault(entry.name, set()).add(identity)
    return {name: tuple(sorted(ids)) for name, ids in found.items()}


def write_identities(
    parsed: RequirementsFile,
    identities: Mapping[NormalizedName, Sequence[PublisherIdentity]],
) -> str:
    """``parsed``'s text with every pin's ``# publisher:`` notes set to ``identities``
    (a package not in the mapping loses its notes). Only those note lines change: the
    notes go after the pin's other notes (``# via``)."""
    lines = parsed.text.splitlines(keepends=True)
    bare = [line.rstrip("\r\n") for line in lines]
    inserts: dict[int, list[str]] = {}
    dropped: set[int] = set()
    for entry in parsed.requirements:
        last = entry.end_lineno - 1
        if last >= len(lines) or bare[last].endswith("\\"):
            # A logical line that a blank line closes: a note here would join it.
            continue
        block = _note_block(bare, last)
        notes = {i for i in block if _NOTE_RE.match(bare[i])}
        dropped |= notes
        wanted = identities.get(entry.name, ()) if entry.name is not None else ()
        if wanted:
            anchor = max([last, *(i for i in block if i not in notes)])
            inserts.setdefault(anchor, []).extend(
                _INDENT + render_identity(identity) for identity in sorted(set(wanted))
            )
    out: list[str] = []
    for index, line in enumerate(lines):
        if index in dropped:
            continue
        added = inserts.get(index, [])
        if added and not line.endswith(("\n", "\r")):
            line += parsed.newline
        out.append(line)
        out.extend(note + parsed.newline for note in added)
    return "".join(out)
