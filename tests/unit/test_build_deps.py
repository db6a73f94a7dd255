"""build_deps: which pins pip builds from their sdist here, pip's --no-binary/--only-binary
rules, and what a build-constraints file says about itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name
from packaging.version import Version

from hardenreq.build_deps import (
    FormatControl,
    build_note,
    built_record,
    built_sdists,
    covered_sdists,
    read_build_header,
    sdists_to_build,
)
from hardenreq.models import DistributionFile, FileKind, Pin, Release
from hardenreq.reqfile.parse import RequirementsTree, parse_text
from hardenreq.select import select_hashes

PIN = Pin(canonicalize_name("demo"), Version("1.0"))
HERE = next(iter(sys_tags()))  # the most specific tag this interpreter accepts


def _file(filename: str, requires_python: str | None = None) -> DistributionFile:
    kind = FileKind.WHEEL if filename.endswith(".whl") else FileKind.SDIST
    return DistributionFile(filename, f"https://index.example.com/{filename}", "0" * 64, kind,
                            requires_python=requires_python)  # fmt: skip


def _built(*files: DistributionFile, formats: FormatControl | None = None) -> str | None:
    release = Release(PIN, files, "https://index.example.com/simple", "test")
    sdist = built_sdists(select_hashes(release), formats or FormatControl())
    return None if sdist is None else sdist.filename


def test_an_sdist_only_release_is_built() -> None:
    assert _built(_file("demo-1.0.tar.gz")) == "demo-1.0.tar.gz"


def test_a_wheel_for_this_interpreter_means_no_build() -> None:
    wheel = f"demo-1.0-{HERE.interpreter}-{HERE.abi}-{HERE.platform}.whl"
    assert _built(_file(wheel), _file("demo-1.0.tar.gz")) is None
    assert _built(_file("demo-1.0-py3-none-any.whl"), _file("demo-1.0.tar.gz")) is None


@pytest.mark.parametrize(
    "wheel",
    [
        "demo-1.0-cp27-cp27mu-manylinux1_x86_64.whl",  # another Python
        "demo-1.0-cp311-cp311-win_arm64.whl",  # another platform
        "demo-1.0-py2-none-any.whl",
    ],
)
def test_wheels_for_other_targets_do_not_count(wheel: str) -> None:
    assert _built(_file(wheel), _file("demo-1.0.tar.gz")) == "demo-1.0.tar.gz"


def test_a_wheel_whose_requires_python_excludes_this_python_does_not_count() -> None:
    wheel = _file("demo-1.0-py3-none-any.whl", requires_python=">=4")
    assert _built(wheel, _file("demo-1.0.tar.gz")) == "demo-1.0.tar.gz"


def test_no_binary_builds_although_a_wheel_installs() -> None:
    formats = FormatControl()
    formats.handle("--no-binary", "demo")
    files = (_file("demo-1.0-py3-none-any.whl"), _file("demo-1.0.tar.gz"))
    assert _built(*files, formats=formats) == "demo-1.0.tar.gz"


def test_the_tar_gz_is_preferred_among_several_sdists() -> None:
    assert _built(_file("demo-1.0.zip"), _file("demo-1.0.tar.gz")) == "demo-1.0.tar.gz"


def test_a_release_with_neither_is_not_built() -> None:
    assert _built(_file("demo-1.0-cp27-none-win32.whl")) is None


@pytest.mark.parametrize(
    ("options", "source", "binary"),
    [
        ([], True, True),
        ([("--only-binary", ":all:")], False, True),
        ([("--only-binary", ":all:"), ("--no-binary", "demo")], True, False),
        ([("--no-binary", ":all:"), ("--only-binary", "demo")], False, True),
        ([("--only-binary", "other,demo")], False, True),
        ([("--only-binary", ":all:"), ("--only-binary", ":none:")], True, True),
        ([("--no-binary", "Demo")], True, False),  # names are normalised
        ([("--only-binary", "demo"), ("--no-binary", "demo")], True, False),  # last one wins
    ],
)
def test_format_control_follows_pip(
    options: list[tuple[str, str]], source: bool, binary: bool
) -> None:
    formats = FormatControl()
    for option, value in options:
        formats.handle(option, value)
    assert formats.allows_source(PIN.name) is source
    assert formats.allows_binary(PIN.name) is binary


def test_format_control_reads_the_command_line_then_the_files() -> None:
    parsed = parse_text(Path("r.txt"), "--no-binary demo\ndemo==1.0\n", environ={})
    tree = RequirementsTree(files={Path("r.txt"): parsed}, roots=[Path("r.txt")])

    formats = FormatControl.of([":all:"], [tree])

    assert formats.allows_source(PIN.name)
    assert not formats.allows_source(canonicalize_name("other"))
    assert formats.option_lines() == ["--no-binary demo", "--only-binary :all:"]


def test_only_binary_turns_a_needed_build_into_an_error_at_its_line() -> None:
    parsed = parse_text(Path("r.txt"), "# pins\ndemo==1.0 --hash=sha256:" + "0" * 64 + "\n",
                        environ={})  # fmt: skip
    tree = RequirementsTree(files={Path("r.txt"): parsed}, roots=[Path("r.txt")])
    release = Release(PIN, (_file("demo-1.0.tar.gz"),), "https://index.example.com/simple", "t")
    selections = {PIN: select_hashes(release)}
    formats = FormatControl()
    formats.handle("--only-binary", ":all:")

    targets, errors = sdists_to_build(tree, selections, formats, "r.txt")
    allowed, none = sdists_to_build(tree, selections, FormatControl(), "r.txt")

    assert targets == []
    assert [e.message.split(": ", 2)[:2] for e in errors] == [["r.txt:2", "demo==1.0"]]
    assert "--only-binary forbids building its sdist" in errors[0].message
    assert [(t.pin, t.sdist.filename, t.wanted_by) for t in allowed] == [
        (PIN, "demo-1.0.tar.gz", "r.txt")
    ]
    assert none == []


BUILD_FILE = """\
# This file is generated by hardenreq: the build requirements of the sdists in a.txt, b/c.txt.
# To update it: hardenreq harden a.in
#
# The sdists these pins build, with the sha256 of each:
#   demo==1.0 {sha}
#   other-thing==2.0rc1 {sha}
setuptools==80.0 \\
    --hash=sha256:{sha}
    # via
    #   demo (build)
    #   other-thing (build)
wheel==0.45 \\
    --hash=sha256:{sha}
    # via setuptools
""".format(sha="a" * 64)


def test_a_build_constraints_file_names_its_locks_and_its_sdists() -> None:
    parsed = parse_text(Path("build-constraints.txt"), BUILD_FILE, environ={})

    assert read_build_header(BUILD_FILE) == ("a.txt", "b/c.txt")
    assert built_record(parsed) == {
        PIN: "a" * 64,
        Pin(canonicalize_name("other-thing"), Version("2.0rc1")): "a" * 64,
    }
    assert covered_sdists(parsed) == {"demo", "other-thing"}
    assert build_note("demo") == "demo (build)"


def test_other_files_are_not_build_constraints_files() -> None:
    lock = "# This file is generated by hardenreq from a.in; edit that file, not this one.\n"
    parsed = parse_text(Path("x.txt"), "setuptools==80.0\n", environ={})

    assert read_build_header(lock) is None
    assert read_build_header("") is None
    assert built_record(parsed) == {}
    assert covered_sdists(parsed) == set()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # Same origin as the index with credentials: pip sends them there too.
        (
            "https://index.example.com/files/demo-1.0.tar.gz",
            "https://alice:s3cret@index.example.com/files/demo-1.0.tar.gz",
        ),
        # Another host, another port, or a URL with its own: left as it is.
        ("https://files.example.com/demo-1.0.tar.gz", "https://files.example.com/demo-1.0.tar.gz"),
        (
            "https://index.example.com:8443/demo.tar.gz",
            "https://index.example.com:8443/demo.tar.gz",
        ),
        (
            "https://bob:x@index.example.com/demo.tar.gz",
            "https://bob:x@index.example.com/demo.tar.gz",
        ),
    ],
)
def test_an_sdist_on_the_index_host_is_fetched_with_the_index_credentials(
    url: str, expected: str
) -> None:
    from hardenreq.build_deps import _with_index_credentials

    indexes = ["https://alice:s3cret@index.example.com/simple", "https://other.example.com/simple"]
    assert _with_index_credentials(url, indexes) == expected
