"""What the advisory check adds to `hardenreq verify`: interleaved runs of verify on a hashed
lock with the check off (`--no-advisories`) and on (against a loopback OSV API started here,
so the figure is the check's own cost, not a remote API's latency).

    python benchmarks/advisories.py [--pins benchmarks/pins-274.txt] [--runs 7]
        [--records DIR ...] [--hardenreq-cmd .venv/bin/hardenreq] [--json PATH]

The lock is built first with `hardenreq harden --no-resolve --no-advisories` on a copy of the
pins, against the index pip would use (the index is needed; pip's configuration is turned off
with PIP_CONFIG_FILE=/dev/null and PIP_FIND_LINKS unset, as for bench.py). `--records` adds
folders of OSV JSON for the OSV API to serve (default: tests/data/osv); give it a converted
copy of pypa/advisory-database for a realistic number of hits. Runs alternate ABBA so that
drift in the index's speed falls on both sides; medians are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.osv import RECORDS, OsvServer, load_records  # noqa: E402


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    env.pop("HARDENREQ_OSV_URL", None)
    return env


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time, and CPU time (user + system) of the process: on a shared machine the CPU
    time is the steadier measure of the work itself."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pins", type=Path, default=ROOT / "benchmarks" / "pins-274.txt")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--records", type=Path, action="append", default=[])
    parser.add_argument("--hardenreq-cmd", default=str(Path(sys.executable).with_name("hardenreq")))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    env = _environment()
    records = [r for folder in (args.records or [RECORDS]) for r in load_records(folder)]
    with tempfile.TemporaryDirectory(prefix="hardenreq-bench-") as scratch:
        lock = Path(scratch) / "requirements.txt"
        shutil.copyfile(args.pins, lock)
        build = [args.hardenreq_cmd, "harden", "--no-resolve", "--no-pip-conf", "--quiet",
                 "--no-advisories", str(lock)]  # fmt: skip
        print(f"hashing {args.pins.name} ...", file=sys.stderr)
        subprocess.run(build, env=env, check=True)
        with OsvServer(records) as osv:
            off = [args.hardenreq_cmd, "verify", "--no-advisories", str(lock)]
            on = [args.hardenreq_cmd, "verify", "--osv-url", osv.url, str(lock)]
            _timed(on, env)  # warm-up: caches, connections of the OS
            osv.clear_requests()
            times: dict[str, list[float]] = {"off": [], "on": []}
            cpu: dict[str, list[float]] = {"off": [], "on": []}
            for run in range(args.runs):
                order = (("off", off), ("on", on)) if run % 2 == 0 else (("on", on), ("off", off))
                for name, command in order:
                    wall, used = _timed(command, env)
                    times[name].append(round(wall, 3))
                    cpu[name].append(round(used, 3))
            requests = osv.requests
    per_run = len(requests) / args.runs
    batches = sum(1 for r in requests if r.path == "/v1/querybatch") / args.runs
    off_median, on_median = statistics.median(times["off"]), statistics.median(times["on"])
    summary = {
        "pins": sum(1 for line in args.pins.read_text().splitlines() if "==" in line),
        "records_served": len(records),
        "runs": args.runs,
        "off_s": times["off"],
        "on_s": times["on"],
        "off_median_s": round(off_median, 3),
        "on_median_s": round(on_median, 3),
        "overhead": round(on_median / off_median - 1, 4),
        "off_cpu_s": cpu["off"],
        "on_cpu_s": cpu["on"],
        "cpu_overhead": round(statistics.median(cpu["on"]) / statistics.median(cpu["off"]) - 1, 4),
        "load_average": os.getloadavg(),
        "osv_requests_per_run": per_run,
        "querybatch_per_run": batches,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
