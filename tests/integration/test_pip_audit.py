"""Side by side with pip-audit: on a lock of old pins, ``pip-audit -s osv --osv-url`` and
``hardenreq verify --osv-url`` ask the same loopback OSV API (pip-audit its ``/v1/query``,
one package at a time; hardenreq one ``/v1/querybatch``) and report the same advisories.

pip-audit names an advisory by PYSEC, then CVE, then another ID, aliases or not; hardenreq
by a record's own ID (its OSV page must exist). So each finding is compared as the set of
all its names, per package: the same advisories, merged the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import IndexServer
from tests.integration.test_advisories import MALICIOUS, OLD_PINS, VULNERABLE, old_lock
from tests.osv import OsvServer

runner = CliRunner()
PIP_AUDIT = Path(sys.executable).with_name("pip-audit")

Names = dict[str, set[frozenset[str]]]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def pip_audit(lock: Path, osv: OsvServer, cache: Path) -> Names:
    # --disable-pip: the lock is fully pinned and hashed, so pip-audit reads it as it is,
    # without building an environment (which would need the index, and pip.conf).
    result = subprocess.run(
        [
            str(PIP_AUDIT), "-s", "osv", "--osv-url", osv.query_url, "--disable-pip",
            "-r", str(lock), "--format", "json", "--progress-spinner", "off",
            "--cache-dir", str(cache),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # pip-audit: 1 when it found something
    names: Names = {}
    for dependency in json.loads(result.stdout)["dependencies"]:
        for vuln in dependency.get("vulns", ()):
            group = frozenset({vuln["id"], *vuln["aliases"]})
            names.setdefault(dependency["name"], set()).add(group)
    return names


def hardenreq(lock: Path, index: IndexServer, osv: OsvServer) -> Names:
    result = runner.invoke(
        app,
        ["verify", "-i", index.simple_url, "--osv-url", osv.url, "--format", "json", str(lock)],
    )
    assert result.exit_code == 1, result.stderr
    names: Names = {}
    for finding in json.loads(result.stdout)["findings"]:
        if finding["kind"] in ("vulnerable", "malicious"):
            details = finding["details"]
            group = frozenset({details["id"], *details["aliases"]})
            names.setdefault(finding["package"], set()).add(group)
    return names


@pytest.mark.skipif(not PIP_AUDIT.exists(), reason="pip-audit (a dev extra) is not installed")
def test_hardenreq_and_pip_audit_report_the_same_advisories(
    index: IndexServer, osv: OsvServer, tmp_path: Path
) -> None:
    lock = old_lock(index)
    theirs = pip_audit(lock, osv, tmp_path / "pip-audit-cache")
    single = [r for r in osv.requests if r.path == "/v1/query"]
    osv.clear_requests()
    ours = hardenreq(lock, index, osv)
    batches = [r for r in osv.requests if r.path == "/v1/querybatch"]

    assert ours == theirs
    expected = {(name, id_) for name, groups in ours.items() for g in groups for id_ in g}
    assert expected >= VULNERABLE | MALICIOUS
    assert "redis" not in ours  # withdrawn: both drop it
    # pip-audit asks once per package; hardenreq once for all of them.
    assert len(single) == len(OLD_PINS)
    assert [r.queries for r in batches] == [len(OLD_PINS)]
