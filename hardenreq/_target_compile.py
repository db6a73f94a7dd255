"""pip-compile for another environment: run in pip-compile's own subprocess, never imported.

pip (and so pip-tools) resolves for the interpreter it runs on: markers are evaluated
against ``packaging.markers.default_environment()``, wheels are matched against the running
machine's tags, Requires-Python against its version (pip #11664; pip-tools #585, #1326).
To resolve for a target such as Python 3.10 on Windows, this entry point tells pip's own
machinery about the target before pip-compile starts: the marker environment, the Python
version the finder and the resolver check Requires-Python against, and the wheel tags the
finder accepts. Resolution is still pip's resolver behind pip-tools' command line.

    python -m hardenreq._target_compile TARGET_JSON -- PIP_COMPILE_ARGS...

TARGET_JSON holds ``environment`` (the PEP 508 marker environment), ``python`` ([major,
minor]), ``platforms`` (wheel platform tags, best first) and ``implementation``, and may hold
``record``: a file to write, at exit, every marker pip evaluated (with the ``extra`` it was
asked for) and every project it looked up. That record is what lets the caller tell that
another target would be resolved the same way (hardenreq.equivalence).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _install(target: dict[str, Any]) -> None:
    from pip._internal.cli import req_command
    from pip._internal.index import package_finder
    from pip._internal.models import target_python
    from pip._vendor.packaging import markers

    environment = dict(target["environment"])
    python = tuple(int(part) for part in target["python"])
    target_platforms = list(target["platforms"])
    target_implementation = str(target["implementation"])

    def default_environment() -> dict[str, str]:
        return dict(environment)

    markers.default_environment = default_environment  # type: ignore[assignment]

    original_init = target_python.TargetPython.__init__

    # The same parameter names: pip passes them by keyword.
    def target_init(
        self: target_python.TargetPython,
        platforms: list[str] | None = None,
        py_version_info: tuple[int, ...] | None = None,
        abis: list[str] | None = None,
        implementation: str | None = None,
    ) -> None:
        original_init(
            self,
            platforms=platforms if platforms is not None else target_platforms,
            py_version_info=py_version_info if py_version_info is not None else python,
            abis=abis,
            implementation=implementation if implementation is not None else target_implementation,
        )

    target_python.TargetPython.__init__ = target_init  # type: ignore[method-assign]

    original_resolver = req_command.RequirementCommand.make_resolver.__func__  # type: ignore[attr-defined]

    def make_resolver(cls: type, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("py_version_info") is None:
            kwargs["py_version_info"] = python
        return original_resolver(cls, *args, **kwargs)

    req_command.RequirementCommand.make_resolver = classmethod(make_resolver)  # type: ignore[method-assign,assignment]

    record = target.get("record")
    if record:
        _record(str(record), markers, package_finder)


def _record(path: str, markers: Any, package_finder: Any) -> None:
    """Write, at exit, the markers pip evaluated and the projects it looked up."""
    import atexit

    evaluated: set[tuple[str, str | None]] = set()
    projects: set[str] = set()
    original_evaluate = markers.Marker.evaluate

    def evaluate(self: Any, environment: Any = None, *args: Any, **kwargs: Any) -> bool:
        extra = environment.get("extra") if isinstance(environment, dict) else None
        evaluated.add((str(self), None if extra is None else str(extra)))
        return bool(original_evaluate(self, environment, *args, **kwargs))

    markers.Marker.evaluate = evaluate
    original_find = package_finder.PackageFinder.find_all_candidates

    def find_all_candidates(self: Any, project_name: str) -> Any:
        projects.add(project_name)
        return original_find(self, project_name)

    package_finder.PackageFinder.find_all_candidates = find_all_candidates

    def write() -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"markers": sorted(evaluated, key=str), "projects": sorted(projects)}, handle)

    atexit.register(write)


def main() -> None:
    """Install the target, then hand over to pip-compile with the remaining arguments."""
    target = json.loads(sys.argv[1])
    if sys.argv[2:3] != ["--"]:
        raise SystemExit("usage: python -m hardenreq._target_compile TARGET_JSON -- ARGS...")
    _install(target)
    from piptools.scripts.compile import cli

    sys.argv = ["pip-compile", *sys.argv[3:]]
    cli()


if __name__ == "__main__":
    main()
