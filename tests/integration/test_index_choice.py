"""Which index hardenreq asks for a tree of files is the one pip's own parser settles on:
option lines apply in pip's reading order (an include where its line stands), an
``--index-url`` line replaces every index chosen before it (extras included), and
``--no-index`` ends them all. pip is the oracle: its parser fills a real PackageFinder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pip._internal.index.collector import LinkCollector
from pip._internal.index.package_finder import PackageFinder
from pip._internal.models.release_control import ReleaseControl
from pip._internal.models.search_scope import SearchScope
from pip._internal.models.selection_prefs import SelectionPreferences
from pip._internal.network.session import PipSession
from pip._internal.req import req_file

from hardenreq.core import index_settings_for
from hardenreq.reqfile import parse_requirements

A, B = "https://a.index.example.com/simple", "https://b.index.example.com/simple"
X, Y = "https://x.index.example.com/simple", "https://y.index.example.com/simple"
DEFAULT = "https://default.index.example.com/simple"

CASES = {
    "a later --index-url in the root wins over one in an include above it": (
        {"r.txt": f"-r inc.txt\n--index-url {A}\n", "inc.txt": f"--index-url {B}\n"},
        [A],
    ),
    "an include read after the root's line wins": (
        {"r.txt": f"--index-url {A}\n-r inc.txt\n", "inc.txt": f"--index-url {B}\n"},
        [B],
    ),
    "--index-url drops the extras chosen before it": (
        {"r.txt": f"--extra-index-url {X}\n--index-url {A}\n--extra-index-url {Y}\n"},
        [A, Y],
    ),
    "the configuration's extra index is dropped by a file's --index-url": (
        {"r.txt": f"--index-url {A}\n"},
        [A],
    ),
    "--no-index ends every index, later lines too": (
        {"r.txt": f"--no-index\n--index-url {A}\n"},
        [],
    ),
    "a constraints file's options count as well": (
        {"r.txt": "-c c.txt\ntinyweb\n", "c.txt": f"--extra-index-url {X}\n"},
        [DEFAULT, X],
    ),
}


def _pip_index_urls(root: Path, configured: list[str]) -> list[str]:
    session = PipSession()
    scope = SearchScope.create(find_links=[], index_urls=configured, no_index=False)
    prefs = SelectionPreferences(allow_yanked=True, release_control=ReleaseControl())
    finder = PackageFinder.create(LinkCollector(session, scope), prefs)
    list(req_file.parse_requirements(str(root), session, finder=finder))
    return list(finder.index_urls)


@pytest.mark.parametrize("case", list(CASES))
def test_index_choice_matches_pip(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, expected = CASES[case]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    configured = [DEFAULT]
    monkeypatch.setenv("PIP_INDEX_URL", DEFAULT)
    if case.startswith("the configuration's extra"):
        monkeypatch.setenv("PIP_EXTRA_INDEX_URL", X)
        configured.append(X)
    root = tmp_path / "r.txt"
    tree = parse_requirements([root], environ=dict(os.environ))
    assert list(index_settings_for(tree).urls) == expected
    assert _pip_index_urls(root, configured) == expected
