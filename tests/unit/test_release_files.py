"""The shortcuts a page is read with (hardenreq.index.sources._ReleaseFiles) give what the
plain reading gives: each file through ``FilenameMatcher.version_of`` and a PEP 440 parse,
each listed version parsed.

The shortcuts: a wheel is judged by its name and version (``name-version``) once; a version
spelling whose release numbers are below the pin's is older without a parse; the newest
release parses only the listed versions from the pin's release numbers on. The filenames
are the corpus of real odd names (tests/data/filenames), grouped by project, with odd
spellings added (epochs, leading zeros, whitespace, "v" prefixes, local versions)."""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from hardenreq.index.filenames import FilenameMatcher
from hardenreq.index.sources import _NEWER, _PINNED, _ReleaseFiles
from hardenreq.models import FileKind, Pin

CORPUS = Path(__file__).resolve().parents[1] / "data" / "filenames" / "corpus.json"

EXTRA = {
    "foo": [
        "foo-1.0.tar.gz",
        "foo-1.0-py3-none-any.whl",
        "foo-1.0.0-py2-none-any.whl",  # another spelling of 1.0
        "foo-01.0-cp311-cp311-linux_x86_64.whl",
        "Foo-1.0.zip",
        "foo-v1.0.tar.gz",
        "foo-1!0.5.tar.gz",  # an epoch: newer than any 1.x
        "foo-1!0.5-py3-none-any.whl",
        "foo-2.0rc1-py3-none-any.whl",
        "foo-2.0rc1.tar.gz",
        "foo-1.5-py3-none-any.whl",
        "foo-1.5.egg",
        "foo-3.0.egg",  # a newer release pip never installs
        "foo-0.9-py3-none-any.whl",
        "foo-0.9.tar.gz",
        "foo-1.0+local-py3-none-any.whl",
        "foo-1.0.post1.tar.gz",
        "foo-1.0.dev0.tar.gz",
        "foo-1.0-py2.7.tar.gz",
        "foo-1.0.win32.exe",
        "foo-.tar.gz",
        "foo--py3-none-any.whl",
        "-1.0-py3-none-any.whl",
        "foo.whl",
        "foo-1.0.whl",
        "foo-1.x-py3-none-any.whl",
        "foo_bar-1.0-py3-none-any.whl",  # another project's
        "foo-bar-1.0.tar.gz",
        "foo-1.0.macosx10.zip",
        "foo-1.0-py3-none-any.WHL",
        # Heads ("major.minor") that decide alone, or must not.
        "foo-1.10.0.tar.gz",
        "foo-1.9.5-py3-none-any.whl",
        "foo-0.10.tar.gz",
        "foo-01.09.1.tar.gz",
        "foo-1.2.3.4.tar.gz",
        "foo-2.tar.gz",
        "foo-1.0.0-2.tar.gz",  # 1.0.0.post2: two "-", read as pip reads archives
        "foo-\u0661.\u0665.tar.gz",  # not ASCII digits: not a PEP 440 version
        "foo-1.5.x.tar.gz",
        "foo-1.5.0+local.tar.gz",
        # Runs that name order puts together, and their neighbours.
        "foo-1.9-py3-none-any.whl",
        "foo-1.9.1-py3-none-any.whl",
        "foo-1.9+x-py3-none-any.whl",  # "+" sorts before "-"
        "foo-1.9.tar.gz",
        "foo-1.9-1.tar.gz",
        "foo-1.9.0.whl",
        "foo-1.9/x-py3-none-any.whl",
        "foo-1.90-py3-none-any.whl",
        "foo-1.10.0-cp311-cp311-linux_x86_64.whl",
        "foo-1.10.0-py3-none-any.whl",
        "fo-1.0-py3-none-any.whl",
        "foo.bar-1.0-py3-none-any.whl",
        "FOO-1.0-cp312-cp312-win_amd64.whl",
        "-foo-1.0-py3-none-any.whl",
        "foo-1.0-.whl",
    ],
    # Another project's files beside the project's, in name order: "foo-" is not
    # "foo-bar", but "foo.bar-" is.
    "foo-bar": [
        "foo-1.0-py3-none-any.whl",
        "foo-2.0-py3-none-any.whl",
        "foo.bar-1.0-py3-none-any.whl",
        "foo.bar-2.0-py3-none-any.whl",
        "foo_bar-1.1-py3-none-any.whl",
        "foo-bar-1.0.tar.gz",
        "foo-bar-1.1.tar.gz",
        "foo-bar-0.9.zip",
        "foo-bar-0.9-py2.7.egg",
        "foo-2.0.tar.gz",
    ],
    # A name that reads as a version: the version starts after the name, not at the first
    # "-".
    "x-1-0-5": [
        "x-1.0.5-3.0.tar.gz",
        "x-1.0.5-0.5.tar.gz",
        "x-1.0.5-3.0.zip",
        "x-1.0.5-3.1-py2.7.egg",
        "x_1.0.5-3.0-py3-none-any.whl",
        "x-1.0.5.tar.gz",
    ],
}
LISTED_EXTRA = ["0.1", " 1.0 ", "v1.0", "1!0.5", "2.0rc1", "not a version", "1.5", "0.9"]


def _projects() -> dict[str, list[str]]:
    entries = json.loads(CORPUS.read_text(encoding="utf-8"))
    projects: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        projects[canonicalize_name(entry["project"])].append(entry["filename"])
    for project, names in EXTRA.items():
        projects[project].extend(names)
    return dict(projects)


PROJECTS = _projects()


def _plain(project: str, filenames: list[str], pin: Version) -> dict[int, tuple[int, Version]]:
    """What each file is to the pin, read the plain way."""
    matcher = FilenameMatcher(canonicalize_name(project))
    found: dict[int, tuple[int, Version]] = {}
    for position, filename in enumerate(filenames):
        read = matcher.version_of(filename)
        version = matcher.version(read.raw_version) if read is not None else None
        if read is None or version is None:
            continue
        if version == pin:
            found[position] = (_PINNED, version)
        elif version > pin and read.kind != FileKind.OTHER:
            found[position] = (_NEWER, version)
    return found


def _plain_latest(project: str, filenames: list[str], listed: list[str]) -> Version | None:
    matcher = FilenameMatcher(canonicalize_name(project))
    versions: set[Version] = set()
    for filename in filenames:
        read = matcher.version_of(filename)
        version = matcher.version(read.raw_version) if read is not None else None
        if read is not None and version is not None and read.kind != FileKind.OTHER:
            versions.add(version)
    for raw in listed:
        with contextlib.suppress(InvalidVersion):
            versions.add(Version(raw))
    finals = [v for v in versions if not v.is_prerelease]
    return max(finals or versions, default=None)


def _spellings(project: str, filenames: list[str]) -> list[str]:
    """The version spellings of the files, as a page lists them."""
    matcher = FilenameMatcher(canonicalize_name(project))
    read = (matcher.version_of(filename) for filename in filenames)
    return sorted({found.raw_version for found in read if found is not None})


def _pins(project: str, filenames: list[str]) -> list[Version]:
    """Every version a file of the project is of, and some between and beyond."""
    matcher = FilenameMatcher(canonicalize_name(project))
    versions = set()
    for filename in filenames:
        read = matcher.version_of(filename)
        version = matcher.version(read.raw_version) if read is not None else None
        if version is not None:
            versions.add(version)
    return sorted(versions | {Version("0"), Version("999"), Version("1.0a1")})


@pytest.mark.parametrize("order", ["listed", "by name", "reversed"])
@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_the_shortcuts_read_a_page_as_the_plain_reading_does(project: str, order: str) -> None:
    # Runs of names are passed over in name order (an index lists its files so); a page
    # in any other order is read the same.
    filenames = {
        "listed": PROJECTS[project],
        "by name": sorted(PROJECTS[project]),
        "reversed": sorted(PROJECTS[project], reverse=True),
    }[order]
    # The versions the page lists (PEP 700): its files' spellings, and odd ones for "foo".
    listed = _spellings(project, filenames) + (LISTED_EXTRA if project == "foo" else [])
    for pin in _pins(project, filenames):
        picked = _ReleaseFiles(Pin(canonicalize_name(project), pin), "index")
        wanted = {
            position: (status, version) for position, status, version in picked.wanted(filenames)
        }
        plain = _plain(project, filenames, pin)
        assert wanted == plain, (project, pin)
        # Hashing alone (no later releases wanted): the pinned release's files only.
        alone = _ReleaseFiles(Pin(canonicalize_name(project), pin), "index", others=False)
        pinned = {p: found for p, found in plain.items() if found[0] == _PINNED}
        assert {p: (s, v) for p, s, v in alone.wanted(filenames)} == pinned, (project, pin)
        if any(status == _PINNED for status, _ in wanted.values()):
            # The newest release, as fetch_release asks for it (the pin has files).
            assert picked.latest(listed, filenames) == _plain_latest(project, filenames, listed), (
                project,
                pin,
            )


def test_the_newest_release_is_found_below_a_prerelease_pin() -> None:
    # The pin is a prerelease, the only finals are older: the listed versions below the
    # pin's release numbers must be parsed too.
    picked = _ReleaseFiles(Pin(canonicalize_name("foo"), Version("2.0b1")), "index")
    names = ["foo-2.0b1.tar.gz", "foo-1.0.tar.gz"]
    assert [status for _, status, _ in picked.wanted(names)] == [_PINNED]
    assert picked.latest(["1.0", "1.5", "2.0b1"], names) == Version("1.5")
