"""B3: listing 200 pages of 100 numbers, against the official SDK and bare aiohttp.

What is measured: pages per second while iterating every number of a 200-page listing
(100 numbers a page), for every payload shape (``_payloads.SHAPES``; ``--shapes``):

- ours: ``async for number in client.active_numbers.list(page_size=100)``;
- the official SDK (``pip install sinch``, synchronous, ``requests`` + pydantic):
  ``for number in client.numbers.list(page_size=100).iterator()``, its origins pointed at
  the benchmark server through ``client.configuration.numbers_origin`` / ``.auth_origin``.
  It runs exactly as a user runs it: called directly in the benchmark's main thread,
  no event loop, no thread pool;
- bare aiohttp returning plain dicts: GET each page, parse it with the JSON parser our
  client uses (orjson when installed, else ``json.loads``), yield the dicts, follow
  ``nextPageToken`` (no models, no validation, no auth logic).

How: per shape, one minimal loopback server in a child process (``_server.py fixed
--shape``) serves the same pre-serialised pages to all three. Each round builds each
client fresh, fetches one page untimed (token, connection), then times the full listing;
the order rotates every round, and every run starts with ``gc.collect()`` so that none
pays for the garbage of the one before (the SDK runs in the same process).

Targets (docs/performance.md): ours >= 6x the SDK's pages/s and >= 0.5x bare aiohttp's.

Run: ``python benchmarks/b3_list.py [--rounds 5] [--pages 200] [--page-size 100]``;
``--profile`` runs ours once under cProfile instead. ``--latency 0.001`` has the server
answer each page a millisecond late (a network, not loopback): not the benchmark's
setting, but where fetching the next page during decoding shows (rows say the latency).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from _common import (
    Row,
    ServerInfo,
    Stat,
    alternate,
    client_json,
    paired_ratio,
    parser,
    profile,
    report,
    server,
)
from _payloads import SHAPES
from b1_get import bare_token


async def ours(info: ServerInfo, *, pages: int, page_size: int) -> float:
    """Our client: pages per second."""
    async with info.client() as client:
        await client.active_numbers.list(page_size=page_size, max_items=1).collect()
        count = 0
        started = time.perf_counter()
        async for _number in client.active_numbers.list(page_size=page_size):
            count += 1
        elapsed = time.perf_counter() - started
    assert count == pages * page_size, count
    return pages / elapsed


async def bare_pages(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], page_size: int
) -> AsyncIterator[dict[str, Any]]:
    """Every number of the listing as a plain dict."""
    loads = client_json()[0]
    token = ""
    while True:
        params = {"pageSize": str(page_size)}
        if token:
            params["pageToken"] = token
        async with session.get(url, params=params, headers=headers) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"unexpected status {response.status}")
        page = loads(body)
        for number in page.get("activeNumbers", []):
            yield number
        token = page.get("nextPageToken") or ""
        if not token:
            return


async def bare(info: ServerInfo, *, pages: int, page_size: int) -> float:
    """Bare aiohttp returning dicts: pages per second."""
    async with aiohttp.ClientSession() as session:
        token = await bare_token(session, info)
        url = f"{info.url}/v1/projects/{info.project_id}/activeNumbers"
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        async for _number in bare_pages(session, url, headers, page_size):
            break  # warm-up: the connection
        count = 0
        started = time.perf_counter()
        async for _number in bare_pages(session, url, headers, page_size):
            count += 1
        elapsed = time.perf_counter() - started
    assert count == pages * page_size, count
    return pages / elapsed


def sdk(info: ServerInfo, *, pages: int, page_size: int) -> float:
    """The official SDK, synchronous, in this thread: pages per second."""
    from sinch import SinchClient

    client = SinchClient(project_id=info.project_id, key_id=info.key_id, key_secret=info.key_secret)
    client.configuration.numbers_origin = info.url
    client.configuration.auth_origin = info.url
    client.numbers.list(page_size=page_size)  # warm-up: token, connection
    count = 0
    started = time.perf_counter()
    for _number in client.numbers.list(page_size=page_size).iterator():
        count += 1
    elapsed = time.perf_counter() - started
    assert count == pages * page_size, count
    return pages / elapsed


def clean(run: Callable[[], float]) -> Callable[[], float]:
    """``run`` after a full collection: no contender pays for another's garbage."""

    def collected_first() -> float:
        gc.collect()
        return run()

    return collected_first


def main() -> None:
    args_parser = parser(__doc__.splitlines()[0], rounds=5, profiling=True)
    args_parser.add_argument("--pages", type=int, default=200)
    args_parser.add_argument("--page-size", type=int, default=100)
    args_parser.add_argument("--no-sdk", action="store_true", help="skip the official SDK")
    args_parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds the server waits before each page"
    )
    args_parser.add_argument(
        "--shapes", default=",".join(SHAPES), help="comma-separated payload shapes"
    )
    args = args_parser.parse_args()
    shapes = [shape for shape in args.shapes.split(",") if shape]
    unknown = sorted(set(shapes) - set(SHAPES))
    if unknown:
        args_parser.error(f"unknown shapes {unknown}; choose among {list(SHAPES)}")
    options = {"pages": args.pages, "page_size": args.page_size}
    parser_name = client_json()[1]
    rows = []
    for shape in shapes:
        print(f"shape {shape}:", flush=True)
        server_options = ["--pages", str(args.pages), "--page-size", str(args.page_size)]
        server_options += ["--latency", str(args.latency)]
        with server("fixed", *server_options, "--shape", shape) as info:
            if args.profile:
                profile("b3_list", lambda: asyncio.run(ours(info, **options)))
                return
            contenders = {
                "ours": clean(lambda: asyncio.run(ours(info, **options))),
                "bare": clean(lambda: asyncio.run(bare(info, **options))),
            }
            if not args.no_sdk:
                contenders["sdk"] = clean(lambda: sdk(info, **options))
            values = alternate(args.rounds, contenders)
        what = f"list {args.pages} pages of {args.page_size}, {shape}"
        if args.latency:
            what += f", server latency {args.latency * 1000:g} ms"
        if "sdk" in values:
            rows.append(
                Row(
                    benchmark="B3",
                    what=what,
                    unit="pages/s",
                    ours=Stat.of(values["ours"]),
                    baseline_label="official SDK",
                    baseline=Stat.of(values["sdk"]),
                    ratio=paired_ratio(values["ours"], values["sdk"]),
                    target=">= 6x",
                    goal="ratio_at_least",
                    goal_value=6.0,
                )
            )
        rows.append(
            Row(
                benchmark="B3",
                what=what,
                unit="pages/s",
                ours=Stat.of(values["ours"]),
                baseline_label=f"bare aiohttp dicts + {parser_name}",
                baseline=Stat.of(values["bare"]),
                ratio=paired_ratio(values["ours"], values["bare"]),
                target=">= 0.5x",
                goal="ratio_at_least",
                goal_value=0.5,
            )
        )
    params = {"rounds": args.rounds, "shapes": shapes, "latency": args.latency, **options}
    report("b3_list", rows, params, args.out)


if __name__ == "__main__":
    main()
