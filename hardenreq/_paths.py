"""How paths are shown to the user (from the working folder, with POSIX separators), and
which name a pylock.toml has."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["display_path", "is_pylock_path"]

_PYLOCK_NAME_RE = re.compile(r"^pylock\.([^.]+)\.toml$")


def display_path(path: Path) -> str:
    """A path as reports show it: relative to the working folder when below it (so SARIF
    and GitHub annotations point into the repository), POSIX separators."""
    try:
        return path.absolute().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def is_pylock_path(path: Path) -> bool:
    """Whether ``path`` names a pylock.toml (``pylock.toml``, ``pylock.NAME.toml``), the
    rule pip applies to ``pip install -r`` to pick the format."""
    return path.name == "pylock.toml" or _PYLOCK_NAME_RE.fullmatch(path.name) is not None
