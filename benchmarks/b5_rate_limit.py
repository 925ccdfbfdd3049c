"""B5: rate-limit adherence of a bulk release against a server that allows 200 req/s.

What is measured: ``await client.bulk.release(phones, concurrency=20)`` over 2,000 owned
numbers, against a server that answers ``429`` (with ``Retry-After``, whole seconds) to
whatever exceeds 200 requests/s (a token bucket of one second's worth). Two figures:

- the achieved rate: numbers released per second of wall time, against the server's
  200 req/s;
- the 429 share: of the release requests the server received (retries included), the
  fraction it answered 429.

Both are measured in two set-ups, alternating: the client told nothing about the limit
(``rate_limit=None``: it must adapt to the 429s, the whole client slowing down on a 429; see
docs/guides/configuration.md#rate-limit) and the client told the limit (``rate_limit=200``).

How: the library's ``FakeNumbersServer`` in a child process (``_server.py fake
--rate-limit 200``), started afresh for every run because a release consumes the
numbers; its request log gives the status counts. The job's report must say every number
was released. If the installed package has no ``client.bulk`` yet, the benchmark says so
and writes no rows.

Target (docs/performance.md): >= 90% of 200 req/s and <= 2% of requests answered 429.

Run: ``python benchmarks/b5_rate_limit.py [--rounds 2] [--numbers 2000] [--rate 200]``
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from _common import Row, ServerInfo, Stat, alternate, parser, report, start_server, stop_server

from numbers_async import NumbersClient


async def release_all(
    info: ServerInfo, *, rate_limit: float | None, concurrency: int
) -> tuple[float, int]:
    """Release every owned number in one bulk job; return (seconds, numbers released)."""
    async with info.client(rate_limit=rate_limit) as client:
        started = time.perf_counter()
        outcome = await client.bulk.release(info.phones, concurrency=concurrency)  # type: ignore[attr-defined,unused-ignore]
        elapsed = time.perf_counter() - started
    if not outcome.ok:
        raise RuntimeError(f"{len(outcome.failed)} releases failed, e.g. {outcome.failed[:1]}")
    return elapsed, len(outcome.succeeded)


def run(
    *, rate_limit: float | None, numbers: int, rate: float, concurrency: int, shares: list[float]
) -> Callable[[], float]:
    """One run on a fresh server: returns the achieved rate; appends the 429 share."""

    def measure() -> float:
        options = ["--active", str(numbers), "--rate-limit", str(rate)]
        child, info = start_server("fake", *options)
        try:
            seconds, released = asyncio.run(
                release_all(info, rate_limit=rate_limit, concurrency=concurrency)
            )
        finally:
            output = stop_server(child)
        statuses = json.loads(output.strip().splitlines()[-1])["routes"]["release"]["statuses"]
        answered = sum(statuses.values())
        shares.append(100.0 * statuses.get("429", 0) / answered)
        return released / seconds

    return measure


def has_bulk() -> bool:
    """Whether this version of the package has ``client.bulk``."""
    return hasattr(NumbersClient, "bulk")


def main() -> None:
    args_parser = parser(__doc__.splitlines()[0], rounds=2)
    args_parser.add_argument("--numbers", type=int, default=2000)
    args_parser.add_argument("--rate", type=float, default=200.0, help="server limit, req/s")
    args_parser.add_argument("--concurrency", type=int, default=20, help="bulk job concurrency")
    args = args_parser.parse_args()
    params = vars(args) | {"out": None}
    if not has_bulk():
        print("B5 skipped: this numbers_async has no client.bulk yet")
        report("b5_rate_limit", [], params | {"skipped": "no client.bulk"}, args.out)
        return
    shares: dict[str, list[float]] = {"adaptive": [], "configured": []}
    common = {"numbers": args.numbers, "rate": args.rate, "concurrency": args.concurrency}
    values = alternate(
        args.rounds,
        {
            "adaptive": run(rate_limit=None, shares=shares["adaptive"], **common),
            "configured": run(rate_limit=args.rate, shares=shares["configured"], **common),
        },
    )
    rows = []
    for mode, label in (
        ("adaptive", "rate_limit unset"),
        ("configured", f"rate_limit={args.rate:g}"),
    ):
        what = f"bulk release {args.numbers}, {label}"
        rows += [
            Row(
                benchmark="B5",
                what=what,
                unit="req/s",
                ours=Stat.of(values[mode]),
                baseline_label=f"server limit {args.rate:g} req/s",
                baseline=Stat.of([args.rate]),
                ratio=Stat.of([value / args.rate for value in values[mode]]),
                target=">= 0.9x limit",
                goal="ratio_at_least",
                goal_value=0.9,
            ),
            Row(
                benchmark="B5",
                what=f"{what}: answered 429",
                unit="%",
                ours=Stat.of(shares[mode]),
                baseline_label="-",
                baseline=None,
                ratio=None,
                target="<= 2%",
                goal="ours_at_most",
                goal_value=2.0,
            ),
        ]
    report("b5_rate_limit", rows, params, args.out)


if __name__ == "__main__":
    main()
