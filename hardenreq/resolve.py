"""The only module that knows pip-tools: resolve the full closure with ``pip-compile``.

pip-tools' Python modules sit on pip's internals, which change with every pip release, while
its command line has been stable across pip-tools 7.x. So hardenreq runs ``python -m piptools
compile`` in a subprocess with explicit flags (no hashes: hardenreq hashes with its own
concurrent client, far faster than pip-tools' one-file-at-a-time download), feeds the
requirements on standard input and parses the pins and ``# via`` notes it writes. A failure
is read back into its causes (which requirement no release satisfies, which requirements
conflict and who asked for them), so the core can name the user's line.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import re
import signal

# pip-compile runs with an argument list, never a shell.
import subprocess  # nosec B404
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from hardenreq.errors import Conflict, IndexUnavailable, ResolutionFailed, Unsatisfied
from hardenreq.index.location import IndexSettings
from hardenreq.models import Pin
from hardenreq.redact import redact_text
from hardenreq.reqfile.parse import RequirementEntry, RequirementsFile, parse_text
from hardenreq.targets import Target

__all__ = [
    "Resolution",
    "ResolvedPin",
    "ResolverRecord",
    "dependents_closure",
    "read_via",
    "resolve",
    "stop_all",
]

#: pip-compile may download many wheels on an index without PEP 658 metadata; bound it anyway.
RESOLVE_TIMEOUT = 30 * 60
_MAX_MESSAGE_LINES = 20
_MAX_STDERR_LINES = 2000
_MAX_LINE = 4000
_NETWORK_PATTERNS = re.compile(
    r"Max retries exceeded|Failed to establish a new connection|Name or service not known|"
    r"Temporary failure in name resolution|Connection refused|Read timed out|SSLError|"
    r"CERTIFICATE_VERIFY_FAILED|HTTP error 5\d\d|ProxyError|"
    r"Could not fetch URL|NewConnectionError",
    re.IGNORECASE,
)
# Variables that would change what pip-compile does behind our flags.
_SCRUBBED_ENV = ("CUSTOM_COMPILE_COMMAND", "PIP_REQUIRE_HASHES", "PIP_NO_INDEX",
                 "PIP_REQUIREMENT")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ResolvedPin:
    """One pin of the resolution: the line pip-compile wrote and where the pin comes from."""

    name: NormalizedName
    version: Version | None
    line: str
    via: tuple[str, ...]

    @property
    def pin(self) -> Pin | None:
        """The exact pin, None for a direct URL."""
        return None if self.version is None else Pin(self.name, self.version)


@dataclass(frozen=True, slots=True)
class ResolverRecord:
    """What a resolution for a target depended on: each marker pip evaluated (with the
    ``extra`` it was asked for) and each project it looked up."""

    markers: tuple[tuple[str, str | None], ...]
    projects: tuple[NormalizedName, ...]


@dataclass(frozen=True, slots=True)
class Resolution:
    """Every pin of the closure, by normalised name, in pip-compile's (sorted) order, and
    for a target, what the resolution depended on."""

    pins: dict[NormalizedName, ResolvedPin]
    record: ResolverRecord | None = None


def resolve(
    requirements: str,
    *,
    cwd: Path,
    source_name: str,
    index: IndexSettings,
    preferred: Sequence[Pin] = (),
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    renamed: Mapping[str, str] | None = None,
    timeout: float | None = None,
    network_timeout: float | None = None,
    network_retries: int | None = None,
    on_line: Callable[[str], None] | None = None,
    target: Target | None = None,
    uploaded_prior_to: datetime | None = None,
) -> Resolution:
    """Resolve ``requirements`` (requirements-file text) to the full closure.

    ``cwd`` is the source's folder (``-r``/``-c`` paths in the text should be absolute);
    ``source_name`` names the input in the ``# via`` notes. ``preferred``
    pins are kept unless ``upgrade`` (all) or ``upgrade_packages`` (those names) says
    otherwise. ``renamed`` maps ``# via`` names of stand-in files back to what the user
    wrote. ``timeout`` bounds the whole run of pip-compile; ``network_timeout`` and
    ``network_retries`` are pip's own, per request. ``on_line`` receives each line
    pip-compile prints (redacted), as it prints it. ``target`` resolves for another
    environment than this interpreter's (``hardenreq._target_compile``).
    ``uploaded_prior_to`` keeps pip to files uploaded before that moment (pip's
    ``--uploaded-prior-to``). Raises
    ResolutionFailed (exit 2, with what pip said, structured) or IndexUnavailable (exit 3).
    """
    with tempfile.TemporaryDirectory(prefix="hardenreq-") as scratch:
        output = Path(scratch) / "resolved.txt"
        if preferred and not upgrade:
            # pip-compile keeps the pins of its existing output file.
            output.write_text("".join(f"{p.name}=={p.version}\n" for p in preferred))
        # --verbose: pip's own explanations of a failure are printed only then.
        record = Path(scratch) / "record.json"
        if target is None:
            runner = [sys.executable, "-m", "piptools", "compile"]
        else:
            spec = json.dumps({**target.spec(), "record": str(record)}, separators=(",", ":"))
            runner = [sys.executable, "-m", "hardenreq._target_compile", spec, "--"]
        command = [
            *runner, "--verbose",
            "--no-config", "--no-header", "--allow-unsafe", "--strip-extras",
            "--no-emit-index-url", "--no-emit-trusted-host", "--no-emit-find-links",
            "--annotation-style", "split", "--output-file", str(output),
        ]  # fmt: skip
        if index.index_url is None:
            command.append("--no-index")
        if upgrade:
            command.append("--upgrade")
        for name in upgrade_packages:
            command += ["--upgrade-package", name]
        # A file, not standard input: pip-tools names every line read through stdin
        # "-r -", so the # via notes would lose which included file a pin came from.
        given = Path(scratch) / "requirements.in"
        given.write_text(requirements, encoding="utf-8")
        command.append(str(given))
        env = _environment(index, environ, network_timeout, network_retries, uploaded_prior_to)
        # pip's own scratch folders go inside ours: when pip-compile has to be killed
        # (deadline, SIGTERM), removing ours removes them too.
        private = Path(scratch) / "tmp"
        private.mkdir()
        env["TMPDIR"] = str(private)
        limit = timeout or RESOLVE_TIMEOUT
        returncode, stderr = _run(command, cwd, env, limit, on_line)
        if returncode != 0:
            raise _failure(stderr.replace(str(given), source_name), source_name)
        text = output.read_text(encoding="utf-8")
        recorded = _read_record(record) if target is not None else None
    names = {f"-r {given}": f"-r {source_name}", **(renamed or {})}
    return dataclasses.replace(_parse_output(text, names, cwd), record=recorded)


def _read_record(path: Path) -> ResolverRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        markers = tuple((str(m), None if e is None else str(e)) for m, e in data["markers"])
        projects = tuple(canonicalize_name(str(p)) for p in data["projects"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no record: this resolution is then never reused for another target
    return ResolverRecord(markers, projects)


def _environment(
    index: IndexSettings,
    environ: Mapping[str, str] | None,
    network_timeout: float | None,
    network_retries: int | None,
    uploaded_prior_to: datetime | None = None,
) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    for name in _SCRUBBED_ENV:
        env.pop(name, None)
    # The index goes through the environment, not the command line: index URLs may
    # carry credentials, and any local user can read another process's arguments.
    if index.index_url is not None:
        env["PIP_INDEX_URL"] = index.index_url
    env["PIP_EXTRA_INDEX_URL"] = " ".join(index.extra_index_urls)
    env["PIP_TRUSTED_HOST"] = " ".join(index.trusted_hosts)
    # Only what the index serves can be hashed: no find-links candidates.
    env["PIP_FIND_LINKS"] = ""
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    if network_timeout is not None:
        env["PIP_TIMEOUT"] = f"{network_timeout:g}"
    if network_retries is not None:
        env["PIP_RETRIES"] = str(network_retries)
    if uploaded_prior_to is not None:
        # pip 26.2's --uploaded-prior-to; pip-tools passes pip's environment options on.
        env["PIP_UPLOADED_PRIOR_TO"] = uploaded_prior_to.astimezone(UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    env["PYTHONIOENCODING"] = "utf-8"
    return env


# pip-compiles still running (several at once for a lock of several environments): a
# failure or a signal in the main thread stops them all (stop_all).
_RUNNING: set[subprocess.Popen[str]] = set()
_RUNNING_LOCK = threading.Lock()


def wait_or_kill(
    process: subprocess.Popen[Any], timeout: float | None, *, what: str, hint: str
) -> int:
    """``process``'s exit code once it ends within ``timeout`` seconds. On any way out
    (the time is up, an interrupt) a process still running is killed with its whole
    process group (it was started with ``process_group=0``) and reaped. Raises
    IndexUnavailable when the time is up, naming ``what``."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise IndexUnavailable(
            f"{what} did not finish within {timeout:g} seconds; stopped it", hint=hint
        ) from exc
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def stop_all() -> None:
    """Kill every pip-compile this process started that is still running, with its group."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for process in running:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def _run(
    command: list[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_line: Callable[[str], None] | None,
) -> tuple[int, str]:
    """Run pip-compile in a process group of its own, and kill the whole group on any way
    out (the deadline, Ctrl-C, SIGTERM turned into an exception), so that no pip or build
    process is left running. Returns the exit status and the last lines of its stderr."""
    try:
        # Our own interpreter and fixed flags; the user's text only on standard input.
        process = subprocess.Popen(  # nosec B603
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
            process_group=0,
        )
    except OSError as exc:
        raise ResolutionFailed(f"could not run pip-compile: {exc.strerror}") from exc
    with _RUNNING_LOCK:
        _RUNNING.add(process)
    lines: collections.deque[str] = collections.deque(maxlen=_MAX_STDERR_LINES)

    def read_stderr() -> None:
        stream = process.stderr
        if stream is None:
            return
        for raw in stream:
            line = raw.rstrip("\n")[:_MAX_LINE]
            lines.append(line)
            if on_line is not None and line.strip():
                on_line(redact_text(line))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        returncode = wait_or_kill(
            process,
            timeout,
            what="pip-compile",
            hint="the index may be slow or stalling; raise --deadline if it is only slow",
        )
    finally:
        reader.join(timeout=5)
        if process.stderr is not None:
            with contextlib.suppress(OSError):
                process.stderr.close()
        with _RUNNING_LOCK:
            _RUNNING.discard(process)
    return returncode, "\n".join(lines)


_REQUIREMENT_INFO_RE = re.compile(
    r"RequirementInformation\(requirement=\w+\('(?P<requirement>[^']*)'\), "
    r"parent=(?:None|\w+\('(?P<link>[^' ]*))"
)
_UNSATISFIED_RE = re.compile(
    r"Could not find a (?:final )?version that satisfies the requirement (?P<requirement>.+?) "
    r"\(from versions: (?P<versions>[^)]*)\)"
)
_REQUIRES_PYTHON_RE = re.compile(
    r"Ignored the following versions that require a different python version: (?P<which>.*)"
)


def _failure(stderr: str, source_name: str) -> ResolutionFailed | IndexUnavailable:
    """What pip-compile's failure means, structured: the requirements no release satisfies,
    or the requirements that conflict (with the package that asked for each)."""
    network = next((line for line in stderr.splitlines() if _NETWORK_PATTERNS.search(line)), None)
    if network is not None:
        return IndexUnavailable(
            f"pip-compile could not reach the index: {redact_text(network.strip())[:300]}",
            hint="check the network and the index URL; pip's configuration decides the index",
        )
    unsatisfied = tuple(
        Unsatisfied(
            match["requirement"].strip(),
            tuple(v.strip() for v in match["versions"].split(",") if v.strip() != "none"),
        )
        for match in _UNSATISFIED_RE.finditer(stderr)
    )
    conflicts: tuple[Conflict, ...] = ()
    if not unsatisfied and "ResolutionImpossible" in stderr:
        conflicts = tuple(
            dict.fromkeys(
                Conflict(match["requirement"], _parent(match["link"]))
                for match in _REQUIREMENT_INFO_RE.finditer(stderr)
            )
        )
    python = _REQUIRES_PYTHON_RE.search(stderr)
    kept = [
        line.strip().removeprefix("ERROR: ").replace("-r -", source_name)
        for line in stderr.splitlines()
        if line.strip().startswith("ERROR:")
    ]
    message = "\n".join(dict.fromkeys(redact_text(line) for line in kept[-_MAX_MESSAGE_LINES:]))
    return ResolutionFailed(
        f"pip-compile could not resolve the requirements: {message or 'no reason given'}",
        hint="loosen or fix the conflicting requirements, or check the project names",
        unsatisfied=unsatisfied,
        conflicts=conflicts,
        requires_python=python["which"].strip() if python else None,
    )


def _parent(link: str | None) -> str | None:
    """``name==version`` of the distribution a requirement came from, by its filename."""
    if not link:
        return None
    filename = link.rsplit("/", 1)[-1].split("#", 1)[0]
    try:
        if filename.endswith(".whl"):
            name, version, *_ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return f"{name}=={version}"


_VIA_RE = re.compile(r"^\s+#\s+via\s*(?P<first>.*)$")
_VIA_MORE_RE = re.compile(r"^\s+#\s{2,}(?P<item>\S.*)$")


def read_via(parsed: RequirementsFile) -> dict[NormalizedName, tuple[str, ...]]:
    """The ``# via`` notes under each pin of a lock (pip-compile's, uv's and hardenreq's)."""
    lines = parsed.text.splitlines()
    notes: dict[NormalizedName, tuple[str, ...]] = {}
    for entry in parsed.requirements:
        via: list[str] = []
        for line in lines[entry.end_lineno :]:
            if match := _VIA_RE.match(line):
                if match["first"]:
                    via.append(match["first"])
            elif match := _VIA_MORE_RE.match(line):
                via.append(match["item"])
            else:
                break
        if entry.name is not None:
            notes[entry.name] = tuple(via)
    return notes


def dependents_closure(
    notes: Mapping[NormalizedName, tuple[str, ...]], roots: Sequence[str]
) -> set[NormalizedName]:
    """``roots`` and everything they need, transitively, by the ``# via`` notes of a lock."""
    needs: dict[str, set[NormalizedName]] = {}
    for package, parents in notes.items():
        for parent in parents:
            if not parent.startswith(("-r ", "-c ")):
                needs.setdefault(canonicalize_name(parent.split("[")[0]), set()).add(package)
    found = {canonicalize_name(root) for root in roots}
    pending = list(found)
    while pending:
        for child in needs.get(pending.pop(), ()):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def _via_name(note: str, names: Mapping[str, str], cwd: Path) -> str:
    """A ``# via`` note as the user wrote the file it names: stand-ins and absolute paths
    of included files become the path relative to the source's folder."""
    if note in names:
        return names[note]
    flag, _, path = note.partition(" ")
    if flag in ("-r", "-c") and Path(path).is_absolute():
        return f"{flag} {Path(os.path.relpath(path, cwd)).as_posix()}"
    return note


def _parse_output(text: str, names: Mapping[str, str], cwd: Path) -> Resolution:
    parsed = parse_text(Path("pip-compile output"), text, environ={})
    notes = read_via(parsed)
    pins: dict[NormalizedName, ResolvedPin] = {}
    for entry in parsed.requirements:
        name = entry.name
        if name is None:
            continue
        via = tuple(_via_name(v, names, cwd) for v in notes.get(name, ()))
        pins[name] = ResolvedPin(
            name=name, version=entry.pinned_version, line=_pin_line(entry), via=via
        )
    return Resolution(pins)


def _pin_line(entry: RequirementEntry) -> str:
    return entry.spec
