"""harden: from parsed requirements files and an index to the new text of every file.

No writes happen here: the result is a list of FilePlans (old and new bytes) that the CLI
writes atomically, all or nothing. Problems in the input are collected, so one run reports
every bad line at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from hardenreq._files import open_regular_file
from hardenreq.errors import (
    HardenreqError,
    HashMismatch,
    InputError,
    LocatedError,
    NotOnIndex,
    RequirementsSyntaxError,
    UnhashableRequirement,
    UnpinnedRequirement,
    UnreadableFile,
)
from hardenreq.models import HashPin, Pin, Release
from hardenreq.redact import redact_text, redact_url
from hardenreq.reqfile.parse import (
    OptionEntry,
    RequirementEntry,
    RequirementsFile,
    RequirementsTree,
    parse_text,
)
from hardenreq.reqfile.render import Edit, apply_edits, render_hashed

__all__ = [
    "FilePlan",
    "HardenOptions",
    "HardenResult",
    "InputErrors",
    "Progress",
    "plan_harden",
]

logger = logging.getLogger(__name__)

_MAX_ERRORS_SHOWN = 25


class Progress(Protocol):
    """Receives progress from the core; the CLI draws it, tests may ignore it."""

    def start(self, total: int, description: str) -> None:
        """Work on ``total`` items begins."""

    def advance(self, label: str) -> None:
        """One item is done."""

    def finish(self) -> None:
        """All items are done."""


class NoProgress:
    """A Progress that shows nothing."""

    def start(self, total: int, description: str) -> None:
        """Ignore."""

    def advance(self, label: str) -> None:
        """Ignore."""

    def finish(self) -> None:
        """Ignore."""


class InputErrors(InputError):
    """Several input errors found in one run; the message lists them, one per line."""

    def __init__(self, errors: list[LocatedError | InputError]) -> None:
        shown = [e.message for e in errors[:_MAX_ERRORS_SHOWN]]
        if len(errors) > _MAX_ERRORS_SHOWN:
            shown.append(f"... and {len(errors) - _MAX_ERRORS_SHOWN} more")
        hints = [e.hint for e in errors if e.hint]
        super().__init__("\n".join(shown), hint=hints[0] if hints else None)
        self.errors = errors


@dataclass(frozen=True, slots=True)
class HardenOptions:
    """Policy for a harden run."""

    replace_hashes: bool = False
    require_pins: bool = True


@dataclass(frozen=True, slots=True)
class FilePlan:
    """A file's bytes before and after; ``changed`` says whether it needs writing."""

    path: Path
    old: bytes
    new: bytes

    @property
    def changed(self) -> bool:
        """Whether the new content differs from the old."""
        return self.old != self.new


@dataclass(slots=True)
class HardenResult:
    """What a harden run would write, with counts for the summary."""

    plans: list[FilePlan] = field(default_factory=list)
    pins: int = 0
    hashes: int = 0
    hashes_added: int = 0
    hashes_replaced: int = 0
    lines_changed: int = 0
    warnings: list[str] = field(default_factory=list)
    releases: dict[Pin, Release] = field(default_factory=dict)

    def summary(self, *, written: int) -> str:
        """The one line printed at the end of a run."""
        files = len(self.plans)
        return (
            f"hardened {files} file{_plural(files)}: {self.pins} pin{_plural(self.pins)}, "
            f"{self.hashes} hashes ({self.hashes_added} new), {self.lines_changed} "
            f"line{_plural(self.lines_changed)} rewritten, {written} file{_plural(written)} written"
        )


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


class ReleaseFetcher(Protocol):
    """The index side harden needs: release files, and digests of direct URLs."""

    async def fetch_release(self, pin: Pin) -> Release:
        """Every file of ``pin``."""
        ...


DigestFetcher = Callable[[str, str], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class _Target:
    """What one requirement line must be hashed against."""

    entry: RequirementEntry
    pin: Pin | None = None
    link: str | None = None


def check_entries(
    tree: RequirementsTree, options: HardenOptions
) -> tuple[list[_Target], list[LocatedError | InputError]]:
    """The lines to hash, and every line that cannot be (unhashable, unpinned, orphan hash)."""
    targets: list[_Target] = []
    errors: list[LocatedError | InputError] = []
    for parsed in tree.files.values():
        for entry in parsed.entries:
            if isinstance(entry, OptionEntry):
                if entry.hashes:
                    errors.append(
                        RequirementsSyntaxError(
                            entry.path,
                            entry.lineno,
                            "--hash with no requirement on its logical line: pip ignores it",
                            hint="join it to its requirement with a trailing \\ on each line "
                            "before it, and no comment or blank line in between",
                        )
                    )
                continue
            if not isinstance(entry, RequirementEntry):
                continue
            reason = entry.unhashable_reason
            if reason is not None:
                errors.append(
                    UnhashableRequirement(
                        entry.path,
                        entry.lineno,
                        f"{redact_text(entry.spec)}: {reason}",
                        hint="build it into a wheel, publish it to your index and pin it "
                        "with ==, or install it separately with --no-deps outside the "
                        "hash-checked file",
                    )
                )
                continue
            if entry.link is not None:
                targets.append(_Target(entry, link=entry.link))
                continue
            version = entry.pinned_version
            name = entry.name
            if version is None or name is None:
                if options.require_pins:
                    errors.append(
                        UnpinnedRequirement(
                            entry.path,
                            entry.lineno,
                            f"{entry.spec} is not pinned to one version with == or ===",
                            hint="pin it (name==version), or drop --no-resolve to let "
                            "pip-tools resolve the versions",
                        )
                    )
                continue
            targets.append(_Target(entry, pin=Pin(name, version)))
    return targets, errors


async def plan_harden(
    tree: RequirementsTree,
    source: ReleaseFetcher,
    digest_url: DigestFetcher,
    options: HardenOptions | None = None,
    progress: Progress | None = None,
) -> HardenResult:
    """Add ``--hash`` pins for every file of every pinned release, in every file of ``tree``.

    Hashes already in a file must be ones the index confirms; any other is an error
    (HashMismatch) unless ``options.replace_hashes``. Raises InputErrors with every input
    problem found, or an index error (exit 3) as soon as one happens.
    """
    options = options or HardenOptions()
    progress = progress or NoProgress()
    targets, errors = check_entries(tree, options)
    pins = sorted({t.pin for t in targets if t.pin is not None}, key=str)
    links = sorted({t.link for t in targets if t.link is not None})
    progress.start(len(pins) + len(links), "fetching hashes")

    async def fetch(pin: Pin) -> Release:
        try:
            return await source.fetch_release(pin)
        finally:
            progress.advance(str(pin))

    async def digest(link: str) -> str | None:
        try:
            return await _digest_link(link, digest_url)
        finally:
            progress.advance(redact_url(link))

    outcomes = await asyncio.gather(
        *(fetch(p) for p in pins), *(digest(link) for link in links), return_exceptions=True
    )
    progress.finish()
    releases: dict[Pin, Release] = {}
    digests: dict[str, str] = {}
    keys: list[Pin | str] = [*pins, *links]
    for key, outcome in zip(keys, outcomes, strict=True):
        if isinstance(outcome, InputError):
            errors.append(outcome)
        elif isinstance(outcome, BaseException):
            raise outcome
        elif isinstance(key, Pin) and isinstance(outcome, Release):
            releases[key] = outcome
        elif isinstance(key, str) and outcome is None:
            errors.append(NotOnIndex(f"{redact_url(key)}: not found (HTTP 404)"))
        elif isinstance(key, str) and isinstance(outcome, str):
            digests[key] = outcome
    result = HardenResult(releases=releases)
    edits: dict[Path, list[Edit]] = {path: [] for path in tree.files}
    for target in targets:
        allowed = _allowed_digests(target, releases, digests)
        if allowed is None:
            continue
        entry = target.entry
        try:
            edit = _hash_entry(entry, allowed, tree.files[entry.path], options, result)
        except LocatedError as exc:
            errors.append(exc)
            continue
        if target.pin is not None and (reason := releases[target.pin].yanked) is not None:
            result.warnings.append(
                f"{entry.path}:{entry.lineno}: {target.pin} is yanked"
                + (f" ({reason})" if reason else "")
                + "; pip installs it with a warning only"
            )
        if edit is not None:
            edits[entry.path].append(edit)
    if errors:
        raise InputErrors(errors)
    result.pins = len(pins) + len(links)
    for path, parsed in tree.files.items():
        new_text = apply_edits(parsed.text, edits[path])
        _self_check(parsed, new_text)
        result.plans.append(FilePlan(path, parsed.to_bytes(), parsed.to_bytes(new_text)))
        result.lines_changed += len(edits[path])
    return result


def _allowed_digests(
    target: _Target, releases: dict[Pin, Release], digests: dict[str, str]
) -> frozenset[str] | None:
    if target.pin is not None:
        release = releases.get(target.pin)
        return None if release is None else release.sha256s
    digest = digests.get(target.link or "")
    return None if digest is None else frozenset({digest})


def _hash_entry(
    entry: RequirementEntry,
    allowed: frozenset[str],
    parsed: RequirementsFile,
    options: HardenOptions,
    result: HardenResult,
) -> Edit | None:
    where = f"{entry.name or redact_text(entry.spec)}"
    if not allowed:
        raise HashMismatch(
            entry.path,
            entry.lineno,
            f"{where}: the index lists no file pip can install for this release",
        )
    if entry.ignored_other is not None:
        raise RequirementsSyntaxError(
            entry.path,
            entry.lineno,
            f"a comment before a \\ continuation makes pip ignore {entry.ignored_other!r}",
            hint="move the comment to the end of the logical line (after its last \\ line), "
            "or end the line before the comment",
        )
    existing = set(entry.hashes) | set(entry.ignored_hashes)
    unknown = sorted(h for h in existing if h.algorithm != "sha256" or h.digest not in allowed)
    if unknown and not options.replace_hashes:
        shown = ", ".join(f"{h.algorithm}:{h.digest}" for h in unknown)
        raise HashMismatch(
            entry.path,
            entry.lineno,
            f"{where}: hash {shown} matches no file of this release on the index "
            "(the file may have been replaced or removed: that can be an attack)",
            hint="check the release on the index; if the change is legitimate, re-run with "
            "--replace-hashes to drop hashes the index no longer confirms",
        )
    for pin in unknown:
        result.warnings.append(
            f"{entry.path}:{entry.lineno}: {where}: replaced {pin.algorithm}:{pin.digest}, "
            "which the index no longer confirms (--replace-hashes)"
        )
    result.hashes_replaced += len(unknown)
    wanted = sorted(HashPin("sha256", d) for d in allowed)
    result.hashes += len(wanted)
    result.hashes_added += len(set(wanted) - existing)
    if set(wanted) == set(entry.hashes) and entry.ignored_text is None:
        return None
    if entry.ignored_text is not None:
        result.warnings.append(
            f"{entry.path}:{entry.lineno}: moved the comment that made pip ignore the rest of "
            "this requirement to after its hashes"
        )
    return Edit(entry.start, entry.end, render_hashed(entry, wanted, parsed.newline))


def _self_check(parsed: RequirementsFile, new_text: str) -> None:
    """The rewritten file must mean the same to pip, apart from its hashes."""
    reparsed = parse_text(parsed.path, new_text, encoding=parsed.encoding)

    def meaning(file: RequirementsFile) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        for entry in file.entries:
            if isinstance(entry, RequirementEntry):
                rows.append(("req", entry.spec, *entry.other_options))
            elif isinstance(entry, OptionEntry):
                rows.append(("opt", *(f"{k}={v}" for k, v in entry.options)))
        return rows

    if meaning(reparsed) != meaning(parsed):
        raise HardenreqError(
            f"{parsed.path}: internal error: the rewritten file would change its requirements; "
            "nothing was written (please report this with the input file)"
        )
    for entry in reparsed.requirements:
        if entry.ignored_text is not None:
            raise HardenreqError(
                f"{parsed.path}:{entry.lineno}: internal error: a comment would hide hashes"
            )


async def _digest_link(link: str, digest_url: DigestFetcher) -> str | None:
    """sha256 of a direct-URL or local archive, checked against a ``#sha256=`` fragment."""
    url, _, fragment = link.partition("#")
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        digest = await digest_url(url, redact_url(url))
    else:
        local = Path(unquote(parts.path)) if parts.scheme == "file" else Path(url)
        digest = await asyncio.to_thread(_file_digest, local)
    if digest is None:
        return None
    for part in fragment.split("&"):
        key, _, value = part.partition("=")
        if key == "sha256" and value.lower() != digest:
            raise HashMismatch(
                Path(redact_url(url)),
                None,
                f"the #sha256= fragment does not match the downloaded file ({digest})",
            )
    return digest


def _file_digest(path: Path) -> str | None:
    try:
        # Checked first: a FIFO or /dev/zero named as a local wheel would be read forever.
        with open_regular_file(path, what="the local archive") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except UnreadableFile as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            return None
        raise
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
