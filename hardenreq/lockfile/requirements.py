"""The requirements format as a writer and reader of the Lock model.

``lock_from_requirements`` turns the pins of a hashed requirements lock into a Lock, filling
in each hash's file (name, URL, size, upload time) from the release the index lists: a hash
that matches no file of the release is an error, since the file may have been replaced.
``render_requirements`` writes a Lock as a requirements lock (``--hash`` lines, markers,
``# via`` notes) and ``lost_in_requirements`` says what that format cannot hold.
``requirements_view`` is the same Lock as requirements text whose pins stand on the TOML
lines of their packages: the view through which harden, refresh and verify read a
pylock.toml, so that every message they have names the line of the TOML file.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from packaging.markers import Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from hardenreq.errors import (
    HashMismatch,
    InputError,
    InputErrors,
    LocatedError,
    UnhashableRequirement,
    UnpinnedRequirement,
)
from hardenreq.layout import header_lines, read_header, render_header
from hardenreq.lockfile.model import Lock, LockedFile, LockedPackage, LockOrigin
from hardenreq.lockfile.pylock import PylockDocument, multi_use_reason
from hardenreq.models import DistributionFile, FileKind, Pin, PublisherIdentity, Release
from hardenreq.publishers import render_identity
from hardenreq.redact import has_credentials, redact_url, strip_userinfo, uses_secret
from hardenreq.reqfile.parse import OptionEntry, RequirementEntry, RequirementsFile
from hardenreq.targets import PLATFORMS, Targets

__all__ = [
    "INDEX_OPTIONS",
    "environment_markers",
    "lock_from_requirements",
    "lost_in_requirements",
    "origin_of",
    "render_requirements",
    "requirements_view",
    "upload_time_of",
    "via_of",
]

#: Option lines that decide which index a lock is checked against.
INDEX_OPTIONS = frozenset({"--index-url", "--extra-index-url", "--no-index", "--trusted-host"})
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_COMMAND_PREFIX = "# To update it: "
# Pythons tried, oldest first, for the lowest one a lock installs on.
_PYTHONS = (Version("2.7"), *(Version(f"3.{minor}") for minor in range(40)))


def origin_of(parsed: RequirementsFile) -> LockOrigin:
    """What a requirements lock says it was made from: the source and extras its header
    names, the command that rebuilds it, and its option lines as written (``-r`` lines
    aside: their pins are the lock's own)."""
    header = read_header(parsed.text)
    command = None
    if header is not None:
        lines = parsed.text.splitlines()[: header_lines(parsed.text)]
        command = next(
            (line.removeprefix(_COMMAND_PREFIX).strip() for line in lines
             if line.startswith(_COMMAND_PREFIX)),
            None,
        )  # fmt: skip
    options = [
        _option_text(parsed.text[entry.start : entry.end])
        for entry in parsed.entries
        if isinstance(entry, OptionEntry)
        and not any(name == "--requirement" for name, _ in entry.options)
    ]
    return LockOrigin(
        source=header.source if header else None,
        extras=header.extras if header else (),
        command=command,
        options=tuple(options),
        targets=header.targets if header else None,
    )


def _option_text(text: str) -> str:
    """An option line as one line: continuations joined, the comment dropped."""
    parts = [_COMMENT_RE.sub("", line).rstrip().removesuffix("\\") for line in text.splitlines()]
    return " ".join(" ".join(parts).split())


def lock_from_requirements(
    entries: Sequence[RequirementEntry],
    releases: Mapping[Pin, Release],
    *,
    origin: LockOrigin,
    index_urls: Sequence[str] = (),
    via: Mapping[NormalizedName, tuple[str, ...]] | None = None,
    identities: Mapping[NormalizedName, Sequence[PublisherIdentity]] | None = None,
) -> tuple[Lock, list[str]]:
    """The Lock that ``entries`` (the pins of a hashed requirements lock, in order) make,
    with each hash's file as ``releases`` list it, and warnings for what the lock leaves
    out (a second sdist, an extra, per-requirement options, an unsafe index URL).
    ``identities`` are the publishers the lock records (its ``# publisher:`` notes): each
    package's become its ``attestation-identities``.

    ``index_urls`` are the index URLs of the run, so that each package records the index
    that served it (without credentials). Raises InputErrors: a requirement that is not
    pinned and hashed, an editable, VCS or directory requirement, a hash that matches no
    file of its release, a URL that cannot be written without a credential.
    """
    notes = via or {}
    errors: list[InputError] = []
    warnings: list[str] = []
    packages: dict[tuple[NormalizedName, str], LockedPackage] = {}
    lines: dict[tuple[NormalizedName, str], RequirementEntry] = {}
    indexes = _index_names(index_urls, warnings)
    for entry in entries:
        try:
            package = _package(entry, releases, indexes, warnings, notes)
        except InputError as exc:
            errors.append(exc)
            continue
        if entry.name is not None and (recorded := (identities or {}).get(entry.name)):
            package = replace(package, attestation_identities=identity_tables(recorded))
        key = (package.name, str(package.marker or ""))
        known = packages.get(key)
        if known is None:
            packages[key] = package
            lines[key] = entry
        elif known.version != package.version or _digests(known) != _digests(package):
            first = lines[key]
            errors.append(
                LocatedError(
                    entry.path,
                    entry.lineno,
                    f"{package.name} is pinned twice, differently (also at "
                    f"{first.path.name}:{first.lineno}): a lock holds one entry per package",
                )
            )
    if errors:
        raise InputErrors(errors)
    ordered = sorted(
        packages.values(), key=lambda p: (p.name, p.version or Version("0"), str(p.marker or ""))
    )
    ordered = _with_dependencies(ordered)
    lock = Lock(
        packages=tuple(ordered),
        origin=origin,
        requires_python=_lowest_python(ordered),
        environments=environment_markers(origin.targets),
    )
    return lock, warnings


def environment_markers(targets: Targets | None) -> tuple[Marker, ...]:
    """PEP 751 ``environments`` for a lock made for ``targets``: one marker per platform,
    true on exactly the lock's Python versions there (none for a lock of this machine).
    They do not overlap, as the specification asks."""
    if targets is None:
        return ()
    minors = sorted(targets.minors)
    if minors == list(range(minors[0], minors[-1] + 1)):
        python = (
            f'python_version == "3.{minors[0]}"'
            if len(minors) == 1
            else f'python_version >= "3.{minors[0]}" and python_version < "3.{minors[-1] + 1}"'
        )
    else:
        python = "(" + " or ".join(f'python_version == "3.{m}"' for m in minors) + ")"
    markers = []
    for name in targets.platforms:
        platform = PLATFORMS[name]
        twins = [p for p in targets.platforms if PLATFORMS[p].sys_platform == platform.sys_platform]
        marker = f'sys_platform == "{platform.sys_platform}"'
        if len(twins) > 1:
            marker += f' and platform_machine == "{platform.machine}"'
        markers.append(Marker(f"{marker} and {python}"))
    return tuple(markers)


def _digests(package: LockedPackage) -> frozenset[tuple[str, str]]:
    return frozenset(h for f in package.files for h in f.hashes)


def _index_names(urls: Sequence[str], warnings: list[str]) -> dict[str, str | None]:
    """Each index as a Release names it (redacted) -> the URL a lock may record, or None
    where no credential-free URL exists (a token in the path or the query)."""
    names: dict[str, str | None] = {}
    for url in urls:
        problem = _unlockable(url)
        if problem is None:
            names[redact_url(url)] = strip_userinfo(url)
            continue
        names[redact_url(url)] = None
        warnings.append(
            f"the index {redact_url(url)} is not recorded in the lock: its URL {problem}"
        )
    return names


def _unlockable(url: str) -> str | None:
    """Why ``url`` cannot be written into a lock (it would carry a credential), or None."""
    bare = strip_userinfo(url.split("#", 1)[0])
    if not bare.lower().startswith(("https://", "http://")):
        # An installer fetches what the lock says; only the index's own web addresses.
        return "is not an http(s) URL"
    if has_credentials(bare):
        return "carries credentials"
    if "?" in bare:
        return "has a query string (often a token, as in a signed URL)"
    if uses_secret(bare):
        return "holds the value of a ${VARIABLE}"
    return None


def identity_tables(
    identities: Iterable[PublisherIdentity],
) -> tuple[tuple[tuple[str, str], ...], ...]:
    """Publishers as pylock.toml ``attestation-identities`` tables (``kind`` first)."""
    return tuple(tuple(identity.as_table().items()) for identity in identities)


def publisher_notes(package: LockedPackage) -> list[str]:
    """A package's ``attestation-identities`` as the ``# publisher:`` notes a requirements
    lock records them with (``hardenreq.publishers``). Raises ValueError for an identity
    no note can hold (no ``kind``)."""
    return [
        render_identity(PublisherIdentity.from_table(dict(table)))
        for table in package.attestation_identities
    ]


def _package(
    entry: RequirementEntry,
    releases: Mapping[Pin, Release],
    indexes: Mapping[str, str | None],
    warnings: list[str],
    via: Mapping[NormalizedName, tuple[str, ...]],
) -> LockedPackage:
    where = f"{entry.name or entry.spec}"
    if (reason := entry.unhashable_reason) is not None:
        raise UnhashableRequirement(
            entry.path,
            entry.lineno,
            f"{where}: {reason}; a lock cannot hold it",
            hint="build a wheel, publish it and pin it by version, or refer to a built archive",
        )
    if entry.name is None:
        raise UnpinnedRequirement(
            entry.path, entry.lineno, f"{entry.spec}: a requirement without a project name"
        )
    marker = entry.marker
    if marker is not None and (reason := multi_use_reason(marker)):
        raise LocatedError(
            entry.path,
            entry.lineno,
            f"{where}: its marker uses {reason}: pylock.toml would be a multi-use lock, "
            "which hardenreq does not write",
        )
    if not entry.hashes:
        raise LocatedError(
            entry.path,
            entry.lineno,
            f"{where}: no --hash; a lock records the hash of every file it installs",
            hint="hash it first: hardenreq harden --no-resolve FILE",
        )
    if entry.extras:
        warnings.append(
            f"{entry.path.name}:{entry.lineno}: {where}: extras [{','.join(sorted(entry.extras))}] "
            "left out: pylock.toml lists packages, so the packages the extras pull in must be "
            "pinned in the file themselves (a lock hardenreq made has them)"
        )
    if entry.other_options:
        warnings.append(
            f"{entry.path.name}:{entry.lineno}: {where}: {' '.join(entry.other_options)} left "
            "out: pylock.toml has no per-package installer options"
        )
    notes = via.get(entry.name, ())
    if entry.link is not None:
        return _direct(entry, entry.name, entry.link, notes)
    version = entry.pinned_version
    if version is None:
        raise UnpinnedRequirement(
            entry.path, entry.lineno, f"{where}: not pinned with == or ===; a lock pins versions"
        )
    release = releases.get(Pin(entry.name, version))
    if release is None:
        raise LocatedError(entry.path, entry.lineno, f"{where}: the index has no such release")
    by_digest = {f.sha256: f for f in release.files}
    chosen: dict[str, DistributionFile] = {}
    for pin in dict.fromkeys(entry.hashes):
        file = by_digest.get(pin.digest) if pin.algorithm == "sha256" else None
        if file is None:
            why = (
                "matches no file of this release on the index (the file may have been "
                "replaced or removed: that can be an attack)"
                if pin.algorithm == "sha256"
                else "cannot be matched with a file: the index publishes sha256 digests only"
            )
            raise HashMismatch(
                entry.path,
                entry.lineno,
                f"{release.pin}: --hash={pin.algorithm}:{pin.digest} {why}",
                hashes=(pin,),
            )
        chosen[file.sha256] = file
    files = sorted(chosen.values(), key=lambda f: f.filename)
    others = [f for f in files if f.kind == FileKind.OTHER]
    warnings += [
        f"{release.pin}: {f.filename} left out: pylock.toml holds wheels and sdists only"
        for f in others
    ]
    sdists = sorted(
        (f for f in files if f.kind == FileKind.SDIST),
        key=lambda f: (not f.filename.endswith(".tar.gz"), f.filename),
    )
    warnings += [
        f"{release.pin}: {f.filename} left out: pylock.toml holds one sdist per package "
        f"(kept {sdists[0].filename})"
        for f in sdists[1:]
    ]
    wheels = [f for f in files if f.kind == FileKind.WHEEL]
    kept = [*sdists[:1], *wheels]
    return LockedPackage(
        name=entry.name,
        version=version,
        marker=marker,
        requires_python=_requires_python(kept),
        index=indexes.get(release.index),
        sdist=_locked(sdists[0], release) if sdists else None,
        wheels=tuple(_locked(f, release) for f in wheels),
        via=notes,
    )


def _direct(
    entry: RequirementEntry, name: NormalizedName, link: str, via: tuple[str, ...]
) -> LockedPackage:
    """``name @ URL`` with its hashes: an archive entry. A local archive is recorded by
    its path as written; a URL only if it carries no credential (pylock.toml has no
    ``${VARIABLES}``, so an expanded one would be written out)."""
    link = link.split("#", 1)[0]
    hashes = tuple(sorted({(h.algorithm, h.digest) for h in entry.hashes}))
    filename = link.rstrip("/").rsplit("/", 1)[-1]
    if "://" in link and not link.lower().startswith("file:"):
        if "${" in entry.head or (problem := _unlockable(link)) is not None:
            raise LocatedError(
                entry.path,
                entry.lineno,
                f"{name}: its URL {redact_url(link)} cannot go into pylock.toml: "
                + ("it uses ${VARIABLES}, which pylock.toml does not expand"
                   if "${" in entry.head else str(problem)),
                hint="publish the archive on the index, or keep this lock as requirements.txt",
            )  # fmt: skip
        archive = LockedFile(filename=filename, hashes=hashes, url=strip_userinfo(link))
    else:
        path = link.removeprefix("file://") if link.lower().startswith("file:") else link
        archive = LockedFile(filename=filename, hashes=hashes, path=path)
    return LockedPackage(name=name, version=None, marker=entry.marker, archive=archive, via=via)


def _locked(file: DistributionFile, release: Release) -> LockedFile:
    problem = _unlockable(file.url)
    if problem is not None:
        raise InputError(
            f"{release.pin}: the index lists {file.filename} at a URL that cannot go into a "
            f"lock: it {problem}",
            hint="lock from an index whose file URLs carry no credentials (pip can take "
            "credentials from ~/.netrc or a keyring), or keep this lock as requirements.txt",
        )
    return LockedFile(
        filename=file.filename,
        hashes=(("sha256", file.sha256),),
        url=strip_userinfo(file.url.split("#", 1)[0]),
        size=file.size,
        upload_time=upload_time_of(file.upload_time),
    )


def upload_time_of(text: str | None) -> datetime | None:
    """An index's upload time (ISO 8601 text) as a UTC datetime; None if it has none."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _requires_python(files: Sequence[DistributionFile]) -> SpecifierSet | None:
    """The Requires-Python every kept file declares, when they agree (pip refuses to
    install the package where it does not hold, so a guess would break installs)."""
    values = {(f.requires_python or "").strip() for f in files}
    if len(values) != 1:
        return None
    value = values.pop()
    if not value:
        return None
    try:
        return SpecifierSet(value)
    except InvalidSpecifier:
        return None


def _lowest_python(packages: Iterable[LockedPackage]) -> SpecifierSet | None:
    """``>=`` the oldest Python every package's Requires-Python allows (PEP 751: "the
    minimum viable Python version for the lock file"), None if no package says.

    Only packages without a marker count: one under a marker is installed only where the
    marker holds (``modern==2.0 ; python_version >= "3.12"`` of a lock for 3.11 and 3.12
    must not make the whole lock refuse 3.11)."""
    specifiers = [
        p.requires_python for p in packages if p.requires_python is not None and p.marker is None
    ]
    if not specifiers:
        return None
    combined = SpecifierSet()
    for specifier in specifiers:
        combined &= specifier
    lowest = next((v for v in _PYTHONS if combined.contains(v, prereleases=True)), None)
    if lowest is None:
        lowest = next((v for v in _PYTHONS if combined.contains(Version(f"{v}.99"))), None)
    return None if lowest is None else SpecifierSet(f">={lowest}")


def _with_dependencies(packages: list[LockedPackage]) -> list[LockedPackage]:
    """Each package with the entries that need it turned around: the packages it needs
    (PEP 751 ``dependencies``), from the ``# via`` notes of the others."""
    needs: dict[NormalizedName, set[NormalizedName]] = defaultdict(set)
    names = {p.name for p in packages}
    for package in packages:
        for note in package.via:
            if note.startswith(("-r ", "-c ")):
                continue
            parent = canonicalize_name(note.split("[", 1)[0].strip())
            if parent in names and parent != package.name:
                needs[parent].add(package.name)
    return [replace(p, dependencies=tuple(sorted(needs.get(p.name, ())))) for p in packages]


def via_of(lock: Lock) -> dict[NormalizedName, tuple[str, ...]]:
    """Why each package is in the lock: its recorded ``via``, else the entries whose
    ``dependencies`` name it (a pylock.toml another tool wrote)."""
    needed_by: dict[NormalizedName, list[str]] = defaultdict(list)
    for package in lock.packages:
        for dependency in package.dependencies:
            needed_by[dependency].append(package.name)
    return {p.name: p.via or tuple(sorted(set(needed_by.get(p.name, ())))) for p in lock.packages}


# -- Lock -> requirements text -----------------------------------------------------------------


def _requirement(package: LockedPackage) -> str | None:
    """The requirement a package is, without hashes; None for what requirements cannot
    hold (VCS, directories)."""
    marker = f" ; {package.marker}" if package.marker is not None else ""
    if package.archive is not None:
        location = package.archive.url or package.archive.path
        return f"{package.name} @ {location}{marker}"
    if package.version is None or package.unsupported:
        return None
    return f"{package.name}=={package.version}{marker}"


def render_requirements(lock: Lock, *, source: str | None, command: str | None) -> str:
    """A requirements lock of ``lock``: the header naming ``source`` (relative to the new
    file), the option lines, then every package with a ``--hash`` for each of its files,
    its marker, and ``# via`` notes, in the layout ``hardenreq harden`` writes.

    Raises ValueError for entries the format cannot hold (VCS, local directories): callers
    refuse those first, naming the entry's line.
    """
    for package in lock.packages:
        if package.unsupported:
            raise ValueError(f"{package.name}: {package.unsupported}")
    text = ""
    if source is not None:
        text += render_header(source, lock.origin.extras, command or "", "\n", lock.origin.targets)
    if lock.origin.options:
        text += "".join(f"{option}\n" for option in lock.origin.options) + "\n"
    notes = via_of(lock)
    for package in lock.packages:
        requirement = _requirement(package)
        if requirement is None:
            raise ValueError(f"{package.name}: no version and no archive")
        hashes = sorted({pin for file in package.files for pin in file.pins})
        text += " \\\n    ".join([requirement, *(h.render() for h in hashes)]) + "\n"
        via = notes.get(package.name, ())
        if len(via) == 1:
            text += f"    # via {via[0]}\n"
        elif via:
            text += "    # via\n" + "".join(f"    #   {v}\n" for v in via)
        text += "".join(f"    {note}\n" for note in publisher_notes(package))
    return text


def lost_in_requirements(lock: Lock) -> list[str]:
    """What a requirements file cannot hold of ``lock``, one line each (empty: nothing)."""
    files = [f for p in lock.packages for f in p.files]
    lost: list[str] = []
    if urls := sum(1 for f in files if f.url):
        lost.append(f"the URLs of {urls} file(s) (pip finds files through the index again)")
    if sizes := sum(1 for f in files if f.size is not None):
        lost.append(f"the sizes of {sizes} file(s)")
    if times := sum(1 for f in files if f.upload_time is not None):
        lost.append(f"the upload times of {times} file(s)")
    if indexes := sum(1 for p in lock.packages if p.index):
        lost.append(f"the index of {indexes} package(s)")
    if pythons := sum(1 for p in lock.packages if p.requires_python is not None):
        lost.append(f"the Requires-Python of {pythons} package(s)")
    if lock.requires_python is not None:
        lost.append(f"the lock's own requires-python ({lock.requires_python})")
    if lock.environments:
        shown = "; ".join(str(m) for m in lock.environments)
        lost.append(f"the environments the lock is for ({shown})")
    return lost


def requirements_view(document: PylockDocument) -> tuple[str, tuple[int | None, ...]]:
    """``document``'s Lock as requirements text, and the TOML line of each entry of it in
    order (index options and pins), so that what harden, refresh and verify say about an
    entry can point into the TOML file (``hardenreq.lockfile.flows.read_view`` puts the
    lines on the entries).

    Each pin is one line with all its hashes. Only the index options are kept: they decide
    where the lock is checked; ``-c`` files play no part in installing a pylock.toml.
    Entries the format cannot hold (VCS, directories) are left out; callers report them.
    """
    lock = document.lock
    items: list[tuple[int | None, str]] = [
        (line, option)
        for option, line in zip(lock.origin.options, document.option_lines, strict=True)
        if option.split(" ", 1)[0].split("=", 1)[0] in INDEX_OPTIONS
    ]
    for package in lock.packages:
        requirement = _requirement(package)
        if requirement is None:
            continue
        hashes = sorted({pin for file in package.files for pin in file.pins})
        line = " ".join([requirement, *(h.render() for h in hashes)])
        # The publishers the lock records, as the notes the authenticity checks read.
        try:
            notes = publisher_notes(package)
        except ValueError as exc:
            raise LocatedError(
                document.path, package.line, f"{package.name}: cannot read its {exc}"
            ) from None
        items.append((package.line, "".join([line, *(f"\n    {note}" for note in notes)])))
    origin = lock.origin
    text = ""
    if origin.source is not None:
        text = render_header(
            origin.source, origin.extras, origin.command or "", "\n", origin.targets
        )
    text += "".join(f"{entry}\n" for _, entry in items)
    return text, tuple(line for line, _ in items)
