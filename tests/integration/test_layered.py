"""Layered locks (`dev.in` with `-c base.txt`), as real projects lay them out: hardened and
refreshed together they agree, pip installs them in hash-checking mode, a second run changes
nothing, and the report is true to the bytes written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import IndexServer

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def layered(index: IndexServer, tmp_path: Path) -> Path:
    """A Django-style layout: base.in with extras, dev.in constrained by base.txt."""
    index.publish("psy-binary", "3.2")
    index.publish("psy", "3.2", requires=['psy-binary==3.2; extra == "binary"'])
    index.publish("redis-client", "5.0")
    index.publish("cel", "5.4", requires=['redis-client>=5; extra == "redis"', "tinyutil>=1.0"])
    folder = tmp_path / "requirements"
    folder.mkdir()
    (folder / "base.in").write_text("psy[binary]\ncel[redis]\ntinyweb>=1.0,<2\n")
    (folder / "dev.in").write_text("-c base.txt\ntinyweb\ncel\n")
    return folder


def run(index: IndexServer, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args[:1], "-i", index.simple_url, "--retries", "1", *args[1:]])
    return result.exit_code, result.stdout, result.stderr


def pip_install(
    index: IndexServer, tmp_path: Path, *files: Path
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    target = tmp_path / f"target-{len(list(tmp_path.glob('target-*')))}"
    command = [sys.executable, "-m", "pip", "install", "--require-hashes", "--no-build-isolation",
               "--index-url", index.simple_url, "--target", str(target)]  # fmt: skip
    for file in files:
        command += ["-r", str(file)]
    return subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=180, check=False
    )


def test_layers_install_with_pip_and_a_second_run_changes_nothing(
    index: IndexServer, tmp_path: Path, layered: Path
) -> None:
    base, dev = layered / "base.txt", layered / "dev.txt"
    # dev.in comes first on the command line: the run orders layers by their -c lines.
    code, _, err = run(
        index, "harden", "--no-pip-conf", str(layered / "dev.in"), str(layered / "base.in")
    )
    assert code == 0, err
    base_text, dev_text = base.read_text(), dev.read_text()
    assert "psy==3.2 \\\n" in base_text
    assert "psy[binary]" not in base_text  # pip refuses extras in a file read through -c
    assert "psy-binary==3.2 \\\n" in base_text
    assert "-c base.txt\n" in dev_text
    # A dependency that base.txt constrains says so, the same way in every kind of run.
    assert "tinyutil==1.2 \\\n" in dev_text
    assert "    # via\n    #   -c base.txt\n    #   cel\n" in dev_text
    # The layers agree: every package of dev also in base has base's version.
    assert "tinyweb==1.1 \\\n" in dev_text
    for install in (pip_install(index, tmp_path, dev), pip_install(index, tmp_path, base, dev)):
        assert install.returncode == 0, install.stderr
    code, _, err = run(
        index, "harden", "--no-pip-conf", str(layered / "base.in"), str(layered / "dev.in")
    )
    assert code == 0, err
    assert (base.read_text(), dev.read_text()) == (base_text, dev_text)
    assert "0 files written" in err
    # refresh with nothing new on the index: nothing changes, and the report says so.
    code, out, err = run(
        index, "refresh", "--exit-code", str(layered / "base.in"), str(layered / "dev.in")
    )
    assert code == 0, out + err
    assert "Every pin and hash is current" in out
    assert (base.read_text(), dev.read_text()) == (base_text, dev_text)


def test_the_refresh_report_is_true_to_the_bytes(
    index: IndexServer, tmp_path: Path, layered: Path
) -> None:
    dev = layered / "dev.txt"
    assert (
        run(
            index, "harden", "--no-pip-conf", str(layered / "base.in"), str(dev.with_suffix(".in"))
        )[0]
        == 0
    )
    fresh = dev.read_text()
    # Only a note differs from what hardenreq writes: no pin or hash changes, yet the
    # file is rewritten, and the report and --exit-code must say so.
    dev.write_text(fresh.replace("    #   cel\n", "    #   celery\n"))
    code, _, err = run(
        index,
        "refresh",
        "--exit-code",
        "--report",
        "r.md",
        str(layered / "base.in"),
        str(dev.with_suffix(".in")),
    )
    assert code == 1, err
    assert dev.read_text() == fresh
    assert "requirements/dev.txt: comments and notes changed" in err
    assert "comments and notes changed" in (tmp_path / "r.md").read_text()


def test_an_upgrade_moves_both_layers_together(
    index: IndexServer, tmp_path: Path, layered: Path
) -> None:
    base, dev = layered / "base.txt", layered / "dev.txt"
    assert (
        run(index, "harden", "--no-pip-conf", str(layered / "base.in"), str(layered / "dev.in"))[0]
        == 0
    )
    index.publish("tinyweb", "1.2")
    code, _, err = run(
        index, "harden", "--no-pip-conf", "-U", str(layered / "base.in"), str(layered / "dev.in")
    )
    assert code == 0, err
    assert "tinyweb==1.2 \\\n" in base.read_text()
    assert "tinyweb==1.2 \\\n" in dev.read_text()
    assert pip_install(index, tmp_path, base, dev).returncode == 0


def test_verify_reports_what_pip_refuses_in_a_layered_lock(
    index: IndexServer, tmp_path: Path, layered: Path
) -> None:
    assert (
        run(index, "harden", "--no-pip-conf", str(layered / "base.in"), str(layered / "dev.in"))[0]
        == 0
    )
    base, dev = layered / "base.txt", layered / "dev.txt"
    # An older lock kept the extras: pip refuses dev.txt because base.txt has them.
    base.write_text(base.read_text().replace("psy==3.2 \\", "psy[binary]==3.2 \\"))
    assert pip_install(index, tmp_path, dev).returncode != 0
    code, out, _ = run(index, "verify", str(dev))
    assert code == 1
    assert "invalid-constraint" in out
    assert "requirements/base.txt" in out
