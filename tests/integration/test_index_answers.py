"""What the index lists, read as pip reads it: odd old filenames of real projects, files pip
never installs, names no installer makes, one name with two digests, and a PEP 691 answer
under the wrong media type. Through the CLI, against the loopback index."""

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


def lock_of(index: IndexServer, *files: str, pin: str) -> Path:
    hashes = " ".join(f"--hash=sha256:{index.sha256(f)}" for f in files)
    path = Path("requirements.txt")
    path.write_text(f"{pin} {hashes}\n")
    return path


def verify(index: IndexServer, *args: str) -> tuple[int, list[dict[str, object]], str]:
    result = runner.invoke(
        app, ["verify", "-i", index.simple_url, "--retries", "0", "--format", "json", *args]
    )
    findings = json.loads(result.stdout)["findings"] if result.exit_code in (0, 1) else []
    return result.exit_code, findings, result.stderr


def test_old_files_with_odd_names_belong_to_the_release_pip_says(index: IndexServer) -> None:
    # Real files of real projects: cffi-1.0.2-2.tar.gz is 1.0.2.post2 (not "2" == 2.0.0),
    # selenium-2.0-dev-9429 is 2.0.dev9429, and mpmath-all-0.19 belongs to no release.
    index.publish("cffi", "2.0.0")
    index.add_listing("cffi", "1.0.2.post2", "cffi-1.0.2-2.tar.gz")
    index.add_listing("cffi", "0.19", "cffi-all-0.19.tar.gz")
    index.add_listing("cffi", "2.0.dev9429", "cffi-2.0-dev-9429.tar.gz")
    lock = lock_of(index, "cffi-2.0.0-py3-none-any.whl", "cffi-2.0.0.tar.gz", pin="cffi==2.0.0")
    code, findings, err = verify(index, str(lock))
    assert code == 0, err
    assert findings == []  # nothing "outdated" from 9429 or 2, nothing missing
    result = runner.invoke(
        app, ["harden", "--no-resolve", "--no-pip-conf", "-i", index.simple_url, str(lock)]
    )
    assert result.exit_code == 0, result.stderr


def test_a_hash_of_an_egg_the_index_lists_is_no_tampering(index: IndexServer) -> None:
    index.add_listing("tinyweb", "1.0", "tinyweb-1.0-py2.7.egg", b"an old egg")
    egg = index.sha256("tinyweb-1.0-py2.7.egg")
    wheel, sdist = index.sha256("tinyweb-1.0-py3-none-any.whl"), index.sha256("tinyweb-1.0.tar.gz")
    lock = Path("requirements.txt")
    lock.write_text(
        f"tinyweb==1.0 --hash=sha256:{wheel} --hash=sha256:{sdist} --hash=sha256:{egg}\n"
    )
    code, findings, err = verify(index, str(lock))
    assert code == 0, err
    assert [f["kind"] for f in findings] == ["outdated"]
    result = runner.invoke(
        app, ["harden", "--no-resolve", "--no-pip-conf", "-i", index.simple_url, str(lock)]
    )
    assert result.exit_code == 0, result.stderr
    assert "the hash of a file the index lists but pip never installs" in " ".join(
        result.stderr.split()
    )
    assert egg not in lock.read_text()
    # A new lock never pins it.
    assert "tinyweb-1.0-py2.7.egg" not in lock.read_text()


def test_one_filename_with_two_digests_is_refused(index: IndexServer) -> None:
    index.add_listing("tinyweb", "2.0", "tinyweb-2.0.tar.gz", sha256="a" * 64)
    lock = lock_of(index, "tinyweb-2.0-py3-none-any.whl", pin="tinyweb==2.0")
    code, _, err = verify(index, str(lock))
    assert code == 3
    assert "lists tinyweb-2.0.tar.gz twice, with two different sha256 digests" in " ".join(
        err.split()
    )


def test_a_file_name_no_installer_makes_is_neither_pinned_nor_printed(index: IndexServer) -> None:
    hostile = "tinyweb-2.0-py3-none-any\x1b]0;owned\x07.whl"
    index.add_listing("tinyweb", "2.0", hostile, b"junk")
    lock = lock_of(index, "tinyweb-2.0-py3-none-any.whl", "tinyweb-2.0.tar.gz", pin="tinyweb==2.0")
    code, findings, err = verify(index, "-v", str(lock))
    assert code == 0, err
    assert findings == []  # no missing-hash for a file pip could never install
    assert "\x1b" not in err
    assert "\x07" not in err


def test_pep_691_json_labelled_html_is_a_bad_answer(index: IndexServer) -> None:
    index.add_fault(r"^/simple/tinyweb/", "json-as-html", times=10)
    lock = lock_of(index, "tinyweb-2.0-py3-none-any.whl", pin="tinyweb==2.0")
    code, _, err = verify(index, str(lock))
    assert code == 3, err
    assert "answered JSON labelled text/html" in err
    result = runner.invoke(
        app, ["harden", "--no-resolve", "--no-pip-conf", "-i", index.simple_url, str(lock)]
    )
    assert result.exit_code == 3, result.stderr
