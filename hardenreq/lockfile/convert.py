"""convert: a lock from one format to the other, requirements.txt <-> pylock.toml.

requirements -> pylock.toml asks the index for each pinned release and fills in the file
behind every ``--hash`` (name, URL, size, upload time); a hash that matches no file of the
release stops the run, since that file may have been replaced. pylock.toml -> requirements
writes every file's hash as a ``--hash`` line, markers kept, and says what the requirements
format cannot hold. Nothing is written here: the result is a FilePlan.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import NormalizedName

from hardenreq._files import read_optional_file
from hardenreq._tasks import run as run_tasks
from hardenreq.classify import Pinned, classify, line_problems, option_problems
from hardenreq.errors import ConfigError, InputError, InputErrors, NotOnIndex
from hardenreq.index.location import IndexSettings
from hardenreq.index.policy import RetryPolicy
from hardenreq.layout import command_path, display_path, header_lines, read_header
from hardenreq.lock import DEPENDENCIES_HEADING
from hardenreq.lockfile.flows import check_lock_name, read_pylock, unsupported_error
from hardenreq.lockfile.model import Lock, LockOrigin
from hardenreq.lockfile.pylock import is_pylock_path, render_pylock
from hardenreq.lockfile.requirements import (
    lock_from_requirements,
    lost_in_requirements,
    origin_of,
    render_requirements,
)
from hardenreq.models import Pin, PublisherIdentity, Release
from hardenreq.plan import FilePlan
from hardenreq.progress import NoProgress, Progress
from hardenreq.publishers import read_identities
from hardenreq.reqfile.parse import (
    MAX_FILE_BYTES,
    OptionEntry,
    RequirementEntry,
    RequirementsTree,
    parse_requirements,
)
from hardenreq.resolve import read_via

__all__ = ["ConvertRequest", "ConvertResult", "plan_convert"]


@dataclass(frozen=True, slots=True)
class ConvertRequest:
    """``convert SOURCE OUTPUT``: one lock to write in the other format."""

    source: Path
    output: Path
    index_url: str | None = None
    retry: RetryPolicy | None = None
    environ: Mapping[str, str] | None = None


@dataclass(slots=True)
class ConvertResult:
    """The planned file, counts for the summary, and what the user should know:
    ``lost`` is what the output format cannot hold, ``warnings`` what was left out."""

    plan: FilePlan
    packages: int
    files: int
    lost: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    settings: IndexSettings | None = None

    def summary(self, *, written: int) -> str:
        """The line printed at the end of a run."""
        return (
            f"converted {display_path(self.plan.path)}: {self.packages} package(s), "
            f"{self.files} file hash(es); {written} file(s) written"
        )


def plan_convert(request: ConvertRequest, progress: Progress | None = None) -> ConvertResult:
    """Plan ``request.output`` as ``request.source`` in the other lock format.

    Raises InputError (both files in one format, a requirement that is not pinned and
    hashed, a VCS or directory entry, a hash no file of its release has, a multi-use
    lock) or an index error.
    """
    source, output = request.source, request.output
    check_lock_name(output)
    if is_pylock_path(source) == is_pylock_path(output):
        kind = "pylock.toml" if is_pylock_path(source) else "requirements"
        raise InputError(
            f"{display_path(source)} and {display_path(output)} are both {kind} files: "
            "convert writes a lock in the other format",
            hint="name the output pylock.toml (or pylock.NAME.toml) to get PEP 751, or "
            "requirements.txt to get the requirements format",
        )
    old = read_optional_file(output, limit=MAX_FILE_BYTES, what="the output")
    if is_pylock_path(source):
        return _to_requirements(source, output, old)
    return _to_pylock(request, old, progress or NoProgress())


def _relocated(path: str | None, origin: Path, target: Path) -> str | None:
    """A path relative to ``origin``'s folder, relative to ``target``'s folder instead."""
    if path is None or "${" in path or Path(path).is_absolute():
        return path
    moved = os.path.relpath((origin / path).absolute(), target.absolute())
    return Path(moved).as_posix()


def _moved_options(options: Sequence[str], origin: Path, target: Path) -> tuple[str, ...]:
    """Option lines with their ``-c`` paths made relative to the new file's folder."""
    if origin.absolute() == target.absolute():
        return tuple(options)
    moved: list[str] = []
    for option in options:
        flag, _, value = option.replace("=", " ", 1).partition(" ")
        if flag in ("-c", "--constraint") and value.strip():
            moved.append(f"-c {_relocated(value.strip(), origin, target)}")
        else:
            moved.append(option)
    return tuple(moved)


def _command(source: str | None, origin: LockOrigin, output: Path) -> str | None:
    """The command that makes the new file again, as harden writes it in a header."""
    if source is None:
        return None
    folder = output.parent
    named = command_path(Path(os.path.normpath(folder / source)), folder)
    flags = "".join(f" --extra {extra}" for extra in origin.extras)
    if origin.targets is not None:
        flags += f" {origin.targets.options()}"
    return f"hardenreq harden {named}{flags} -o {command_path(output, folder)}"


def _moved_origin(origin: LockOrigin, source: Path, output: Path) -> LockOrigin:
    moved = _relocated(origin.source, source.parent, output.parent)
    return LockOrigin(
        source=moved,
        extras=origin.extras,
        command=_command(moved, origin, output),
        options=_moved_options(origin.options, source.parent, output.parent),
        targets=origin.targets,
    )


def _to_requirements(source: Path, output: Path, old: bytes | None) -> ConvertResult:
    document = read_pylock(source)
    lock = document.lock
    unsupported = [unsupported_error(source, p) for p in lock.packages if p.unsupported]
    if unsupported:
        raise InputErrors(list(unsupported))
    origin = _moved_origin(lock.origin, source, output)
    text = render_requirements(
        dataclasses.replace(lock, origin=origin), source=origin.source, command=origin.command
    )
    files = sum(len(p.files) for p in lock.packages)
    return ConvertResult(
        FilePlan(output, old, text.encode("utf-8")),
        packages=len(lock.packages),
        files=files,
        lost=lost_in_requirements(lock),
    )


def _to_pylock(request: ConvertRequest, old: bytes | None, progress: Progress) -> ConvertResult:
    source, output = request.source, request.output
    tree = parse_requirements([source], environ=request.environ)
    entries, errors = _lock_entries(tree)
    if errors:
        raise InputErrors(errors)
    settings = _index_settings(tree, request)
    pins = sorted({c.pin for c in (classify(e) for e in entries) if isinstance(c, Pinned)}, key=str)
    releases = run_tasks(_fetch(pins, settings, request.retry, progress))
    root = tree.files[tree.roots[0]]
    origin = origin_of(root)
    header = read_header(root.text)
    if header is None:
        origin = dataclasses.replace(origin, source=None, extras=(), command=None, targets=None)
    via = {}
    identities: dict[NormalizedName, set[PublisherIdentity]] = {}
    for parsed in tree.files.values():
        via.update(read_via(parsed))
        for name, found in read_identities(parsed).items():
            identities.setdefault(name, set()).update(found)
    lock, warnings = lock_from_requirements(
        entries,
        releases,
        origin=_moved_origin(origin, source, output),
        index_urls=settings.urls,
        via=via,
        identities={name: sorted(found) for name, found in identities.items()},
    )
    comments = _comments(root.text)
    lost = [f"{comments} comment line(s) (pylock.toml is written whole)"] if comments else []
    lost += _lost_options(lock)
    return ConvertResult(
        FilePlan(output, old, render_pylock(lock).encode("utf-8")),
        packages=len(lock.packages),
        files=sum(len(p.files) for p in lock.packages),
        lost=lost,
        warnings=warnings,
        settings=settings,
    )


def _comments(text: str) -> int:
    """The comment lines of a requirements lock that are not hardenreq's own (its header,
    ``# via`` notes and the dependencies heading are kept, in their own way)."""
    lines = text.splitlines()[header_lines(text) :]
    return sum(
        1
        for line in (raw.strip() for raw in lines)
        if line.startswith("#")
        and not line.startswith(("# via", "#   "))
        and line != DEPENDENCIES_HEADING
    )


def _lost_options(lock: Lock) -> list[str]:
    """Option lines an installer of pylock.toml does not read (they are kept under
    ``[tool.hardenreq]``, so converting back restores them)."""
    if not lock.origin.options:
        return []
    return [
        f"the option line(s) {', '.join(lock.origin.options)}: kept under [tool.hardenreq], "
        "but an installer of pylock.toml does not read them"
    ]


def _lock_entries(tree: RequirementsTree) -> tuple[list[RequirementEntry], list[InputError]]:
    """The requirements pip installs from ``tree`` (``-r`` includes flattened, ``-c``
    files left out), once each, and every line that keeps them from being a lock."""
    entries: list[RequirementEntry] = []
    errors: list[InputError] = []
    seen: set[tuple[Path, int]] = set()
    for entry, constraint in tree.walk():
        if constraint or (entry.path, entry.lineno) in seen:
            continue
        seen.add((entry.path, entry.lineno))
        if isinstance(entry, OptionEntry):
            errors += [p.error() for p in option_problems(entry)]
        elif isinstance(entry, RequirementEntry):
            problems = list(line_problems(entry, classify(entry), constraint=False))
            errors += [
                p.error(p.advice or "hash it first: hardenreq harden --no-resolve FILE")
                for p in problems
            ]
            if not problems:
                entries.append(entry)
    return entries, errors


def _index_settings(tree: RequirementsTree, request: ConvertRequest) -> IndexSettings:
    from hardenreq.core import index_settings_for

    settings = index_settings_for(tree, index_url=request.index_url, environ=request.environ)
    if not settings.urls:
        raise ConfigError(
            "no index to ask for the files (--no-index is set)",
            hint="pass --index-url, or remove --no-index from the file or pip configuration",
        )
    return settings


async def _fetch(
    pins: Sequence[Pin], settings: IndexSettings, retry: RetryPolicy | None, progress: Progress
) -> dict[Pin, Release]:
    # Imported here, as in the core: httpx loads only when the index is asked.
    from hardenreq.index.client import HttpFetcher
    from hardenreq.index.sources import IndexChain

    progress.start(len(pins), "fetching release files")

    async def fetch(chain: IndexChain, pin: Pin) -> Release:
        try:
            return await chain.fetch_release(pin)
        finally:
            progress.advance(str(pin))

    async with HttpFetcher(settings, retry) as fetcher:
        chain = IndexChain(fetcher, settings.urls)
        outcomes = await asyncio.gather(*(fetch(chain, p) for p in pins), return_exceptions=True)
    progress.finish()
    releases: dict[Pin, Release] = {}
    missing: list[InputError] = []
    for pin, outcome in zip(pins, outcomes, strict=True):
        if isinstance(outcome, NotOnIndex):
            missing.append(outcome)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            releases[pin] = outcome
    if missing:
        raise InputErrors(missing)
    return releases
