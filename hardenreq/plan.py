"""harden: from parsed requirements files and an index to the new text of every file.

No writes happen here: the result is a list of FilePlans (old and new bytes) that the CLI
writes atomically, all or nothing. Problems in the input are collected, so one run reports
every bad line at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from hardenreq._files import open_regular_file
from hardenreq._tasks import gather_inputs
from hardenreq.classify import (
    DirectLink,
    Pinned,
    classify,
    line_problems,
    option_problems,
    tree_lines,
)
from hardenreq.errors import (
    HardenreqError,
    HashMismatch,
    InputError,
    InputErrors,
    LocatedError,
    NotOnIndex,
    UnreadableFile,
)
from hardenreq.index.interface import IndexClient
from hardenreq.models import FindingKind, HashPin, Pin, Release
from hardenreq.progress import NoProgress, Progress
from hardenreq.redact import redact_text, redact_url
from hardenreq.reqfile.parse import (
    OptionEntry,
    RequirementEntry,
    RequirementsFile,
    RequirementsTree,
    parse_text,
)
from hardenreq.reqfile.render import Edit, apply_edits, render_hashed
from hardenreq.select import HashPolicy, HashSelection, select_hashes

if TYPE_CHECKING:
    from packaging.utils import NormalizedName

    from hardenreq.authenticity import AuthenticityOutcome
    from hardenreq.build_deps import BuildPlan
    from hardenreq.models import PublisherIdentity

__all__ = [
    "FilePlan",
    "HardenOptions",
    "HardenResult",
    "check_entries",
    "plan_harden",
]

logger = logging.getLogger(__name__)

_UNPINNED_HINT = (
    "pin it (name==version), or drop --no-resolve to let pip-tools resolve the versions"
)


@dataclass(frozen=True, slots=True)
class HardenOptions:
    """Policy for a harden run: which pins are required, which hashes may be replaced, and
    which files of each release the lock pins."""

    replace_hashes: bool = False
    require_pins: bool = True
    policy: HashPolicy = field(default_factory=HashPolicy)


@dataclass(frozen=True, slots=True)
class FilePlan:
    """A file's bytes before (None: it does not exist yet) and after."""

    path: Path
    old: bytes | None
    new: bytes

    @property
    def changed(self) -> bool:
        """Whether the new content differs from the old (a new file always does)."""
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
    selections: dict[Pin, HashSelection] = field(default_factory=dict)
    #: The verified publishers to record for each package (PEP 740; pylock.toml's
    #: ``attestation-identities``), and the authenticity check behind them.
    identities: dict[NormalizedName, tuple[PublisherIdentity, ...]] = field(default_factory=dict)
    authenticity: AuthenticityOutcome | None = None
    #: Build-constraints files planned with these files (``harden --no-resolve``).
    builds: list[BuildPlan] = field(default_factory=list)

    def summary(self, *, written: int) -> str:
        """The one line printed at the end of a run."""
        files = len(self.plans)
        return (
            f"hardened {plural(files, 'file')}: {plural(self.pins, 'pin')}, "
            f"{plural(self.hashes, 'hash', 'hashes')} ({self.hashes_added} new), "
            f"{plural(self.lines_changed, 'line')} rewritten, "
            f"{plural(written, 'file')} written"
        )


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 pin``, ``2 pins``: a count and its noun."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def check_entries(
    tree: RequirementsTree, options: HardenOptions
) -> tuple[list[Pinned | DirectLink], list[InputError]]:
    """The lines to hash, and every line that stops a harden run (classify's problems that
    harden cannot mend: unhashable, unpinned where pins are required, hashes pip ignores,
    constraints pip refuses)."""
    targets: list[Pinned | DirectLink] = []
    errors: list[InputError] = []
    for entry, constraint in tree_lines(tree):
        if isinstance(entry, OptionEntry):
            errors += [p.error() for p in option_problems(entry)]
            continue
        classified = classify(entry)
        for problem in line_problems(entry, classified, constraint=constraint):
            if problem.repairable:
                continue
            if problem.kind == FindingKind.UNPINNED:
                if options.require_pins:
                    errors.append(problem.error(_UNPINNED_HINT))
                continue
            errors.append(problem.error())
        if isinstance(classified, Pinned | DirectLink):
            targets.append(classified)
    return targets, errors


async def plan_harden(
    tree: RequirementsTree,
    client: IndexClient,
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
    pins = sorted({t.pin for t in targets if isinstance(t, Pinned)}, key=str)
    links = sorted({t.link for t in targets if isinstance(t, DirectLink)})
    progress.start(len(pins) + len(links), "fetching hashes")

    async def fetch(pin: Pin) -> Release:
        try:
            return await client.fetch_release(pin)
        finally:
            progress.advance(str(pin))

    async def digest(link: str) -> str | None:
        try:
            return await _digest_link(link, client)
        finally:
            progress.advance(redact_url(link))

    try:
        outcomes = await gather_inputs([*(fetch(p) for p in pins), *(digest(u) for u in links)])
    finally:
        progress.finish()
    result = HardenResult()
    digests: dict[str, str] = {}
    keys: list[Pin | str] = [*pins, *links]
    missing: list[NotOnIndex] = []
    for key, outcome in zip(keys, outcomes, strict=True):
        if isinstance(outcome, NotOnIndex):
            missing.append(outcome)
        elif isinstance(outcome, InputError):
            errors.append(outcome)
        elif isinstance(key, Pin) and isinstance(outcome, Release):
            result.releases[key] = outcome
            result.selections[key] = select_hashes(outcome, options.policy)
        elif isinstance(key, str) and outcome is None:
            errors.append(NotOnIndex(f"{redact_url(key)}: not found (HTTP 404)"))
        elif isinstance(key, str) and isinstance(outcome, str):
            digests[key] = outcome
    errors += _not_on_index(missing, total=len(pins))
    edits: dict[Path, list[Edit]] = {path: [] for path in tree.files}
    for target in targets:
        allowed = _allowed_digests(target, result.selections, digests)
        if allowed is None:
            continue
        entry = target.entry
        try:
            edit = _hash_entry(entry, *allowed, tree.files[entry.path], options, result)
        except LocatedError as exc:
            errors.append(exc)
            continue
        release = result.releases[target.pin] if isinstance(target, Pinned) else None
        if release is not None and (reason := release.yanked) is not None:
            result.warnings.append(
                f"{entry.path}:{entry.lineno}: {release.pin} is yanked"
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


def _not_on_index(missing: list[NotOnIndex], *, total: int) -> list[InputError]:
    """One error per missing project, or one for the index when it knows none of them.

    An index that answers 404 for every project of a run (three or more) is almost
    certainly the wrong URL, and 55 "no such project" lines hide that.
    """
    projects = [m for m in missing if m.project_missing]
    if total >= 3 and len(projects) == total:
        index = projects[0].index
        return [
            NotOnIndex(
                f"{index} has none of the {total} projects asked for (HTTP 404 for every one): "
                "it is probably not the URL of a package index",
                hint="check --index-url, the file's --index-url line and pip's configuration "
                "(an index URL usually ends in /simple)",
            )
        ]
    return list(missing)


def _allowed_digests(
    target: Pinned | DirectLink, selections: dict[Pin, HashSelection], digests: dict[str, str]
) -> tuple[frozenset[str], frozenset[str]] | None:
    """The digests the index confirms for the line, and those the lock should pin."""
    if isinstance(target, Pinned):
        selection = selections.get(target.pin)
        if selection is None:
            return None
        return selection.release.sha256s, selection.digests
    digest = digests.get(target.link)
    return None if digest is None else (frozenset({digest}), frozenset({digest}))


def _hash_entry(
    entry: RequirementEntry,
    known: frozenset[str],
    allowed: frozenset[str],
    parsed: RequirementsFile,
    options: HardenOptions,
    result: HardenResult,
) -> Edit | None:
    """The edit that pins ``allowed`` on the line; ``known`` are every digest the index has
    for the release (files pip never installs, such as .egg, included)."""
    where = f"{entry.name or redact_text(entry.spec)}"
    if not allowed:
        raise HashMismatch(
            entry.path,
            entry.lineno,
            f"{where}: the index lists no file pip can install for this release",
        )
    existing = set(entry.hashes) | set(entry.ignored_hashes)
    unknown = sorted(h for h in existing if h.algorithm != "sha256" or h.digest not in known)
    uninstallable = sorted(h for h in existing if h.digest in known - allowed)
    result.warnings += [
        f"{entry.path}:{entry.lineno}: {where}: dropped sha256:{h.digest}, the hash of a file "
        "the index lists but pip never installs (an .egg or installer)"
        for h in uninstallable
    ]
    if unknown and not options.replace_hashes:
        shown = ", ".join(f"{h.algorithm}:{h.digest}" for h in unknown)
        raise HashMismatch(
            entry.path,
            entry.lineno,
            f"{where}: hash {shown} matches no file of this release on the index "
            "(the file may have been replaced or removed: that can be an attack)",
            hint="check the release on the index; if the change is legitimate, re-run with "
            "--replace-hashes to drop hashes the index no longer confirms",
            hashes=tuple(unknown),
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


async def _digest_link(link: str, client: IndexClient) -> str | None:
    """sha256 of a direct-URL or local archive, checked against a ``#sha256=`` fragment."""
    url, _, fragment = link.partition("#")
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        digest = await client.digest(url, what=redact_url(url))
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
