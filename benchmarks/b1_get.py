"""B1: ``active_numbers.get`` throughput at concurrency 64 against bare aiohttp.

What is measured: requests per second for ``--requests`` calls of
``client.active_numbers.get(phone)`` kept 64 at a time in flight (64 worker tasks), against
the same number of bare ``aiohttp`` GETs of the same URL whose bodies are parsed with
the JSON parser our client uses (orjson when installed, else ``json.loads``: the floor
any aiohttp-based client pays: no auth logic, no model).

How: one minimal loopback server in a child process (``_server.py fixed``) answers both
with the same pre-serialised ``ActiveNumber`` body, so its own cost is small and equal for
both. Each round builds a fresh client (or session) in a fresh event loop, warms it up
(token, connections) outside the timed part, then times the calls; ours and the baseline
alternate, the order flipping every round.

Target (docs/performance.md): ours >= 0.85x the bare throughput with the same parser (stretch 0.9x).

Run: ``python benchmarks/b1_get.py [--rounds 7] [--requests 4000] [--concurrency 64]``;
``--profile`` runs ours once under cProfile instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
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
from _payloads import phone_number


async def drive(concurrency: int, total: int, call: Callable[[], Awaitable[Any]]) -> None:
    """Make ``total`` calls with ``concurrency`` workers."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def ours(info: ServerInfo, *, concurrency: int, total: int) -> float:
    """Our client: requests per second."""
    async with info.client(max_concurrency=concurrency) as client:
        phone = phone_number(0)
        get = client.active_numbers.get
        await drive(concurrency, concurrency * 4, lambda: get(phone))  # token + connections
        started = time.perf_counter()
        await drive(concurrency, total, lambda: get(phone))
        return total / (time.perf_counter() - started)


async def bare_token(session: aiohttp.ClientSession, info: ServerInfo) -> str:
    """Fetch an access token the way any client must."""
    credentials = aiohttp.encode_basic_auth(info.key_id, info.key_secret)
    async with session.post(
        info.auth_url,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": credentials},
    ) as response:
        return str((await response.json())["access_token"])


async def bare_get(
    session: aiohttp.ClientSession, info: ServerInfo
) -> Callable[[], Awaitable[Any]]:
    """B1's baseline request: a bare aiohttp GET parsed with the client's JSON parser.

    ``b1_counts.py`` counts this same request, so the two never drift apart.
    """
    loads = client_json()[0]
    token = await bare_token(session, info)
    url = f"{info.url}/v1/projects/{info.project_id}/activeNumbers/{phone_number(0)}"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    async def get() -> Any:
        async with session.get(url, headers=headers) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"unexpected status {response.status}")
            return loads(body)

    return get


async def bare(info: ServerInfo, *, concurrency: int, total: int) -> float:
    """Bare aiohttp GET + the client's JSON parser: requests per second."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        get = await bare_get(session, info)
        await drive(concurrency, concurrency * 4, get)
        started = time.perf_counter()
        await drive(concurrency, total, get)
        return total / (time.perf_counter() - started)


def main() -> None:
    args_parser = parser(__doc__.splitlines()[0], rounds=7, profiling=True)
    args_parser.add_argument("--requests", type=int, default=4000, help="timed calls per round")
    args_parser.add_argument("--concurrency", type=int, default=64)
    args = args_parser.parse_args()
    options = {"concurrency": args.concurrency, "total": args.requests}
    with server("fixed") as info:
        if args.profile:
            profile("b1_get", lambda: asyncio.run(ours(info, **options)))
            return
        values = alternate(
            args.rounds,
            {
                "ours": lambda: asyncio.run(ours(info, **options)),
                "bare": lambda: asyncio.run(bare(info, **options)),
            },
        )
    row = Row(
        benchmark="B1",
        what=f"get x{args.requests}, concurrency {args.concurrency}",
        unit="req/s",
        ours=Stat.of(values["ours"]),
        baseline_label=f"bare aiohttp + {client_json()[1]}",
        baseline=Stat.of(values["bare"]),
        ratio=paired_ratio(values["ours"], values["bare"]),
        target=">= 0.85x",
        goal="ratio_at_least",
        goal_value=0.85,
    )
    report("b1_get", [row], {"rounds": args.rounds, **options}, args.out)


if __name__ == "__main__":
    main()
