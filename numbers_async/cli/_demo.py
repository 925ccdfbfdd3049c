"""``numbers-async demo``: the showcase, against an embedded fake Sinch server.

Search, a journaled bulk rent that is interrupted halfway and resumed (with injected
server errors and a lost response along the way), a paged listing, a bulk update and a
bulk release, then a summary table with counts and throughput.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from numbers_async import (
    ActiveNumber,
    BulkJob,
    BulkProgress,
    BulkReport,
    NumbersClient,
    RetryEvent,
    RetryPolicy,
    SmsConfiguration,
)
from numbers_async.cli._output import ACTIVE, Writer, table
from numbers_async.cli._progress import Progress
from numbers_async.testing import FakeNumbersServer, Fault

__all__ = ["run_demo"]

SERVICE_PLAN = "demo-service-plan-0001"
CAMPAIGN = "demo-campaign-0001"
CONCURRENCY = 20
PAGE_SIZE = 50
SHOWN = 5
# number, name, capabilities, monthly, sms: what the tour changes
COMPACT = [ACTIVE[i] for i in (0, 1, 4, 5, 6)]


@attrs.define
class _Step:
    name: str
    items: int
    succeeded: int
    failed: int
    seconds: float


class _Tour:
    def __init__(self, fake: FakeNumbersServer, client: NumbersClient, journal: Path) -> None:
        self.fake = fake
        self.client = client
        self.journal = journal
        self.out = Writer("table", sys.stdout)
        self.steps: list[_Step] = []
        self.found: list[str] = []
        self.number = 0

    def heading(self, title: str) -> None:
        self.number += 1
        print(f"\n[{self.number}] {title}", flush=True)

    async def bulk(
        self, name: str, total: int, make: Callable[[Callable[[BulkProgress], None]], BulkJob]
    ) -> BulkReport:
        """Run a job with a progress bar and keep its figures for the summary."""
        with Progress(name, total=total, enabled=True, file=sys.stdout) as bar:
            report = await make(lambda _: bar.advance())
        self.steps.append(
            _Step(name, report.total, len(report.succeeded), len(report.failed), report.elapsed)
        )
        return report


async def run_demo(*, latency: float = 0.02, count: int = 200) -> int:
    """The showcase with ``count`` numbers; returns the exit code (0)."""
    started = time.perf_counter()
    retries: list[RetryEvent] = []
    policy = RetryPolicy(backoff=0.05, on_retry=retries.append)
    with tempfile.TemporaryDirectory(prefix="numbers-async-demo-") as scratch:
        async with (
            FakeNumbersServer(latency=latency, numbers_per_bucket=max(50, 2 * count)) as fake,
            fake.client(retry=policy, max_concurrency=CONCURRENCY) as client,
        ):
            print(f"numbers-async demo: an embedded fake Sinch API at {fake.url}")
            print(f"(it adds {latency * 1000:.0f} ms of latency to every answer)")
            tour = _Tour(fake, client, Path(scratch) / "rent.jsonl")
            await _search(tour, count)
            phones = await _rent(tour, count)
            await _list(tour)
            await _update(tour, phones)
            await _release(tour, phones)
            _summary(tour, retries, time.perf_counter() - started)
    return 0


async def _search(tour: _Tour, count: int) -> None:
    tour.heading("Regions offering LOCAL numbers")
    tour.out.regions(await tour.client.available_regions.list(types=["LOCAL"]))
    tour.heading(f"Search {count} US LOCAL numbers with SMS")
    found = await tour.client.available_numbers.search(
        "US", "LOCAL", capabilities=["SMS"], size=count
    )
    tour.out.available_numbers(found[:SHOWN])
    if len(found) > SHOWN:
        print(f"... and {len(found) - SHOWN} more")
    tour.found = [n.phone_number for n in found]


async def _rent(tour: _Tour, count: int) -> list[str]:
    phones = tour.found
    half = len(phones) // 2
    sms = SmsConfiguration(service_plan_id=SERVICE_PLAN)
    tour.heading(f"Bulk rent, journaled, with SMS service plan {SERVICE_PLAN}")
    print("The fake answers 3 requests with 503 and loses one response after renting;")
    print(f"the job is stopped after {half} numbers, as Ctrl-C would.")
    tour.fake.inject(Fault.status(503), route="rent", times=3)
    tour.fake.inject(Fault.reset_after(), route="rent", times=1)

    def first_half(on_progress: Callable[[BulkProgress], None]) -> BulkJob:
        def progress(update: BulkProgress) -> None:
            on_progress(update)
            if update.done >= half:
                job.stop()

        job = tour.client.bulk.rent(
            phones, sms=sms, journal=tour.journal, concurrency=CONCURRENCY, on_progress=progress
        )
        return job

    stopped = await tour.bulk("rent (stopped)", len(phones), first_half)
    lines = tour.journal.read_text().count("\n")
    print(
        f"Stopped with {stopped.total} numbers rented (the {stopped.total - half} in flight "
        f"were let finish); the journal holds {lines} lines."
    )

    tour.heading("Rerun with the same journal: it skips what is done, rents the rest")
    resumed = await tour.bulk(
        "rent (resumed)",
        len(phones),
        lambda on_progress: tour.client.bulk.rent(
            phones,
            sms=sms,
            journal=tour.journal,
            concurrency=CONCURRENCY,
            on_progress=on_progress,
        ),
    )
    counts = tour.fake.rent_counts
    once = all(counts[p] == 1 for p in phones) and sum(counts.values()) == len(phones)
    print(
        f"{resumed.resumed} taken from the journal, {resumed.total - resumed.resumed} rented now; "
        f"the fake's rent counter says every number was rented exactly once: {once}"
    )
    return [n.phone_number for n in resumed.succeeded]


async def _list(tour: _Tour) -> None:
    tour.heading(f"Provisioning completes; list every number (pages of {PAGE_SIZE})")
    tour.fake.complete_provisioning()
    started = time.perf_counter()
    pages = 0
    listed: list[ActiveNumber] = []
    with Progress("list", total=len(tour.fake.active), enabled=True, file=sys.stdout) as bar:
        async for page in tour.client.active_numbers.list(page_size=PAGE_SIZE).pages():
            pages += 1
            listed.extend(page.items)
            bar.advance(len(page.items))
    tour.steps.append(_Step("list", len(listed), len(listed), 0, time.perf_counter() - started))
    tour.out.rows(COMPACT, listed[:SHOWN])
    print(f"... {len(listed)} numbers in {pages} page{'' if pages == 1 else 's'}.")


async def _update(tour: _Tour, phones: list[str]) -> None:
    tour.heading(f"Bulk update: name them 'Demo fleet' and move them to SMS campaign {CAMPAIGN}")
    # The service plan is required with every SMS configuration sent, the campaign too.
    sms = SmsConfiguration(service_plan_id=SERVICE_PLAN, campaign_id=CAMPAIGN)
    report = await tour.bulk(
        "update",
        len(phones),
        lambda on_progress: tour.client.bulk.update(
            phones,
            display_name="Demo fleet",
            sms=sms,
            concurrency=CONCURRENCY,
            on_progress=on_progress,
        ),
    )
    tour.out.rows(COMPACT, report.succeeded[:SHOWN])


async def _release(tour: _Tour, phones: list[str]) -> None:
    tour.heading("Bulk release")
    await tour.bulk(
        "release",
        len(phones),
        lambda on_progress: tour.client.bulk.release(
            phones, concurrency=CONCURRENCY, on_progress=on_progress
        ),
    )
    remaining = [n async for n in tour.client.active_numbers.list()]
    print(f"The project now owns {len(remaining)} numbers.")


def _summary(tour: _Tour, retries: list[RetryEvent], elapsed: float) -> None:
    tour.heading("Summary")
    rows = [
        [
            step.name,
            step.items,
            step.succeeded,
            step.failed,
            f"{step.seconds:.2f}",
            f"{step.items / step.seconds:,.0f}" if step.seconds > 0 else "-",
        ]
        for step in tour.steps
    ]
    print(table(("step", "items", "succeeded", "failed", "seconds", "items/s"), rows))
    api_requests = [r for r in tour.fake.requests if r.route != "token"]
    print(
        f"\nDone in {elapsed:.2f}s: {len(api_requests)} API requests "
        f"({len(api_requests) / elapsed:,.0f}/s overall), {tour.fake.token_requests} token "
        f"request(s), {len(retries)} retries, every number rented exactly once: "
        f"{set(tour.fake.rent_counts.values()) == {1}}."
    )
