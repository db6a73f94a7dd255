"""The report as a SARIF 2.1.0 log, for GitHub code scanning and other SARIF viewers.

One run; one rule per FindingKind (all of them, in FindingKind order, so ``ruleIndex`` is
stable), then one rule per advisory the report names (``vulnerable/PYSEC-2023-74``,
``malicious/MAL-2024-11518``: the advisory is the rule's help, its page the ``helpUri``),
sorted by id; one result per finding. The advisory sources asked are the run's
``properties.advisories``, as in the JSON report. Paths are relative URIs against ``%SRCROOT%``, the
directory verify ran in. Nothing depends on the clock or the machine: the same report always
renders to the same bytes. Strings are made safe as in the JSON report (redacted, no lone
surrogates, bounded messages); fingerprints are computed from the raw finding.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import PurePath
from typing import Final, NamedTuple
from urllib.parse import quote

import hardenreq
from hardenreq.escape import json_message, json_text, json_value, markdown_text
from hardenreq.models import SEVERITIES, Finding, FindingKind, Severity, VerifyReport
from hardenreq.report._common import ordered
from hardenreq.report.json import advisory_source, dumps

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
        "An advisory (from the index's own data, the OSV API or an offline OSV dump) says the "
        "pinned release is affected by a known vulnerability. Results name each advisory as "
        "a rule of its own, whose help is the advisory.",
        "Read the advisory and upgrade to a fixed release: `hardenreq refresh "
        "--fix-vulnerable` moves each vulnerable pin to the nearest release that fixes it. If "
        "no release is fixed yet, check whether the vulnerable code is reachable from your "
        "project.",
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
    FindingKind.MALICIOUS: _Rule(
        "Pinned release is known malware.",
        "An OSV malware report (a MAL- record of the OpenSSF malicious-packages database) "
        "names this project and version, or every version of it. Installing it runs code "
        "written to steal or harm.",
        "Remove the requirement (it is often a typo of a well-known name), and treat every "
        "machine that installed it as compromised: rotate the credentials it could reach.",
    ),
    FindingKind.ADVISORIES_UNAVAILABLE: _Rule(
        "An advisory source could not be used.",
        "The OSV API could not be reached or answered with something that is not OSV data, "
        "so the known vulnerabilities and malware it would report were not checked. This is "
        "not a clean bill of health.",
        "Check the network and --osv-url, or check offline with OSV's dump: `hardenreq "
        "verify --advisory-db all.zip`. `--require-advisories` makes this an error (exit 3).",
    ),
    FindingKind.CONFLICTING_PINS: _Rule(
        "Two pins of one package that pip cannot both satisfy.",
        "The files pip reads together pin one package twice, to different versions or with "
        "hash lists that share no file, so pip stops with a conflict or a hash error.",
        "Keep one pin per package: resolve layered files against each other (`hardenreq "
        "harden base.in dev.in` resolves dev against the base lock it writes).",
    ),
    FindingKind.UNHASHED_BUILD: _Rule(
        "A pin pip builds from its sdist has unhashed build requirements.",
        "No wheel of the pinned release installs on this Python and platform (or pip is told "
        "not to use one), so pip builds it from its sdist, and installs its build "
        "requirements (setuptools, a backend and what they need) into an isolated build "
        "environment first. No build-constraints file that pip is configured to use pins "
        "them with hashes: in hash-checking mode the build fails, and without it those "
        "packages are installed unchecked and run during the build.",
        "Run `hardenreq harden` on the lock's source: it writes build-constraints.txt (every "
        "build requirement pinned and hashed) and names it with `build-constraint` in "
        "pip.conf. Or pin a release that has a wheel for the platforms you install on.",
    ),
    FindingKind.BUILD_CONSTRAINT: _Rule(
        "The build-constraints file pip is configured to use cannot be read.",
        "pip's configuration (`build-constraint`, or PIP_BUILD_CONSTRAINT) names a file that "
        "does not exist or cannot be read from here; pip install stops before it builds "
        "anything. A relative path is opened from the folder pip runs in.",
        "Point `build-constraint` at the build-constraints file hardenreq wrote, with an "
        "absolute path (`hardenreq pip-conf --build-constraints FILE`), or run `hardenreq "
        "harden` to write it.",
    ),
    FindingKind.ATTESTATION_INVALID: _Rule(
        "A file's provenance does not verify.",
        "The index serves PEP 740 provenance for the file, but it does not verify: the "
        "Sigstore signature or certificate is bad, the attestation was made for another "
        "file or digest, or the object is malformed. Provenance that fails is what a forged "
        "or replaced upload looks like.",
        "Do not install the release until you know why: compare the file with the project's "
        "own release (tag, CI run) and ask the index or the project. If it turns out "
        "legitimate, `hardenreq harden --accept-publisher NAME` records the files as served.",
    ),
    FindingKind.PUBLISHER_CHANGED: _Rule(
        "A file is attested by another publisher than the lock records.",
        "The lock records the Trusted Publishing identity (repository, workflow) that "
        "published this project; this file's provenance verifies, but for another identity. "
        "An upload from another repository or workflow is what a stolen publishing token or "
        "a hijacked project looks like; it can also be a project that moved its CI.",
        "Check the project's announcements and release history for a move. Once it is known "
        "to be legitimate, re-run `hardenreq harden` or `refresh` with `--accept-publisher "
        "NAME` to record the new publisher.",
    ),
    FindingKind.ATTESTATION_MISSING: _Rule(
        "A file has no provenance where the lock records a publisher.",
        "The lock records who published this project, but this file (or a new file of the "
        "release) comes with no provenance: it was uploaded outside the trusted workflow, "
        "for example with a stolen API token, or the index no longer serves the attestation. "
        "A downgrade from attested to unattested is a red flag.",
        "Find out how the file was uploaded before trusting it; `--accept-publisher NAME` "
        "takes the files without provenance and drops the recorded publisher.",
    ),
    FindingKind.UNATTESTED: _Rule(
        "No provenance to check.",
        "The index serves no PEP 740 provenance for the release's files and the lock records "
        "no publisher for it, so who published the files cannot be checked; the hashes still "
        "protect them from changing.",
        "Nothing to do. Projects that publish through Trusted Publishing get provenance; an "
        "index without PEP 740 (many mirrors) serves none for any project.",
    ),
    FindingKind.QUARANTINED: _Rule(
        "The project is quarantined by the index.",
        "The index marked the project as unsafe for any use (PEP 792), usually because it "
        "found malware. The index refuses to serve its files.",
        "Remove the project from the requirements and check the machines that installed it.",
    ),
    FindingKind.ARCHIVED: _Rule(
        "The project is archived.",
        "The project's maintainers archived it on the index (PEP 792): it expects no further "
        "releases, so no security fixes either.",
        "Plan a replacement; read the index's reason, which may name a successor.",
    ),
    FindingKind.DEPRECATED: _Rule(
        "The project is deprecated.",
        "The project is considered obsolete (PEP 792) and may have been superseded by "
        "another project.",
        "Move to the successor the index's reason names, when there is one.",
    ),
    FindingKind.TOO_NEW: _Rule(
        "A pinned file was uploaded less than the minimum release age ago.",
        "A fresh upload is the riskiest one: malicious releases are usually found and "
        "removed within days. The file was uploaded more recently than `--min-release-age` "
        "(or `min-release-age` in [tool.hardenreq]) allows.",
        "Wait until the release has aged, or pin an older release: `hardenreq refresh "
        "--min-release-age AGE` resolves to releases at least that old.",
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
_SAFE_LINK: Final = re.compile(r"https://[A-Za-z0-9.-]+(?::[0-9]+)?/[A-Za-z0-9._~/:%-]*")
_ADVISORY_KINDS: Final = (FindingKind.VULNERABLE, FindingKind.MALICIOUS)
_ADVISORY_TAGS: Final = {FindingKind.VULNERABLE: "vulnerability", FindingKind.MALICIOUS: "malware"}


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


def _advisory_rule_id(finding: Finding) -> str | None:
    """``vulnerable/PYSEC-2023-74``: the rule of a finding about one advisory, else None."""
    identifier = dict(finding.details).get("id")
    if finding.kind not in _ADVISORY_KINDS or not isinstance(identifier, str) or not identifier:
        return None
    return f"{finding.kind.value}/{identifier}"


def _text_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _advisory_rule(rule_id: str, finding: Finding) -> dict[str, object]:
    """The advisory behind ``finding`` as a rule: its summary, aliases, fixes and page."""
    details = dict(finding.details)
    identifier = str(details.get("id"))
    aliases = _text_list(details.get("aliases"))
    fixed = _text_list(details.get("fixed_in"))
    summary = str(details.get("summary") or "")
    link = details.get("link")
    named = identifier + (f" ({', '.join(aliases)})" if aliases else "")
    kind = finding.kind
    if kind == FindingKind.MALICIOUS:
        short = f"Known malware: {named}"
        advice = "Remove the requirement and treat every machine that installed it as compromised."
    else:
        short = f"Known vulnerability: {named}"
        fixes = f"Fixed in: {', '.join(fixed)}." if fixed else "No fixed release yet."
        advice = f"{fixes} `hardenreq refresh --fix-vulnerable` moves the pin to the nearest fix."
    headline = f"{named}: {summary}" if summary else named
    text = f"{headline.rstrip('.')}. {advice}"
    markdown = f"**{markdown_text(named)}**" + (f": {markdown_text(summary)}" if summary else "")
    markdown += f"\n\n{markdown_text(advice)}"
    if isinstance(link, str) and link:
        text += f" Advisory: {link}"
        # The link can come from the index: only a plain https URL becomes a Markdown link.
        if _SAFE_LINK.fullmatch(link):
            markdown += f"\n\n[{markdown_text(identifier)}]({link})"
    rule: dict[str, object] = {
        "id": json_text(rule_id),
        "name": _camel_case(kind),
        "shortDescription": {"text": json_message(short)},
        "fullDescription": {"text": json_message(summary or short)},
        "help": {"text": json_message(text), "markdown": json_message(markdown)},
        "defaultConfiguration": {"level": _LEVELS[finding.severity]},
        "properties": {"tags": [*_TAGS, _ADVISORY_TAGS[kind]]},
    }
    if isinstance(link, str) and _SAFE_LINK.fullmatch(link):
        rule["helpUri"] = link
    return rule


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


def _result(finding: Finding, rule_ids: list[str]) -> dict[str, object]:
    physical: dict[str, object] = {"artifactLocation": _artifact_location(finding.file)}
    if finding.line is not None and finding.line >= 1:
        physical["region"] = {"startLine": finding.line}
    rule_id = _advisory_rule_id(finding) or finding.kind.value
    return {
        "ruleId": json_text(rule_id),
        "ruleIndex": rule_ids.index(rule_id),
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
        findings = ordered(report.findings)
        advisories: dict[str, Finding] = {}
        for finding in findings:
            rule_id = _advisory_rule_id(finding)
            if rule_id is not None:
                advisories.setdefault(rule_id, finding)
        rules = [_rule(kind) for kind in _KINDS]
        rules += [_advisory_rule(rule_id, advisories[rule_id]) for rule_id in sorted(advisories)]
        rule_ids = [kind.value for kind in _KINDS] + sorted(advisories)
        log = {
            "$schema": SARIF_SCHEMA_URI,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "hardenreq",
                            "version": hardenreq.__version__,
                            "rules": rules,
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
                    "results": [_result(f, rule_ids) for f in findings],
                    "properties": {"advisories": [advisory_source(s) for s in report.advisories]},
                }
            ],
        }
        return dumps(log)
