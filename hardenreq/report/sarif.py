"""The report as a SARIF 2.1.0 log, for GitHub code scanning and other SARIF viewers.

One run; one rule per FindingKind (all of them, in FindingKind order, so ``ruleIndex`` is
stable); one result per finding. Paths are relative URIs against ``%SRCROOT%``, the
directory verify ran in. Nothing depends on the clock or the machine: the same report always
renders to the same bytes. Strings are made safe as in the JSON report (redacted, no lone
surrogates, bounded messages); fingerprints are computed from the raw finding.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePath
from typing import Final, NamedTuple
from urllib.parse import quote

import hardenreq
from hardenreq.escape import json_message, json_text, json_value
from hardenreq.models import SEVERITIES, Finding, FindingKind, Severity, VerifyReport
from hardenreq.report._common import ordered
from hardenreq.report.json import dumps

__all__ = ["SARIF_SCHEMA_URI", "SarifReporter", "fingerprint"]

SARIF_SCHEMA_URI: Final = "https://json.schemastore.org/sarif-2.1.0.json"
_SRCROOT: Final = "%SRCROOT%"
_FINGERPRINT_KEY: Final = "hardenreq/v1"
_LEVELS: Final = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_TAGS: Final = ("security", "supply-chain")


class _Rule(NamedTuple):
    short: str
    full: str
    advice: str


_RULES: Final[dict[FindingKind, _Rule]] = {
    FindingKind.UNPINNED: _Rule(
        "Requirement is not pinned to one exact version.",
        "The requirement allows a range of versions, or any version, so what gets installed "
        "can change from one run to the next and no hash can be checked for it. pip's "
        "hash-checking mode refuses unpinned requirements.",
        "Pin the requirement to one exact version with == and add the hashes of every file of "
        "that release: run `hardenreq harden` on the file's source (requirements.in or "
        "pyproject.toml), or on the file itself for a one-shot rewrite.",
    ),
    FindingKind.NO_HASHES: _Rule(
        "Pinned requirement has no --hash.",
        "The requirement is pinned but lists no hashes, so pip installs whatever file the "
        "index serves for that version, a replaced one included. In hash-checking mode pip "
        "refuses the whole install because of it.",
        "Add the sha256 of every file of the release: `hardenreq harden --no-resolve FILE` "
        "hashes pinned lines in place.",
    ),
    FindingKind.UNKNOWN_HASH: _Rule(
        "A --hash matches no file of the release on the index.",
        "The requirement lists a digest that no file of this release on the index has now: "
        "the file was replaced or removed after the lock was written, or the hash was wrong "
        "from the start. A digest in another algorithm than sha256 cannot be confirmed, "
        "because indexes publish sha256 digests only.",
        "Treat this as possible tampering until you know otherwise: compare with a copy you "
        "trust and with the project's release history. Do not just re-hash. Once the files on "
        "the index are known to be genuine, run `hardenreq harden --no-resolve FILE`.",
    ),
    FindingKind.MISSING_HASH: _Rule(
        "A file of the release on the index has no --hash.",
        "The index has files of this release whose digests the requirement does not list, "
        "typically wheels uploaded after the lock was written. Where pip prefers such a file "
        "it downloads and then refuses it, or falls back to another file. A file that appears "
        "in an old release can also be an attack.",
        "Check that the new files come from the project (upload time, release notes), then "
        "add their hashes with `hardenreq harden --no-resolve FILE`.",
    ),
    FindingKind.YANKED: _Rule(
        "Pinned release is yanked.",
        "The project withdrew this release from the index (PEP 592), usually because it is "
        "broken or insecure. pip still installs a release pinned with ==, so nothing else "
        "stops it.",
        "Read the yank reason, then pin a release that is not yanked: "
        "`hardenreq harden --upgrade-package NAME` on the file's source.",
    ),
    FindingKind.NOT_FOUND: _Rule(
        "Project or release is not on the index.",
        "The index has no such project, or no such version of it. The install fails, or, when "
        "another index is configured, pip may install a different project of the same name "
        "from there (dependency confusion).",
        "Check the name and version for typos and that the index configured for the file "
        "serves the project; pin a release the index has.",
    ),
    FindingKind.UNHASHABLE: _Rule(
        "Requirement cannot be hash-checked.",
        "Editable installs, VCS URLs and local directories have no fixed file whose hash could "
        "be pinned, so pip's hash-checking mode refuses them and the whole install fails.",
        "Build a wheel, publish it to your index and pin it by version with its hashes, or "
        "refer to a built archive by direct URL (name @ URL of a .whl or .tar.gz), which can "
        "be hashed.",
    ),
    FindingKind.INEFFECTIVE_HASH: _Rule(
        "A --hash that pip ignores.",
        "The --hash is not on its requirement's logical line: it stands on a line of its own "
        "after a comment or blank line, or follows a comment that cuts the backslash "
        "continuation. It looks like protection but checks nothing.",
        "Join the --hash options to their requirement: every continued line ends with a "
        "backslash, no comment comes before the last hash, and no blank line splits the "
        "requirement.",
    ),
    FindingKind.OUTDATED: _Rule(
        "A newer release is out.",
        "The index has a newer version than the pinned one. The pin protects against "
        "unplanned upgrades; staying behind may mean missing fixes, security fixes included.",
        "Review the changes and upgrade when ready: `hardenreq harden --upgrade-package NAME` "
        "on the file's source.",
    ),
    FindingKind.INSECURE_INDEX: _Rule(
        "Index reached over plain http, or TLS checks turned off.",
        "An index URL uses http://, or --trusted-host turns off certificate checks for a "
        "host, so anyone on the network path can change what pip sees. Hashes still protect "
        "pinned files, but nothing else.",
        "Use an https:// index URL and drop --trusted-host; for an index with a private CA, "
        "give pip the CA bundle (--cert or PIP_CERT) instead.",
    ),
    FindingKind.EXTRA_INDEX: _Rule(
        "--extra-index-url invites dependency confusion.",
        "pip asks every index and installs the best version any of them offers, so whoever "
        "publishes one of your private project names on another index with a higher version "
        "can get their package installed. Only pinned, hashed requirements are protected.",
        "Use one index that proxies the others (a single --index-url), or make sure every "
        "requirement is pinned and hashed so that an impostor's files fail the hash check.",
    ),
    FindingKind.VULNERABLE: _Rule(
        "Pinned release has a known vulnerability.",
        "The index reports a known vulnerability that affects the pinned release.",
        "Read the advisory and upgrade to a fixed release: `hardenreq harden --upgrade-package "
        "NAME` on the file's source. If no release is fixed yet, check whether the vulnerable "
        "code is reachable from your project.",
    ),
    FindingKind.INVALID_CONSTRAINT: _Rule(
        "A constraint pip refuses.",
        "A file read through -c (a constraints file) holds a line with extras, without a "
        "project name, or an editable one. pip refuses the whole install because of it "
        '("Constraints cannot have extras").',
        "Constrain the plain name with ==: locks that hardenreq writes are valid constraints, "
        "so re-running `hardenreq harden` on the constraint file's source fixes it.",
    ),
    FindingKind.MISSING_DEPENDENCY: _Rule(
        "A dependency of a pinned release is not pinned, or pinned outside its range.",
        "pip's hash-checking mode installs nothing that is not pinned and hashed: a release "
        "whose dependency is missing from the files, or pinned to a version it does not "
        "accept, stops the whole install.",
        "Re-lock from the source: `hardenreq harden` resolves the full closure and pins every "
        "dependency with its hashes.",
    ),
    FindingKind.INCOMPLETE_ENVIRONMENT: _Rule(
        "The lock does not install on one of its environments.",
        "On an environment the lock is for (a Python version and platform), a requirement "
        "of its source has no line that installs there, a line has no hashed file that "
        "installs there (no wheel for the platform, a Requires-Python that excludes it), or "
        "a dependency is missing: pip's hash-checking mode refuses the install there.",
        "Lock for every environment you deploy to: `hardenreq harden --python-version ... "
        "--platform ...` on the lock's source.",
    ),
    FindingKind.UNINSTALLABLE_HERE: _Rule(
        "The lock does not install on the machine verify runs on.",
        "The lock names no environments, so verify checks it for this machine's Python and "
        "platform: a requirement has no line here, or a line has no hashed file that "
        "installs here. If the lock is meant for other environments, that is expected; if "
        "it is meant for this one, pip refuses it here.",
        "Say which environments the lock is for (`hardenreq harden --python-version ... "
        "--platform ...` records them in its header), or verify with the same options.",
    ),
    FindingKind.CONFLICTING_PINS: _Rule(
        "Two pins of one package that pip cannot both satisfy.",
        "The files pip reads together pin one package twice, to different versions or with "
        "hash lists that share no file, so pip stops with a conflict or a hash error.",
        "Keep one pin per package: resolve layered files against each other (`hardenreq "
        "harden base.in dev.in` resolves dev against the base lock it writes).",
    ),
    FindingKind.FILE_CHANGED: _Rule(
        "A locked file is listed with another URL, size or upload time.",
        "pylock.toml records each file's URL, size and upload time beside its hash. The index "
        "now lists the file with the same sha256 but a different URL, size or upload time: "
        "the release was re-uploaded or moved, or the index (or a mirror in between) is not "
        "the one the lock was made from. An installer that downloads from the recorded URL "
        "may then fail, and a changed upload time under an old release is worth a look.",
        "Find out why the index's record of the file changed; once it is explained, re-record "
        "it with `hardenreq refresh --hashes-only pylock.toml`.",
    ),
}

_KINDS: Final = tuple(FindingKind)


def _camel_case(kind: FindingKind) -> str:
    return "".join(part.capitalize() for part in kind.value.split("-"))


def _rule(kind: FindingKind) -> dict[str, object]:
    rule = _RULES[kind]
    return {
        "id": kind.value,
        "name": _camel_case(kind),
        "shortDescription": {"text": rule.short},
        "fullDescription": {"text": rule.full},
        "help": {"text": rule.advice},
        "defaultConfiguration": {"level": _LEVELS[SEVERITIES[kind]]},
        "properties": {"tags": list(_TAGS)},
    }


def _artifact_location(file: str) -> dict[str, object]:
    path = PurePath(json_text(file))
    if path.is_absolute():
        return {"uri": path.as_uri()}
    # Percent-encode what a URI cannot hold (spaces, '%', '#', '?'); keep the slashes.
    return {"uri": quote(path.as_posix(), safe="/"), "uriBaseId": _SRCROOT}


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def fingerprint(finding: Finding) -> str:
    """A sha256 hex digest of the finding's kind, file, package, version and details.

    The line is left out, so a finding keeps its identity when lines above it move; the
    fields are hashed as one canonical JSON array, so no separator inside a value can make
    two findings collide.
    """
    identity = [
        finding.kind.value,
        PurePath(finding.file).as_posix(),
        finding.package,
        finding.version,
        dict(finding.details),
    ]
    return hashlib.sha256(_canonical(identity).encode("utf-8")).hexdigest()


def _result(finding: Finding) -> dict[str, object]:
    physical: dict[str, object] = {"artifactLocation": _artifact_location(finding.file)}
    if finding.line is not None and finding.line >= 1:
        physical["region"] = {"startLine": finding.line}
    return {
        "ruleId": finding.kind.value,
        "ruleIndex": _KINDS.index(finding.kind),
        "level": _LEVELS[finding.severity],
        "message": {"text": json_message(finding.message)},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {_FINGERPRINT_KEY: fingerprint(finding)},
        "properties": {
            "package": json_value(finding.package),
            "version": json_value(finding.version),
            "details": json_value(dict(finding.details)),
        },
    }


class SarifReporter:
    """The report as a SARIF 2.1.0 log (``indent=2``, ASCII, trailing newline)."""

    name = "sarif"

    def render(self, report: VerifyReport) -> str:
        """The SARIF log as JSON text."""
        log = {
            "$schema": SARIF_SCHEMA_URI,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "hardenreq",
                            "version": hardenreq.__version__,
                            "rules": [_rule(kind) for kind in _KINDS],
                        }
                    },
                    "originalUriBaseIds": {
                        _SRCROOT: {
                            "description": {
                                "text": "The directory hardenreq verify ran in; relative "
                                "file URIs are resolved against it."
                            }
                        }
                    },
                    "results": [_result(f) for f in ordered(report.findings)],
                }
            ],
        }
        return dumps(log)
