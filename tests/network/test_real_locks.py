"""Against the real index (``make test-network``): ``verify`` finishes on every public lock in
tests/data/real-locks with exit 0 (clean) or 1 (findings), never 2, 3 or 4.

The locks are other projects' files, kept byte for byte (their README lists sources and
sha256s). A finding is fine here; a lock that stops the tool (bad input, an index answer it
cannot read, a crash) is a bug in hardenreq, since pip installs these files.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from hardenreq.index.location import pip_default_index

pytestmark = pytest.mark.network

LOCKS = Path(__file__).resolve().parents[1] / "data" / "real-locks"
runner = CliRunner()

# README rows: | folder | repository | commit | path | license | bytes | sha256 |
_ROW = re.compile(
    r"^\| (?P<folder>[^|]+) \| [^|]+ \| `[0-9a-f]{40}` \| `(?P<path>[^`]+)` \| [^|]+ \|"
    r" (?P<size>\d+) \| `(?P<sha256>[0-9a-f]{64})` \|$"
)


def _readme_rows() -> dict[str, tuple[int, str]]:
    rows = {}
    for line in (LOCKS / "README.md").read_text(encoding="utf-8").splitlines():
        if match := _ROW.match(line):
            rows[f"{match['folder']}/{match['path']}"] = (int(match["size"]), match["sha256"])
    return rows


def _locks() -> list[str]:
    return sorted(p.relative_to(LOCKS).as_posix() for p in LOCKS.rglob("*.txt"))


def test_every_lock_is_listed_and_unchanged() -> None:
    rows = _readme_rows()
    assert sorted(rows) == _locks()
    for relative, (size, digest) in rows.items():
        data = (LOCKS / relative).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, digest), relative


@pytest.mark.parametrize("relative", _locks())
def test_verify_finishes(relative: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The locks name the public index as ${REAL_INDEX_URL} (see the README).
    monkeypatch.setenv("REAL_INDEX_URL", pip_default_index().removesuffix("/"))
    result = runner.invoke(app, ["verify", "--format", "json", str(LOCKS / relative)])
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    # exit 1 exactly when there are error findings (no --strict here)
    assert (result.exit_code == 1) == bool(errors), result.stderr
    for finding in report["findings"]:
        assert finding["file"], finding
        assert finding["message"], finding
