"""One decision per requirements line: what it is, and what pip (or hash-checking mode) refuses.

Both ``harden`` and ``verify`` ask this module, so a line is never judged twice with two
answers: ``harden`` turns a Problem into an error (exit 2), ``verify`` into a Finding. The
messages live here, once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hardenreq.errors import (
    InputError,
    RequirementsSyntaxError,
    UnhashableRequirement,
    UnpinnedRequirement,
)
from hardenreq.models import Finding, FindingKind, Pin
from hardenreq.redact import redact_text
from hardenreq.reqfile.parse import OptionEntry, RequirementEntry, RequirementsTree

__all__ = [
    "Classified",
    "DirectLink",
    "Pinned",
    "Problem",
    "Unhashable",
    "Unpinned",
    "classify",
    "line_problems",
    "option_problems",
    "tree_lines",
]


@dataclass(frozen=True, slots=True)
class Pinned:
    """A requirement pinned to one release of a named project: hashed from the index."""

    entry: RequirementEntry
    pin: Pin


@dataclass(frozen=True, slots=True)
class DirectLink:
    """A direct URL or a local path to an archive: hashed by downloading or reading it."""

    entry: RequirementEntry
    link: str


@dataclass(frozen=True, slots=True)
class Unpinned:
    """A named requirement that is not pinned to one version (a range, or nothing)."""

    entry: RequirementEntry


@dataclass(frozen=True, slots=True)
class Unhashable:
    """An editable, VCS URL or local directory: pip cannot check it by hash."""

    entry: RequirementEntry
    reason: str


Classified = Pinned | DirectLink | Unpinned | Unhashable


def classify(entry: RequirementEntry) -> Classified:
    """What kind of requirement ``entry`` is, for hashing."""
    reason = entry.unhashable_reason
    if reason is not None:
        return Unhashable(entry, reason)
    if entry.link is not None:
        return DirectLink(entry, entry.link)
    version, name = entry.pinned_version, entry.name
    if version is None or name is None:
        return Unpinned(entry)
    return Pinned(entry, Pin(name, version))


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with a line: a finding for ``verify``, an error for ``harden``.

    ``advice`` says what to do; ``repairable`` problems are ones ``harden`` mends itself
    (it adds the missing hashes, and moves a comment that hides them).
    """

    kind: FindingKind
    path: Path
    line: int
    message: str
    package: str | None = None
    version: str | None = None
    details: tuple[tuple[str, object], ...] = ()
    advice: str | None = None
    repairable: bool = False

    def finding(self, file: str) -> Finding:
        """The problem as a verify finding, ``file`` being the path as reports show it."""
        message = f"{self.message}; {self.advice}" if self.advice else self.message
        return Finding(
            self.kind, file, self.line, message, self.package, self.version, self.details
        )

    def error(self, hint: str | None = None) -> InputError:
        """The problem as the error ``harden`` stops with (exit 2); ``hint`` overrides the
        advice where the command knows better."""
        hint = hint or self.advice
        match self.kind:
            case FindingKind.UNHASHABLE:
                return UnhashableRequirement(self.path, self.line, self.message, hint=hint)
            case FindingKind.UNPINNED:
                return UnpinnedRequirement(self.path, self.line, self.message, hint=hint)
            case _:
                return RequirementsSyntaxError(self.path, self.line, self.message, hint=hint)


def option_problems(entry: OptionEntry) -> Iterator[Problem]:
    """An option line pip ignores part of: ``--hash`` values cut off from their requirement."""
    if entry.hashes:
        yield Problem(
            FindingKind.INEFFECTIVE_HASH,
            entry.path,
            entry.lineno,
            "--hash with no requirement on its logical line: pip ignores it (a comment or "
            "blank line cuts it off from its requirement)",
            details=(("hashes", [f"{h.algorithm}:{h.digest}" for h in entry.hashes]),),
            advice="join it to its requirement with a trailing \\ on each line before it, "
            "and no comment or blank line in between",
        )


def line_problems(
    entry: RequirementEntry, classified: Classified, *, constraint: bool
) -> Iterator[Problem]:
    """Everything wrong with a requirement line, for pip or for hash-checking mode.

    ``constraint`` says the line is read through ``-c``: pip refuses constraints with
    extras, without a name, or editable (``check_invalid_constraint_type`` in pip).
    """
    name = str(entry.name) if entry.name else None
    spec = redact_text(entry.spec)
    if entry.ignored_hashes:
        yield Problem(
            FindingKind.INEFFECTIVE_HASH,
            entry.path,
            entry.lineno,
            f"{spec}: a comment before a \\ continuation makes pip ignore the "
            f"{len(entry.ignored_hashes)} --hash value(s) after it",
            name,
            details=(("hashes", [f"{h.algorithm}:{h.digest}" for h in entry.ignored_hashes]),),
            repairable=True,
        )
    if entry.ignored_other is not None:
        yield Problem(
            FindingKind.INEFFECTIVE_HASH,
            entry.path,
            entry.lineno,
            f"a comment before a \\ continuation makes pip ignore {entry.ignored_other!r}",
            name,
            details=(("ignored", entry.ignored_other),),
            advice="move the comment to the end of the logical line (after its last \\ "
            "line), or end the line before the comment",
        )
    if constraint:
        refused = _constraint_problem(entry)
        if refused is not None:
            yield Problem(
                FindingKind.INVALID_CONSTRAINT,
                entry.path,
                entry.lineno,
                f"{spec}: {refused}; pip refuses this line in a file read through -c",
                name,
                advice="constrain the plain name (name==version); hardenreq writes locks that "
                "way, so re-running harden on the file's source fixes it",
            )
    match classified:
        case Unhashable(reason=reason):
            yield Problem(
                FindingKind.UNHASHABLE,
                entry.path,
                entry.lineno,
                f"{spec}: {reason}",
                name,
                advice="build it into a wheel, publish it to your index and pin it with ==, or "
                "install it separately with --no-deps outside the hash-checked file",
            )
        case DirectLink(link=link):
            if not entry.hashes and "sha256=" not in link:
                yield Problem(
                    FindingKind.NO_HASHES,
                    entry.path,
                    entry.lineno,
                    f"{spec} has no --hash: pip's hash-checking mode refuses it",
                    name,
                    repairable=True,
                )
        case Unpinned():
            yield Problem(
                FindingKind.UNPINNED,
                entry.path,
                entry.lineno,
                f"{spec} is not pinned to one version with == or ===",
                name,
                advice="pin it with == and add its hashes: hardenreq harden",
            )
        case Pinned(pin=pin):
            if not entry.hashes:
                yield Problem(
                    FindingKind.NO_HASHES,
                    entry.path,
                    entry.lineno,
                    f"{pin} has no --hash: pip installs whatever file the index serves",
                    name,
                    str(pin.version),
                    repairable=True,
                )


def _constraint_problem(entry: RequirementEntry) -> str | None:
    # pip/_internal/req/req_install.py, check_invalid_constraint_type.
    if entry.requirement is None:
        return "a constraint must name its project"
    if entry.editable:
        return "a constraint cannot be editable"
    if entry.requirement.extras:
        return "a constraint cannot have extras"
    return None


def tree_lines(
    tree: RequirementsTree,
) -> Iterator[tuple[OptionEntry | RequirementEntry, bool]]:
    """Every entry of every file of ``tree``, with whether its file is read through ``-c``."""
    for path, parsed in tree.files.items():
        constraint = path in tree.constraint_files
        for entry in parsed.entries:
            if isinstance(entry, OptionEntry | RequirementEntry):
                yield entry, constraint
