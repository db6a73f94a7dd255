"""pipconf: merging require-hashes into pip.conf, byte for byte, against golden files."""

from __future__ import annotations

import difflib
import os
import re
import stat
from pathlib import Path

import pytest

from hardenreq.errors import ConfigError, WriteFailed
from hardenreq.pipconf import (
    UV_HINT,
    PipConfPlan,
    default_pip_conf_path,
    pip_conf_write,
    plan_pip_conf,
    read_pip_conf,
    render_pip_conf,
    write_pip_conf,
)

GOLDEN = Path(__file__).parent.parent / "golden" / "pipconf"
CONF = Path("pip.conf")


def _read_golden(path: Path) -> str | None:
    # Bytes, not read_text(): universal newlines would turn the CRLF cases into LF.
    return read_pip_conf(path)


# case, sections whose false/empty value is overridden, fragments expected in the warnings.
# "new" has no .in.conf: it is the file written when there is none.
CASES: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("new", (), ()),
    ("empty", (), ()),
    ("comments", (), ()),
    ("install_other_keys", (), ()),
    ("true_underscore_spelling", (), ()),
    ("already_enabled", (), ()),
    ("false_value", ("install", "download"), ()),
    ("empty_value", ("install",), ()),
    ("crlf", (), ()),
    ("cr_only", (), ()),
    ("no_trailing_newline", (), ()),
    ("no_trailing_newline_header", (), ()),
    ("continuation", (), ()),
    ("global_false", (), ("pip.conf:2: [global] sets require-hashes = false",)),
    (
        "global_true",
        (),
        ("pip.conf:2: [global] sets require-hashes = true, which applies to every",),
    ),
    ("unusual_order", (), ()),
    ("indented_sections", (), ()),
    (
        "indented_header_in_value",
        (),
        (
            "pip.conf:4: [install] is indented, so pip reads it as part of the value of "
            "extra-index-url",
        ),
    ),
    (
        "case_sensitive_sections",
        (),
        ("pip.conf:1: pip ignores [Install]", "pip.conf:4: pip ignores [DOWNLOAD]"),
    ),
    ("default_section", (), ("pip.conf:2: [DEFAULT] sets require-hashes = false",)),
]


def test_every_golden_input_has_a_case() -> None:
    inputs = {path.name.removesuffix(".in.conf") for path in GOLDEN.glob("*.in.conf")}
    assert inputs | {"new"} == {case for case, _, _ in CASES}


@pytest.mark.parametrize(("case", "overrode", "warnings"), CASES, ids=[c[0] for c in CASES])
def test_merge_matches_golden(
    case: str,
    overrode: tuple[str, ...],
    warnings: tuple[str, ...],
    request: pytest.FixtureRequest,
) -> None:
    existing = _read_golden(GOLDEN / f"{case}.in.conf")
    expected_path = GOLDEN / f"{case}.out.conf"

    plan = plan_pip_conf(CONF, existing=existing)

    if request.config.getoption("--update-golden", default=False):
        expected_path.write_bytes(plan.new.encode("utf-8", "surrogateescape"))
    assert plan.new == _read_golden(expected_path)
    assert plan.path == CONF
    assert plan.old == existing
    assert plan.changed == (plan.new != existing)
    assert plan.overrode == overrode
    assert len(plan.warnings) == len(warnings)
    for note, fragment in zip(plan.warnings, warnings, strict=True):
        assert note.startswith(fragment)


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_merge_is_idempotent(case: str) -> None:
    first = plan_pip_conf(CONF, existing=_read_golden(GOLDEN / f"{case}.in.conf"))

    second = plan_pip_conf(CONF, existing=first.new)

    assert not second.changed
    assert second.new == first.new
    assert second.overrode == ()


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_OURS = re.compile(r"\s*(-*require[-_]hashes\s*[=:].*|\[install\]|\[download\]|)\s*", re.I)


@pytest.mark.parametrize("case", [c[0] for c in CASES if c[0] != "new"])
def test_merge_changes_nothing_but_require_hashes_lines(case: str) -> None:
    existing = _read_golden(GOLDEN / f"{case}.in.conf")
    assert existing is not None
    old = _LINE.findall(existing)

    new = _LINE.findall(plan_pip_conf(CONF, existing=existing).new)

    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag == "equal":
            continue
        for line in old[a_start:a_end]:
            # Only a require-hashes line changes, or the last line gains the line ending it lacked.
            gained_ending = line is old[-1] and line == line.rstrip("\r\n")
            assert _OURS.fullmatch(line) or gained_ending, line
        for line in new[b_start:b_end]:
            assert _OURS.fullmatch(line) or line.rstrip("\r\n") == old[-1], line


def test_already_enabled_file_is_not_changed() -> None:
    existing = _read_golden(GOLDEN / "already_enabled.in.conf")

    plan = plan_pip_conf(CONF, existing=existing)

    assert plan == PipConfPlan(path=CONF, old=existing, new=existing or "", changed=False)


def test_crlf_and_missing_final_newline_are_kept() -> None:
    plan = plan_pip_conf(CONF, existing="[global]\r\ntimeout = 5")

    assert plan.new == (
        "[global]\r\ntimeout = 5\r\n\r\n[install]\r\nrequire-hashes = true\r\n"
        "\r\n[download]\r\nrequire-hashes = true"
    )


def test_false_value_keeps_the_key_spelling_and_spacing() -> None:
    plan = plan_pip_conf(CONF, existing="[install]\n  Require_Hashes:no  \n[download]\nx=1\n")

    assert (
        plan.new == "[install]\n  Require_Hashes:true  \n[download]\nx=1\nrequire-hashes = true\n"
    )
    assert plan.overrode == ("install",)


def test_new_file_explains_itself() -> None:
    text = render_pip_conf()

    assert text.startswith("# ")
    assert "[global]" in text  # only in the comment saying why not
    assert "\n[global]" not in text
    assert "UV_REQUIRE_HASHES=1" in text
    assert text.endswith("[install]\nrequire-hashes = true\n\n[download]\nrequire-hashes = true\n")
    assert plan_pip_conf(CONF, existing=None).new == text


def test_uv_hint_names_both_switches() -> None:
    assert "UV_REQUIRE_HASHES=1" in UV_HINT
    assert "uv.toml" in UV_HINT


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("timeout = 5\n", 1, "a setting before the first [section] header"),
        ("# fine\n\n  timeout = 5\n", 3, "a setting before the first [section] header"),
        ("[global]\ntimeout = 5\nthis is not a setting\n", 3, "pip cannot parse this line"),
        ("[global]\n= 5\n", 2, "pip cannot parse this line"),
        ("[global]\n[install]\n[global]\n", 3, "section [global] appears twice"),
        ("[install]\nrequire-hashes = no\nREQUIRE_HASHES = yes\n", 3, "set twice in [install]"),
        ("[install]\ntimeout = 1\n--timeout: 2\n", 3, "timeout is set twice in [install]"),
        ("[install]\nrequire-hashes = maybe\n", 2, "'maybe' in [install] is not a value pip"),
        ("[install]\nrequire-hashes = yes\n  please\n", 2, "'yes\\nplease' in [install]"),
        ("[global]\nrequire-hashes = sure\n", 2, "'sure' in [global] is not a value pip"),
        ("[DEFAULT]\nrequire-hashes = sure\n", 2, "'sure' in [DEFAULT] is not a value pip"),
    ],
)
def test_unparsable_file_names_path_and_line(text: str, line: int, fragment: str) -> None:
    path = Path("conf") / "pip.conf"

    with pytest.raises(ConfigError) as info:
        plan_pip_conf(path, existing=text)

    assert info.value.message.startswith(f"{path}:{line}: ")
    assert fragment in info.value.message


def test_inline_comment_gets_a_hint() -> None:
    with pytest.raises(ConfigError) as info:
        plan_pip_conf(CONF, existing="[install]\nrequire-hashes = true  # hashes on\n")

    assert info.value.hint is not None
    assert "own" in info.value.hint


@pytest.mark.parametrize(
    ("environ", "prefix", "base_prefix", "windows", "expected", "explained"),
    [
        pytest.param(
            {"VIRTUAL_ENV": "/work/.venv"},
            "/work/.venv",
            "/usr",
            False,
            Path("/work/.venv/pip.conf"),
            "virtual environment /work/.venv reads /work/.venv/pip.conf",
            id="activated-venv",
        ),
        pytest.param(
            {"VIRTUAL_ENV": "/work/.venv"},
            "/home/me/.local/pipx/venvs/hardenreq",
            "/usr",
            False,
            Path("/work/.venv/pip.conf"),
            "/work/.venv",
            id="virtual-env-wins-over-prefix",
        ),
        pytest.param(
            {},
            "/opt/venv",
            "/usr",
            False,
            Path("/opt/venv/pip.conf"),
            "/opt/venv reads /opt/venv/pip.conf",
            id="venv-python-not-activated",
        ),
        pytest.param(
            {"VIRTUAL_ENV": ""},
            "/usr",
            "/usr",
            False,
            Path("project/pip.conf"),
            "point pip at it with PIP_CONFIG_FILE=project/pip.conf (for example in CI)",
            id="empty-virtual-env-is-unset",
        ),
        pytest.param(
            {},
            "/usr",
            "/usr",
            False,
            Path("project/pip.conf"),
            "point pip at it with PIP_CONFIG_FILE=project/pip.conf (for example in CI)",
            id="no-venv",
        ),
        pytest.param(
            {"VIRTUAL_ENV": "C:\\work\\.venv"},
            "C:\\work\\.venv",
            "C:\\Python313",
            True,
            Path("C:\\work\\.venv") / "pip.ini",
            "pip.ini",
            id="windows-venv",
        ),
    ],
)
def test_default_pip_conf_path(
    environ: dict[str, str],
    prefix: str,
    base_prefix: str,
    windows: bool,
    expected: Path,
    explained: str,
) -> None:
    path, explanation = default_pip_conf_path(
        output=Path("project/requirements.txt"),
        environ=environ,
        prefix=prefix,
        base_prefix=base_prefix,
        windows=windows,
    )

    assert path == expected
    assert explained in explanation
    assert "\n" not in explanation


def test_default_path_outside_a_venv_quotes_for_the_shell() -> None:
    _, explanation = default_pip_conf_path(
        output=Path("my project/requirements.txt"), environ={}, prefix="/usr", base_prefix="/usr"
    )

    assert "PIP_CONFIG_FILE='my project/pip.conf'" in explanation


def test_write_new_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "pip.conf"
    plan = plan_pip_conf(target, existing=read_pip_conf(target))

    write_pip_conf(plan)

    assert target.read_bytes() == render_pip_conf().encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_write_keeps_bytes_and_mode_of_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "pip.conf"
    target.write_bytes(b"[global]\r\n# caf\xe9 in latin-1\r\ntimeout = 5")
    os.chmod(target, 0o600)
    plan = plan_pip_conf(target, existing=read_pip_conf(target))

    write_pip_conf(plan)

    assert target.read_bytes() == (
        b"[global]\r\n# caf\xe9 in latin-1\r\ntimeout = 5\r\n\r\n[install]\r\n"
        b"require-hashes = true\r\n\r\n[download]\r\nrequire-hashes = true"
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_write_skips_unchanged_plan(tmp_path: Path) -> None:
    target = tmp_path / "pip.conf"
    plan = PipConfPlan(path=target, old=None, new="ignored", changed=False)

    write_pip_conf(plan)

    assert not target.exists()


@pytest.mark.parametrize("old", [None, "[global]\n"])
def test_write_refuses_a_file_changed_since_it_was_read(tmp_path: Path, old: str | None) -> None:
    target = tmp_path / "pip.conf"
    plan = plan_pip_conf(target, existing=old)
    target.write_text("[global]\ntimeout = 1\n")

    with pytest.raises(WriteFailed, match="since it was read"):
        write_pip_conf(plan)

    assert target.read_text() == "[global]\ntimeout = 1\n"


def test_pip_conf_write_keeps_the_bytes_as_read_and_expects_them(tmp_path: Path) -> None:
    target = tmp_path / "pip.conf"
    original = b"[global]\n# caf\xe9 in latin-1\n"
    target.write_bytes(original)

    write = pip_conf_write(plan_pip_conf(target, existing=read_pip_conf(target)))

    assert write is not None
    assert write.path == target
    assert write.expected == original
    assert write.data == original + (
        b"\n[install]\nrequire-hashes = true\n\n[download]\nrequire-hashes = true\n"
    )


def test_pip_conf_write_of_a_new_file_expects_no_file(tmp_path: Path) -> None:
    write = pip_conf_write(plan_pip_conf(tmp_path / "pip.conf", existing=None))

    assert write is not None
    assert write.expected is None
    assert write.mode == 0o644
    assert write.data == render_pip_conf().encode()


def test_pip_conf_write_of_an_unchanged_plan_is_none(tmp_path: Path) -> None:
    plan = PipConfPlan(path=tmp_path / "pip.conf", old="x", new="x", changed=False)

    assert pip_conf_write(plan) is None


def test_an_oversize_pip_conf_is_a_config_error(tmp_path: Path) -> None:
    target = tmp_path / "pip.conf"
    target.write_bytes(b"[global]\n" + b"#" * (1024 * 1024))

    with pytest.raises(ConfigError, match=r"pip\.conf: cannot read the pip configuration: it is"):
        read_pip_conf(target)


def test_read_missing_file_is_none(tmp_path: Path) -> None:
    assert read_pip_conf(tmp_path / "pip.conf") is None


def test_read_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_pip_conf(tmp_path)
