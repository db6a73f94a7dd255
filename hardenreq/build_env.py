"""Isolated build environments, as pip makes them to build an sdist, for asking a backend
what else it needs (``get_requires_for_build_wheel``, PEP 517).

pypa's ``build`` creates each environment (a virtual environment without pip) and calls
the hook through ``pyproject-hooks``. What goes into an environment is installed here, by
pip in hash-checking mode from a hashed, resolved set of pins, so asking never installs a
file nobody checked; ``PIP_BUILD_CONSTRAINT`` carries the hashed pins on to any sdist that
the install itself has to build. This runs the sdist's build backend, as installing the
sdist would. Environments are kept for the run, one per set of pins.

The second module allowed to start processes (after ``resolve.py``): every command is an
argument list with our own interpreter, run in a process group of its own that is killed
on any way out (the deadline, Ctrl-C, SIGTERM), its output kept for messages, bounded.
"""

from __future__ import annotations

import logging
import os

# pip and the backend hook run with an argument list, never a shell.
import subprocess  # nosec B404
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement

from hardenreq.errors import BuildRequirementsFailed, IndexUnavailable
from hardenreq.index.location import IndexSettings
from hardenreq.models import Pin
from hardenreq.redact import redact_text
from hardenreq.resolve import wait_or_kill

if TYPE_CHECKING:
    from build import ProjectBuilder
    from build.env import DefaultIsolatedEnv

__all__ = ["BuildEnvironments"]

logger = logging.getLogger(__name__)

#: Seconds one pip install or backend hook may take when the run has no deadline.
STEP_TIMEOUT = 15 * 60
#: Requirements a backend may ask for in one answer, and the length of each.
MAX_DYNAMIC_REQUIREMENTS = 200
_MAX_REQUIREMENT_CHARS = 1000
_MAX_OUTPUT_BYTES = 64 * 1024
_SHOWN_OUTPUT_LINES = 12


@dataclass(slots=True)
class _Environment:
    path: Path
    python: str
    scripts: str
    isolated: DefaultIsolatedEnv


@dataclass(slots=True)
class BuildEnvironments:
    """The isolated environments of one run, by the pins installed in them.

    ``index`` is where pip fetches the pinned files; ``environ`` is the environment the
    run sees (pip and the hooks get it without ``PIP_*`` settings); ``deadline_at`` is a
    ``time.monotonic()`` reading after which no step may run. Use as a context manager:
    every environment is removed at the end.
    """

    scratch: Path
    index: IndexSettings
    environ: Mapping[str, str]
    deadline_at: float | None = None
    created: int = 0
    hooks_called: int = 0
    _environments: dict[frozenset[Pin], _Environment] = field(default_factory=dict)

    def __enter__(self) -> BuildEnvironments:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for environment in self._environments.values():
            # build removes the folder it made.
            environment.isolated.__exit__(None, None, None)
        self._environments.clear()

    def static_requires(self, source: Path, what: str) -> tuple[str, ...]:
        """The unpacked sdist's ``[build-system] requires``, read by ``build`` as pip reads
        it: ``setuptools>=40.8.0`` where there is no pyproject.toml or no build-system
        table. Raises BuildRequirementsFailed for a pyproject.toml pip would refuse."""
        builder, _ = self._builder(source, sys.executable, what)
        requires = tuple(sorted(builder.build_system_requires))
        for requirement in requires:
            _check_requirement(requirement, what, "[build-system] requires")
        return requires

    def environment(
        self, pins: frozenset[Pin], hashed: Path, build_constraint: Path | None, what: str
    ) -> frozenset[Pin]:
        """Make (once per set of ``pins``) an isolated environment holding ``pins``.

        ``hashed`` is a requirements file of exactly those pins with every hash;
        ``build_constraint`` (hashed too) is handed to builds the install needs. Returns
        the key of the environment for ``requires_for_build_wheel``. Raises
        BuildRequirementsFailed when pip refuses or fails.
        """
        if pins in self._environments:
            return pins
        from build.env import DefaultIsolatedEnv

        # build makes the environment (a venv without pip, pip being run from outside it),
        # in a folder of its own that it removes again.
        isolated = DefaultIsolatedEnv()
        try:
            isolated.__enter__()
        except Exception as exc:
            raise BuildRequirementsFailed(
                f"{what}: could not create an isolated build environment: {_clip(str(exc))}"
            ) from exc
        environment = _Environment(
            Path(isolated.path),
            isolated.python_executable,
            str(Path(isolated.python_executable).parent),
            isolated,
        )
        self._environments[pins] = environment
        self.created += 1
        if pins:
            command = [
                sys.executable, "-m", "pip", "--python", environment.python, "install",
                "--require-hashes", "--no-input", "--disable-pip-version-check",
                "--no-warn-script-location", "--no-compile", "--no-user", "--no-cache-dir",
                "-r", str(hashed),
            ]  # fmt: skip
            env = self._pip_environment(build_constraint)
            returncode, output = self._run(command, self.scratch, env)
            if returncode != 0:
                raise BuildRequirementsFailed(
                    f"{what}: pip could not install the hashed build requirements "
                    f"({', '.join(sorted(map(str, pins)))}) into an isolated environment:\n"
                    + _tail(output),
                    hint="the build requirements may not install on this Python or platform",
                )
        return pins

    def requires_for_build_wheel(
        self, environment: frozenset[Pin], source: Path, what: str
    ) -> tuple[str, ...]:
        """Ask the sdist's backend, in the environment made for ``environment``, what
        else it needs to build a wheel. Raises BuildRequirementsFailed when the hook fails
        or answers with something that is not a list of PEP 508 requirements."""
        isolated = self._environments[environment]
        builder, runner = self._builder(source, isolated.python, what, isolated)
        self.hooks_called += 1
        from build import BuildBackendException, BuildException

        try:
            # pyproject-hooks re-raises the backend's warnings here as Python warnings: they
            # are the sdist's text, so they go through the log (escaped), never raw.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                answer = builder.get_requires_for_build("wheel")
            for warning in caught[:20]:
                logger.debug("%s: the build backend warns: %s", what, _clip(str(warning.message)))
        except (BuildBackendException, BuildException) as exc:
            output = runner.output
            raise BuildRequirementsFailed(
                f"{what}: its build backend failed when asked for its build requirements "
                f"(get_requires_for_build_wheel): {_clip(str(exc))}"
                + (f"\n{_tail(output)}" if output else ""),
                hint="pip would fail to build this sdist the same way; pin a release with a "
                "wheel for this platform, or one whose sdist builds",
            ) from exc
        if len(answer) > MAX_DYNAMIC_REQUIREMENTS:
            raise BuildRequirementsFailed(
                f"{what}: its build backend answered get_requires_for_build_wheel with "
                f"something other than a list of at most {MAX_DYNAMIC_REQUIREMENTS} requirements"
            )
        for requirement in answer:
            _check_requirement(requirement, what, "get_requires_for_build_wheel")
        return tuple(sorted(str(r) for r in answer))

    # -- processes -----------------------------------------------------------------------

    def _builder(
        self, source: Path, python: str, what: str, environment: _Environment | None = None
    ) -> tuple[ProjectBuilder, _HookRunner]:
        from build import BuildException, ProjectBuilder

        runner = _HookRunner(self, environment)
        try:
            builder = ProjectBuilder(source, python_executable=python, runner=runner)
        except BuildException as exc:
            raise BuildRequirementsFailed(
                f"{what}: pip cannot build this sdist: {_clip(str(exc))}"
            ) from exc
        except (OSError, ValueError) as exc:  # an unreadable or invalid pyproject.toml
            raise BuildRequirementsFailed(
                f"{what}: cannot read the sdist's pyproject.toml: {_clip(str(exc))}"
            ) from exc
        return builder, runner

    def _base_environment(self) -> dict[str, str]:
        # No pip settings reach the hook or our pip: both must do what this run says.
        env = {k: v for k, v in self.environ.items() if not k.upper().startswith("PIP_")}
        env["PYTHONIOENCODING"] = "utf-8"
        env.pop("PYTHONPATH", None)
        return env

    def _pip_environment(self, build_constraint: Path | None) -> dict[str, str]:
        env = self._base_environment()
        # The index goes through the environment, never the command line (credentials).
        env["PIP_CONFIG_FILE"] = os.devnull
        if self.index.index_url is None:
            env["PIP_NO_INDEX"] = "1"
        else:
            env["PIP_INDEX_URL"] = self.index.index_url
        env["PIP_EXTRA_INDEX_URL"] = " ".join(self.index.extra_index_urls)
        env["PIP_TRUSTED_HOST"] = " ".join(self.index.trusted_hosts)
        if self.index.cert:
            env["PIP_CERT"] = self.index.cert
        # Set in the environment, not on the command line: pip's own build subprocesses
        # (for a build requirement that is itself an sdist) inherit both, so they check
        # hashes too (on the command line, --require-hashes stops at the first pip).
        env["PIP_REQUIRE_HASHES"] = "1"
        if build_constraint is not None:
            env["PIP_BUILD_CONSTRAINT"] = str(build_constraint)
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        env["PIP_NO_INPUT"] = "1"
        private = self.scratch / "tmp"
        private.mkdir(exist_ok=True)
        env["TMPDIR"] = str(private)
        return env

    def _timeout(self, what: str) -> float:
        if self.deadline_at is None:
            return STEP_TIMEOUT
        left = self.deadline_at - time.monotonic()
        if left <= 0:
            raise IndexUnavailable(
                f"{what}: the run's deadline passed before its build requirements were found",
                hint="raise --deadline: finding the build requirements of sdists builds "
                "environments and runs their backends",
            )
        return min(left, STEP_TIMEOUT)

    def _run(self, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, str]:
        """Run ``command`` in its own process group; returns its status and output (the
        last ``_MAX_OUTPUT_BYTES``). Raises IndexUnavailable when the time is up."""
        timeout = self._timeout("the build requirements")
        with tempfile.TemporaryFile(dir=self.scratch) as output:
            try:
                # Our own interpreter and fixed flags; no shell.
                process = subprocess.Popen(  # nosec B603
                    list(command),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=cwd,
                    env=dict(env),
                    process_group=0,
                )
            except OSError as exc:
                raise BuildRequirementsFailed(
                    f"could not run {Path(command[0]).name}: {exc.strerror}"
                ) from exc
            returncode = wait_or_kill(
                process,
                timeout,
                what="a build step",
                hint="raise --deadline if the index or the build is only slow",
            )
            size = output.seek(0, os.SEEK_END)
            output.seek(max(0, size - _MAX_OUTPUT_BYTES))
            text = output.read().decode("utf-8", "replace")
        logger.debug("%s exited %d", Path(command[0]).name, returncode)
        return returncode, redact_text(text)


@dataclass(slots=True)
class _HookRunner:
    """The runner pyproject-hooks calls for each hook: our bounded ``_run``, in the
    isolated environment, output kept for the error message."""

    environments: BuildEnvironments
    environment: _Environment | None
    output: str = ""

    def __call__(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        env = self.environments._base_environment()
        if self.environment is not None:
            env["PATH"] = os.pathsep.join([self.environment.scripts, env.get("PATH", "")])
            env["VIRTUAL_ENV"] = str(self.environment.path)
        env.update(extra_environ or {})
        # The backend's own output goes to its own folder, never beside our files.
        where = Path(cwd) if cwd is not None else self.environments.scratch
        returncode, self.output = self.environments._run(cmd, where, env)
        if returncode != 0:
            raise subprocess.CalledProcessError(returncode, list(cmd), self.output)


def _check_requirement(value: object, what: str, where: str) -> None:
    if not isinstance(value, str) or len(value) > _MAX_REQUIREMENT_CHARS:
        raise BuildRequirementsFailed(
            f"{what}: {where} holds something that is not a requirement: {_clip(repr(value))}"
        )
    try:
        Requirement(value)
    except InvalidRequirement as exc:
        raise BuildRequirementsFailed(
            f"{what}: {where} holds an invalid requirement {_clip(value)!r}: {exc}"
        ) from exc


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return redact_text(text if len(text) <= limit else text[:limit] + "...")


def _tail(output: str) -> str:
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    shown = lines[-_SHOWN_OUTPUT_LINES:]
    return "\n".join(f"  | {line[:300]}" for line in shown)
