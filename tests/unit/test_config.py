"""config: [tool.hardenreq] read into Settings, every error message, flag precedence, and
``plan_init`` against golden pyproject.toml files. `pytest --update-golden` rewrites the
pyproject.out.toml files of tests/golden/config/."""

from __future__ import annotations

import enum
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from hardenreq import report
from hardenreq.config import (
    FORMATS,
    PIP_CONF_MARK,
    REPORT_FORMATS,
    LockSpec,
    Settings,
    load_settings,
    merge,
    plan_init,
)
from hardenreq.errors import ConfigError, ExitCode
from hardenreq.pipconf import render_pip_conf

GOLDEN = Path(__file__).parent.parent / "golden" / "config"

FULL = """\
[project]
name = "demo"

[tool.hardenreq]
index-url = "https://index.example.com/simple"
pip-conf = "conf/pip.conf"
format = "sarif"
strict = true
report-format = "json"
retries = 0
timeout = 600

[[tool.hardenreq.locks]]
source = "requirements/base.in"

[[tool.hardenreq.locks]]
source = "pyproject.toml"
output = "requirements/dev.txt"
extras = ["dev", "test"]

[[tool.hardenreq.locks]]
source = "requirements.txt"
extras = []
"""


def _write(folder: Path, text: str) -> Path:
    path = folder / "pyproject.toml"
    path.write_bytes(text.encode("utf-8"))
    return path


# Reading


def test_no_pyproject_gives_the_defaults(tmp_path: Path) -> None:
    assert load_settings(cwd=tmp_path) == Settings()


def test_parent_folders_are_not_searched(tmp_path: Path) -> None:
    _write(tmp_path, "[tool.hardenreq]\nretries = 1\n")
    (tmp_path / "sub").mkdir()

    assert load_settings(cwd=tmp_path / "sub") == Settings()


@pytest.mark.parametrize(
    "text",
    ["", '[project]\nname = "x"\n', "[tool.ruff]\nline-length = 1\n", "[tool]\n", "tool = 1\n"],
    ids=["empty", "project-only", "other-tool", "empty-tool", "tool-not-a-table"],
)
def test_no_table_gives_the_defaults_and_names_the_file(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)

    assert load_settings(cwd=tmp_path) == Settings(source=path)


def test_empty_table_gives_the_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "[tool.hardenreq]\n")

    assert load_settings(path) == Settings(source=path)


def test_every_key_is_read_and_paths_are_relative_to_the_pyproject(tmp_path: Path) -> None:
    path = _write(tmp_path, FULL)

    settings = load_settings(path)

    assert settings == Settings(
        index_url="https://index.example.com/simple",
        pip_conf=tmp_path / "conf" / "pip.conf",
        write_pip_conf=True,
        format="sarif",
        strict=True,
        report_format="json",
        retries=0,
        timeout=600.0,
        locks=(
            LockSpec(tmp_path / "requirements/base.in", None, ()),
            LockSpec(
                tmp_path / "pyproject.toml", tmp_path / "requirements/dev.txt", ("dev", "test")
            ),
            LockSpec(tmp_path / "requirements.txt", None, ()),
        ),
        source=path,
    )
    assert type(settings.timeout) is float
    assert [type(v) for v in (settings.index_url, settings.format)] == [str, str]


def test_relative_pyproject_is_taken_from_cwd(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", '[tool.hardenreq]\npip-conf = "pip.conf"\n')

    settings = load_settings(Path("sub/pyproject.toml"), cwd=tmp_path)

    assert settings.pip_conf == tmp_path / "sub" / "pip.conf"
    assert settings.source == tmp_path / "sub" / "pyproject.toml"


def test_pip_conf_false_writes_none(tmp_path: Path) -> None:
    path = _write(tmp_path, "[tool.hardenreq]\npip-conf = false\n")

    assert load_settings(path) == Settings(write_pip_conf=False, source=path)


def test_inline_array_of_locks_is_read_like_an_array_of_tables(tmp_path: Path) -> None:
    path = _write(tmp_path, '[tool.hardenreq]\nlocks = [{source = "a.in"}, {source = "b.in"}]\n')

    assert load_settings(path).locks == (
        LockSpec(tmp_path / "a.in", None, ()),
        LockSpec(tmp_path / "b.in", None, ()),
    )


@pytest.mark.parametrize(
    ("source", "output", "expected"),
    [
        ("base.in", None, "base.txt"),
        ("requirements/dev.in", None, "requirements/dev.txt"),
        ("pyproject.toml", None, "requirements.txt"),
        ("sub/pyproject.toml", None, "sub/requirements.txt"),
        ("requirements.txt", None, "requirements.txt"),
        ("requirements-dev.txt", None, "requirements-dev.txt"),
        ("base.in", "locks/base.txt", "locks/base.txt"),
    ],
)
def test_output_path_applies_the_default(source: str, output: str | None, expected: str) -> None:
    lock = LockSpec(Path(source), None if output is None else Path(output), ())

    assert lock.output_path == Path(expected)


def test_formats_are_the_reporters_formats() -> None:
    assert FORMATS == report.FORMATS
    assert REPORT_FORMATS == ("markdown", "json")


# Errors: (pyproject.toml text, the whole message). The file is read as ./pyproject.toml.

KEYS = (
    "index-url, pip-conf, format, strict, report-format, retries, timeout, deadline, "
    "build-constraints, python-versions, platforms, advisories, index-advisories, osv-api, "
    "osv-url, advisory-db, require-advisories, vulnerable-severity, min-release-age, offline, "
    "locks"
)
T = "pyproject.toml: [tool.hardenreq] "
ERRORS: list[tuple[str, str, str]] = [
    (
        "typo",
        'index_urll = "x"',
        T + "unknown key 'index_urll'; did you mean 'index-url'?",
    ),
    ("underscore", 'index_url = "x"', T + "unknown key 'index_url'; did you mean 'index-url'?"),
    (
        "underscore-report-format",
        'report_format = "json"',
        T + "unknown key 'report_format'; did you mean 'report-format'?",
    ),
    ("upper-case", "Strict = true", T + "unknown key 'Strict'; did you mean 'strict'?"),
    ("near-miss", "retry = 1", T + "unknown key 'retry'; did you mean 'retries'?"),
    (
        "no-pip-conf",
        "no-pip-conf = true",
        T + "unknown key 'no-pip-conf'; write pip-conf = false to write no pip.conf",
    ),
    (
        "lock-key-at-top",
        'source = "a.in"',
        T + "unknown key 'source'; source, output and extras belong in [[tool.hardenreq.locks]] "
        "tables",
    ),
    (
        "extra-at-top",
        'extra = ["dev"]',
        T + "unknown key 'extra'; source, output and extras belong in [[tool.hardenreq.locks]] "
        "tables",
    ),
    ("unrelated", "colour = 1", T + f"unknown key 'colour'; valid keys: {KEYS}"),
    ("strict-string", 'strict = "yes"', T + """'strict' must be true or false, not "yes\""""),
    ("strict-int", "strict = 1", T + "'strict' must be true or false, not 1"),
    ("index-url-int", "index-url = 3", T + "'index-url' must be a URL, not 3"),
    ("index-url-empty", 'index-url = " "', T + """'index-url' must be a URL, not " \""""),
    (
        "index-url-array",
        'index-url = ["https://a", "https://b"]',
        T + "'index-url' must be a URL, not an array",
    ),
    ("pip-conf-true", "pip-conf = true", T + "'pip-conf' must be a path or false, not true"),
    ("pip-conf-empty", 'pip-conf = ""', T + """'pip-conf' must be a path or false, not \"\""""),
    ("pip-conf-table", "pip-conf = {}", T + "'pip-conf' must be a path or false, not a table"),
    (
        "format",
        'format = "xml"',
        T + """'format' must be one of "text", "json", "github", "sarif", not "xml\"""",
    ),
    (
        "format-case",
        'format = "JSON"',
        T + """'format' must be one of "text", "json", "github", "sarif", not "JSON\"""",
    ),
    (
        "report-format",
        'report-format = "html"',
        T + """'report-format' must be one of "markdown", "json", not "html\"""",
    ),
    (
        "report-format-verify-only",
        'report-format = "sarif"',
        T + """'report-format' must be one of "markdown", "json", not "sarif\"""",
    ),
    ("retries-high", "retries = 11", T + "'retries' must be a whole number from 0 to 10, not 11"),
    ("retries-low", "retries = -1", T + "'retries' must be a whole number from 0 to 10, not -1"),
    (
        "retries-float",
        "retries = 3.0",
        T + "'retries' must be a whole number from 0 to 10, not 3.0",
    ),
    (
        "retries-bool",
        "retries = true",
        T + "'retries' must be a whole number from 0 to 10, not true",
    ),
    (
        "retries-string",
        'retries = "3"',
        T + """'retries' must be a whole number from 0 to 10, not "3\"""",
    ),
    (
        "timeout-low",
        "timeout = 0.5",
        T + "'timeout' must be a number of seconds from 1 to 600, not 0.5",
    ),
    (
        "timeout-high",
        "timeout = 601",
        T + "'timeout' must be a number of seconds from 1 to 600, not 601",
    ),
    (
        "timeout-inf",
        "timeout = inf",
        T + "'timeout' must be a number of seconds from 1 to 600, not inf",
    ),
    (
        "timeout-nan",
        "timeout = nan",
        T + "'timeout' must be a number of seconds from 1 to 600, not nan",
    ),
    (
        "timeout-bool",
        "timeout = false",
        T + "'timeout' must be a number of seconds from 1 to 600, not false",
    ),
    (
        "timeout-date",
        "timeout = 2024-01-01",
        T + "'timeout' must be a number of seconds from 1 to 600, not a date",
    ),
    (
        "locks-string",
        'locks = "a.in"',
        T + """'locks' must be an array of tables ([[tool.hardenreq.locks]]), not "a.in\"""",
    ),
    ("locks-of-strings", 'locks = ["a.in"]', T + """'locks[1]' must be a table, not "a.in\""""),
    (
        "lock-unknown-key",
        '[[tool.hardenreq.locks]]\nsource = "a.in"\nouput = "a.txt"',
        T + "locks[1] unknown key 'ouput'; did you mean 'output'?",
    ),
    (
        "lock-extra",
        '[[tool.hardenreq.locks]]\nsource = "pyproject.toml"\nextra = ["dev"]',
        T + "locks[1] unknown key 'extra'; did you mean 'extras'?",
    ),
    (
        "lock-top-key",
        '[[tool.hardenreq.locks]]\nsource = "a.in"\nindex-url = "https://a"',
        T + "locks[1] unknown key 'index-url'; it belongs in [tool.hardenreq], not in a lock",
    ),
    (
        "lock-no-source",
        '[[tool.hardenreq.locks]]\noutput = "a.txt"',
        T + "'locks[1].source' is missing: the .in, requirements .txt or pyproject.toml to lock",
    ),
    (
        "second-lock-no-source",
        '[[tool.hardenreq.locks]]\nsource = "a.in"\n[[tool.hardenreq.locks]]\noutput = "b.txt"',
        T + "'locks[2].source' is missing: the .in, requirements .txt or pyproject.toml to lock",
    ),
    (
        "lock-source-int",
        "[[tool.hardenreq.locks]]\nsource = 1",
        T + "'locks[1].source' must be a path, not 1",
    ),
    (
        "lock-output-empty",
        '[[tool.hardenreq.locks]]\nsource = "a.in"\noutput = ""',
        T + """'locks[1].output' must be a path, not \"\"""",
    ),
    (
        "lock-output-is-source",
        '[[tool.hardenreq.locks]]\nsource = "a.in"\noutput = "./a.in"',
        T + "'locks[1].output' would overwrite its source a.in",
    ),
    (
        "lock-extras-string",
        '[[tool.hardenreq.locks]]\nsource = "pyproject.toml"\nextras = "dev"',
        T + """'locks[1].extras' must be an array of names such as ["dev"], not "dev\"""",
    ),
    (
        "lock-extras-ints",
        '[[tool.hardenreq.locks]]\nsource = "pyproject.toml"\nextras = [1]',
        T + """'locks[1].extras' must be an array of names such as ["dev"], not an array""",
    ),
    (
        "extras-on-in-file",
        '[[tool.hardenreq.locks]]\nsource = "requirements/base.in"\nextras = ["dev"]',
        T + "'locks[1].extras' apply to a pyproject.toml source only, not \"requirements/base.in\"",
    ),
    (
        "duplicate-outputs",
        '[[tool.hardenreq.locks]]\nsource = "a.in"\noutput = "out.txt"\n'
        '[[tool.hardenreq.locks]]\nsource = "b.in"\n'
        '[[tool.hardenreq.locks]]\nsource = "c.in"\noutput = "./out.txt"',
        T + "locks[1] and locks[3] both write out.txt",
    ),
    (
        "duplicate-default-output",
        '[[tool.hardenreq.locks]]\nsource = "requirements/base.in"\n'
        '[[tool.hardenreq.locks]]\nsource = "x.in"\noutput = "requirements/base.txt"',
        T + "locks[1] and locks[2] both write requirements/base.txt",
    ),
    (
        "duplicate-one-shot",
        '[[tool.hardenreq.locks]]\nsource = "requirements.txt"\n'
        '[[tool.hardenreq.locks]]\nsource = "requirements.in"',
        T + "locks[1] and locks[2] both write requirements.txt",
    ),
    (
        "duplicate-pyproject",
        '[[tool.hardenreq.locks]]\nsource = "pyproject.toml"\n'
        '[[tool.hardenreq.locks]]\nsource = "pyproject.toml"\nextras = ["dev"]',
        T + "locks[1] and locks[2] both write requirements.txt",
    ),
    (
        "credentials-redacted",
        'format = "https://user:secret@host/simple"',
        T + """'format' must be one of "text", "json", "github", "sarif", """
        """not "https://***@host/simple\"""",
    ),
]


@pytest.mark.parametrize(("body", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error_names_file_and_key(
    body: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, f"[tool.hardenreq]\n{body}\n")
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError) as info:
        load_settings()

    assert str(info.value) == message
    assert info.value.exit_code == ExitCode.INPUT


# Whole-file errors: (file text, the whole message).
FILE_ERRORS: list[tuple[str, str, str]] = [
    (
        "invalid-toml",
        '[project]\nname = "x"\n\n[tool.hardenreq]\nstrict = \n',
        "pyproject.toml: invalid TOML at line 5, column 9: Unexpected character: '\\n'",
    ),
    (
        "unterminated-string",
        '[tool.hardenreq]\nindex-url = "https://x\n',
        "pyproject.toml: invalid TOML at line 2, column 22: Control characters (codes less than "
        "0x1f and 0x7f) are not allowed in strings, use \\u000a instead",
    ),
    (
        "duplicate-key",
        "[tool.hardenreq]\nstrict = true\nstrict = false\n",
        'pyproject.toml: invalid TOML: Key "strict" already exists.',
    ),
    (
        # A hostile file (from a pull request): tomli refuses the nesting with a
        # RecursionError, which must still be the file's error, not an internal one.
        "nested-too-deep",
        "x = " + "[" * 5000 + "]" * 5000 + "\n",
        "pyproject.toml: invalid TOML at line 1, column 104: TOML value nested more than "
        "100 levels deep",
    ),
    (
        "table-not-a-table",
        "[tool]\nhardenreq = 1\n",
        "pyproject.toml: 'tool.hardenreq' must be a table, not 1",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [e[1:] for e in FILE_ERRORS], ids=[e[0] for e in FILE_ERRORS]
)
def test_unreadable_file_names_it(
    text: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, text)
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError) as info:
        load_settings(Path("pyproject.toml"))

    assert str(info.value) == message


def test_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: no such file$"):
        load_settings(tmp_path / "missing.toml")


def test_file_must_be_utf8(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_bytes(b'[tool.hardenreq]\nindex-url = "\xff"\n')

    with pytest.raises(ConfigError, match=r"pyproject\.toml: not UTF-8 text \(byte 30\)$"):
        load_settings(path)


# Precedence: flag > pyproject > default


class _Format(enum.StrEnum):
    JSON = "json"


class _Retries(enum.Enum):
    FEW = 2


def test_merge_without_flags_keeps_the_config(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, FULL))

    assert merge(settings) == settings
    assert merge(settings, index_url=None, retries=None, strict=None, pip_conf=None) == settings


# (pyproject table, flags, expected Settings fields)
PRECEDENCE: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("default", "", {}, {"retries": 3, "timeout": 30.0, "format": "text"}),
    ("config", "retries = 5\ntimeout = 10", {}, {"retries": 5, "timeout": 10.0}),
    ("flag-over-default", "", {"retries": 7}, {"retries": 7}),
    ("flag-over-config", "retries = 5", {"retries": 0}, {"retries": 0}),
    ("none-keeps-config", "retries = 5", {"retries": None}, {"retries": 5}),
    ("false-flag-is-given", "strict = true", {"strict": False}, {"strict": False}),
    ("timeout-int", "timeout = 10", {"timeout": 20}, {"timeout": 20.0}),
    ("enum-value", 'format = "github"', {"format": _Format.JSON}, {"format": "json"}),
    ("plain-enum-value", "retries = 5", {"retries": _Retries.FEW}, {"retries": 2}),
    (
        "report-format",
        'report-format = "json"',
        {"report_format": "markdown"},
        {"report_format": "markdown"},
    ),
    (
        "index-url",
        'index-url = "https://config/simple"',
        {"index_url": "https://flag/simple"},
        {"index_url": "https://flag/simple"},
    ),
    (
        "pip-conf-flag-over-false",
        "pip-conf = false",
        {"pip_conf": Path("here.conf")},
        {"pip_conf": Path("here.conf"), "write_pip_conf": True},
    ),
    (
        "pip-conf-string",
        "",
        {"pip_conf": "here.conf"},
        {"pip_conf": Path("here.conf"), "write_pip_conf": True},
    ),
    (
        "no-pip-conf-over-path",
        'pip-conf = "x.conf"',
        {"write_pip_conf": False},
        {"pip_conf": None, "write_pip_conf": False},
    ),
    (
        "locks",
        '[[tool.hardenreq.locks]]\nsource = "a.in"',
        {"locks": [LockSpec(Path("b.in"), None, ())]},
        {"locks": (LockSpec(Path("b.in"), None, ()),)},
    ),
]


@pytest.mark.parametrize(
    ("table", "flags", "expected"), [p[1:] for p in PRECEDENCE], ids=[p[0] for p in PRECEDENCE]
)
def test_flag_over_pyproject_over_default(
    table: str, flags: dict[str, Any], expected: dict[str, Any], tmp_path: Path
) -> None:
    settings = load_settings(_write(tmp_path, f"[tool.hardenreq]\n{table}\n"))

    merged = merge(settings, **flags)

    for name, value in expected.items():
        assert getattr(merged, name) == value, name
        assert type(getattr(merged, name)) is type(value), name  # plain values, not enums
    assert merged.source == settings.source


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"retries": 11}, "--retries must be a whole number from 0 to 10, not 11"),
        ({"timeout": 0}, "--timeout must be a number of seconds from 1 to 600, not 0"),
        (
            {"format": "xml"},
            """--format must be one of "text", "json", "github", "sarif", not "xml\"""",
        ),
        ({"strict": "yes"}, """--strict must be true or false, not "yes\""""),
        ({"index_url": ""}, """--index-url must be a URL, not \"\""""),
        ({"pip_conf": ""}, """--pip-conf must be a path, not \"\""""),
        (
            {"pip_conf": Path("a.conf"), "write_pip_conf": False},
            "--pip-conf and --no-pip-conf exclude each other",
        ),
        ({"locks": ["a.in"]}, "--locks must be a sequence of LockSpec"),
    ],
)
def test_merge_validates_flags(flags: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        merge(Settings(), **flags)

    assert str(info.value) == message


def test_merge_rejects_unknown_flags() -> None:
    with pytest.raises(TypeError, match=r"unknown flag 'retry'; did you mean 'retries'\?"):
        merge(Settings(), retry=1)
    with pytest.raises(TypeError, match="unknown flag 'source'"):
        merge(Settings(), source=Path("x"))


# plan_init against golden files

# case, force, the locks read back from the result: (source, output), relative to the case
INIT_CASES: list[tuple[str, bool, list[tuple[str, str | None]]]] = [
    ("layout", False, [("requirements.in", "requirements.txt")]),
    ("new_file", False, [("requirements.in", "requirements.txt"), ("dev.in", "dev.txt")]),
    ("project_dependencies", False, [("pyproject.toml", "requirements.txt")]),
    (
        "layered",
        False,
        [
            ("requirements/base.in", "requirements/base.txt"),
            ("requirements/dev.in", "requirements/dev.txt"),
            ("requirements/ci.in", "requirements/ci.txt"),
        ],
    ),
    ("force_replace", True, [("requirements.in", "requirements.txt")]),
    ("one_shot", False, [("requirements.txt", None)]),
    ("pip_compiled", False, [("pyproject.toml", "requirements.txt")]),
    ("crlf", False, [("requirements.in", "requirements.txt")]),
    ("no_locks", False, []),
]
INIT_ERRORS = {"existing_section": "pyproject.toml already has [tool.hardenreq]"}


def test_every_golden_case_has_a_row() -> None:
    folders = {path.name for path in GOLDEN.iterdir() if path.is_dir()}

    assert folders == {case for case, _, _ in INIT_CASES} | set(INIT_ERRORS)


def _init_folder(case: str, tmp_path: Path) -> Path:
    """tmp_path with the case's files/ and its pyproject.in.toml as pyproject.toml."""
    if (GOLDEN / case / "files").is_dir():
        shutil.copytree(GOLDEN / case / "files", tmp_path, dirs_exist_ok=True)
    given = GOLDEN / case / "pyproject.in.toml"
    if given.exists():
        shutil.copyfile(given, tmp_path / "pyproject.toml")
    return tmp_path / "pyproject.toml"


def _text(path: Path) -> str:
    # Bytes, not read_text(): universal newlines would turn the CRLF case into LF.
    return path.read_bytes().decode("utf-8")


@pytest.mark.parametrize(
    ("case", "force", "locks"), INIT_CASES, ids=[case for case, _, _ in INIT_CASES]
)
def test_init_matches_golden(
    case: str,
    force: bool,
    locks: list[tuple[str, str | None]],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    pyproject = _init_folder(case, tmp_path)
    given = _text(pyproject) if pyproject.exists() else ""
    expected = GOLDEN / case / "pyproject.out.toml"

    old, new = plan_init(pyproject, tmp_path, force=force)

    if request.config.getoption("--update-golden"):
        expected.write_bytes(new.encode("utf-8"))
    assert old == given
    assert new == _text(expected)
    pyproject.write_bytes(new.encode("utf-8"))
    settings = load_settings(cwd=tmp_path)
    assert settings.locks == tuple(
        LockSpec(tmp_path / source, None if output is None else tmp_path / output, ())
        for source, output in locks
    )
    # No pip.conf of hardenreq's here: the default location applies (beside the lock).
    assert settings.pip_conf is None
    assert settings.report_format == "markdown"


@pytest.mark.parametrize("case", [case for case, _, _ in INIT_CASES])
def test_init_changes_nothing_but_the_table(case: str) -> None:
    given = GOLDEN / case / "pyproject.in.toml"
    before = tomllib.loads(_text(given)) if given.exists() else {}
    after = tomllib.loads(_text(GOLDEN / case / "pyproject.out.toml"))

    assert "pip-conf" not in after["tool"].pop("hardenreq")
    before.get("tool", {}).pop("hardenreq", None)
    if not after["tool"]:
        del after["tool"]
    assert after == {k: v for k, v in before.items() if k != "tool" or v}


@pytest.mark.parametrize("case", [case for case, _, _ in INIT_CASES if case != "force_replace"])
def test_init_keeps_every_byte_before_the_table(case: str) -> None:
    given = GOLDEN / case / "pyproject.in.toml"
    old = _text(given) if given.exists() else ""

    new = _text(GOLDEN / case / "pyproject.out.toml")

    assert new.startswith(old)
    assert "[tool.hardenreq]" in new[len(old) :]
    assert new.endswith(("\n", "\r")) == (old.endswith(("\n", "\r")) or not old)


@pytest.mark.parametrize("case", [case for case, _, _ in INIT_CASES])
def test_init_again_with_force_changes_nothing(case: str, tmp_path: Path) -> None:
    pyproject = _init_folder(case, tmp_path)
    first = _text(GOLDEN / case / "pyproject.out.toml")
    pyproject.write_bytes(first.encode("utf-8"))

    old, new = plan_init(pyproject, tmp_path, force=True)

    assert old == new == first


@pytest.mark.parametrize(("case", "message"), sorted(INIT_ERRORS.items()))
def test_init_refuses_an_existing_table(
    case: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _init_folder(case, tmp_path)
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError) as info:
        plan_init(Path("pyproject.toml"), Path())

    assert str(info.value) == message
    assert info.value.hint is not None
    assert "--force" in info.value.hint


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "tool = 1\n",
            "pyproject.toml: 'tool' is not a table, so [tool.hardenreq] cannot be added",
        ),
        (
            "tool = {ruff = {line-length = 1}}\n",
            "pyproject.toml: cannot add [tool.hardenreq] to this file",
        ),
        ("[tool\n", "pyproject.toml: invalid TOML at line 1, column 5"),
    ],
)
def test_init_refuses_a_file_it_cannot_extend(
    text: str, fragment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, text)
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError) as info:
        plan_init(Path("pyproject.toml"), Path())

    assert str(info.value).startswith(fragment)


def test_init_paths_are_relative_to_the_pyproject(tmp_path: Path) -> None:
    (tmp_path / "project" / "requirements").mkdir(parents=True)
    (tmp_path / "project" / "requirements" / "base.in").write_text("attrs\n")

    _, new = plan_init(tmp_path / "pyproject.toml", tmp_path / "project")

    assert 'source = "project/requirements/base.in"' in new
    assert 'output = "project/requirements/base.txt"' in new


def test_init_orders_layered_locks_after_what_they_constrain(tmp_path: Path) -> None:
    for name, text in {
        "base.in": "attrs\n",
        "a.in": "-r requirements/z.txt\n",  # after z, which is after base
        "requirements/z.in": "-c ../base.txt\n",
        "m.in": "-c m.txt\n-c https://example.com/c.txt\n",  # itself and URLs do not count
        "x.in": "-c y.txt\n",  # a cycle keeps the sorted order
        "y.in": "-c x.txt\n",
        "broken.in": "-c\n",  # unparsable: no constraint
    }.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)

    _, new = plan_init(tmp_path / "pyproject.toml", tmp_path)

    sources = [line for line in new.splitlines() if line.startswith("source")]
    assert sources == [
        f'source = "{name}"'
        for name in ("base.in", "broken.in", "m.in", "requirements/z.in", "a.in", "x.in", "y.in")
    ]


SECTION = '[tool.hardenreq]\n# hardenreq: see hardenreq --help\nreport-format = "markdown"\n'


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("a = 1\n", "a = 1\n\n" + SECTION),
        ("a = 1\r\n", "a = 1\r\n\r\n" + SECTION.replace("\n", "\r\n")),
        ("a = 1\r\nb = 2", "a = 1\r\nb = 2\r\n\r\n" + SECTION.replace("\n", "\r\n")[:-2]),
        ("a = 1", "a = 1\n\n" + SECTION[:-1]),
        ("a = 1\n\n", "a = 1\n\n" + SECTION),
        ("a = 1\n \t\n", "a = 1\n \t\n" + SECTION),
        ("# only a comment", "# only a comment\n\n" + SECTION[:-1]),
        ("\n", "\n" + SECTION),
        ("", SECTION),
    ],
    ids=repr,
)
def test_init_appends_after_one_blank_line(old: str, new: str, tmp_path: Path) -> None:
    pyproject = _write(tmp_path, old)

    assert plan_init(pyproject, tmp_path) == (old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "[tool.hardenreq]\nretries = 1\n[tool.x]\nq = 1\n",
            SECTION + "\n[tool.x]\nq = 1\n",
        ),
        (
            "[tool.x]\nq = 1\n\n[tool.hardenreq]\nretries = 1\n",
            "[tool.x]\nq = 1\n\n" + SECTION,
        ),
        (
            '[tool]\nhardenreq.retries = 1\nruff.a = 1\n\n[project]\nname = "p"\n',
            "[tool]\nruff.a = 1\n\n" + SECTION + '\n[project]\nname = "p"\n',
        ),
        (
            '[[tool.hardenreq.locks]]\nsource = "a.in"\n\n[tool.x]\nq = 1',
            SECTION + "\n[tool.x]\nq = 1",
        ),
    ],
    ids=["first", "last", "dotted-keys", "array-of-tables-only"],
)
def test_init_force_replaces_the_table_where_it_stands(old: str, new: str, tmp_path: Path) -> None:
    pyproject = _write(tmp_path, old)

    assert plan_init(pyproject, tmp_path, force=True) == (old, new)


def test_init_force_refuses_an_inline_tool_table(tmp_path: Path) -> None:
    pyproject = _write(tmp_path, "tool = {hardenreq = {retries = 1}}\n")

    with pytest.raises(ConfigError, match=r"cannot replace \[tool\.hardenreq\] in this file"):
        plan_init(pyproject, tmp_path, force=True)


def test_init_finds_locks_by_their_header_and_the_pip_conf_beside_them(tmp_path: Path) -> None:
    # What `harden pyproject.toml --extra dev -o requirements-dev.txt` and
    # `harden requirements/base.in` leave behind, with the pip.conf written beside the lock.
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "svc"\nversion = "1"\ndependencies = ["tinyweb"]\n'
        '[project.optional-dependencies]\ndev = ["tinyutil"]\n'
    )
    (tmp_path / "requirements-dev.txt").write_text(
        "# This file is generated by hardenreq from pyproject.toml[dev]; edit that file, not "
        "this one.\n# To update it: hardenreq harden pyproject.toml --extra dev -o "
        "requirements-dev.txt\n#\ntinyweb==1.0\n"
    )
    folder = tmp_path / "requirements"
    folder.mkdir()
    (folder / "base.in").write_text("tinyweb\n")
    (folder / "pip.conf").write_text(render_pip_conf())
    _, new = plan_init(tmp_path / "pyproject.toml", tmp_path)
    (tmp_path / "pyproject.toml").write_text(new)
    settings = load_settings(cwd=tmp_path)
    assert settings.pip_conf == folder / "pip.conf"
    assert set(settings.locks) == {
        LockSpec(tmp_path / "pyproject.toml", tmp_path / "requirements-dev.txt", ("dev",)),
        LockSpec(folder / "base.in", folder / "base.txt", ()),
    }


def test_the_pip_conf_hardenreq_writes_is_recognised_by_init() -> None:
    assert render_pip_conf().startswith(PIP_CONF_MARK)
