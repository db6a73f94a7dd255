"""config: the build-constraints key, for every lock and for one lock, and as a flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardenreq.config import load_settings, merge
from hardenreq.errors import ConfigError


def test_build_constraints_for_every_lock_and_for_one(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[tool.hardenreq]\n"
        'build-constraints = "build/shared.txt"\n'
        "[[tool.hardenreq.locks]]\n"
        'source = "base.in"\n'
        "[[tool.hardenreq.locks]]\n"
        'source = "docs.in"\n'
        'build-constraints = "build/docs.txt"\n'
    )

    settings = load_settings(pyproject)

    assert settings.build_constraints == tmp_path / "build/shared.txt"
    assert [lock.build_constraints for lock in settings.locks] == [
        None,
        tmp_path / "build/docs.txt",
    ]
    assert merge(settings, build_constraints=Path("x.txt")).build_constraints == Path("x.txt")
    assert merge(settings, build_constraints=None).build_constraints == settings.build_constraints


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ("build-constraints = 3\n", "'build-constraints' must be a path, not 3"),
        (
            '[[tool.hardenreq.locks]]\nsource = "a.in"\nbuild-constraints = ""\n',
            "'locks[1].build-constraints' must be a path",
        ),
        ('build_constraints = "b.txt"\n', "did you mean 'build-constraints'?"),
    ],
)
def test_bad_build_constraints_values_name_the_key(
    tmp_path: Path, table: str, fragment: str
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.hardenreq]\n" + table)

    with pytest.raises(ConfigError) as info:
        load_settings(pyproject)

    assert fragment in str(info.value)
    assert str(pyproject) in str(info.value)
