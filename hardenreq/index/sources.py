"""Where release files and their digests come from: the JSON API first, the simple API second.

``JsonApiSource`` asks the release endpoint (``/pypi/NAME/VERSION/json``, one release, small)
and, where an index lacks it, the project endpoint (every release; only the pinned release is
decoded, the rest stays raw bytes). ``SimpleApiSource`` reads PEP 691 JSON or PEP 503 HTML
and serves indexes without a JSON API. Every answer is validated: digests are 64 hex
digits, and every file must belong to the pinned project and version.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import functools
import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TypeVar
from urllib.parse import quote, urljoin, urlsplit

import msgspec
from packaging.tags import Tag, sys_tags
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from hardenreq.errors import IndexResponseInvalid, NotOnIndex
from hardenreq.index.client import HttpFetcher, Response
from hardenreq.index.filenames import (
    SDIST_SUFFIXES,
    FilenameMatcher,
    check_wheel,
    safe_filename,
    wheel_tags,
)
from hardenreq.index.interface import ReleaseSource
from hardenreq.index.location import json_api_base
from hardenreq.models import (
    DistributionFile,
    FileKind,
    NewerRelease,
    Pin,
    ProjectStatus,
    Release,
    Vulnerability,
)
from hardenreq.redact import redact_url, strip_userinfo

__all__ = ["IndexChain", "JsonApiSource", "ListedFile", "SimpleApiSource"]

logger = logging.getLogger(__name__)

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_NO_ENDPOINT = frozenset({400, 401, 403, 404, 405, 501})
_SIMPLE_ACCEPT = f"{_SIMPLE_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
_SIMPLE_HTML_TYPES = frozenset({"application/vnd.pypi.simple.v1+html", "text/html"})


# --- JSON API documents: only the fields we read are decoded ------------------------------


class _JsonFile(msgspec.Struct):
    filename: str
    url: str
    digests: dict[str, str]
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    size: int | None = None
    upload_time_iso_8601: str | None = None


class _Info(msgspec.Struct):
    version: str | None = None
    requires_dist: list[str] | None = None


class _Vulnerability(msgspec.Struct):
    id: str
    aliases: list[str] | None = None
    summary: str | None = None
    details: str | None = None
    fixed_in: list[str] | None = None
    link: str | None = None
    withdrawn: str | None = None


class _ReleaseDocument(msgspec.Struct):
    info: _Info
    urls: list[_JsonFile]
    vulnerabilities: list[_Vulnerability] | None = None


_release_decoder = msgspec.json.Decoder(_ReleaseDocument)


class _Hashes(msgspec.Struct, gc=False):
    """A file's ``hashes`` table: only sha256 is read (other algorithms are skipped
    undecoded)."""

    sha256: str | None = None


# gc=False: a page of a large project holds tens of thousands of these, which hold only
# strings and numbers; the cyclic collector need not track them.
class _SimpleFile(msgspec.Struct, rename="kebab", gc=False):
    filename: str
    url: str
    hashes: _Hashes
    requires_python: str | None = None
    yanked: bool | str = False
    size: int | None = None
    upload_time: str | None = None
    # PEP 714's name, and PEP 658's first one, which older indexes still send.
    core_metadata: bool | _Hashes | None = None
    dist_info_metadata: bool | _Hashes | None = None
    # PEP 740 (simple API 1.3): the URL of the file's provenance, or null for none.
    provenance: str | None = None


class _Meta(msgspec.Struct, rename="kebab"):
    api_version: str | None = None


class _ProjectStatus(msgspec.Struct):
    status: str | None = None
    reason: str | None = None


class _SimpleDocument(msgspec.Struct, rename="kebab"):
    files: list[_SimpleFile]
    versions: list[str] | None = None
    meta: _Meta | None = None
    # PEP 792 (simple API 1.4).
    project_status: _ProjectStatus | None = None


_simple_decoder = msgspec.json.Decoder(_SimpleDocument)


class _FileName(msgspec.Struct, gc=False):
    filename: str


class _PageIndex(msgspec.Struct, rename="kebab", gc=False):
    """A page as first read: each file's name only (its other fields skipped in C,
    undecoded), and what the page says of the project."""

    files: list[_FileName]
    versions: list[str] | None = None
    meta: _Meta | None = None
    project_status: _ProjectStatus | None = None


class _RawFiles(msgspec.Struct, gc=False):
    files: list[msgspec.Raw]


# A page is read twice over in C, its files' names first: most of its files (other
# releases) are then never decoded, and only the files that matter are, whole.
_page_index_decoder = msgspec.json.Decoder(_PageIndex)
_raw_files_decoder = msgspec.json.Decoder(_RawFiles)
_file_decoder = msgspec.json.Decoder(_SimpleFile)


# An absolute URL of plain characters (no userinfo, query, fragment or parameters): one
# that urljoin gives back unchanged whatever the base, and that holds no credentials.
_PLAIN_URL_RE = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/[A-Za-z0-9._~%+/-]*\Z")


def _joined(base: str, url: str) -> str:
    """``urljoin(base, url)``, without its cost for the URLs most pages give."""
    return url if _PLAIN_URL_RE.match(url) else urljoin(base, url)


def _checked_digest(value: str | None, filename: str, pin: Pin, index: str) -> str:
    if value is None:
        raise IndexResponseInvalid(f"{pin}: {index} gives no sha256 digest for {filename}")
    digest = value.lower()
    if not _SHA256_RE.match(digest):
        raise IndexResponseInvalid(
            f"{pin}: {index} gives a malformed sha256 digest for {filename}: {value[:80]!r}"
        )
    return digest


@dataclass(frozen=True, slots=True)
class ListedFile:
    """A file a project's page lists: the release it belongs to, and what decides whether
    it installs on an environment."""

    version: Version
    filename: str
    kind: FileKind
    requires_python: str | None
    yanked: bool


_SKIP, _PINNED, _NEWER = 0, 1, 2
_NOTHING: tuple[int, Version | None] = (_SKIP, None)
# The release numbers a version spelling starts with ("v1.35.0rc1" -> 1.35.0); an epoch
# ("1!2.0") or anything else unusual is left to the full PEP 440 parse.
_RELEASE_RE = re.compile(r"[vV]?(\d+(?:\.\d+)*)(?![\d!])")
# Two release numbers and nothing else (ASCII digits: int() takes others that PEP 440 does
# not).
_HEAD_RE = re.compile(r"([0-9]+)\.([0-9]+)\Z")


def _strip_zeros(release: tuple[int, ...]) -> tuple[int, ...]:
    end = len(release)
    while end > 1 and release[end - 1] == 0:
        end -= 1
    return release[:end]


class _ReleaseFiles:
    """The files of one pinned release, picked from an index's list as pip would pick them,
    and what the list says about the project's other releases.

    ``strict`` is for the release endpoint, whose list is of that release only: a file named
    for another version there is an error, not another release.
    """

    def __init__(self, pin: Pin, index: str, *, strict: bool = False, others: bool = True) -> None:
        self.pin = pin
        self.index = index
        self.strict = strict
        self.files: list[DistributionFile] = []
        self.versions: set[Version] = set()
        self._others = others
        self._matcher = FilenameMatcher(pin.name)
        self._newer: dict[Version, list[tuple[str, bool, str | None]]] = {}
        self._digests: dict[str, str] = {}
        # Per version spelling: what it is to the pin (most files are of older releases,
        # and a page of tens of thousands of files needs one dict lookup for each of them).
        self._status: dict[str, tuple[int, Version | None]] = {}
        self._stems: dict[str, tuple[int, Version | None]] = {}
        # Per ``major.minor`` a spelling starts with: whether that alone makes it older
        # than the pin (most releases of a page share a few such heads).
        self._heads: dict[str, bool] = {}
        # The spellings whose version is in ``versions`` (a spelling first met on an .egg
        # may be a wheel's too).
        self._counted: set[str] = set()
        self._release = _strip_zeros(pin.version.release)

    def wanted(self, filenames: Sequence[str]) -> list[tuple[int, int, Version | None]]:
        """The position, status (``_PINNED`` or ``_NEWER``) and version of each file of the
        list that matters, in list order; the others (not a file of a release, or not
        wanted) are left out.

        Cheap, so that only the files that matter get looked at further: the files are
        taken in name order (as an index lists them, so the sort is one pass), where runs
        of files stand together that are judged once and passed over whole, found by
        bisection (a page of 15,000 files costs some hundreds of steps): the releases of an
        older ``major.minor``, and the wheels of one release. Any other file is judged on
        its own (``FilenameMatcher.version_of``)."""
        names = sorted(filenames)
        order = None if names == filenames else sorted(range(len(names)), key=filenames.__getitem__)
        found: list[tuple[int, int, Version | None]] = []
        matcher = self._matcher
        judge = self._file_status
        start, count = 0, len(names)
        while start < count:
            name = names[start]
            if name.endswith(".whl"):
                # name-version-tags.whl: the name ends at the first "-" (PEP 427 escapes
                # it), the version at the second.
                dash = name.find("-")
                end = name.find("-", dash + 1)
                if end <= 0 or dash <= 0 or not matcher.is_project(name[:dash]):
                    start += 1  # another project's, or no such wheel for pip
                    continue
                stop = self._older_run(names, start, dash + 1, end) or self._release_run(
                    names, start, name[:end], order, found
                )
            else:
                begin = matcher.version_start(name)
                stop = 0 if begin is None else self._older_run(names, start, begin, len(name))
                if not stop:
                    stop = start + 1
                    known = judge(name)
                    if known[0]:
                        found.append((start if order is None else order[start], *known))
            start = stop
        found.sort()
        return found

    def _release_run(
        self,
        names: list[str],
        start: int,
        stem: str,
        order: list[int] | None,
        found: list[tuple[int, int, Version | None]],
    ) -> int:
        """Judge the run of ``names`` from the wheel ``names[start]``, named ``stem-…``
        (``name-version-``): every wheel of it is of that release, judged once; any other
        file so named is judged on its own. Returns where the run ends."""
        stop = bisect.bisect_left(names, f"{stem}.", start + 1)
        release = self._stems.get(stem)
        if release is None:
            release = self._stems[stem] = self._stem_status(stem)
        for at in range(start, stop):
            known = release if names[at].endswith(".whl") else self._file_status(names[at])
            if known[0]:
                found.append((at if order is None else order[at], *known))
        return stop

    def _older_run(self, names: list[str], start: int, begin: int, end: int) -> int:
        """Where the run of ``names[start]`` ends if its version (from ``begin``, before
        ``end``) starts with a ``major.minor`` older than the pin's, else 0. The run: the
        names (in name order) that start the same up to that ``major.minor`` and go on with
        a character before ``/``: ``-`` or ``.`` (more of the version, or the rest of the
        name), or, where ``names[start]`` ends there, ``+`` (a local version) or one that
        makes no version at all. Each is of a release older than the pin, or of none."""
        if self.strict:
            return 0
        name = names[start]
        head_end = self._older_head(name, begin, end)
        if not head_end:
            return 0
        return bisect.bisect_left(names, f"{name[:head_end]}/", start + 1)

    def _older_head(self, text: str, begin: int, end: int) -> int:
        """Where the ``major.minor`` of the version spelled in ``text[begin:end]`` ends, if
        it alone makes the version older than the pin (else 0): up to the second ``.``, or
        all of it where there is none (its own head). Judged once per page for each."""
        first = text.find(".", begin, end)
        second = text.find(".", first + 1, end) if first >= 0 else -1
        head_end = second if second >= 0 else end
        head = text[begin:head_end]
        older = self._heads.get(head)
        if older is None:
            older = self._heads[head] = self._head_is_older(head)
        return head_end if older else 0

    def _stem_status(self, stem: str) -> tuple[int, Version | None]:
        """What the files named ``stem`` (``name-version``, as ``wanted`` cut it) are to
        the pin: the name up to the first ``-`` must be the project's, the version is the
        rest (as ``FilenameMatcher.version_of`` reads a wheel's name)."""
        dash = stem.find("-")
        if dash <= 0 or dash == len(stem) - 1 or not self._matcher.is_project(stem[:dash]):
            return _NOTHING
        raw = stem[dash + 1 :]
        known = self._status.get(raw)
        if known is None or (known[1] is not None and raw not in self._counted):
            return self._spelling_status(raw, FileKind.WHEEL)
        return known

    def _file_status(self, filename: str) -> tuple[int, Version | None]:
        found = self._matcher.version_of(filename)
        if found is None:
            return _NOTHING
        return self._spelling_status(found.raw_version, found.kind)

    def _spelling_status(self, raw: str, kind: FileKind) -> tuple[int, Version | None]:
        known = self._status.get(raw)
        if known is None:
            known = self._status[raw] = self._judge(raw)
        version = known[1]
        if kind is FileKind.OTHER:
            # pip installs no such file: it makes no release, and a newer one is not
            # looked at.
            return _NOTHING if known[0] == _NEWER else known
        if version is not None and self._others and raw not in self._counted:
            self._counted.add(raw)
            self.versions.add(version)
        return known

    def _judge(self, raw: str) -> tuple[int, Version | None]:
        # The release numbers, trailing zeros dropped (an epoch or an odd spelling is
        # left to the full parse): this runs for every release a page lists.
        if self.strict or "!" in raw:
            match = None
        else:
            # First by its first two release numbers alone, judged once per page for
            # each "major.minor".
            if self._older_head(raw, 0, len(raw)):
                return _NOTHING
            match = _RELEASE_RE.match(raw)
        if match is not None:
            release = tuple(map(int, match[1].split(".")))
            if release[-1] == 0:
                release = _strip_zeros(release)
            if release < self._release:
                return _NOTHING  # older: its release numbers say so
            if release > self._release and not self._others:
                return _NOTHING  # newer, and not wanted
        version = self._matcher.version(raw)
        if version is None:
            return (_SKIP, None)
        if version == self.pin.version or self.strict:
            # A release endpoint's list holds one release: add() refuses another version.
            return (_PINNED, version)
        if version > self.pin.version:
            return (_NEWER if self._others else _SKIP, version)
        return (_SKIP, version)

    def _head_is_older(self, head: str) -> bool:
        """Whether every version spelled ``head`` or ``head.…`` is older than the pin: the
        head is two release numbers (``1.9`` of ``1.9.9rc1``) below the pin's first two
        (so the rest of the spelling cannot change the order)."""
        match = _HEAD_RE.match(head)
        if match is None:
            return False
        return (int(match[1]), int(match[2])) < self._release[:2]

    def latest(self, listed: Iterable[str] | None, filenames: Iterable[str]) -> Version | None:
        """The project's newest release (a final one where there is one): of the versions
        the page lists (``listed``, PEP 700) and of those its files (``filenames``, the
        list ``wanted`` read) are of.

        Where later releases were looked at (``others``), only the listed spellings whose
        release numbers are at least the pin's are parsed: a final release among them, or
        among the files' versions ``wanted`` found, is newer than any other version can
        be. Else every listed version and every file's is read."""
        if self._others:
            status, judge = self._status, self._judge
            versions = set(self.versions)
            # In order, as a page's names are read: the spellings of an older major.minor
            # stand together and are passed over at once.
            spellings = sorted(listed or ())
            start, count = 0, len(spellings)
            while start < count:
                raw = spellings[start]
                stop = self._older_run(spellings, start, 0, len(raw))
                if stop:
                    start = stop
                    continue
                start += 1
                known = status.get(raw)
                if known is None:
                    known = status[raw] = judge(raw)
                if known[1] is not None:
                    versions.add(known[1])
            pin = self.pin.version
            if any(not v.is_prerelease and v >= pin for v in versions):
                # Every spelling not parsed is of an older release than the pin's (and of
                # the default epoch), so older than this final release.
                return _latest(versions)
        matcher = self._matcher
        every: set[Version | None] = set(map(_parse_version, listed or ()))
        for filename in filenames:
            found = matcher.version_of(filename)
            if found is not None and found.kind != FileKind.OTHER:
                every.add(matcher.version(found.raw_version))
        return _latest(every)

    def note_newer(
        self,
        filename: str,
        version: Version | None,
        requires_python: str | None,
        yanked: bool,
        upload_time: str | None = None,
    ) -> None:
        """A file of a release after the pinned one (``version``, as ``wanted`` found it):
        what decides whether it installs, and when it was uploaded (a minimum release age
        holds young releases back)."""
        if version is None:
            return
        # pip skips a wheel whose name does not parse.
        if filename.endswith(".whl") and not check_wheel(filename, self.pin.name, version):
            return
        self._newer.setdefault(version, []).append((requires_python or "", yanked, upload_time))

    def add(
        self,
        response_url: str,
        *,
        filename: str,
        version: Version | None,
        url: str,
        sha256: str | None,
        requires_python: str | None,
        yanked: str | None,
        size: int | None,
        upload_time: str | None,
        core_metadata: str | None = None,
        provenance: str | None = None,
        provenance_listed: bool = False,
    ) -> None:
        """Take one listed file that ``wanted`` found of the pinned release (``version``:
        the version it found the file of)."""
        if version is None:
            # pip cannot tell which release such a file belongs to: it never installs it.
            return
        if version != self.pin.version:
            if self.strict:
                raise IndexResponseInvalid(
                    f"{self.pin}: {self.index} lists {_shown(filename)} as a file of this "
                    "release, but the filename names another version"
                )
            return
        # ``wanted`` took a wheel by its name, an archive by its suffix (version_of).
        kind = (
            FileKind.WHEEL
            if filename.endswith(".whl")
            else FileKind.SDIST
            if filename.endswith(SDIST_SUFFIXES)
            else FileKind.OTHER
        )
        if not safe_filename(filename) or (
            kind == FileKind.WHEEL and not check_wheel(filename, self.pin.name, version)
        ):
            # No installer takes such a name (junk after the tags, control characters):
            # it is neither hashed nor shown whole.
            logger.info("%s: skipping the file %s: not a valid name", self.pin, _shown(filename))
            return
        digest = _checked_digest(sha256, filename, self.pin, self.index)
        previous = self._digests.get(filename)
        if previous is not None:
            if previous != digest:
                raise IndexResponseInvalid(
                    f"{self.pin}: {self.index} lists {filename} twice, with two different "
                    "sha256 digests; refusing to pin either"
                )
            return  # listed twice, alike: kept once
        self._digests[filename] = digest
        if kind != FileKind.OTHER:
            self.versions.add(version)
        # Some indexes give URLs relative to the page that lists them.
        absolute = _joined(response_url, url)
        self.files.append(
            DistributionFile(
                filename=filename,
                # Kept whole but for userinfo (pylock.toml records it); redacted wherever
                # shown.
                url=absolute if _PLAIN_URL_RE.match(absolute) else strip_userinfo(absolute),
                sha256=digest,
                kind=kind,
                requires_python=requires_python,
                yanked=yanked,
                size=size,
                upload_time=upload_time,
                download_url=absolute,
                core_metadata=core_metadata,
                # Unredacted: it is requested with the index's credentials, never shown.
                provenance=_joined(response_url, provenance) if provenance else None,
                provenance_listed=provenance_listed,
            )
        )

    def newer(self) -> tuple[NewerRelease, ...]:
        """The releases after the pinned one, oldest first, with what decides whether an
        upgrade could take them (Requires-Python of their files, yanked)."""
        return tuple(
            NewerRelease(
                version,
                tuple(sorted({python for python, _, _ in files})),
                all(yanked for _, yanked, _ in files),
                min((t for _, _, t in files if t), default=None),
            )
            for version, files in sorted(self._newer.items())
        )


_T = TypeVar("_T")


def _decode(
    decoder: msgspec.json.Decoder[_T], body: bytes | msgspec.Raw, pin: Pin | str, index: str
) -> _T:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise IndexResponseInvalid(
            f"{pin}: {index} answered JSON of an unexpected shape: {exc}"
        ) from exc
    except msgspec.DecodeError as exc:
        raise IndexResponseInvalid(f"{pin}: {index} answered malformed JSON: {exc}") from exc


def _drop(task: asyncio.Future[Release]) -> None:
    """Cancel a speculative fetch and swallow its outcome (it is not needed)."""
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def _latest(versions: Iterable[Version | None]) -> Version | None:
    parsed = [v for v in versions if v is not None]
    finals = [v for v in parsed if not v.is_prerelease]
    return max(finals or parsed, default=None)


class JsonApiSource:
    """The JSON API's release endpoint, ``<root>/pypi/NAME/VERSION/json``: one release, small.

    Where the index lacks that endpoint, the simple API answers instead: its PEP 691 page is
    half the size of the project endpoint (``/pypi/NAME/json``, every release of the project)
    and carries the same digests, yank reasons and Requires-Python, so it is the cheapest
    correct source after the release endpoint.
    """

    def __init__(
        self,
        fetcher: HttpFetcher,
        index_url: str,
        api_base: str,
        fallback: SimpleApiSource,
        *,
        want_latest: bool = False,
    ) -> None:
        self._want_latest = want_latest
        self._fetcher = fetcher
        self._base = api_base.rstrip("/")
        self._fallback = fallback
        self.index = redact_url(index_url)
        # None until an answer tells whether this index has the release endpoint.
        self._has_release_endpoint: bool | None = None
        self._probe: asyncio.Future[Release | None] | None = None

    async def fetch_release(self, pin: Pin) -> Release:
        """Every installable file of ``pin``: release endpoint first, else the simple API."""
        if self._has_release_endpoint is None:
            # One request (the first pin's) finds out whether the index has the endpoint.
            # Meanwhile every pin fetches its simple page anyway: that answer is correct
            # either way, and on an index without the endpoint no time is lost waiting.
            speculative = asyncio.ensure_future(self._fallback.fetch_release(pin))
            try:
                probed = await self._probe_endpoint(pin)
            except BaseException:
                _drop(speculative)
                raise
            if not self._endpoint_found():
                return await speculative
            _drop(speculative)
            if probed is not None and probed.pin == pin:
                return await self._with_latest(probed)
        if self._has_release_endpoint:
            release = await self._from_release_endpoint(pin)
            if release is not None:
                return await self._with_latest(release)
        # The simple API also words the error when the project or release is missing.
        return await self._fallback.fetch_release(pin)

    def _endpoint_found(self) -> bool:
        # A method, not the attribute: the probe changed it while this call awaited.
        return bool(self._has_release_endpoint)

    async def _probe_endpoint(self, pin: Pin) -> Release | None:
        """The first caller asks the release endpoint for its pin; the others await that."""
        if self._probe is None:
            self._probe = asyncio.ensure_future(self._from_release_endpoint(pin))
        release = await asyncio.shield(self._probe)
        if release is None and self._has_release_endpoint is None:
            # A 404 means "no such release" or "no such endpoint"; both sources are
            # correct, so the run goes on with the simple API, which every index has and
            # which says whether a release exists.
            self._has_release_endpoint = False
            logger.info("%s: no JSON release endpoint; using the simple API", self.index)
        return release

    async def _with_latest(self, release: Release) -> Release:
        """verify's ``outdated`` needs the project's releases, which the release endpoint
        does not list: the simple page does (and must agree on the release's files)."""
        if not self._want_latest:
            return release
        listed = await self._fallback.fetch_release(release.pin)
        if listed.sha256s != release.sha256s:
            logger.warning(
                "%s: the JSON API and the simple API of %s list different files",
                release.pin, self.index,
            )  # fmt: skip
        return dataclasses.replace(
            release, latest=listed.latest, newer=listed.newer, status=listed.status
        )

    async def _from_release_endpoint(self, pin: Pin) -> Release | None:
        url = f"{self._base}/{quote(pin.name)}/{quote(str(pin.version))}/json"
        # The JSON API is a guess from the simple URL: while probing, a proxy that refuses
        # or does not know the path (400, 401, 403, 405, 501) means "no release endpoint".
        answer = _NO_ENDPOINT if self._has_release_endpoint is None else frozenset({404})
        response = await self._fetcher.get(
            url, what=str(pin), accept="application/json", answer=answer
        )
        if response.status in answer:
            return None
        self._has_release_endpoint = True
        document = _decode(_release_decoder, response.body, pin, self.index)
        release = self._release(pin, document.urls, response, "json-release")
        vulnerabilities = tuple(
            Vulnerability(
                id=v.id,
                aliases=tuple(v.aliases or ()),
                summary=_first_line(v.summary or v.details or ""),
                fixed_in=tuple(v.fixed_in or ()),
                link=v.link,
            )
            for v in document.vulnerabilities or ()
            if not v.withdrawn
        )
        requires = document.info.requires_dist
        return dataclasses.replace(
            release,
            vulnerabilities=vulnerabilities,
            requires_dist=None if requires is None else tuple(requires),
        )

    def _release(
        self, pin: Pin, files: Sequence[_JsonFile], response: Response, source: str
    ) -> Release:
        picked = _ReleaseFiles(pin, self.index, strict=True)
        for position, _, version in picked.wanted([f.filename for f in files]):
            f = files[position]
            picked.add(
                response.url,
                filename=f.filename,
                version=version,
                url=f.url,
                sha256=f.digests.get("sha256"),
                requires_python=f.requires_python,
                yanked=(f.yanked_reason or "") if f.yanked else None,
                size=f.size,
                upload_time=f.upload_time_iso_8601,
            )
        return Release(pin, tuple(picked.files), self.index, source)


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        #: ``<meta name=... content=...>``: the API version (PEP 629), project status (PEP 792).
        self.meta: dict[str, str] = {}
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            values = dict(attrs)
            name, content = values.get("name"), values.get("content")
            if name and content is not None:
                self.meta.setdefault(name.lower(), content)
        if tag == "a":
            self._current, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.anchors.append((self._current, "".join(self._text).strip()))
            self._current = None


class SimpleApiSource:
    """The simple repository API (PEP 503 HTML or PEP 691 JSON), which every index has."""

    def __init__(self, fetcher: HttpFetcher, index_url: str, *, want_latest: bool = False) -> None:
        self._fetcher = fetcher
        self._root = index_url.rstrip("/")
        self.index = redact_url(index_url)
        # The project's other releases matter to verify (outdated), not to hashing: a page
        # of tens of thousands of files is then read for the pinned release only.
        self._want_latest = want_latest

    async def has_project(self, name: str) -> bool:
        """Whether the index has a project of this name (its simple page answers 200)."""
        url = f"{self._root}/{quote(canonicalize_name(name))}/"
        response = await self._fetcher.get(url, what=name, accept=_SIMPLE_ACCEPT)
        return response.status == 200

    async def project_files(self, name: str) -> tuple[ListedFile, ...]:
        """Every file of every release the project's page lists, by pip's filename rules
        (empty when the index has no such project)."""
        project = canonicalize_name(name)
        url = f"{self._root}/{quote(project)}/"
        response = await self._fetcher.get(url, what=name, accept=_SIMPLE_ACCEPT)
        if response.status != 200:
            return ()
        return self._listed(project, response)

    def _listed(self, name: str, response: Response) -> tuple[ListedFile, ...]:
        project = canonicalize_name(name)
        pin = Pin(project, Version("0"))
        if response.content_type.split(";")[0].strip().lower() == _SIMPLE_JSON:
            document = _decode(_simple_decoder, response.body, pin, self.index)
            listed = [(f.filename, f.requires_python, bool(f.yanked)) for f in document.files]
        else:
            parser = _AnchorParser()
            parser.feed(response.body.decode("utf-8", "replace"))
            listed = [
                (
                    text or urlsplit(attrs.get("href") or "").path.rsplit("/", 1)[-1],
                    attrs.get("data-requires-python"),
                    "data-yanked" in attrs,
                )
                for attrs, text in parser.anchors
            ]
        matcher = FilenameMatcher(project)
        files: list[ListedFile] = []
        for filename, requires_python, yanked in listed:
            found = matcher.version_of(filename)
            version = matcher.version(found.raw_version) if found is not None else None
            if found is None or version is None or found.kind == FileKind.OTHER:
                continue
            files.append(ListedFile(version, filename, found.kind, requires_python, yanked))
        return tuple(files)

    async def fetch_release(self, pin: Pin) -> Release:
        """Every installable file of ``pin``, from the project's simple page."""
        url = f"{self._root}/{quote(pin.name)}/"
        response = await self._fetcher.get(url, what=str(pin), accept=_SIMPLE_ACCEPT)
        if response.status == 404:
            raise NotOnIndex(
                f"{pin.name}: no such project on {self.index}",
                project_missing=True,
                index=self.index,
            )
        media_type = response.content_type.split(";")[0].strip().lower()
        picked = _ReleaseFiles(pin, self.index, others=self._want_latest)
        names: Sequence[str] = ()
        listed: Sequence[str] | None = None
        status: ProjectStatus | None = None
        if media_type == _SIMPLE_JSON:
            names, listed, status = self._from_json(picked, response)
            source = "simple-json"
        elif media_type in _SIMPLE_HTML_TYPES:
            if response.body.lstrip()[:1] == b"{":
                raise IndexResponseInvalid(
                    f"{pin}: {self.index} answered JSON labelled {media_type} for the simple "
                    f"page of {pin.name}; a PEP 691 answer must say {_SIMPLE_JSON}"
                )
            names, status = self._from_html(picked, response)
            source = "simple-html"
        else:
            raise IndexResponseInvalid(
                f"{pin}: {self.index} answered {_shown(media_type or 'no Content-Type')} for "
                f"the simple page of {pin.name}, which is neither PEP 691 JSON nor HTML"
            )
        latest = None
        if self._want_latest or not picked.files:
            # PEP 700: the page lists the project's versions itself (API 1.1); pip takes a
            # release only from its files, but "the newest release" is the index's word.
            latest = picked.latest(listed, names)
        if not picked.files:
            hint = f"the newest release is {latest}" if latest else "it has no releases"
            raise NotOnIndex(
                f"{pin}: {self.index} has no release {pin.version} of {pin.name} ({hint})"
            )
        return Release(
            pin,
            tuple(picked.files),
            self.index,
            source,
            latest=latest,
            newer=picked.newer(),
            status=status,
        )

    def _from_json(
        self, picked: _ReleaseFiles, response: Response
    ) -> tuple[list[str], Sequence[str] | None, ProjectStatus | None]:
        """The page's filenames, the versions it lists (PEP 700) and the project's status;
        the files that matter taken into ``picked``."""
        document = _decode(_page_index_decoder, response.body, picked.pin, self.index)
        # PEP 740: from API version 1.3 a page names every file's provenance (or null).
        listed = _api_at_least(document.meta.api_version if document.meta else None, (1, 3))
        names = [f.filename for f in document.files]
        wanted = picked.wanted(names)
        raws = (
            _decode(_raw_files_decoder, response.body, picked.pin, self.index).files
            if wanted
            else []
        )
        for position, found, version in wanted:
            f = _decode(_file_decoder, raws[position], picked.pin, self.index)
            if found == _NEWER:
                picked.note_newer(
                    f.filename, version, f.requires_python, f.yanked is not False, f.upload_time
                )
                continue
            yanked = f.yanked if isinstance(f.yanked, str) else ("" if f.yanked else None)
            picked.add(
                response.url,
                filename=f.filename,
                version=version,
                url=f.url,
                sha256=f.hashes.sha256,
                requires_python=f.requires_python,
                yanked=yanked,
                size=f.size,
                upload_time=f.upload_time,
                core_metadata=_metadata_digest(
                    f.core_metadata if f.core_metadata is not None else f.dist_info_metadata
                ),
                provenance=f.provenance,
                provenance_listed=listed,
            )
        project = document.project_status
        if project is None:
            return names, document.versions, None
        return names, document.versions, _project_status(project.status, project.reason)

    def _from_html(
        self, picked: _ReleaseFiles, response: Response
    ) -> tuple[list[str], ProjectStatus | None]:
        """The page's filenames and the project's status; the files that matter taken
        into ``picked``."""
        parser = _AnchorParser()
        try:
            parser.feed(response.body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise IndexResponseInvalid(
                f"{picked.pin}: {self.index} answered a page that is not UTF-8"
            ) from exc
        listed = _api_at_least(parser.meta.get("pypi:repository-version"), (1, 3))
        anchors = parser.anchors
        names = [
            text or urlsplit(attrs.get("href") or "").path.rsplit("/", 1)[-1]
            for attrs, text in anchors
        ]
        for position, found, version in picked.wanted(names):
            attrs, filename = anchors[position][0], names[position]
            href = attrs.get("href") or ""
            if found == _NEWER:
                picked.note_newer(
                    filename, version, attrs.get("data-requires-python"), "data-yanked" in attrs
                )
                continue
            fragment = urlsplit(href).fragment
            algorithm, _, digest = fragment.partition("=")
            yanked_attr = "data-yanked" in attrs
            metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
            picked.add(
                response.url,
                filename=filename,
                version=version,
                url=href.split("#")[0],
                sha256=digest if algorithm == "sha256" else None,
                requires_python=attrs.get("data-requires-python"),
                yanked=(attrs.get("data-yanked") or "") if yanked_attr else None,
                size=None,
                upload_time=None,
                core_metadata=_metadata_attribute(
                    metadata, "data-core-metadata" in attrs or "data-dist-info-metadata" in attrs
                ),
                provenance=attrs.get("data-provenance"),
                provenance_listed=listed,
            )
        return names, _project_status(
            parser.meta.get("pypi:project-status"), parser.meta.get("pypi:project-status-reason")
        )


def _api_at_least(version: str | None, wanted: tuple[int, int]) -> bool:
    """Whether a page's repository version (``"1.3"``) is at least ``wanted``."""
    major, _, minor = (version or "").strip().partition(".")
    if not (major.isdigit() and (minor.isdigit() or not minor)):
        return False
    return (int(major), int(minor or 0)) >= wanted


def _project_status(status: str | None, reason: str | None) -> ProjectStatus | None:
    """PEP 792's status, None for "active" or none given (the default)."""
    if not status or status.strip().lower() == "active":
        return None
    return ProjectStatus(status.strip().lower(), reason or None)


_MAX_METADATA_BYTES = 4 * 1024 * 1024


@functools.cache
def _supported_tags() -> frozenset[Tag]:
    return frozenset(sys_tags())


def _wheel_tags(filename: str) -> frozenset[Tag]:
    return wheel_tags(filename) or frozenset()


def _metadata_digest(value: bool | _Hashes | None) -> str | None:
    """PEP 691's ``core-metadata``: true, or a table of hashes; the sha256 or ""."""
    if isinstance(value, _Hashes):
        digest = (value.sha256 or "").lower()
        return digest if _SHA256_RE.match(digest) else ""
    return "" if value else None


def _metadata_attribute(value: str | None, present: bool) -> str | None:
    """PEP 658's ``data-core-metadata`` attribute: "true", or "sha256=<hex>"."""
    if not present:
        return None
    algorithm, _, digest = (value or "").partition("=")
    return digest.lower() if algorithm == "sha256" and _SHA256_RE.match(digest.lower()) else ""


def _shown(text: str, limit: int = 80) -> str:
    """An index-controlled string as a message shows it: quoted, escaped, bounded."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _parse_version(raw: str) -> Version | None:
    try:
        return Version(raw)
    except InvalidVersion:
        return None


def _index_source(fetcher: HttpFetcher, index_url: str, *, want_latest: bool) -> ReleaseSource:
    """One index: its JSON API's release endpoint where it has one, else its simple API."""
    simple = SimpleApiSource(fetcher, index_url, want_latest=want_latest)
    base = json_api_base(index_url)
    if base is None:
        return simple
    return JsonApiSource(fetcher, index_url, base, simple, want_latest=want_latest)


class IndexChain:
    """Every configured index; a release's files are the union over the indexes that have it.

    pip considers files from every index (``--extra-index-url`` included), so a lock must
    hash all of them.
    """

    def __init__(
        self, fetcher: HttpFetcher, index_urls: Sequence[str], *, want_latest: bool = False
    ) -> None:
        self._fetcher = fetcher
        self._urls = tuple(index_urls)
        self._sources = [_index_source(fetcher, u, want_latest=want_latest) for u in index_urls]

    async def digest(self, url: str, *, what: str) -> str | None:
        """The sha256 of a direct-URL archive, downloaded and hashed; None on 404."""
        return await self._fetcher.digest(url, what=what)

    async def project_files(self, name: str) -> tuple[ListedFile, ...]:
        """Every file of every release of the project, on every index."""
        simple = [SimpleApiSource(self._fetcher, url) for url in self._urls]
        found = await asyncio.gather(*(source.project_files(name) for source in simple))
        return tuple(f for files in found for f in files)

    async def has_project(self, name: str) -> bool:
        """Whether any of the indexes has a project of this name."""
        simple = [SimpleApiSource(self._fetcher, url) for url in self._urls]
        found = await asyncio.gather(*(source.has_project(name) for source in simple))
        return any(found)

    async def fetch_release(self, pin: Pin) -> Release:
        """Every installable file of ``pin`` on any index. Raises NotOnIndex if none has it."""
        if len(self._sources) == 1:
            return await self._sources[0].fetch_release(pin)
        results = await asyncio.gather(
            *(s.fetch_release(pin) for s in self._sources), return_exceptions=True
        )
        releases: list[Release] = []
        for result in results:
            if isinstance(result, NotOnIndex):
                continue
            if isinstance(result, BaseException):
                raise result
            releases.append(result)
        if not releases:
            first = next(r for r in results if isinstance(r, NotOnIndex))
            raise first
        files = {f.sha256 + f.filename: f for r in releases for f in r.files}
        latest = max((r.latest for r in releases if r.latest is not None), default=None)
        newer = {n.version: n for r in releases for n in r.newer}
        return Release(
            pin,
            tuple(files.values()),
            ", ".join(r.index for r in releases),
            "+".join(r.source for r in releases),
            latest=latest,
            newer=tuple(newer[v] for v in sorted(newer)),
            requires_dist=next((r.requires_dist for r in releases if r.requires_dist), None),
            status=next((r.status for r in releases if r.status is not None), None),
        )

    async def fetch_requires(self, release: Release) -> tuple[str, ...] | None:
        """The Requires-Dist of ``release`` as pip would read them for this machine: from
        the release endpoint's answer, else the PEP 658 metadata file of a wheel (one that
        installs here first), checked against the digest the page gives. None when the
        index serves neither (the release's dependencies cannot be known without
        downloading it)."""
        if release.requires_dist is not None:
            return release.requires_dist
        wheels = [
            f for f in release.files if f.kind == FileKind.WHEEL and f.core_metadata is not None
        ]
        if not wheels:
            return None
        here = _supported_tags()
        wheels.sort(key=lambda f: not (_wheel_tags(f.filename) & here))
        chosen = wheels[0]
        # ``url`` is redacted for messages (a long path word can be masked): fetch from the
        # real address.
        response = await self._fetcher.get(
            (chosen.download_url or chosen.url) + ".metadata", what=str(release.pin), accept="*/*"
        )
        if response.status != 200:
            return None
        body = response.body
        if len(body) > _MAX_METADATA_BYTES:
            raise IndexResponseInvalid(
                f"{release.pin}: the metadata of {chosen.filename} is {len(body)} bytes; "
                f"refusing more than {_MAX_METADATA_BYTES}"
            )
        if chosen.core_metadata and hashlib.sha256(body).hexdigest() != chosen.core_metadata:
            raise IndexResponseInvalid(
                f"{release.pin}: the metadata the index serves for {chosen.filename} does not "
                "match the sha256 its page gives for it"
            )
        # Imported here: email's policy machinery costs 30 ms, and only a release without
        # Requires-Dist in its answer needs it.
        import email.parser
        import email.policy

        message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(body)
        return tuple(str(v) for v in message.get_all("Requires-Dist", []))
