"""B1, counted: what one ``active_numbers.get`` costs against one bare aiohttp GET.

Wall-clock ratios move with a shared machine's load; these counts do not. For ours and
for B1's bare baseline (same loopback server, same body, same JSON parser), and for
``pipeline`` (ours without the model decoding: the body parsed by the same JSON parser as
bare, so what it adds to bare is the request's path through the client's layers), per
request:

- ``calls``: Python function calls (cProfile, which counts every resumption of a
  coroutine as a call), and with ``--by-function N`` the N functions whose counts differ
  most from bare's;
- ``tasks``: asyncio tasks created; ``handles``: event-loop callbacks run (each resumes
  a task or delivers data: the awaits that reach the loop);
- ``blocks``: memory blocks allocated while measured and still held at the end
  (tracemalloc; connection buffers and caches keep a few: what matters is that ours
  keeps no more than bare, i.e. nothing grows per request);
- with ``--callgrind``: machine instructions (``Ir``) and calls to CPython's allocators,
  by running this script under ``valgrind --tool=callgrind`` twice with different request
  counts and dividing the difference (start-up and warm-up cancel out). Repeatable to a
  fraction of a percent under load, which timing is not.

Run: ``python benchmarks/b1_counts.py [--requests 2000] [--shape settled] [--by-function N]
[--callgrind] [--only ours,pipeline,bare]``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
from _common import BENCH_DIR, ServerInfo, pythonpath, server
from _payloads import SHAPES, phone_number
from b1_get import bare_get, drive

#: Called just before and just after the measured requests.
Mark = Callable[[], None]
#: ``contender(info, concurrency, total, start, stop)``: warm up, then ``total`` requests
#: between ``start()`` and ``stop()``.
Contender = Callable[[ServerInfo, int, int, Mark, Mark], Coroutine[Any, Any, None]]

#: CPython's allocator entry points whose calls ``--callgrind`` counts.
ALLOCATORS = frozenset(
    {
        "_PyObject_Malloc",
        "_PyObject_Calloc",
        "_PyObject_Realloc",
        "_PyMem_RawMalloc",
        "_PyMem_RawCalloc",
        "_PyMem_RawRealloc",
    }
)


async def ours(info: ServerInfo, concurrency: int, total: int, start: Mark, stop: Mark) -> None:
    """Our client's ``total`` gets, ``start``/``stop`` around them (after a warm-up)."""
    async with info.client(max_concurrency=concurrency) as client:
        phone = phone_number(0)
        get = client.active_numbers.get
        await drive(concurrency, concurrency * 4, lambda: get(phone))
        start()
        await drive(concurrency, total, lambda: get(phone))
        stop()


async def bare(info: ServerInfo, concurrency: int, total: int, start: Mark, stop: Mark) -> None:
    """B1's baseline (bare aiohttp + the client's parser), measured the same way."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        get = await bare_get(session, info)
        await drive(concurrency, concurrency * 4, get)
        start()
        await drive(concurrency, total, get)
        stop()


async def pipeline(info: ServerInfo, concurrency: int, total: int, start: Mark, stop: Mark) -> None:
    """Ours with the model decoding left out: the request's path through the client's
    layers, the body parsed by the same JSON parser as bare (what is not decoding)."""
    from numbers_async import _operations as ops
    from numbers_async._json import loads

    async with info.client(max_concurrency=concurrency) as client:
        resource = client.active_numbers
        sender, options = resource._sender, resource._options

        async def get() -> Any:
            request = ops.get_active(phone_number(0))
            return await sender.send(
                request, options, lambda status, body: loads(body), sender.deadline_for(options)
            )

        await drive(concurrency, concurrency * 4, get)
        start()
        await drive(concurrency, total, get)
        stop()


CONTENDERS: dict[str, Contender] = {"ours": ours, "pipeline": pipeline, "bare": bare}


def counted(contender: Contender, info: ServerInfo, total: int) -> dict[str, Any]:
    """Calls, tasks, loop callbacks and blocks kept, per request, for one contender."""
    profiler = cProfile.Profile()
    tasks = 0

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
            nonlocal tasks
            tasks += 1
            return asyncio.Task(coro, loop=loop, **kwargs)

        def start() -> None:
            nonlocal tasks
            tasks = 0
            loop.set_task_factory(factory)
            profiler.enable()

        def stop() -> None:
            profiler.disable()
            loop.set_task_factory(None)

        await contender(info, 64, total, start, stop)

    asyncio.run(main())
    stats = pstats.Stats(profiler)
    per_function: dict[str, float] = {}
    handles = 0
    for (filename, line, name), entry in stats.stats.items():  # type: ignore[attr-defined]
        calls = entry[1]  # primitive calls
        key = f"{Path(filename).name}:{line}({name})"
        per_function[key] = entry[0] / total
        if name == "_run" and filename.endswith(os.path.join("asyncio", "events.py")):
            handles += calls
    blocks = _blocks(contender, info, total)
    return {
        "calls": stats.total_calls / total,  # type: ignore[attr-defined]
        "tasks": tasks / total,
        "handles": handles / total,
        "blocks": blocks,
        "functions": per_function,
    }


def _blocks(contender: Contender, info: ServerInfo, total: int) -> float:
    """Blocks allocated during the timed calls and still held after them, per request."""
    held = 0

    def start() -> None:
        tracemalloc.start()

    def stop() -> None:
        nonlocal held
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        held = sum(stat.count for stat in snapshot.statistics("filename"))

    asyncio.run(contender(info, 64, total, start, stop))
    return held / total


def callgrind(name: str, shape: str, requests: int) -> dict[str, float]:
    """Instructions and allocator calls per request, by the difference of two runs."""
    runs = {}
    for total in (requests // 4, requests):
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory) / "callgrind.out"
            command = [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                os.environ.get("B1_COUNTS_SCRIPT", str(BENCH_DIR / "b1_counts.py")),
                "--child",
                name,
                "--shape",
                shape,
                "--requests",
                str(total),
            ]
            env = {**os.environ, "PYTHONPATH": pythonpath(), "PYTHONHASHSEED": "0"}
            subprocess.run(command, env=env, check=True, capture_output=True)
            runs[total] = _callgrind_totals(out.read_text(errors="replace"))
    low, high = runs[requests // 4], runs[requests]
    span = requests - requests // 4
    return {key: (high[key] - low[key]) / span for key in high}


def _callgrind_totals(text: str) -> dict[str, float]:
    """The run's total instructions and the calls to ``ALLOCATORS``, from callgrind's file."""
    names: dict[str, str] = {}
    allocations = 0
    target: str | None = None
    instructions = 0.0
    for line in text.splitlines():
        if line.startswith(("summary:", "totals:")):
            instructions = float(line.split()[1])
        elif line.startswith("cfn="):
            match = re.match(r"cfn=\((\d+)\)(?: (.*))?", line)
            if match:
                if match.group(2):
                    names[match.group(1)] = match.group(2)
                target = names.get(match.group(1))
        elif line.startswith("fn="):
            match = re.match(r"fn=\((\d+)\)(?: (.*))?", line)
            if match and match.group(2):
                names[match.group(1)] = match.group(2)
        elif line.startswith("calls=") and target in ALLOCATORS:
            allocations += int(line[6:].split()[0])
    return {"instructions": instructions, "allocations": float(allocations)}


def child(name: str, info_json: str, total: int) -> None:
    """Run ``total`` requests of one contender, for callgrind (no profiler)."""
    info = ServerInfo(**json.loads(info_json))
    asyncio.run(CONTENDERS[name](info, 64, total, lambda: None, lambda: None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--shape", default="settled", choices=list(SHAPES))
    parser.add_argument("--by-function", type=int, default=0, metavar="N", help="top N diffs")
    parser.add_argument("--callgrind", action="store_true", help="also count instructions")
    parser.add_argument("--only", default="ours,pipeline,bare", help="contenders")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--info", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.info or os.environ["B1_COUNTS_INFO"], args.requests)
        return
    with server("fixed", "--shape", args.shape) as info:
        names = args.only.split(",")
        results = {name: counted(CONTENDERS[name], info, args.requests) for name in names}
        if args.callgrind:
            os.environ["B1_COUNTS_INFO"] = json.dumps(info.__dict__)
            for name in names:
                results[name].update(callgrind(name, args.shape, args.requests))
    first = next(iter(results.values()))
    keys = [k for k in first if k != "functions"]
    print(f"per request, {args.requests} requests, shape {args.shape}")
    print(f"{'':16}" + "".join(f"{k:>14}" for k in keys))
    for name, result in results.items():
        print(f"{name:16}" + "".join(f"{result[k]:14.2f}" for k in keys))
    base = results.get("bare")
    if base is None:
        return
    for name, result in results.items():
        if name != "bare":
            print(f"{name + ' - bare':16}" + "".join(f"{result[k] - base[k]:14.2f}" for k in keys))
    if args.by_function:
        for name, result in results.items():
            if name == "bare":
                continue
            mine, theirs = result["functions"], base["functions"]
            diffs = {k: mine.get(k, 0.0) - theirs.get(k, 0.0) for k in {*mine, *theirs}}
            print(f"\nfunctions called more (or less) per request by {name} than by bare:")
            for key, diff in sorted(diffs.items(), key=lambda kv: -abs(kv[1]))[: args.by_function]:
                counts = f"{mine.get(key, 0.0):7.2f} vs {theirs.get(key, 0.0):7.2f}"
                print(f"{diff:+8.2f}  {counts}  {key}")


if __name__ == "__main__":
    main()
