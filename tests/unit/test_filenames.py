"""The corpus of odd filenames from real simple pages (tests/data/filenames/corpus.json) is
well-formed and still says what the installed pip reads from each filename.

pip is the oracle: a file belongs to release X of project P exactly when pip's index code
(``pip/_internal/index/package_finder.py`` ``LinkEvaluator.evaluate_link``) turns it into a
candidate of P at version X. The checks below call pip's own functions, so a pip upgrade that
changes the rule shows up here first, and the corpus is then regenerated (README.md there).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version as PackagingVersion
from pip._internal.exceptions import InvalidWheelFilename
from pip._internal.index.package_finder import (
    LinkEvaluator,
    LinkType,
    _extract_version_from_fragment,
)
from pip._internal.models.link import Link
from pip._internal.models.target_python import TargetPython
from pip._internal.models.wheel import Wheel
from pip._internal.utils.misc import splitext
from pip._internal.utils.unpacking import SUPPORTED_EXTENSIONS
from pip._vendor.packaging.utils import canonicalize_name
from pip._vendor.packaging.version import InvalidVersion, Version

from hardenreq.index.filenames import FilenameMatcher, check_wheel, wheel_tags
from hardenreq.models import FileKind, NormalizedName

CORPUS = Path(__file__).resolve().parents[1] / "data" / "filenames" / "corpus.json"
_KEYS = {"project", "filename", "pip", "naive_version"}
_OPTIONAL_KEYS = {"listed_on"}
_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".tbz", ".txz")


def _load() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(CORPUS.read_text(encoding="utf-8"))
    return entries


ENTRIES = _load()


def _pip_reads(project: str, filename: str) -> dict[str, str | None]:
    """What pip's LinkEvaluator makes of a file on project's page, before platform checks.

    Wheel tags and Requires-Python depend on the interpreter and are left out; the
    ``-pyX.Y`` suffix of an sdist is reported as ``python`` instead of being matched.
    """
    stem, ext = splitext(filename)
    if not ext:
        return {"kind": None, "version": None, "reason": "not a file"}
    if ext not in SUPPORTED_EXTENSIONS:
        return {"kind": None, "version": None, "reason": f"unsupported archive format: {ext}"}
    if "macosx10" in filename and ext == ".zip":
        return {"kind": None, "version": None, "reason": "macosx10 one"}
    kind = "sdist"
    if ext == ".whl":
        try:
            wheel = Wheel(filename)
        except InvalidWheelFilename:
            return {"kind": None, "version": None, "reason": "invalid wheel filename"}
        if wheel.name != project:
            return {"kind": None, "version": None, "reason": "wrong project name"}
        raw = wheel.version
        kind = "wheel"
    else:
        fragment_version = _extract_version_from_fragment(stem, canonicalize_name(project))
        if not fragment_version:
            return {"kind": None, "version": None, "reason": "missing project version"}
        raw = fragment_version
    python = None
    match = LinkEvaluator._py_version_re.search(raw)
    if match:
        raw, python = raw[: match.start()], match.group(1)
    try:
        version = str(Version(raw))
    except InvalidVersion:
        # pip's InstallationCandidate refuses it: the file is skipped.
        return {"kind": None, "version": None, "reason": "invalid version"}
    result: dict[str, str | None] = {"kind": kind, "version": version}
    if python is not None:
        result["python"] = python
    return result


def _naive_version(filename: str) -> str | None:
    """The rule the corpus compares pip with: the text after the last "-" of the stem."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        return parts[1] if len(parts) in (5, 6) else None
    for suffix in _SDIST_SUFFIXES:
        if filename.endswith(suffix):
            return filename[: -len(suffix)].rpartition("-")[2] or None
    return None


def test_corpus_is_well_formed() -> None:
    assert 2000 <= len(ENTRIES) <= 10000
    assert len({(e["project"], e["filename"]) for e in ENTRIES}) == len(ENTRIES)
    for entry in ENTRIES:
        assert _KEYS <= entry.keys() <= _KEYS | _OPTIONAL_KEYS, entry
        assert entry["project"] == canonicalize_name(entry["project"]), entry
        assert "/" not in entry["filename"], entry
        view = entry["pip"]
        assert view["kind"] in ("wheel", "sdist", None), entry
        if view["kind"] is None:
            assert view["version"] is None, entry
            assert view["reason"], entry
        else:
            assert "reason" not in view, entry
            assert str(Version(view["version"])) == view["version"], entry
        if "listed_on" in entry:
            assert entry["listed_on"].startswith(entry["project"] + "-"), entry
        assert entry["naive_version"] == _naive_version(entry["filename"]), entry


def test_corpus_covers_every_kind_of_oddity() -> None:
    """Each case the corpus exists for is there, enough times to matter."""

    def naive_parses_to(entry: dict[str, Any]) -> str | None:
        try:
            return str(Version(entry["naive_version"]))
        except (InvalidVersion, TypeError):
            return None

    counts: Counter[str] = Counter()
    for entry in ENTRIES:
        view, naive = entry["pip"], naive_parses_to(entry)
        if view["kind"] is not None and naive is not None and naive != view["version"]:
            counts["naive reads another version"] += 1
        if view["kind"] is not None and naive is None:
            counts["naive reads no version"] += 1
        if view["kind"] is None and naive is not None:
            counts["naive reads a version pip skips"] += 1
        if "listed_on" in entry:
            counts["another project's name"] += 1
        if view.get("python"):
            counts["-pyX.Y sdist"] += 1
        if view["kind"] is not None and "+" in view["version"]:
            counts["local version"] += 1
        counts[f"reason: {view.get('reason', '').split(':')[0]}"] += 1
    assert counts["naive reads another version"] >= 40
    assert counts["naive reads no version"] >= 100
    assert counts["naive reads a version pip skips"] >= 20
    assert counts["another project's name"] >= 100
    assert counts["-pyX.Y sdist"] >= 5
    assert counts["local version"] >= 5
    for reason in (
        "invalid version",
        "invalid wheel filename",
        "wrong project name",
        "unsupported archive format",
    ):
        assert counts[f"reason: {reason}"] >= 1, reason


@pytest.mark.parametrize(
    ("project", "filename", "kind", "version"),
    [
        # issue 8, item 0: the files that made verify exit 3, and their neighbours
        ("cffi", "cffi-1.0.2-2.tar.gz", "sdist", "1.0.2.post2"),
        ("oauthlib", "oauthlib-1.1.0-1.tar.gz", "sdist", "1.1.0.post1"),
        ("mpmath", "mpmath-all-0.19.tar.gz", None, None),
        ("selenium", "selenium-2.0-dev-9429.tar.gz", "sdist", "2.0.dev9429"),
        ("zope-event", "zope.event-3.5.0-1.tar.gz", "sdist", "3.5.0.post1"),
        ("django-allauth", "django-allauth-0.26.0-1.tar.gz", "sdist", "0.26.0.post1"),
        ("regex", "regex-2013-02-16.tar.gz", None, None),
        ("apsw", "apsw-3.8.2-r1.tar.gz", "sdist", "3.8.2.post1"),
        ("django", "django-allauth-0.1.0.tar.gz", None, None),
        ("django", "django_allauth-65.13.0-py3-none-any.whl", None, None),
        ("pyzmq", "pyzmq-15.3.0+fix-cp27-cp27m-win32.whl", "wheel", "15.3.0+fix"),
        ("backrefs", "backrefs-5.0-36-none-any.whl", None, None),
        ("notebook", "notebook-4.0.5.ZIP", None, None),
    ],
)
def test_known_entries(project: str, filename: str, kind: str | None, version: str | None) -> None:
    (entry,) = [e for e in ENTRIES if (e["project"], e["filename"]) == (project, filename)]
    assert (entry["pip"]["kind"], entry["pip"]["version"]) == (kind, version)


def test_pip_still_reads_every_filename_as_recorded() -> None:
    wrong = [
        (e["project"], e["filename"], e["pip"], got)
        for e in ENTRIES
        if (got := _pip_reads(e["project"], e["filename"])) != e["pip"]
    ]
    assert not wrong, wrong[:20]


def test_pips_link_evaluator_agrees_on_sdists_and_other_files() -> None:
    """The whole of pip's evaluate_link, where the result does not depend on the interpreter.

    Wheels are left out (their tags decide before anything else here); an sdist named for one
    Python (``-py2.7``) is evaluated for that Python.
    """
    checked = 0
    for entry in ENTRIES:
        filename, view = entry["filename"], entry["pip"]
        if filename.endswith(".whl"):
            continue
        python = view.get("python")
        version_info = (3, 11)
        if python:
            digits = python.replace(".", "")
            version_info = (int(digits[0]), int(digits[1:] or 0))
        evaluator = LinkEvaluator(
            project_name=entry["project"],
            canonical_name=canonicalize_name(entry["project"]),
            formats=frozenset({"binary", "source"}),
            target_python=TargetPython(py_version_info=version_info),
            allow_yanked=True,
        )
        result, detail = evaluator.evaluate_link(Link(f"https://index.example.com/f/{filename}"))
        if result == LinkType.candidate:
            try:
                got: str | None = str(Version(detail))
            except InvalidVersion:
                got = None
            assert (view["kind"], view["version"]) == (("sdist", got) if got else (None, None)), (
                entry,
                detail,
            )
        elif result == LinkType.platform_mismatch:
            # a "-py27"-style suffix never equals pip's "X.Y" spelling of a Python version
            assert view["kind"] == "sdist", (entry, detail)
            assert python, (entry, detail)
        else:
            assert view["kind"] is None, (entry, result, detail)
        checked += 1
    assert checked >= 1000


def _hardenreq_reads(project: str, filename: str) -> tuple[str | None, str | None]:
    name = NormalizedName(canonicalize_name(project))
    matcher = FilenameMatcher(name)
    found = matcher.version_of(filename)
    version = matcher.version(found.raw_version) if found is not None else None
    if found is None or version is None:
        return None, None
    if found.kind == FileKind.WHEEL and not check_wheel(filename, name, version):
        return None, None
    return found.kind.value, str(version)


def test_hardenreq_assigns_every_file_as_pip_does() -> None:
    wrong = []
    for entry in ENTRIES:
        kind, version = _hardenreq_reads(entry["project"], entry["filename"])
        pip = entry["pip"]
        if pip["kind"] is None:
            # A file pip skips is no installable file of any release (kept, at most, as
            # "other": an .egg or .exe whose hash a lock may hold, harmlessly).
            ok = kind in (None, "other")
        else:
            ok = (kind, version) == (pip["kind"], pip["version"])
        if not ok:
            wrong.append((entry["project"], entry["filename"], pip, kind, version))
    assert not wrong, wrong[:20]
    assert len(ENTRIES) > 3000


ODD_WHEELS = [
    "foo-1.0-py3-none-any.whl",
    "foo-1.0-1-py3-none-any.whl",
    "foo-1.0-1abc-py3-none-any.whl",
    "foo-1.0-abc-py3-none-any.whl",  # a build tag must start with a digit
    "foo-1.0-py3-none.whl",  # too few parts
    "foo-1.0-1-2-py3-none-any.whl",  # too many
    "foo-1.0-py3--any.whl",  # an empty tag component
    "foo-1.0-py3.py2-none-any.whl",
    "foo-1.0-3py-none-any.whl",  # an interpreter tag that is no identifier
    "Foo.Bar-1.0-py3-none-any.whl",
    "foo__bar-1.0-py3-none-any.whl",  # "__" is refused in the name
    "foo-bar-1.0-py3-none-any.whl",  # the name ends at the first "-"
    "foo-1.0.post1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "foo-01.0-py3-none-any.whl",  # another spelling of 1.0
    "foo-1.0+local-py3-none-any.whl",
    "foo-1.x-py3-none-any.whl",  # not a PEP 440 version
    "foo-1.0-py3-none-any.WHL",
    "-1.0-py3-none-any.whl",
    "foo--py3-none-any.whl",
]


@pytest.mark.parametrize("filename", ODD_WHEELS)
def test_the_wheel_check_is_packaging_s(filename: str) -> None:
    from hardenreq.index.filenames import _parses_as

    for version in map(PackagingVersion, ("1.0", "1.0.post1", "1.0+local")):
        expected = _parses_as(filename, NormalizedName("foo"), version)
        assert check_wheel(filename, NormalizedName("foo"), version) == expected, version
        expected = _parses_as(filename, NormalizedName("foo-bar"), version)
        assert check_wheel(filename, NormalizedName("foo-bar"), version) == expected


def test_the_wheel_check_agrees_with_packaging_on_the_corpus() -> None:
    from hardenreq.index.filenames import _parses_as

    wheels = [e for e in ENTRIES if e["filename"].endswith(".whl")]
    assert len(wheels) >= 100
    for entry in wheels:
        name = NormalizedName(canonicalize_name(entry["project"]))
        matcher = FilenameMatcher(name)
        found = matcher.version_of(entry["filename"])
        version = matcher.version(found.raw_version) if found is not None else None
        if version is None:
            continue
        assert check_wheel(entry["filename"], name, version) == _parses_as(
            entry["filename"], name, version
        ), entry["filename"]


def _packaging_tags(filename: str) -> frozenset[object] | None:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename
    from packaging.version import InvalidVersion as PackagingInvalidVersion

    try:
        return frozenset(parse_wheel_filename(filename)[3])
    except (InvalidWheelFilename, PackagingInvalidVersion):
        return None


def test_a_wheel_s_tags_are_packaging_s_for_every_wheel_of_the_corpus_and_odd_ones() -> None:
    wheels = [e["filename"] for e in ENTRIES if e["filename"].lower().endswith(".whl")]
    assert len(wheels) > 1000
    for filename in [*wheels, *ODD_WHEELS]:
        assert wheel_tags(filename) == _packaging_tags(filename), filename
