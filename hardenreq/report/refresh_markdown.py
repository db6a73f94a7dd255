"""The refresh report as Markdown, ready to be a pull-request body.

A pull-request body is rendered by GitHub for every reviewer, so nothing the index or a
lock says may become markup there: versions, names and filenames go through
``hardenreq.escape.markdown_text`` (no link, image, HTML, mention or reference forms),
paths and digests through ``markdown_code``. Hash-only changes (same version, different
files on the index) get a section of their own: a file that changes under an existing
version is what a compromised upload looks like, so a person should look.
"""

from __future__ import annotations

from hardenreq import __version__
from hardenreq.escape import markdown_code, markdown_text
from hardenreq.refresh import ChangeKind, LockChanges, RefreshReport
from hardenreq.report._common import change_counts

__all__ = ["MarkdownRefreshReporter"]

_REVIEW = (
    "These releases kept their version, but their files on the index changed. A new file "
    "(for example a wheel for a new Python) is usually harmless; a file that disappeared or "
    "was replaced is what a compromised upload looks like. Check each one before merging."
)


_PUBLISHERS = (
    "These releases were not adopted: their files are attested by another publisher than "
    "the lock records, their provenance does not verify, or they lost the provenance the "
    "old release had. A stolen publishing token looks like this; a project that moved its "
    "CI does too. Each stays at its old pin until someone checks it and runs refresh with "
    "`--accept-publisher NAME`."
)
_AGE = (
    "Newer releases that are younger than the minimum release age (`--min-release-age`): "
    "they are adopted once they have aged."
)
_BUILD = (
    "What pip installs to build the sdists of these locks, pinned and hashed (pip reads "
    "the file through `build-constraint` in pip.conf). These packages run during every "
    "build: review them as you review the locks."
)


def _cell(value: str | None) -> str:
    return markdown_text(value or "")


def _ids(ids: tuple[str, ...]) -> str:
    return ", ".join(markdown_text(i) for i in ids) or "-"


def _fixes(report: RefreshReport) -> list[str]:
    """``--fix-vulnerable``: a table of the vulnerable pins, what each became, and the
    advisories fixed and left (those no allowed release fixes are marked)."""
    if not report.fixes:
        return []
    lines = [
        "### Known vulnerabilities",
        "",
        "| lock | package | old | new | fixed | not fixed |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for fix in report.fixes:
        left = [
            markdown_text(i) + (" (no allowed release fixes it)" if i in fix.no_fix else "")
            for i in fix.unfixed
        ]
        lines.append(
            f"| {markdown_code(fix.lock, table=True)} | {_cell(fix.package)} | {_cell(fix.old)} "
            f"| {_cell(fix.new)} | {_ids(fix.fixed)} | {', '.join(left) or '-'} |"
        )
    return [*lines, ""]


def _publisher_lines(lock: LockChanges) -> list[str]:
    held = [c for c in lock.publisher_changes if not c.accepted]
    accepted = [c for c in lock.publisher_changes if c.accepted]
    lines: list[str] = []
    if held:
        lines += ["#### Publisher changes: review these", "", _PUBLISHERS, ""]
        lines += ["| package | kept | not adopted | why |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {_cell(c.package)} | {_cell(c.kept)} | {_cell(c.offered)} | "
            f"{markdown_code(c.verdict)}: {_cell(c.message)} |"
            for c in held
        ]
        lines.append("")
    if accepted:
        lines += ["#### Publishers accepted with --accept-publisher", ""]
        lines += [f"- {markdown_code(c.package)}: {_cell(c.message)}" for c in accepted]
        lines.append("")
    if lock.held_by_age:
        lines += ["#### Held back by the minimum release age", "", _AGE, ""]
        lines += ["| package | pinned | newer | uploaded |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {_cell(y.package)} | {_cell(y.pinned)} | {_cell(y.version)} | {_cell(y.uploaded)} |"
            for y in lock.held_by_age
        ]
        lines.append("")
    return lines


class MarkdownRefreshReporter:
    """A heading per lock, a table of version changes, a review list of hash-only ones."""

    name = "markdown"

    def render(self, report: RefreshReport) -> str:
        """The report as Markdown, ending with a newline."""
        lines = ["## hardenreq refresh", ""]
        if report.dry_run:
            lines += ["_Dry run: nothing was written._", ""]
        if not report.changed:
            lines += ["Every pin and hash is current: nothing to change.", ""]
        for lock in report.locks:
            lines.append(
                f"### {markdown_code(lock.output)} (from {markdown_code(lock.source)}): "
                f"{change_counts(lock)}"
            )
            lines.append("")
            lines += _changes(lock)
            lines += _publisher_lines(lock)
        if report.build_constraints:
            lines += ["## Build constraints", "", _BUILD, ""]
        for build in report.build_constraints:
            lines.append(
                f"### {markdown_code(build.output)} (builds for {markdown_code(build.source)}): "
                f"{change_counts(build)}"
            )
            lines.append("")
            lines += _changes(build)
        lines += _fixes(report)
        lines.append(f"<sub>hardenreq {__version__}</sub>")
        return "\n".join(lines) + "\n"


def _changes(lock: LockChanges) -> list[str]:
    """The table of version changes (with the environments each is on, for a lock for
    several) and the review list of hash-only ones."""
    lines: list[str] = []
    versions = [c for c in lock.changes if c.kind != ChangeKind.HASHES]
    where = any(c.environments for c in lock.changes)
    if versions and where:
        # A lock for several environments: each change says where it applies.
        lines += [
            "| package | change | old | new | environments |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {_cell(c.package)} | {c.kind.value} | {_cell(c.old)} | {_cell(c.new)} "
            f"| {_cell(c.environments)} |"
            for c in versions
        ]
        lines.append("")
    elif versions:
        lines += ["| package | change | old | new |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {_cell(c.package)} | {c.kind.value} | {_cell(c.old)} | {_cell(c.new)} |"
            for c in versions
        ]
        lines.append("")
    hashes = [c for c in lock.changes if c.kind == ChangeKind.HASHES]
    if hashes:
        lines += ["#### Hash-only changes: review these", "", _REVIEW, ""]
        for change in hashes:
            on = f" ({_cell(change.environments)})" if change.environments else ""
            lines.append(f"- {markdown_code(f'{change.package}=={change.new}')}{on}")
            for digest, filename in zip(change.added_hashes, change.added_files, strict=True):
                shown = f"  - added {markdown_code(f'sha256:{digest}')} "
                lines.append((shown + markdown_text(filename)).rstrip())
            lines += [f"  - removed {markdown_code(f'sha256:{d}')}" for d in change.removed_hashes]
        lines.append("")
    return lines
