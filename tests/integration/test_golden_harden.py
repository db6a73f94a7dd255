"""`hardenreq harden --no-resolve` on tricky requirements files, compared byte for byte with
golden outputs in tests/golden/harden/.

A case is either a single file, `<case>.in.txt` -> `<case>.out.txt` (hardened under the name
requirements.txt), or a folder, `<case>/in/` -> `<case>/out/`, whose root is requirements.txt and
whose other files are reached through its -r/-c includes. `pytest --update-golden` rewrites the
outputs from what the tool writes (except for cases marked as known bugs, whose golden output is
what the tool should write): read every changed golden file before committing it.

Besides the bytes, every case checks that pip's own parser reads the same requirements before and
after, with exactly the index's sha256 of every file of each release; that nothing but hashes was
added or removed; that no comment is left before a `\\`; and that a second run changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from pip._internal.network.session import PipSession
from pip._internal.req.req_file import ParsedRequirement, parse_requirements
from typer.testing import CliRunner

from hardenreq.cli import app
from tests.index import SIMPLE_JSON, IndexServer, build_setuptools_stub

GOLDEN: Final = Path(__file__).parent.parent / "golden" / "harden"
ROOT: Final = "requirements.txt"

runner = CliRunner()


def _files(stem: str, *wheel_tags: str) -> tuple[str, ...]:
    return (*(f"{stem}-{tag}.whl" for tag in wheel_tags), f"{stem}.tar.gz")


_ANY: Final = "py3-none-any"
_CP311: Final = "cp311-cp311-manylinux_2_17_x86_64"

# Every file of every release of the standard projects (checked against the index below).
RELEASE_FILES: Final[dict[tuple[str, Version], tuple[str, ...]]] = {
    ("tinyweb", Version("1.0")): _files("tinyweb-1.0", _ANY),
    ("tinyweb", Version("1.1")): _files("tinyweb-1.1", _ANY),
    ("tinyweb", Version("2.0")): _files("tinyweb-2.0", _ANY),
    ("tinyutil", Version("1.0")): _files("tinyutil-1.0", _ANY, _CP311),
    ("tinyutil", Version("1.2")): _files("tinyutil-1.2", _ANY, _CP311),
    ("tiny-mixed-case", Version("0.5")): _files("tiny_mixed_case-0.5", _ANY),
    ("yankee", Version("1.0")): _files("yankee-1.0", _ANY),
    ("yankee", Version("1.1")): _files("yankee-1.1", _ANY),
}


@dataclass(frozen=True, slots=True)
class Case:
    """One golden case and what else its run must show."""

    name: str
    # Environment variables for the run; "{work}" stands for the directory holding the input.
    env: Mapping[str, str] = field(default_factory=dict)
    exit_code: int = 0
    stderr: tuple[str, ...] = ()

    @property
    def is_folder(self) -> bool:
        return (GOLDEN / self.name).is_dir()


def _ok(case: Case) -> Any:  # a pytest ParameterSet (not public API)
    return pytest.param(case, id=case.name)


def _bug(case: Case, reason: str) -> Any:
    return pytest.param(case, id=case.name, marks=pytest.mark.xfail(strict=True, reason=reason))


CASES: Final[list[Any]] = [
    _ok(Case("header_comments")),
    _ok(Case("trailing_comments")),
    _ok(Case("comments_between")),
    _ok(Case("crlf")),
    _ok(Case("cr_only")),
    _ok(Case("no_trailing_newline")),
    _ok(Case("continuation_in_requirement")),
    _ok(Case("markers_spacing")),
    _ok(Case("extras")),
    _ok(Case("arbitrary_equality")),
    _ok(Case("non_normalised_names")),
    _ok(Case("pip_compile_layout", stderr=("0 lines rewritten, 0 files written",))),
    _ok(Case("partial_hashes_one_line", stderr=("5 hashes (3 new)",))),
    _ok(Case("hash_space_spelling", stderr=("2 lines rewritten",))),
    _ok(Case("config_settings")),
    _ok(Case("option_lines")),
    _ok(Case("swallowed_comment", stderr=("requirements.txt:1: moved the comment",))),
    _ok(Case("comment_ending_in_backslash")),
    _ok(Case("utf8_bom")),
    _ok(Case("tabs")),
    _ok(
        Case(
            "env_vars",
            env={"CONSTRAINTS_DIR": "{work}/constraints", "TINYUTIL_VERSION": "1.2"},
        )
    ),
    _ok(Case("includes")),
    # A comment before "\" hides a requirement from pip: refuse rather than guess.
    _ok(Case("comment_swallows_requirement", exit_code=2, stderr=("requirements.txt:1:",))),
    # Quoted option values are written back exactly as the user quoted them.
    _ok(Case("config_settings_quoted")),
    _ok(Case("dangling_continuation")),
    _ok(Case("mixed_line_endings")),
]


def _case_name(param: Any) -> str:
    case = param.values[0]
    assert isinstance(case, Case)
    return case.name


@pytest.fixture(scope="module")
def pip_session() -> Iterator[PipSession]:
    session = PipSession()
    yield session
    session.close()


def _harden(index: IndexServer, root: Path) -> tuple[int, str]:
    # A line such as --no-binary makes pip build an sdist: its build requirements (the
    # test index's stand-in setuptools) are hashed into a file outside the case's folder.
    with contextlib.suppress(ValueError):  # published by the first run of the case
        index.add_file(build_setuptools_stub(root.parent.parent / "stub"))
    build_constraints = root.parent.parent / "build" / "build-constraints.txt"
    result = runner.invoke(
        app,
        [
            "harden",
            "--no-resolve",
            "--no-pip-conf",
            "--index-url",
            index.simple_url,
            "--retries",
            "1",
            "--build-constraints",
            str(build_constraints),
            str(root),
        ],
    )
    return result.exit_code, result.stderr


def _read_tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _inputs(case: Case) -> dict[str, bytes]:
    if case.is_folder:
        return _read_tree(GOLDEN / case.name / "in")
    return {ROOT: (GOLDEN / f"{case.name}.in.txt").read_bytes()}


def _golden_path(case: Case, relative: str) -> Path:
    if case.is_folder:
        return GOLDEN / case.name / "out" / relative
    assert relative == ROOT
    return GOLDEN / f"{case.name}.out.txt"


def _pip_reads(root: Path, session: PipSession) -> list[ParsedRequirement]:
    return list(parse_requirements(str(root), session=session))


def _meaning(parsed: list[ParsedRequirement]) -> list[tuple[str, bool, bool, dict[str, Any]]]:
    """What pip installs from the files, apart from the hashes (and the blanks that end pip's
    requirement string when options follow it)."""
    return [
        (
            r.requirement.strip(),
            r.is_editable,
            r.constraint,
            {k: v for k, v in (r.options or {}).items() if k != "hashes"},
        )
        for r in parsed
    ]


def _expected_digests(requirement: str, index: IndexServer) -> list[str]:
    parsed = Requirement(requirement)
    (specifier,) = parsed.specifier
    assert specifier.operator in ("==", "==="), requirement
    files = RELEASE_FILES[(canonicalize_name(parsed.name), Version(specifier.version))]
    return sorted(index.sha256(name) for name in files)


_HASH_OPTION: Final = re.compile(r"--hash[= ]sha256:[0-9a-fA-F]{64}")
# A comment on a line that a "\" continues: pip ignores the rest of the logical line.
_COMMENT_BEFORE_CONTINUATION: Final = re.compile(r"(^|\s)#.*\\$")


def _words(data: bytes) -> list[str]:
    """The file's words, hash options and backslashes aside, in order."""
    text = data.decode("utf-8-sig")
    return _HASH_OPTION.sub(" ", text).replace("\\", " ").split()


def test_every_golden_case_is_listed() -> None:
    on_disk = {p.name.removesuffix(".in.txt") for p in GOLDEN.glob("*.in.txt")}
    on_disk |= {p.parent.name for p in GOLDEN.glob("*/in")}
    assert on_disk == {_case_name(c) for c in CASES}


def test_release_files_match_the_index(index: IndexServer) -> None:
    listed: set[tuple[str, str]] = set()
    for project in sorted({name for name, _ in RELEASE_FILES}):
        request = urllib.request.Request(
            f"{index.simple_url}/{project}/", headers={"Accept": SIMPLE_JSON}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            page = json.load(response)
        listed |= {(project, f["filename"]) for f in page["files"]}
    expected = {(name, f) for (name, _), files in RELEASE_FILES.items() for f in files}
    assert listed == expected


@pytest.mark.parametrize("case", CASES)
def test_harden_matches_golden(
    case: Case,
    index: IndexServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pip_session: PipSession,
    request: pytest.FixtureRequest,
) -> None:
    work = tmp_path / "work"
    inputs = _inputs(case)
    for relative, data in inputs.items():
        (work / relative).parent.mkdir(parents=True, exist_ok=True)
        (work / relative).write_bytes(data)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value.format(work=work))
    root = work / ROOT
    before = _pip_reads(root, pip_session)

    code, err = _harden(index, root)
    outputs = _read_tree(work)
    known_bug = request.node.get_closest_marker("xfail") is not None
    if request.config.getoption("--update-golden") and not known_bug:
        if case.is_folder:
            shutil.rmtree(GOLDEN / case.name / "out", ignore_errors=True)
        for relative, data in outputs.items():
            _golden_path(case, relative).parent.mkdir(parents=True, exist_ok=True)
            _golden_path(case, relative).write_bytes(data)

    assert "Traceback" not in err
    assert code == case.exit_code, err
    for fragment in case.stderr:
        assert fragment in " ".join(err.split())
    assert sorted(outputs) == sorted(inputs)
    for relative, data in outputs.items():
        golden = _golden_path(case, relative).read_bytes()
        assert data.decode("utf-8", "replace") == golden.decode("utf-8", "replace"), relative
        assert data == golden, relative  # the same text, but other bytes (BOM, line endings)
        assert index.url not in data.decode("utf-8-sig")
        assert str(work) not in data.decode("utf-8-sig")
        assert _words(data) == _words(inputs[relative]), relative
    if code != 0:
        assert outputs == inputs
        return
    for relative, data in outputs.items():
        for line in data.decode("utf-8-sig").splitlines():
            if not line.lstrip().startswith("#"):
                assert not _COMMENT_BEFORE_CONTINUATION.search(line), (relative, line)

    after = _pip_reads(root, pip_session)
    assert _meaning(after) == _meaning(before)
    for parsed in after:
        hashes = (parsed.options or {}).get("hashes", {})
        assert set(hashes) == {"sha256"}, parsed.requirement
        assert sorted(hashes["sha256"]) == _expected_digests(parsed.requirement, index)

    code, err = _harden(index, root)
    assert code == 0, err
    assert "0 files written" in err
    assert _read_tree(work) == outputs
