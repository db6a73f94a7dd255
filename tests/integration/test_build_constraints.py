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
        "# The sdists these pins build, with the sha256 of each:\n"
        f"#   dynpkg==1.0 {index.sha256('dynpkg-1.0.tar.gz')}\n"
        f"#   nestpkg==1.0 {index.sha256('nestpkg-1.0.tar.gz')}\n"
        f"#   srcbackend==1.0 {index.sha256('srcbackend-1.0.tar.gz')}\n"
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
    # dynpkg and srcbackend both need buildkit==2.0 installed to be asked: one environment.
    assert "build-constraints.txt: 2 rounds, 2 isolated environments, 3 backend hooks" in err
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
    # Made for the same sdists (same sha256): no backend runs again, only hashes are checked.
    assert "asking the build backend" not in err
    assert "isolated environment" not in err


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


# -- verify ---------------------------------------------------------------------------------


def verify(index: IndexServer, conf: Path | str) -> tuple[int, list[dict[str, object]], int]:
    """verify requirements.txt with ``conf`` as pip's configuration: the exit code, the
    findings and how many files were checked."""
    import json

    os.environ["PIP_CONFIG_FILE"] = str(conf)
    try:
        result = runner.invoke(
            app, ["verify", "-i", index.simple_url, "--format", "json", "requirements.txt"]
        )
    finally:
        os.environ["PIP_CONFIG_FILE"] = os.devnull
    assert result.exit_code in (0, 1), result.stderr
    document = json.loads(result.stdout)
    return result.exit_code, document["findings"], document["summary"]["files"]


def errors(found: list[dict[str, object]]) -> list[tuple[object, object, object, object]]:
    return [
        (f["kind"], f["file"], f["line"], f["package"]) for f in found if f["severity"] == "error"
    ]


def test_verify_passes_when_pip_is_configured_with_the_build_constraints(
    build_index: IndexServer, work: Path
) -> None:
    code, found, files = verify(build_index, work / "pip.conf")

    assert code == 0, found
    assert errors(found) == []
    assert files == 2  # the lock, and the build constraints pip is configured to use


def test_verify_reports_unhashed_builds_without_the_build_constraint_setting(
    build_index: IndexServer, work: Path
) -> None:
    code, found, files = verify(build_index, os.devnull)

    assert code == 1
    assert files == 1
    assert errors(found) == [
        ("unhashed-build", "requirements.txt", 4, "dynpkg"),
        ("unhashed-build", "requirements.txt", 6, "nestpkg"),
    ]
    message = str(found[0]["message"])
    assert "pip builds it from its sdist here (dynpkg-1.0.tar.gz" in message
    assert "pip's configuration names no build-constraint file" in message
    assert f"[install] build-constraint = {work / 'build-constraints.txt'}" in message


def test_verify_checks_the_build_constraints_file_itself(
    build_index: IndexServer, work: Path
) -> None:
    constraints = work / "build-constraints.txt"
    real = build_index.sha256("buildextra-1.0-py3-none-any.whl")
    constraints.write_text(constraints.read_text().replace(real, "0" * 64))

    code, found, _ = verify(build_index, work / "pip.conf")

    assert code == 1
    assert errors(found) == [("unknown-hash", "build-constraints.txt", 10, "buildextra")]


def test_verify_reports_a_build_constraint_file_pip_cannot_read(
    build_index: IndexServer, work: Path
) -> None:
    conf = work / "pip.conf"
    missing = work / "gone" / "build-constraints.txt"
    conf.write_text(conf.read_text().replace(str(work / "build-constraints.txt"), str(missing)))

    code, found, _ = verify(build_index, conf)

    assert code == 1
    kinds = errors(found)
    assert ("build-constraint", "requirements.txt", None, None) in kinds
    assert ("unhashed-build", "requirements.txt", 4, "dynpkg") in kinds
    assert str(missing) in str(next(f for f in found if f["kind"] == "build-constraint")["message"])


# -- refresh --------------------------------------------------------------------------------


def test_refresh_keeps_the_build_constraints_current_and_reports_them_apart(
    make_index: IndexFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    index = _small_index(make_index, tmp_path / "dist")
    Path("requirements.in").write_text("samepkg\n")
    code, _, err = harden(index, "--no-pip-conf", "requirements.in")
    assert code == 0, err
    assert "buildkit==2.0 \\\n" in Path("build-constraints.txt").read_text()
    index.add_file(build_wheel(tmp_path / "dist", "buildkit", "2.1"))

    result = runner.invoke(app, ["refresh", "-i", index.simple_url, "requirements.in",
                                 "--report", "refresh.md"])  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert "buildkit==2.1 \\\n" in Path("build-constraints.txt").read_text()
    report = Path("refresh.md").read_text()
    locks, _, builds = report.partition("## Build constraints")
    assert "buildkit" not in locks
    assert "### `build-constraints.txt` (builds for `requirements.txt`): 1 upgraded" in builds
    assert "| buildkit | upgraded | 2.0 | 2.1 |" in builds
    assert "build-constraints.txt (build): 1 upgraded" in result.stderr

    # A new file for the pinned buildkit: --hashes-only adds its hash, as a hash-only change.
    index.add_file(build_wheel(tmp_path / "dist", "buildkit", "2.1", tag="py311-none-any"))
    result = runner.invoke(app, ["refresh", "-i", index.simple_url, "--hashes-only",
                                 "requirements.in", "--report-format", "json"])  # fmt: skip

    assert result.exit_code == 0, result.stderr
    import json

    document = json.loads(result.stdout)
    (build,) = document["build_constraints"]
    assert build["output"] == "build-constraints.txt"
    assert [(c["package"], c["change"]) for c in build["changes"]] == [("buildkit", "hashes")]
    assert build["changes"][0]["added_files"] == ["buildkit-2.1-py311-none-any.whl"]
    assert (
        index.sha256("buildkit-2.1-py311-none-any.whl") in Path("build-constraints.txt").read_text()
    )


# -- layered locks ----------------------------------------------------------------------------


def test_layered_locks_share_one_file_and_a_partial_run_keeps_the_others(
    build_index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("base.in").write_text("dynpkg\n")
    Path("dev.in").write_text("-c base.txt\nsamepkg\n")

    code, _, err = harden(build_index, "--no-pip-conf", "base.in", "dev.in")

    assert code == 0, err
    text = Path("build-constraints.txt").read_text()
    assert text.startswith(
        "# This file is generated by hardenreq: the build requirements of the sdists in "
        "base.txt, dev.txt.\n"
    )
    assert "    # via\n    #   dynpkg (build)\n    #   samepkg (build)\n" in text
    first = Path("build-constraints.txt").read_bytes()

    # Only dev.in: the file still serves base.txt (read from disk), unchanged.
    code, _, err = harden(build_index, "--no-pip-conf", "dev.in")

    assert code == 0, err
    assert Path("build-constraints.txt").read_bytes() == first


def test_each_lock_can_have_its_own_build_constraints(
    build_index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("base.in").write_text("oldpkg\n")
    Path("dev.in").write_text("newpkg\n")  # conflicting build needs: apart, they agree
    Path("pyproject.toml").write_text(
        "[tool.hardenreq]\n"
        "[[tool.hardenreq.locks]]\n"
        'source = "base.in"\nbuild-constraints = "build/base.txt"\n'
        "[[tool.hardenreq.locks]]\n"
        'source = "dev.in"\nbuild-constraints = "build/dev.txt"\n'
    )

    code, _, err = harden(build_index, "--no-pip-conf", "base.in", "dev.in")

    assert code == 0, err
    base, dev = Path("build/base.txt").read_text(), Path("build/dev.txt").read_text()
    assert "buildkit==1.0 \\\n" in base
    assert "sdists in ../base.txt." in base
    assert "buildkit==2.0 \\\n" in dev
    assert not Path("build-constraints.txt").exists()


def test_a_build_constraints_file_hardenreq_did_not_write_is_left_alone(
    build_index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mine = "# my own\nsetuptools==70.0\n"
    Path("build-constraints.txt").write_text(mine)
    Path("requirements.txt").write_text("tinyweb==2.0\n")

    code, _, err = harden(build_index, "--no-resolve", "--no-pip-conf", "requirements.txt")

    assert code == 0, err
    assert Path("build-constraints.txt").read_text() == mine
    Path("requirements.txt").write_text("samepkg==1.0\n")

    code, _, err = harden(build_index, "--no-resolve", "--no-pip-conf", "requirements.txt")

    assert code == 2
    assert "build-constraints.txt exists and is not a build-constraints file hardenreq wrote" in err
    assert "hint: move it away, or choose another file with --build-constraints" in err
    assert Path("build-constraints.txt").read_text() == mine
    assert Path("requirements.txt").read_text() == "samepkg==1.0\n"


def test_what_a_backend_says_reaches_stderr_escaped(
    make_index: IndexFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    index = _small_index(make_index, tmp_path / "dist")
    index.add_file(
        build_backend_sdist(
            tmp_path / "dist", "loudpkg", "1.0", build_requires=["buildkit>=1.0"],
            warn="\x1b]0;pwned\x07\x1b[31mred\n::error::forged",
        )
    )  # fmt: skip
    Path("requirements.txt").write_text("loudpkg==1.0\n")

    code, _, err = harden(index, "-v", "--no-resolve", "--no-pip-conf", "requirements.txt")

    assert code == 0, err
    assert "the build backend warns" in err
    assert "\x1b" not in err
    assert "\n::error::" not in err
    assert "\\x1b[31mred" in err


def test_pip_conf_command_names_a_build_constraints_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("build-constraints.txt").write_text("setuptools==80.0 --hash=sha256:" + "a" * 64 + "\n")

    made = runner.invoke(
        app, ["pip-conf", "pip.conf", "--build-constraints", "build-constraints.txt"]
    )
    missing = runner.invoke(app, ["pip-conf", "other.conf", "--build-constraints", "nope.txt"])

    assert made.exit_code == 0, made.stderr
    assert (
        f"build-constraint = {tmp_path / 'build-constraints.txt'}\n" in Path("pip.conf").read_text()
    )
    assert "UV_BUILD_CONSTRAINT" in made.stderr
    assert missing.exit_code == 2
    assert "nope.txt: no such build-constraints file" in missing.stderr
    assert not Path("other.conf").exists()
