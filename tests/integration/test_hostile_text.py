"""Hostile text from a real (loopback) index, end to end through the CLI: a yank reason full
of terminal sequences, CI-log commands and markup reaches every channel escaped, and index
URLs holding secrets (in the userinfo, with an unencoded "/"; in the path; in the query)
never show them. Channels: stderr, and stdout in the text, github, json and sarif formats."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import IndexServer, build_wheel

runner = CliRunner()

SECRET = "S3CRET"
REASON = (
    "\x1b[31mred\x1b[0m\x1b]0;title\x07\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\"
    "\n::error file=x::INJECTED\r##[error]legacy \u202eevil\u202c <img src=x onerror=alert(1)>"
    " @team [a](http://x.example) \x00\x9b" + "x" * 300_000
)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def assert_log_safe(text: str, *, commands: int = 0) -> None:
    unsafe = [
        repr(c)
        for c in text
        if c != "\n" and unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"}
    ]
    assert unsafe == []
    assert sum(line.lstrip().startswith("::") for line in text.split("\n")) == commands
    assert "##[" not in text
    assert "INJECTED" not in text or "\\x3a:error" in text or commands
    assert SECRET not in text
    assert len(text) < 50_000  # the 300,000-character reason was cut


@pytest.fixture
def hostile_lock(index: IndexServer) -> Path:
    index.yank("yankee", "1.0", REASON)
    lock = Path("requirements.txt")
    lock.write_text("yankee==1.0\n")
    code, out, err = invoke(
        "harden", "--no-resolve", "--no-pip-conf", "-i", index.simple_url, str(lock)
    )
    assert code == 0, err
    # harden warns about the yanked pin on stderr, quoting the reason: escaped.
    assert "is yanked" in err
    assert "\\x1b[31mred" in err
    assert_log_safe(out + err)
    return lock


def test_verify_text_shows_the_reason_escaped(index: IndexServer, hostile_lock: Path) -> None:
    code, out, err = invoke("verify", "-i", index.simple_url, str(hostile_lock))

    assert code == 1
    assert "\\x1b[31mred\\x1b[0m\\x1b]0;title\\x07" in out
    assert "\\x3a:error file=x::INJECTED\\x0d#\\x23[error]legacy \\u202eevil\\u202c" in out
    assert "more characters]" in out
    assert_log_safe(out + err)


def test_verify_github_is_one_annotation(index: IndexServer, hostile_lock: Path) -> None:
    code, out, err = invoke(
        "verify", "-i", index.simple_url, "--format", "github", str(hostile_lock)
    )

    assert code == 1
    *annotations, summary = out.splitlines()
    yanked = [a for a in annotations if "title=hardenreq yanked::" in a]
    assert len(yanked) == 1
    assert yanked[0].startswith("::error file=requirements.txt,line=1,title=hardenreq yanked::")
    assert "%0A::error file=x::INJECTED%0D#\\x23[error]" in yanked[0]
    assert summary.startswith("1 error")
    # Only hardenreq's own annotations are commands (yankee 1.1 being out is the other).
    assert all(a.startswith(("::error file=", "::notice file=")) for a in annotations)
    assert_log_safe(out, commands=len(annotations))
    assert_log_safe(err)


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_verify_json_and_sarif_stay_valid(index: IndexServer, hostile_lock: Path, fmt: str) -> None:
    code, out, err = invoke("verify", "-i", index.simple_url, "--format", fmt, str(hostile_lock))

    assert code == 1
    document = json.loads(out)
    json.dumps(document, ensure_ascii=False).encode("utf-8")
    assert "##" not in out
    assert "\x1b" not in out  # JSON escapes it as \u001b
    if fmt == "json":
        (finding,) = [f for f in document["findings"] if f["kind"] == "yanked"]
        assert finding["details"]["reason"] == REASON  # data: whole
        assert len(finding["message"]) < 2_000  # a message: cut
    assert_log_safe(err)


@pytest.mark.parametrize(
    "index_url",
    [
        "http://alice:S3CRET/PW@{host}/simple",
        "http://alice:S3CRET#PW@{host}/simple",
        "http://alice:S3CRET?PW@{host}/simple",
        "http://{host}/S3CRETd8f3kq9x2LmT7wPz4/simple",
        "http://{host}/simple?token=S3CRET",
    ],
    ids=["slash-in-password", "hash-in-password", "question-in-password", "path", "query"],
)
@pytest.mark.parametrize("command", ["harden", "verify"])
def test_secrets_in_the_index_url_never_show(
    index: IndexServer, index_url: str, command: str
) -> None:
    lock = Path("requirements.txt")
    lock.write_text("tinyweb==1.0\n")
    url = index_url.format(host=index.simple_url.split("/")[2])
    args = ["--no-resolve", "--no-pip-conf"] if command == "harden" else []

    code, out, err = invoke(command, *args, "-v", "--retries", "0", "-i", url, str(lock))

    assert code != 4, err
    assert SECRET not in out + err
    assert SECRET not in lock.read_text()


def test_refresh_markdown_shows_a_hostile_filename_as_text(
    index: IndexServer, tmp_path: Path
) -> None:
    # The index lists a wheel whose platform tag holds markup (issue 9, item 7); the report
    # becomes a pull-request body, so the name must render as text, or not at all.
    Path("requirements.in").write_text("tinyutil\n")
    code, _, err = invoke(
        "harden", "--no-pip-conf", "-i", index.simple_url, "--retries", "0", "requirements.in"
    )
    assert code == 0, err
    tag = "cp313-cp313-win_amd64<img src=x onerror=alert(1)>@team`|x"
    index.add_file(build_wheel(tmp_path / "new", "tinyutil", "1.2", tag=tag))

    code, out, err = invoke(
        "refresh", "-i", index.simple_url, "--retries", "0", "--dry-run", "requirements.in"
    )

    assert code == 0, err
    assert "<img" not in out
    assert "@team" not in out
    assert "`|x" not in out
    if "win\\_amd64" in out or "win_amd64" in out:  # listed: escaped
        assert "&lt;img src=x onerror=alert(1)&gt;@\u200bteam\\`\\|x.whl" in out
    assert_log_safe(out.replace("\u200b", ""))
    assert_log_safe(err)
