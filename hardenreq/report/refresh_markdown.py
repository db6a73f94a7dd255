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
from hardenreq.refresh import ChangeKind, RefreshReport
from hardenreq.report._common import change_counts

__all__ = ["MarkdownRefreshReporter"]

_REVIEW = (
    "These releases kept their version, but their files on the index changed. A new file "
    "(for example a wheel for a new Python) is usually harmless; a file that disappeared or "
    "was replaced is what a compromised upload looks like. Check each one before merging."
)


def _cell(value: str | None) -> str:
    return markdown_text(value or "")


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
                    for digest, filename in zip(
                        change.added_hashes, change.added_files, strict=True
                    ):
                        shown = f"  - added {markdown_code(f'sha256:{digest}')} "
                        lines.append((shown + markdown_text(filename)).rstrip())
                    lines += [
                        f"  - removed {markdown_code(f'sha256:{d}')}" for d in change.removed_hashes
                    ]
                lines.append("")
        lines.append(f"<sub>hardenreq {__version__}</sub>")
        return "\n".join(lines) + "\n"
