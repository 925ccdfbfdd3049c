"""Bulk-job journals: one line per outcome, and a rerun that finishes the job exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from numbers_async import (
    BulkJob,
    BulkProgress,
    BulkReport,
    InvalidInputError,
    NumbersClient,
    RetryPolicy,
    SmsConfiguration,
    Timeouts,
)
from numbers_async.bulk._journal import Journal
from numbers_async.testing import FakeNumbersServer, Fault

NO_RETRY = RetryPolicy(attempts=1)
# An attempt lasts at most this: a rerun waits that long after a lost request's intent.
SHORT = Timeouts(total=0.5)
QUICK: dict[str, Any] = {"retry": NO_RETRY, "timeouts": SHORT}
# A rerun's own attempts may take longer than SHORT on a loaded machine (in CI they timed
# out at 0.5 s and ended unknown); what a rerun waits for is the earlier runs' windows,
# which their journal records, not its own.
RERUN: dict[str, Any] = {"retry": NO_RETRY, "timeouts": Timeouts(total=5.0)}


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def events(path: Path) -> list[tuple[Any, str]]:
    return [(e["item"], e["event"]) for e in lines(path) if "item" in e]


def phones_of(report: BulkReport) -> list[str]:
    return [n.phone_number for n in report.succeeded]


async def run_until_cancelled(
    fake: FakeNumbersServer, route: str, make_job: Any, after: int
) -> None:
    """Run a job and cancel it (as Ctrl-C would) once ``after`` items are done.

    ``after=0``: as soon as the first request is being handled, before any answer.
    """
    done = 0

    def on_progress(progress: BulkProgress) -> None:
        nonlocal done
        done = progress.done

    def time_to_cancel() -> bool:
        if after:
            return done >= after
        return any(request.status == 0 for request in fake.requests_for(route))

    job: BulkJob = make_job(on_progress)
    task = asyncio.create_task(job.run())
    for _ in range(2000):
        if time_to_cancel() or task.done():
            break
        await asyncio.sleep(0.005)
    assert time_to_cancel()
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_journal_has_a_header_then_intent_and_outcome_of_each_item(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    owned = fake.add_active_numbers(3)
    await client.bulk.release([*owned, "+19995550000"], journal=journal)

    header, *rest = lines(journal)
    assert header["journal"] == "numbers_async.bulk"
    assert header["operation"] == "release"
    assert header["request"] == {}
    assert all("at" in entry for entry in rest)
    for phone in owned:
        assert events(journal).index((phone, "intent")) < events(journal).index(
            (phone, "succeeded")
        )
    failed = next(e for e in rest if e["event"] == "failed")
    assert failed["item"] == "+19995550000"
    assert failed["error"] == "NotFoundError"
    assert failed["status"] == 404
    succeeded = next(e for e in rest if e["event"] == "succeeded")
    assert succeeded["number"]["phoneNumber"] in owned


async def test_update_is_idempotent_so_records_no_intent(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "update.jsonl"
    owned = fake.add_active_numbers(3)
    await client.bulk.update(owned, display_name="x", journal=journal)
    assert sorted(events(journal)) == [(phone, "succeeded") for phone in owned]
    assert lines(journal)[0]["request"] == {"displayName": "x"}


async def test_rerun_skips_what_succeeded_and_retries_what_failed(
    fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    owned = fake.add_active_numbers(20)
    fake.inject(Fault.status(403), route="release", times=4)  # refused: a definite failure
    async with fake.client(**QUICK) as client:
        first = await client.bulk.release(owned, journal=journal, concurrency=4)
    assert (len(first.succeeded), len(first.failed)) == (16, 4)
    fake.requests.clear()
    async with fake.client(**RERUN) as client:
        second = await client.bulk.release(owned, journal=journal, concurrency=4)

    assert second.ok
    assert sorted(phones_of(second)) == owned
    assert second.resumed == 16
    assert len(fake.requests_for("release")) == 4  # only the ones that failed
    assert fake.active == {}


@pytest.mark.parametrize("cancel_after", [0, 5, 17])
async def test_cancelled_rent_rerun_rents_every_number_exactly_once(
    tmp_path: Path, cancel_after: int
) -> None:
    journal = tmp_path / "rent.jsonl"
    sms = SmsConfiguration(service_plan_id="plan")
    async with (
        FakeNumbersServer(latency=0.02) as fake,
        fake.client(**QUICK) as client,
    ):
        wanted = [
            n.phone_number for n in await client.available_numbers.search("US", "LOCAL", size=40)
        ]
        fake.inject(Fault.reset_after(), route="rent", times=4)  # rented, response lost

        await run_until_cancelled(
            fake,
            "rent",
            lambda on_progress: client.bulk.rent(
                wanted, sms=sms, journal=journal, concurrency=8, on_progress=on_progress
            ),
            after=cancel_after,
        )
        await asyncio.sleep(0.05)  # the server finishes what the cancelled client sent
        last = dict(events(journal))
        interrupted = {item for item, event in last.items() if event == "intent"}
        assert interrupted  # some rents were in flight when the job was cancelled
        # A rent can also have ended unknown before the cancel (its settling check timed
        # out on a loaded machine): the rerun checks those too, and nothing else.
        unknown = interrupted | {item for item, event in last.items() if event == "unknown"}

        fake.requests.clear()
        # A reset the first run did not use up (cancelled before its rents reached the
        # server, on a loaded machine) would make one of the rerun's own rents unknown and
        # checked: the rerun meets a server that tells the truth.
        fake.clear_faults()
        async with fake.client(**RERUN) as rerun:
            report = await rerun.bulk.rent(wanted, sms=sms, journal=journal, concurrency=8)
        checked = {unquote(r.path.rsplit("/", 1)[-1]) for r in fake.requests_for("get_active")}

    assert report.ok
    assert sorted(phones_of(report)) == sorted(wanted)
    assert {phone: fake.rent_counts[phone] for phone in wanted} == dict.fromkeys(wanted, 1)
    assert sum(fake.rent_counts.values()) == len(wanted)
    # Each unknown outcome was checked before acting, and nothing else.
    assert checked == unknown, {item: last.get(item) for item in checked ^ unknown}


@pytest.mark.parametrize("cancel_after", [0, 9])
async def test_cancelled_rent_any_rerun_rents_exactly_count_numbers(
    tmp_path: Path, cancel_after: int
) -> None:
    journal = tmp_path / "rent_any.jsonl"
    count = 24
    async with (
        FakeNumbersServer(latency=0.02) as fake,
        fake.client(**QUICK) as client,
    ):
        already = fake.add_active_numbers(5)  # owned before the job: never counted as its own
        fake.inject(Fault.reset_after(), route="rent_any", times=3)  # rented, response lost
        fake.inject(Fault.reset_before(), route="rent_any", times=2)  # never processed

        def job(on_progress: Any = None) -> BulkJob:
            return client.bulk.rent_any(
                count, "US", "LOCAL", journal=journal, concurrency=6, on_progress=on_progress
            )

        await run_until_cancelled(fake, "rent_any", job, after=cancel_after)
        await asyncio.sleep(0.05)
        first_rents = sum(fake.rent_counts.values())
        assert 0 < first_rents < count
        # Faults the first run did not reach (it may be cancelled before using them all)
        # would only make the rerun's own outcomes unknown: the rerun tests settling.
        fake.clear_faults()

        async with fake.client(**RERUN) as rerun:
            report = await rerun.bulk.rent_any(count, "US", "LOCAL", journal=journal, concurrency=6)
        baseline = next(e["baseline"] for e in lines(journal) if "baseline" in e)

    assert report.ok, report.failed
    assert len(set(phones_of(report))) == count
    assert sum(fake.rent_counts.values()) == count
    assert set(fake.rent_counts.values()) == {1}
    assert set(phones_of(report)).isdisjoint(already)
    assert baseline == already
    assert report.resumed >= first_rents - 2  # at most the reset_before ones were not rented


async def test_lost_rent_any_responses_are_settled_from_the_listing(
    fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "rent_any.jsonl"
    fake.inject(Fault.reset_after(), route="rent_any", times=3)
    async with fake.client(**QUICK) as client:
        first = await client.bulk.rent_any(10, "US", "LOCAL", journal=journal, concurrency=1)
    assert first.unknown == 3
    rented_by_lost_requests = set(fake.rent_counts) - set(phones_of(first))
    fake.requests.clear()
    async with fake.client(**RERUN) as client:
        second = await client.bulk.rent_any(10, "US", "LOCAL", journal=journal, concurrency=1)

    assert second.ok
    assert second.resumed == 10
    assert set(phones_of(second)) == set(fake.rent_counts)
    assert rented_by_lost_requests <= set(phones_of(second))
    assert fake.requests_for("rent_any") == []  # settled by listing, nothing rented again
    reconciled = [e for e in lines(journal) if e.get("reconciled")]
    assert len(reconciled) == 3


async def test_a_release_whose_answer_was_lost_is_settled_on_rerun(
    fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    owned = fake.add_active_numbers(5)
    fake.inject(Fault.reset_after(), route="release", times=2)
    async with fake.client(**QUICK) as client:
        first = await client.bulk.release(owned, journal=journal, concurrency=1)
    assert first.unknown == 2
    async with fake.client(**RERUN) as client:
        second = await client.bulk.release(owned, journal=journal)

    assert second.ok
    assert sorted(phones_of(second)) == owned
    assert fake.active == {}


async def test_a_journal_refuses_another_kind_of_job(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "job.jsonl"
    await client.bulk.release([], journal=journal)
    fake.requests.clear()

    with pytest.raises(InvalidInputError, match="bulk release job; it cannot drive a bulk rent"):
        await client.bulk.rent(["+12065550100"], journal=journal)
    with pytest.raises(InvalidInputError, match="bulk release job; it cannot drive a bulk rent_"):
        await client.bulk.rent_any(3, "US", "LOCAL", journal=journal)
    assert fake.requests == []


async def test_a_journal_refuses_the_same_job_with_other_arguments(
    client: NumbersClient, tmp_path: Path
) -> None:
    journal = tmp_path / "job.jsonl"
    await client.bulk.update([], display_name="A", journal=journal)
    with pytest.raises(InvalidInputError, match="different request"):
        await client.bulk.update([], display_name="B", journal=journal)
    await client.bulk.update([], display_name="A", journal=journal)  # the same job: fine


async def test_a_file_that_is_not_a_journal_is_refused(
    client: NumbersClient, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n")
    with pytest.raises(InvalidInputError, match="line 1 is not JSON"):
        await client.bulk.release([], journal=notes)
    notes.write_text('{"hello": "world"}\n')
    with pytest.raises(InvalidInputError, match="not a numbers_async bulk journal"):
        await client.bulk.release([], journal=notes)
    assert notes.read_text() == '{"hello": "world"}\n'  # left as it was


async def test_a_torn_last_line_is_cut_off(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    owned = fake.add_active_numbers(4)
    await client.bulk.release(owned[:2], journal=journal)
    with journal.open("a") as file:
        file.write('{"item": "+1555000')  # the process died mid-write

    report = await client.bulk.release(owned, journal=journal)

    assert report.ok
    assert report.resumed == 2
    assert all(line.endswith("}") for line in journal.read_text().splitlines())


async def test_a_journal_in_use_by_a_running_job_is_refused(
    client: NumbersClient, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    held = await Journal.open(journal, "release", {})
    try:
        with pytest.raises(InvalidInputError, match="in use"):
            await client.bulk.release([], journal=journal)
    finally:
        await held.aclose()
    await client.bulk.release([], journal=journal)


async def test_streamed_outcomes_from_the_journal_say_resumed(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "update.jsonl"
    owned = fake.add_active_numbers(4)
    await client.bulk.update(owned[:3], display_name="x", journal=journal)
    async with client.bulk.update(owned, display_name="x", journal=journal).stream() as stream:
        resumed = {o.item: o.resumed async for o in stream}
    assert resumed == {owned[0]: True, owned[1]: True, owned[2]: True, owned[3]: False}


async def test_with_a_journal_a_repeated_item_is_done_once(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    (phone,) = fake.add_active_numbers(1)
    report = await client.bulk.release([phone, phone], journal=journal, concurrency=1)
    assert report.ok
    assert phones_of(report) == [phone, phone]
    assert report.resumed == 1
    assert len(fake.requests_for("release")) == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_rent_any_cancelled_again_and_again_still_rents_exactly_count(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    journal = tmp_path / "rent_any.jsonl"
    count = 30
    async with (
        FakeNumbersServer(latency=0.01) as fake,
        fake.client(**QUICK) as client,
    ):
        fake.inject(Fault.reset_after(), route="rent_any", probability=0.2, times=None)
        for _ in range(4):  # killed at a random point, four times in a row
            task = asyncio.create_task(
                client.bulk.rent_any(count, "US", "LOCAL", journal=journal, concurrency=5).run()
            )
            await asyncio.sleep(rng.uniform(0.0, 0.08))
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.02)  # what the server was handling completes
        fake.clear_faults()
        async with fake.client(**RERUN) as last:
            report = await last.bulk.rent_any(count, "US", "LOCAL", journal=journal)

    assert report.ok, report.failed
    assert len(set(phones_of(report))) == count
    assert sum(fake.rent_counts.values()) == count
    assert set(fake.rent_counts.values()) == {1}


@pytest.mark.parametrize("kind", ["succeeded", "failed"])
async def test_an_outcome_being_journaled_when_the_job_is_cancelled_is_still_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """The server answered, the journal write was under way, then the job was cancelled
    (the CLI's second Ctrl-C): the answer is known, so it is in ``unreported``, not lost."""
    written = asyncio.Event()
    gate = asyncio.Event()
    loop = asyncio.get_running_loop()
    write = Journal._write

    def slow_write(self: Journal, data: bytes) -> None:
        write(self, data)
        if f'"event":"{kind}"'.encode() in data:
            loop.call_soon_threadsafe(written.set)
            asyncio.run_coroutine_threadsafe(gate.wait(), loop).result(timeout=10)

    monkeypatch.setattr(Journal, "_write", slow_write)
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:
        numbers = fake.add_active_numbers(1) if kind == "succeeded" else ["+19995550000"]
        job = client.bulk.release(numbers, journal=tmp_path / "release.jsonl")

        async def consume() -> list[Any]:
            async with job.stream() as stream:
                return [outcome async for outcome in stream]

        consumer = asyncio.create_task(consume())
        await asyncio.wait_for(written.wait(), 10)
        consumer.cancel()
        await asyncio.sleep(0.05)  # the cancellation reaches the item while it waits
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await consumer

    assert events(tmp_path / "release.jsonl")[-1] == (numbers[0], kind)
    assert [outcome.item for outcome in job.unreported] == numbers
    assert [outcome.ok for outcome in job.unreported] == [kind == "succeeded"]
