"""pipconf against pip itself: the written file must be read, and enforced, by the pip we run.

Offline: pip gets --no-index and a --find-links folder with a wheel and an sdist built here.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from hardenreq.pipconf import plan_pip_conf, read_pip_conf, write_pip_conf

GOLDEN = Path(__file__).parent.parent / "golden" / "pipconf"
HASHES_REQUIRED = "Hashes are required in --require-hashes mode"
_TRUE = {"y", "yes", "t", "true", "on", "1"}

ORIGINAL = """\
# team settings
[global]
require-hashes = false
extra-index-url =
    https://one.example.com/simple
    https://two.example.com/simple

[install]
timeout = 60
"""


def _wheel_bytes(name: str, version: str) -> bytes:
    """A minimal, valid py3-none-any wheel (METADATA, WHEEL, RECORD)."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        ),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: hardenreq-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


# An in-tree build backend: it needs tinypkg (its build requirement) and ships a ready wheel.
_BACKEND = """\
import os, shutil

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    import tinypkg  # fails unless pip installed the build requirement
    name = "tinysrc-1.0-py3-none-any.whl"
    shutil.copy(os.path.join(os.path.dirname(__file__), name), wheel_directory)
    return name
"""


def _sdist_bytes() -> bytes:
    """tinysrc 1.0 as an sdist whose build requires tinypkg==1.0."""
    members = {
        "tinysrc-1.0/PKG-INFO": b"Metadata-Version: 2.1\nName: tinysrc\nVersion: 1.0\n",
        "tinysrc-1.0/pyproject.toml": (
            b'[build-system]\nrequires = ["tinypkg==1.0"]\nbuild-backend = "backend"\n'
            b'backend-path = ["."]\n'
        ),
        "tinysrc-1.0/backend.py": _BACKEND.encode(),
        "tinysrc-1.0/tinysrc-1.0-py3-none-any.whl": _wheel_bytes("tinysrc", "1.0"),
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A --find-links folder with tinypkg 1.0 as a wheel and tinysrc 1.0 as an sdist."""
    folder = tmp_path_factory.mktemp("wheels")
    (folder / "tinypkg-1.0-py3-none-any.whl").write_bytes(_wheel_bytes("tinypkg", "1.0"))
    (folder / "tinysrc-1.0.tar.gz").write_bytes(_sdist_bytes())
    return folder


def _hashed(folder: Path, filename: str, requirement: str) -> str:
    digest = hashlib.sha256((folder / filename).read_bytes()).hexdigest()
    return f"{requirement} --hash=sha256:{digest}\n"


def _pip(
    config: Path | str, *args: str, tmp_path: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run this interpreter's pip with only ``config`` as its configuration file."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}
    no_xdg = tmp_path / "no-xdg-config-dirs"
    no_xdg.mkdir(exist_ok=True)
    env.update(
        PIP_CONFIG_FILE=str(config),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        # pip reads the site-wide files even with PIP_CONFIG_FILE set: keep /etc/xdg/pip out.
        XDG_CONFIG_DIRS=str(no_xdg),
        HOME=str(tmp_path / "home"),
        **extra,
    )
    return subprocess.run(
        [sys.executable, "-m", "pip", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _install_args(wheels: Path, target: Path, *requirements: str) -> list[str]:
    return [
        "install",
        "--dry-run",
        "--no-index",
        "--no-cache-dir",
        "--find-links",
        str(wheels),
        "--target",
        str(target),
        *requirements,
    ]


@pytest.fixture
def merged(tmp_path: Path) -> Path:
    """ORIGINAL merged by plan_pip_conf and written by write_pip_conf."""
    path = tmp_path / "pip.conf"
    path.write_text(ORIGINAL)
    write_pip_conf(plan_pip_conf(path, existing=read_pip_conf(path)))
    return path


def test_pip_reads_the_merged_file(merged: Path, tmp_path: Path) -> None:
    result = _pip(merged, "config", "list", tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "install.require-hashes='true'" in lines
    assert "download.require-hashes='true'" in lines
    assert "install.timeout='60'" in lines
    assert "global.require-hashes='false'" in lines
    assert (
        "global.extra-index-url="
        "'\\nhttps://one.example.com/simple\\nhttps://two.example.com/simple'"
    ) in lines


def test_pip_install_refuses_an_unhashed_requirement(
    merged: Path, wheels: Path, tmp_path: Path
) -> None:
    # [global] says false, [install] says true: pip applies [install] after [global].
    result = _pip(merged, *_install_args(wheels, tmp_path / "t", "tinypkg==1.0"), tmp_path=tmp_path)

    assert result.returncode != 0
    assert HASHES_REQUIRED in result.stderr
    assert "tinypkg==1.0 --hash=sha256:" in result.stderr


def test_without_the_file_the_same_install_works(wheels: Path, tmp_path: Path) -> None:
    result = _pip(
        os.devnull, *_install_args(wheels, tmp_path / "t", "tinypkg==1.0"), tmp_path=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert "Would install tinypkg-1.0" in result.stdout


def test_pip_install_accepts_a_hashed_requirement(
    merged: Path, wheels: Path, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(_hashed(wheels, "tinypkg-1.0-py3-none-any.whl", "tinypkg==1.0"))

    result = _pip(
        merged, *_install_args(wheels, tmp_path / "t", "-r", str(requirements)), tmp_path=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert "Would install tinypkg-1.0" in result.stdout


def test_pip_download_refuses_but_pip_wheel_and_lock_do_not(
    merged: Path, wheels: Path, tmp_path: Path
) -> None:
    common = ["--no-index", "--no-cache-dir", "--find-links", str(wheels), "tinypkg==1.0"]

    download = _pip(merged, "download", "-d", str(tmp_path / "d"), *common, tmp_path=tmp_path)
    wheel = _pip(merged, "wheel", "-w", str(tmp_path / "w"), *common, tmp_path=tmp_path)
    lock = _pip(merged, "lock", "-o", str(tmp_path / "pylock.toml"), *common, tmp_path=tmp_path)

    assert download.returncode != 0
    assert HASHES_REQUIRED in download.stderr
    assert wheel.returncode == 0, wheel.stderr
    assert (tmp_path / "w" / "tinypkg-1.0-py3-none-any.whl").is_file()
    assert lock.returncode == 0, lock.stderr
    assert (tmp_path / "pylock.toml").is_file()


def test_sdist_build_requirements_need_hashes_too(
    merged: Path, wheels: Path, tmp_path: Path
) -> None:
    # [install] also reaches the `pip install` that fills the isolated build environment,
    # so the header tells users to hash build requirements with --build-constraint.
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(_hashed(wheels, "tinysrc-1.0.tar.gz", "tinysrc==1.0"))
    constraints = tmp_path / "build-constraints.txt"
    constraints.write_text(_hashed(wheels, "tinypkg-1.0-py3-none-any.whl", "tinypkg==1.0"))
    args = _install_args(wheels, tmp_path / "t", "-r", str(requirements))

    unconstrained = _pip(merged, *args, tmp_path=tmp_path)
    constrained = _pip(merged, *args, "--build-constraint", str(constraints), tmp_path=tmp_path)

    assert unconstrained.returncode != 0
    assert HASHES_REQUIRED in unconstrained.stderr
    assert "installing build dependencies for tinysrc" in unconstrained.stderr
    assert constrained.returncode == 0, constrained.stderr
    assert "Would install tinysrc-1.0" in constrained.stdout


def test_escape_hatches_named_in_the_header(merged: Path, wheels: Path, tmp_path: Path) -> None:
    # The new file's comment says: pip refuses --no-require-hashes, PIP_REQUIRE_HASHES=0 works.
    args = _install_args(wheels, tmp_path / "t", "tinypkg==1.0")

    flag = _pip(merged, *args, "--no-require-hashes", tmp_path=tmp_path)
    env = _pip(merged, *args, tmp_path=tmp_path, PIP_REQUIRE_HASHES="0")

    assert flag.returncode != 0
    assert "mutually exclusive" in flag.stderr
    assert env.returncode == 0, env.stderr


@pytest.mark.parametrize(
    "case", sorted(path.name.removesuffix(".out.conf") for path in GOLDEN.glob("*.out.conf"))
)
def test_pip_reads_every_golden_output(case: str, tmp_path: Path) -> None:
    result = _pip(GOLDEN / f"{case}.out.conf", "config", "list", tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    for section in ("install", "download"):
        assert values[f"{section}.require-hashes"].strip("'").lower() in _TRUE
