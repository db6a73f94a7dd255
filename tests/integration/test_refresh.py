"""`hardenreq refresh` against the loopback index: new releases published mid-test, hash-only
changes, targeted upgrades, dry runs, layered locks and configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import IndexServer, build_wheel

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def run(index: IndexServer, command: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [command, "-i", index.simple_url, "--retries", "0", *args])
    return result.exit_code, result.stdout, result.stderr


def lock(index: IndexServer, source: str, *args: str) -> None:
    code, _, err = run(index, "harden", "--no-pip-conf", source, *args)
    assert code == 0, err


def pins(path: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in Path(path).read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, rest = line.partition("==")
            found[name.split("[")[0].lower()] = rest.split()[0]
    return found


def test_refresh_picks_up_a_release_published_mid_test(index: IndexServer) -> None:
    Path("requirements.in").write_text("tinyweb>=1.0\n")
    Path("requirements.txt").write_text("tinyweb==1.0\n")
    lock(index, "requirements.in")
    assert pins("requirements.txt") == {"tinyweb": "1.0"}
    index.publish("tinyweb", "2.1", requires=["tinyutil>=1.2"])
    code, out, err = run(
        index, "refresh", "requirements.in", "--report", "refresh.md", "--exit-code"
    )
    assert code == 1, err  # something changed
    assert pins("requirements.txt") == {"tinyweb": "2.1", "tinyutil": "1.2"}
    report = Path("refresh.md").read_text()
    assert "| tinyweb | upgraded | 1.0 | 2.1 |" in report
    assert "| tinyutil | added |  | 1.2 |" in report
    assert "requirements.txt: 1 upgraded, 1 added" in err
    assert out == ""
    # Nothing left to do: exit 0 and a byte-identical lock.
    before = Path("requirements.txt").read_bytes()
    code, out, _ = run(index, "refresh", "requirements.in", "--exit-code")
    assert code == 0
    assert "nothing to change" in out
    assert Path("requirements.txt").read_bytes() == before


def test_upgrade_package_moves_only_that_package(index: IndexServer) -> None:
    Path("requirements.in").write_text("tinyweb\ntinyutil\n")
    Path("requirements.txt").write_text("tinyweb==1.0\ntinyutil==1.0\n")
    lock(index, "requirements.in")
    code, out, err = run(index, "refresh", "-P", "tinyutil", "requirements.in")
    assert code == 0, err
    assert pins("requirements.txt") == {"tinyweb": "1.0", "tinyutil": "1.2"}
    assert "| tinyutil | upgraded | 1.0 | 1.2 |" in out
    assert "tinyweb |" not in out


def test_dry_run_writes_nothing(index: IndexServer) -> None:
    Path("requirements.in").write_text("tinyutil\n")
    Path("requirements.txt").write_text("tinyutil==1.0\n")
    lock(index, "requirements.in")
    before = Path("requirements.txt").read_bytes()
    code, out, err = run(
        index, "refresh", "--dry-run", "--exit-code", "--report", "r.md", "requirements.in"
    )
    assert code == 1, err
    assert "Dry run: nothing was written" in out
    assert "| tinyutil | upgraded | 1.0 | 1.2 |" in out
    assert Path("requirements.txt").read_bytes() == before
    assert not Path("r.md").exists()


def test_hash_only_changes_are_called_out(index: IndexServer, tmp_path: Path) -> None:
    Path("requirements.in").write_text("tinyutil\n")
    lock(index, "requirements.in")
    new = build_wheel(tmp_path / "new", "tinyutil", "1.2", tag="cp313-cp313-win_amd64")
    index.add_file(new)
    old_digest = index.sha256("tinyutil-1.2.tar.gz")
    index.swap_file("tinyutil-1.2.tar.gz", b"\x1f\x8b" + bytes(30), update_metadata=True)
    code, out, err = run(
        index, "refresh", "--hashes-only", "--report-format", "json", "requirements.in"
    )
    assert code == 0, err
    report = json.loads(out)
    (change,) = report["locks"][0]["changes"]
    assert change["change"] == "hashes"
    assert change["old"] == change["new"] == "1.2"
    assert change["removed_hashes"] == [old_digest]
    assert new.name in change["added_files"]
    text = Path("requirements.txt").read_text()
    assert old_digest not in text
    assert index.sha256(new.name) in text
    _, md, _ = run(index, "refresh", "--hashes-only", "--dry-run", "requirements.in")
    assert "nothing to change" in md


def test_hash_only_change_in_the_markdown_report(index: IndexServer, tmp_path: Path) -> None:
    Path("requirements.in").write_text("tinyutil\n")
    lock(index, "requirements.in")
    new = build_wheel(tmp_path / "new", "tinyutil", "1.2", tag="cp313-cp313-win_amd64")
    index.add_file(new)
    code, out, _ = run(index, "refresh", "requirements.in")
    assert code == 0
    assert "#### Hash-only changes: review these" in out
    assert f"added `sha256:{index.sha256(new.name)}` {new.name}" in out


def test_layered_locks_stay_consistent(index: IndexServer) -> None:
    Path("requirements").mkdir()
    Path("requirements/base.in").write_text("tinyutil\n")
    Path("requirements/base.txt").write_text("tinyutil==1.0\n")
    Path("requirements/dev.in").write_text("-c base.txt\ntinyweb>=2\n")
    lock(index, "requirements/base.in")
    lock(index, "requirements/dev.in")
    assert pins("requirements/dev.txt")["tinyutil"] == "1.0"
    index.publish("tinyutil", "1.3")
    code, out, err = run(
        index, "refresh", "--dry-run", "requirements/base.in", "requirements/dev.in"
    )
    assert code == 0, err
    # In the dry run, dev resolves against base.txt as refreshed, not as on disk.
    assert out.count("| tinyutil | upgraded | 1.0 | 1.3 |") == 2
    code, _, err = run(index, "refresh", "requirements/base.in", "requirements/dev.in")
    assert code == 0, err
    assert pins("requirements/base.txt") == {"tinyutil": "1.3"}
    assert pins("requirements/dev.txt") == {"tinyweb": "2.0", "tinyutil": "1.3"}
    assert "-c base.txt\n" in Path("requirements/dev.txt").read_text()


def test_refresh_a_one_shot_lock(index: IndexServer) -> None:
    Path("requirements.txt").write_text("# app\ntinyweb>=1  # web\n")
    code, _, err = run(index, "harden", "--no-pip-conf", "requirements.txt")
    assert code == 0, err
    index.publish("tinyweb", "2.5")
    code, out, err = run(index, "refresh", "requirements.txt")
    assert code == 0, err
    assert "| tinyweb | upgraded | 2.0 | 2.5 |" in out
    text = Path("requirements.txt").read_text()
    assert "# app\ntinyweb==2.5 \\\n" in text
    assert Path("requirements.in").read_text() == "# app\ntinyweb>=1  # web\n"


def test_locks_and_report_format_from_config(index: IndexServer) -> None:
    Path("requirements.in").write_text("tinyutil\n")
    Path("requirements.txt").write_text("tinyutil==1.0\n")
    lock(index, "requirements.in")
    Path("pyproject.toml").write_text(
        "[project]\nname = 'svc'\nversion = '1'\n\n"
        "[tool.hardenreq]\n"
        f"index-url = '{index.simple_url}'\n"
        "report-format = 'json'\n\n"
        "[[tool.hardenreq.locks]]\nsource = 'requirements.in'\n"
    )
    result = runner.invoke(app, ["refresh", "--dry-run"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["changed"] is True
    result = runner.invoke(app, ["refresh", "--dry-run", "--report-format", "markdown"])
    assert result.stdout.startswith("## hardenreq refresh")


def test_unknown_config_key_is_an_error_with_a_suggestion() -> None:
    Path("pyproject.toml").write_text("[tool.hardenreq]\nreport_format = 'json'\n")
    result = runner.invoke(app, ["refresh"])
    assert result.exit_code == 2
    assert "report_format" in result.stderr
    assert "report-format" in result.stderr


def test_no_locks_anywhere_is_a_usage_error() -> None:
    result = runner.invoke(app, ["refresh"])
    assert result.exit_code == 2
    assert "hardenreq init" in result.stderr


def test_init_then_refresh_everything(index: IndexServer) -> None:
    Path("requirements").mkdir()
    Path("requirements/base.in").write_text("tinyutil\n")
    Path("requirements/dev.in").write_text("-c base.txt\ntinyweb>=2\n")
    original = "# my project\n[project]\nname = 'svc'  # the name\nversion = '1'\n"
    Path("pyproject.toml").write_text(original)
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.stderr
    text = Path("pyproject.toml").read_text()
    assert text.startswith(original)
    assert "lock: requirements/base.in -> requirements/base.txt" in result.stderr
    result = runner.invoke(app, ["refresh", "-i", index.simple_url])
    assert result.exit_code == 0, result.stderr
    assert pins("requirements/base.txt") == {"tinyutil": "1.2"}
    assert pins("requirements/dev.txt") == {"tinyweb": "2.0", "tinyutil": "1.2"}
    again = runner.invoke(app, ["init"])
    assert again.exit_code == 2
    assert "already has [tool.hardenreq]" in again.stderr


def test_upgrade_package_frees_what_it_needs(index: IndexServer) -> None:
    Path("requirements.in").write_text("tinyweb\nyankee\n")
    Path("requirements.txt").write_text("tinyweb==2.0\ntinyutil==1.0\nyankee==1.1\n")
    lock(index, "requirements.in")
    index.publish("tinyweb", "2.2", requires=["tinyutil>=1.2"])
    index.publish("yankee", "1.2")
    code, out, err = run(index, "refresh", "-P", "tinyweb", "requirements.in")
    assert code == 0, err
    # tinyutil is only there for tinyweb: it moves with it; yankee stays put.
    assert pins("requirements.txt") == {"tinyweb": "2.2", "tinyutil": "1.2", "yankee": "1.1"}
    assert "| tinyutil | upgraded | 1.0 | 1.2 |" in out
    assert "yankee" not in out
