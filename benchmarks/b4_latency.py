"""B4: utilisation of ``max_concurrency`` against a server that takes 50 ms per answer.

What is measured: requests per second for ``--requests`` concurrent
``client.active_numbers.get`` calls (all started at once with ``asyncio.gather``; the
client's ``max_concurrency=50`` bounds what is in flight) against a server that waits
50 ms before every answer. The ideal is ``max_concurrency / latency`` = 1,000 req/s; the
figure compared with the target is ours / ideal.

How: the library's own ``FakeNumbersServer`` (``_server.py fake --latency 0.05``, in a child
process, with the numbers added as owned) answers with its real handlers. For reference,
bare aiohttp capped the same way (a 50-connection pool and a semaphore of 50) runs against
the same server, alternating with ours, which shows how much of any shortfall is the server
or the machine rather than the client.

Target (docs/performance.md): >= 95% of the ideal 1,000 req/s.

Run: ``python benchmarks/b4_latency.py [--rounds 5] [--requests 2000] [--latency 0.05]``
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from _common import Row, ServerInfo, Stat, alternate, paired_ratio, parser, report, server
from _payloads import phone_number
from b1_get import bare_token


async def ours(info: ServerInfo, *, concurrency: int, phones: list[str]) -> float:
    """Our client: requests per second."""
    async with info.client(max_concurrency=concurrency) as client:
        get = client.active_numbers.get
        await asyncio.gather(*(get(phone) for phone in phones[:concurrency]))  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(get(phone) for phone in phones))
        return len(phones) / (time.perf_counter() - started)


async def bare(info: ServerInfo, *, concurrency: int, phones: list[str]) -> float:
    """Bare aiohttp, same cap: requests per second."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        token = await bare_token(session, info)
        prefix = f"{info.url}/v1/projects/{info.project_id}/activeNumbers/"
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

        async def get(phone: str) -> bytes:
            async with slots, session.get(prefix + phone, headers=headers) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"unexpected status {response.status}")
                return body

        await asyncio.gather(*(get(phone) for phone in phones[:concurrency]))
        started = time.perf_counter()
        await asyncio.gather(*(get(phone) for phone in phones))
        return len(phones) / (time.perf_counter() - started)


def main() -> None:
    args_parser = parser(__doc__.splitlines()[0], rounds=5)
    args_parser.add_argument("--requests", type=int, default=2000)
    args_parser.add_argument("--concurrency", type=int, default=50)
    args_parser.add_argument("--latency", type=float, default=0.05, help="seconds")
    args_parser.add_argument(
        "--server",
        choices=["fixed", "fake"],
        default="fixed",
        help="the minimal fixed-body server, or the stateful FakeNumbersServer",
    )
    args = args_parser.parse_args()
    ideal = args.concurrency / args.latency
    options = ["--latency", str(args.latency), "--active", str(args.requests)]
    with server(args.server, *options) as info:
        phones = info.phones or [phone_number(index) for index in range(args.requests)]
        values = alternate(
            args.rounds,
            {
                "ours": lambda: asyncio.run(
                    ours(info, concurrency=args.concurrency, phones=phones)
                ),
                "bare": lambda: asyncio.run(
                    bare(info, concurrency=args.concurrency, phones=phones)
                ),
            },
        )
    what = f"{args.requests} gets, max_concurrency {args.concurrency}, {args.latency * 1000:.0f} ms"
    rows = [
        Row(
            benchmark="B4",
            what=what,
            unit="req/s",
            ours=Stat.of(values["ours"]),
            baseline_label=f"ideal {ideal:,.0f} req/s",
            baseline=Stat.of([ideal]),
            ratio=Stat.of([value / ideal for value in values["ours"]]),
            target=">= 0.95x ideal",
            goal="ratio_at_least",
            goal_value=0.95,
        ),
        Row(
            benchmark="B4",
            what=what,
            unit="req/s",
            ours=Stat.of(values["ours"]),
            baseline_label="bare aiohttp, same cap",
            baseline=Stat.of(values["bare"]),
            ratio=paired_ratio(values["ours"], values["bare"]),
            target="(reference)",
            goal="none",
            goal_value=None,
        ),
    ]
    params = {
        "rounds": args.rounds,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "latency": args.latency,
    }
    report("b4_latency", rows, params, args.out)


if __name__ == "__main__":
    main()
