"""Reporters: every format against golden files, the JSON and SARIF outputs against their
schemas (SARIF against the official OASIS schema in tests/data), GitHub escaping, and the
name → reporter registry. `pytest --update-golden` rewrites tests/golden/report/."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import hardenreq
from hardenreq.models import SEVERITIES, AdvisorySource, Finding, FindingKind, VerifyReport
from hardenreq.report import (
    FORMATS,
    JSON_REPORT_SCHEMA,
    REPORTERS,
    GithubReporter,
    JsonReporter,
    SarifReporter,
    TextReporter,
    get_reporter,
    summary_line,
)
from hardenreq.report.github import escape_data, escape_property
from hardenreq.report.sarif import SARIF_SCHEMA_URI, fingerprint

GOLDEN = Path(__file__).parent.parent / "golden" / "report"
SARIF_SCHEMA = Path(__file__).parent.parent / "data" / "sarif-schema-2.1.0.json"
EXTENSIONS = {"text": "txt", "json": "json", "github": "txt", "sarif": "sarif"}

REQS = "requirements.txt"
DEV = "requirements-dev.txt"
DJANGO_WHEEL_SHA = "5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00"
BAD_SHA = "0" * 63 + "1"

# One finding of every kind, worded as verify words them, in no particular order (the
# reporters sort). The yank reason comes from the index: it holds ',', ':', '%' and a newline.
FINDINGS = (
    Finding(
        FindingKind.VULNERABLE,
        REQS,
        13,
        "jinja2==3.1.3: GHSA-h75v-3vvj-5mfj (CVE-2024-34064): Jinja vulnerable to HTML "
        "attribute injection when passing user input as keys to xmlattr filter; fixed in: "
        "3.1.4 (https://osv.dev/vulnerability/GHSA-h75v-3vvj-5mfj)",
        "jinja2",
        "3.1.3",
        (
            ("id", "GHSA-h75v-3vvj-5mfj"),
            ("aliases", ["CVE-2024-34064"]),
            (
                "summary",
                "Jinja vulnerable to HTML attribute injection when passing user input as keys "
                "to xmlattr filter",
            ),
            ("fixed_in", ["3.1.4"]),
            ("link", "https://osv.dev/vulnerability/GHSA-h75v-3vvj-5mfj"),
            ("sources", ["osv-api"]),
        ),
    ),
    Finding(
        FindingKind.UNPINNED,
        REQS,
        3,
        "requests>=2.31 is not pinned to one version with == or ===; pin it with == and add "
        "its hashes: hardenreq harden",
        "requests",
    ),
    Finding(
        FindingKind.MISSING_HASH,
        REQS,
        6,
        "django==5.2.19: 1 file(s) on the index have no hash here "
        "(django-5.2.19-py3-none-any.whl); pip may pick one and refuse it, or use another file",
        "django",
        "5.2.19",
        (
            (
                "files",
                [
                    {
                        "filename": "django-5.2.19-py3-none-any.whl",
                        "sha256": DJANGO_WHEEL_SHA,
                        "upload_time": "2025-06-04T13:52:08Z",
                    }
                ],
            ),
        ),
    ),
    Finding(
        FindingKind.UNKNOWN_HASH,
        REQS,
        6,
        f"django==5.2.19: --hash=sha256:{BAD_SHA} matches no file of this release on the index "
        "(replaced, tampered with or removed: find out which before trusting it)",
        "django",
        "5.2.19",
        (("hash", f"sha256:{BAD_SHA}"),),
    ),
    Finding(
        FindingKind.NO_HASHES,
        REQS,
        4,
        "idna==3.7 has no --hash: pip installs whatever file the index serves",
        "idna",
        "3.7",
    ),
    Finding(
        FindingKind.YANKED,
        REQS,
        9,
        "urllib3==2.0.0 is yanked: breaks 100% of installs on Python 3.7, see 2.0.1\n"
        "Use 2.0.1: it restores support.",
        "urllib3",
        "2.0.0",
        (
            (
                "reason",
                "breaks 100% of installs on Python 3.7, see 2.0.1\nUse 2.0.1: it restores support.",
            ),
        ),
    ),
    Finding(
        FindingKind.NOT_FOUND,
        REQS,
        11,
        "acme-internal==1.4.0: the index has no project acme-internal",
        "acme-internal",
        "1.4.0",
    ),
    Finding(
        FindingKind.OUTDATED,
        REQS,
        13,
        "jinja2==3.1.3: 3.1.6 is out",
        "jinja2",
        "3.1.3",
        (("latest", "3.1.6"),),
    ),
    Finding(
        FindingKind.INSECURE_INDEX,
        REQS,
        1,
        "--index-url http://mirror.example.test/simple is plain http: anyone on the path can "
        "change what pip sees (hashes still protect pinned files)",
        details=(("url", "http://mirror.example.test/simple"),),
    ),
    Finding(
        FindingKind.EXTRA_INDEX,
        DEV,
        2,
        "--extra-index-url https://packages.example.test/simple: pip takes a project from "
        "whichever index offers the best version, so a name published on both invites "
        "dependency confusion",
        details=(("url", "https://packages.example.test/simple"),),
    ),
    Finding(
        FindingKind.UNHASHABLE,
        DEV,
        5,
        "-e ./tools/lint-helpers: an editable install has no file to hash",
        "lint-helpers",
    ),
    Finding(
        FindingKind.INEFFECTIVE_HASH,
        DEV,
        8,
        "--hash with no requirement on its logical line: pip ignores it (a comment or blank "
        "line cuts it off from its requirement)",
        details=(("hashes", [f"sha256:{DJANGO_WHEEL_SHA}"]),),
    ),
    Finding(
        FindingKind.INSECURE_INDEX,
        DEV,
        None,
        "--trusted-host mirror.example.test (from PIP_TRUSTED_HOST) turns off TLS checks for "
        "that host",
        details=(("host", "mirror.example.test"),),
    ),
    Finding(
        FindingKind.MALICIOUS,
        REQS,
        14,
        "aiocpa==0.1.13 is reported as malware: MAL-2024-11518 (SNYK-PYTHON-AIOCPA-8442272): "
        "Malicious code in aiocpa (PyPI) (https://osv.dev/vulnerability/MAL-2024-11518); "
        "remove it, and treat any machine that installed it as compromised",
        "aiocpa",
        "0.1.13",
        (
            ("id", "MAL-2024-11518"),
            ("aliases", ["SNYK-PYTHON-AIOCPA-8442272"]),
            ("summary", "Malicious code in aiocpa (PyPI)"),
            ("fixed_in", []),
            ("link", "https://osv.dev/vulnerability/MAL-2024-11518"),
            ("sources", ["advisory-db"]),
        ),
    ),
    Finding(
        FindingKind.ADVISORIES_UNAVAILABLE,
        REQS,
        None,
        "the OSV API (https://osv.example.com/v1) could not be used: OSV API: could not fetch "
        "https://osv.example.com/v1/querybatch after 4 attempts (could not connect); known "
        "vulnerabilities and malware it would report are not checked",
        details=(
            ("source", "osv-api"),
            ("location", "https://osv.example.com/v1"),
            ("problem", "OSV API: could not fetch ... (could not connect)"),
        ),
    ),
)
SOURCES = (
    AdvisorySource("index", note="no vulnerability data served"),
    AdvisorySource("osv-api", "https://osv.example.com/v1", ok=False, problem="could not connect"),
    AdvisorySource(
        "advisory-db",
        "osv/all.zip",
        records=31042,
        sha256="ab" * 32,
        date="2026-11-30T08:15:00Z",
        skipped=1,
    ),
)
REPORT = VerifyReport(FINDINGS, (REQS, DEV), requirements=14, advisories=SOURCES)
EMPTY = VerifyReport((), (REQS, DEV), requirements=14)


def _sarif_validator() -> Any:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    # The OASIS schema declares draft-04; no format checker, so "uri" formats are not judged.
    assert validator_class is jsonschema.Draft4Validator
    validator_class.check_schema(schema)
    return validator_class(schema)


def _errors(validator: Any, document: object) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


# Registry


def test_every_format_has_a_reporter_in_order() -> None:
    assert tuple(REPORTERS) == FORMATS == ("text", "json", "github", "sarif")


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("text", TextReporter),
        ("json", JsonReporter),
        ("github", GithubReporter),
        ("sarif", SarifReporter),
    ],
)
def test_get_reporter_returns_a_reporter_of_that_name(name: str, cls: type[object]) -> None:
    reporter = get_reporter(name)

    assert isinstance(reporter, cls)
    assert reporter.name == name


@pytest.mark.parametrize("name", ["", "xml", "TEXT", " json", "sarif2"])
def test_get_reporter_rejects_unknown_names_listing_the_valid_ones(name: str) -> None:
    with pytest.raises(ValueError, match="text, json, github, sarif") as info:
        get_reporter(name)

    assert repr(name) in str(info.value)


# Golden files


@pytest.mark.parametrize("name", FORMATS)
def test_render_matches_golden(name: str, request: pytest.FixtureRequest) -> None:
    golden = GOLDEN / f"{name}.{EXTENSIONS[name]}"

    rendered = get_reporter(name).render(REPORT).encode("utf-8")

    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(rendered)
    assert rendered == golden.read_bytes()


@pytest.mark.parametrize("name", FORMATS)
def test_render_does_not_depend_on_finding_order(name: str) -> None:
    shuffled = dataclasses.replace(REPORT, findings=FINDINGS[::-1])
    reporter = get_reporter(name)

    assert reporter.render(shuffled) == reporter.render(REPORT)


@pytest.mark.parametrize("name", FORMATS)
def test_render_ends_with_one_newline_and_has_no_trailing_spaces(name: str) -> None:
    for report in (REPORT, EMPTY):
        rendered = get_reporter(name).render(report)

        assert rendered.endswith("\n")
        assert not rendered.endswith("\n\n")
        assert all(line == line.rstrip() for line in rendered.split("\n"))


# Summary line


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (REPORT, "9 errors, 5 warnings, 1 info in 2 files (14 requirements)"),
        (EMPTY, "no findings in 2 files (14 requirements)"),
        (VerifyReport((), (REQS,), 1), "no findings in 1 file (1 requirement)"),
        (VerifyReport((), (), 0), "no findings in 0 files (0 requirements)"),
        (
            VerifyReport((FINDINGS[1], FINDINGS[0]), (REQS,), 3),
            "2 errors, 0 warnings, 0 info in 1 file (3 requirements)",
        ),
    ],
)
def test_summary_line(report: VerifyReport, expected: str) -> None:
    assert summary_line(report) == expected


# Text


def test_text_empty_report_is_the_summary_line() -> None:
    assert TextReporter().render(EMPTY) == "no findings in 2 files (14 requirements)\n"


def test_text_groups_by_file_and_continues_messages_under_the_message_column() -> None:
    lines = TextReporter().render(REPORT).splitlines()

    assert lines[0] == DEV
    assert lines.index(REQS) > lines.index(DEV)
    yanked = next(i for i, line in enumerate(lines) if "urllib3==2.0.0 is yanked" in line)
    column = lines[yanked].index("urllib3==2.0.0 is yanked")
    assert lines[yanked + 1] == " " * column + "Use 2.0.1: it restores support."


def test_text_escapes_terminal_control_and_bidi_characters() -> None:
    finding = Finding(
        FindingKind.YANKED,
        REQS,
        2,
        "evil==1.0 is yanked: \x1b]8;;x\x07click\x1b[0m \u202eexe.txt\u202c\ttab",
        "evil",
        "1.0",
    )

    rendered = TextReporter().render(VerifyReport((finding,), (REQS,), 1))

    assert "\x1b" not in rendered
    assert "\u202e" not in rendered
    assert "\t" not in rendered
    assert r"\x1b]8;;x\x07click\x1b[0m \u202eexe.txt\u202c\x09tab" in rendered


def test_text_package_column() -> None:
    rendered = TextReporter().render(REPORT)

    assert "requests  " in rendered  # no version: the name alone
    assert "django==5.2.19" in rendered
    assert "  -  " in rendered  # no line, or no package


# JSON


def test_json_schema_is_a_valid_draft_2020_12_schema() -> None:
    assert JSON_REPORT_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(JSON_REPORT_SCHEMA)


@pytest.mark.parametrize("report", [REPORT, EMPTY], ids=["findings", "empty"])
def test_json_output_validates_against_its_schema(report: VerifyReport) -> None:
    document = json.loads(JsonReporter().render(report))

    assert _errors(jsonschema.Draft202012Validator(JSON_REPORT_SCHEMA), document) == []


def test_json_schema_rejects_what_it_should() -> None:
    validator = jsonschema.Draft202012Validator(JSON_REPORT_SCHEMA)
    good = json.loads(JsonReporter().render(REPORT))
    bad_kind = json.loads(JsonReporter().render(REPORT))
    bad_kind["findings"][0]["kind"] = "typo-squat"
    extra_key = json.loads(JsonReporter().render(REPORT))
    extra_key["summary"]["total"] = 13
    zero_line = json.loads(JsonReporter().render(REPORT))
    zero_line["findings"][0]["line"] = 0

    assert validator.is_valid(good)
    for document in (bad_kind, extra_key, zero_line):
        assert not validator.is_valid(document)


def test_json_key_order_and_summary() -> None:
    document = json.loads(JsonReporter().render(REPORT))

    assert list(document) == ["version", "tool", "findings", "summary", "advisories"]
    assert document["version"] == 1
    assert document["tool"] == {"name": "hardenreq", "version": hardenreq.__version__}
    assert [list(f) for f in document["findings"]] == [
        ["kind", "severity", "package", "version", "file", "line", "message", "details"]
    ] * len(FINDINGS)
    summary = document["summary"]
    assert list(summary) == ["files", "requirements", "errors", "warnings", "info", "by_kind"]
    assert (summary["files"], summary["requirements"]) == (2, 14)
    assert (summary["errors"], summary["warnings"], summary["info"]) == (9, 5, 1)
    assert list(summary["by_kind"]) == sorted(summary["by_kind"])
    assert summary["by_kind"]["insecure-index"] == 2
    assert sum(summary["by_kind"].values()) == len(FINDINGS)


def test_json_empty_report() -> None:
    document = json.loads(JsonReporter().render(EMPTY))

    assert document["findings"] == []
    assert document["summary"]["by_kind"] == {}


def test_json_details_keep_values_and_null_line() -> None:
    document = json.loads(JsonReporter().render(REPORT))
    by_kind = {(f["kind"], f["file"], f["line"]): f for f in document["findings"]}

    vulnerable = by_kind[("vulnerable", REQS, 13)]
    assert vulnerable["details"] == {
        "id": "GHSA-h75v-3vvj-5mfj",
        "aliases": ["CVE-2024-34064"],
        "summary": "Jinja vulnerable to HTML attribute injection when passing user input as "
        "keys to xmlattr filter",
        "fixed_in": ["3.1.4"],
        "link": "https://osv.dev/vulnerability/GHSA-h75v-3vvj-5mfj",
        "sources": ["osv-api"],
    }
    assert document["advisories"][2] == {
        "source": "advisory-db",
        "location": "osv/all.zip",
        "ok": True,
        "records": 31042,
        "problem": None,
        "note": None,
        "sha256": "ab" * 32,
        "date": "2026-11-30T08:15:00Z",
        "skipped": 1,
    }
    assert document["advisories"][1]["problem"] == "could not connect"
    assert by_kind[("insecure-index", DEV, None)]["package"] is None


# GitHub


@pytest.mark.parametrize(
    ("value", "data", "prop"),
    [
        ("plain", "plain", "plain"),
        ("100%", "100%25", "100%25"),
        ("%0A", "%250A", "%250A"),
        ("a\nb", "a%0Ab", "a%0Ab"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("a,b:c", "a,b:c", "a%2Cb%3Ac"),
        ("x::y", "x::y", "x%3A%3Ay"),
        ("", "", ""),
    ],
)
def test_github_escaping(value: str, data: str, prop: str) -> None:
    assert escape_data(value) == data
    assert escape_property(value) == prop


def test_github_command_shape_and_property_escaping() -> None:
    finding = Finding(
        FindingKind.MISSING_HASH,
        "ci/a,b:c%/requirements.txt",
        7,
        "tiny==1.0: 100% of files: one, two\nthree",
        "tiny",
        "1.0",
    )

    rendered = GithubReporter().render(VerifyReport((finding,), (finding.file,), 1))

    assert rendered == (
        "::warning file=ci/a%2Cb%3Ac%25/requirements.txt,line=7,title=hardenreq missing-hash"
        "::tiny==1.0: 100%25 of files: one, two%0Athree\n"
        "0 errors, 1 warning, 0 info in 1 file (1 requirement)\n"
    )


def test_github_levels_and_missing_line() -> None:
    lines = GithubReporter().render(REPORT).splitlines()

    assert len(lines) == len(FINDINGS) + 1
    assert sum(line.startswith("::error ") for line in lines) == 9
    assert sum(line.startswith("::warning ") for line in lines) == 5
    assert sum(line.startswith("::notice ") for line in lines) == 1
    no_line = next(line for line in lines if "PIP_TRUSTED_HOST" in line)
    assert no_line.startswith(f"::warning file={DEV},title=hardenreq insecure-index::")
    assert lines[-1] == summary_line(REPORT)


def test_github_message_cannot_inject_a_workflow_command() -> None:
    reason = "x\n::add-mask::secret\r::error::forged"
    finding = Finding(FindingKind.YANKED, REQS, 1, f"evil==1.0 is yanked: {reason}", "evil")

    lines = GithubReporter().render(VerifyReport((finding,), (REQS,), 1)).splitlines()

    # Commands are only read at the start of a line: once CR and LF are escaped, the forged
    # ones are inert text inside the annotation.
    assert len(lines) == 2
    assert lines[0].startswith(f"::error file={REQS},line=1,title=hardenreq yanked::")
    assert lines[0].endswith("x%0A::add-mask::secret%0D::error::forged")


def test_github_empty_report_is_the_summary_line() -> None:
    assert GithubReporter().render(EMPTY) == "no findings in 2 files (14 requirements)\n"


# SARIF


@pytest.mark.parametrize("report", [REPORT, EMPTY], ids=["findings", "empty"])
def test_sarif_validates_against_the_official_schema(report: VerifyReport) -> None:
    log = json.loads(SarifReporter().render(report))

    assert _errors(_sarif_validator(), log) == []


def test_sarif_schema_check_is_not_vacuous() -> None:
    validator = _sarif_validator()
    log = json.loads(SarifReporter().render(REPORT))
    log["runs"][0]["results"][0]["level"] = "fatal"
    log["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["region"] = {"startLine": 0}

    assert len(_errors(validator, log)) >= 2


def test_sarif_log_and_rules() -> None:
    log = json.loads(SarifReporter().render(EMPTY))

    assert log["$schema"] == SARIF_SCHEMA_URI
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "hardenreq"
    assert driver["version"] == hardenreq.__version__
    assert "informationUri" not in driver
    assert run["results"] == []
    assert set(run["originalUriBaseIds"]) == {"%SRCROOT%"}
    rules = driver["rules"]
    assert [rule["id"] for rule in rules] == [kind.value for kind in FindingKind]
    assert len(rules) == len(FindingKind)
    names = {rule["id"]: rule["name"] for rule in rules}
    assert names["no-hashes"] == "NoHashes"
    assert names["insecure-index"] == "InsecureIndex"
    levels = {"error": "error", "warning": "warning", "info": "note"}
    for rule, kind in zip(rules, FindingKind, strict=True):
        assert rule["defaultConfiguration"]["level"] == levels[SEVERITIES[kind]]
        assert rule["properties"]["tags"] == ["security", "supply-chain"]
        for key in ("shortDescription", "fullDescription", "help"):
            assert rule[key]["text"].strip()


def test_sarif_results_point_at_their_rule_and_location() -> None:
    run = json.loads(SarifReporter().render(REPORT))["runs"][0]
    rules = run["tool"]["driver"]["rules"]

    assert len(run["results"]) == len(FINDINGS)
    for result in run["results"]:
        rule = rules[result["ruleIndex"]]
        assert rule["id"] == result["ruleId"]
        assert result["level"] == rule["defaultConfiguration"]["level"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert location["artifactLocation"]["uri"] in (REQS, DEV)
        assert set(result["properties"]) == {"package", "version", "details"}
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert set(by_rule) >= {"vulnerable/GHSA-h75v-3vvj-5mfj", "malicious/MAL-2024-11518"}
    advisory = next(r for r in rules if r["id"] == "vulnerable/GHSA-h75v-3vvj-5mfj")
    assert advisory["helpUri"] == "https://osv.dev/vulnerability/GHSA-h75v-3vvj-5mfj"
    assert advisory["help"]["text"].startswith(
        "GHSA-h75v-3vvj-5mfj (CVE-2024-34064): Jinja vulnerable to HTML attribute injection"
    )
    assert "Fixed in: 3.1.4." in advisory["help"]["text"]
    assert run["properties"]["advisories"][0]["note"] == "no vulnerability data served"
    no_line = [r for r in run["results"] if "region" not in r["locations"][0]["physicalLocation"]]
    assert {r["message"]["text"] for r in no_line} == {
        f.message for f in FINDINGS if f.line is None
    }


def test_sarif_fingerprints_are_unique_and_ignore_the_line() -> None:
    run = json.loads(SarifReporter().render(REPORT))["runs"][0]
    prints = [r["partialFingerprints"]["hardenreq/v1"] for r in run["results"]]
    finding = FINDINGS[3]
    moved = dataclasses.replace(finding, line=40)

    assert len(set(prints)) == len(prints)
    assert all(len(p) == 64 and int(p, 16) >= 0 for p in prints)
    assert fingerprint(moved) == fingerprint(finding)
    assert fingerprint(finding) != fingerprint(FINDINGS[2])


@pytest.mark.parametrize(
    ("file", "location"),
    [
        ("requirements.txt", {"uri": "requirements.txt", "uriBaseId": "%SRCROOT%"}),
        ("ci/my reqs/a#b%.txt", {"uri": "ci/my%20reqs/a%23b%25.txt", "uriBaseId": "%SRCROOT%"}),
        ("../shared/base.txt", {"uri": "../shared/base.txt", "uriBaseId": "%SRCROOT%"}),
        ("/srv/app/requirements.txt", {"uri": "file:///srv/app/requirements.txt"}),
    ],
)
def test_sarif_artifact_locations(file: str, location: dict[str, str]) -> None:
    finding = Finding(FindingKind.OUTDATED, file, 0, "tiny==1.0: 1.1 is out", "tiny", "1.0")

    log = json.loads(SarifReporter().render(VerifyReport((finding,), (file,), 1)))
    physical = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]

    assert physical["artifactLocation"] == location
    assert "region" not in physical  # line 0 cannot be a SARIF startLine (>= 1)
    assert _errors(_sarif_validator(), log) == []


def test_sarif_is_deterministic() -> None:
    rendered = SarifReporter().render(REPORT)
    run = json.loads(rendered)["runs"][0]

    assert rendered == SarifReporter().render(REPORT)
    # No invocations, no times: the advisory sources are data of the report.
    assert set(run) == {"tool", "originalUriBaseIds", "results", "properties"}


def test_vendored_sarif_schema_is_the_oasis_errata01_file() -> None:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))

    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["id"] == (
        "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    )
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]


def test_reporters_import_no_cli_or_network_layer() -> None:
    # The other tests run in a process that has imported typer and httpx already.
    code = (
        "import sys, hardenreq.report; "
        "print(sorted({'typer', 'rich', 'httpx'} & {m.split('.')[0] for m in sys.modules}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
