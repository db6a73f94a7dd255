#!/usr/bin/env python3
"""Benchmark hardenreq against the tools people use for the same job.

Each scenario runs our command and one peer command, interleaved (A, B, A, B, ...), after
one untimed warm-up of each. Every run gets a fresh temporary directory holding a copy of
its input files, and the same environment: a copy of ``os.environ`` without any ``PIP_*``,
``UV_*`` or ``INDEX_URL`` variable and with ``PIP_CONFIG_FILE`` set to the null device, so
neither tool sees this machine's pip configuration (local extra indexes, find-links): both
talk to the default package index only.

Wall time is measured around each child process; peak RSS comes from ``os.wait4``, which
reports ``ru_maxrss`` of the child (on Linux: the largest of the child and the descendants
it waited for, not their sum).

Standard library only. Run ``bench.py --help`` for the scenarios and options.
"""

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

SETS: dict[str, tuple[Path, Path]] = {
    # set name: (pins file, .in file it was resolved from)
    "55": (BENCH_DIR / "pins-55.txt", REPO_DIR / "examples" / "requirements.in"),
    "274": (BENCH_DIR / "pins-274.txt", BENCH_DIR / "requirements-274.in"),
}

SCENARIOS: dict[str, str] = {
    "harden-no-resolve": "add hashes for every file of every release to an already-pinned file",
    "harden-resolve": "resolve a .in and write a hashed lock",
    "verify": "check a hashed lock against the index",
    "refresh": "upgrade an old hashed lock from its .in",
    "verify-pylock": "check a pylock.toml lock against the index (peer: the same lock as "
    "requirements.txt, also checked by hardenreq)",
}

PEERS: dict[str, tuple[str, ...]] = {
    # scenario: allowed peers, default first
    "harden-no-resolve": ("hashin", "uv"),
    "harden-resolve": ("pip-compile", "uv"),
    "verify": ("uv", "hashin", "pip-compile"),
    "refresh": ("pip-compile", "uv"),
    "verify-pylock": ("requirements",),
}

_REQ_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*==\s*([^\s;\\]+)")
_HASH_RE = re.compile(r"--hash[=\s]+(sha256|sha384|sha512):[0-9a-fA-F]+")
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")


TIMED_OUT = -1000  # run_child's exit code for a run killed at --timeout


class BenchError(Exception):
    """A problem that stops the benchmark, with a message for the user."""


# --------------------------------------------------------------------------------------------
# Requirements files
# --------------------------------------------------------------------------------------------


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def logical_lines(text: str) -> list[str]:
    """Requirement-file lines with backslash continuations joined and comments removed."""
    out: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if buf and line.lstrip().startswith("#"):
            # pip drops a comment line in the middle of a continuation
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        out.append(_COMMENT_RE.sub("", buf + line).strip())
        buf = ""
    if buf:
        out.append(_COMMENT_RE.sub("", buf).strip())
    return [line for line in out if line]


def read_pins(path: Path) -> dict[str, str]:
    """``{canonical name: version}`` of every ``name==version`` line of *path*."""
    pins: dict[str, str] = {}
    for line in logical_lines(path.read_text(encoding="utf-8")):
        match = _REQ_RE.match(line)
        if match:
            pins[canonical(match.group(1))] = match.group(3)
    return pins


def pin_specs(path: Path) -> list[str]:
    """``name==version`` arguments for every pin of *path*, in file order."""
    specs: list[str] = []
    for line in logical_lines(path.read_text(encoding="utf-8")):
        match = _REQ_RE.match(line)
        if match:
            specs.append(f"{match.group(1)}=={match.group(3)}")
    return specs


def header_only(path: Path) -> str:
    """The leading comment block of *path* (what is left of a pins file without its pins)."""
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines) + "\n" if lines else ""


def check_hashed(path: Path, expected: dict[str, str] | None) -> str | None:
    """None if every requirement in *path* carries a hash (and *expected* pins are all there).

    Otherwise a short description of what is wrong.
    """
    if not path.is_file():
        return f"no output file {path.name}"
    seen: dict[str, tuple[str, int]] = {}
    unhashed: list[str] = []
    for line in logical_lines(path.read_text(encoding="utf-8")):
        match = _REQ_RE.match(line)
        if not match:
            continue
        name = canonical(match.group(1))
        hashes = len(_HASH_RE.findall(line))
        if hashes == 0:
            unhashed.append(name)
        seen[name] = (match.group(3), max(hashes, seen.get(name, ("", 0))[1]))
    problems: list[str] = []
    if not seen:
        problems.append("no pinned requirements")
    if unhashed:
        problems.append(f"{len(unhashed)} requirement line(s) without hashes: {_few(unhashed)}")
    if expected is not None:
        missing = [n for n in expected if n not in seen]
        if missing:
            problems.append(f"{len(missing)} pin(s) missing: {_few(missing)}")
        moved = [
            f"{n} {seen[n][0]}!={v}" for n, v in expected.items() if n in seen and seen[n][0] != v
        ]
        if moved:
            problems.append(f"{len(moved)} version(s) differ: {_few(moved)}")
    return "; ".join(problems) or None


def _few(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... (+{len(items) - limit})" if len(items) > limit else "")


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


@dataclass
class Invocation:
    """One prepared run: what to start inside the run directory, and how to check it."""

    argv: list[str]
    check: Callable[[Path], str | None]


@dataclass
class Tool:
    """A benchmarked side: a label and a recipe that prepares a run directory."""

    label: str
    prepare: Callable[[Path], Invocation]


@dataclass
class Context:
    """Everything a recipe needs: inputs, fixtures and the command prefixes."""

    pins: Path
    req_in: Path
    python_version: str
    hardenreq: list[str]
    hashin: list[str]
    pip_compile: list[str]
    uv: list[str]
    lock: Path | None = None  # hashed lock of the pins (verify)
    old_lock: Path | None = None  # hashed lock of req_in from an earlier date (refresh)
    pylock: Path | None = None  # the hashed lock as pylock.toml (verify-pylock)
    extra_ours: list[str] = field(default_factory=list)


def _copy(src: Path, run_dir: Path, name: str) -> str:
    shutil.copyfile(src, run_dir / name)
    return name


def _ok_exit(_: Path) -> str | None:
    return None


def _hashed(name: str, expected: dict[str, str] | None) -> Callable[[Path], str | None]:
    return lambda run_dir: check_hashed(run_dir / name, expected)


def _refreshed(old: Path) -> Callable[[Path], str | None]:
    """Check: hashed, and at least one pin moved away from the old lock."""

    def check(run_dir: Path) -> str | None:
        out = run_dir / "requirements.txt"
        problem = check_hashed(out, None)
        if problem is None and read_pins(out) == read_pins(old):
            problem = "no pin changed: nothing was upgraded"
        return problem

    return check


def ours_tool(scenario: str, ctx: Context) -> Tool:
    hr = ctx.hardenreq
    extra = ctx.extra_ours

    def prepare(run_dir: Path) -> Invocation:
        if scenario == "harden-no-resolve":
            f = _copy(ctx.pins, run_dir, "requirements.txt")
            argv = [*hr, "harden", "--no-resolve", "--no-pip-conf", "--quiet", *extra, f]
            return Invocation(argv, _hashed(f, read_pins(ctx.pins)))
        if scenario == "harden-resolve":
            f = _copy(ctx.req_in, run_dir, "requirements.in")
            argv = [*hr, "harden", "--no-pip-conf", "--quiet", *extra, f, "-o", "requirements.txt"]
            return Invocation(argv, _hashed("requirements.txt", None))
        if scenario == "verify":
            assert ctx.lock is not None
            f = _copy(ctx.lock, run_dir, "requirements.txt")
            return Invocation([*hr, "verify", *extra, f], _ok_exit)
        if scenario == "refresh":
            assert ctx.old_lock is not None
            f = _copy(ctx.req_in, run_dir, "requirements.in")
            _copy(ctx.old_lock, run_dir, "requirements.txt")
            argv = [*hr, "refresh", *extra, f, "-o", "requirements.txt"]
            return Invocation(argv, _refreshed(ctx.old_lock))
        if scenario == "verify-pylock":
            assert ctx.pylock is not None
            f = _copy(ctx.pylock, run_dir, "pylock.toml")
            return Invocation([*hr, "verify", *extra, f], _ok_exit)
        raise BenchError(f"unknown scenario {scenario}")

    return Tool("hardenreq", prepare)


def peer_tool(scenario: str, peer: str, ctx: Context) -> Tool:
    py = ["--python-version", ctx.python_version]

    def hashin(run_dir: Path, pins_file: Path) -> Invocation:
        # hashin rewrites the file it is given, but it names each project as the index
        # displays it (prompt_toolkit, pydantic_core, Django) and only finds an existing
        # line by that name: a `prompt-toolkit==...` line stays unhashed and a hashed
        # duplicate is appended. So it gets the pins file's header only and appends every
        # pin with its hashes: the same result file, and no broken output.
        (run_dir / "requirements.txt").write_text(header_only(pins_file), encoding="utf-8")
        argv = [*ctx.hashin, "-r", "requirements.txt", *pin_specs(pins_file)]
        return Invocation(argv, _hashed("requirements.txt", read_pins(pins_file)))

    def uv_compile(run_dir: Path, *flags: str) -> Invocation:
        f = _copy(ctx.req_in, run_dir, "requirements.in")
        argv = [*ctx.uv, "pip", "compile", *flags, "--generate-hashes", "--no-cache", *py]
        return Invocation(
            [*argv, "--quiet", f, "-o", "requirements.txt"], _hashed("requirements.txt", None)
        )

    def pip_compile(run_dir: Path, *flags: str) -> Invocation:
        f = _copy(ctx.req_in, run_dir, "requirements.in")
        argv = [*ctx.pip_compile, *flags, "--generate-hashes", "--quiet", f]
        return Invocation([*argv, "-o", "requirements.txt"], _hashed("requirements.txt", None))

    def prepare(run_dir: Path) -> Invocation:
        if scenario == "harden-no-resolve":
            if peer == "hashin":
                return hashin(run_dir, ctx.pins)
            f = _copy(ctx.pins, run_dir, "pins.txt")
            argv = [*ctx.uv, "pip", "compile", "--no-deps", "--generate-hashes", "--no-cache"]
            return Invocation(
                [*argv, *py, "--quiet", f, "-o", "requirements.txt"],
                _hashed("requirements.txt", read_pins(ctx.pins)),
            )
        if scenario in ("harden-resolve", "verify"):
            if peer == "hashin":
                assert ctx.lock is not None
                return hashin(run_dir, ctx.lock)
            return uv_compile(run_dir) if peer == "uv" else pip_compile(run_dir)
        if scenario == "refresh":
            assert ctx.old_lock is not None
            _copy(ctx.old_lock, run_dir, "requirements.txt")
            inv = (
                uv_compile(run_dir, "--upgrade")
                if peer == "uv"
                else pip_compile(run_dir, "--upgrade")
            )
            inv.check = _refreshed(ctx.old_lock)
            return inv
        if scenario == "verify-pylock":
            # The same pins and hashes as requirements.txt, checked by the same hardenreq:
            # the same network work, so the ratio is the cost of the format alone.
            assert ctx.lock is not None
            f = _copy(ctx.lock, run_dir, "requirements.txt")
            return Invocation([*ctx.hardenreq, "verify", *ctx.extra_ours, f], _ok_exit)
        raise BenchError(f"unknown scenario {scenario}")

    return Tool(peer, prepare)


#: The scenarios whose network work is the simple page of each pin, which the limit fetches.
LIMITED = ("harden-no-resolve", "verify", "verify-pylock")
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

#: The limit without curl: every page at once over HTTP/2 with httpx (the venv's), bodies
#: read and dropped.
_RAW_FETCH = """
import asyncio, sys, httpx
async def main():
    urls = open(sys.argv[2], encoding="utf-8").read().split()
    async with httpx.AsyncClient(http2=True, timeout=60) as client:
        async def one(url):
            async with client.stream("GET", url, headers={"Accept": sys.argv[1]}) as r:
                r.raise_for_status()
                async for _ in r.aiter_raw():
                    pass
        await asyncio.gather(*(one(u) for u in urls))
asyncio.run(main())
"""


def default_index() -> str:
    """pip's own default index (the one the runs use: no pip configuration is read)."""
    try:
        from pip._internal.models.index import PyPI
    except ImportError as exc:
        raise BenchError("pip is needed to know its default index (or pass --index-url)") from exc
    return str(PyPI.simple_url)


def limit_tool(names: Sequence[str], index: str, curl: list[str]) -> Tool:
    """What the network allows: the same simple pages fetched in parallel and dropped,
    with curl (``--parallel --http2``) where it is installed, else a raw httpx fetch."""
    urls = [f"{index.rstrip('/')}/{name}/" for name in names]

    def prepare(run_dir: Path) -> Invocation:
        if curl:
            config = run_dir / "urls.cfg"
            config.write_text(
                "".join(f'url = "{u}"\noutput = "/dev/null"\n' for u in urls), encoding="utf-8"
            )
            argv = [*curl, "--parallel", "--parallel-max", "64", "--http2", "--compressed"]
            argv += ["--fail", "--silent", "--show-error", "-H", f"Accept: {SIMPLE_JSON}"]
            return Invocation([*argv, "-K", str(config)], _ok_exit)
        (run_dir / "urls.txt").write_text("\n".join(urls), encoding="utf-8")
        return Invocation([sys.executable, "-c", _RAW_FETCH, SIMPLE_JSON, "urls.txt"], _ok_exit)

    return Tool("limit", prepare)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def bench_env() -> dict[str, str]:
    """The environment of every run: no pip/uv settings from this machine, and Python's
    bytecode cache allowed."""
    env = {
        k: v
        for k, v in os.environ.items()
        # INDEX_URL is hashin's own setting for its index; without PYTHONDONTWRITEBYTECODE
        # the warm-up writes the bytecode cache, which an installed package has
        if not k.startswith(("PIP_", "UV_")) and k not in ("INDEX_URL", "PYTHONDONTWRITEBYTECODE")
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


@dataclass
class RunResult:
    tool: str
    round: int  # 0 = warm-up
    wall_s: float
    maxrss_kib: int
    returncode: int
    check: str | None  # None = output looked right
    stderr_tail: str = ""


def run_child(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[float, int, int]:
    """Start *argv*, wait with ``os.wait4``; return (wall seconds, ru_maxrss KiB, exit code)."""
    with open(cwd / "stdout.log", "wb") as out, open(cwd / "stderr.log", "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        fired = threading.Event()
        timer = threading.Timer(timeout, _kill_group, args=(proc.pid, fired))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped by wait4: keep Popen from waiting again
    if fired.is_set():
        code = TIMED_OUT
    return wall, usage.ru_maxrss, code


def _kill_group(pid: int, fired: threading.Event) -> None:
    fired.set()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def run_tool(tool: Tool, round_no: int, args: argparse.Namespace, env: dict[str, str]) -> RunResult:
    runs_dir = args.work_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{tool.label}-r{round_no}-", dir=runs_dir))
    try:
        inv = tool.prepare(run_dir)
        if args.verbose:
            print(
                f"  [{tool.label} r{round_no}] {_show(inv.argv)}  (cwd {run_dir})", file=sys.stderr
            )
        wall, rss, code = run_child(inv.argv, run_dir, env, args.timeout)
        tail = ""
        if code != 0:
            err = (run_dir / "stderr.log").read_text(encoding="utf-8", errors="replace")
            tail = "\n".join(err.strip().splitlines()[-15:])
            check: str | None = (
                f"timed out after {args.timeout:g} s" if code == TIMED_OUT else f"exit code {code}"
            )
        else:
            check = None if args.no_check else inv.check(run_dir)
        if args.verbose:
            print(
                f"  [{tool.label} r{round_no}] {wall:.2f} s, {rss / 1024:.0f} MiB, {check or 'ok'}",
                file=sys.stderr,
            )
        return RunResult(tool.label, round_no, wall, rss, code, check, tail)
    finally:
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)


def _show(argv: Sequence[str], limit: int = 12) -> str:
    """A command line for display, with long argument lists (hashin's pins) shortened."""
    if len(argv) <= limit:
        return shlex.join(argv)
    return shlex.join(argv[:limit]) + f" ... (+{len(argv) - limit} more arguments)"


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def make_fixture(out: Path, argv: list[str], env: dict[str, str], what: str) -> Path:
    """Run *argv* (which writes *out*) unless *out* already exists from an earlier run."""
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"making {what}: {_show(argv)}", file=sys.stderr)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not out.is_file():
        out.unlink(missing_ok=True)
        raise BenchError(f"could not make {what}:\n{proc.stderr.strip()}")
    return out


def hashed_lock(ctx: Context, args: argparse.Namespace, env: dict[str, str]) -> Path:
    """The pins file, hashed by uv (``--no-deps``: exactly these pins, no re-resolution)."""
    text = ctx.pins.read_text(encoding="utf-8")
    out = args.work_dir / "fixtures" / f"lock-{_digest(text, ctx.python_version)}.txt"
    argv = [
        *ctx.uv,
        "pip",
        "compile",
        "--no-deps",
        "--generate-hashes",
        "--no-cache",
        "--python-version",
        ctx.python_version,
        "--quiet",
        str(ctx.pins),
        "-o",
        str(out),
    ]
    return make_fixture(out, argv, env, f"hashed lock of {ctx.pins.name}")


def pylock_of(ctx: Context, args: argparse.Namespace, env: dict[str, str]) -> Path:
    """The hashed lock (``hashed_lock``) as pylock.toml, by ``hardenreq convert``: each
    hash's file (URL, size, upload time) from the index."""
    assert ctx.lock is not None
    text = ctx.lock.read_text(encoding="utf-8")
    folder = args.work_dir / "fixtures" / f"pylock-{_digest(text)}"
    out = folder / "pylock.toml"
    argv = [*ctx.hardenreq, "convert", "--quiet", str(ctx.lock), str(out)]
    return make_fixture(out, argv, env, f"pylock.toml of {ctx.lock.name}")


def old_lock(ctx: Context, args: argparse.Namespace, env: dict[str, str]) -> Path:
    """A hashed lock of the .in as it resolved on ``--old-date`` (uv ``--exclude-newer``)."""
    text = ctx.req_in.read_text(encoding="utf-8")
    date = args.old_date
    out = args.work_dir / "fixtures" / f"old-lock-{date}-{_digest(text, ctx.python_version)}.txt"
    argv = [
        *ctx.uv,
        "pip",
        "compile",
        "--generate-hashes",
        "--no-cache",
        "--exclude-newer",
        date,
        "--python-version",
        ctx.python_version,
        "--quiet",
        str(ctx.req_in),
        "-o",
        str(out),
    ]
    return make_fixture(out, argv, env, f"lock of {ctx.req_in.name} as of {date}")


# --------------------------------------------------------------------------------------------
# Statistics and output
# --------------------------------------------------------------------------------------------


@dataclass
class Summary:
    """Timed runs of one tool (the warm-up left out)."""

    runs: int
    wall_s: list[float]
    median_s: float | None
    min_s: float | None
    max_s: float | None
    maxrss_kib: list[int]
    median_maxrss_mib: float | None
    max_maxrss_mib: float | None
    failed_checks: list[str]


def summarize(results: list[RunResult], label: str) -> Summary:
    timed = [r for r in results if r.tool == label and r.round > 0]
    walls = [r.wall_s for r in timed]
    rss = [r.maxrss_kib for r in timed]
    return Summary(
        runs=len(timed),
        wall_s=walls,
        median_s=statistics.median(walls) if walls else None,
        min_s=min(walls) if walls else None,
        max_s=max(walls) if walls else None,
        maxrss_kib=rss,
        median_maxrss_mib=statistics.median(rss) / 1024 if rss else None,
        max_maxrss_mib=max(rss) / 1024 if rss else None,
        failed_checks=[f"round {r.round}: {r.check}" for r in timed if r.check],
    )


def round_ratios(results: list[RunResult], ours: str, peer: str) -> list[float]:
    """ours / peer wall time of each timed round."""
    by_round: dict[int, dict[str, float]] = {}
    for r in results:
        if r.round > 0:
            by_round.setdefault(r.round, {})[r.tool] = r.wall_s
    return [t[ours] / t[peer] for _, t in sorted(by_round.items()) if ours in t and peer in t]


def ratio_of_mins(summaries: dict[str, Summary], labels: list[str]) -> float | None:
    """ours min / peer min: less sensitive to stalls (slow DNS, a slow index response)."""
    if len(labels) != 2:
        return None
    ours, peer = summaries[labels[0]].min_s, summaries[labels[1]].min_s
    return ours / peer if ours is not None and peer else None


@dataclass
class Report:
    scenario: str
    set: str
    inputs: dict[str, str]
    peer: str
    runs: int
    commands: dict[str, list[str]]
    tools: dict[str, Summary]
    round_ratios: list[float]
    median_ratio: float | None
    ratio_of_mins: float | None
    #: ours / limit per round (the raw parallel fetch of the same pages), and its median.
    limit_ratios: list[float]
    median_limit_ratio: float | None
    target: float | None
    target_pass: bool | None
    results: list[RunResult]
    versions: dict[str, str]
    machine: dict[str, str]
    env: str


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(report: Report) -> None:
    print(f"scenario  {report.scenario}: {SCENARIOS[report.scenario]}")
    for key, value in report.inputs.items():
        print(f"{key:<10}{value}")
    print(f"runs      {report.runs} per tool, interleaved, after 1 untimed warm-up each")
    for label, cmd in report.commands.items():
        print(f"{label + ':':<12}{_show(cmd)}")
    print()
    head = f"{'tool':<12}{'median s':>10}{'min s':>9}{'max s':>9}{'peak RSS MiB':>14}  checks"
    print(head)
    print("-" * len(head))
    for label, s in report.tools.items():
        checks = f"{len(s.failed_checks)} failed" if s.failed_checks else "ok"
        print(
            f"{label:<12}{_fmt(s.median_s, '10.2f')}{_fmt(s.min_s, '9.2f')}"
            f"{_fmt(s.max_s, '9.2f')}{_fmt(s.median_maxrss_mib, '14.0f')}  {checks}"
        )
    if report.median_ratio is not None:
        line = f"\nratio ours/peer (median of per-round ratios): {report.median_ratio:.3f}"
        if report.target is not None:
            verdict = "PASS" if report.target_pass else "FAIL"
            line += f"   target <= {report.target}: {verdict}"
        print(line)
    if report.ratio_of_mins is not None:
        print(f"ratio of fastest runs (ours min / peer min):    {report.ratio_of_mins:.3f}")
    if report.median_limit_ratio is not None:
        spread = f"min {min(report.limit_ratios):.2f}, max {max(report.limit_ratios):.2f}"
        print(
            f"ratio ours/limit (median of per-round ratios): {report.median_limit_ratio:.3f}"
            f"   ({spread})"
        )
    for label, s in report.tools.items():
        for fail in s.failed_checks:
            print(f"check failed, {label}, {fail}")


def tool_versions(ctx: Context, env: dict[str, str], include_ours: bool) -> dict[str, str]:
    versions: dict[str, str] = {}
    cmds = {"hashin": ctx.hashin, "pip-compile": ctx.pip_compile, "uv": ctx.uv}
    if include_ours:
        cmds["hardenreq"] = ctx.hardenreq
    for label, cmd in cmds.items():
        if not cmd:
            continue
        try:
            proc = subprocess.run(
                [*cmd, "--version"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            versions[label] = (proc.stdout.strip() or proc.stderr.strip()).splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            versions[label] = "?"
    return versions


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def _absolute(argv: list[str]) -> list[str]:
    """*argv* with a relative program path made absolute (runs start in their own folder)."""
    if argv and os.sep in argv[0] and not os.path.isabs(argv[0]):
        return [os.path.abspath(argv[0]), *argv[1:]]
    return argv


def find_cmd(name: str, override: str | None) -> list[str]:
    """The command prefix for *name*: the override, PATH, or next to this Python."""
    if override:
        return _absolute(shlex.split(override))
    found = shutil.which(name)
    if found:
        return [found]
    beside = Path(sys.executable).parent / name
    return [str(beside)] if beside.is_file() else []


def default_hardenreq() -> str | None:
    local = REPO_DIR / ".venv" / "bin" / "hardenreq"
    if local.is_file():
        return str(local)
    return shutil.which("hardenreq")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Benchmark hardenreq against peer tools (interleaved runs, medians).",
        epilog="Scenarios: " + "; ".join(f"{k}: {v}" for k, v in SCENARIOS.items()),
    )
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument(
        "--set",
        choices=sorted(SETS),
        default="55",
        dest="pin_set",
        help="input set: 55 (examples/requirements.in) or 274 "
        "(benchmarks/requirements-274.in); default 55",
    )
    ap.add_argument("--pins", type=Path, help="pins file (overrides --set's)")
    ap.add_argument("--in", type=Path, dest="req_in", help=".in file (overrides --set's)")
    ap.add_argument(
        "--peer",
        help="peer tool; per scenario: "
        + "; ".join(f"{k}: {'|'.join(v)}" for k, v in PEERS.items())
        + " (default: the first; verify with --set 274: hashin)",
    )
    ap.add_argument("--runs", type=int, default=5, help="timed runs per tool (default 5)")
    ap.add_argument("--target", type=float, help="pass if median ours/peer ratio <= this")
    ap.add_argument("--limit-target", type=float, help="pass if median ours/limit ratio <= this")
    ap.add_argument("--rss-target", type=float, help="pass if our peak RSS (max) <= this MiB")
    ap.add_argument("--hardenreq-cmd", help="our command (default: .venv/bin/hardenreq or PATH)")
    ap.add_argument(
        "--ours-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for our command (repeatable)",
    )
    ap.add_argument("--hashin-cmd", help="default: hashin on PATH or beside this Python")
    ap.add_argument("--pip-compile-cmd", help="default: pip-compile on PATH or beside this Python")
    ap.add_argument("--uv-cmd", help="default: uv on PATH or beside this Python")
    ap.add_argument(
        "--python-version",
        default="3.11",
        help="target Python for uv and the fixtures (default 3.11)",
    )
    ap.add_argument(
        "--old-date",
        default=(dt.datetime.now(dt.UTC).date() - dt.timedelta(days=183)).isoformat(),
        help="refresh: the old lock resolves as of this date (default: 183 days ago)",
    )
    ap.add_argument("--only-peer", action="store_true", help="run the peer only")
    ap.add_argument(
        "--no-limit",
        action="store_true",
        help="do not time the limit (the raw parallel fetch of the same simple pages)",
    )
    ap.add_argument(
        "--curl-cmd",
        help="curl for the limit (default: curl on PATH; '' for a raw httpx fetch instead)",
    )
    ap.add_argument("--index-url", help="the limit's index (default: pip's default index)")
    ap.add_argument("--only-ours", action="store_true", help="run hardenreq only")
    ap.add_argument("--no-check", action="store_true", help="do not check the outputs")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per run, seconds")
    ap.add_argument(
        "--work-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "hardenreq-bench",
        help="run directories and cached fixtures (default: $TMPDIR/hardenreq-bench)",
    )
    ap.add_argument("--keep", action="store_true", help="keep each run's directory")
    ap.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="write the results as JSON to PATH (or stdout, instead of the table)",
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="print each run")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if args.only_peer and args.only_ours:
        ap.error("--only-peer and --only-ours exclude each other")
    allowed = PEERS[args.scenario]
    if args.peer is None:
        args.peer = "hashin" if args.scenario == "verify" and args.pin_set == "274" else allowed[0]
    elif args.peer not in allowed:
        ap.error(f"--peer for {args.scenario}: one of {', '.join(allowed)}")
    args.work_dir = args.work_dir.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    pins, req_in = SETS[args.pin_set]
    pins = (args.pins or pins).resolve()
    req_in = (args.req_in or req_in).resolve()
    env = bench_env()

    hr_cmd = args.hardenreq_cmd or default_hardenreq()
    ctx = Context(
        pins=pins,
        req_in=req_in,
        python_version=args.python_version,
        hardenreq=_absolute(shlex.split(hr_cmd)) if hr_cmd else [],
        hashin=find_cmd("hashin", args.hashin_cmd),
        pip_compile=find_cmd("pip-compile", args.pip_compile_cmd),
        uv=find_cmd("uv", args.uv_cmd),
        extra_ours=list(args.ours_arg),
    )
    need = {
        "hashin": ctx.hashin,
        "pip-compile": ctx.pip_compile,
        "uv": ctx.uv,
        "requirements": ctx.hardenreq,
    }
    missing = [] if args.only_ours or need[args.peer] else [args.peer]
    if not args.only_peer and not ctx.hardenreq:
        missing.append("hardenreq (use --hardenreq-cmd or --only-peer)")
    if args.scenario in ("verify", "refresh", "verify-pylock") and not ctx.uv:
        missing.append("uv (makes the fixtures)")
    if missing:
        raise BenchError("not found: " + ", ".join(missing))

    if args.scenario in ("verify", "verify-pylock"):
        ctx.lock = hashed_lock(ctx, args, env)
    if args.scenario == "verify-pylock":
        ctx.pylock = pylock_of(ctx, args, env)
    if args.scenario == "refresh":
        ctx.old_lock = old_lock(ctx, args, env)

    tools: list[Tool] = []
    if not args.only_peer:
        tools.append(ours_tool(args.scenario, ctx))
    if not args.only_ours:
        tools.append(peer_tool(args.scenario, args.peer, ctx))
    if args.scenario in LIMITED and not args.no_limit:
        names = list(read_pins(ctx.lock or pins))
        curl = [] if args.curl_cmd == "" else find_cmd("curl", args.curl_cmd)
        tools.append(limit_tool(names, args.index_url or default_index(), curl))

    results: list[RunResult] = []
    for round_no in range(args.runs + 1):  # round 0 is the warm-up
        for tool in tools:
            result = run_tool(tool, round_no, args, env)
            results.append(result)
            if round_no == 0 and result.returncode != 0:
                raise BenchError(
                    f"warm-up of {tool.label} failed ({result.check}):\n{result.stderr_tail}"
                )

    commands: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as probe:  # the command lines, for the record
        for tool in tools:
            commands[tool.label] = tool.prepare(Path(probe)).argv
    labels = [t.label for t in tools if t.label != "limit"]
    ratios = round_ratios(results, labels[0], labels[1]) if len(labels) == 2 else []
    limit_ratios = (
        round_ratios(results, "hardenreq", "limit")
        if any(t.label == "limit" for t in tools) and not args.only_peer
        else []
    )
    median_ratio = statistics.median(ratios) if ratios else None
    summaries = {t.label: summarize(results, t.label) for t in tools}
    inputs: dict[str, str] = {}
    if args.scenario == "harden-no-resolve" or (
        args.scenario == "verify" and args.peer == "hashin"
    ):
        inputs["pins"] = str(pins)
    if args.scenario != "harden-no-resolve":
        inputs["in"] = str(req_in)
    if ctx.lock:
        inputs["lock"] = str(ctx.lock)
    if ctx.pylock:
        inputs["pylock"] = str(ctx.pylock)
    if ctx.old_lock:
        inputs["old lock"] = f"{ctx.old_lock} (as of {args.old_date})"
    report = Report(
        scenario=args.scenario,
        set=args.pin_set,
        inputs=inputs,
        peer=args.peer,
        runs=args.runs,
        commands=commands,
        tools=summaries,
        round_ratios=ratios,
        median_ratio=median_ratio,
        ratio_of_mins=ratio_of_mins(summaries, labels),
        limit_ratios=limit_ratios,
        median_limit_ratio=statistics.median(limit_ratios) if limit_ratios else None,
        target=args.target,
        target_pass=(
            median_ratio <= args.target
            if median_ratio is not None and args.target is not None
            else None
        ),
        results=results,
        versions=tool_versions(ctx, env, include_ours=not args.only_peer),
        machine={
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": str(os.cpu_count()),
        },
        env="os.environ without PIP_*, UV_*, INDEX_URL; PIP_CONFIG_FILE=" + os.devnull,
    )
    if args.json == "-":
        json.dump(asdict(report), sys.stdout, indent=2)
        print()
    else:
        print_table(report)
        if args.json:
            text = json.dumps(asdict(report), indent=2) + "\n"
            Path(args.json).write_text(text, encoding="utf-8")
    failed = any(r.check for r in results if r.round > 0)
    verdicts = [report.target_pass]
    if args.limit_target is not None and report.median_limit_ratio is not None:
        verdicts.append(report.median_limit_ratio <= args.limit_target)
        print(f"limit target <= {args.limit_target}: {'PASS' if verdicts[-1] else 'FAIL'}")
    ours = summaries.get("hardenreq")
    if args.rss_target is not None and ours is not None and ours.max_maxrss_mib is not None:
        verdicts.append(ours.max_maxrss_mib <= args.rss_target)
        print(
            f"peak RSS {ours.max_maxrss_mib:.0f} MiB, target <= {args.rss_target:g}: "
            f"{'PASS' if verdicts[-1] else 'FAIL'}"
        )
    if False in verdicts:
        return 1
    return 2 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        sys.exit(3)
    except KeyboardInterrupt:
        sys.exit(130)
