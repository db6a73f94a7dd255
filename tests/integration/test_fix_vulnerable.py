"""``refresh --fix-vulnerable`` against the loopback index and OSV API: each vulnerable pin
moves to the lowest release within its source's ranges that fixes its advisories (with what
that release needs), nothing else moves, and the report says what was fixed and what no
allowed release fixes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import IndexServer
from tests.integration.test_refresh import pins
from tests.osv import RECORDS, OsvServer

runner = CliRunner()

REQUESTS = ("2.25.0", "2.28.0", "2.31.0", "2.32.0", "2.32.2", "2.32.3")
JINJA2 = ("2.10", "2.10.1", "2.11.3", "3.1.0")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def run(index: IndexServer, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [args[0], "-i", index.simple_url, "--retries", "0", *args[1:]])
    return result.exit_code, result.stdout, result.stderr


def publish(index: IndexServer) -> None:
    for version in REQUESTS:
        # 2.32.x needs a newer tinyutil than the lock pins: "what it needs" moves too.
        needs = ["tinyutil>=1.2"] if version.startswith("2.32") else []
        index.publish("requests", version, requires=needs)
    for version in JINJA2:
        index.publish("jinja2", version)


def old_lock(index: IndexServer, source: str) -> None:
    """A lock of ``source`` that keeps old pins (pip-compile keeps an output's pins)."""
    publish(index)
    Path("requirements.in").write_text(source)
    Path("requirements.txt").write_text(
        "requests==2.25.0\njinja2==2.10\ntinyweb==1.0\ntinyutil==1.0\n"
    )
    code, _, err = run(index, "harden", "--no-pip-conf", "requirements.in")
    assert code == 0, err
    assert pins("requirements.txt") == {
        "requests": "2.25.0",
        "jinja2": "2.10",
        "tinyweb": "1.0",
        "tinyutil": "1.0",
    }


def test_each_vulnerable_pin_moves_to_the_nearest_fix_and_nothing_else(
    index: IndexServer, osv: OsvServer
) -> None:
    old_lock(index, "requests>=2.20\njinja2<3\ntinyweb\ntinyutil\n")
    code, out, err = run(
        index, "refresh", "--fix-vulnerable", "--osv-url", osv.url, "--report-format", "json",
        "requirements.in",
    )  # fmt: skip
    assert code == 0, err
    # requests: 2.32.2 fixes all three (2.31.0 leaves GHSA-9wx4; 2.32.3 is not the nearest);
    # jinja2: 2.11.3 fixes both (2.10.1 only one; 3.1.0 is outside <3); tinyutil moves because
    # requests 2.32.2 needs it; tinyweb 1.0 stays although 2.0 is out.
    assert pins("requirements.txt") == {
        "requests": "2.32.2",
        "jinja2": "2.11.3",
        "tinyweb": "1.0",
        "tinyutil": "1.2",
    }
    report = json.loads(out)
    fixes = {fix["package"]: fix for fix in report["fixes"]}
    assert fixes["requests"] == {
        "lock": "requirements.txt",
        "package": "requests",
        "old": "2.25.0",
        "new": "2.32.2",
        "fixed": ["GHSA-9wx4-h78v-vm56", "PYSEC-2023-74"],
        "unfixed": [],
        "no_fix": [],
    }
    assert fixes["jinja2"]["new"] == "2.11.3"
    assert fixes["jinja2"]["fixed"] == ["PYSEC-2019-217", "PYSEC-2021-66"]
    assert set(fixes) == {"requests", "jinja2"}
    changes = {c["package"]: c["change"] for c in report["locks"][0]["changes"]}
    assert changes == {"jinja2": "upgraded", "requests": "upgraded", "tinyutil": "upgraded"}
    assert "--fix-vulnerable: 4 advisories fixed in 2 pins; 0 advisories left" in err
    # Fixed: a second run finds nothing to do.
    code, out, _ = run(
        index, "refresh", "--fix-vulnerable", "--osv-url", osv.url, "requirements.in"
    )
    assert code == 0
    assert "nothing to change" in out


def test_ranges_of_the_source_are_kept_and_the_rest_reported(
    index: IndexServer, osv: OsvServer
) -> None:
    old_lock(index, "requests>=2.20,<2.32\njinja2<3\ntinyweb\ntinyutil\n")
    code, out, err = run(
        index, "refresh", "--fix-vulnerable", "--osv-url", osv.url, "requirements.in"
    )
    assert code == 0, err
    assert pins("requirements.txt")["requests"] == "2.31.0"
    assert pins("requirements.txt")["tinyutil"] == "1.0"  # 2.31.0 needs nothing new
    assert "### Known vulnerabilities" in out
    assert (
        "| `requirements.txt` | requests | 2.25.0 | 2.31.0 | PYSEC-2023-74 | "
        "GHSA-9wx4-h78v-vm56 (no allowed release fixes it) |"
    ) in out
    assert "1 advisory left" in err


def test_offline_dump_drives_the_fix_too(index: IndexServer, tmp_path: Path) -> None:
    old_lock(index, "requests>=2.20\njinja2<3\ntinyweb\ntinyutil\n")
    code, _, err = run(
        index, "refresh", "--fix-vulnerable", "--osv-url", OsvServer.down(),
        "--advisory-db", str(RECORDS), "--dry-run", "requirements.in",
    )  # fmt: skip
    assert code == 0, err
    assert "--fix-vulnerable: 4 advisories fixed in 2 pins" in err
    assert pins("requirements.txt")["requests"] == "2.25.0"  # a dry run


def test_fix_vulnerable_refuses_what_it_cannot_do(index: IndexServer) -> None:
    Path("requirements.in").write_text("tinyweb\n")
    code, _, err = run(index, "refresh", "--fix-vulnerable", "--hashes-only", "requirements.in")
    assert code == 2
    assert "--fix-vulnerable moves pins" in err
    code, _, err = run(index, "refresh", "--fix-vulnerable", "--no-advisories", "requirements.in")
    assert code == 2
    assert "--fix-vulnerable needs the advisory check" in err
