"""Against the real index (``make test-network``): projects that publish only an sdist
(docopt; hydra-core pulls in antlr4-python3-runtime) harden with a hashed build-constraints
file, and pip 26.3 in a fresh virtual environment, with the written pip.conf as its only
configuration, builds and installs every one of them in hash-checking mode; a changed hash
in the build constraints makes that install fail."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app

pytestmark = pytest.mark.network

runner = CliRunner()
PIP = "pip==26.3"


def _fresh_venv(folder: Path) -> Path:
    """A new virtual environment with pip 26.3, installed into it by this interpreter's pip
    (which trusts the system's CAs) with no configuration at all."""
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", PIP],
        config=os.devnull,
        check=True,
    )
    return python


def _run(
    command: list[str], *, config: str, cwd: Path | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=config, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
    return subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=cwd, timeout=1800, check=check
    )


def test_sdist_only_projects_build_and_install_in_hash_checking_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("requirements.in").write_text("docopt\nhydra-core\n")

    result = runner.invoke(app, ["harden", "--pip-conf", "pip.conf", "requirements.in"])

    assert result.exit_code == 0, result.stderr
    constraints = Path("build-constraints.txt").read_text()
    assert "#   docopt==0.6.2 " in constraints
    assert re.search(r"^#   antlr4-python3-runtime==\S+ [0-9a-f]{64}$", constraints, re.M)
    assert re.search(r"^setuptools==\S+ \\$", constraints, re.M)
    assert "    #   docopt (build)\n" in constraints
    conf = Path("pip.conf").read_text()
    assert f"build-constraint = {tmp_path / 'build-constraints.txt'}" in conf

    python = _fresh_venv(tmp_path / "venv")
    install = _run(
        [str(python), "-m", "pip", "install", "-r", "requirements.txt"],
        config=str(tmp_path / "pip.conf"),
        cwd=tmp_path,
    )
    assert install.returncode == 0, install.stderr
    assert "Building wheel for docopt" in install.stdout
    assert "Building wheel for antlr4-python3-runtime" in install.stdout
    check = _run([str(python), "-c", "import docopt, hydra, antlr4"], config=os.devnull)
    assert check.returncode == 0, check.stderr

    # One changed hash in the build constraints: pip refuses to build.
    digest = re.search(r"--hash=sha256:([0-9a-f]{64})", constraints)
    assert digest is not None
    tampered = constraints.replace(digest.group(1), "0" * 64)
    other = re.findall(r"--hash=sha256:([0-9a-f]{64})", tampered)
    for value in other:
        tampered = tampered.replace(value, "1" * 64)
    Path("build-constraints.txt").write_text(tampered)
    python = _fresh_venv(tmp_path / "venv2")
    refused = _run(
        [str(python), "-m", "pip", "install", "-r", "requirements.txt"],
        config=str(tmp_path / "pip.conf"),
        cwd=tmp_path,
    )
    assert refused.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in refused.stderr


def test_verify_finds_the_unhashed_builds_of_a_lock_without_build_constraints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text("docopt==0.6.2\n")
    hashed = runner.invoke(
        app,
        ["harden", "--no-resolve", "--no-pip-conf", "--build-constraints",
         str(tmp_path / "elsewhere" / "b.txt"), "requirements.txt"],
    )  # fmt: skip
    assert hashed.exit_code == 0, hashed.stderr

    result = runner.invoke(app, ["verify", "--format", "json", "requirements.txt"])

    assert result.exit_code == 1
    assert '"kind": "unhashed-build"' in result.stdout
