"""The entry points the CLI calls: each joins parse, index and plan for one command."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName

from hardenreq._files import read_optional_file, read_regular_file
from hardenreq.errors import (
    ConfigError,
    InputError,
    LocatedError,
    RequirementsSyntaxError,
    UnreadableFile,
)
from hardenreq.index.client import HttpFetcher
from hardenreq.index.location import IndexSettings, load_index_settings
from hardenreq.index.policy import RetryPolicy
from hardenreq.index.sources import IndexChain
from hardenreq.lock import pyproject_requirements, read_header, render_header, render_lock
from hardenreq.models import HashPin, Pin, VerifyReport
from hardenreq.plan import (
    FilePlan,
    HardenOptions,
    HardenResult,
    InputErrors,
    Progress,
    check_entries,
    plan_harden,
)
from hardenreq.refresh import LockChanges, RefreshReport, diff_locks
from hardenreq.reqfile.parse import (
    MAX_FILE_BYTES,
    OptionEntry,
    RequirementsFile,
    RequirementsTree,
    expand_variables,
    parse_bytes,
    parse_requirements,
    parse_text,
)
from hardenreq.reqfile.render import Edit, apply_edits
from hardenreq.resolve import dependents_closure, read_via, resolve
from hardenreq.verify import display_path, verify_tree

__all__ = [
    "HardenRequest",
    "LockOutcome",
    "LockRequest",
    "harden",
    "index_settings_for",
    "plan_lock",
]


@dataclass(frozen=True, slots=True)
class HardenRequest:
    """Everything ``harden`` needs, already validated by the CLI."""

    files: Sequence[Path]
    options: HardenOptions
    index_url: str | None = None
    retry: RetryPolicy | None = None
    environ: Mapping[str, str] | None = None


def index_settings_for(
    tree: RequirementsTree,
    *,
    index_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> IndexSettings:
    """The index settings pip would use for ``tree``: its option lines, then pip's config."""
    file_index: str | None = None
    extras: list[str] = []
    trusted: list[str] = []
    no_index = False
    for parsed in tree.files.values():
        for entry in parsed.entries:
            if not isinstance(entry, OptionEntry):
                continue
            for option, value in entry.options:
                if option == "--index-url" and value:
                    file_index = _expand(value, environ)
                elif option == "--extra-index-url" and value:
                    extras.append(_expand(value, environ))
                elif option == "--trusted-host" and value:
                    trusted.append(value)
                elif option == "--no-index":
                    no_index = True
    return load_index_settings(
        file_index_url=file_index,
        file_extra_index_urls=extras,
        file_no_index=no_index,
        file_trusted_hosts=trusted,
        override_index_url=index_url,
        environ=environ,
    )


def _expand(value: str, environ: Mapping[str, str] | None) -> str:
    return expand_variables(value, os.environ if environ is None else environ)


def harden(
    request: HardenRequest, progress: Progress | None = None
) -> tuple[HardenResult, IndexSettings]:
    """Parse the files, fetch every pinned release's digests and plan the rewrite.

    Returns the plan (nothing is written) and the index settings used.
    """
    tree = parse_requirements(list(request.files), environ=request.environ)
    settings = index_settings_for(tree, index_url=request.index_url, environ=request.environ)
    if not settings.urls:
        raise ConfigError(
            "no index to ask for hashes (--no-index is set)",
            hint="pass --index-url, or remove --no-index from the file or pip configuration",
        )
    result = asyncio.run(_harden(tree, settings, request.options, request.retry, progress))
    return result, settings


async def _harden(
    tree: RequirementsTree,
    settings: IndexSettings,
    options: HardenOptions,
    retry: RetryPolicy | None,
    progress: Progress | None,
) -> HardenResult:
    async with HttpFetcher(settings, retry) as fetcher:
        chain = IndexChain(fetcher, settings.urls)
        return await plan_harden(
            tree,
            chain,
            lambda url, what: fetcher.digest(url, what=what),
            options,
            progress,
        )


@dataclass(frozen=True, slots=True)
class LockRequest:
    """``harden`` with resolution: a source (.in, pyproject.toml, loose .txt) to a lock."""

    source: Path
    output: Path | None
    options: HardenOptions
    extras: tuple[str, ...] = ()
    upgrade: bool = False
    upgrade_packages: tuple[str, ...] = ()
    index_url: str | None = None
    retry: RetryPolicy | None = None
    environ: Mapping[str, str] | None = None
    # Planned contents of files not written yet (absolute paths): a layered lock that
    # constrains itself with -c base.txt resolves against base.txt as refreshed in this run.
    overrides: Mapping[Path, bytes] = dataclasses.field(default_factory=dict)


@dataclass(slots=True)
class LockOutcome:
    """A planned lock: the harden result (its one FilePlan is the lock) and other writes."""

    result: HardenResult
    settings: IndexSettings
    source: Path
    output: Path
    saved_source: FilePlan | None
    pins: int


def plan_lock(request: LockRequest, progress: Progress | None = None) -> LockOutcome:
    """Resolve ``request.source`` through pip-tools, then hash every pin of the closure.

    The output defaults to pip-compile's convention (``x.in`` -> ``x.txt``); a loose
    requirements file without ``-o`` is rewritten in place, its original lines saved as the
    sibling ``.in`` (the source later runs and ``refresh`` read). Nothing is written here.
    """
    target = _lock_target(request)
    environ = os.environ if request.environ is None else request.environ
    template_file = parse_text(target.source, target.template, environ=environ)
    tree = (
        parse_requirements([target.source], environ=environ, overrides=request.overrides)
        if target.parse_source
        else RequirementsTree(files={target.source: template_file})
    )
    _, errors = check_entries(tree, HardenOptions(require_pins=False))
    errors += [
        RequirementsSyntaxError(
            entry.path,
            entry.lineno,
            f"a comment before a \\ continuation makes pip ignore {entry.ignored_other!r}",
            hint="move the comment after the continued lines, or end the line before it",
        )
        for entry in tree.requirements()
        if entry.ignored_other is not None
    ]
    if errors:
        raise InputErrors(errors)
    settings = index_settings_for(tree, index_url=request.index_url, environ=request.environ)
    if not settings.urls:
        raise ConfigError("no index to resolve against (--no-index is set)")
    # The lock's bytes as they are before the slow part: the write refuses to replace it if
    # it changes meanwhile (issue 9 item 11), and a missing lock must still be missing.
    old = read_optional_file(target.output, limit=MAX_FILE_BYTES, what="the lock")
    previous, notes = _previous_lock(target.output, old, environ)
    # "Upgrade boto3" frees boto3 and what it needs (by the old lock's # via notes): with
    # botocore still pinned, pip-compile could not move boto3 at all.
    upgrading = sorted(dependents_closure(notes, request.upgrade_packages))
    preferred = [pin for pin in previous if isinstance(pin, Pin) and pin.name not in upgrading]
    with tempfile.TemporaryDirectory(prefix="hardenreq-layers-") as scratch:
        requirements, renamed = _with_overrides(
            template_file, target, request.overrides, Path(scratch)
        )
        resolution = resolve(
            requirements,
            cwd=target.source.absolute().parent,
            source_name=target.display_source,
            index=settings,
            preferred=preferred,
            upgrade=request.upgrade,
            upgrade_packages=upgrading,
            environ=request.environ,
            renamed=renamed,
        )
    header = render_header(target.display_source, target.command, template_file.newline)
    carried = {pin: hashes for pin, hashes in previous.items() if hashes}
    text = render_lock(
        template_file,
        resolution,
        header=header,
        carried=carried,
        source_dir=target.source.parent.absolute(),
        output_dir=target.output.parent.absolute(),
        link_heads={
            entry.name: entry.head
            for entry in tree.requirements()
            if entry.link is not None and entry.name is not None
        },
    )
    lock_file = parse_text(target.output, text, environ=environ)
    lock_tree = RequirementsTree(files={target.output: lock_file})
    try:
        result = asyncio.run(_harden(lock_tree, settings, request.options, request.retry, progress))
    except InputErrors as exc:
        raise InputErrors([_to_source(e, lock_file, template_file) for e in exc.errors]) from exc
    result.plans = [FilePlan(target.output, old or b"", result.plans[0].new)]
    saved = None
    if target.save_source is not None:
        saved = FilePlan(target.save_source, b"", target.template.encode("utf-8"))
    return LockOutcome(result, settings, target.source, target.output, saved, len(resolution.pins))


def _to_source(
    error: LocatedError | InputError, lock: RequirementsFile, template: RequirementsFile
) -> LocatedError | InputError:
    """Point an error about a line of the lock being built at the source line it came from."""
    if not isinstance(error, LocatedError) or error.path != lock.path:
        return error
    names = {e.lineno: e.name for e in lock.requirements}
    name = names.get(error.line or 0)
    origin = next((e for e in template.requirements if name and e.name == name), None)
    if origin is None:
        return type(error)(
            lock.path, None, f"{error.detail} (a dependency in the lock being built)",
            hint=error.hint,
        )  # fmt: skip
    return type(error)(origin.path, origin.lineno, error.detail, hint=error.hint)


def _with_overrides(
    template: RequirementsFile,
    target: _LockTarget,
    overrides: Mapping[Path, bytes],
    scratch: Path,
) -> tuple[str | Path, dict[str, str]]:
    """What pip-compile reads: the source file, or its text with overridden includes.

    Returns the input and how ``# via`` notes name the stand-in files.
    """
    plain: str | Path = target.source.absolute() if target.parse_source else target.template
    edits: list[Edit] = []
    renamed: dict[str, str] = {}
    for entry in template.entries:
        if not isinstance(entry, OptionEntry):
            continue
        for option, value in entry.options:
            if option not in ("--constraint", "--requirement") or not value:
                continue
            included = Path(os.path.normpath(target.source.absolute().parent / value))
            if included not in overrides:
                continue
            stand_in = scratch / f"{len(renamed)}-{included.name}"
            stand_in.write_bytes(overrides[included])
            flag = "-c" if option == "--constraint" else "-r"
            edits.append(Edit(entry.start, entry.end, f"{flag} {stand_in}"))
            renamed[f"{flag} {stand_in}"] = f"{flag} {value}"
            break
    if not edits:
        return plain, renamed
    return apply_edits(template.text, edits), renamed


@dataclass(frozen=True, slots=True)
class _LockTarget:
    source: Path
    output: Path
    template: str
    display_source: str
    command: str
    parse_source: bool
    save_source: Path | None


def _lock_target(request: LockRequest) -> _LockTarget:
    source = request.source
    output = request.output
    if source.name == "pyproject.toml":
        output = output or source.with_name("requirements.txt")
        shown = _relative(source, output)
        extras = "".join(f" --extra {e}" for e in request.extras)
        # The header records the extras (pyproject.toml[dev]) so rebuilds keep them.
        with_extras = f"{shown}[{','.join(request.extras)}]" if request.extras else shown
        return _LockTarget(
            source=source,
            output=output,
            template=pyproject_requirements(source, request.extras),
            display_source=with_extras,
            command=f"hardenreq harden {shown}{extras} -o {output.name}",
            parse_source=False,
            save_source=None,
        )
    if request.extras:
        raise InputError("--extra applies to a pyproject.toml source only")
    text = _read_text(source)
    header = read_header(text)
    if output is None and header is not None:
        # A lock hardenreq wrote: rebuild it from the source its header names.
        named, _, extras = header.source.partition("[")
        origin = source.parent / named
        chosen = request.extras or tuple(e for e in extras.rstrip("]").split(",") if e)
        return _lock_target(
            dataclasses.replace(request, source=origin, output=source, extras=chosen)
        )
    recorded = source
    save: Path | None = None
    if output is None and source.suffix == ".in":
        output = source.with_suffix(".txt")
    elif output is None:
        # The one-shot rewrite of a hand-kept file: what the user asked for (the ranges)
        # is kept as the sibling .in, which later runs and refresh resolve from.
        output = source
        recorded = source.with_suffix(".in")
        if not recorded.exists():
            save = recorded
        elif _read_text(recorded) != text:
            raise InputError(
                f"{recorded} already exists and differs from {source}",
                hint=f"to lock from it, run: hardenreq harden {recorded} -o {source}",
            )
    shown = _relative(recorded, output)
    return _LockTarget(
        source=source,
        output=output,
        template=text,
        display_source=shown,
        command=f"hardenreq harden {shown} -o {output.name}",
        parse_source=True,
        save_source=save,
    )


def _relative(source: Path, output: Path) -> str:
    return Path(os.path.relpath(source.absolute(), output.absolute().parent)).as_posix()


def _read_text(path: Path) -> str:
    data = read_regular_file(path, limit=MAX_FILE_BYTES, what="the requirements file")
    return parse_bytes(path, data, environ={}).text


def _previous_lock(
    output: Path, data: bytes | None, environ: Mapping[str, str]
) -> tuple[dict[Pin | str, tuple[HashPin, ...]], dict[NormalizedName, tuple[str, ...]]]:
    """The hashes of an existing lock by pin (or direct URL), and its ``# via`` notes.

    ``data`` is the lock's bytes, None when there is no lock.
    """
    if data is None:
        return {}, {}
    parsed = parse_bytes(output, data, environ)
    pins: dict[Pin | str, tuple[HashPin, ...]] = {}
    for entry in parsed.requirements:
        version, name = entry.pinned_version, entry.name
        if entry.link is not None:
            pins[entry.link] = entry.hashes + entry.ignored_hashes
        elif version is not None and name is not None:
            pins[Pin(name, version)] = entry.hashes + entry.ignored_hashes
    return pins, read_via(parsed)


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    """``verify``: the files to check and how to reach the index."""

    files: Sequence[Path]
    index_url: str | None = None
    retry: RetryPolicy | None = None
    environ: Mapping[str, str] | None = None


def verify(
    request: VerifyRequest, progress: Progress | None = None
) -> tuple[VerifyReport, IndexSettings]:
    """Parse the files (and their includes) and compare every pin with the index now."""
    tree = parse_requirements(list(request.files), environ=request.environ)
    settings = index_settings_for(tree, index_url=request.index_url, environ=request.environ)
    if not settings.urls:
        raise ConfigError("no index to check against (--no-index is set)")

    async def run() -> VerifyReport:
        async with HttpFetcher(settings, request.retry) as fetcher:
            chain = IndexChain(fetcher, settings.urls, want_latest=True)
            return await verify_tree(
                tree, settings, chain, progress, lambda url, what: fetcher.digest(url, what=what)
            )

    return asyncio.run(run()), settings


@dataclass(frozen=True, slots=True)
class RefreshTarget:
    """One lock to refresh: its source, and its output when not the default."""

    source: Path
    output: Path | None = None
    extras: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RefreshRequest:
    """``refresh``: the locks (in order: later ones may ``-c`` earlier outputs) and how."""

    targets: Sequence[RefreshTarget]
    upgrade_packages: tuple[str, ...] = ()
    hashes_only: bool = False
    dry_run: bool = False
    index_url: str | None = None
    retry: RetryPolicy | None = None
    environ: Mapping[str, str] | None = None


def plan_refresh(
    request: RefreshRequest, progress: Progress | None = None
) -> tuple[list[FilePlan], RefreshReport, list[str]]:
    """Re-resolve (with upgrades) and re-hash every target; nothing is written here.

    Without ``upgrade_packages`` every package may move; with them, only those and what
    they need. ``hashes_only`` keeps every pin and re-fetches the hashes. Hashes that
    change under an unchanged version are allowed here (a refresh is reviewed) and the
    report lists them apart. Returns the file plans, the report and warnings.
    """
    plans: list[FilePlan] = []
    locks: list[LockChanges] = []
    warnings: list[str] = []
    planned: dict[Path, bytes] = {}
    options = HardenOptions(replace_hashes=True)
    for target in request.targets:
        lock_request = LockRequest(
            source=target.source,
            output=target.output,
            options=options,
            extras=target.extras,
            upgrade=not request.upgrade_packages,
            upgrade_packages=request.upgrade_packages,
            index_url=request.index_url,
            retry=request.retry,
            environ=request.environ,
            overrides=dict(planned),
        )
        if request.hashes_only:
            plan, result, source = _rehash(lock_request, progress)
        else:
            outcome = plan_lock(lock_request, progress)
            plan, result, source = outcome.result.plans[0], outcome.result, outcome.source
        warnings += result.warnings
        changes = diff_locks(
            plan.old.decode("utf-8", "replace"), plan.new.decode("utf-8"), result.releases
        )
        locks.append(LockChanges(display_path(plan.path), display_path(source), tuple(changes)))
        plans.append(plan)
        planned[Path(os.path.normpath(plan.path.absolute()))] = plan.new
    return plans, RefreshReport(tuple(locks), dry_run=request.dry_run), warnings


def _rehash(request: LockRequest, progress: Progress | None) -> tuple[FilePlan, HardenResult, Path]:
    """``--hashes-only``: the lock's own pins, every hash fetched again."""
    target = _lock_target(request)
    environ = os.environ if request.environ is None else request.environ
    try:
        data = read_regular_file(target.output, limit=MAX_FILE_BYTES, what="the lock")
    except UnreadableFile as exc:
        if not isinstance(exc.__cause__, FileNotFoundError):
            raise
        raise InputError(
            f"{target.output}: no lock to re-hash ({exc.reason})",
            hint=f"create it first: hardenreq harden {target.source}",
        ) from exc
    lock_file = parse_bytes(target.output, data, environ)
    tree = RequirementsTree(files={target.output: lock_file})
    settings = index_settings_for(tree, index_url=request.index_url, environ=request.environ)
    result = asyncio.run(_harden(tree, settings, request.options, request.retry, progress))
    return result.plans[0], result, target.source
