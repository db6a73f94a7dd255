"""Against the real index pip uses by default (``make test-network``): the examples harden,
pip accepts the result in hash-checking mode, and the lock matches pip-compile's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from hardenreq.reqfile.parse import parse_text

pytestmark = pytest.mark.network

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


def _pip(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run(
        [sys.executable, "-m", "pip", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=900, check=False,
    )  # fmt: skip


def _pins_and_hashes(path: Path) -> dict[tuple[str, str], frozenset[str]]:
    parsed = parse_text(path, path.read_text(), environ={})
    return {
        (str(e.name), str(e.pinned_version)): frozenset(h.digest for h in e.hashes)
        for e in parsed.requirements
        if e.name is not None
    }


def test_no_resolve_example_installs_in_hash_mode(tmp_path: Path) -> None:
    for name in ("requirements.txt", "requirements-base.txt"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    result = runner.invoke(
        app, ["harden", "--no-resolve", "--no-pip-conf", str(tmp_path / "requirements.txt")]
    )
    assert result.exit_code == 0, result.stderr
    assert "--hash=sha256:" in (tmp_path / "requirements-base.txt").read_text()
    dry_run = _pip(
        "install", "--dry-run", "--require-hashes", "--ignore-installed",
        "--target", str(tmp_path / "t"), "-r", "requirements.txt", cwd=tmp_path,
    )  # fmt: skip
    assert dry_run.returncode == 0, dry_run.stderr


def test_lock_matches_pip_compile_and_installs(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "requirements.in", tmp_path / "requirements.in")
    result = runner.invoke(app, ["harden", "--no-pip-conf", str(tmp_path / "requirements.in")])
    assert result.exit_code == 0, result.stderr
    ours = _pins_and_hashes(tmp_path / "requirements.txt")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull)
    compiled = subprocess.run(
        [sys.executable, "-m", "piptools", "compile", "--generate-hashes", "--allow-unsafe",
         "--quiet", "--no-config", "-o", "peer.txt", "requirements.in"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1800, check=False,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stderr
    peer = _pins_and_hashes(tmp_path / "peer.txt")
    assert len(ours) >= 50
    assert ours == peer
    dry_run = _pip(
        "install", "--dry-run", "--require-hashes", "--ignore-installed",
        "--target", str(tmp_path / "t"), "-r", "requirements.txt", cwd=tmp_path,
    )  # fmt: skip
    assert dry_run.returncode == 0, dry_run.stderr
