"""Every error hardenreq reports to a user, and the exit codes they map to.

    HardenreqError                 (message + optional hint; exit_code says what the user can do)
    ├── InputError                 exit 2: the user's input is wrong
    │   ├── LocatedError               ... at a place in a file (path, line)
    │   │   ├── RequirementsSyntaxError    a line pip would not accept
    │   │   ├── UnpinnedRequirement        not pinned with == / === where a pin is required
    │   │   ├── UnhashableRequirement      -e, VCS or local directory: no hash can pin it
    │   │   ├── IncludeError               missing -r/-c file, or an include cycle
    │   │   ├── UnreadableFile             not a regular file, too large, or cannot be opened
    │   │   ├── HashMismatch               a hash in the file matches no file of the release
    │   │   └── AttestationMismatch        a file's provenance fails its publisher check
    │   ├── InputErrors                several input errors of one run, reported together
    │   ├── NotOnIndex                 the project or release is not on the index
    │   ├── ConfigError                bad pip or hardenreq configuration
    │   ├── ResolutionFailed           pip-tools could not resolve (conflict, missing project)
    │   └── BuildRequirementsFailed    an sdist's build requirements cannot be found or installed
    ├── IndexUnavailable           exit 3: the index could not be reached after retries
    ├── IndexResponseInvalid       exit 3: the index answered with something we cannot trust
    ├── AdvisoriesUnavailable      exit 3: an advisory source failed (--require-advisories)
    ├── MaliciousRelease           exit 1: harden would write a pin that is known malware
    └── WriteFailed                exit 3: a write failed or was refused

Messages never contain credentials: URLs pass through ``redact_url`` before they get here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hardenreq._paths import display_path

if TYPE_CHECKING:
    from hardenreq.models import HashPin


class ExitCode(enum.IntEnum):
    """Process exit codes, documented in the README."""

    OK = 0
    FINDINGS = 1
    INPUT = 2
    #: Could not finish: the network, the index, the resolver's index or the filesystem.
    UNFINISHED = 3
    INTERNAL = 4


class HardenreqError(Exception):
    """Base of every error shown to a user as a message, without a traceback."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from its state, not by calling its constructor again (several take other
        # arguments than their message): an error crosses from the page process
        # (``hardenreq.index.helper``) as it was raised.
        return (_rebuilt, (type(self), self.args), self.__dict__)


def _rebuilt(cls: type[HardenreqError], args: tuple[object, ...]) -> HardenreqError:
    return cls.__new__(cls, *args)


class InputError(HardenreqError):
    """The user's input (a file, an option, a name) is wrong: exit 2."""

    exit_code = ExitCode.INPUT


class LocatedError(InputError):
    """An input error at a place in a file: the message is prefixed with ``path:line:``."""

    def __init__(
        self, path: Path | str, line: int | None, message: str, *, hint: str | None = None
    ) -> None:
        self.path = Path(path)
        self.line = line
        # Paths as the user sees them from the working folder (the tree holds absolute ones).
        shown = display_path(self.path) if isinstance(path, Path) else path
        where = f"{shown}:{line}" if line is not None else f"{shown}"
        super().__init__(f"{where}: {message}", hint=hint)
        self.detail = message


class RequirementsSyntaxError(LocatedError):
    """A line of a requirements file that pip would not accept.

    ``source_line`` is the line's text where the parser knows it, so that a caller can
    decide how much of it a message may show.
    """

    source_line: str | None = None


class UnpinnedRequirement(LocatedError):
    """A requirement that is not pinned to one exact version where a pin is required."""


class UnhashableRequirement(LocatedError):
    """An editable, VCS or local-directory requirement: pip cannot check it by hash."""


class IncludeError(LocatedError):
    """A ``-r``/``-c`` include that is missing, unreadable or part of a cycle."""


class UnreadableFile(LocatedError):
    """A file hardenreq must read that is not a regular file, is too large, or cannot be opened.

    Raised before anything is read from a device, FIFO, socket or directory, and before more
    than the size limit is read from an oversize file (``hardenreq._files``). The message is
    ``path: cannot read <what>: <reason>``; ``reason`` alone suits a message about an include.
    """

    def __init__(
        self, path: Path | str, reason: str, *, what: str = "the file", hint: str | None = None
    ) -> None:
        super().__init__(path, None, f"cannot read {what}: {reason}", hint=hint)
        self.reason = reason


class HashMismatch(LocatedError):
    """A ``--hash`` in the file that matches no file of that release on the index.

    ``hashes`` are the values the index does not confirm (``HashPin``s), so an error about
    a lock being built can be pointed at the line that carries them.
    """

    def __init__(
        self,
        path: Path | str,
        line: int | None,
        message: str,
        *,
        hint: str | None = None,
        hashes: tuple[HashPin, ...] = (),
    ) -> None:
        super().__init__(path, line, message, hint=hint)
        self.hashes = hashes


class AttestationMismatch(LocatedError):
    """A pinned file whose PEP 740 provenance does not verify, names another publisher than
    the lock records, or is gone where the lock records one; or a quarantined project."""


#: An InputErrors message lists at most this many errors.
MAX_ERRORS_SHOWN = 25


class InputErrors(InputError):
    """Several input errors found in one run; the message lists them, one per line."""

    def __init__(self, errors: list[InputError]) -> None:
        shown = [e.message for e in errors[:MAX_ERRORS_SHOWN]]
        if len(errors) > MAX_ERRORS_SHOWN:
            shown.append(f"... and {len(errors) - MAX_ERRORS_SHOWN} more")
        hints = [e.hint for e in errors if e.hint]
        super().__init__("\n".join(shown), hint=hints[0] if hints else None)
        self.errors = errors


class NotOnIndex(InputError):
    """The project, or the pinned release of it, is not on the index.

    ``project_missing`` says the index has no such project at all (not just no such
    release); ``index`` is the (redacted) index that said so.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        project_missing: bool = False,
        index: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.project_missing = project_missing
        self.index = index


class ConfigError(InputError):
    """Invalid pip or hardenreq configuration."""


@dataclass(frozen=True, slots=True)
class Unsatisfied:
    """A requirement no release on the index satisfies; ``versions`` are those pip saw."""

    requirement: str
    versions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Conflict:
    """One of the requirements that cannot hold together; ``parent`` (``name==version``)
    asked for it, None when the user did."""

    requirement: str
    parent: str | None


class ResolutionFailed(InputError):
    """pip-tools could not resolve the requirements; what pip said, structured."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        unsatisfied: tuple[Unsatisfied, ...] = (),
        conflicts: tuple[Conflict, ...] = (),
        requires_python: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.unsatisfied = unsatisfied
        self.conflicts = conflicts
        self.requires_python = requires_python


class BuildRequirementsFailed(InputError):
    """An sdist the lock needs built: its build requirements could not be read, resolved or
    installed, or its backend failed when asked for them (pip would fail the same way)."""


class IndexUnavailable(HardenreqError):
    """The index could not be reached, or kept failing, after bounded retries: exit 3."""

    exit_code = ExitCode.UNFINISHED


class IndexResponseInvalid(HardenreqError):
    """The index answered with data that does not have the expected shape: exit 3."""

    exit_code = ExitCode.UNFINISHED


class AdvisoriesUnavailable(HardenreqError):
    """An advisory source (the OSV API, ...) could not be used, and the user asked for every
    source to answer (``--require-advisories``): exit 3."""

    exit_code = ExitCode.UNFINISHED


class MaliciousRelease(HardenreqError):
    """A pin the run would write is reported as malware: nothing is written, exit 1."""

    exit_code = ExitCode.FINDINGS


class WriteFailed(HardenreqError):
    """A file could not be written (or was not, to keep a concurrent edit): exit 3.

    ``restored`` is True when every file is byte for byte as it was before the run (nothing
    was written, no temp file is left); False when some could not be put back, and the
    message then names them and where their previous content was kept.
    """

    exit_code = ExitCode.UNFINISHED

    def __init__(self, message: str, *, hint: str | None = None, restored: bool = True) -> None:
        super().__init__(message, hint=hint)
        self.restored = restored
