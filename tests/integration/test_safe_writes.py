"""Writes through the CLI: all or nothing (an immutable include, a report path that is a
folder), owner and symlinks kept, a concurrent edit never overwritten, pip.conf bytes kept,
and "nothing was written" said only when it is true."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hardenreq._atomic as atomic
from hardenreq.cli import app
from tests.index import IndexServer

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def harden(index: IndexServer, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app, ["harden", "--no-resolve", "-i", index.simple_url, "--retries", "0", *args]
    )
    return result.exit_code, " ".join(result.stderr.split())


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder`` (hidden temp and backup files included)."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = f"-> {os.readlink(path)}"
        elif path.is_file():
            found[key] = path.read_bytes()
        else:
            found[key] = "dir"
    return found


def layered(folder: Path, count: int) -> None:
    """requirements.txt including ``count`` files, each with one pin to hash."""
    (folder / "inc").mkdir()
    lines = []
    for number in range(count):
        (folder / "inc" / f"{number:02}.txt").write_text("tinyweb==1.0\n")
        lines.append(f"-r inc/{number:02}.txt\n")
    (folder / "requirements.txt").write_text("".join(lines))


def _chattr(flag: str, path: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def immutable_include(tmp_path: Path) -> Iterator[Path]:
    layered(tmp_path, 20)
    locked = tmp_path / "inc" / "10.txt"
    if not _chattr("+i", locked):
        pytest.skip("chattr +i is not available here")
    yield locked
    _chattr("-i", locked)


def test_an_immutable_include_stops_every_write(
    index: IndexServer, tmp_path: Path, immutable_include: Path
) -> None:
    before = snapshot(tmp_path)

    code, err = harden(index, "--pip-conf", "pip.conf", "requirements.txt")

    assert code == 3, err
    assert f"cannot write {immutable_include}: it is immutable or append-only" in err
    assert "nothing was written" in err
    assert snapshot(tmp_path) == before  # no file replaced, no pip.conf, no temp file


def test_a_rename_failing_midway_is_rolled_back_and_said_so(
    index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layered(tmp_path, 20)
    before = snapshot(tmp_path)
    real = os.replace
    calls = [0]

    def fail_the_tenth(source: str, target: str) -> None:
        calls[0] += 1
        if calls[0] == 10:
            raise OSError(28, "No space left on device")
        real(source, target)

    monkeypatch.setattr(os, "replace", fail_the_tenth)

    code, err = harden(index, "--no-pip-conf", "requirements.txt")

    assert code == 3, err
    assert "No space left on device" in err
    assert "nothing was written" in err
    assert snapshot(tmp_path) == before


def test_a_rollback_that_fails_does_not_claim_nothing_was_written(
    index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layered(tmp_path, 5)
    real = os.replace
    calls = [0]

    def fail_twice(source: str, target: str) -> None:
        calls[0] += 1
        if calls[0] in (3, 4):  # the third rename, then putting the second file back
            raise OSError(5, "Input/output error")
        real(source, target)

    monkeypatch.setattr(os, "replace", fail_twice)

    code, err = harden(index, "--no-pip-conf", "requirements.txt")

    assert code == 3, err
    assert "these files could not be put back" in err
    assert f"{tmp_path / 'inc' / '01.txt'}: Input/output error (its previous content is in" in err
    assert "nothing was written" not in err


def test_sigint_mid_swap_puts_everything_back_and_says_so(
    index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layered(tmp_path, 10)
    before = snapshot(tmp_path)
    real = os.replace
    calls = [0]

    def interrupt_the_fifth(source: str, target: str) -> None:
        calls[0] += 1
        if calls[0] == 5:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C, as the terminal sends it
        real(source, target)

    monkeypatch.setattr(os, "replace", interrupt_the_fifth)

    code, err = harden(index, "--no-pip-conf", "requirements.txt")

    assert code == 130, err
    assert "interrupted; nothing was written" in err
    assert snapshot(tmp_path) == before


def test_sigint_after_the_swap_does_not_claim_nothing_was_written(
    index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layered(tmp_path, 3)
    real = atomic._sync_folder

    def sync_then_interrupt(folder: Path) -> None:
        real(folder)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(atomic, "_sync_folder", sync_then_interrupt)

    code, err = harden(index, "--no-pip-conf", "requirements.txt")

    assert code == 130, err
    assert "interrupted" in err
    assert "nothing was written" not in err
    assert "--hash=sha256:" in (tmp_path / "inc" / "00.txt").read_text()


def test_a_report_path_that_is_a_folder_stops_the_lock_too(
    index: IndexServer, tmp_path: Path
) -> None:
    (tmp_path / "requirements.in").write_text("tinyweb\n")
    (tmp_path / "requirements.txt").write_text("tinyweb==1.0\n")  # no hashes: refresh adds them
    (tmp_path / "refresh.md").mkdir()
    before = snapshot(tmp_path)

    result = runner.invoke(
        app,
        ["refresh", "-i", index.simple_url, "--hashes-only", "requirements.in",
         "--report", "refresh.md"],
    )  # fmt: skip

    err = " ".join(result.stderr.split())
    assert result.exit_code == 3, err
    assert (
        "cannot write refresh.md: it is a directory; hardenreq replaces only regular files" in err
    )
    assert "nothing was written" in err
    assert snapshot(tmp_path) == before


def test_verify_refuses_a_report_path_that_is_a_device(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("tinyweb==1.0\n")
    (tmp_path / "out.sarif").symlink_to("/dev/null")

    result = runner.invoke(
        app,
        ["verify", "-i", index.simple_url, "-f", "sarif", "-o", "out.sarif", "requirements.txt"],
    )

    err = " ".join(result.stderr.split())
    assert result.exit_code == 3, err
    assert "cannot write out.sarif: it is a character device" in err
    assert (tmp_path / "out.sarif").is_symlink()


def test_owner_group_and_mode_of_a_rewritten_file_are_kept(
    index: IndexServer, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==1.0\n")
    os.chown(requirements, 1234, 2345)
    requirements.chmod(0o640)

    code, err = harden(index, "--no-pip-conf", "requirements.txt")

    assert code == 0, err
    info = requirements.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (1234, 2345, 0o640)
    assert "--hash=sha256:" in requirements.read_text()


def test_a_symlinked_requirements_file_is_hashed_through_the_link(
    index: IndexServer, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "web.txt").write_text("tinyweb==1.0\n")
    (tmp_path / "requirements.txt").symlink_to("shared/web.txt")

    code, err = harden(index, "--no-pip-conf", "requirements.txt")

    assert code == 0, err
    assert os.readlink(tmp_path / "requirements.txt") == "shared/web.txt"
    assert "--hash=sha256:" in (shared / "web.txt").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["requirements.txt", "shared"]
    assert sorted(p.name for p in shared.iterdir()) == ["web.txt"]


def test_a_line_added_while_harden_waits_on_the_index_is_kept(
    index: IndexServer, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==1.0\n")
    index.add_fault("tinyweb", "slow", delay=3.0)
    edited = threading.Event()

    def teammate() -> None:
        # Once harden has asked the index (and waits 3 s for the answer), append a line.
        for _ in range(500):
            if any("tinyweb" in r.path for r in index.requests):
                with requirements.open("a") as handle:
                    handle.write("tinyutil==1.0\n")
                edited.set()
                return
            threading.Event().wait(0.01)

    thread = threading.Thread(target=teammate)
    thread.start()
    code, err = harden(index, "--no-pip-conf", "--timeout", "30", "requirements.txt")
    thread.join()

    assert edited.is_set()
    assert code == 3, err
    assert f"{requirements} changed since it was read; not overwriting it" in err
    assert "run the command again" in err
    assert requirements.read_text() == "tinyweb==1.0\ntinyutil==1.0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["requirements.txt"]


def test_a_lock_edited_while_pip_compile_runs_is_kept(index: IndexServer, tmp_path: Path) -> None:
    source = tmp_path / "requirements.in"
    source.write_text("tinyweb==1.0\n")
    lock = tmp_path / "requirements.txt"
    result = runner.invoke(
        app, ["harden", "--no-pip-conf", "-i", index.simple_url, "requirements.in"]
    )
    assert result.exit_code == 0, result.stderr
    source.write_text("tinyweb==1.1\n")
    index.add_fault("tinyweb", "slow", delay=3.0)

    def teammate() -> None:
        for _ in range(1000):
            if any("tinyweb" in r.path for r in index.requests):
                with lock.open("a") as handle:
                    handle.write("# a note a teammate added\n")
                return
            threading.Event().wait(0.01)

    index.clear_requests()
    thread = threading.Thread(target=teammate)
    thread.start()
    result = runner.invoke(
        app, ["harden", "--no-pip-conf", "-i", index.simple_url, "requirements.in"]
    )
    thread.join()

    err = " ".join(result.stderr.split())
    assert result.exit_code == 3, err
    assert "requirements.txt changed since it was read; not overwriting it" in err
    assert lock.read_text().endswith("# a note a teammate added\n")
    assert "tinyweb==1.0" in lock.read_text()


LATIN_1 = b"[global]\r\n# caf\xe9 (latin-1)\r\ntimeout = 5\r\n"
MERGED = LATIN_1 + (
    b"\r\n[install]\r\nrequire-hashes = true\r\n\r\n[download]\r\nrequire-hashes = true\r\n"
)


def test_pip_conf_command_keeps_a_latin_1_byte(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_bytes(LATIN_1)

    result = runner.invoke(app, ["pip-conf", str(conf)])

    assert result.exit_code == 0, result.stderr
    assert conf.read_bytes() == MERGED


def test_harden_writes_a_latin_1_pip_conf_with_the_lock(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "pip.conf").write_bytes(LATIN_1)
    (tmp_path / "requirements.txt").write_text("tinyweb==1.0\n")

    code, err = harden(index, "--pip-conf", "pip.conf", "requirements.txt")

    assert code == 0, err
    assert (tmp_path / "pip.conf").read_bytes() == MERGED
    assert "--hash=sha256:" in (tmp_path / "requirements.txt").read_text()


def test_a_pip_conf_that_cannot_be_written_stops_the_lock_too(
    index: IndexServer, tmp_path: Path
) -> None:
    (tmp_path / "pip.conf").mkdir()
    (tmp_path / "requirements.txt").write_text("tinyweb==1.0\n")

    code, err = harden(index, "--pip-conf", "pip.conf", "requirements.txt")

    assert code == 2, err  # pip.conf is read first: a folder is not a pip configuration
    assert "pip.conf: cannot read the pip configuration: it is a directory" in err
    assert (tmp_path / "requirements.txt").read_text() == "tinyweb==1.0\n"
