"""Known vulnerabilities and malware through the CLI: verify against a loopback OSV API that
answers from real records (tests/data/osv), the same records offline as a zip and as a
folder (--advisory-db), an OSV API that is down or misbehaves, and harden's warnings."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from hardenreq.report import JSON_REPORT_SCHEMA
from tests.index import IndexFactory, IndexServer
from tests.index.tls import LoopbackCA
from tests.osv import RECORDS, OsvServer, load_records

runner = CliRunner()

# Old pins, each with real advisories in tests/data/osv (or deliberately none): the IDs
# verify must report, merged by alias.
OLD_PINS = {
    "requests": "2.25.0",  # PYSEC-2023-74 (= GHSA-j8r2-6x86-q33q), GHSA-9wx4-h78v-vm56
    "urllib3": "1.26.4",  # PYSEC-2021-108, PYSEC-2023-212 (two ranges)
    "jinja2": "2.10",  # PYSEC-2019-217, PYSEC-2021-66
    "django": "3.2.0",  # PYSEC-2021-98, PYSEC-2023-100 (unordered events)
    "py": "1.11.0",  # PYSEC-2022-42969 (last_affected 1.11.0)
    "redis": "4.5.0",  # PYSEC-2023-73 is withdrawn: nothing
    "aiocpa": "0.1.13",  # MAL-2024-11518 (listed versions)
    "aiohtt": "0.1",  # MAL-2023-1578 (every version)
}
VULNERABLE = {
    ("requests", "PYSEC-2023-74"),
    ("requests", "GHSA-9wx4-h78v-vm56"),
    ("urllib3", "PYSEC-2021-108"),
    ("urllib3", "PYSEC-2023-212"),
    ("jinja2", "PYSEC-2019-217"),
    ("jinja2", "PYSEC-2021-66"),
    ("django", "PYSEC-2021-98"),
    ("django", "PYSEC-2023-100"),
    ("py", "PYSEC-2022-42969"),
}
MALICIOUS = {("aiocpa", "MAL-2024-11518"), ("aiohtt", "MAL-2023-1578")}
NEWEST_RECORD = "2025-12-24T10:09:32Z"  # MAL-2024-11518's "modified"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def old_lock(index: IndexServer, pins: dict[str, str] = OLD_PINS) -> Path:
    """A hashed lock of ``pins``, published on the loopback index first."""
    for name, version in pins.items():
        index.publish(name, version)
    lock = Path("requirements.txt")
    lock.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()))
    # The default OSV API of the tests knows nothing: harden writes the lock, malware and all.
    code, _, err = run("harden", "--no-resolve", "--no-pip-conf", "-i", index.simple_url, str(lock))
    assert code == 0, err
    return lock


def verify_json(index: IndexServer, *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run(
        "verify", "-i", index.simple_url, "--retries", "0", "--format", "json", *args
    )
    assert code in (0, 1), err
    document = json.loads(out)
    jsonschema.validate(document, JSON_REPORT_SCHEMA)
    return code, document, err


def reported(document: dict[str, Any], kind: str) -> set[tuple[str, str]]:
    return {(f["package"], f["details"]["id"]) for f in document["findings"] if f["kind"] == kind}


def make_zip(target: Path, folder: Path = RECORDS) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.glob("*.json")):
            archive.write(path, path.name)
    return target


def test_verify_reports_each_advisory_once_from_one_batch(
    index: IndexServer, osv: OsvServer
) -> None:
    lock = old_lock(index)
    code, document, _ = verify_json(index, "--osv-url", osv.url, str(lock))

    assert code == 1
    assert reported(document, "vulnerable") == VULNERABLE
    assert reported(document, "malicious") == MALICIOUS
    batches = [r for r in osv.requests if r.path == "/v1/querybatch"]
    assert [(r.method, r.queries) for r in batches] == [("POST", len(OLD_PINS))]
    fetched = [r.path for r in osv.requests if r.path.startswith("/v1/vulns/")]
    # Each ID's record once, the withdrawn one included (it is dropped after reading).
    assert len(fetched) == len(set(fetched)) == len(VULNERABLE) + len(MALICIOUS) + 2
    assert "/v1/vulns/PYSEC-2023-73" in fetched
    assert [s["source"] for s in document["advisories"]] == ["index", "osv-api"]
    assert document["advisories"][1]["ok"] is True
    assert document["advisories"][1]["location"] == osv.url


def test_aliases_merge_into_one_finding_with_every_name(index: IndexServer, osv: OsvServer) -> None:
    lock = old_lock(index, {"requests": "2.25.0"})
    _, document, _ = verify_json(index, "--osv-url", osv.url, str(lock))

    by_id = {f["details"]["id"]: f for f in document["findings"] if f["kind"] == "vulnerable"}
    assert set(by_id) == {"PYSEC-2023-74", "GHSA-9wx4-h78v-vm56"}
    merged = by_id["PYSEC-2023-74"]
    assert merged["severity"] == "error"
    assert merged["line"] == 1
    assert merged["details"]["aliases"] == ["CVE-2023-32681", "GHSA-j8r2-6x86-q33q"]
    assert merged["details"]["fixed_in"] == ["2.31.0"]
    assert merged["details"]["link"] == "https://osv.dev/vulnerability/PYSEC-2023-74"
    assert merged["details"]["sources"] == ["osv-api"]
    # The PYSEC record has no summary: the GHSA one's is used.
    assert merged["details"]["summary"] == (
        "Unintended leak of Proxy-Authorization header in requests"
    )
    assert "fixed in: 2.31.0" in merged["message"]


def test_withdrawn_and_unaffected_versions_are_clean(index: IndexServer, osv: OsvServer) -> None:
    # redis: withdrawn; requests 2.32.2 is past every fix; py 1.11.1 past last_affected.
    lock = old_lock(index, {"redis": "4.5.0", "requests": "2.32.2", "py": "1.11.1"})
    code, document, _ = verify_json(index, "--osv-url", osv.url, str(lock))
    assert code == 0
    assert document["findings"] == []


def test_malware_is_reported_when_the_index_removed_it(
    make_index: IndexFactory, osv: OsvServer
) -> None:
    index = make_index()
    lock = old_lock(index, {"aiohtt": "0.1"})
    gone = make_index(standard=False)  # the project was taken down, as malware is
    code, out, _ = run(
        "verify", "-i", gone.simple_url, "--retries", "0", "--osv-url", osv.url, str(lock)
    )
    assert code == 1
    assert "malicious" in out
    assert "MAL-2023-1578" in out
    assert "not-found" in out
    assert "aiohtt==0.1 is reported as malware" in out


def test_the_index_s_own_data_merges_with_osv(make_index: IndexFactory, osv: OsvServer) -> None:
    index = make_index(release_endpoint=True)
    lock = old_lock(index, {"requests": "2.25.0"})
    index.add_vulnerability("requests", "2.25.0", "PYSEC-2023-74", fixed_in=["2.31.0"])
    _, document, _ = verify_json(index, "--osv-url", osv.url, str(lock))
    merged = [f for f in document["findings"] if f["details"].get("id") == "PYSEC-2023-74"]
    assert len(merged) == 1
    assert merged[0]["details"]["sources"] == ["osv-api", "index"]
    assert document["advisories"][0] == {
        "source": "index",
        "location": "",
        "ok": True,
        "records": 1,
        "problem": None,
        "note": None,
        "sha256": None,
        "date": None,
        "skipped": 0,
    }
    _, without, _ = verify_json(index, "--osv-url", osv.url, "--no-index-advisories", str(lock))
    assert [s["source"] for s in without["advisories"]] == ["osv-api"]


def test_offline_zip_and_folder_give_the_same_findings(
    index: IndexServer, osv: OsvServer, tmp_path: Path
) -> None:
    lock = old_lock(index)
    _, online, _ = verify_json(index, "--osv-url", osv.url, str(lock))
    dump = make_zip(tmp_path / "osv-pypi.zip")
    down = OsvServer.down()
    # With a dump the API is not asked (it is down here: nothing would fail if it were not).
    _, offline, _ = verify_json(index, "--osv-url", down, "--advisory-db", str(dump), str(lock))
    _, folder, _ = verify_json(index, "--osv-url", down, "--advisory-db", str(RECORDS), str(lock))

    for document in (offline, folder):
        assert reported(document, "vulnerable") == reported(online, "vulnerable") == VULNERABLE
        assert reported(document, "malicious") == MALICIOUS
        assert not [f for f in document["findings"] if f["kind"] == "advisories-unavailable"]
    source = offline["advisories"][1]
    assert source["source"] == "advisory-db"
    assert source["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest()
    assert source["date"] == NEWEST_RECORD
    assert source["records"] == len(list(RECORDS.glob("*.json")))
    assert folder["advisories"][1]["date"] == NEWEST_RECORD
    assert folder["advisories"][1]["sha256"] != source["sha256"]
    # Both: the dump and the API, merged.
    _, both, _ = verify_json(
        index, "--osv-url", osv.url, "--osv-api", "--advisory-db", str(dump), str(lock)
    )
    assert [s["source"] for s in both["advisories"]] == ["index", "osv-api", "advisory-db"]
    sources = {f["details"]["id"]: f["details"]["sources"] for f in both["findings"]}
    assert sources["PYSEC-2023-74"] == ["osv-api", "advisory-db"]


def test_text_report_names_the_sources(index: IndexServer, osv: OsvServer, tmp_path: Path) -> None:
    lock = old_lock(index, {"requests": "2.25.0", "aiocpa": "0.1.13"})
    dump = make_zip(tmp_path / "all.zip")
    code, out, _ = run(
        "verify", "-i", index.simple_url, "--osv-url", osv.url, "--osv-api",
        "--advisory-db", str(dump), str(lock),
    )  # fmt: skip
    assert code == 1
    digest = hashlib.sha256(dump.read_bytes()).hexdigest()
    # Four records: PYSEC-2023-74, GHSA-j8r2-6x86-q33q (merged), GHSA-9wx4-h78v-vm56, MAL-.
    assert (
        f"\nadvisories: the index (no vulnerability data served); the OSV API {osv.url} (4 "
        f"advisories for these pins); the advisory database all.zip (14 records, newest "
        f"{NEWEST_RECORD}, sha256 {digest})\n3 errors, 0 warnings"
    ) in out
    assert "error  malicious   aiocpa==0.1.13    aiocpa==0.1.13 is reported as malware" in out
    assert "requests==2.25.0: PYSEC-2023-74 (CVE-2023-32681, GHSA-j8r2-6x86-q33q)" in out


def test_osv_down_is_a_warning_never_a_silent_pass(index: IndexServer) -> None:
    lock = old_lock(index, {"requests": "2.25.0"})
    down = OsvServer.down()
    code, document, _ = verify_json(index, "--osv-url", down, str(lock))
    assert code == 0  # a warning
    (finding,) = document["findings"]
    assert finding["kind"] == "advisories-unavailable"
    assert finding["severity"] == "warning"
    assert down in finding["message"]
    assert "could not connect" in finding["message"]
    assert document["advisories"][1]["ok"] is False

    code, _, _ = verify_json(index, "--osv-url", down, "--strict", str(lock))
    assert code == 1
    code, out, err = run(
        "verify", "-i", index.simple_url, "--retries", "0", "--osv-url", down,
        "--require-advisories", str(lock),
    )  # fmt: skip
    assert code == 3
    assert out == ""
    assert f"the OSV API ({down}) could not be used" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("500", "HTTP 500"),
        ("malformed", "did not answer with a batch of results"),
        ("wrong-count", "answered 0 results for 1 queries"),
        ("404", "answered HTTP 404"),
    ],
)
def test_osv_answering_wrongly_is_a_warning(
    index: IndexServer, osv: OsvServer, kind: str, problem: str
) -> None:
    lock = old_lock(index, {"requests": "2.25.0"})
    osv.add_fault("/v1/querybatch", kind, times=10)  # type: ignore[arg-type]
    code, document, _ = verify_json(index, "--osv-url", osv.url, str(lock))
    assert code == 0
    (finding,) = document["findings"]
    assert finding["kind"] == "advisories-unavailable"
    assert problem in finding["message"]


def test_a_record_that_fails_to_load_is_a_warning(index: IndexServer, osv: OsvServer) -> None:
    lock = old_lock(index, {"requests": "2.25.0"})
    osv.add_fault("/v1/vulns/GHSA-9wx4", "malformed")
    _, document, _ = verify_json(index, "--osv-url", osv.url, str(lock))
    assert [f["kind"] for f in document["findings"]] == ["advisories-unavailable"]
    assert "is not an OSV record" in document["findings"][0]["message"]


def test_pages_are_followed(index: IndexServer) -> None:
    lock = old_lock(index)
    with OsvServer(load_records(), page_size=1) as paged:
        _, document, _ = verify_json(index, "--osv-url", paged.url, str(lock))
        batches = [r for r in paged.requests if r.path == "/v1/querybatch"]
    assert reported(document, "vulnerable") == VULNERABLE
    assert reported(document, "malicious") == MALICIOUS
    assert len(batches) == 3  # requests, urllib3, jinja2 and django have two hits each


def test_no_advisories_turns_the_check_off(index: IndexServer, osv: OsvServer) -> None:
    lock = old_lock(index, {"requests": "2.25.0", "aiocpa": "0.1.13"})
    code, document, _ = verify_json(index, "--osv-url", osv.url, "--no-advisories", str(lock))
    assert code == 0
    assert document["findings"] == []
    assert document["advisories"] == []
    assert osv.requests == []


def test_config_turns_sources_on_and_off(
    index: IndexServer, osv: OsvServer, tmp_path: Path
) -> None:
    lock = old_lock(index, {"requests": "2.25.0"})
    (tmp_path / "dump").mkdir()
    make_zip(tmp_path / "dump" / "all.zip")
    Path("pyproject.toml").write_text(
        "[tool.hardenreq]\n"
        f'osv-url = "{OsvServer.down()}"\n'
        'advisory-db = "dump/all.zip"\n'
        'vulnerable-severity = "warning"\n'
    )
    code, document, _ = verify_json(index, str(lock))
    assert code == 0  # warnings only
    assert {f["severity"] for f in document["findings"]} == {"warning"}
    assert reported(document, "vulnerable") == {
        ("requests", "PYSEC-2023-74"),
        ("requests", "GHSA-9wx4-h78v-vm56"),
    }
    # A flag wins over the config, and HARDENREQ_OSV_URL too.
    code, document, _ = verify_json(index, "--osv-url", osv.url, "--osv-api", str(lock))
    assert [s["source"] for s in document["advisories"]] == ["index", "osv-api", "advisory-db"]
    assert document["advisories"][1]["location"] == osv.url


def test_sarif_has_a_rule_per_advisory_with_it_as_help(index: IndexServer, osv: OsvServer) -> None:
    lock = old_lock(index, {"requests": "2.25.0", "aiocpa": "0.1.13"})
    code, out, _ = run(
        "verify", "-i", index.simple_url, "--osv-url", osv.url, "--format", "sarif", str(lock)
    )
    assert code == 1
    run_ = json.loads(out)["runs"][0]
    rules = {rule["id"]: rule for rule in run_["tool"]["driver"]["rules"]}
    rule = rules["vulnerable/PYSEC-2023-74"]
    assert rule["helpUri"] == "https://osv.dev/vulnerability/PYSEC-2023-74"
    assert "Unintended leak of Proxy-Authorization header" in rule["help"]["text"]
    assert "Fixed in: 2.31.0." in rule["help"]["text"]
    assert rule["defaultConfiguration"]["level"] == "error"
    assert rules["malicious/MAL-2024-11518"]["properties"]["tags"][-1] == "malware"
    results = {r["ruleId"] for r in run_["results"]}
    assert results == {
        "vulnerable/PYSEC-2023-74",
        "vulnerable/GHSA-9wx4-h78v-vm56",
        "malicious/MAL-2024-11518",
    }
    for result in run_["results"]:
        assert run_["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    assert run_["properties"]["advisories"][1]["source"] == "osv-api"


def test_github_annotations(index: IndexServer, osv: OsvServer) -> None:
    lock = old_lock(index, {"aiohtt": "0.1"})
    code, out, _ = run(
        "verify", "-i", index.simple_url, "--osv-url", osv.url, "--format", "github", str(lock)
    )
    assert code == 1
    assert out.startswith(
        "::error file=requirements.txt,line=1,title=hardenreq malicious::aiohtt==0.1 is "
        "reported as malware: MAL-2023-1578: Malicious code in aiohtt (PyPI)"
    )


def test_credentials_in_the_osv_url_never_show(index: IndexServer) -> None:
    lock = old_lock(index, {"requests": "2.25.0"})
    secret_url = OsvServer.down().replace("http://", "http://user:s3cr3t-t0ken@")
    code, out, err = run(
        "verify", "-i", index.simple_url, "--retries", "0", "--osv-url", secret_url, str(lock)
    )
    assert code == 0
    assert "advisories-unavailable" in out
    assert "s3cr3t" not in out + err
    assert "***@127.0.0.1" in out


def test_https_osv_redirecting_to_http_is_refused(
    index: IndexServer, loopback_ca: LoopbackCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = old_lock(index, {"requests": "2.25.0"})
    monkeypatch.setenv("SSL_CERT_FILE", str(loopback_ca.ca_file))
    with (
        OsvServer(load_records(), tls=loopback_ca.server_context()) as secure,
        OsvServer(load_records()) as plain,
    ):
        secure.add_fault("/v1/querybatch", "redirect", location=f"{plain.url}/querybatch")
        _, document, _ = verify_json(index, "--osv-url", secure.url, str(lock))
        assert plain.requests == []
        # Over https, with nothing in the way, the same server answers.
        _, clean, _ = verify_json(index, "--osv-url", secure.url, str(lock))
    (finding,) = document["findings"]
    assert "refusing to follow a redirect from https to http" in finding["message"]
    assert len(reported(clean, "vulnerable")) == 2


@pytest.mark.parametrize(("status", "method"), [(307, "POST"), (308, "POST"), (303, "GET")])
def test_post_redirects_keep_or_drop_the_method(
    index: IndexServer, osv: OsvServer, status: int, method: str
) -> None:
    lock = old_lock(index, {"requests": "2.25.0"})
    osv.add_fault("/v1/querybatch$", "redirect", location="/v1/querybatch?moved", status=status)
    _, document, _ = verify_json(index, "--osv-url", osv.url, str(lock))
    moved = [r for r in osv.requests if r.path == "/v1/querybatch?moved"]
    assert [r.method for r in moved] == [method]
    if method == "POST":
        assert moved[0].queries == 1
        assert len(reported(document, "vulnerable")) == 2
    else:  # a GET of a query endpoint answers nothing useful: a warning, not a crash
        assert [f["kind"] for f in document["findings"]] == ["advisories-unavailable"]


def test_a_slow_osv_is_cut_off_by_the_timeout(index: IndexServer, osv: OsvServer) -> None:
    lock = old_lock(index, {"requests": "2.25.0"})
    osv.add_fault("/v1/querybatch", "slow", delay=3.0)
    _, document, _ = verify_json(index, "--osv-url", osv.url, "--timeout", "1", str(lock))
    (finding,) = document["findings"]
    assert finding["kind"] == "advisories-unavailable"
    assert "timed out" in finding["message"]


def test_a_bad_osv_url_is_a_usage_error(index: IndexServer) -> None:
    lock = old_lock(index, {"requests": "2.25.0"})
    code, _, err = run("verify", "-i", index.simple_url, "--osv-url", "ftp://x/v1", str(lock))
    assert code == 2
    assert "--osv-url must be an http(s) URL" in err


def test_a_missing_or_broken_dump_is_bad_input(index: IndexServer, tmp_path: Path) -> None:
    lock = old_lock(index, {"requests": "2.25.0"})
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    for dump, problem in (
        (tmp_path / "missing.zip", "cannot read the advisory database"),
        (broken, "not a zip file"),
    ):
        code, out, err = run(
            "verify", "-i", index.simple_url, "--advisory-db", str(dump), str(lock)
        )
        assert code == 2, err
        assert problem in err
        assert out == ""


# harden -------------------------------------------------------------------------------------


def test_harden_warns_about_vulnerable_pins_it_writes(index: IndexServer, osv: OsvServer) -> None:
    index.publish("requests", "2.25.0")
    Path("requirements.txt").write_text("requests==2.25.0\n")
    code, _, err = run(
        "harden", "--no-resolve", "--no-pip-conf", "-i", index.simple_url,
        "--osv-url", osv.url, "requirements.txt",
    )  # fmt: skip
    assert code == 0, err
    assert (
        "requests==2.25.0 has 2 known vulnerabilities: GHSA-9wx4-h78v-vm56, PYSEC-2023-74 "
        "(fixed in 2.31.0, 2.32.2)"
    ) in err
    assert "--hash=sha256:" in Path("requirements.txt").read_text()


def test_harden_refuses_to_write_malware(index: IndexServer, osv: OsvServer) -> None:
    index.publish("aiocpa", "0.1.13")
    Path("requirements.txt").write_text("aiocpa==0.1.13\n")
    code, out, err = run(
        "harden", "--no-resolve", "--no-pip-conf", "-i", index.simple_url,
        "--osv-url", osv.url, "requirements.txt",
    )  # fmt: skip
    assert code == 1
    assert "aiocpa==0.1.13 is reported as malware: MAL-2024-11518" in err
    assert "nothing was written" in err
    assert Path("requirements.txt").read_text() == "aiocpa==0.1.13\n"
    assert out == ""


def test_harden_says_when_osv_is_down(index: IndexServer) -> None:
    Path("requirements.txt").write_text("tinyweb==1.0\n")
    down = OsvServer.down()
    code, _, err = run(
        "harden", "--no-resolve", "--no-pip-conf", "-i", index.simple_url, "--retries", "0",
        "--osv-url", down, "requirements.txt",
    )  # fmt: skip
    assert code == 0, err
    assert f"the OSV API ({down}) could not be used" in err
    assert "the pins written were not checked against it" in err


def test_hardenreq_osv_url_names_a_mirror_for_the_machine(
    index: IndexServer, osv: OsvServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = old_lock(index, {"requests": "2.25.0"})
    monkeypatch.setenv("HARDENREQ_OSV_URL", osv.url)
    Path("pyproject.toml").write_text(f'[tool.hardenreq]\nosv-url = "{OsvServer.down()}"\n')
    _, document, _ = verify_json(index, str(lock))
    assert document["advisories"][1]["location"] == osv.url  # over the config
    monkeypatch.setenv("HARDENREQ_OSV_URL", "osv.example.com/v1")
    code, _, err = run("verify", "-i", index.simple_url, str(lock))
    assert code == 2
    assert "HARDENREQ_OSV_URL must be an http(s) URL" in err
