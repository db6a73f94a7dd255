"""hardenreq._files: only regular files are read, and never more than the limit."""

from __future__ import annotations

import os
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from hardenreq._files import read_optional_file, read_regular_file
from hardenreq.errors import InputError, UnreadableFile


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail the test, rather than the whole run, if a read blocks for more than 10 s."""

    def expire(number: int, frame: FrameType | None) -> None:
        raise TimeoutError("the read blocked")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_reads_a_regular_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"a==1\r\nb==2")

    assert read_regular_file(path, limit=100, what="the requirements file") == b"a==1\r\nb==2"


def test_a_file_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 64)

    assert read_regular_file(path, limit=64, what="the file") == b"x" * 64


def test_one_byte_over_the_limit_is_refused_naming_file_and_sizes(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 65)

    with pytest.raises(UnreadableFile) as caught:
        read_regular_file(path, limit=64, what="the requirements file")

    assert caught.value.path == path
    assert caught.value.exit_code == 2
    assert str(caught.value) == (
        f"{path}: cannot read the requirements file: it is 65 bytes; the limit is 64 bytes"
    )


def test_a_huge_sparse_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "sparse.in"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024**3)  # 50 GiB of holes: reading it would take minutes

    with pytest.raises(UnreadableFile, match="it is 53,687,091,200 bytes; the limit is 1,024"):
        read_regular_file(path, limit=1024, what="the file")


def test_a_file_whose_size_lies_is_cut_at_limit_plus_one(tmp_path: Path) -> None:
    # /proc files report st_size 0 and yet have content: the read itself must stop.
    status = Path("/proc/self/status")
    if not status.exists() or status.stat().st_size != 0:
        pytest.skip("needs Linux /proc")

    with pytest.raises(UnreadableFile, match="more than 16 bytes; the limit is 16 bytes"):
        read_regular_file(status, limit=16, what="the file")


def test_a_symlink_to_a_regular_file_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_bytes(b"a==1\n")
    (tmp_path / "link.txt").symlink_to("real.txt")

    assert read_regular_file(tmp_path / "link.txt", limit=10, what="the file") == b"a==1\n"


def _special_file(folder: Path, kind: str) -> Path:
    if kind == "a character device":
        return Path("/dev/zero")
    path = folder / "special"
    if kind == "a directory":
        path.mkdir()
    else:
        os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["a character device", "a directory", "a FIFO (named pipe)"])
def test_anything_but_a_regular_file_is_refused_before_reading(
    tmp_path: Path, no_hang: None, kind: str
) -> None:
    path = _special_file(tmp_path, kind)

    with pytest.raises(UnreadableFile) as caught:
        read_regular_file(path, limit=1024, what="the requirements file")

    assert str(caught.value) == (
        f"{path}: cannot read the requirements file: it is {kind}; hardenreq reads only "
        "regular files"
    )
    assert isinstance(caught.value, InputError)


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(UnreadableFile, match="it is a socket; hardenreq reads only"):
            read_regular_file(path, limit=1024, what="the file")


def test_a_symlink_to_a_fifo_is_refused(tmp_path: Path, no_hang: None) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "requirements.txt").symlink_to("fifo")

    with pytest.raises(UnreadableFile, match="it is a FIFO"):
        read_regular_file(tmp_path / "requirements.txt", limit=10, what="the file")


def test_missing_file_is_an_error_or_none(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(UnreadableFile, match=r"nope\.txt: cannot read the lock: no such file$"):
        read_regular_file(missing, limit=10, what="the lock")

    assert read_optional_file(missing, limit=10, what="the lock") is None
    (tmp_path / "dangling").symlink_to("nowhere")
    assert read_optional_file(tmp_path / "dangling", limit=10, what="the lock") is None


def test_optional_read_still_refuses_what_is_there(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="it is a directory"):
        read_optional_file(tmp_path, limit=10, what="the file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_permission_denied_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("x")
    path.chmod(0)

    with pytest.raises(
        UnreadableFile, match=r"secret\.txt: cannot read the file: Permission denied"
    ):
        read_regular_file(path, limit=10, what="the file")


def test_the_readme_files_promises_name_tests_that_exist() -> None:
    root = Path(__file__).parent.parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Files\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    named = set(re.findall(r"`(test_\w+)`", section))
    defined = {
        match
        for path in (root / "tests").rglob("test_*.py")
        for match in re.findall(r"^def (test_\w+)\(", path.read_text(encoding="utf-8"), re.M)
    }
    assert len(named) >= 20
    assert named <= defined, sorted(named - defined)
