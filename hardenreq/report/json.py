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
      },
      "advisories": [                    # the sources the advisory check asked, in order
        {"source": "osv-api",            # "index" | "osv-api" | "advisory-db"
         "location": "https://api.osv.dev/v1",   # redacted URL, the dump's path, or ""
         "ok": true, "records": 3,       # advisories given (a dump: records it holds)
         "problem": null,                # why it could not be used, when not ok
         "note": null,                   # e.g. the index serves no vulnerability data
         "sha256": null, "date": null,   # a dump: its digest and newest record's date
         "skipped": 0}                   # a dump: records that could not be read
      ]
    }

Findings come sorted by file, line (null first), kind, package, version and message. A change
that removes or renames a key, or changes what a value means, bumps ``version``.

Every string is redacted and freed of lone surrogates, so the document is valid for strict
parsers whatever the index sent; ``message`` is bounded like the other channels (1,000
characters a line, 50 lines), ``details`` are data and stay whole (``hardenreq.escape``).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Final

import hardenreq
from hardenreq.escape import json_message, json_output, json_text, json_value
from hardenreq.models import AdvisorySource, Finding, FindingKind, Severity, VerifyReport
from hardenreq.report._common import ordered

__all__ = ["JSON_REPORT_SCHEMA", "JsonReporter", "advisory_source", "dumps"]

_NULLABLE_STRING: Final = {"type": ["string", "null"]}
_COUNT: Final = {"type": "integer", "minimum": 0}

JSON_REPORT_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "hardenreq verify report, version 1",
    "type": "object",
    "required": ["version", "tool", "findings", "summary", "advisories"],
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
        "advisories": {"type": "array", "items": {"$ref": "#/$defs/advisory_source"}},
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
        "advisory_source": {
            "type": "object",
            "required": [
                "source",
                "location",
                "ok",
                "records",
                "problem",
                "note",
                "sha256",
                "date",
                "skipped",
            ],
            "additionalProperties": False,
            "properties": {
                "source": {"enum": ["index", "osv-api", "advisory-db"]},
                "location": {"type": "string"},
                "ok": {"type": "boolean"},
                "records": _COUNT,
                "problem": _NULLABLE_STRING,
                "note": _NULLABLE_STRING,
                "sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
                "date": _NULLABLE_STRING,
                "skipped": _COUNT,
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
        "package": json_value(finding.package),
        "version": json_value(finding.version),
        "file": json_text(finding.file),
        "line": finding.line,
        "message": json_message(finding.message),
        "details": json_value(dict(finding.details)),
    }


def advisory_source(source: AdvisorySource) -> dict[str, object]:
    """One advisory source as the JSON report (and SARIF's run properties) show it."""
    return {
        "source": source.name,
        "location": json_text(source.location),
        "ok": source.ok,
        "records": source.records,
        "problem": json_message(source.problem) if source.problem else None,
        "note": json_text(source.note) if source.note else None,
        "sha256": source.sha256,
        "date": json_text(source.date) if source.date else None,
        "skipped": source.skipped,
    }


def dumps(document: object) -> str:
    """``document`` as the JSON reporters write it: ``indent=2``, ASCII, passed through
    ``json_output``, ending with a newline."""
    # default: details are meant to hold JSON values only; a stray Version or Path should
    # still print (redacted, valid) rather than crash a CI run after the index was asked.
    return json_output(json.dumps(document, indent=2, default=lambda o: json_value(str(o)))) + "\n"


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
            "advisories": [advisory_source(s) for s in report.advisories],
        }
        return dumps(document)
