"""Locks with sdists, end to end against the loopback index: the hashed build-constraints
file (static and dynamic build requirements, a build requirement that is an sdist itself),
the pip.conf that names it, pip building and installing in hash-checking mode with it, and
what refuses: conflicting build needs, --only-binary, a tampered or hostile sdist.

The index serves no setuptools: every sdist here builds with a tiny PEP 517 backend of the
test suite (``tests.index.TINY_BACKEND``), shipped in the sdist or published as one.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import IndexFactory, IndexServer, build_backend_sdist, build_wheel

runner = CliRunner()

SDISTS = "dynpkg\nnestpkg\ntinyweb==2.0\n"


def _publish_build_projects(index: IndexServer, folder: Path) -> None:
    """The backends' packages (wheels) and the sdists the tests lock."""
    for name, version in (("buildkit", "1.0"), ("buildkit", "2.0"), ("buildextra", "1.0")):
        index.add_file(build_wheel(folder, name, version))
    # get_requires_for_build_wheel asks for buildextra; the build imports both.
    index.add_file(
        build_backend_sdist(
            folder,
            "dynpkg",
            "1.0",
            build_requires=["buildkit>=1.0"],
            dynamic_requires=["buildextra>=1.0"],
            imports=["buildkit", "buildextra"],
        )
    )
    # A second sdist with the same [build-system] requires: the same environment.
    index.add_file(
        build_backend_sdist(
            folder, "samepkg", "1.0", build_requires=["buildkit>=1.0"], imports=["buildkit"]
        )
    )
    # srcbackend is itself only an sdist, and it is nestpkg's build backend.
    index.add_file(
        build_backend_sdist(
            folder,
            "srcbackend",
            "1.0",
            build_requires=["buildkit>=1.0"],
            imports=["buildkit"],
            is_backend=True,
        )
    )
    index.add_file(
        build_backend_sdist(
            folder, "nestpkg", "1.0", build_requires=["srcbackend==1.0"], backend="srcbackend"
        )
    )
    index.add_file(build_backend_sdist(folder, "oldpkg", "1.0", build_requires=["buildkit<2"]))
    index.add_file(build_backend_sdist(folder, "newpkg", "1.0", build_requires=["buildkit>=2"]))


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pytest.MonkeyPatch]:
    """conftest's isolation from this machine's pip settings, for module-scoped fixtures
    (its own fixture is per test)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.upper().startswith(("PIP_", "UV_")) or name.lower() in (
                "virtual_env",
                "netrc",
                "http_proxy",
                "https_proxy",
                "all_proxy",
                "ssl_cert_file",
            ):
                patch.delenv(name)
        home = tmp_path_factory.mktemp("home")
        patch.setenv("HOME", str(home))
        patch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        patch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
        patch.setenv("PIP_CONFIG_FILE", os.devnull)
        patch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        patch.setenv("PIP_NO_INPUT", "1")
        patch.setenv("NO_COLOR", "1")
        yield patch


@pytest.fixture(scope="module")
def build_index(
    isolated: pytest.MonkeyPatch, artifacts: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IndexServer]:
    """One loopback index for the module: the standard projects and the build projects."""
    del isolated
    from tests.index import publish_standard_projects

    with IndexServer(cache_dir=artifacts) as server:
        publish_standard_projects(server)
        _publish_build_projects(server, tmp_path_factory.mktemp("build-projects"))
        yield server
        assert not server.errors, "\n".join(server.errors)


def harden(index: IndexServer, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["harden", "-i", index.simple_url, "--retries", "1", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def hardened(
    build_index: IndexServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """A folder where ``harden requirements.in`` ran once (dynpkg, nestpkg, tinyweb), with
    its pip.conf beside the lock; and the run's stderr."""
    work = tmp_path_factory.mktemp("hardened")
    (work / "requirements.in").write_text(SDISTS)
    here = Path.cwd()
    os.chdir(work)
    try:
        code, _, err = harden(build_index, "-v", "--pip-conf", "pip.conf", "requirements.in")
    finally:
        os.chdir(here)
    assert code == 0, err
    return work, err


@pytest.fixture
def work(hardened: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the hardened folder to change, as the working folder (its pip.conf names
    the copy's build constraints)."""
    copy = tmp_path / "work"
    shutil.copytree(hardened[0], copy)
    conf = copy / "pip.conf"
    conf.write_text(conf.read_text().replace(str(hardened[0]), str(copy)))
    monkeypatch.chdir(copy)
    return copy


def digests(index: IndexServer, filename: str) -> str:
    return f"--hash=sha256:{index.sha256(filename)}"


def pip_install(index: IndexServer, folder: Path, conf: Path) -> subprocess.CompletedProcess[str]:
    """pip 26.3 installing the lock, hash-checking mode and build constraints from ``conf``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    no_xdg = folder / "no-xdg"
    no_xdg.mkdir(exist_ok=True)
    env.update(PIP_CONFIG_FILE=str(conf), XDG_CONFIG_DIRS=str(no_xdg))
    command = [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--index-url"]
    command += [index.simple_url, "--target", str(folder / "target"), "-r", "requirements.txt"]
    return subprocess.run(
        command,
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_build_requirements_are_resolved_hashed_and_named_in_pip_conf(
    build_index: IndexServer, hardened: tuple[Path, str]
) -> None:
    work, err = hardened
    index = build_index
    assert (work / "build-constraints.txt").read_text() == (
        "# This file is generated by hardenreq: the build requirements of the sdists in "
        "requirements.txt.\n"
        "# To update it: hardenreq harden requirements.in -o requirements.txt\n"
        "#\n"
        "# pip reads it through build-constraint in pip.conf (or --build-constraint): every\n"
        "# package pip installs to build one of those sdists is pinned here, with its hashes.\n"
        # dynamic: what dynpkg's backend asked for in get_requires_for_build_wheel
        f"buildextra==1.0 \\\n    {digests(index, 'buildextra-1.0-py3-none-any.whl')}\n"
        "    # via dynpkg (build)\n"
        f"buildkit==2.0 \\\n    {digests(index, 'buildkit-2.0-py3-none-any.whl')}\n"
        "    # via\n    #   dynpkg (build)\n    #   srcbackend (build)\n"
        # an sdist needed to build nestpkg, whose own build requirement (buildkit) is here too
        f"srcbackend==1.0 \\\n    {digests(index, 'srcbackend-1.0.tar.gz')}\n"
        "    # via nestpkg (build)\n"
    )
    conf = (work / "pip.conf").read_text()
    value = str(work / "build-constraints.txt")
    assert conf.count(f"build-constraint = {value}\n") == 2
    assert "[install]\nrequire-hashes = true\nbuild-constraint = " in conf
    assert "[download]\nrequire-hashes = true\nbuild-constraint = " in conf
    assert "3 pins, 3 hashes to build 3 sdists (dynpkg==1.0, nestpkg==1.0, srcbackend==1.0)" in err
    assert f"--build-constraints {value}" in err  # uv's equivalent
    assert "UV_REQUIRE_HASHES=1" in err
    # tinyweb has a wheel for every platform: nothing to build for it.
    assert "tinyweb" not in (work / "build-constraints.txt").read_text()


def test_pip_builds_and_installs_in_hash_checking_mode_with_the_written_pip_conf(
    build_index: IndexServer, work: Path
) -> None:
    result = pip_install(build_index, work, work / "pip.conf")

    assert result.returncode == 0, result.stderr
    assert "Successfully installed" in result.stdout
    for name in ("dynpkg", "nestpkg", "tinyweb"):
        assert (work / "target" / name / "__init__.py").is_file()
    # Built here, from the sdists, with the hashed build requirements.
    assert "Building wheel for dynpkg" in result.stdout
    assert "Building wheel for nestpkg" in result.stdout


def test_a_changed_hash_in_the_build_constraints_makes_the_install_fail(
    build_index: IndexServer, work: Path
) -> None:
    constraints = work / "build-constraints.txt"
    real = build_index.sha256("buildkit-2.0-py3-none-any.whl")
    constraints.write_text(constraints.read_text().replace(real, "0" * 64))

    result = pip_install(build_index, work, work / "pip.conf")

    assert result.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in result.stderr


def test_without_the_build_constraint_line_hash_mode_refuses_the_build(
    build_index: IndexServer, work: Path
) -> None:
    conf = work / "pip.conf"
    conf.write_text(re.sub(r"build-constraint = .*\n", "", conf.read_text()))

    result = pip_install(build_index, work, conf)

    assert result.returncode != 0
    assert "must have their versions pinned with ==" in result.stderr


def test_a_second_run_is_byte_identical(build_index: IndexServer, work: Path) -> None:
    before = {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()}

    code, _, err = harden(build_index, "-v", "--pip-conf", "pip.conf", "requirements.in")

    assert code == 0, err
    assert {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()} == before
    assert "0 files written" in err
    assert "already requires hashes and names the build constraints" in err
    # Both sdists with [build-system] requires buildkit>=1.0 (dynpkg, srcbackend) were
    # asked in one environment: one per set of pins, for the run.
    assert re.search(r"build-constraints\.txt: \d rounds?, 2 isolated environments, 3 backend", err)


def test_one_environment_serves_every_sdist_with_the_same_requirements(
    build_index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text("dynpkg==1.0\nsamepkg==1.0\n")

    code, _, err = harden(build_index, "-v", "--no-resolve", "--no-pip-conf", "requirements.txt")

    assert code == 0, err
    assert "1 isolated environment, 2 backend hooks" in err
    text = Path("build-constraints.txt").read_text()
    assert "buildkit==2.0 \\\n" in text
    assert "    # via\n    #   dynpkg (build)\n    #   samepkg (build)\n" in text
    assert "# To update it: hardenreq harden --no-resolve requirements.txt\n" in text


def test_a_lock_of_wheels_only_writes_no_build_constraints(
    build_index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("requirements.in").write_text("tinyweb\n")

    code, _, err = harden(build_index, "--pip-conf", "pip.conf", "requirements.in")
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    again, _, err2 = harden(build_index, "--pip-conf", "pip.conf", "requirements.in")

    assert code == again == 0, err + err2
    assert sorted(first) == ["pip.conf", "requirements.in", "requirements.txt"]
    assert b"build-constraint" not in first["pip.conf"].replace(b"--build-constraint FILE", b"")
    assert "build constraints" not in err
    assert "UV_BUILD_CONSTRAINT" not in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first


def test_conflicting_build_requirements_name_both_sdists(
    build_index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text("oldpkg==1.0\nnewpkg==1.0\n")
    before = Path("requirements.txt").read_bytes()

    code, _, err = harden(build_index, "--no-resolve", "--pip-conf", "pip.conf", "requirements.txt")

    assert code == 2, err
    assert "conflicting build requirements" in err
    assert "oldpkg==1.0 (oldpkg-1.0.tar.gz) needs buildkit<2" in err
    assert "newpkg==1.0 (newpkg-1.0.tar.gz) needs buildkit>=2" in err
    assert "hint: pin another release of one of these sdists" in err
    assert "nothing was written" in err
    assert Path("requirements.txt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["requirements.txt"]


@pytest.mark.parametrize("how", ["flag", "file"])
def test_only_binary_makes_an_sdist_only_pin_an_error(
    build_index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.chdir(tmp_path)
    lines = "--only-binary :all:\n" if how == "file" else ""
    Path("requirements.txt").write_text(f"{lines}tinyweb==2.0\ndynpkg==1.0\n")
    flags = ["--only-binary", ":all:"] if how == "flag" else []

    code, _, err = harden(build_index, "--no-resolve", "--no-pip-conf", *flags, "requirements.txt")

    line = 3 if how == "file" else 2
    assert code == 2, err
    assert f"requirements.txt:{line}: dynpkg==1.0: no wheel of this release installs here" in err
    assert "--only-binary forbids building its sdist" in err
    assert "tinyweb" not in err
    assert not Path("build-constraints.txt").exists()


def test_only_binary_for_one_name_leaves_the_others_buildable(
    build_index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text("--only-binary tinyweb\ntinyweb==2.0\nsamepkg==1.0\n")

    code, _, err = harden(build_index, "--no-resolve", "--no-pip-conf", "requirements.txt")

    assert code == 0, err
    assert "    # via samepkg (build)\n" in Path("build-constraints.txt").read_text()


def _small_index(make_index: IndexFactory, folder: Path) -> IndexServer:
    """A fresh index (changed by the test) with buildkit and samepkg only."""
    index = make_index(standard=False)
    index.add_file(build_wheel(folder, "buildkit", "2.0"))
    index.add_file(
        build_backend_sdist(
            folder, "samepkg", "1.0", build_requires=["buildkit>=1.0"], imports=["buildkit"]
        )
    )
    return index


def test_a_tampered_sdist_is_refused_before_it_is_unpacked(
    make_index: IndexFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    index = _small_index(make_index, tmp_path / "dist")
    honest = index.sha256("samepkg-1.0.tar.gz")
    evil = build_backend_sdist(tmp_path / "evil", "samepkg", "1.0", dynamic_requires=["x"])
    # A mirror that serves other bytes under the digest the index lists.
    index.swap_file("samepkg-1.0.tar.gz", evil.read_bytes(), update_metadata=False)
    Path("requirements.txt").write_text("samepkg==1.0\n")

    code, _, err = harden(index, "--no-resolve", "--no-pip-conf", "requirements.txt")

    assert code == 3, err
    assert "samepkg==1.0 (samepkg-1.0.tar.gz): the sdist the index served has sha256" in err
    assert f"not the {honest} the index lists and the lock pins" in err
    assert "refusing to unpack it" in err
    assert "nothing was written" in err
    assert Path("requirements.txt").read_text() == "samepkg==1.0\n"


def _tar_gz(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info, data in members:
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_hostile_sdist_is_not_unpacked_outside_its_folder(
    make_index: IndexFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    index = _small_index(make_index, tmp_path / "dist")
    target = tmp_path / "escaped.txt"
    escape = tarfile.TarInfo(f"evilpkg-1.0/{'../' * 40}{str(target).lstrip('/')}")
    pkg_info = tarfile.TarInfo("evilpkg-1.0/PKG-INFO")
    archive = tmp_path / "dist" / "evilpkg-1.0.tar.gz"
    archive.write_bytes(
        _tar_gz([(pkg_info, b"Metadata-Version: 2.1\nName: evilpkg\nVersion: 1.0\n"),
                 (escape, b"pwned")])
    )  # fmt: skip
    index.add_file(archive)
    Path("requirements.txt").write_text("evilpkg==1.0\n")

    code, _, err = harden(index, "--no-resolve", "--no-pip-conf", "requirements.txt")

    assert code == 3, err
    assert "evilpkg==1.0 (evilpkg-1.0.tar.gz): refusing to unpack the sdist" in err
    assert "leaves the archive's folder" in err
    assert not target.exists()
    assert Path("requirements.txt").read_text() == "evilpkg==1.0\n"
