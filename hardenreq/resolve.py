"""The only module that knows pip-tools: resolve the full closure with ``pip-compile``.

pip-tools' Python modules sit on pip's internals, which change with every pip release, while
its command line has been stable across pip-tools 7.x. So hardenreq runs ``python -m piptools
compile`` in a subprocess with explicit flags (no hashes: hardenreq hashes with its own
concurrent client, far faster than pip-tools' one-file-at-a-time download), reads the
requirements from standard input and parses the pins and ``# via`` notes it prints.
"""

from __future__ import annotations

import os
import re

# pip-compile runs with an argument list, never a shell.
import subprocess  # nosec B404
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from hardenreq.errors import IndexUnavailable, ResolutionFailed
from hardenreq.index.location import IndexSettings
from hardenreq.models import Pin
from hardenreq.redact import redact_text
from hardenreq.reqfile.parse import RequirementEntry, RequirementsFile, parse_text

__all__ = ["Resolution", "ResolvedPin", "dependents_closure", "read_via", "resolve"]

#: pip-compile may download many wheels on an index without PEP 658 metadata; bound it anyway.
RESOLVE_TIMEOUT = 30 * 60
_MAX_MESSAGE_LINES = 20
_NETWORK_PATTERNS = re.compile(
    r"Max retries exceeded|Failed to establish a new connection|Name or service not known|"
    r"Temporary failure in name resolution|Connection refused|timed out|SSLError|"
    r"CERTIFICATE_VERIFY_FAILED|HTTP error 5\d\d|ProxyError",
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
class Resolution:
    """Every pin of the closure, by normalised name, in pip-compile's (sorted) order."""

    pins: dict[NormalizedName, ResolvedPin]


def resolve(
    requirements: str | Path,
    *,
    cwd: Path,
    source_name: str,
    index: IndexSettings,
    preferred: Sequence[Pin] = (),
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    renamed: Mapping[str, str] | None = None,
) -> Resolution:
    """Resolve ``requirements`` (a file, or requirements-file text) to the full closure.

    ``cwd`` is the folder relative ``-r``/``-c`` paths in text are relative to;
    ``source_name`` replaces the input's name in the ``# via`` notes. ``preferred``
    pins are kept unless ``upgrade`` (all) or ``upgrade_packages`` (those names) says
    otherwise. ``renamed`` maps ``# via`` names of stand-in files back to what the user
    wrote. Raises ResolutionFailed (exit 2) or IndexUnavailable (exit 3).
    """
    with tempfile.TemporaryDirectory(prefix="hardenreq-") as scratch:
        output = Path(scratch) / "resolved.txt"
        if preferred and not upgrade:
            # pip-compile keeps the pins of its existing output file.
            output.write_text("".join(f"{p.name}=={p.version}\n" for p in preferred))
        command = [
            sys.executable, "-m", "piptools", "compile",
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
        if isinstance(requirements, Path):
            given = requirements.name
            command.append(given)
            stdin = None
        else:
            given = "-"
            command.append(given)
            stdin = requirements
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
        env["PYTHONIOENCODING"] = "utf-8"
        try:
            # Our own interpreter and fixed flags; the user's text only as arguments.
            completed = subprocess.run(  # nosec B603
                command,
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                cwd=cwd,
                env=env,
                timeout=RESOLVE_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ResolutionFailed(
                f"pip-compile did not finish within {RESOLVE_TIMEOUT // 60} minutes"
            ) from exc
        except OSError as exc:
            raise ResolutionFailed(f"could not run pip-compile: {exc.strerror}") from exc
        if completed.returncode != 0:
            raise _failure(completed.stderr)
        text = output.read_text(encoding="utf-8")
    names = {f"-r {given}": f"-r {source_name}", **(renamed or {})}
    return _parse_output(text, names)


def _failure(stderr: str) -> ResolutionFailed | IndexUnavailable:
    """pip-compile's explanation without tracebacks, credentials or noise."""
    kept: list[str] = []
    in_traceback = False
    lines = stderr.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last):"):
            in_traceback = True
            continue
        if in_traceback:
            if line.startswith((" ", "\t")) or not line.strip():
                continue
            in_traceback = False
            # Only the last exception line says something new (the final error).
            if index != len(lines) - 1 and "The above exception" not in line:
                continue
            if "The above exception" in line:
                continue
            line = line.split(": ", 1)[-1]
        stripped = line.strip()
        if stripped and stripped not in kept:
            kept.append(stripped)
    message = "\n".join(redact_text(line) for line in kept[-_MAX_MESSAGE_LINES:])
    if _NETWORK_PATTERNS.search(stderr) and "Could not find a version" not in stderr:
        return IndexUnavailable(f"pip-compile could not reach the index:\n{message}")
    return ResolutionFailed(
        f"pip-compile could not resolve the requirements:\n{message}",
        hint="loosen or fix the conflicting requirements, or check the project names",
    )


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


def _parse_output(text: str, names: Mapping[str, str]) -> Resolution:
    parsed = parse_text(Path("pip-compile output"), text, environ={})
    notes = read_via(parsed)
    pins: dict[NormalizedName, ResolvedPin] = {}
    for entry in parsed.requirements:
        name = entry.name
        if name is None:
            continue
        via = tuple(names.get(v, v) for v in notes.get(name, ()))
        pins[name] = ResolvedPin(
            name=name, version=entry.pinned_version, line=_pin_line(entry), via=via
        )
    return Resolution(pins)


def _pin_line(entry: RequirementEntry) -> str:
    return entry.spec
