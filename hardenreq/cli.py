"""The ``hardenreq`` command line: options in, one core call, messages and an exit code out."""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from hardenreq import __version__
from hardenreq._atomic import PendingWrite, write_all
from hardenreq._console import Ui
from hardenreq.errors import ExitCode, HardenreqError, InputError
from hardenreq.index.client import RetryPolicy

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
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass(frozen=True, slots=True)
class _Globals:
    quiet: bool
    verbose: bool


QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Only errors and warnings on stderr.")
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Explain each step (which index answered, ...).")
]


RetriesOption = Annotated[
    int,
    typer.Option(
        "--retries",
        min=0,
        max=10,
        help="Retries per request on connection errors, timeouts, 429 and 5xx.",
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option("--timeout", min=1.0, max=600.0, help="Seconds to wait for each request."),
]


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


@contextlib.contextmanager
def _errors_to_exit_codes(ui: Ui, verbose: bool) -> Iterator[list[int]]:
    """Turn every hardenreq error into a message and its exit code; no tracebacks.

    Yields a one-item list holding the exit code, 0 unless an error happened.
    """
    outcome: list[int] = [ExitCode.OK]
    try:
        yield outcome
    except HardenreqError as exc:
        ui.error(exc.message, exc.hint)
        ui.info("nothing was written")
        outcome[0] = exc.exit_code
    except KeyboardInterrupt:
        ui.error("interrupted; nothing was written")
        outcome[0] = 130
    except Exception as exc:  # the last resort: report it, never a bare traceback
        ui.error(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="please report this; run with --verbose to see the traceback",
        )
        if verbose:
            ui.err.print(traceback.format_exc(), markup=False)
        outcome[0] = ExitCode.INTERNAL


def _make_ui(quiet: bool, verbose: bool) -> Ui:
    return Ui(quiet=quiet, verbose=verbose)


@app.command(
    epilog=(
        "Examples:\n\n"
        "  hardenreq harden --no-resolve requirements.txt\n\n"
        "  hardenreq harden --no-resolve --pip-conf pip.conf requirements.txt\n\n"
        "  hardenreq harden --no-resolve --diff requirements.txt"
    )
)
def harden(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Requirements files to harden in place (their -r/-c includes too).",
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
    index_url: Annotated[
        str | None,
        typer.Option(
            "--index-url",
            "-i",
            help="The index to ask (default: the file's --index-url, then pip's configuration).",
            show_default=False,
        ),
    ] = None,
    diff: Annotated[
        bool, typer.Option("--diff", help="Print a unified diff and write nothing.")
    ] = False,
    retries: RetriesOption = 3,
    timeout: TimeoutOption = 30.0,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Add --hash pins for every file of each pinned release, and turn on hash checking."""
    ui = _make_ui(quiet, verbose)
    with _errors_to_exit_codes(ui, verbose) as outcome:
        if not no_resolve:
            raise InputError(
                "harden needs --no-resolve in this version: every requirement must be pinned",
                hint="pin each requirement with ==, then run: hardenreq harden --no-resolve FILE",
            )
        if pip_conf is not None and no_pip_conf:
            raise InputError("--pip-conf and --no-pip-conf exclude each other")
        policy = RetryPolicy(attempts=retries + 1, timeout=timeout)
        _harden(ui, files, pip_conf, no_pip_conf, replace_hashes, index_url, diff, policy)
    raise typer.Exit(int(outcome[0]))


def _harden(
    ui: Ui,
    files: list[Path],
    pip_conf: Path | None,
    no_pip_conf: bool,
    replace_hashes: bool,
    index_url: str | None,
    diff: bool,
    policy: RetryPolicy,
) -> None:
    from hardenreq.core import HardenRequest
    from hardenreq.core import harden as run_harden
    from hardenreq.plan import HardenOptions

    request = HardenRequest(
        files=files,
        options=HardenOptions(replace_hashes=replace_hashes),
        index_url=index_url,
        retry=policy,
    )
    result, settings = run_harden(request, ui)
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
    writes = [PendingWrite(p.path, p.new) for p in result.plans if p.changed]
    conf_note = ""
    if not no_pip_conf:
        conf_write, conf_note = _pip_conf_write(ui, pip_conf, files[0])
        if conf_write is not None:
            writes.append(conf_write)
    if diff:
        for plan in result.plans:
            if plan.changed:
                sys.stdout.writelines(
                    difflib.unified_diff(
                        plan.old.decode("utf-8", "replace").splitlines(keepends=True),
                        plan.new.decode("utf-8", "replace").splitlines(keepends=True),
                        fromfile=str(plan.path),
                        tofile=str(plan.path),
                    )
                )
        ui.info(
            f"--diff: {sum(p.changed for p in result.plans)} files would change; nothing written"
        )
        return
    write_all(writes)
    changed = sum(p.changed for p in result.plans)
    if conf_note:
        ui.info(conf_note)
    ui.info(result.summary(written=changed))


def _pip_conf_write(ui: Ui, path: Path | None, first_file: Path) -> tuple[PendingWrite | None, str]:
    """The pip.conf write (None if it already requires hashes) and what to tell the user."""
    from hardenreq.pipconf import UV_HINT, default_pip_conf_path, plan_pip_conf, read_pip_conf

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
    plan = plan_pip_conf(path, existing=read_pip_conf(path))
    for warning in plan.warnings:
        ui.warn(warning)
    note = f"pip.conf: {path} {'updated' if plan.changed else 'already requires hashes'}"
    if how:
        note += f"; {how}"
    note += f"\n{UV_HINT}"
    if not plan.changed:
        return None, note
    return PendingWrite(path, plan.new.encode("utf-8")), note


@app.command("pip-conf")
def pip_conf_command(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="The pip configuration file to write or merge (default: the active "
            "virtual environment's pip.conf, else ./pip.conf).",
            show_default=False,
        ),
    ] = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Write or merge a pip.conf that turns on pip's hash-checking mode (require-hashes)."""
    ui = _make_ui(quiet, verbose)
    with _errors_to_exit_codes(ui, verbose) as outcome:
        write, note = _pip_conf_write(ui, path, Path("requirements.txt"))
        if write is not None:
            write_all([write])
        ui.info(note)
    raise typer.Exit(int(outcome[0]))


def main() -> None:
    """Console-script entry point."""
    app()
