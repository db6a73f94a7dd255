"""`outdated` names the release an upgrade would move to: within the ranges of the lock's
source, installable on this Python, not yanked, not a pre-release; the newest overall is only
detail. Files on the page are assigned to releases as pip assigns them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import IndexServer

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def outdated(index: IndexServer, lock: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["verify", "-i", index.simple_url, "--format", "json", lock])
    assert result.exit_code in (0, 1), result.stderr
    findings = json.loads(result.stdout)["findings"]
    return [f for f in findings if f["kind"] == "outdated"]


def test_the_range_of_the_source_and_this_python_bound_the_upgrade(index: IndexServer) -> None:
    index.publish("tinyutil", "9.0", requires_python=">=3.99")  # cannot install here
    index.publish("tinyutil", "3.0rc1")  # a pre-release
    index.publish("tinyutil", "2.0", yanked="broken")
    Path("requirements.in").write_text("tinyweb<2\ntinyutil\n")
    result = runner.invoke(
        app, ["harden", "--no-pip-conf", "-i", index.simple_url, "requirements.in"]
    )
    assert result.exit_code == 0, result.stderr
    lock = Path("requirements.txt")
    lock.write_text(
        lock.read_text()
        .replace("tinyweb==1.1", "tinyweb==1.0")
        .replace("tinyutil==1.2", "tinyutil==1.0")
    )
    found = {f["package"]: f for f in outdated(index, "requirements.txt")}
    # tinyweb 2.0 is out, but requirements.in says <2: the upgrade is to 1.1.
    assert found["tinyweb"]["details"] == {"latest": "1.1", "newest": "2.0"}
    assert "tinyweb==1.0: 1.1 is out (the newest, 2.0, is outside <2 (requirements.in:1)" in str(
        found["tinyweb"]["message"]
    )
    # tinyutil 9.0 needs another Python, 3.0rc1 is a pre-release, 2.0 is yanked.
    assert found["tinyutil"]["details"] == {"latest": "1.2", "newest": "9.0"}


def test_nothing_to_move_to_is_no_finding(index: IndexServer) -> None:
    index.publish("tinyutil", "9.0", requires_python=">=3.99")
    Path("requirements.txt").write_text(
        f"tinyutil==1.2 --hash=sha256:{index.sha256('tinyutil-1.2.tar.gz')}\n"
    )
    assert outdated(index, "requirements.txt") == []
