"""Regressions from a security review: hashes never dropped unseen, credentials never shown
or written, pip's settings never leaking into resolution, odd inputs failing cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import IndexFactory, IndexServer, build_wheel

runner = CliRunner()
SECRET = "S3CRET-token-value"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def run(index: IndexServer | str, *args: str) -> tuple[int, str, str]:
    url = index if isinstance(index, str) else index.simple_url
    result = runner.invoke(app, [args[0], "-i", url, "--retries", "0", *args[1:]])
    return result.exit_code, result.stdout, result.stderr


def publish_url_wheel(index: IndexServer, tmp_path: Path, payload: bytes = b"") -> str:
    wheel = build_wheel(tmp_path / f"w{len(payload)}", "urlpkg", "1.0", payload=payload)
    index.add_file(wheel)
    return index.file_url(wheel.name)


def test_a_wrong_hash_in_the_source_is_not_dropped(index: IndexServer) -> None:
    good = index.sha256("tinyweb-2.0-py3-none-any.whl")
    Path("requirements.in").write_text(
        f"tinyweb==2.0 \\\n    --hash=sha256:{good} \\\n    --hash=sha256:{'a' * 64}\n"
    )
    code, _, err = run(index, "harden", "--no-pip-conf", "requirements.in", "-o", "lock.txt")
    assert code == 2
    assert f"hash sha256:{'a' * 64} matches no file" in " ".join(err.split())
    assert not Path("lock.txt").exists()


def test_a_swapped_direct_url_is_caught_by_harden_and_verify(
    index: IndexServer, tmp_path: Path
) -> None:
    url = publish_url_wheel(index, tmp_path)
    Path("r.in").write_text(f"urlpkg @ {url}\n")
    assert run(index, "harden", "--no-pip-conf", "r.in")[0] == 0
    locked = Path("r.txt").read_text()
    other = build_wheel(tmp_path / "other", "urlpkg", "1.0", payload=b"evil")
    index.swap_file(Path(url).name, other.read_bytes(), update_metadata=False)
    code, _, err = run(index, "harden", "--no-pip-conf", "r.in")
    assert code == 2, err
    assert "matches no file" in " ".join(err.split())
    assert Path("r.txt").read_text() == locked
    code, out, _ = run(index, "verify", "--format", "json", "r.txt")
    assert code == 1
    assert [f["kind"] for f in json.loads(out)["findings"]] == ["unknown-hash"]


@pytest.mark.parametrize("output_format", ["text", "json", "github", "sarif"])
def test_credentials_never_reach_a_verify_report(
    index: IndexServer, monkeypatch: pytest.MonkeyPatch, output_format: str
) -> None:
    monkeypatch.setenv("MY_TOKEN", SECRET)
    Path("r.txt").write_text(
        "urlpkg @ http://bob:${MY_TOKEN}@127.0.0.1:9/urlpkg-1.0-py3-none-any.whl\n"
        f"other @ git+https://bob:{SECRET}@example.invalid/y.git\n"
    )
    code, out, err = run(index, "verify", "--format", output_format, "-o", "out", "r.txt")
    assert code == 1
    assert SECRET not in out + err + Path("out").read_text()


def test_an_expanded_secret_is_never_written_into_a_lock(
    index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = publish_url_wheel(index, tmp_path)
    monkeypatch.setenv("URL_HOST", url.split("/")[2])
    Path("base.in").write_text("urlpkg @ http://${URL_HOST}/" + url.split("/", 3)[3] + "\n")
    Path("r.in").write_text("-r base.in\ntinyweb==1.0\n")
    code, _, err = run(index, "harden", "--no-pip-conf", "r.in")
    assert code == 0, err
    lock = Path("r.txt").read_text()
    assert "urlpkg @ http://${URL_HOST}/" in lock
    assert url.split("/")[2] not in lock


def test_a_requirement_hidden_by_a_comment_is_an_error_and_a_finding(
    index: IndexServer,
) -> None:
    Path("r.in").write_text("tinyweb==1.0  # web framework \\\nyankee==1.1\n")
    code, _, err = run(index, "harden", "--no-pip-conf", "r.in")
    assert code == 2
    assert "makes pip ignore 'yankee==1.1'" in err
    code, out, _ = run(index, "verify", "--format", "json", "r.in")
    kinds = [f["kind"] for f in json.loads(out)["findings"]]
    assert "ineffective-hash" in kinds
    assert code == 1


def test_a_marker_split_keeps_each_line_to_its_own_version(index: IndexServer) -> None:
    Path("r.in").write_text(
        'tinyweb==1.0 ; python_version < "3.10"\ntinyweb==2.0 ; python_version >= "3.10"\n'
    )
    code, _, err = run(index, "harden", "--no-pip-conf", "r.in")
    assert code == 0, err
    lock = Path("r.txt").read_text()
    assert '# tinyweb==1.0 ; python_version < "3.10"  # left out' in lock
    assert 'tinyweb==2.0 ; python_version >= "3.10" \\\n' in lock


def test_pip_find_links_does_not_leak_into_resolution(
    index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    links = tmp_path / "links"
    build_wheel(links, "tinyweb", "3.0")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    Path("r.in").write_text("tinyweb\n")
    code, _, err = run(index, "harden", "--no-pip-conf", "r.in")
    assert code == 0, err
    assert "tinyweb==2.0 \\" in Path("r.txt").read_text()


def test_extra_index_from_the_environment_is_reported(
    index: IndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("r.txt").write_text("tinyweb==2.0\n")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", index.simple_url)
    code, out, _ = run(index, "verify", "--format", "json", "r.txt")
    kinds = [f["kind"] for f in json.loads(out)["findings"]]
    assert "extra-index" in kinds
    assert code == 1  # the no-hashes error


def test_malformed_netrc_is_ignored_with_a_warning(index: IndexServer) -> None:
    (Path.home() / ".netrc").write_text("machine\n")
    Path("r.txt").write_text("tinyweb==2.0\n")
    code, _, err = run(index, "harden", "--no-resolve", "--no-pip-conf", "r.txt")
    assert code == 0, err
    assert "ignoring" in err


def test_an_index_url_with_a_bad_port_is_exit_2() -> None:
    Path("r.txt").write_text("tinyweb==2.0\n")
    code, _, err = run("http://u:p@127.0.0.1:99999/simple", "harden", "--no-resolve", "r.txt")
    assert code == 2
    assert "not a valid http(s) URL" in err
    assert "u:p@" not in err


def test_pip_conf_goes_next_to_the_named_file_not_an_include(index: IndexServer) -> None:
    Path("app").mkdir()
    Path("shared").mkdir()
    Path("shared/base.txt").write_text("tinyutil==1.2\n")
    Path("app/requirements.txt").write_text("-r ../shared/base.txt\ntinyweb==2.0\n")
    code, _, err = run(index, "harden", "--no-resolve", "app/requirements.txt")
    assert code == 0, err
    assert Path("app/pip.conf").exists()
    assert not Path("shared/pip.conf").exists()


def test_pyproject_with_odd_values_is_a_config_error(index: IndexServer) -> None:
    Path("pyproject.toml").write_text(
        "[project]\nname = 'x'\nversion = '1'\ndependencies = 'tinyweb'\n"
    )
    code, _, err = run(index, "harden", "--no-pip-conf", "pyproject.toml")
    assert code == 2
    assert "dependencies" in err
    Path("pyproject.toml").write_text(
        "[project]\nname = 'x'\nversion = '1'\ndependencies = ['-e .']\n"
    )
    code, _, err = run(index, "harden", "--no-pip-conf", "pyproject.toml")
    assert code == 2
    Path("pyproject.toml").write_text(
        "[project]\nname = 'x'\nversion = '1'\ndependencies = []\noptional-dependencies = []\n"
    )
    code, _, err = run(index, "harden", "--no-pip-conf", "--extra", "dev", "pyproject.toml")
    assert code == 2
    assert "Traceback" not in err


def test_rebuilding_a_pyproject_lock_keeps_its_extras(index: IndexServer) -> None:
    Path("pyproject.toml").write_text(
        "[project]\nname = 'x'\nversion = '1'\ndependencies = ['tinyweb>=1.0']\n"
        "[project.optional-dependencies]\ndev = ['yankee>=1.1']\n"
    )
    code, _, err = run(
        index, "harden", "--no-pip-conf", "pyproject.toml", "--extra", "dev", "-o", "dev.txt"
    )
    assert code == 0, err
    first = Path("dev.txt").read_text()
    assert "yankee==1.1 \\" in first
    code, _, err = run(index, "harden", "--no-pip-conf", "dev.txt")
    assert code == 0, err
    assert Path("dev.txt").read_text() == first


def test_the_release_endpoint_refused_by_a_proxy_means_simple_api(
    make_index: IndexFactory,
) -> None:
    index = make_index()
    index.add_fault(r"^/pypi/", "403", times=100)
    Path("r.txt").write_text("tinyweb==2.0\n")
    code, _, err = run(index, "harden", "--no-resolve", "--no-pip-conf", "r.txt")
    assert code == 0, err
    assert Path("r.txt").read_text().count("--hash=") == 2


def test_errors_in_lock_mode_name_the_source_line(index: IndexServer) -> None:
    good = index.sha256("tinyweb-2.0-py3-none-any.whl")
    Path("requirements.in").write_text(
        f"# app\ntinyutil\ntinyweb==2.0 --hash=sha256:{good} --hash=sha256:{'b' * 64}\n"
    )
    code, _, err = run(index, "harden", "--no-pip-conf", "requirements.in")
    assert code == 2
    assert "requirements.in:3: tinyweb: hash sha256:" in err
