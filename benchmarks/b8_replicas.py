"""B8: three replicas sharing one project's rate limit, in-process limiters against Redis.

What is measured: three processes (the "replicas"), each with one client and ``--concurrency``
(20) tasks calling ``client.active_numbers.get(phone)`` in a loop for ``--seconds`` (60),
against one server that allows ``--limit`` (100) requests/s and answers 429 with
``Retry-After`` beyond. Three set-ups, one after the other:

- ``rate_limit=100`` in each replica (independent in-process limiters);
- no ``rate_limit`` (each replica adapts to the 429s on its own);
- one ``RedisRateLimiter(rate=100)`` shared by the three through a local ``redis-server``.

Reported per set-up: the total rate of successful calls against the limit, the share of
requests the server answered 429, and per replica, per 10 s window, the minimum and
median rate; the target asks every replica to get >= 0.7x its fair share (limit / 3) in
every window. Then the per-request cost of the Redis limiter against the in-process one:
``--requests`` calls at concurrency 64 (and one at a time) against the minimal fixed
server, with each limiter's rate set far above the load, in alternating rounds.

How: the library's ``FakeNumbersServer`` in a child process (``_server.py fake
--rate-limit``) counts the answers by status; each replica is this script run again with
``--replica`` in a child process, started together at an agreed wall-clock time, and prints
when each of its calls succeeded. ``redis-server`` (from ``PATH`` or /usr/bin) runs on a
free loopback port without persistence; without it the benchmark says so and writes no rows.

Target (issue "many replicas"): with Redis, total >= 0.9x the limit, <= 1% answered 429,
every replica >= 0.7x its fair share in every 10 s window.

Run: ``python benchmarks/b8_replicas.py [--seconds 60] [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from _common import (
    BENCH_DIR,
    Row,
    ServerInfo,
    Stat,
    alternate,
    paired_ratio,
    parser,
    pythonpath,
    report,
    server,
    start_server,
    stop_server,
)
from _payloads import phone_number

WINDOW = 10.0  # seconds
SETUPS = {
    "in-process": "rate_limit=100 in each",
    "adaptive": "no rate_limit",
    "redis": "RedisRateLimiter(rate=100), shared",
}


# --- redis-server ------------------------------------------------------------------------------


def redis_binary() -> str | None:
    """The ``redis-server`` to run, if there is one."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    return binary if os.path.exists(binary) else None


def start_redis(binary: str) -> tuple[subprocess.Popen[bytes], str]:
    """A throw-away ``redis-server`` on a free loopback port; returns it and its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
               "no"]  # fmt: skip
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(64).startswith(b"+PONG"):
                    return child, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    child.kill()
    raise RuntimeError("redis-server did not start")


# --- one replica (a child process) -------------------------------------------------------------


async def replica(args: argparse.Namespace) -> dict[str, Any]:
    """Call ``get`` from ``concurrency`` tasks until ``seconds`` after ``start_at``."""
    info = ServerInfo(**json.loads(args.replica))
    limiter: Any = None
    rate_limit: Any = None
    if args.setup == "in-process":
        rate_limit = args.limit
    elif args.setup == "redis":
        from numbers_async.redis import RedisRateLimiter

        limiter = RedisRateLimiter.from_url(args.redis_url, rate=args.limit, key=info.project_id)
        rate_limit = limiter
    done: list[float] = []
    errors: dict[str, int] = {}
    async with info.client(rate_limit=rate_limit, max_concurrency=args.concurrency) as client:
        phone = info.phones[0]
        await asyncio.sleep(max(0.0, args.start_at - time.time()))
        stop_at = args.start_at + args.seconds

        async def worker() -> None:
            while time.time() < stop_at:
                try:
                    await client.active_numbers.get(phone)
                except Exception as exc:  # noqa: BLE001 - counted, the run goes on
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                else:
                    done.append(time.time() - args.start_at)

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    if limiter is not None:
        await limiter.aclose()
    return {"done": done, "errors": errors}


def run_setup(
    setup: str, *, replicas: int, concurrency: int, limit: float, seconds: float, redis_url: str
) -> dict[str, Any]:
    """One set-up on a fresh server: the replicas' results and the server's 429 share."""
    child, info = start_server("fake", "--active", "1", "--rate-limit", str(limit))
    try:
        start_at = time.time() + 3.0  # every replica has imported and connected by then
        env = {**os.environ, "PYTHONPATH": pythonpath()}
        command = [
            sys.executable, str(BENCH_DIR / "b8_replicas.py"),
            "--replica", json.dumps(asdict(info)), "--setup", setup,
            "--start-at", str(start_at), "--seconds", str(seconds),
            "--concurrency", str(concurrency), "--limit", str(limit), "--redis-url", redis_url,
        ]  # fmt: skip
        children = [
            subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
            for _ in range(replicas)
        ]
        results = []
        for replica_child in children:
            output, _ = replica_child.communicate(timeout=seconds + 120)
            if replica_child.returncode != 0:
                raise RuntimeError(f"replica exited with {replica_child.returncode}")
            results.append(json.loads(output.strip().splitlines()[-1]))
    finally:
        output = stop_server(child)
    routes = json.loads(output.strip().splitlines()[-1])["routes"]
    answered = refused = 0
    for route, entry in routes.items():
        if route == "token":
            continue
        answered += sum(entry["statuses"].values())
        refused += entry["statuses"].get("429", 0)
    return {
        "replicas": results,
        "answered": answered,
        "refused_pct": 100.0 * refused / max(1, answered),
    }


def windows(done: list[float], seconds: float) -> list[float]:
    """Successful calls per second in each whole 10 s window of the run."""
    count = int(seconds // WINDOW)
    rates = [0.0] * count
    for at in done:
        index = int(at // WINDOW)
        if 0 <= index < count:
            rates[index] += 1 / WINDOW
    return rates


# --- per-request cost --------------------------------------------------------------------------


async def drive(concurrency: int, total: int, call: Callable[[], Awaitable[Any]]) -> None:
    """Make ``total`` calls with ``concurrency`` workers."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def cost(info: ServerInfo, *, redis_url: str | None, concurrency: int, total: int) -> float:
    """Requests per second through one limiter set far above the load."""
    far_above = 1_000_000.0
    limiter: Any = far_above
    if redis_url is not None:
        from numbers_async.redis import RedisRateLimiter

        limiter = RedisRateLimiter.from_url(redis_url, rate=far_above, key="b8-cost")
    try:
        async with info.client(max_concurrency=64, rate_limit=limiter) as client:
            phone = phone_number(0)
            get = client.active_numbers.get
            await drive(concurrency, concurrency * 4, lambda: get(phone))  # token, connections
            started = time.perf_counter()
            await drive(concurrency, total, lambda: get(phone))
            return total / (time.perf_counter() - started)
    finally:
        if redis_url is not None:
            await limiter.aclose()


# --- the benchmark -----------------------------------------------------------------------------


def main() -> None:
    args_parser = parser(__doc__.splitlines()[0], rounds=5)
    args_parser.add_argument("--seconds", type=float, default=60.0, help="per set-up")
    args_parser.add_argument("--quick", action="store_true", help="20 s per set-up, 2 rounds")
    args_parser.add_argument("--replicas", type=int, default=3)
    args_parser.add_argument("--concurrency", type=int, default=20, help="tasks per replica")
    args_parser.add_argument("--limit", type=float, default=100.0, help="server limit, req/s")
    args_parser.add_argument("--requests", type=int, default=4000, help="cost: calls per round")
    args_parser.add_argument("--replica", default="", help=argparse.SUPPRESS)
    args_parser.add_argument("--setup", default="", help=argparse.SUPPRESS)
    args_parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args_parser.add_argument("--redis-url", default="", help=argparse.SUPPRESS)
    args = args_parser.parse_args()
    if args.replica:
        print(json.dumps(asyncio.run(replica(args))), flush=True)
        return
    if args.quick:
        args.seconds = min(args.seconds, 20.0)
        args.rounds = min(args.rounds, 2)
        args.requests = min(args.requests, 2000)
    params = {k: v for k, v in vars(args).items() if k not in {"replica", "setup", "start_at"}}
    params |= {"out": None, "redis_url": None}
    binary = redis_binary()
    if binary is None:
        print("B8 skipped: redis-server is not installed")
        report("b8_replicas", [], params | {"skipped": "no redis-server"}, args.out)
        return
    redis_child, redis_url = start_redis(binary)
    try:
        rows, table = fleet_rows(args, redis_url)
        rows += cost_rows(args, redis_url)
    finally:
        redis_child.terminate()
        redis_child.wait(timeout=10)
    print(table + "\n")
    report("b8_replicas", rows, params | {"per_replica": table}, args.out)


def fleet_rows(args: argparse.Namespace, redis_url: str) -> tuple[list[Row], str]:
    """Run the three set-ups; the rows and a per-replica table (Markdown)."""
    fair = args.limit / args.replicas
    rows: list[Row] = []
    lines = [
        f"Per replica, per {WINDOW:g} s window, successful calls/s (fair share {fair:.1f}):",
        "",
        "| set-up | replica | min | median | mean | errors |",
        "|---|---|---|---|---|---|",
    ]
    for setup, label in SETUPS.items():
        print(f"  {setup}: {args.seconds:g} s with {args.replicas} replicas", file=sys.stderr)
        outcome = run_setup(
            setup,
            replicas=args.replicas,
            concurrency=args.concurrency,
            limit=args.limit,
            seconds=args.seconds,
            redis_url=redis_url,
        )
        per_replica = [windows(r["done"], args.seconds) for r in outcome["replicas"]]
        for index, (rates, result) in enumerate(
            zip(per_replica, outcome["replicas"], strict=True), start=1
        ):
            errors = sum(result["errors"].values())
            lines.append(
                f"| {label} | {index} | {min(rates):.1f} | {statistics.median(rates):.1f} "
                f"| {statistics.mean(rates):.1f} | {errors} |"
            )
        total = sum(statistics.mean(rates) for rates in per_replica)
        worst = min(min(rates) for rates in per_replica)
        what = f"{args.replicas} replicas x{args.concurrency}, {label}"
        rows += [
            Row(
                benchmark="B8",
                what=f"{what}: total",
                unit="req/s",
                ours=Stat.of([total]),
                baseline_label=f"server limit {args.limit:g} req/s",
                baseline=Stat.of([args.limit]),
                ratio=Stat.of([total / args.limit]),
                target=">= 0.9x limit",
                goal="ratio_at_least",
                goal_value=0.9,
            ),
            Row(
                benchmark="B8",
                what=f"{what}: answered 429",
                unit="%",
                ours=Stat.of([outcome["refused_pct"]]),
                baseline_label="-",
                baseline=None,
                ratio=None,
                target="<= 1%",
                goal="ours_at_most",
                goal_value=1.0,
            ),
            Row(
                benchmark="B8",
                what=f"{what}: worst replica, worst {WINDOW:g} s window",
                unit="req/s",
                ours=Stat.of([worst]),
                baseline_label=f"fair share {fair:.1f} req/s",
                baseline=Stat.of([fair]),
                ratio=Stat.of([worst / fair]),
                target=">= 0.7x fair share",
                goal="ratio_at_least",
                goal_value=0.7,
            ),
        ]
    return rows, "\n".join(lines)


def measure(
    info: ServerInfo, redis_url: str | None, concurrency: int, total: int
) -> Callable[[], float]:
    """One timed round of :func:`cost` in a fresh event loop."""
    return lambda: asyncio.run(
        cost(info, redis_url=redis_url, concurrency=concurrency, total=total)
    )


def cost_rows(args: argparse.Namespace, redis_url: str) -> list[Row]:
    """The Redis limiter's per-request cost against the in-process one (fixed server)."""
    rows = []
    with server("fixed") as info:
        for concurrency, total in ((64, args.requests), (1, args.requests // 4)):
            values = alternate(
                args.rounds,
                {
                    "redis": measure(info, redis_url, concurrency, total),
                    "in-process": measure(info, None, concurrency, total),
                },
            )
            extra_us = [
                1e6 / redis - 1e6 / local
                for redis, local in zip(values["redis"], values["in-process"], strict=True)
            ]
            rows.append(
                Row(
                    benchmark="B8",
                    what=(
                        f"get x{total}, concurrency {concurrency}, RedisRateLimiter "
                        f"(+{statistics.median(extra_us):.0f} us/request)"
                    ),
                    unit="req/s",
                    ours=Stat.of(values["redis"]),
                    baseline_label="in-process rate_limit",
                    baseline=Stat.of(values["in-process"]),
                    ratio=paired_ratio(values["redis"], values["in-process"]),
                    target="report",
                    goal="none",
                    goal_value=None,
                )
            )
    return rows


if __name__ == "__main__":
    main()
