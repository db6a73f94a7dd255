"""The ``hardenreq`` command line: options in, one core call, messages and an exit code out."""

from __future__ import annotations

import contextlib
import contextvars
import copy
import difflib
import enum
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import typer.core

from hardenreq import __version__
from hardenreq._console import Ui
from hardenreq.errors import ExitCode, HardenreqError, InputError, WriteFailed

if TYPE_CHECKING:
    from hardenreq._atomic import PendingWrite
    from hardenreq.authenticity import AuthenticityOptions
    from hardenreq.config import Settings
    from hardenreq.index.location import IndexSettings
    from hardenreq.index.policy import RetryPolicy
    from hardenreq.plan import FilePlan, HardenOptions, HardenResult
    from hardenreq.targets import Targets

# typer escapes "[required]" and "[default: ...]" for rich markup whenever rich is
# installed, even with rich_markup_mode=None, so plain help showed "\[required]". This app
# renders help as plain text: tell typer so.
typer.core.HAS_RICH = False

logger = logging.getLogger(__name__)

app = typer.Typer(
    name="hardenreq",
    help="Harden pip requirements files against supply-chain tampering: pin every "
    "requirement, add --hash pins for every file of each release, and turn on pip's "
    "hash-checking mode.",
    no_args_is_help=True,
    add_completion=False,
    # Locals can hold index credentials: never print them.
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    # Plain text: help mentions [tool.hardenreq] and [install], which markup would eat.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    # click suggests the closest command itself; typer's own would say it twice.
    suggest_commands=False,
)


def _examples(*commands: str, footer: str = "") -> str:
    """An epilog of example commands, laid out as written (click's \\b keeps a paragraph
    from being re-wrapped, which would cut a command's comment mid-phrase)."""
    text = "Examples:\n\n\b\n" + "\n".join(f"  {command}" for command in commands)
    return text + (f"\n\n{footer}" if footer else "")


QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Only errors and warnings on stderr.")
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Explain each step (which index answered, ...).")
]
LocalVerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Explain each step.")]


IndexUrlOption = Annotated[
    str | None,
    typer.Option(
        "--index-url",
        "-i",
        help="The index to ask (default: the file's --index-url, then pip's configuration).",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The pyproject.toml with [tool.hardenreq] (default: ./pyproject.toml).",
        show_default=False,
    ),
]
RetriesOption = Annotated[
    int | None,
    typer.Option(
        "--retries",
        min=0,
        max=10,
        help="Retries per request on connection errors, timeouts, 429 and 5xx [default: 3].",
        show_default=False,
    ),
]
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=1.0,
        max=600.0,
        help="Seconds to wait for each request [default: 30].",
        show_default=False,
    ),
]
BuildConstraintsOption = Annotated[
    Path | None,
    typer.Option(
        "--build-constraints",
        help="Where to write the hashed build requirements of the pins pip builds from "
        "their sdist (default: build-constraints.txt beside the lock).",
        show_default=False,
    ),
]
PythonVersionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--python-version",
        help="Lock for this Python version too (3.12), or a range (3.10-3.13); repeatable. "
        "Default: this interpreter's.",
        show_default=False,
    ),
]
PlatformOption = Annotated[
    list[str] | None,
    typer.Option(
        "--platform",
        help="Lock for this platform: linux, linux-aarch64, macos, macos-x86_64, windows; "
        "repeatable. Default: this machine's.",
        show_default=False,
    ),
]
DeadlineOption = Annotated[
    float | None,
    typer.Option(
        "--deadline",
        min=1.0,
        max=86400.0,
        help="Seconds all index requests of the run may take, retries included [default: 600].",
        show_default=False,
    ),
]


AdvisoriesOption = Annotated[
    bool | None,
    typer.Option(
        "--advisories/--no-advisories",
        help="Check the pins against known vulnerabilities and malware: the index's own "
        "data, the OSV API and --advisory-db [default: advisories].",
        show_default=False,
    ),
]
IndexAdvisoriesOption = Annotated[
    bool | None,
    typer.Option(
        "--index-advisories/--no-index-advisories",
        help="Report the index's own vulnerability data, where it serves it [default: yes].",
        show_default=False,
    ),
]
OsvUrlOption = Annotated[
    str | None,
    typer.Option(
        "--osv-url",
        help="The OSV API to ask, e.g. https://osv.example.com/v1 (default: "
        "HARDENREQ_OSV_URL, then osv-url in [tool.hardenreq], then OSV's public API).",
        show_default=False,
    ),
]
OsvApiOption = Annotated[
    bool | None,
    typer.Option(
        "--osv-api/--no-osv-api",
        help="Ask the OSV API [default: yes, unless --advisory-db is given].",
        show_default=False,
    ),
]
AdvisoryDbOption = Annotated[
    Path | None,
    typer.Option(
        "--advisory-db",
        help="An offline OSV dump: OSV's all.zip of the PyPI ecosystem, or a folder of OSV "
        "JSON records (used instead of the OSV API unless --osv-api is given).",
        show_default=False,
    ),
]
RequireAdvisoriesOption = Annotated[
    bool | None,
    typer.Option(
        "--require-advisories/--no-require-advisories",
        help="An advisory source that cannot be used stops the run (exit 3), instead of a "
        "warning [default: no-require-advisories].",
        show_default=False,
    ),
]
MinReleaseAgeOption = Annotated[
    str | None,
    typer.Option(
        "--min-release-age",
        help="Only releases uploaded at least this long ago, e.g. 7d, 12h, 2w (0: any).",
        show_default=False,
    ),
]
OfflineOption = Annotated[
    bool | None,
    typer.Option(
        "--offline/--no-offline",
        help="Verify provenance with sigstore's local trust root; never refresh it online "
        "[default: no-offline].",
        show_default=False,
    ),
]
AcceptPublisherOption = Annotated[
    list[str] | None,
    typer.Option(
        "--accept-publisher",
        help="Take this package's files as the index serves them now, though their "
        "publisher differs from the lock's or their provenance is gone; repeatable.",
        show_default=False,
    ),
]


def _osv_url(flag: str | None) -> str | None:
    """--osv-url, else HARDENREQ_OSV_URL (a machine-wide mirror), else None (the config's)."""
    from urllib.parse import urlsplit

    from hardenreq.advisories import OSV_URL_VARIABLE
    from hardenreq.errors import ConfigError
    from hardenreq.redact import redact_url

    if flag:
        return flag
    value = os.environ.get(OSV_URL_VARIABLE, "").strip()
    if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname):
        raise ConfigError(f"{OSV_URL_VARIABLE} must be an http(s) URL, not {redact_url(value)!r}")
    return value or None


def _authenticity(settings: Settings, accepted: list[str] | None = None) -> AuthenticityOptions:
    """The authenticity options of the merged settings (and --accept-publisher)."""
    from hardenreq.authenticity import AuthenticityOptions

    return AuthenticityOptions(
        offline=settings.offline,
        accept_publishers=tuple(accepted or ()),
        min_release_age=settings.min_release_age,
    )


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"hardenreq {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Harden pip requirements files against supply-chain tampering."""


# True once this command's files are written: then no message may say "nothing was written".
_written: contextvars.ContextVar[bool] = contextvars.ContextVar("written", default=False)


def _write_all(writes: list[PendingWrite]) -> None:
    """``write_all``, remembering whether the files were written for the messages below."""
    from hardenreq._atomic import InterruptedAfterWrite, write_all

    try:
        write_all(writes)
    except InterruptedAfterWrite:
        _written.set(True)
        raise
    _written.set(bool(writes))


@contextlib.contextmanager
def _errors_to_exit_codes(ui: Ui, verbose: bool, *, wrote: bool = True) -> Iterator[list[int]]:
    """Turn every hardenreq error into a message and its exit code; no tracebacks.

    Yields a one-item list holding the exit code, 0 unless an error happened. "nothing was
    written" is added only when it is true: not once ``_write_all`` has written, and not
    when a WriteFailed says it could not put every file back.
    """
    outcome: list[int] = [ExitCode.OK]
    token = _written.set(False)
    try:
        yield outcome
    except HardenreqError as exc:
        ui.error(exc.message, exc.hint)
        kept_all = not isinstance(exc, WriteFailed) or exc.restored
        if wrote and kept_all and not _written.get():
            ui.info("nothing was written")
        outcome[0] = exc.exit_code
    except KeyboardInterrupt as exc:
        ui.error("interrupted" if _written.get() else "interrupted; nothing was written")
        outcome[0] = 143 if isinstance(exc, Terminated) else 130
    except Exception as exc:  # the last resort: report it, never a bare traceback
        ui.error(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="please report this; run with --verbose to see the traceback",
        )
        if verbose:
            ui.traceback(traceback.format_exc())
        outcome[0] = ExitCode.INTERNAL
    finally:
        _written.reset(token)


def _make_ui(quiet: bool, verbose: bool) -> Ui:
    return Ui(quiet=quiet, verbose=verbose)


@app.command(
    epilog=_examples(
        "hardenreq harden requirements.in                  # -> requirements.txt",
        "hardenreq harden pyproject.toml --extra dev -o requirements-dev.txt",
        "hardenreq harden requirements.txt                 # one-shot rewrite, in place",
        "hardenreq harden --upgrade-package django requirements.in",
        "hardenreq harden --no-resolve requirements.txt    # only add hashes",
        "hardenreq harden --no-resolve --pip-conf pip.conf requirements.txt",
        "hardenreq harden --build-constraints build.txt requirements.in",
        "hardenreq harden --only-binary :all: requirements.in   # no sdist may be built",
    )
)
def harden(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Sources to lock (.in, pyproject.toml, requirements.txt), or with "
            "--no-resolve, pinned requirements files to hash in place (with their includes).",
            show_default=False,
        ),
    ],
    no_resolve: Annotated[
        bool,
        typer.Option(
            "--no-resolve",
            help="Every requirement is already pinned with == or ===: only add hashes.",
        ),
    ] = False,
    pip_conf: Annotated[
        Path | None,
        typer.Option(
            "--pip-conf",
            help="Write or merge the pip.conf that turns on hash checking here.",
            show_default=False,
        ),
    ] = None,
    no_pip_conf: Annotated[
        bool, typer.Option("--no-pip-conf", help="Do not write a pip.conf.")
    ] = False,
    replace_hashes: Annotated[
        bool,
        typer.Option(
            "--replace-hashes",
            help="Drop existing hashes the index no longer confirms (normally an error: "
            "a replaced file can be an attack).",
        ),
    ] = False,
    index_url: IndexUrlOption = None,
    diff: Annotated[
        bool, typer.Option("--diff", help="Print a unified diff and write nothing.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The lock to write (default: x.in -> x.txt; pyproject.toml -> "
            "requirements.txt; a requirements.txt is rewritten in place). pylock.toml or "
            "pylock.NAME.toml writes PEP 751.",
            show_default=False,
        ),
    ] = None,
    extra: Annotated[
        list[str] | None,
        typer.Option("--extra", help="pyproject.toml: include these optional dependencies."),
    ] = None,
    upgrade: Annotated[
        bool, typer.Option("--upgrade", "-U", help="Re-resolve every pin to the newest allowed.")
    ] = False,
    upgrade_package: Annotated[
        list[str] | None,
        typer.Option(
            "--upgrade-package",
            "-P",
            help="Re-resolve this package (and what it needs); keep the other pins.",
        ),
    ] = None,
    build_constraints: BuildConstraintsOption = None,
    only_binary: Annotated[
        list[str] | None,
        typer.Option(
            "--only-binary",
            help="As pip's option (:all:, or names): these may not be built from their "
            "sdist, so a pin with no wheel that installs here is an error.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    retries: RetriesOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    python_version: PythonVersionOption = None,
    platform: PlatformOption = None,
    advisories: AdvisoriesOption = None,
    index_advisories: IndexAdvisoriesOption = None,
    osv_url: OsvUrlOption = None,
    osv_api: OsvApiOption = None,
    advisory_db: AdvisoryDbOption = None,
    require_advisories: RequireAdvisoriesOption = None,
    min_release_age: MinReleaseAgeOption = None,
    offline: OfflineOption = None,
    accept_publisher: AcceptPublisherOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Pin and hash requirements, and turn on pip's hash-checking mode.

    Resolves the full closure through pip-tools (or, with --no-resolve, takes the pins as
    they are), adds --hash pins for every file of each release, and writes a pip.conf.
    Pins that pip builds from their sdist get their build requirements hashed in a
    build-constraints file, which the pip.conf names (this runs each sdist's build
    backend, as installing it would).
    """
    from hardenreq._atomic import PendingWrite
    from hardenreq.plan import HardenOptions, plural

    ui = _make_ui(quiet, verbose)
    with _errors_to_exit_codes(ui, verbose) as outcome:
        if no_resolve and (
            output or extra or upgrade or upgrade_package or python_version or platform
        ):
            raise InputError("--no-resolve rewrites files in place: it takes no -o, --extra, "
                             "--upgrade, --python-version or --platform options")  # fmt: skip
        if output is not None and len(files) != 1:
            raise InputError("-o/--output needs exactly one input file")
        settings = _settings(
            config,
            index_url=index_url,
            pip_conf=pip_conf,
            write_pip_conf=False if no_pip_conf else None,
            retries=retries,
            timeout=timeout,
            deadline=deadline,
            build_constraints=build_constraints,
            python_versions=tuple(python_version) if python_version else None,
            platforms=tuple(platform) if platform else None,
            advisories=advisories,
            index_advisories=index_advisories,
            osv_url=_osv_url(osv_url),
            osv_api=osv_api,
            advisory_db=advisory_db,
            require_advisories=require_advisories,
            min_release_age=min_release_age,
            offline=offline,
        )
        options = HardenOptions(replace_hashes=replace_hashes, require_pins=True)
        policy = _policy(settings)
        authenticity = _authenticity(settings, accept_publisher)
        binary = tuple(only_binary or ())
        if no_resolve:
            plans, summary, builds = _harden_in_place(
                ui, files, options, settings, policy, authenticity, binary
            )
        else:
            plans, summary, builds = _lock_files(
                ui, files, output, options, settings, policy,
                tuple(extra or ()), upgrade, tuple(upgrade_package or ()), authenticity, binary,
            )  # fmt: skip
        writes = [PendingWrite(p.path, p.new, expected=p.old) for p in plans if p.changed]
        conf_notes: list[str] = []
        if settings.write_pip_conf:
            # Next to the (first) file named on the command line, never next to an include.
            lock_path = plans[0].path if not no_resolve else files[0]
            conf_write, conf_notes = _pip_conf_write(ui, settings.pip_conf, lock_path, builds)
            if conf_write is not None:
                writes.append(conf_write)
        if diff:
            _print_diff(plans)
            ui.info(
                f"--diff: {plural(sum(p.changed for p in plans), 'file')} would change; "
                "nothing written"
            )
        else:
            _write_all(writes)
            for note in conf_notes:
                ui.info(note)
            ui.info(summary(len(writes)))
    raise typer.Exit(int(outcome[0]))


def _print_diff(plans: list[FilePlan]) -> None:
    for plan in plans:
        if plan.changed:
            sys.stdout.writelines(
                difflib.unified_diff(
                    (plan.old or b"").decode("utf-8", "replace").splitlines(keepends=True),
                    plan.new.decode("utf-8", "replace").splitlines(keepends=True),
                    fromfile=str(plan.path),
                    tofile=str(plan.path),
                )
            )


def _report(ui: Ui, result: HardenResult, settings: IndexSettings) -> None:
    ui.detail(f"index: {settings.describe()}")
    for skipped in settings.skipped:
        ui.warn(
            f"extra index {skipped} (from pip configuration) is not an http(s) index; its "
            "files were not hashed, and pip refuses any file from it in hash-checking mode"
        )
    for release in result.releases.values():
        ui.detail(
            f"{release.pin}: {len(release.files)} files from {release.index} ({release.source})"
        )
    for warning in result.warnings:
        ui.warn(warning)


def _harden_in_place(
    ui: Ui,
    files: list[Path],
    options: HardenOptions,
    config: Settings,
    policy: RetryPolicy,
    authenticity: AuthenticityOptions,
    only_binary: tuple[str, ...],
) -> tuple[list[FilePlan], Callable[[int], str], list[Path]]:
    from hardenreq.core import HardenRequest, harden

    request = HardenRequest(
        files=files,
        options=options,
        index_url=config.index_url,
        retry=policy,
        build_constraints=config.build_constraints,
        only_binary=only_binary,
        advisories=config.advisory_options(),
        authenticity=authenticity,
    )
    result, settings = harden(request, ui)
    _report(ui, result, settings)
    checked = result.authenticity.summary() if result.authenticity else None
    notes = [build.summary() for build in result.builds]
    plans = result.plans + [build.plan for build in result.builds]

    def summary(written: int) -> str:
        line = result.summary(written=written)
        return "\n".join([*notes, line, *([checked] if checked else [])])

    return plans, summary, [build.plan.path for build in result.builds if build.sdists]


def _lock_files(
    ui: Ui,
    files: list[Path],
    output: Path | None,
    options: HardenOptions,
    settings: Settings,
    policy: RetryPolicy,
    extras: tuple[str, ...],
    upgrade: bool,
    upgrade_packages: tuple[str, ...],
    authenticity: AuthenticityOptions,
    only_binary: tuple[str, ...],
) -> tuple[list[FilePlan], Callable[[int], str], list[Path]]:
    from hardenreq.core import LockJob, LocksRequest, plan_locks
    from hardenreq.plan import plural

    # A lock of [tool.hardenreq] with its own build-constraints file keeps it here too.
    own = {os.path.normpath(lock.source.absolute()): lock for lock in settings.locks}
    request = LocksRequest(
        jobs=[
            LockJob(
                source,
                output,
                extras,
                getattr(own.get(os.path.normpath(source.absolute())), "build_constraints", None),
            )
            for source in files
        ],
        options=options,
        upgrade=upgrade,
        upgrade_packages=upgrade_packages,
        index_url=settings.index_url,
        retry=policy,
        build_constraints=settings.build_constraints,
        only_binary=only_binary,
        targets=_targets(settings),
        advisories=settings.advisory_options(),
        authenticity=authenticity,
    )
    plan = plan_locks(request, ui)
    for lock in plan.outcomes:
        _report(ui, lock.result, lock.settings)
    for warning in plan.warnings:
        ui.warn(warning)
    lines = plan.summary()
    builds = [build.plan.path for build in plan.builds if build.sdists]
    return (
        plan.plans,
        lambda written: "\n".join([*lines, f"{plural(written, 'file')} written"]),
        builds,
    )


def _pip_conf_write(
    ui: Ui, path: Path | None, first_file: Path, build_constraints: list[Path] | None = None
) -> tuple[PendingWrite | None, list[str]]:
    """The pip.conf write (None if it already requires hashes, and names the build
    constraints) and what to tell the user."""
    from hardenreq.pipconf import (
        UV_HINT,
        build_constraint_values,
        default_pip_conf_path,
        pip_conf_write,
        plan_pip_conf,
        read_pip_conf,
        uv_build_hint,
    )

    how = ""
    if path is None:
        path, how = default_pip_conf_path(
            output=first_file.absolute(),
            environ=os.environ,
            # Only an activated environment counts: run from pipx or `uv tool`, sys.prefix
            # is the tool's own environment, where the user's pip never looks.
            prefix=sys.base_prefix,
            base_prefix=sys.base_prefix,
        )
    values, problems = build_constraint_values(build_constraints or [])
    for problem in problems:
        ui.warn(problem)
    plan = plan_pip_conf(path, existing=read_pip_conf(path), build_constraints=values)
    for warning in plan.warnings:
        ui.warn(warning)
    if not plan.changed:
        also = " and names the build constraints" if values else ""
        return None, [f"pip.conf: {path} already requires hashes{also}"]
    state = "created" if plan.old is None else "updated"
    note = f"pip.conf: {path} {state}" + (f"; {how}" if how else "")
    # Said once, when the file is made or changed: uv never reads it.
    hints = [UV_HINT] + ([uv_build_hint(values)] if values else [])
    return pip_conf_write(plan), [note, *hints]


class VulnerableSeverity(enum.StrEnum):
    """How much a ``vulnerable`` finding counts."""

    error = "error"
    warning = "warning"


class ReportFormat(enum.StrEnum):
    """Formats of the verify report."""

    text = "text"
    json = "json"
    github = "github"
    sarif = "sarif"


@app.command(
    epilog=_examples(
        "hardenreq verify requirements.txt requirements-dev.txt",
        "hardenreq verify --format json requirements.txt | jq .",
        "hardenreq verify --format github requirements.txt",
        "hardenreq verify --format sarif -o hardenreq.sarif requirements.txt",
        "hardenreq verify --strict requirements.txt",
        "hardenreq verify --advisory-db osv-pypi.zip requirements.txt   # offline OSV dump",
        "hardenreq verify --osv-url https://osv.example.com/v1 requirements.txt",
        "hardenreq verify --no-advisories requirements.txt  # integrity checks only",
        footer="Exit codes: 0 no errors, 1 errors (or warnings with --strict), 2 a file cannot be "
        "read or parsed, 3 the index cannot be reached (or, with --require-advisories, an "
        "advisory source).",
    )
)
def verify(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Hashed requirements files (their -r/-c includes too) and pylock.toml locks.",
            show_default=False,
        ),
    ],
    output_format: Annotated[
        ReportFormat | None,
        typer.Option("--format", "-f", help="Report format [default: text].", show_default=False),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the report to this file, not stdout.", show_default=False
        ),
    ] = None,
    strict: Annotated[
        bool | None,
        typer.Option(
            "--strict/--no-strict",
            help="Warnings fail the check too (exit 1) [default: no-strict].",
            show_default=False,
        ),
    ] = None,
    index_url: IndexUrlOption = None,
    config: ConfigOption = None,
    retries: RetriesOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    python_version: PythonVersionOption = None,
    platform: PlatformOption = None,
    advisories: AdvisoriesOption = None,
    index_advisories: IndexAdvisoriesOption = None,
    osv_url: OsvUrlOption = None,
    osv_api: OsvApiOption = None,
    advisory_db: AdvisoryDbOption = None,
    require_advisories: RequireAdvisoriesOption = None,
    vulnerable_severity: Annotated[
        VulnerableSeverity | None,
        typer.Option(
            "--vulnerable-severity",
            help="How much a known vulnerability counts [default: error]; malware is "
            "always an error.",
            show_default=False,
        ),
    ] = None,
    min_release_age: MinReleaseAgeOption = None,
    offline: OfflineOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Check hashed requirements files against the index as it is now (a CI gate).

    Reports tampered or removed files, files uploaded since, yanked releases, unpinned or
    unhashed lines, hashes pip would ignore, risky index options, and known vulnerabilities
    and malware (OSV). Never writes to FILES.
    """
    ui = _make_ui(quiet, verbose)
    with _errors_to_exit_codes(ui, verbose, wrote=False) as outcome:
        from hardenreq.core_verify import VerifyRequest
        from hardenreq.core_verify import verify as run_verify
        from hardenreq.report import get_reporter, summary_line

        config_settings = _settings(
            config,
            index_url=index_url,
            format=output_format,
            strict=strict,
            retries=retries,
            timeout=timeout,
            deadline=deadline,
            python_versions=tuple(python_version) if python_version else None,
            platforms=tuple(platform) if platform else None,
            advisories=advisories,
            index_advisories=index_advisories,
            osv_url=_osv_url(osv_url),
            osv_api=osv_api,
            advisory_db=advisory_db,
            require_advisories=require_advisories,
            vulnerable_severity=vulnerable_severity,
            min_release_age=min_release_age,
            offline=offline,
        )
        chosen = config_settings.format
        strict = config_settings.strict
        request = VerifyRequest(
            files=files,
            index_url=config_settings.index_url,
            retry=_policy(config_settings),
            targets=_targets(config_settings),
            advisories=config_settings.advisory_options(),
            authenticity=_authenticity(config_settings),
        )
        report, settings = run_verify(request, ui)
        ui.detail(f"index: {settings.describe()}")
        for note in report.notes:
            ui.warn(note)
        rendered = get_reporter(chosen).render(report)
        if output is None:
            sys.stdout.write(rendered)
            sys.stdout.flush()
        else:
            from hardenreq._atomic import PendingWrite

            _write_all([PendingWrite(output, rendered.encode("utf-8"))])
        if output is not None or chosen != "text":
            ui.info(summary_line(report) + (f"; report written to {output}" if output else ""))
        if report.failed(strict=strict):
            outcome[0] = ExitCode.FINDINGS
    raise typer.Exit(int(outcome[0]))


class RefreshReportFormat(enum.StrEnum):
    """Formats of the refresh report."""

    markdown = "markdown"
    json = "json"


@app.command(
    epilog=_examples(
        "hardenreq refresh requirements.in -o requirements.txt --report refresh.md",
        "hardenreq refresh --upgrade-package boto3 requirements.in",
        "hardenreq refresh --hashes-only requirements.txt",
        "hardenreq refresh --dry-run --exit-code           # 1 when something would change",
        "hardenreq refresh                                 # every lock in [tool.hardenreq]",
        "hardenreq refresh --fix-vulnerable                # only vulnerable pins, nearest fix",
    )
)
def refresh(
    sources: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Sources or locks to refresh (default: the locks of [tool.hardenreq]).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="The lock to write (one source only).", show_default=False
        ),
    ] = None,
    upgrade_package: Annotated[
        list[str] | None,
        typer.Option(
            "--upgrade-package",
            "-P",
            help="Upgrade only this package (and what it needs); repeatable.",
        ),
    ] = None,
    hashes_only: Annotated[
        bool,
        typer.Option(
            "--hashes-only",
            help="Keep every pin; fetch the hashes again (new uploads, files gone).",
        ),
    ] = False,
    report_file: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Write the report here (default: stdout).", show_default=False
        ),
    ] = None,
    report_format: Annotated[
        RefreshReportFormat | None,
        typer.Option(
            "--report-format", help="markdown (a pull-request body) or json.", show_default=False
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write nothing; print the report.")
    ] = False,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when anything changed (or would).")
    ] = False,
    fix_vulnerable: Annotated[
        bool,
        typer.Option(
            "--fix-vulnerable",
            help="Move only the vulnerable pins, each to the lowest release within the "
            "source's ranges that fixes its advisories (and what it needs); report each "
            "advisory fixed and those no allowed release fixes.",
        ),
    ] = False,
    config: ConfigOption = None,
    index_url: IndexUrlOption = None,
    retries: RetriesOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    python_version: PythonVersionOption = None,
    platform: PlatformOption = None,
    advisories: AdvisoriesOption = None,
    index_advisories: IndexAdvisoriesOption = None,
    osv_url: OsvUrlOption = None,
    osv_api: OsvApiOption = None,
    advisory_db: AdvisoryDbOption = None,
    require_advisories: RequireAdvisoriesOption = None,
    min_release_age: MinReleaseAgeOption = None,
    offline: OfflineOption = None,
    accept_publisher: AcceptPublisherOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Re-resolve locks with upgrades, re-hash them, and report every change.

    Pins that need not move stay put. Hash-only changes (same version, different files on
    the index) are listed apart in the report, for a reviewer's eye.
    """
    from hardenreq._atomic import PendingWrite

    ui = _make_ui(quiet, verbose)
    with _errors_to_exit_codes(ui, verbose) as outcome:
        from hardenreq.core import LockJob, RefreshRequest, plan_refresh
        from hardenreq.report import get_refresh_reporter, refresh_summary

        settings = _settings(
            config,
            index_url=index_url,
            report_format=report_format,
            retries=retries,
            timeout=timeout,
            deadline=deadline,
            python_versions=tuple(python_version) if python_version else None,
            platforms=tuple(platform) if platform else None,
            advisories=advisories,
            index_advisories=index_advisories,
            osv_url=_osv_url(osv_url),
            osv_api=osv_api,
            advisory_db=advisory_db,
            require_advisories=require_advisories,
            min_release_age=min_release_age,
            offline=offline,
        )
        if sources:
            if output is not None and len(sources) != 1:
                raise InputError("-o/--output needs exactly one source")
            own = {os.path.normpath(s.source.absolute()): s for s in settings.locks}
            jobs = [
                LockJob(
                    source,
                    output,
                    build_constraints=getattr(
                        own.get(os.path.normpath(source.absolute())), "build_constraints", None
                    ),
                )
                for source in sources
            ]
        elif output is not None:
            raise InputError("-o/--output needs a source")
        else:
            jobs = [
                LockJob(s.source, s.output, s.extras, s.build_constraints) for s in settings.locks
            ]
            if not jobs:
                raise InputError(
                    "no locks to refresh: name a source, or list locks in [tool.hardenreq]",
                    hint="hardenreq init adds the section from what it finds here",
                )
        request = RefreshRequest(
            jobs=jobs,
            upgrade_packages=tuple(upgrade_package or ()),
            hashes_only=hashes_only,
            dry_run=dry_run,
            index_url=settings.index_url,
            retry=_policy(settings),
            build_constraints=settings.build_constraints,
            targets=_targets(settings),
            fix_vulnerable=fix_vulnerable,
            advisories=settings.advisory_options(),
            authenticity=_authenticity(settings, accept_publisher),
        )
        plan, report = plan_refresh(request, ui)
        for warning in plan.warnings:
            ui.warn(warning)
        for build in plan.builds:
            if build.plan.old is None and build.sdists:
                # refresh writes no pip.conf: a new file must be named there by hand.
                ui.warn(
                    f"{build.plan.path} is new: pip uses it only once pip.conf names it "
                    f"(hardenreq pip-conf --build-constraints {build.plan.path})"
                )
        for lock in plan.outcomes:
            checked = lock.result.authenticity
            # Authenticity warnings (archived projects, unverified provenance) are said
            # always; the other warnings of a refresh are details.
            loud = set(checked.warnings) if checked else set()
            for warning in lock.result.warnings:
                (ui.warn if warning in loud else ui.detail)(warning)
        rendered = get_refresh_reporter(settings.report_format).render(report)
        if dry_run:
            sys.stdout.write(rendered)
        else:
            writes = [PendingWrite(p.path, p.new, expected=p.old) for p in plan.plans if p.changed]
            if report_file is not None:
                # Staged with the locks: a report path that cannot be written stops them too.
                writes.append(PendingWrite(report_file, rendered.encode("utf-8")))
            else:
                sys.stdout.write(rendered)
            _write_all(writes)
        sys.stdout.flush()
        for line in refresh_summary(report).splitlines():
            ui.info(line)
        if dry_run:
            ui.info("(dry run: nothing written)")
        if exit_code and report.changed:
            outcome[0] = ExitCode.FINDINGS
    raise typer.Exit(int(outcome[0]))


@app.command(
    epilog=_examples(
        "hardenreq convert requirements.txt pylock.toml      # each hash's file from the index",
        "hardenreq convert pylock.toml requirements.txt      # --hash lines, markers kept",
        footer="The format is chosen by the name: pylock.toml or pylock.NAME.toml is PEP 751, "
        "any other name the requirements format.",
    )
)
def convert(
    source: Annotated[
        Path,
        typer.Argument(
            help="The lock to convert: a hashed requirements file or a pylock.toml.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Argument(help="The lock to write, in the other format.", show_default=False),
    ],
    diff: Annotated[
        bool, typer.Option("--diff", help="Print a unified diff and write nothing.")
    ] = False,
    index_url: IndexUrlOption = None,
    config: ConfigOption = None,
    retries: RetriesOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Write a lock in the other format: requirements.txt <-> pylock.toml (PEP 751).

    To pylock.toml, each --hash is matched with its file on the index (name, URL, size,
    upload time); a hash no file has is an error. To requirements, every file's hash
    becomes a --hash line, and what the format cannot hold is listed.
    """
    from hardenreq._atomic import PendingWrite
    from hardenreq.plan import plural

    ui = _make_ui(quiet, verbose)
    with _errors_to_exit_codes(ui, verbose) as outcome:
        from hardenreq.lockfile.convert import ConvertRequest, plan_convert

        settings = _settings(
            config, index_url=index_url, retries=retries, timeout=timeout, deadline=deadline
        )
        request = ConvertRequest(source, output, settings.index_url, _policy(settings))
        result = plan_convert(request, ui)
        if result.settings is not None:
            ui.detail(f"index: {result.settings.describe()}")
        for warning in result.warnings:
            ui.warn(warning)
        for item in result.lost:
            ui.info(f"not in {output.name}: {item}")
        plan = result.plan
        if diff:
            _print_diff([plan])
            ui.info(f"--diff: {plural(int(plan.changed), 'file')} would change; nothing written")
        else:
            writes = [PendingWrite(plan.path, plan.new, expected=plan.old)] if plan.changed else []
            _write_all(writes)
            ui.info(result.summary(written=len(writes)))
    raise typer.Exit(int(outcome[0]))


def _settings(path: Path | None, **flags: object) -> Settings:
    """``[tool.hardenreq]`` of ``path`` (or of ./pyproject.toml when there is one), with
    the flags the user gave over it: the one place precedence is decided (flag > pyproject
    > default). A flag given as None was not given."""
    from hardenreq.config import load_settings, merge

    return merge(load_settings(path), **flags)


def _targets(settings: Settings) -> Targets | None:
    """The environments of the merged settings (None: the lock's header, or this machine)."""
    from hardenreq.targets import make_targets

    return make_targets(settings.python_versions, settings.platforms)


def _policy(settings: Settings) -> RetryPolicy:
    """The retry, timeout and deadline policy of the merged settings."""
    from hardenreq.index.policy import RetryPolicy

    return RetryPolicy(
        attempts=settings.retries + 1,
        timeout=settings.timeout,
        deadline=settings.deadline,
        # One deadline for the whole run, resolution and index requests together.
        started=time.monotonic(),
    )


@app.command(epilog=_examples("hardenreq init        # adds [tool.hardenreq] to ./pyproject.toml"))
def init(
    pyproject: Annotated[
        Path,
        typer.Argument(help="The pyproject.toml to add [tool.hardenreq] to (created if missing)."),
    ] = Path("pyproject.toml"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing [tool.hardenreq] table.")
    ] = False,
    quiet: QuietOption = False,
    verbose: LocalVerboseOption = False,
) -> None:
    """Add a [tool.hardenreq] table to pyproject.toml from the locks found beside it.

    Every other byte of the file (comments, formatting, other tables) stays as it was.
    """
    from hardenreq._atomic import PendingWrite

    ui = _make_ui(quiet, verbose)
    with _errors_to_exit_codes(ui, verbose) as outcome:
        from hardenreq.config import load_settings, plan_init

        old, new = plan_init(pyproject, pyproject.absolute().parent, force=force)
        _write_all([PendingWrite(pyproject, new.encode("utf-8"), expected=old.encode("utf-8"))])
        settings = load_settings(pyproject)
        ui.info(f"{pyproject}: [tool.hardenreq] {'replaced' if old and force else 'added'}")
        for lock in settings.locks:
            ui.info(f"  lock: {lock.source} -> {lock.output_path}")
        ui.info("refresh them all with: hardenreq refresh")
    raise typer.Exit(int(outcome[0]))


@app.command(
    "pip-conf",
    epilog=_examples(
        "hardenreq pip-conf                    # the active venv's pip.conf, else ./pip.conf",
        "hardenreq pip-conf ci/pip.conf        # then: PIP_CONFIG_FILE=ci/pip.conf pip install",
        "hardenreq pip-conf --build-constraints build-constraints.txt",
    ),
)
def pip_conf_command(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="The pip configuration file to write or merge (default: the active "
            "virtual environment's pip.conf, else ./pip.conf).",
            show_default=False,
        ),
    ] = None,
    build_constraints: Annotated[
        list[Path] | None,
        typer.Option(
            "--build-constraints",
            help="Also name this hashed build-constraints file (build-constraint).",
            show_default=False,
        ),
    ] = None,
    quiet: QuietOption = False,
    verbose: LocalVerboseOption = False,
) -> None:
    """Write or merge a pip.conf that turns on pip's hash-checking mode (require-hashes)."""
    ui = _make_ui(quiet, verbose)
    with _errors_to_exit_codes(ui, verbose) as outcome:
        named = list(build_constraints or ())
        missing = [p for p in named if not p.is_file()]
        if missing:
            raise InputError(f"{missing[0]}: no such build-constraints file")
        write, notes = _pip_conf_write(ui, path, Path("requirements.txt"), named)
        if write is not None:
            _write_all([write])
        for note in notes:
            ui.info(note)
    raise typer.Exit(int(outcome[0]))


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception in the main thread so that every ``finally`` runs:
    pip-compile's process group is killed, scratch folders are removed, nothing is half
    written."""


def _terminated(signum: int, frame: object) -> None:
    del signum, frame
    raise Terminated


def _app_for(args: list[str]) -> typer.Typer:
    """The app, with only the command ``args`` start with when they name one: typer builds
    every registered command's options on each run (tens of milliseconds for all of
    them), though one runs. Anything else (``--help``, ``--version``, a mistyped name)
    gets the whole app."""
    from typer.main import get_command_name

    named = [
        command
        for command in app.registered_commands
        if command.callback is not None
        and (command.name or get_command_name(command.callback.__name__)) == (args or [""])[0]
    ]
    if len(named) != 1:
        return app
    # A shallow copy: the same callback (so still a group: "hardenreq verify ...").
    single = copy.copy(app)
    single.registered_commands = named
    return single


def main() -> None:
    """Console-script entry point.

    Every file is written and closed (atomically) before this returns, so the interpreter's
    module teardown, about 70 ms with httpx, rich and typer loaded, is skipped: the streams
    are flushed and the process exits with the command's code.
    """
    signal.signal(signal.SIGTERM, _terminated)
    try:
        _app_for(sys.argv[1:])()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
