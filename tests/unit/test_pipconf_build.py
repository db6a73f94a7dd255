"""pipconf: the build-constraint key, merged beside require-hashes, and read back by pip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hardenreq.errors import ConfigError
from hardenreq.pipconf import (
    build_constraint_values,
    plan_pip_conf,
    render_pip_conf,
    uv_build_hint,
)

CONF = Path("pip.conf")
BUILD = "/srv/app/build-constraints.txt"
OTHER = "/srv/team/build-pins.txt"


def _pip_config(text: str, tmp_path: Path) -> dict[str, str]:
    """What `pip config list` reads from ``text`` (pip 26.3 itself, no other file)."""
    conf = tmp_path / "pip.conf"
    conf.write_text(text)
    no_xdg = tmp_path / "no-xdg"
    no_xdg.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=str(conf), XDG_CONFIG_DIRS=str(no_xdg))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {
        key: value.strip("'")
        for key, _, value in (line.partition("=") for line in result.stdout.splitlines())
    }


def test_a_new_file_names_the_build_constraints_in_both_sections(tmp_path: Path) -> None:
    plan = plan_pip_conf(CONF, existing=None, build_constraints=(BUILD,))

    assert plan.new == render_pip_conf((BUILD,))
    assert plan.new.endswith(
        "[install]\nrequire-hashes = true\nbuild-constraint = /srv/app/build-constraints.txt\n\n"
        "[download]\nrequire-hashes = true\nbuild-constraint = /srv/app/build-constraints.txt\n"
    )
    values = _pip_config(plan.new, tmp_path)
    assert values["install.build-constraint"] == BUILD
    assert values["download.build-constraint"] == BUILD


def test_without_build_constraints_the_file_is_as_before() -> None:
    assert plan_pip_conf(CONF, existing=None).new == render_pip_conf()
    assert "build-constraint =" not in render_pip_conf()


def test_merge_adds_the_line_and_keeps_every_other_byte(tmp_path: Path) -> None:
    existing = "# mine\r\n[install]\r\ntimeout = 60\r\nrequire-hashes = yes\r\n"

    plan = plan_pip_conf(CONF, existing=existing, build_constraints=(BUILD,))

    assert plan.new == (
        "# mine\r\n[install]\r\ntimeout = 60\r\nrequire-hashes = yes\r\n"
        f"build-constraint = {BUILD}\r\n"
        "\r\n[download]\r\nrequire-hashes = true\r\n"
        f"build-constraint = {BUILD}\r\n"
    )
    again = plan_pip_conf(CONF, existing=plan.new, build_constraints=(BUILD,))
    assert not again.changed
    values = _pip_config(plan.new, tmp_path)
    assert values["install.timeout"] == "60"
    assert values["install.build-constraint"] == BUILD


def test_an_existing_value_keeps_its_files_and_gains_ours(tmp_path: Path) -> None:
    existing = (
        f"[install]\nrequire-hashes = true\nbuild-constraint =\n    {OTHER}\n    /x/more.txt\n"
        "[download]\nrequire-hashes = true\n"
    )

    plan = plan_pip_conf(CONF, existing=existing, build_constraints=(BUILD,))

    assert f"build-constraint = {OTHER} /x/more.txt {BUILD}\n" in plan.new
    values = _pip_config(plan.new, tmp_path)
    assert values["install.build-constraint"].split() == [OTHER, "/x/more.txt", BUILD]
    assert values["download.build-constraint"] == BUILD


def test_a_global_value_is_carried_into_the_new_install_value(tmp_path: Path) -> None:
    # pip install reads [install]'s value instead of [global]'s: dropping it would stop it.
    existing = f"[global]\nbuild-constraint = {OTHER}\n"

    plan = plan_pip_conf(CONF, existing=existing, build_constraints=(BUILD,))

    values = _pip_config(plan.new, tmp_path)
    assert values["global.build-constraint"] == OTHER
    assert values["install.build-constraint"].split() == [OTHER, BUILD]
    assert values["download.build-constraint"].split() == [OTHER, BUILD]


def test_a_relative_value_naming_the_same_file_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ours = str(tmp_path / "build-constraints.txt")
    existing = (
        "[install]\nrequire-hashes = true\nbuild-constraint = build-constraints.txt\n"
        "[download]\nrequire-hashes = true\nbuild-constraint = ./build-constraints.txt\n"
    )

    plan = plan_pip_conf(CONF, existing=existing, build_constraints=(ours,))

    assert not plan.changed
    assert plan.new == existing


def test_a_path_with_whitespace_is_refused() -> None:
    with pytest.raises(ConfigError, match="whitespace"):
        plan_pip_conf(CONF, existing=None, build_constraints=("/my builds/b.txt",))


def test_values_are_absolute_and_whitespace_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "with space").mkdir()

    values, problems = build_constraint_values(
        [Path("build-constraints.txt"), Path("with space/b.txt"), Path("./build-constraints.txt")]
    )

    assert values == (str(tmp_path / "build-constraints.txt"),)
    assert len(problems) == 1
    assert "with space/b.txt" in problems[0]
    assert "--build-constraint" in problems[0]


def test_uv_hint_names_the_flag_and_the_variable() -> None:
    hint = uv_build_hint([BUILD])

    assert f"--build-constraints {BUILD}" in hint
    assert "UV_BUILD_CONSTRAINT" in hint
    assert "UV_REQUIRE_HASHES=1" in hint
