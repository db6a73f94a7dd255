"""Requirements files: parse them as pip does, and splice edits back into their text."""

from __future__ import annotations

from hardenreq.reqfile.parse import (
    Entry,
    OptionEntry,
    RequirementEntry,
    RequirementsFile,
    RequirementsTree,
    parse_requirements,
    parse_text,
)

__all__ = [
    "Entry",
    "OptionEntry",
    "RequirementEntry",
    "RequirementsFile",
    "RequirementsTree",
    "parse_requirements",
    "parse_text",
]
