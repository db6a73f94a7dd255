"""sdist: unpacking an archive from the index as hostile input, within its folder and bounds."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from hardenreq import sdist
from hardenreq.errors import IndexResponseInvalid
from hardenreq.sdist import unpack_sdist

WHAT = "evil==1.0 (evil-1.0.tar.gz)"
PYPROJECT = b'[build-system]\nrequires = []\nbuild-backend = "x"\n'


def _tar(
    path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz"
) -> Path:
    with tarfile.open(path, mode) as archive:  # type: ignore[call-overload]
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(data))
    return path


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _folder(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o777
    return info


def _unpack(archive: Path, tmp_path: Path) -> Path:
    destination = tmp_path / "out"
    destination.mkdir()
    return unpack_sdist(archive, destination, what=WHAT)


@pytest.mark.parametrize(
    ("suffix", "mode"),
    [(".tar.gz", "w:gz"), (".tar.bz2", "w:bz2"), (".tar.xz", "w:xz"), (".tar", "w")],
)
def test_a_plain_sdist_unpacks_to_its_project_folder(
    tmp_path: Path, suffix: str, mode: str
) -> None:
    archive = _tar(
        tmp_path / f"good-1.0{suffix}",
        [_folder("good-1.0"), _folder("good-1.0/good"), ("good-1.0/pyproject.toml", PYPROJECT),
         ("good-1.0/good/__init__.py", b"x = 1\n"), _link("good-1.0/alias.py", "good/__init__.py")],
        mode,
    )  # fmt: skip

    root = _unpack(archive, tmp_path)

    assert root == tmp_path / "out" / "good-1.0"
    assert (root / "pyproject.toml").read_bytes() == PYPROJECT
    assert (root / "alias.py").read_text() == "x = 1\n"  # a link inside the tree is kept
    assert not stat.S_IMODE((root / "good").stat().st_mode) & stat.S_IWOTH


def test_modes_are_plain(tmp_path: Path) -> None:
    info = tarfile.TarInfo("m-1.0/setup.py")
    info.mode = 0o6777  # set-uid, set-gid, writable by all
    with tarfile.open(tmp_path / "m-1.0.tar.gz", "w:gz") as archive:
        archive.addfile(info, io.BytesIO(b""))

    root = _unpack(tmp_path / "m-1.0.tar.gz", tmp_path)

    mode = stat.S_IMODE((root / "setup.py").stat().st_mode)
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH)


@pytest.mark.parametrize(
    ("member", "fragment"),
    [
        (("/etc/evil", b"x"), "absolute path"),
        (("evil-1.0/../../evil", b"x"), "leaves the archive's folder"),
        (("..\\evil", b"x"), "leaves the archive's folder"),
        (_link("evil-1.0/up", "../../../../etc/passwd"), "leaves the archive's folder"),
        (_link("evil-1.0/abs", "/etc/passwd"), "absolute path"),
        (_link("evil-1.0/hard", "/etc/passwd", tarfile.LNKTYPE), "absolute path"),
        (_link("evil-1.0/dev", "", tarfile.CHRTYPE), "special file"),
        (_link("evil-1.0/fifo", "", tarfile.FIFOTYPE), "special file"),
    ],
    ids=["absolute", "dotdot", "backslash", "symlink-out", "symlink-abs", "hardlink-abs",
         "device", "fifo"],
)  # fmt: skip
def test_members_that_leave_the_folder_are_refused(
    tmp_path: Path, member: tarfile.TarInfo | tuple[str, bytes], fragment: str
) -> None:
    archive = _tar(tmp_path / "evil-1.0.tar.gz", [("evil-1.0/pyproject.toml", PYPROJECT), member])

    with pytest.raises(IndexResponseInvalid) as info:
        _unpack(archive, tmp_path)

    assert info.value.message.startswith(f"{WHAT}: refusing to unpack the sdist: ")
    assert fragment in info.value.message
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path.parent / "evil").exists()


def test_a_link_then_a_file_through_it_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = _tar(
        tmp_path / "evil-1.0.tar.gz",
        [_link("evil-1.0/dir", str(outside)), ("evil-1.0/dir/planted", b"x")],
    )

    with pytest.raises(IndexResponseInvalid):
        _unpack(archive, tmp_path)

    assert list(outside.iterdir()) == []


def test_a_compression_bomb_stops_at_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sdist, "MAX_UNPACKED_BYTES", 1024 * 1024)
    archive = _tar(tmp_path / "bomb-1.0.tar.gz", [("bomb-1.0/zeros", b"\0" * (8 * 1024 * 1024))])
    assert archive.stat().st_size < 64 * 1024

    with pytest.raises(IndexResponseInvalid, match="more than 1048576 bytes"):
        _unpack(archive, tmp_path)


def test_a_huge_pax_header_stops_at_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sdist, "MAX_UNPACKED_BYTES", 256 * 1024)
    info = tarfile.TarInfo("pax-1.0/setup.py")
    info.pax_headers = {"comment": "x" * (1024 * 1024)}
    with tarfile.open(tmp_path / "pax-1.0.tar.gz", "w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b""))

    with pytest.raises(IndexResponseInvalid, match="more than 262144 bytes"):
        _unpack(tmp_path / "pax-1.0.tar.gz", tmp_path)


def test_too_many_members_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdist, "MAX_MEMBERS", 10)
    archive = _tar(tmp_path / "many-1.0.tar.gz", [(f"many-1.0/{i}", b"") for i in range(11)])

    with pytest.raises(IndexResponseInvalid, match="more than 10 members"):
        _unpack(archive, tmp_path)


def _zip(path: Path, members: list[tuple[str, bytes]], attr: Callable[[str], int]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = attr(name) << 16
            archive.writestr(info, data)
    return path


def test_a_zip_sdist_unpacks_and_keeps_the_executable_bit(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "z-1.0.zip",
        [("z-1.0/setup.py", b"#!"), ("z-1.0/run.sh", b"#!/bin/sh\n")],
        lambda name: 0o100755 if name.endswith(".sh") else 0o100644,
    )

    root = _unpack(archive, tmp_path)

    assert (root / "setup.py").read_bytes() == b"#!"
    assert (root / "run.sh").stat().st_mode & stat.S_IXUSR
    assert not (root / "setup.py").stat().st_mode & stat.S_IXUSR


@pytest.mark.parametrize("name", ["/abs/setup.py", "z-1.0/../../setup.py", "C:/setup.py"])
def test_zip_members_that_leave_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    archive = _zip(tmp_path / "z-1.0.zip", [(name, b"x")], lambda _: 0o100644)

    with pytest.raises(IndexResponseInvalid, match="refusing to unpack the sdist"):
        _unpack(archive, tmp_path)


def test_a_zip_bomb_is_refused_by_its_declared_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sdist, "MAX_UNPACKED_BYTES", 1024)
    with zipfile.ZipFile(tmp_path / "z-1.0.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("z-1.0/setup.py", b"\0" * 4096)

    with pytest.raises(IndexResponseInvalid, match="more than 1024 bytes"):
        _unpack(tmp_path / "z-1.0.zip", tmp_path)


@pytest.mark.parametrize(
    ("filename", "data", "fragment"),
    [
        ("junk-1.0.tar.gz", b"not an archive", "not a valid archive"),
        ("junk-1.0.zip", b"PK not really", "not a valid archive"),
        ("junk-1.0.egg", b"", "not an archive pip builds from"),
    ],
)
def test_what_is_not_an_archive_is_refused(
    tmp_path: Path, filename: str, data: bytes, fragment: str
) -> None:
    (tmp_path / filename).write_bytes(data)

    with pytest.raises(IndexResponseInvalid, match=fragment):
        _unpack(tmp_path / filename, tmp_path)


def test_an_archive_without_a_project_is_refused(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "empty-1.0.tar.gz", [("empty-1.0/README", b"hi")])

    with pytest.raises(IndexResponseInvalid, match=r"neither a pyproject\.toml nor a setup\.py"):
        _unpack(archive, tmp_path)
