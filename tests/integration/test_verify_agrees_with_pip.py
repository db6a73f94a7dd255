"""`verify` fails exactly when a lock is unsafe or pip would refuse it. pip is the oracle: each
lock below is installed by pip itself in hash-checking mode (a dry run, which downloads and
checks every file) from the loopback index, and verified; where pip refuses, verify fails,
and where verify fails on a lock pip installs, the case says why the lock is unsafe."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import IndexServer, publish_standard_projects

runner = CliRunner()

Files = Callable[[IndexServer], dict[str, str]]


def _pin(index: IndexServer, name: str, version: str, *files: str, extra: str = "") -> str:
    hashes = " ".join(f"--hash=sha256:{index.sha256(f)}" for f in files)
    return f"{name}{extra}=={version} {hashes}\n"


def _web(index: IndexServer) -> str:
    return _pin(index, "tinyweb", "2.0", "tinyweb-2.0-py3-none-any.whl", "tinyweb-2.0.tar.gz")


def _util(index: IndexServer, version: str = "1.2") -> str:
    return _pin(
        index,
        "tinyutil",
        version,
        f"tinyutil-{version}-py3-none-any.whl",
        f"tinyutil-{version}-cp311-cp311-manylinux_2_17_x86_64.whl",
        f"tinyutil-{version}.tar.gz",
    )


# name: (files of the lock, the file to install, whether pip installs it, what verify says,
# and for a lock pip installs but verify refuses, why it is unsafe)
CASES: dict[str, tuple[Files, bool, str | None, str | None]] = {
    "a complete lock": (lambda i: {"r.txt": _web(i) + _util(i)}, True, None, None),
    "a dependency left out": (lambda i: {"r.txt": _web(i)}, False, "missing-dependency", None),
    "a dependency pinned outside its range": (
        lambda i: {"r.txt": _pin(i, "needy", "1.0", "needy-1.0-py3-none-any.whl") + _util(i)},
        False,
        "missing-dependency",
        None,
    ),
    "a hash of another file": (
        lambda i: {
            "r.txt": _web(i).replace(i.sha256("tinyweb-2.0.tar.gz"), i.sha256("tinyweb-1.0.tar.gz"))
            + _util(i)
        },
        # pip takes the wheel, whose hash is listed; the other hash is no file of the release.
        True,
        "unknown-hash",
        "a hash the index does not confirm may be a replaced file",
    ),
    "only wrong hashes": (
        lambda i: {"r.txt": f"tinyweb==2.0 --hash=sha256:{'1' * 64}\n" + _util(i)},
        False,
        "unknown-hash",
        None,
    ),
    "an unpinned line": (
        lambda i: {"r.txt": _web(i).replace("tinyweb==2.0", "tinyweb>=2") + _util(i)},
        # pip 26 takes the release its hashes name; pips before it refuse the line.
        True,
        "unpinned",
        "only the hashes hold the line to a release, and pip before 26 refuses it",
    ),
    "a line without hashes": (
        lambda i: {"r.txt": "tinyweb==2.0\n" + _util(i)},
        False,
        "no-hashes",
        None,
    ),
    "extras in a constraints file": (
        lambda i: {"r.txt": "-c c.txt\n" + _web(i) + _util(i), "c.txt": "tinyweb[fast]==2.0\n"},
        False,
        "invalid-constraint",
        None,
    ),
    "two versions of one package": (
        lambda i: {
            "r.txt": _web(i) + _util(i) + "-r other.txt\n",
            "other.txt": _util(i, "1.0"),
        },
        False,
        "conflicting-pins",
        None,
    ),
    "a constraint on another version": (
        lambda i: {"r.txt": "-c c.txt\n" + _web(i) + _util(i), "c.txt": "tinyutil==1.0\n"},
        False,
        "conflicting-pins",
        None,
    ),
    "a hashed constraint for the dependency": (
        lambda i: {"r.txt": "-c c.txt\n" + _web(i), "c.txt": _util(i)},
        True,  # pip takes the dependency's pin and hashes from the constraints file
        None,
        None,
    ),
    "a missing -c file": (
        lambda i: {"r.txt": "-c nowhere.txt\n" + _web(i) + _util(i)},
        False,
        "exit 2",
        None,
    ),
    "an option pip refuses": (
        lambda i: {"r.txt": "--use-feature=resolvelib\n" + _web(i) + _util(i)},
        False,
        "exit 2",
        None,
    ),
    "an editable": (
        lambda i: {"r.txt": "-e ./src\n" + _web(i) + _util(i)},
        False,
        "unhashable",
        None,
    ),
    "hashes cut off by a comment": (
        lambda i: {"r.txt": _web(i).replace("2.0 ", "2.0  # note \\\n    ", 1) + _util(i)},
        False,
        "ineffective-hash",
        None,
    ),
    "a yanked release": (
        lambda i: {"r.txt": _pin(i, "yankee", "1.0", "yankee-1.0-py3-none-any.whl")},
        True,
        "yanked",
        "pip installs a yanked release with a warning only",
    ),
    "a dependency whose marker is false here": (
        lambda i: {
            "r.txt": _web(i).replace("tinyweb==2.0 ", 'tinyweb==2.0 ; python_version < "3" ')
        },
        True,
        None,
        None,
    ),
}


@pytest.fixture(scope="module")
def oracle_index(
    tmp_path_factory: pytest.TempPathFactory, artifacts: Path
) -> Iterator[tuple[IndexServer, Path]]:
    index = IndexServer(cache_dir=artifacts)
    index.start()
    publish_standard_projects(index)
    index.publish("needy", "1.0", requires=["tinyutil<1.1"], sdist=False)
    index.core_metadata = True  # PEP 658: verify can read each release's dependencies
    yield index, tmp_path_factory.mktemp("oracle")
    index.stop()


def _pip_installs(index: IndexServer, folder: Path) -> tuple[bool, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--require-hashes",
         "--ignore-installed", "--index-url", index.simple_url, "--target", str(folder / "t"),
         "-r", "r.txt"],
        capture_output=True, text=True, env=env, cwd=folder, timeout=180, check=False,
    )  # fmt: skip
    return result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", list(CASES))
def test_verify_fails_exactly_when_pip_refuses_or_the_lock_is_unsafe(
    case: str,
    oracle_index: tuple[IndexServer, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index, root = oracle_index
    make, installs, verdict, unsafe = CASES[case]
    folder = root / case.replace(" ", "-")
    folder.mkdir()
    for name, text in make(index).items():
        (folder / name).write_text(text)
    (folder / "src").mkdir()
    monkeypatch.chdir(folder)
    pip_ok, pip_err = _pip_installs(index, folder)
    assert pip_ok == installs, pip_err
    result = runner.invoke(app, ["verify", "-i", index.simple_url, "--retries", "0", "r.txt"])
    verify_ok = result.exit_code == 0
    # The promise: pip refuses -> verify fails; verify passes -> pip installs.
    if not pip_ok:
        assert not verify_ok, (pip_err, result.stdout)
    if verify_ok:
        assert pip_ok, pip_err
    # verify fails on a lock pip installs only where the lock is unsafe, and says why.
    if pip_ok and not verify_ok:
        assert unsafe is not None, result.stdout
    if verdict == "exit 2":
        assert result.exit_code == 2, result.stderr
    elif verdict is not None:
        assert result.exit_code == 1, result.stdout + result.stderr
        assert verdict in result.stdout
    else:
        assert result.exit_code == 0, result.stdout
