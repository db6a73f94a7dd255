"""pip is the oracle for hardenreq's requirements-file parser (issue 8, item 13).

Every fixture in tests/data/parser-fixtures (uv's parser test data and the file contents of
pip's ``tests/unit/test_req_file.py``; see the README there) is read twice: by pip's own parser
in a subprocess of this interpreter (``parse_requirements`` with a finder and options, then
``install_req_from_parsed_requirement``), and by ``hardenreq.reqfile.parse_requirements``. Both
are brought to one shape (a row per requirement, in pip's order, plus the global options pip
collects) and compared. A file pip refuses must be refused by hardenreq too, with its file and
line. The differences hardenreq makes on purpose are listed in ``DELIBERATE`` with their
reason; every other difference is a bug and fails here.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from pip._internal.models.format_control import FormatControl
from pip._internal.models.release_control import ReleaseControl

from hardenreq.errors import LocatedError
from hardenreq.reqfile import OptionEntry, RequirementEntry, parse_requirements

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "parser-fixtures"
MANIFEST = json.loads((FIXTURES / "cases.json").read_text(encoding="utf-8"))
# The variables pip's test_expand_existing_env_variables sets; both parsers see them.
ENVIRON = {"GITHUB_TOKEN": "notarealtoken", "DO_12_FACTOR": "awwyeah"}
# Local projects the fixtures name: pip only accepts a directory it could build.
PROJECT_DIRS = {
    "uv/test-data": ("test/packages/black_editable", "test/packages/black editable", "editable"),
}

# Differences hardenreq makes on purpose: pip reads the file, hardenreq refuses it (with file
# and line). Each is asserted: hardenreq must go on refusing, and pip must go on accepting.
DELIBERATE: dict[str, str] = {
    "pip/TestProcessLine.test_parser_non_offending_line": (
        "a --hash that is not 64 hex digits can never match; pip fails only at install"
    ),
    "pip/TestProcessLine.test_absolute_http_nested_req_file_in_local": (
        "remote includes are refused: a lock must not depend on a file fetched at install time"
    ),
}

# pip refuses these, hardenreq reads them, on purpose: each is asserted the same way.
LENIENT: dict[str, str] = {
    "uv/inline/nested_editable": (
        "pip refuses an -e path that is no directory on this disk; hardenreq reads text only,"
        " and harden/verify refuse every -e as unhashable"
    ),
}

# pip's parser, in a subprocess: what it reads from the file, or why it refuses it. Remote
# includes are not fetched (the oracle must not touch the network): reading one stops the
# parse with "remote include".
_ORACLE = r"""
import json, optparse, os, re, sys
from pip._internal.index.collector import LinkCollector
from pip._internal.index.package_finder import PackageFinder
from pip._internal.models.search_scope import SearchScope
from pip._internal.models.release_control import ReleaseControl
from pip._internal.models.selection_prefs import SelectionPreferences
from pip._internal.network.session import PipSession
from pip._internal.req import req_file
from pip._internal.req.constructors import install_req_from_parsed_requirement
from pip._vendor.packaging.utils import canonicalize_name

class Remote(Exception):
    pass

_read = req_file.get_file_content
def _local_only(url, session, **kwargs):
    if re.match(r"(?i)^(https?|ftp)://", url):
        raise Remote(url)
    return _read(url, session, **kwargs)
req_file.get_file_content = _local_only

def where(path):
    path = os.path.abspath(path)
    rel = os.path.relpath(path)
    return "file:" + (rel if not rel.startswith("..") else path)

SESSION = PipSession()  # made once; each case runs in a child process of its own

def main(root):
    session = SESSION
    scope = SearchScope.create(find_links=[], index_urls=[], no_index=False)
    # as pip install sets them up: an empty ReleaseControl the option lines then fill in
    prefs = SelectionPreferences(allow_yanked=True, release_control=ReleaseControl())
    finder = PackageFinder.create(LinkCollector(session, scope), prefs)
    options = optparse.Values(dict(
        require_hashes=False, no_require_hashes=False, features_enabled=[], isolated_mode=False))
    rows = []
    for parsed in req_file.parse_requirements(root, session, finder=finder, options=options):
        ireq = install_req_from_parsed_requirement(
            parsed, isolated=False,
            config_settings=parsed.options.get("config_settings") if parsed.options else None)
        file, line = re.match(r"^-[rc] (.*) \(line (\d+)\)$", parsed.comes_from).groups()
        link = None
        if ireq.link is not None:
            link = where(ireq.link.file_path) if ireq.link.is_file else ireq.link.url
        rows.append(dict(
            file=where(file)[5:], line=int(line), constraint=parsed.constraint,
            editable=ireq.editable,
            name=canonicalize_name(ireq.req.name) if ireq.req else None,
            specifier=",".join(sorted(str(s) for s in ireq.req.specifier)) if ireq.req else "",
            extras=sorted(canonicalize_name(e) for e in ireq.extras),
            marker=str(ireq.markers) if ireq.markers else None,
            link=link,
            hashes={k: sorted(v.lower() for v in vs)
                    for k, vs in sorted(ireq.hash_options.items())},
            config_settings=ireq.config_settings or None,
        ))
    release = finder._candidate_prefs.release_control
    options_seen = dict(
        index_urls=finder.index_urls, no_index=finder.search_scope.no_index,
        find_links=[where(f) if os.path.exists(f) else f for f in finder.find_links],
        trusted_hosts=list(finder.trusted_hosts),
        features=options.features_enabled, require_hashes=bool(options.require_hashes),
        no_binary=sorted(finder.format_control.no_binary),
        only_binary=sorted(finder.format_control.only_binary),
        prefer_binary=finder._candidate_prefs.prefer_binary,
        all_releases=sorted(release.all_releases) if release else [],
        only_final=sorted(release.only_final) if release else [],
    )
    return dict(ok=True, requirements=rows, options=options_seen)

def one(job):
    key, workdir, root = job
    os.chdir(workdir)
    try:
        return key, main(root)
    except Remote as exc:
        return key, dict(ok=False, error=f"remote include {exc}")
    except BaseException as exc:
        return key, dict(ok=False, error=f"{type(exc).__name__}: {exc}")

# A fresh process per case: pip's option parser keeps state between parses in one process
# (its --use-feature default list fills up), as a real pip run parses once.
import multiprocessing
method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
with multiprocessing.get_context(method).Pool(2, maxtasksperchild=1) as pool:
    results = dict(pool.map(one, json.load(sys.stdin), chunksize=1))
print(json.dumps(results))
"""


def _cases() -> list[tuple[str, str, str, bool]]:
    """(id, folder, root, as CRLF): every fixture, and uv's test data with CRLF line endings
    too, as uv's own test reads it."""
    cases = [(c["id"], c["dir"], c["root"], False) for c in MANIFEST["cases"]]
    cases += [(f"{i} (CRLF)", d, r, True) for i, d, r, _ in cases if i.startswith("uv/test-data/")]
    return cases


CASES = _cases()


def _line_cases() -> list[tuple[str, str, str, int]]:
    """(id, folder, line, line number): each line of the fixtures that hold one case per line
    (no includes, no continuations), on its own, so one refused line does not hide the rest.
    pip's own tests feed lines to the parser the same way (``line_processor``)."""
    cases = []
    for case in MANIFEST["cases"]:
        data = (FIXTURES / case["dir"] / case["root"]).read_bytes()
        try:
            lines = data.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            continue
        meaningful = [
            (number, line)
            for number, line in enumerate(lines, start=1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if len(meaningful) < 2 or any(
            line.rstrip().endswith("\\") or line.lstrip().startswith(("-r", "-c", "--req", "--con"))
            for line in lines
        ):
            continue
        cases += [(f"{case['id']} line {n}", case["dir"], line, n) for n, line in meaningful]
    return cases


LINE_CASES = _line_cases()


def _copy(folder: str, crlf: bool, target: Path) -> Path:
    workdir = target
    shutil.copytree(FIXTURES / folder, workdir)
    for project in PROJECT_DIRS.get(folder, ()):
        (workdir / project).mkdir(parents=True, exist_ok=True)
        (workdir / project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    if crlf:
        for path in workdir.rglob("*.txt"):
            data = path.read_bytes().replace(b"\r\n", b"\n")
            path.write_bytes(data.replace(b"\n", b"\r\n"))
    return workdir


def pip_reads(jobs: list[tuple[str, Path, str]]) -> dict[str, dict[str, Any]]:
    """What pip's parser makes of each (key, folder, root file), read from that folder (pip
    resolves relative requirement paths from the current directory). One subprocess for all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(ENVIRON, PIP_CONFIG_FILE=os.devnull, LC_ALL="C.UTF-8", PYTHONUTF8="0")
    proc = subprocess.run(
        [sys.executable, "-c", _ORACLE],
        input=json.dumps([(key, str(workdir), root) for key, workdir, root in jobs]),
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results: dict[str, dict[str, Any]] = json.loads(proc.stdout)
    return results


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str, dict[str, Any]]]:
    """Every case laid out in its own folder, with what pip reads there: id -> (folder, root
    file, pip's reading)."""
    base = tmp_path_factory.mktemp("oracle")
    jobs: list[tuple[str, Path, str]] = []
    for number, (case_id, folder, root, crlf) in enumerate(CASES):
        jobs.append((case_id, _copy(folder, crlf, base / f"case{number}"), root))
    for number, (case_id, folder, line, lineno) in enumerate(LINE_CASES):
        workdir = _copy(folder, False, base / f"line{number}")
        (workdir / "line.txt").write_text("\n" * (lineno - 1) + line + "\n", encoding="utf-8")
        jobs.append((case_id, workdir, "line.txt"))
    results = pip_reads(jobs)
    return {key: (workdir, root, results[key]) for key, workdir, root in jobs}


def _where(workdir: Path, path: str) -> str:
    absolute = os.path.normpath(os.path.join(workdir, path))
    relative = os.path.relpath(absolute, workdir)
    return relative if not relative.startswith("..") else absolute


def _link(workdir: Path, link: str | None) -> str | None:
    if link is None:
        return None
    if link.lower().startswith("file:"):
        return "file:" + _where(
            workdir, urllib.request.url2pathname(urllib.parse.urlsplit(link).path)
        )
    if "://" not in link.split("#", 1)[0] and not link.lower().startswith(("git+", "hg+")):
        return "file:" + _where(workdir, link.split("#", 1)[0])
    return link


def _config_settings(raw_options: tuple[str, ...]) -> dict[str, str] | None:
    settings: dict[str, str] = {}
    tokens = [token for raw in raw_options for token in shlex.split(raw)]
    for index, token in enumerate(tokens):
        value = None
        if token.startswith("--config-settings="):
            value = token.partition("=")[2]
        elif token in ("--config-settings", "-C") and index + 1 < len(tokens):
            value = tokens[index + 1]
        elif token.startswith("-C") and len(token) > 2:
            value = token[2:]
        if value is not None:
            key, _, setting = value.partition("=")
            settings[key] = setting
    return settings or None


def hardenreq_reads(workdir: Path, root: str) -> dict[str, Any]:
    """What hardenreq's parser makes of ``root``, in the shape ``pip_reads`` gives."""
    try:
        tree = parse_requirements([workdir / root], environ=ENVIRON)
    except LocatedError as exc:
        return {"ok": False, "error": str(exc), "path": str(exc.path), "line": exc.line}
    children = {(i.parent, i.line): i for i in tree.includes}
    rows: list[dict[str, Any]] = []
    state: dict[str, Any] = {
        "index_urls": [], "no_index": False, "find_links": [], "trusted_hosts": [],
        "features": [], "require_hashes": False, "prefer_binary": False,
    }  # fmt: skip
    formats = FormatControl(set(), set())
    release = ReleaseControl()  # pip's line parser fills the finder's one, line after line

    def walk(path: Path, constraint: bool) -> None:
        for entry in tree.files[path].entries:
            if isinstance(entry, RequirementEntry):
                requirement = entry.requirement
                rows.append(
                    {
                        "file": _where(workdir, str(entry.path)),
                        "line": entry.lineno,
                        "constraint": constraint,
                        "editable": entry.editable,
                        "name": canonicalize_name(requirement.name) if requirement else None,
                        "specifier": ",".join(sorted(str(s) for s in requirement.specifier))
                        if requirement
                        else "",
                        "extras": sorted(canonicalize_name(e) for e in entry.extras),
                        "marker": str(entry.marker) if entry.marker else None,
                        "link": _link(workdir, entry.link),
                        "hashes": {
                            algorithm: sorted(
                                h.digest for h in entry.hashes if h.algorithm == algorithm
                            )
                            for algorithm in sorted({h.algorithm for h in entry.hashes})
                        },
                        "config_settings": _config_settings(entry.other_options),
                    }
                )
                continue
            assert isinstance(entry, OptionEntry)
            values: dict[str, list[str]] = {}
            for option, value in entry.options:
                values.setdefault(option, []).append(value or "")
            # pip's handle_option_line: one --index-url per line (the last), every
            # --extra-index-url, the first --find-links, and --no-index for good.
            if "--no-index" in values:
                state["no_index"], state["index_urls"] = True, []
            if "--index-url" in values and not state["no_index"]:
                state["index_urls"] = [values["--index-url"][-1]]
            if "--extra-index-url" in values and not state["no_index"]:
                state["index_urls"] += values["--extra-index-url"]
            if "--find-links" in values:
                link = values["--find-links"][0]
                beside = os.path.join(os.path.dirname(path), link)
                state["find_links"].append(
                    "file:" + _where(workdir, beside) if os.path.exists(beside) else link
                )
            state["trusted_hosts"] += values.get("--trusted-host", [])
            for feature in values.get("--use-feature", []):
                if feature not in state["features"]:
                    state["features"].append(feature)
            state["require_hashes"] |= "--require-hashes" in values
            state["prefer_binary"] |= "--prefer-binary" in values
            for value in values.get("--no-binary", []):
                FormatControl.handle_mutual_excludes(value, formats.no_binary, formats.only_binary)
            for value in values.get("--only-binary", []):
                FormatControl.handle_mutual_excludes(value, formats.only_binary, formats.no_binary)
            for value in values.get("--all-releases", []):
                release.handle_mutual_excludes(
                    value, release.all_releases, release.only_final, "all_releases"
                )
            for value in values.get("--only-final", []):
                release.handle_mutual_excludes(
                    value, release.only_final, release.all_releases, "only_final"
                )
            if "--pre" in values:
                release.all_releases.add(":all:")
            include = children.get((path, entry.lineno))
            if include is not None:
                walk(include.child, constraint or include.constraint)

    walk((workdir / root).absolute(), False)
    state["no_binary"] = sorted(formats.no_binary)
    state["only_binary"] = sorted(formats.only_binary)
    state["all_releases"] = sorted(release.all_releases)
    state["only_final"] = sorted(release.only_final)
    return {"ok": True, "requirements": rows, "options": state}


@pytest.mark.parametrize("case_id", [c[0] for c in CASES])
def test_hardenreq_reads_as_pip_does(
    case_id: str,
    oracle: dict[str, tuple[Path, str, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workdir, root, pip = oracle[case_id]
    monkeypatch.chdir(workdir)  # as pip read it
    _compare(case_id, pip, hardenreq_reads(workdir, root))


@pytest.mark.parametrize("case_id", [c[0] for c in LINE_CASES])
def test_each_line_reads_as_pip_reads_it(
    case_id: str,
    oracle: dict[str, tuple[Path, str, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workdir, root, pip = oracle[case_id]
    monkeypatch.chdir(workdir)
    _compare(case_id, pip, hardenreq_reads(workdir, root))


def _compare(case_id: str, pip: dict[str, Any], ours: dict[str, Any]) -> None:
    reason = DELIBERATE.get(case_id.removesuffix(" (CRLF)"))
    if reason is not None:
        # a remote include pip would fetch counts as read (the oracle does not fetch it)
        pip_reads_it = pip["ok"] or pip["error"].startswith("remote include")
        assert pip_reads_it, f"pip refuses it now: {pip['error']} (drop it from DELIBERATE)"
        assert not ours["ok"], f"hardenreq reads it now ({reason})"
    lenient = LENIENT.get(case_id.removesuffix(" (CRLF)"))
    if lenient is not None:
        assert not pip["ok"], f"pip reads it now (drop it from LENIENT): {pip}"
        assert ours["ok"], f"hardenreq refuses it now ({lenient}): {ours['error']}"
        return
    if not ours["ok"]:
        # a refusal names the file and the line
        assert ours["path"], ours
        assert ours["line"] is not None, ours
    if reason is None:
        if not pip["ok"]:
            assert not ours["ok"], f"pip refuses it ({pip['error']}); hardenreq reads {ours}"
        else:
            assert ours["ok"], f"pip reads it; hardenreq refuses it: {ours['error']}"
            assert ours["requirements"] == pip["requirements"]
            assert ours["options"] == pip["options"]


def test_every_fixture_is_in_the_manifest() -> None:
    listed = {(c["dir"], c["root"]) for c in MANIFEST["cases"]}
    roots = {c["dir"] for c in MANIFEST["cases"]}
    assert len(MANIFEST["cases"]) >= 100
    for folder in roots:
        assert (FIXTURES / folder).is_dir(), folder
    for folder, root in listed:
        assert (FIXTURES / folder / root).is_file(), (folder, root)
    known = {c[0] for c in CASES} | {c[0] for c in LINE_CASES}
    assert set(DELIBERATE) <= known
    assert set(LENIENT) <= known
