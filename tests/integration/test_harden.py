"""`hardenreq harden --no-resolve` end to end against the loopback index, and pip installing
what it writes in hash-checking mode."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import IndexFactory, IndexServer

runner = CliRunner()


def harden(index: IndexServer | str, *args: str) -> tuple[int, str, str]:
    url = index if isinstance(index, str) else index.simple_url
    result = runner.invoke(
        app,
        ["harden", "--no-resolve", "--no-pip-conf", "--index-url", url, "--retries", "1", *args],
    )
    return result.exit_code, result.stdout, result.stderr


def hashes_of(index: IndexServer, *filenames: str) -> list[str]:
    return sorted(index.sha256(name) for name in filenames)


def expected_block(requirement: str, digests: list[str], comment: str = "") -> str:
    lines = [requirement, *(f"    --hash=sha256:{d}" for d in digests)]
    return " \\\n".join(lines) + (f"  {comment}" if comment else "")


def test_hashes_every_file_of_each_release_in_place(index: IndexServer, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        '# top comment\n\ntinyweb==2.0  # the web part\ntinyutil==1.2 ; python_version >= "3.8"\n'
    )
    code, _, err = harden(index, str(requirements))
    assert code == 0, err
    web = hashes_of(index, "tinyweb-2.0-py3-none-any.whl", "tinyweb-2.0.tar.gz")
    util = hashes_of(
        index,
        "tinyutil-1.2-py3-none-any.whl",
        "tinyutil-1.2-cp311-cp311-manylinux_2_17_x86_64.whl",
        "tinyutil-1.2.tar.gz",
    )
    assert requirements.read_text() == (
        "# top comment\n\n"
        + expected_block("tinyweb==2.0", web, "# the web part")
        + "\n"
        + expected_block('tinyutil==1.2 ; python_version >= "3.8"', util)
        + "\n"
    )
    assert "2 pins, 5 hashes (5 new)" in err


def test_second_run_is_byte_identical(index: IndexServer, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==1.1\r\ntiny.mixed-case==0.5\r\n")
    assert harden(index, str(requirements))[0] == 0
    first = requirements.read_bytes()
    assert b"\r\n    --hash=sha256:" in first
    code, _, err = harden(index, str(requirements))
    assert code == 0
    assert requirements.read_bytes() == first
    assert "0 files written" in err


def test_includes_are_hardened_and_the_mode_is_kept(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    base = tmp_path / "sub" / "base.txt"
    base.write_text("tinyutil==1.0\n")
    base.chmod(0o600)
    main = tmp_path / "requirements.txt"
    main.write_text("-r sub/base.txt\n-c constraints.txt\ntinyweb==1.0\n")
    (tmp_path / "constraints.txt").write_text("yankee==1.1\n")
    code, _, err = harden(index, str(main))
    assert code == 0, err
    assert "--hash=sha256:" in base.read_text()
    assert "--hash=sha256:" in (tmp_path / "constraints.txt").read_text()
    assert main.read_text().startswith("-r sub/base.txt\n-c constraints.txt\ntinyweb==1.0 \\\n")
    assert stat.S_IMODE(base.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tinyweb>=1.0\n", "requirements.txt:1: tinyweb>=1.0 is not pinned"),
        ("tinyweb==1.*\n", "requirements.txt:1: tinyweb==1.* is not pinned"),
        ("\ntinyweb\n", "requirements.txt:2: tinyweb is not pinned"),
        ("-e ./src\n", "requirements.txt:1: ./src: an editable (-e) requirement"),
        ("pkg @ git+https://example.invalid/pkg.git\n", "a VCS URL cannot be pinned by hash"),
        ("./local/project\n", "a local directory cannot be pinned by hash"),
        ("tinyweb==1.0 --frobnicate\n", "requirements.txt:1: pip does not accept the option"),
        ("tinyweb=1.0\n", "requirements.txt:1: invalid requirement"),
        ("-r missing.txt\n", "requirements.txt:1: cannot read"),
        ("nosuchproject==1.0\n", "nosuchproject: no such project on"),
        ("tinyweb==9.9\n", "has no release 9.9 of tinyweb (the newest release is 2.0)"),
        (
            "tinyweb==1.0 --hash=sha256:" + "0" * 64 + "\n",
            "requirements.txt:1: tinyweb: hash sha256:" + "0" * 64 + " matches no file",
        ),
        ("tinyweb==1.0\n--hash=sha256:" + "a" * 64 + "\n", "requirements.txt:2: --hash with no"),
    ],
)
def test_bad_input_exits_2_naming_the_place_and_writes_nothing(
    index: IndexServer, tmp_path: Path, content: str, message: str
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(content)
    other = tmp_path / "other.txt"
    other.write_text("tinyutil==1.0\n")
    code, _, err = harden(index, str(other), str(requirements))
    assert code == 2, err
    assert message in " ".join(err.split())
    assert "Traceback" not in err
    assert requirements.read_text() == content
    assert other.read_text() == "tinyutil==1.0\n"


def test_every_bad_line_is_reported_at_once(index: IndexServer, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb>=1\ntinyutil\nyankee==1.1\n")
    code, _, err = harden(index, str(requirements))
    assert code == 2
    assert "requirements.txt:1:" in err
    assert "requirements.txt:2:" in err


def test_not_text_is_exit_2_with_the_line(index: IndexServer, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_bytes(b"tinyweb==1.0\n\xff\xfe\x00bad\n")
    code, _, err = harden(index, str(requirements))
    assert code == 2
    assert "requirements.txt:2: not valid utf-8 text" in err


def test_a_hash_the_index_confirms_is_kept_and_others_added(
    index: IndexServer, tmp_path: Path
) -> None:
    wheel = index.sha256("tinyweb-1.0-py3-none-any.whl")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"tinyweb==1.0 --hash=sha256:{wheel}\n")
    code, _, err = harden(index, str(requirements))
    assert code == 0, err
    text = requirements.read_text()
    assert text.count("--hash=") == 2
    assert wheel in text
    assert "(1 new)" in err


def test_unknown_hash_is_replaced_only_when_asked(index: IndexServer, tmp_path: Path) -> None:
    stale = "f" * 64
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"tinyweb==1.0 \\\n    --hash=sha256:{stale}\n")
    code, _, err = harden(index, str(requirements))
    assert code == 2
    assert "can be an attack" in " ".join(err.split())
    assert stale in requirements.read_text()
    code, _, err = harden(index, "--replace-hashes", str(requirements))
    assert code == 0, err
    assert stale not in requirements.read_text()
    assert f"replaced sha256:{stale}" in " ".join(err.split())


def test_swallowed_hashes_are_repaired(index: IndexServer, tmp_path: Path) -> None:
    wheel = index.sha256("tinyweb-1.0-py3-none-any.whl")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"tinyweb==1.0  # pinned for now \\\n    --hash=sha256:{wheel}\n")
    code, _, err = harden(index, str(requirements))
    assert code == 0, err
    sdist = index.sha256("tinyweb-1.0.tar.gz")
    assert requirements.read_text() == (
        expected_block("tinyweb==1.0", sorted([wheel, sdist]), "# pinned for now") + "\n"
    )
    assert "moved the comment" in err


def test_yanked_release_warns(index: IndexServer, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("yankee==1.0\n")
    code, _, err = harden(index, str(requirements))
    assert code == 0
    assert "yankee==1.0 is yanked (broken build)" in err


def test_diff_writes_nothing(index: IndexServer, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==1.0\n")
    code, out, _ = harden(index, "--diff", str(requirements))
    assert code == 0
    assert out.startswith(f"--- {requirements}\n+++ {requirements}\n")
    assert "+tinyweb==1.0 \\\n" in out
    assert requirements.read_text() == "tinyweb==1.0\n"


def test_index_url_line_in_the_file_is_used(index: IndexServer, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"--index-url {index.simple_url}\ntinyweb==1.0\n")
    result = runner.invoke(app, ["harden", "--no-resolve", "--no-pip-conf", str(requirements)])
    assert result.exit_code == 0, result.stderr
    assert any(r.path == "/simple/tinyweb/" for r in index.requests)


def test_index_url_from_environment_variable(
    index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", index.simple_url)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==1.0\n")
    result = runner.invoke(app, ["harden", "--no-resolve", "--no-pip-conf", str(requirements)])
    assert result.exit_code == 0, result.stderr


def test_simple_api_serves_an_index_without_json_api(index: IndexServer, tmp_path: Path) -> None:
    index.add_fault(r"^/pypi/", "404", times=100)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==2.0\ntinyutil==1.0\n")
    code, _, err = harden(index, "--verbose", str(requirements))
    assert code == 0, err
    assert requirements.read_text().count("--hash=") == 5
    assert "simple-json" in err


def test_relative_file_urls_and_release_endpoint(make_index: IndexFactory, tmp_path: Path) -> None:
    index = make_index(release_endpoint=True, relative_urls=True)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==2.0\ntinyutil==1.0\n")
    code, _, err = harden(index, str(requirements))
    assert code == 0, err
    assert any(r.path == "/pypi/tinyweb/2.0/json" for r in index.requests)
    assert not any(r.path == "/pypi/tinyweb/json" for r in index.requests)


def test_retries_a_500_then_succeeds(index: IndexServer, tmp_path: Path) -> None:
    index.add_fault(r"^/(pypi|simple)/tinyweb/", "500", times=1)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==1.0\n")
    code, _, err = harden(index, str(requirements))
    assert code == 0, err


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("500", "could not fetch"),
        ("truncated", "connection broke off"),
        ("malformed", "malformed JSON"),
        ("wrong-shape", "JSON of an unexpected shape"),
        ("bad-digest", "malformed sha256 digest"),
    ],
)
def test_index_failures_exit_3_naming_package_and_index(
    index: IndexServer, tmp_path: Path, fault: str, message: str
) -> None:
    index.add_fault(r"^/(pypi|simple)/tinyweb/", fault, times=10)  # type: ignore[arg-type]
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==1.0\n")
    code, _, err = harden(index, str(requirements))
    assert code == 3, err
    flat = " ".join(err.split())
    assert "tinyweb==1.0" in flat
    assert message in flat
    assert "Traceback" not in err
    assert requirements.read_text() == "tinyweb==1.0\n"


def test_unreachable_index_exits_3(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==1.0\n")
    code, _, err = harden("http://127.0.0.1:9/simple", "--retries", "0", str(requirements))
    assert code == 3
    assert "could not connect" in err


def test_credentials_are_used_and_never_shown(make_index: IndexFactory, tmp_path: Path) -> None:
    index = make_index(auth=("user", "s3cret-token"))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==1.0\n")
    code, out, err = harden(index.simple_url_with_auth, "--verbose", str(requirements))
    assert code == 0, err
    assert "s3cret-token" not in out + err + requirements.read_text()
    assert any("authorization" in {k.lower() for k in r.headers} for r in index.requests)
    index.add_fault(r"^/(pypi|simple)/", "500", times=10)
    requirements.write_text("tinyutil==1.0\n")
    code, out, err = harden(index.simple_url_with_auth, "--verbose", str(requirements))
    assert code == 3
    assert "s3cret-token" not in out + err
    assert "***@127.0.0.1" in err


def test_wrong_credentials_exit_3(make_index: IndexFactory, tmp_path: Path) -> None:
    index = make_index(auth=("user", "right"))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==1.0\n")
    url = index.simple_url.replace("http://", "http://user:wrong@")
    code, _, err = harden(url, str(requirements))
    assert code == 3
    assert "refused access" in err
    assert "wrong" not in err


def test_pip_conf_is_written_next_to_the_file_by_default(
    index: IndexServer, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==1.0\n")
    result = runner.invoke(
        app, ["harden", "--no-resolve", "--index-url", index.simple_url, str(requirements)]
    )
    assert result.exit_code == 0, result.stderr
    conf = tmp_path / "pip.conf"
    assert "require-hashes = true" in conf.read_text()
    assert "PIP_CONFIG_FILE" in result.stderr
    assert "UV_REQUIRE_HASHES=1" in " ".join(result.stderr.split())


def test_pip_conf_in_the_active_virtual_environment(
    index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinyweb==1.0\n")
    result = runner.invoke(
        app, ["harden", "--no-resolve", "--index-url", index.simple_url, str(requirements)]
    )
    assert result.exit_code == 0, result.stderr
    assert "require-hashes = true" in (venv / "pip.conf").read_text()
    assert not (tmp_path / "pip.conf").exists()


def test_pip_conf_command_merges(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text("# mine\n[global]\ntimeout = 60\n")
    result = runner.invoke(app, ["pip-conf", str(conf)])
    assert result.exit_code == 0, result.stderr
    text = conf.read_text()
    assert text.startswith("# mine\n[global]\ntimeout = 60\n")
    assert "[install]\nrequire-hashes = true" in text


def _pip(*args: str, conf: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=str(conf), PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return subprocess.run(
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_pip_installs_the_output_in_hash_mode_and_refuses_a_swapped_file(
    index: IndexServer, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# app\ntinyweb==2.0  # web\ntinyutil==1.2\n")
    conf = tmp_path / "pip.conf"
    result = runner.invoke(
        app,
        [
            "harden",
            "--no-resolve",
            "--index-url",
            index.simple_url,
            "--pip-conf",
            str(conf),
            str(requirements),
        ],
    )
    assert result.exit_code == 0, result.stderr
    install = ["install", "--index-url", index.simple_url, "-r", str(requirements)]
    ok = _pip(*install, "--target", str(tmp_path / "t1"), conf=conf, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "t1" / "tinyweb").is_dir()
    # Hash mode is on from pip.conf alone: an unhashed requirement is refused.
    (tmp_path / "loose.txt").write_text("tinyweb==2.0\n")
    loose = _pip(
        "install", "--index-url", index.simple_url, "-r", "loose.txt",
        "--target", str(tmp_path / "t2"), conf=conf, cwd=tmp_path,
    )  # fmt: skip
    assert loose.returncode != 0
    assert "Hashes are required in --require-hashes mode" in loose.stderr
    # A tampered mirror: same name, other bytes.
    index.swap_file(
        "tinyweb-2.0-py3-none-any.whl", b"PK\x05\x06" + bytes(18), update_metadata=False
    )
    bad = _pip(*install, "--target", str(tmp_path / "t3"), conf=conf, cwd=tmp_path)
    assert bad.returncode != 0
    assert "DO NOT MATCH THE HASHES" in bad.stderr


def test_python_dash_m_and_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hardenreq", "harden", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "--no-resolve" in result.stdout
    assert "hardenreq harden --no-resolve requirements.txt" in result.stdout
