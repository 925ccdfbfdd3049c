"""client.bulk: fan-out with bounded concurrency, one outcome per item, progress, streaming."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

from numbers_async import (
    AmbiguousOutcomeError,
    BulkOutcome,
    BulkProgress,
    BulkReport,
    InvalidInputError,
    NotFoundError,
    NumbersClient,
    RetryPolicy,
    ServerError,
    SmsConfiguration,
)
from numbers_async.bulk import Bulk
from numbers_async.testing import FakeNumbersServer, Fault

# Retries as the client does them, without the waiting.
FAST_RETRY = RetryPolicy(attempts=4, backoff=0.001, max_backoff=0.01)


def bulk_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("numbers-async bulk")]


def phones_of(report: BulkReport) -> list[str]:
    return [n.phone_number for n in report.succeeded]


def not_owned(count: int) -> list[str]:
    return [f"+1999555{i:04d}" for i in range(count)]


async def test_client_bulk_is_one_object_per_client(client: NumbersClient) -> None:
    assert isinstance(client.bulk, Bulk)
    assert client.bulk is client.bulk


async def test_release_reports_each_number_once_with_its_outcome(fake: FakeNumbersServer) -> None:
    owned = fake.add_active_numbers(40)
    strangers = not_owned(5)  # 404: the project does not own them
    fake.inject(Fault.status(500), route="release", times=4)  # then success on retry
    fake.inject(Fault.status(503, body="html"), route="release", times=2)
    fake.inject(Fault.reset_before(), route="release", times=3)  # never arrived: retried
    fake.inject(Fault.reset_after(), route="release", times=3)  # released, answer lost
    async with fake.client(retry=FAST_RETRY) as client:
        report = await client.bulk.release(owned + strangers, concurrency=8)

    assert sorted(phones_of(report)) == owned
    assert sorted(f.item for f in report.failed) == strangers
    assert all(isinstance(f.error, NotFoundError) for f in report.failed)
    assert not any(f.outcome_unknown for f in report.failed)
    assert report.total == 45
    assert not report.ok
    assert report.operation == "release"
    assert fake.active == {}


async def test_rent_with_faults_rents_each_number_exactly_once(fake: FakeNumbersServer) -> None:
    async with fake.client(retry=FAST_RETRY) as client:
        found = await client.available_numbers.search("US", "LOCAL", size=30)
        wanted = [n.phone_number for n in found]
        missing = not_owned(3)  # 404 on rent: not available
        fake.inject(Fault.status(500), route="rent", times=3)
        fake.inject(Fault.reset_before(), route="rent", times=2)
        fake.inject(Fault.reset_after(), route="rent", times=3)  # rented, answer lost
        report = await client.bulk.rent(wanted + missing, concurrency=6)

    assert sorted(phones_of(report)) == sorted(wanted)
    assert sorted(f.item for f in report.failed) == missing
    assert {type(f.error) for f in report.failed} == {NotFoundError}
    assert {phone: fake.rent_counts[phone] for phone in wanted} == dict.fromkeys(wanted, 1)


async def test_a_server_error_that_persists_fails_only_its_item(fake: FakeNumbersServer) -> None:
    owned = fake.add_active_numbers(10)
    fake.inject(Fault.status(500), route="release", times=2)
    async with fake.client(retry=RetryPolicy(attempts=1)) as client:
        report = await client.bulk.release(owned, concurrency=1)

    assert len(report.succeeded) == 8
    assert len(report.failed) == 2
    # A 5xx may have acted: the release ends ambiguous, the 500 chained.
    assert all(isinstance(f.error, AmbiguousOutcomeError) for f in report.failed)
    assert all(isinstance(f.error.__cause__, ServerError) for f in report.failed)
    assert all(f.outcome_unknown for f in report.failed)
    assert report.unknown == 2


async def test_bad_items_fail_alone(client: NumbersClient, fake: FakeNumbersServer) -> None:
    owned = fake.add_active_numbers(3)
    report = await client.bulk.release(["not a number", owned[0], 12345, owned[1]])  # type: ignore[list-item]

    assert sorted(phones_of(report)) == owned[:2]
    assert [type(f.error) for f in report.failed] == [InvalidInputError, InvalidInputError]
    assert {f.item for f in report.failed} == {"not a number", 12345}


async def test_ten_thousand_releases_never_exceed_concurrency() -> None:
    concurrency = 25
    pulled = 0
    samples: list[int] = []

    def numbers(phones: list[str]) -> Iterator[str]:
        nonlocal pulled
        for phone in phones:
            pulled += 1
            yield phone

    def on_progress(progress: BulkProgress) -> None:
        samples.append(len(bulk_tasks()))
        assert pulled - progress.done <= concurrency

    async with FakeNumbersServer(latency=0.001) as fake:
        owned = fake.add_active_numbers(10_000)
        # The client would allow far more: the job's own bound is what is measured.
        async with fake.client(max_concurrency=200) as client:
            job = client.bulk.release(
                numbers(owned), concurrency=concurrency, on_progress=on_progress
            )
            report = await job

    assert report.ok
    assert len(report.succeeded) == 10_000
    assert 1 < fake.max_in_flight <= concurrency
    assert max(samples) <= concurrency
    assert job.in_flight == 0
    assert bulk_tasks() == []


@pytest.mark.parametrize("source", ["sync", "async"])
async def test_an_endless_input_is_consumed_lazily(fake: FakeNumbersServer, source: str) -> None:
    concurrency = 7
    pulled = 0

    def endless() -> Iterator[str]:
        nonlocal pulled
        for index in itertools.count():
            pulled += 1
            yield f"+1999{index:07d}"

    async def endless_async() -> AsyncIterator[str]:
        for phone in endless():
            await asyncio.sleep(0)
            yield phone

    async with fake.client() as client:
        items = endless() if source == "sync" else endless_async()

        def on_progress(progress: BulkProgress) -> None:
            assert pulled - progress.done <= concurrency + 1  # +1: the async pull under way
            if progress.done == 100:
                job.stop()

        job = client.bulk.release(items, concurrency=concurrency, on_progress=on_progress)
        report = await job

    assert report.stopped
    assert not report.ok
    assert 100 <= report.total <= 100 + concurrency
    assert pulled <= report.total + 1


async def test_progress_is_reported_as_each_item_finishes(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    owned = fake.add_active_numbers(12)
    seen: list[BulkProgress] = []
    report = await client.bulk.release(owned + not_owned(3), concurrency=4, on_progress=seen.append)

    assert [p.done for p in seen] == list(range(1, 16))
    assert all(p.total == 15 for p in seen)
    assert seen[-1].succeeded == 12
    assert seen[-1].failed == 3
    assert all(p.succeeded + p.failed == p.done for p in seen)
    assert [p.outcome.item for p in seen if p.outcome is not None and p.outcome.ok] == phones_of(
        report
    )
    assert seen[-1].elapsed > 0
    assert seen[-1].rate > 0


async def test_stream_yields_each_outcome_as_it_completes(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    owned = fake.add_active_numbers(10)
    outcomes: list[BulkOutcome] = []
    async with client.bulk.update(owned, display_name="Fleet", concurrency=3).stream() as stream:
        async for outcome in stream:
            outcomes.append(outcome)

    assert sorted(o.item for o in outcomes) == owned
    assert all(o.ok and o.number is not None for o in outcomes)
    assert {o.number.display_name for o in outcomes if o.number} == {"Fleet"}
    assert all(n["displayName"] == "Fleet" for n in fake.active.values())


async def test_leaving_a_stream_early_cancels_what_is_in_flight() -> None:
    async with FakeNumbersServer(latency=0.05) as fake, fake.client() as client:
        owned = fake.add_active_numbers(50)
        async with client.bulk.release(owned, concurrency=5).stream() as stream:
            async for _ in stream:
                break
        assert bulk_tasks() == []
        # The client is unharmed and the connections were given back.
        assert (await client.active_numbers.get(owned[-1])).phone_number == owned[-1]


async def test_outcomes_reached_after_the_stream_was_left_are_kept_as_unreported() -> None:
    async with FakeNumbersServer(latency=0.05) as fake, fake.client() as client:
        owned = fake.add_active_numbers(50)
        job = client.bulk.release(owned, concurrency=5)
        yielded: list[BulkOutcome] = []
        async with job.stream() as stream:
            async for outcome in stream:
                yielded.append(outcome)
                # While the consumer dawdles, the four other releases in flight finish
                # (no new ones start: the job is suspended at its yield).
                await asyncio.sleep(0.5)
                break
        released = set(owned) - set(fake.active)

    assert len(yielded) == 1
    assert len(job.unreported) == 4
    assert all(outcome.ok for outcome in job.unreported)
    assert {o.item for o in [*yielded, *job.unreported]} == released  # nothing unaccounted


async def test_a_job_that_ran_to_its_end_has_nothing_unreported(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    job = client.bulk.release(fake.add_active_numbers(7), concurrency=3)
    report = await job
    assert report.total == 7
    assert job.unreported == ()


async def test_cancelling_a_job_leaves_no_task_behind() -> None:
    async with FakeNumbersServer(latency=0.05) as fake, fake.client() as client:
        owned = fake.add_active_numbers(50)
        started = asyncio.Event()
        job = client.bulk.release(owned, concurrency=5, on_progress=lambda _: started.set())
        task = asyncio.create_task(job.run())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert bulk_tasks() == []
        assert len(fake.active) > 30  # it stopped early


async def test_stop_lets_items_in_flight_finish() -> None:
    async with FakeNumbersServer(latency=0.02) as fake, fake.client() as client:
        owned = fake.add_active_numbers(40)

        def on_progress(progress: BulkProgress) -> None:
            if progress.done == 6:
                job.stop()
                assert job.stopping

        job = client.bulk.release(owned, concurrency=4, on_progress=on_progress)
        report = await job

    assert report.stopped
    assert 6 <= report.total <= 10
    assert report.failed == []  # nothing cut off mid-request
    assert len(fake.active) == 40 - report.total


async def test_rent_any_rents_count_numbers(client: NumbersClient, fake: FakeNumbersServer) -> None:
    sms = SmsConfiguration(service_plan_id="plan-1")
    report = await client.bulk.rent_any(
        12, "US", "LOCAL", pattern="+1", search_pattern="START", sms=sms, concurrency=4
    )

    assert report.ok
    assert len(set(phones_of(report))) == 12
    assert sum(fake.rent_counts.values()) == 12
    bodies = [r.json() for r in fake.requests_for("rent_any")]
    assert all(b["smsConfiguration"] == {"servicePlanId": "plan-1"} for b in bodies)
    assert all(b["numberPattern"] == {"pattern": "+1", "searchPattern": "START"} for b in bodies)


async def test_an_empty_input_is_an_empty_report(client: NumbersClient) -> None:
    report = await client.bulk.release([])
    assert report.ok
    assert report.total == 0
    assert report.rate == 0


@pytest.mark.parametrize(
    ("start", "argument"),
    [
        (lambda b: b.release("+12065550100"), "phone_numbers"),
        (lambda b: b.release(["+12065550100"], concurrency=0), "concurrency"),
        (lambda b: b.release(["+12065550100"], journal=3), "journal"),
        (lambda b: b.release(["+12065550100"], on_progress="print"), "on_progress"),
        (lambda b: b.update(["+12065550100"]), "update"),
        (lambda b: b.rent_any(0, "US", "LOCAL"), "count"),
        (lambda b: b.rent_any(3, "USA", "LOCAL"), "region_code"),
        (lambda b: b.rent_any(3, "US", "LOCAL", capabilities=5), "capabilities"),
        (lambda b: b.rent(["+12065550100"], callback_url="not a url"), "callback_url"),
    ],
)
async def test_bad_arguments_are_refused_before_anything_is_sent(
    client: NumbersClient, fake: FakeNumbersServer, start: object, argument: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        start(client.bulk)  # type: ignore[operator]
    assert raised.value.argument == argument
    assert fake.requests == []


async def test_a_job_runs_once(client: NumbersClient) -> None:
    job = client.bulk.release([])
    await job
    with pytest.raises(RuntimeError, match=r"^a BulkJob runs only once; start a new job$"):
        await job
    with pytest.raises(RuntimeError, match=r"^a BulkJob runs only once; start a new job$"):
        job.stream()


async def test_jobs_can_run_side_by_side(client: NumbersClient, fake: FakeNumbersServer) -> None:
    first, second = fake.add_active_numbers(10), fake.add_active_numbers(10, prefix="+1556")
    reports = await asyncio.gather(client.bulk.release(first), client.bulk.release(second))
    assert [len(r.succeeded) for r in reports] == [10, 10]
