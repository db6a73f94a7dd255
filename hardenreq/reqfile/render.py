"""Splice edits into a requirements file's text: only the edited spans change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hardenreq.models import HashPin
from hardenreq.reqfile.parse import RequirementEntry

__all__ = ["Edit", "apply_edits", "render_hashed"]

_INDENT = "    "


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``text[start:end]`` with ``replacement``."""

    start: int
    end: int
    replacement: str


def render_hashed(entry: RequirementEntry, hashes: Sequence[HashPin], newline: str) -> str:
    """A requirement line with its hashes in pip-compile's layout.

    One option per continued line, hashes sorted, and the line's comment after the last
    hash: a comment before a ``\\`` would make pip ignore every hash after it.
    """
    parts = [entry.head, *entry.other_options, *(h.render() for h in sorted(set(hashes)))]
    text = f" \\{newline}{_INDENT}".join(parts)
    # A comment that ends in "\" would continue the line into the next requirement.
    comment = (entry.comment or "").rstrip(" \t\\")
    if comment:
        text += f"  {comment}"
    return text


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits; every byte outside them is kept."""
    pieces: list[str] = []
    position = 0
    for edit in sorted(edits, key=lambda e: e.start):
        if edit.start < position:
            raise ValueError("overlapping edits")
        pieces.append(text[position : edit.start])
        pieces.append(edit.replacement)
        position = edit.end
    pieces.append(text[position:])
    return "".join(pieces)
