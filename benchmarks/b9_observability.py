"""B9: what observability costs: B1's ``active_numbers.get`` at concurrency 64, watched or not.

What is measured: requests per second for ``--requests`` calls of
``client.active_numbers.get(phone)`` kept 64 at a time in flight, as in B1, by a client
that is

- ``unconfigured``: no event hooks, OpenTelemetry installed but no provider configured —
  the default, which must cost next to nothing;
- ``tracing_off``: ``tracing=False``;
- ``hook``: one no-op ``response`` hook (so every call is watched, without OpenTelemetry);
- ``sdk``: the OpenTelemetry SDK given as the client's providers, spans going to an
  in-memory exporter through a ``SimpleSpanProcessor`` and metrics to an in-memory reader:
  the cost of recording a span per operation, one per HTTP request, and their metrics;
- with ``--without DIR``: the same unconfigured client of another checkout (the commit
  before observability), the baseline the unconfigured client must stay within 2 % of.

How: one loopback server (``_server.py fixed``, as B1) for all; each measurement runs in
a fresh process (``_b9_child.py``, whose ``PYTHONPATH`` picks the checkout), warms up,
then times the calls; the contenders alternate, the order rotating every round. With
``--calls N`` each child also counts, under cProfile, the Python function calls per
request over N more calls: a deterministic check beside the noisy rates.

Run: ``python benchmarks/b9_observability.py [--rounds 9] [--requests 4000]
[--without DIR] [--calls 2000]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from _common import (
    BENCH_DIR,
    REPO_DIR,
    Row,
    ServerInfo,
    Stat,
    alternate,
    paired_ratio,
    report,
    server,
)
from _common import parser as benchmark_parser
from _payloads import phone_number

CHILD = BENCH_DIR / "_b9_child.py"


def run_child(
    info: ServerInfo, mode: str, checkout: Path, args: object, calls: list[float]
) -> float:
    """One measurement in a child process of ``checkout``; its rate (calls noted aside)."""
    command = [
        sys.executable,
        str(CHILD),
        mode,
        "--url", info.url,
        "--auth-url", info.auth_url,
        "--project-id", info.project_id,
        "--key-id", info.key_id,
        "--key-secret", info.key_secret,
        "--phone", phone_number(0),
        "--requests", str(args.requests),  # type: ignore[attr-defined]
        "--concurrency", str(args.concurrency),  # type: ignore[attr-defined]
        "--calls", str(args.calls),  # type: ignore[attr-defined]
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    env.pop("NUMBERS_ASYNC_LOG", None)
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{mode} ({checkout}) failed:\n{result.stderr}")
    measured = json.loads(result.stdout)
    if measured["calls"] is not None:
        calls.append(measured["calls"])
    return float(measured["rate"])


def main() -> None:
    args_parser = benchmark_parser(__doc__.splitlines()[0], rounds=9)
    args_parser.add_argument("--requests", type=int, default=4000, help="timed calls per round")
    args_parser.add_argument("--concurrency", type=int, default=64)
    args_parser.add_argument(
        "--without", type=Path, default=None, help="a checkout without observability"
    )
    args_parser.add_argument(
        "--calls", type=int, default=0, help="count function calls per request over N calls"
    )
    args = args_parser.parse_args()
    calls: dict[str, list[float]] = {}
    with server("fixed") as info:

        def contender(mode: str, checkout: Path, key: str) -> tuple[str, object]:
            calls[key] = []
            return key, lambda: run_child(info, mode, checkout, args, calls[key])

        contenders = dict(
            [
                contender("unconfigured", REPO_DIR, "unconfigured"),
                contender("tracing_off", REPO_DIR, "tracing_off"),
                contender("hook", REPO_DIR, "hook"),
                contender("sdk", REPO_DIR, "sdk"),
            ]
        )
        if args.without is not None:
            key, run = contender("unconfigured", args.without.resolve(), "without")
            contenders[key] = run
        values = alternate(args.rounds, contenders)  # type: ignore[arg-type]

    what = f"get x{args.requests}, concurrency {args.concurrency}"
    unconfigured = values["unconfigured"]
    rows = []
    if args.without is not None:
        rows.append(
            Row(
                benchmark="B9",
                what=f"{what}, unconfigured",
                unit="req/s",
                ours=Stat.of(unconfigured),
                baseline_label="the commit before observability",
                baseline=Stat.of(values["without"]),
                ratio=paired_ratio(unconfigured, values["without"]),
                target=">= 0.98x",
                goal="ratio_at_least",
                goal_value=0.98,
            )
        )
    for key, label in (("tracing_off", "tracing=False"), ("hook", "a no-op response hook")):
        rows.append(
            Row(
                benchmark="B9",
                what=f"{what}, {label}",
                unit="req/s",
                ours=Stat.of(values[key]),
                baseline_label="unconfigured",
                baseline=Stat.of(unconfigured),
                ratio=paired_ratio(values[key], unconfigured),
                target="report",
                goal="none",
                goal_value=None,
            )
        )
    sdk = values["sdk"]
    # What a call costs more with the SDK: per-round 1/rate differences, in microseconds.
    extra = Stat.of([(1 / a - 1 / b) * 1e6 for a, b in zip(sdk, unconfigured, strict=True)])
    rows.append(
        Row(
            benchmark="B9",
            what=f"{what}, OpenTelemetry SDK, in-memory (+{extra.median:.0f} us/request)",
            unit="req/s",
            ours=Stat.of(sdk),
            baseline_label="unconfigured",
            baseline=Stat.of(unconfigured),
            ratio=paired_ratio(sdk, unconfigured),
            target="report",
            goal="none",
            goal_value=None,
            notes=f"cost per request {extra.median:.1f} us ({extra.low:.1f}-{extra.high:.1f})",
        )
    )
    if args.calls and args.without is not None:
        rows.append(
            Row(
                benchmark="B9",
                what="function calls per get, unconfigured (cProfile)",
                unit="calls",
                ours=Stat.of(calls["unconfigured"]),
                baseline_label="the commit before observability",
                baseline=Stat.of(calls["without"]),
                ratio=paired_ratio(calls["unconfigured"], calls["without"]),
                target="report",
                goal="none",
                goal_value=None,
            )
        )
    params = {
        "rounds": args.rounds,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "calls": args.calls,
        "without": None if args.without is None else str(args.without),
        "calls_per_request": {k: Stat.of(v).median for k, v in calls.items() if v},
    }
    report("b9_observability", rows, params, args.out)


if __name__ == "__main__":
    main()
