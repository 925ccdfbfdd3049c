"""B10: one bulk job shared by 1, 2 and 4 worker processes through a Redis journal.

What is measured: ``client.bulk.release`` of ``--numbers`` (10,000) owned numbers as ONE
job, journaled in Redis (``RedisJournal``), run by 1, 2 and 4 worker processes against a
server that allows ``--limit`` (200) requests/s (429 with ``Retry-After`` beyond). The
workers share the limit through ``RedisRateLimiter`` (rate = the limit). Halfway through
each run, one worker is killed with SIGKILL and a new one started in its place (a pod
evicted and rescheduled). Reported per worker count:

- throughput: numbers released per second, from the first release the server received
  to the last, against the limit (target >= 0.9x);
- the share of release requests the server answered 429 (target <= 1 %);
- journal round trips per item: the script calls the journal's Redis served (its own
  ``INFO commandstats``: the rate limiter uses a second Redis), every worker included,
  the killed one too, divided by the items;
- what the kill cost: from the SIGKILL until every item the dead worker held was
  released and recorded, against its lease plus the window of its requests (target: at
  most that, plus one attempt).

How: the library's ``FakeNumbersServer`` in a child process (``_server.py fake``), two
throw-away ``redis-server`` processes (journal, limiter; no persistence), and the workers
as child processes of this script (``--worker``). Each worker: ``Timeouts(total=2)``,
``RetryPolicy(attempts=3, max_retry_after=2)`` (so one call's window is 10 s), lease 5 s,
``concurrency`` 20. The parent watches the job through Redis.

Run: ``python benchmarks/b10_journal_workers.py [--numbers 10000] [--workers 1,2,4]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from typing import Any

from _common import (
    BENCH_DIR,
    Row,
    ServerInfo,
    Stat,
    parser,
    pythonpath,
    report,
    start_server,
    stop_server,
)
from b8_replicas import redis_binary, start_redis

ATTEMPT = 2.0  # Timeouts(total=...)
ATTEMPTS = 3
MAX_RETRY_AFTER = 2.0
LEASE = 5.0
WINDOW = ATTEMPTS * ATTEMPT + (ATTEMPTS - 1) * MAX_RETRY_AFTER  # request_window()
JOB = "b10"


# --- one worker (a child process) ---------------------------------------------------------------


async def worker(config: dict[str, Any]) -> dict[str, Any]:
    """Run the job as one worker until it is finished; what this worker did."""
    from numbers_async import RetryPolicy, Timeouts
    from numbers_async.redis import RedisJournal, RedisRateLimiter

    info = ServerInfo(**config["server"])
    phones = config["phones"]
    journal = RedisJournal.from_url(config["journal_url"], job=JOB, lease=LEASE)
    limiter = RedisRateLimiter.from_url(config["limiter_url"], rate=config["rate"], key="b10")
    retry = RetryPolicy(
        attempts=ATTEMPTS, backoff=0.05, max_backoff=0.5, max_retry_after=MAX_RETRY_AFTER
    )
    try:
        async with info.client(
            rate_limit=limiter,
            timeouts=Timeouts(total=ATTEMPT),
            retry=retry,
            max_concurrency=config["concurrency"],
        ) as client:
            result = await client.bulk.release(
                phones, journal=journal, concurrency=config["concurrency"]
            )
    finally:
        await limiter.aclose()
    return {
        "released": len(result.succeeded),
        "failed": len(result.failed),
        "round_trips": journal.round_trips,
    }


# --- one run -----------------------------------------------------------------------------------


def redis_call(url: str, *command: str) -> bytes:
    """One Redis command over a raw socket (the parent needs no redis-py)."""
    host, port = url.removeprefix("redis://").split("/")[0].split(":")
    payload = f"*{len(command)}\r\n" + "".join(f"${len(c)}\r\n{c}\r\n" for c in command)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(payload.encode())
        data = b""
        while True:
            chunk = conn.recv(65536)
            data += chunk
            if not chunk or _complete(data):
                return data


def _complete(data: bytes) -> bool:
    if data[:1] in (b"+", b"-", b":"):
        return data.endswith(b"\r\n")
    if data[:1] == b"$":
        head, _, rest = data.partition(b"\r\n")
        size = int(head[1:])
        return size < 0 or len(rest) >= size + 2
    if data[:1] == b"*":
        return data.endswith(b"\r\n") and data.count(b"\r\n") >= 1 + 2 * int(
            data.split(b"\r\n", 1)[0][1:] or 0
        )
    return False


def bulk_string(reply: bytes) -> str:
    head, _, rest = reply.partition(b"\r\n")
    size = int(head[1:])
    return "" if size < 0 else rest[:size].decode()


def key(name: str) -> str:
    return f"numbers_async:job:{{{JOB}}}:{name}"


def journal_calls(url: str) -> int:
    """Script calls the journal's Redis has served since its stats were reset."""
    stats = bulk_string(redis_call(url, "INFO", "commandstats"))
    calls = 0
    for line in stats.splitlines():
        name, _, fields = line.partition(":")
        if name in ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_script|load"):
            calls += int(fields.split("calls=")[1].split(",")[0])
    return calls


def start_worker(config: dict[str, Any]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": pythonpath()}
    # The configuration (10,000 phone numbers) goes through stdin, not the command line.
    command = [sys.executable, str(BENCH_DIR / "b10_journal_workers.py"), "--worker"]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(config))
    process.stdin.close()
    return process


def run(workers: int, args: argparse.Namespace, urls: tuple[str, str]) -> dict[str, Any]:
    """One job of ``args.numbers`` releases with ``workers`` workers, one killed midway."""
    journal_url, limiter_url = urls
    for url in urls:
        redis_call(url, "FLUSHALL")
    redis_call(journal_url, "CONFIG", "RESETSTAT")
    child, info = start_server(
        "fake", "--active", str(args.numbers), "--rate-limit", str(args.limit)
    )
    config = {
        "server": asdict(info),
        "phones": info.phones,
        "journal_url": journal_url,
        "limiter_url": limiter_url,
        "rate": args.limit,
        "concurrency": args.concurrency,
    }
    fleet = [start_worker(config) for _ in range(workers)]
    kill: dict[str, Any] = {}
    try:
        kill = kill_one_midway(fleet, config, journal_url, args.numbers)
        results = []
        for process in fleet:
            assert process.stdout is not None
            output = process.stdout.read()
            process.wait(timeout=60)
            if process.returncode == -signal.SIGKILL:
                continue
            if process.returncode != 0:
                raise RuntimeError(f"a worker exited with {process.returncode}")
            results.append(json.loads(output.strip().splitlines()[-1]))
    finally:
        for process in fleet:
            if process.poll() is None:
                process.kill()
        output = stop_server(child)
    release = json.loads(output.strip().splitlines()[-1])["routes"]["release"]
    statuses = release["statuses"]
    answered = sum(statuses.values())
    seconds = release["last"] - release["first"]
    succeeded = int(bulk_string(redis_call(journal_url, "HGET", key("meta"), "n_succeeded")))
    if succeeded != args.numbers:
        raise RuntimeError(f"the job recorded {succeeded} of {args.numbers} releases")
    return {
        "workers": workers,
        "throughput": args.numbers / seconds,
        "refused_pct": 100.0 * statuses.get("429", 0) / answered,
        "statuses": statuses,
        "round_trips_per_item": journal_calls(journal_url) / args.numbers,
        "kill_cost": kill["cost"],
        "dead_held": kill["held"],
        "reported": sum(result["released"] for result in results),
    }


def kill_one_midway(
    fleet: list[subprocess.Popen[str]], config: dict[str, Any], url: str, numbers: int
) -> dict[str, Any]:
    """SIGKILL the first worker once half is done, start another; time the takeover."""
    while _succeeded(url) < numbers // 2:
        time.sleep(0.1)
    victim = fleet[0]
    victim.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    victim.wait()
    prefix = f"{socket.gethostname()}-{victim.pid}-"
    claimed = _pairs(redis_call(url, "HGETALL", key("claimed")))
    held = [seq for seq, holder in claimed.items() if holder.startswith(prefix)]
    fleet.append(start_worker(config))  # the replacement, as a Job would reschedule it
    items = [bulk_string(redis_call(url, "HGET", key("items"), seq)) for seq in held]
    while items:
        records = [bulk_string(redis_call(url, "HGET", key("state"), item)) for item in items]
        items = [i for i, r in zip(items, records, strict=True) if '"s":"succeeded"' not in r]
        time.sleep(0.1)
    return {"cost": time.monotonic() - killed_at, "held": len(held)}


def _succeeded(url: str) -> int:
    value = bulk_string(redis_call(url, "HGET", key("meta"), "n_succeeded"))
    return int(value or 0)


def _pairs(reply: bytes) -> dict[str, str]:
    parts = reply.split(b"\r\n")[1:]
    values = [parts[i + 1].decode() for i in range(0, len(parts) - 1, 2) if parts[i][:1] == b"$"]
    return dict(zip(values[::2], values[1::2], strict=False))


# --- the benchmark -----------------------------------------------------------------------------


def main() -> None:
    args_parser = parser(__doc__.splitlines()[0], rounds=1)
    args_parser.add_argument("--numbers", type=int, default=10_000)
    args_parser.add_argument("--limit", type=float, default=200.0, help="server limit, req/s")
    args_parser.add_argument("--workers", default="1,2,4", help="worker counts to run")
    args_parser.add_argument("--concurrency", type=int, default=20, help="per worker")
    args_parser.add_argument("--quick", action="store_true", help="2,000 numbers, 1 and 2")
    args_parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = args_parser.parse_args()
    if args.worker:
        print(json.dumps(asyncio.run(worker(json.loads(sys.stdin.read())))), flush=True)
        return
    if args.quick:
        args.numbers, args.workers = min(args.numbers, 2000), "1,2"
    params = {k: v for k, v in vars(args).items() if k != "worker"} | {"out": None}
    params |= {"lease": LEASE, "window": WINDOW, "attempt": ATTEMPT}
    binary = redis_binary()
    if binary is None:
        print("B10 skipped: redis-server is not installed")
        report("b10_journal_workers", [], params | {"skipped": "no redis-server"}, args.out)
        return
    servers = [start_redis(binary) for _ in range(2)]
    runs = []
    try:
        for count in (int(n) for n in args.workers.split(",")):
            print(f"  {count} worker(s), {args.numbers} releases", file=sys.stderr, flush=True)
            runs.append(run(count, args, (servers[0][1], servers[1][1])))
            print(f"    {json.dumps(runs[-1])}", file=sys.stderr, flush=True)
    finally:
        for child, _ in servers:
            child.terminate()
            child.wait(timeout=10)
    report("b10_journal_workers", rows(runs, args), params | {"runs": runs}, args.out)


def rows(runs: list[dict[str, Any]], args: argparse.Namespace) -> list[Row]:
    result = []
    bound = LEASE + WINDOW + ATTEMPT
    for outcome in runs:
        what = f"release {args.numbers}, {outcome['workers']} worker(s), one killed"
        result += [
            Row(
                benchmark="B10",
                what=f"{what}: throughput",
                unit="items/s",
                ours=Stat.of([outcome["throughput"]]),
                baseline_label=f"server limit {args.limit:g} req/s",
                baseline=Stat.of([args.limit]),
                ratio=Stat.of([outcome["throughput"] / args.limit]),
                target=">= 0.9x limit",
                goal="ratio_at_least",
                goal_value=0.9,
            ),
            Row(
                benchmark="B10",
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
                benchmark="B10",
                what=f"{what}: journal round trips per item",
                unit="calls",
                ours=Stat.of([outcome["round_trips_per_item"]]),
                baseline_label="-",
                baseline=None,
                ratio=None,
                target="report",
                goal="none",
                goal_value=None,
            ),
            Row(
                benchmark="B10",
                what=f"{what}: the kill's cost ({outcome['dead_held']} items held)",
                unit="s",
                ours=Stat.of([outcome["kill_cost"]]),
                baseline_label=f"lease + window + one attempt = {bound:g} s",
                baseline=Stat.of([bound]),
                ratio=Stat.of([outcome["kill_cost"] / bound]),
                target="<= lease + window",
                goal="ratio_at_most",
                goal_value=1.0,
            ),
        ]
    return result


if __name__ == "__main__":
    main()
