"""Against the real index (``make test-network``): the 55-pin web stack of examples/requirements.in
locked to pylock.toml validates (packaging.pylock, PEP 751 JSON schema), holds the same hash
sets as its requirements-format lock, verifies clean, and pip installs it (a dry run: pip
downloads and checks every file's hash)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.pylock import Pylock
from typer.testing import CliRunner

from hardenreq.cli import app
from hardenreq.lockfile.pylock import validate_pylock
from hardenreq.reqfile.parse import parse_text

pytestmark = pytest.mark.network

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


def test_web_stack_as_pylock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLES / "requirements.in", tmp_path / "requirements.in")
    for output in ("pylock.toml", "requirements.txt"):
        result = runner.invoke(app, ["harden", "--no-pip-conf", "requirements.in", "-o", output])
        assert result.exit_code == 0, result.stderr
    text = (tmp_path / "pylock.toml").read_text()
    validate_pylock(text)
    data = tomllib.loads(text)
    Pylock.from_dict(data)
    from_pylock = {
        (p["name"], p["version"]): frozenset(
            f["hashes"]["sha256"] for f in [*p.get("wheels", []), *filter(None, [p.get("sdist")])]
        )
        for p in data["packages"]
    }
    parsed = parse_text(tmp_path / "requirements.txt", (tmp_path / "requirements.txt").read_text())
    from_requirements = {
        (str(e.name), str(e.pinned_version)): frozenset(h.digest for h in e.hashes)
        for e in parsed.requirements
    }
    assert len(from_pylock) >= 50
    assert from_pylock == from_requirements
    result = runner.invoke(app, ["verify", "pylock.toml"])
    assert result.exit_code == 0, result.stdout
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    dry_run = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
         "--target", str(tmp_path / "t"), "-r", "pylock.toml"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1800, check=False,
    )  # fmt: skip
    assert dry_run.returncode == 0, dry_run.stderr
