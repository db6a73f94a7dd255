"""The machine-readable report: one JSON document, described by ``JSON_REPORT_SCHEMA``.

Version 1 of the document, keys always present and always in this order::

    {
      "version": 1,
      "tool": {"name": "hardenreq", "version": "0.1.0"},
      "findings": [
        {
          "kind": "unknown-hash",        # one of the FindingKind values (stable)
          "severity": "error",           # "error" | "warning" | "info"
          "package": "django",           # normalized project name, or null
          "version": "5.2.19",           # pinned version, or null
          "file": "requirements.txt",    # path as verify shows it (POSIX, relative)
          "line": 12,                    # 1-based line of the requirement, or null
          "message": "...",              # one human sentence, may hold newlines
          "details": {"hash": "sha256:..."}  # kind-specific, JSON values only
        }
      ],
      "summary": {
        "files": 2, "requirements": 14,
        "errors": 1, "warnings": 0, "info": 0,
        "by_kind": {"unknown-hash": 1}   # only kinds present, sorted by kind
      }
    }

Findings come sorted by file, line (null first), kind, package, version and message. A change
that removes or renames a key, or changes what a value means, bumps ``version``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Final

import hardenreq
from hardenreq.models import Finding, FindingKind, Severity, VerifyReport
from hardenreq.report._common import ordered

__all__ = ["JSON_REPORT_SCHEMA", "JsonReporter"]

_NULLABLE_STRING: Final = {"type": ["string", "null"]}
_COUNT: Final = {"type": "integer", "minimum": 0}

JSON_REPORT_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "hardenreq verify report, version 1",
    "type": "object",
    "required": ["version", "tool", "findings", "summary"],
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "tool": {
            "type": "object",
            "required": ["name", "version"],
            "additionalProperties": False,
            "properties": {
                "name": {"const": "hardenreq"},
                "version": {"type": "string", "minLength": 1},
            },
        },
        "findings": {"type": "array", "items": {"$ref": "#/$defs/finding"}},
        "summary": {"$ref": "#/$defs/summary"},
    },
    "$defs": {
        "kind": {"enum": [kind.value for kind in FindingKind]},
        "finding": {
            "type": "object",
            "required": [
                "kind",
                "severity",
                "package",
                "version",
                "file",
                "line",
                "message",
                "details",
            ],
            "additionalProperties": False,
            "properties": {
                "kind": {"$ref": "#/$defs/kind"},
                "severity": {"enum": [severity.value for severity in Severity]},
                "package": _NULLABLE_STRING,
                "version": _NULLABLE_STRING,
                "file": {"type": "string", "minLength": 1},
                "line": {"type": ["integer", "null"], "minimum": 1},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        },
        "summary": {
            "type": "object",
            "required": ["files", "requirements", "errors", "warnings", "info", "by_kind"],
            "additionalProperties": False,
            "properties": {
                "files": _COUNT,
                "requirements": _COUNT,
                "errors": _COUNT,
                "warnings": _COUNT,
                "info": _COUNT,
                "by_kind": {
                    "type": "object",
                    "propertyNames": {"$ref": "#/$defs/kind"},
                    "additionalProperties": {"type": "integer", "minimum": 1},
                },
            },
        },
    },
}


def _finding(finding: Finding) -> dict[str, object]:
    return {
        "kind": finding.kind.value,
        "severity": finding.severity.value,
        "package": finding.package,
        "version": finding.version,
        "file": finding.file,
        "line": finding.line,
        "message": finding.message,
        "details": dict(finding.details),
    }


class JsonReporter:
    """The report as one JSON document (``indent=2``, ASCII, trailing newline)."""

    name = "json"

    def render(self, report: VerifyReport) -> str:
        """The JSON document; see the module docstring for its shape."""
        by_kind = Counter(f.kind.value for f in report.findings)
        document = {
            "version": 1,
            "tool": {"name": "hardenreq", "version": hardenreq.__version__},
            "findings": [_finding(f) for f in ordered(report.findings)],
            "summary": {
                "files": len(report.files),
                "requirements": report.requirements,
                "errors": report.count(Severity.ERROR),
                "warnings": report.count(Severity.WARNING),
                "info": report.count(Severity.INFO),
                "by_kind": {kind: by_kind[kind] for kind in sorted(by_kind)},
            },
        }
        # default=str: details are meant to hold JSON values only; a stray Version or Path
        # should still print rather than crash a CI run after the index was asked.
        return json.dumps(document, indent=2, default=str) + "\n"
