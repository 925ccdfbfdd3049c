"""Run every benchmark, print one table, write the combined JSON (what ``nox -s bench`` runs).

Each benchmark script runs in its own process (so none inherits another's heap, imports
or event loop) and writes ``benchmarks/results/<name>.json``; this script then prints the
rows of all of them as one table (benchmark, ours, baseline, paired ratio, target, met?)
and writes ``benchmarks/results/run-<UTC time>.json`` and ``latest.json``; a full run
(neither ``--quick`` nor ``--only``) also writes ``reference.json``, the run the README
table shows, with the commit, Python, CPU and load average (start and end) it ran at.
It reports numbers; it never fails because a target was missed (only if a benchmark crashes).

B5 (bulk release against a 200 req/s server limit) reports no rows, and says so, when the
package has no ``client.bulk`` yet; B8 (three replicas sharing a limit) likewise when
``redis-server`` is not installed, and B10 (one bulk job on 1, 2 and 4 workers sharing a
Redis journal) too.

Run: ``python benchmarks/run_all.py [--quick] [--only b1,b3] [--no-sdk]``
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

from _common import BENCH_DIR, RESULTS_DIR, format_table, machine, pythonpath

#: (script, its arguments for a full run, for a --quick run)
BENCHMARKS: list[tuple[str, list[str], list[str]]] = [
    ("b1_get", ["--rounds", "9", "--requests", "4000"], ["--rounds", "3", "--requests", "2000"]),
    ("b2_decode", ["--rounds", "9", "--repeat", "300"], ["--rounds", "3", "--repeat", "100"]),
    ("b3_list", ["--rounds", "5"], ["--rounds", "2"]),
    ("b4_latency", ["--rounds", "5"], ["--rounds", "2"]),
    ("b5_rate_limit", ["--rounds", "2"], ["--rounds", "1"]),
    ("b6_memory", ["--rounds", "3"], ["--rounds", "1"]),
    ("b7_import", ["--rounds", "15"], ["--rounds", "5"]),
    ("b8_replicas", ["--seconds", "60", "--rounds", "5"], ["--quick"]),
    # Without --without (a checkout of the commit before observability), B9 compares the
    # ways of watching a client with each other, not with the client before them.
    ("b9_observability", ["--rounds", "9"], ["--rounds", "3", "--requests", "2000"]),
    ("b10_journal_workers", [], ["--quick"]),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--only", default="", help="comma-separated prefixes, e.g. b1,b3")
    parser.add_argument("--no-sdk", action="store_true", help="B3 without the official SDK")
    args = parser.parse_args()
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": pythonpath()}
    documents = []
    failed = []
    started = time.perf_counter()
    load_at_start = machine()["load_average"]
    for name, full, quick in BENCHMARKS:
        if wanted and not any(name.startswith(prefix) for prefix in wanted):
            continue
        options = quick if args.quick else full
        if name == "b3_list" and args.no_sdk:
            options = [*options, "--no-sdk"]
        out = RESULTS_DIR / f"{name}.json"
        print(f"== {name} {' '.join(options)}", flush=True)
        command = [sys.executable, str(BENCH_DIR / f"{name}.py"), *options, "--out", str(out)]
        if subprocess.run(command, env=env, check=False).returncode != 0:
            failed.append(name)
            continue
        documents.append(json.loads(out.read_text()))
    rows = [row for document in documents for row in document["rows"]]
    when = datetime.datetime.now(datetime.timezone.utc)
    info = machine()
    combined = {
        "when": when.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 1),
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "machine": info,
        "load_average_at_start": load_at_start,
        "failed": failed,
        "benchmarks": documents,
    }
    text = json.dumps(combined, indent=2) + "\n"
    (RESULTS_DIR / f"run-{when:%Y%m%dT%H%M%SZ}.json").write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    if not args.quick and not wanted and not failed:
        (RESULTS_DIR / "reference.json").write_text(text)
    print(f"\n{info['cpu']}, {info['cores']} cores, Python {info['python']}, {info['system']}")
    print(f"commit {info['commit']}")
    print(
        f"load average at the start: {load_at_start}, at the end: {info['load_average']}; "
        f"{combined['seconds']} s in all\n"
    )
    print(format_table(rows))
    skipped = [d["benchmark"] for d in documents if d["params"].get("skipped")]
    if skipped:
        print(f"\nskipped (not available in this version): {', '.join(skipped)}")
    if failed:
        print(f"\nbenchmarks that crashed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
