"""How paths are shown to the user: from the working folder, with POSIX separators."""

from __future__ import annotations

from pathlib import Path

__all__ = ["display_path"]


def display_path(path: Path) -> str:
    """A path as reports show it: relative to the working folder when below it (so SARIF
    and GitHub annotations point into the repository), POSIX separators."""
    try:
        return path.absolute().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()
