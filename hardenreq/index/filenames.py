"""Which project and version a file on a simple page belongs to, by pip's own rules.

A simple page lists every file of every release of a project, sometimes with odd names
(``cffi-1.0.2-2.tar.gz`` is 1.0.2.post2, ``mpmath-all-0.19.tar.gz`` belongs to no release of
mpmath, ``django_allauth-0.26.0.tar.gz`` is listed on django's page). pip decides with
``LinkEvaluator.evaluate_link``: a wheel by its parsed filename; an archive by the first
``-`` whose prefix normalises to the project's name, the rest being the version (a ``-pyX.Y``
suffix names the one Python it is for). A file pip does not take is not a file of any
release. Files pip never installs but that an index lists (``.egg``, ``.exe``, ``.msi``...) are
kept as ``OTHER``: a lock may hold their hashes, which is harmless.

Pages hold tens of thousands of names, so the test is cheap: the name prefix is compared
first, each prefix and version spelling is normalised or parsed once per page.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from packaging.tags import Tag
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from hardenreq.models import FileKind

__all__ = ["SDIST_SUFFIXES", "FileVersion", "FilenameMatcher", "wheel_tags"]

# pip/_internal/utils/filetypes.py and unpacking.SUPPORTED_EXTENSIONS, case-sensitive as pip
# compares them (".ZIP" is skipped).
SDIST_SUFFIXES = (
    ".tar.gz", ".tgz", ".tar", ".zip", ".tar.bz2", ".tbz", ".tar.xz", ".txz",
    ".tlz", ".tar.lz", ".tar.lzma",
)  # fmt: skip
# Listed by indexes for old releases; pip installs none of them.
_OTHER_SUFFIXES = (".egg", ".exe", ".msi", ".rpm", ".dmg", ".deb")
_PY_VERSION_RE = re.compile(r"-py([123]\.?[0-9]?)$")
_OTHER_VERSION_END = re.compile(r"-|\.(?:win|linux|macosx|noarch|src|i[3-6]86|x86_64)")
# What a wheel or archive name may hold (PEP 427 escaping, PEP 440 versions, platform tags):
# anything else on a file of a pinned release is refused, never printed or written raw.
SAFE_FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!-]*$")
_MAX_FILENAME = 255


class FileVersion(NamedTuple):
    """The release a file belongs to: its kind and the version as spelled in the name (a
    tuple: made for every file of a page, so cheap to make)."""

    kind: FileKind
    raw_version: str


class FilenameMatcher:
    """Files of one project's simple page, assigned to releases as pip assigns them."""

    def __init__(self, project: NormalizedName) -> None:
        self.project = project
        self._prefixes: dict[str, bool] = {}
        self._versions: dict[str, Version | None] = {}

    def version_of(self, filename: str) -> FileVersion | None:
        """The release ``filename`` belongs to, or None when pip would not take it as a
        file of this project (another project's, an unparsable name, an unknown format)."""
        if filename.endswith(".whl"):
            # name-version-tags.whl: the name ends at the first "-" (PEP 427 escapes it).
            dash = filename.find("-")
            if dash <= 0 or not self.is_project(filename[:dash]):
                return None
            end = filename.find("-", dash + 1)
            if end <= dash + 1:
                return None
            return FileVersion(FileKind.WHEEL, filename[dash + 1 : end])
        if filename.endswith(".tar.gz"):  # most archives: no search for the suffix
            raw = self._archive_version(filename[:-7])
        elif filename.endswith(SDIST_SUFFIXES):
            suffix = ""
            for suffix in SDIST_SUFFIXES:
                if filename.endswith(suffix):
                    break
            if suffix == ".zip" and "macosx10" in filename:
                return None  # pip skips these old macOS builds (package_finder.py)
            raw = self._archive_version(filename[: -len(suffix)])
        else:
            return self._other_version(filename)
        if not raw:
            return None
        # "-py2.7" names the one Python the file is for; the version is before it.
        version = _PY_VERSION_RE.sub("", raw) if "-py" in raw else raw
        return FileVersion(FileKind.SDIST, version) if version else None

    def _other_version(self, filename: str) -> FileVersion | None:
        for suffix in _OTHER_SUFFIXES:
            if filename.endswith(suffix):
                raw = self._archive_version(filename[: -len(suffix)])
                # name-1.0-py2.7.egg, name-1.0.win32.exe, name-1.0-1.noarch.rpm
                version = _OTHER_VERSION_END.split(raw)[0] if raw else ""
                return FileVersion(FileKind.OTHER, version) if version else None
        return None

    def version(self, raw: str) -> Version | None:
        """``raw`` parsed (once per spelling), None when it is not a PEP 440 version."""
        if raw not in self._versions:
            try:
                self._versions[raw] = Version(raw)
            except InvalidVersion:
                self._versions[raw] = None
        return self._versions[raw]

    def is_project(self, prefix: str) -> bool:
        """Whether a name field (a wheel's, or an archive's up to a ``-``) names this
        project."""
        known = self._prefixes.get(prefix)
        if known is None:
            known = self._prefixes[prefix] = canonicalize_name(prefix) == self.project
        return known

    def version_start(self, name: str) -> int | None:
        """Where an archive's version starts in ``name`` (its stem, or its whole name: no
        suffix holds a ``-``): after the first ``-`` whose prefix names this project, as pip
        reads it (``_extract_version_from_fragment``); None when no prefix does."""
        prefixes = self._prefixes
        start = 0
        while (dash := name.find("-", start)) != -1:
            prefix = name[:dash]
            known = prefixes.get(prefix)
            if known is None:
                known = self.is_project(prefix)
            if known:
                return dash + 1
            start = dash + 1
        return None

    def _archive_version(self, stem: str) -> str | None:
        begin = self.version_start(stem)
        return None if begin is None else (stem[begin:] or None)


def check_wheel(filename: str, project: NormalizedName, version: Version) -> bool:
    """Whether a wheel's whole name parses (packaging's parser: tags included) as a wheel of
    this project and version; run on the files of a pinned release and of newer ones.

    packaging's answer, in parts that repeat across a page: its name and version fields
    are those up to the first and second ``-``, and what follows (an optional build tag,
    then the tags) is checked by packaging on its own, once per distinct text (tens of
    thousands of wheels on a page share a few hundred tag sets)."""
    dash = filename.find("-")
    end = filename.find("-", dash + 1) if dash > 0 else -1
    if end <= dash + 1 or not filename.endswith(".whl"):
        return _parses_as(filename, project, version)
    return (
        _wheel_name(filename[:dash]) == project
        and _version(filename[dash + 1 : end]) == version
        and _wheel_tail_ok(filename[end + 1 : -4])
    )


def wheel_tags(filename: str) -> frozenset[Tag] | None:
    """A wheel's tags as packaging reads its name (``parse_wheel_filename``), None when it
    refuses the name; checked in the parts that repeat, as ``check_wheel`` checks them."""
    dash = filename.find("-")
    end = filename.find("-", dash + 1) if dash > 0 else -1
    if end <= dash + 1 or not filename.endswith(".whl"):
        try:
            return parse_wheel_filename(filename)[3]
        except (InvalidWheelFilename, InvalidVersion):
            return None
    if _wheel_name(filename[:dash]) is None or _version(filename[dash + 1 : end]) is None:
        return None
    return _wheel_tail_tags(filename[end + 1 : -4])


def _parses_as(filename: str, project: NormalizedName, version: Version) -> bool:
    try:
        name, parsed, _, _ = parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidVersion):
        return False
    return name == project and parsed == version


@functools.lru_cache(maxsize=4096)
def _wheel_name(field: str) -> NormalizedName | None:
    """A wheel's name field as packaging reads it (normalised), None when it refuses it."""
    try:
        return parse_wheel_filename(f"{field}-0-py3-none-any.whl")[0]
    except (InvalidWheelFilename, InvalidVersion):
        return None


@functools.lru_cache(maxsize=8192)
def _version(field: str) -> Version | None:
    try:
        return Version(field)
    except InvalidVersion:
        return None


def _wheel_tail_ok(tail: str) -> bool:
    """Whether packaging accepts a wheel name's build tag and tags (``tail``: all after the
    version's ``-``, without ``.whl``), checked beside a name and version it accepts."""
    return _wheel_tail_tags(tail) is not None


@functools.lru_cache(maxsize=4096)
def _wheel_tail_tags(tail: str) -> frozenset[Tag] | None:
    """The tags of a wheel name's ``tail`` (as ``_wheel_tail_ok``), None if refused."""
    try:
        return parse_wheel_filename(f"x-0-{tail}.whl")[3]
    except (InvalidWheelFilename, InvalidVersion):
        return None


def safe_filename(filename: str) -> bool:
    """Whether a filename is one pip could have made: bounded, plain characters only."""
    return len(filename) <= _MAX_FILENAME and SAFE_FILENAME_RE.match(filename) is not None
