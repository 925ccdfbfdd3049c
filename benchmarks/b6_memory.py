"""B6: peak memory while streaming 100,000 active numbers (pages of 1,000).

What is measured: how far the resident set size (RSS) of a fresh process rises above its
level just before the listing starts, at its peak while ``async for number in
client.active_numbers.list(page_size=1000)`` walks 100,000 numbers and drops each one.
For reference, the same walk with bare aiohttp + the client's JSON parser yielding dicts
page by page (what any streaming client needs at least) runs in its own fresh process too.

How: each measurement is a child process (``b6_memory.py --child ours|bare``) so that
neither run inherits the other's heap. The child imports everything and builds its
client first, then reads its RSS, resets the kernel's peak-RSS mark (``VmHWM``, via
``/proc/self/clear_refs``; where that is not allowed a 1 ms sampling thread tracks the
peak instead), streams, and reports peak - start in MB (MiB). One minimal loopback server
(``_server.py fixed``) serves the pre-serialised pages to every child. Linux only.

Target (docs/performance.md): peak RSS growth <= 20 MB (ours; the bare figure has no target).

Run: ``python benchmarks/b6_memory.py [--rounds 3] [--pages 100] [--page-size 1000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _common import (
    Row,
    ServerInfo,
    Stat,
    alternate,
    client_json,
    paired_ratio,
    parser,
    pythonpath,
    report,
    server,
)

MIB = 1024 * 1024


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


class PeakTracker:
    """The peak RSS from now on: the kernel's high-water mark, or a sampling thread."""

    def __init__(self) -> None:
        self.start = _status_kib("VmRSS") * 1024
        self._peak = self.start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            self.kernel = True
        except OSError:
            self.kernel = False
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self._peak = max(self._peak, _status_kib("VmRSS") * 1024)

    def growth(self) -> int:
        """Peak minus start, in bytes."""
        if self.kernel:
            return _status_kib("VmHWM") * 1024 - self.start
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        return self._peak - self.start


async def stream_ours(info: ServerInfo, page_size: int) -> tuple[int, int]:
    """Walk the listing with our client; return (numbers seen, peak growth in bytes)."""
    async with info.client() as client:
        tracker = PeakTracker()
        count = 0
        async for number in client.active_numbers.list(page_size=page_size):
            count += number.phone_number is not None
        return count, tracker.growth()


async def stream_bare(info: ServerInfo, page_size: int) -> tuple[int, int]:
    """Walk the listing with bare aiohttp + the client's JSON parser; same return."""
    import aiohttp
    from b1_get import bare_token
    from b3_list import bare_pages

    async with aiohttp.ClientSession() as session:
        token = await bare_token(session, info)
        url = f"{info.url}/v1/projects/{info.project_id}/activeNumbers"
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        tracker = PeakTracker()
        count = 0
        async for number in bare_pages(session, url, headers, page_size):
            count += number["phoneNumber"] is not None
        return count, tracker.growth()


def child(kind: str, info: ServerInfo, page_size: int) -> None:
    """The body of one measuring child process: print one JSON line."""
    import numbers_async  # noqa: F401 - imported before the start mark, like aiohttp below

    stream = stream_ours if kind == "ours" else stream_bare
    started = time.perf_counter()
    count, growth = asyncio.run(stream(info, page_size))
    elapsed = time.perf_counter() - started
    print(json.dumps({"count": count, "growth": growth, "seconds": elapsed}))


def measure(kind: str, info: ServerInfo, *, items: int, page_size: int) -> Callable[[], float]:
    """One round: a fresh child process; returns its peak growth in MiB."""

    def run() -> float:
        command = [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--server-info",
            json.dumps(info.__dict__),
            "--page-size",
            str(page_size),
        ]
        output = subprocess.run(
            command,
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": pythonpath()},
        ).stdout
        result = json.loads(output.strip().splitlines()[-1])
        assert result["count"] == items, result
        return float(result["growth"]) / MIB

    return run


def main() -> None:
    args_parser = parser(__doc__.splitlines()[0], rounds=3)
    args_parser.add_argument("--pages", type=int, default=100)
    args_parser.add_argument("--page-size", type=int, default=1000)
    args_parser.add_argument("--child", choices=["ours", "bare"], help=argparse.SUPPRESS)
    args_parser.add_argument("--server-info", help=argparse.SUPPRESS)
    args = args_parser.parse_args()
    if args.child:
        child(args.child, ServerInfo(**json.loads(args.server_info)), args.page_size)
        return
    items = args.pages * args.page_size
    options = ["--pages", str(args.pages), "--page-size", str(args.page_size)]
    with server("fixed", *options) as info:
        values = alternate(
            args.rounds,
            {
                "ours": measure("ours", info, items=items, page_size=args.page_size),
                "bare": measure("bare", info, items=items, page_size=args.page_size),
            },
        )
    row = Row(
        benchmark="B6",
        what=f"stream {items:,} numbers, pages of {args.page_size:,}",
        unit="MB",
        ours=Stat.of(values["ours"]),
        baseline_label=f"bare aiohttp + {client_json()[1]}",
        baseline=Stat.of(values["bare"]),
        ratio=paired_ratio(values["ours"], values["bare"]),
        target="<= 20 MB (ours)",
        goal="ours_at_most",
        goal_value=20.0,
        notes="peak RSS growth in MiB",
    )
    params = {"rounds": args.rounds, "pages": args.pages, "page_size": args.page_size}
    report("b6_memory", [row], params, args.out)


if __name__ == "__main__":
    main()
