"""The refresh report as one JSON document (schema version 1), for scripts.

Keys always present, in this order: ``version``, ``tool``, ``dry_run``, ``changed``,
``locks``, each with ``output``, ``source``, ``changed`` (the file's bytes change),
``created`` (it did not exist) and ``changes`` (``package``, ``change``,
``old``, ``new``, ``added_hashes``, ``removed_hashes``, ``added_files``, ``environments``:
the environments of a lock for several that the change is on, else null), and in each
lock ``publisher_changes`` (releases not adopted for their publisher, or taken with
``--accept-publisher``: ``package``, ``kept``, ``offered``, ``verdict``, ``message``,
``recorded``, ``found`` (PEP 751 identity tables), ``accepted``) and ``held_by_age``
(``package``, ``pinned``, ``version``, ``uploaded``); ``build_constraints``: the
build-constraints files, in the same shape (``source`` names the locks the file serves),
and ``fixes`` (``--fix-vulnerable``; empty otherwise), each with ``lock``, ``package``,
``old``, ``new``, ``fixed``, ``unfixed`` (advisory IDs still affecting the new pin) and
``no_fix`` (those no allowed release fixes). Every string is
redacted and valid for strict parsers (``hardenreq.escape.json_value``); nothing is cut.
"""

from __future__ import annotations

from hardenreq import __version__
from hardenreq.escape import json_value
from hardenreq.refresh import LockChanges, RefreshReport
from hardenreq.report.json import dumps

__all__ = ["JsonRefreshReporter"]


def _lock(lock: LockChanges) -> dict[str, object]:
    return {
        "output": lock.output,
        "source": lock.source,
        "changed": lock.changed,
        "created": lock.created,
        "changes": [
            {
                "package": c.package,
                "change": c.kind.value,
                "old": c.old,
                "new": c.new,
                "added_hashes": list(c.added_hashes),
                "removed_hashes": list(c.removed_hashes),
                "added_files": list(c.added_files),
                "environments": c.environments,
            }
            for c in lock.changes
        ],
        "publisher_changes": [
            {
                "package": c.package,
                "kept": c.kept,
                "offered": c.offered,
                "verdict": c.verdict,
                "message": c.message,
                "recorded": [i.as_table() for i in c.recorded],
                "found": [i.as_table() for i in c.found],
                "accepted": c.accepted,
            }
            for c in lock.publisher_changes
        ],
        "held_by_age": [
            {"package": y.package, "pinned": y.pinned, "version": y.version, "uploaded": y.uploaded}
            for y in lock.held_by_age
        ],
    }


class JsonRefreshReporter:
    """The refresh report as JSON (``indent=2``, ASCII, trailing newline)."""

    name = "json"

    def render(self, report: RefreshReport) -> str:
        """The JSON document; see the module docstring for its shape."""
        document = {
            "version": 1,
            "tool": {"name": "hardenreq", "version": __version__},
            "dry_run": report.dry_run,
            "changed": report.changed,
            "locks": [json_value(_lock(lock)) for lock in report.locks],
            "build_constraints": [json_value(_lock(b)) for b in report.build_constraints],
            "fixes": [
                json_value(
                    {
                        "lock": fix.lock,
                        "package": fix.package,
                        "old": fix.old,
                        "new": fix.new,
                        "fixed": list(fix.fixed),
                        "unfixed": list(fix.unfixed),
                        "no_fix": list(fix.no_fix),
                    }
                )
                for fix in report.fixes
            ],
        }
        return dumps(document)
