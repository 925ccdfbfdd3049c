"""Reruns against a server still acting on a killed run's requests, and changed inputs.

The "kill" cancels the first run's task: the client drops its connections, but the fake
server — like Sinch after ``kill -9`` — goes on handling the requests it had received
(a latency fault keeps them in progress for a while). The rerun starts at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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
from numbers_async.cli import main
from numbers_async.testing import FakeNumbersServer, Fault

# How long the server keeps working on each request after it arrived.
PROCESSING = 0.25
# Each attempt's limit: the rerun waits at most this long for the killed run's requests.
ATTEMPT = 1.5
QUICK: dict[str, Any] = {"retry": RetryPolicy(attempts=1), "timeouts": Timeouts(total=ATTEMPT)}


def phones_of(report: BulkReport) -> list[str]:
    return [n.phone_number for n in report.succeeded]


def lose_a_rent(fake: FakeNumbersServer) -> None:
    """The next rent happens but its answer is lost, and the client's own check fails."""
    fake.inject(Fault.reset_after(), route="rent")
    fake.inject(Fault.status(503), route="get_active")


async def kill_mid_flight(
    fake: FakeNumbersServer, route: str, job: BulkJob, in_flight: int
) -> None:
    """Run ``job`` and kill it once ``in_flight`` of its requests are being handled."""
    task = asyncio.create_task(job)
    for _ in range(2000):
        if sum(r.status == 0 for r in fake.requests_for(route)) >= in_flight or task.done():
            break
        await asyncio.sleep(0.005)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The server is still working on them: nothing is settled yet.
    assert any(r.status == 0 for r in fake.requests_for(route))


async def test_killed_rent_rerun_while_the_server_still_rents_rents_each_once(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "rent.jsonl"
    sms = SmsConfiguration(service_plan_id="plan")
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:
        wanted = [
            n.phone_number for n in await client.available_numbers.search("US", "LOCAL", size=12)
        ]
        fake.inject(Fault.latency(PROCESSING), route="rent", times=None)
        await kill_mid_flight(
            fake, "rent", client.bulk.rent(wanted, sms=sms, journal=journal, concurrency=4), 4
        )
        report = await client.bulk.rent(wanted, sms=sms, journal=journal, concurrency=4)

    assert report.ok, report.failed
    assert sorted(phones_of(report)) == sorted(wanted)
    assert {phone: fake.rent_counts[phone] for phone in wanted} == dict.fromkeys(wanted, 1)
    assert sum(fake.rent_counts.values()) == len(wanted)


async def test_killed_rent_any_rerun_while_the_server_still_rents_rents_exactly_count(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "rent_any.jsonl"
    count = 12
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:
        fake.inject(Fault.latency(PROCESSING), route="rent_any", times=None)

        def job() -> BulkJob:
            return client.bulk.rent_any(count, "US", "LOCAL", journal=journal, concurrency=6)

        await kill_mid_flight(fake, "rent_any", job(), 6)
        report = await job()

    assert report.ok, report.failed
    assert sum(fake.rent_counts.values()) == count
    assert set(fake.rent_counts.values()) == {1}
    assert sorted(phones_of(report)) == sorted(fake.rent_counts)  # every rented one reported
    assert report.unaccounted == []


async def test_killed_release_rerun_while_the_server_still_releases_releases_each_once(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "release.jsonl"
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:
        owned = fake.add_active_numbers(12)
        fake.inject(Fault.latency(PROCESSING), route="release", times=None)
        await kill_mid_flight(fake, "release", client.bulk.release(owned, journal=journal), 6)
        report = await client.bulk.release(owned, journal=journal)
        await asyncio.sleep(PROCESSING)  # anything still being handled has ended

    assert report.ok, report.failed
    assert sorted(phones_of(report)) == owned
    assert fake.active == {}
    released = [r.path.rsplit("/", 1)[-1] for r in fake.requests_for("release") if r.status == 200]
    assert len(released) == len(owned)  # each released once: a repeat answers 404
    assert len(set(released)) == len(owned)


async def test_killed_update_rerun_while_the_server_still_updates_updates_each(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "update.jsonl"
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:
        owned = fake.add_active_numbers(12)
        fake.inject(Fault.latency(PROCESSING), route="update_active", times=None)
        job = client.bulk.update(owned, display_name="Fleet", journal=journal, concurrency=4)
        await kill_mid_flight(fake, "update_active", job, 4)
        report = await client.bulk.update(owned, display_name="Fleet", journal=journal)
        numbers = [await client.active_numbers.get(phone) for phone in owned]

    assert report.ok, report.failed
    assert sorted(phones_of(report)) == owned
    assert {n.display_name for n in numbers} == {"Fleet"}


async def test_a_rerun_waits_visibly_before_settling_and_sends_nothing_meanwhile(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "rent.jsonl"
    seen: list[BulkProgress] = []
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:
        (phone,) = [
            n.phone_number for n in await client.available_numbers.search("US", "LOCAL", size=1)
        ]
        fake.inject(Fault.latency(PROCESSING), route="rent", times=None)
        await kill_mid_flight(fake, "rent", client.bulk.rent([phone], journal=journal), 1)
        fake.requests.clear()
        offset = time.time() - asyncio.get_running_loop().time()  # loop clock -> wall clock
        with caplog.at_level(logging.INFO, logger="numbers_async"):
            report = await client.bulk.rent([phone], journal=journal, on_progress=seen.append)

    waiting = [p for p in seen if p.waiting_until is not None]
    assert len(waiting) == 1
    assert waiting[0].outcome is None
    until = waiting[0].waiting_until
    assert until is not None
    assert until.tzinfo is not None
    assert 0 < until.timestamp() - time.time() + report.elapsed <= 2 * ATTEMPT
    assert min(r.at for r in fake.requests) + offset >= until.timestamp() - 0.05
    assert any(
        r.name.startswith("numbers_async") and r.levelno == logging.INFO and "waiting" in r.message
        for r in caplog.records
    )
    assert report.ok
    assert fake.rent_counts[phone] == 1


async def test_stop_during_the_wait_ends_the_job_without_settling(tmp_path: Path) -> None:
    journal = tmp_path / "rent.jsonl"
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:
        wanted = [
            n.phone_number for n in await client.available_numbers.search("US", "LOCAL", size=2)
        ]
        fake.inject(Fault.latency(PROCESSING), route="rent", times=None)
        await kill_mid_flight(fake, "rent", client.bulk.rent(wanted, journal=journal), 2)
        fake.requests.clear()
        rerun: BulkJob

        def stop_when_waiting(progress: BulkProgress) -> None:
            if progress.waiting_until is not None:
                rerun.stop()

        rerun = client.bulk.rent(wanted, journal=journal, on_progress=stop_when_waiting)
        report = await rerun

    assert report.stopped
    assert report.total == 0
    assert fake.requests == []


async def test_a_failed_rent_after_an_unknown_attempt_is_checked_before_renting_again(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "rent.jsonl"
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:
        (phone,) = [
            n.phone_number for n in await client.available_numbers.search("US", "LOCAL", size=1)
        ]
        lose_a_rent(fake)
        first = await client.bulk.rent([phone], journal=journal)
        assert first.unknown == 1
        # What an older version journaled on the rerun: the number "not available", failed.
        with journal.open("a") as file:
            file.write(
                f'{{"item":"{phone}","event":"intent","at":"2026-01-01T00:00:00.000Z"}}\n'
                f'{{"item":"{phone}","event":"failed","error":"InvalidArgumentError",'
                f'"message":"not available","status":400,"at":"2026-01-01T00:00:01.000Z"}}\n'
            )
        fake.requests.clear()
        report = await client.bulk.rent([phone], journal=journal)

    assert report.ok
    assert phones_of(report) == [phone]
    assert [r.route for r in fake.requests] == ["get_active"]  # checked, not rented again
    assert fake.rent_counts[phone] == 1


async def test_rent_not_available_after_an_unknown_attempt_is_never_journaled_failed_if_owned(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "rent.jsonl"
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:
        (phone,) = [
            n.phone_number for n in await client.available_numbers.search("US", "LOCAL", size=1)
        ]
        lose_a_rent(fake)
        assert (await client.bulk.rent([phone], journal=journal)).unknown == 1
        # The check finds nothing (the lost rent is "still in progress"), the rent is refused.
        fake.inject(Fault.status(404), route="get_active")
        fake.requests.clear()
        report = await client.bulk.rent([phone], journal=journal)

    assert report.ok  # asked again after "not available": the project owns it
    assert [r.route for r in fake.requests] == ["get_active", "rent", "get_active"]
    assert fake.rent_counts[phone] == 1


async def test_rent_any_numbers_no_request_accounts_for_are_reported_unaccounted(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "rent_any.jsonl"
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:
        fake.inject(Fault.reset_after(), route="rent_any", times=2)
        first = await client.bulk.rent_any(4, "US", "LOCAL", journal=journal, concurrency=1)
        assert first.unknown == 2
        (stranger,) = fake.add_active_numbers(1)  # rented by something else meanwhile
        report = await client.bulk.rent_any(4, "US", "LOCAL", journal=journal)

    assert report.ok
    assert len(report.succeeded) == 4
    assert sum(fake.rent_counts.values()) == 4
    assert [n.phone_number for n in report.unaccounted] == [stranger]


# --- the input is part of the journal's identity --------------------------------------------


async def stopped_after(client: NumbersClient, wanted: list[str], journal: Path, done: int) -> int:
    """Rent ``wanted`` until ``done`` numbers are rented, then stop (as Ctrl-C would)."""
    job: BulkJob

    def on_progress(progress: BulkProgress) -> None:
        if progress.succeeded >= done:
            job.stop()

    job = client.bulk.rent(wanted, journal=journal, concurrency=2, on_progress=on_progress)
    report = await job
    assert report.stopped
    return len(report.succeeded)


async def test_a_rerun_with_a_fresh_search_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    """Stopped at 161 of 300 and rerun with a new search: the project ended with 461."""
    journal = tmp_path / "rent.jsonl"
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:

        async def search() -> list[str]:
            found = await client.available_numbers.search("US", "LOCAL", size=30)
            return [n.phone_number for n in found]

        rented = await stopped_after(client, await search(), journal, 16)
        again = await search()  # the natural script searches again: other numbers
        fake.requests.clear()
        with pytest.raises(InvalidInputError, match="input changed") as raised:
            await client.bulk.rent(again, journal=journal)

    assert "Rerun with the list the journal was written for" in str(raised.value)
    assert "start a new journal" in str(raised.value)
    assert raised.value.argument == "phone_numbers"
    assert fake.requests == []
    assert sum(fake.rent_counts.values()) == rented


async def test_a_streamed_input_that_changed_stops_at_the_first_mismatch(tmp_path: Path) -> None:
    journal = tmp_path / "rent.jsonl"
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:
        found = await client.available_numbers.search("US", "LOCAL", size=20)
        rented = await stopped_after(client, [n.phone_number for n in found], journal, 6)
        again = [
            n.phone_number for n in await client.available_numbers.search("US", "LOCAL", size=20)
        ]
        pulled: list[str] = []

        async def stream() -> AsyncIterator[str]:
            for phone in again:
                pulled.append(phone)
                yield phone

        fake.requests.clear()
        with pytest.raises(InvalidInputError, match="item 0 is"):
            await client.bulk.rent(stream(), journal=journal)

    assert pulled == again[:1]
    assert fake.requests == []
    assert sum(fake.rent_counts.values()) == rented


async def test_the_same_stream_again_resumes(tmp_path: Path) -> None:
    journal = tmp_path / "rent.jsonl"
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:
        wanted = [
            n.phone_number for n in await client.available_numbers.search("US", "LOCAL", size=10)
        ]
        await stopped_after(client, wanted, journal, 4)

        async def stream() -> AsyncIterator[str]:
            for phone in wanted:
                yield phone

        report = await client.bulk.rent(stream(), journal=journal)

    assert report.ok
    assert sorted(phones_of(report)) == sorted(wanted)
    assert set(fake.rent_counts.values()) == {1}


async def test_a_list_with_more_items_than_the_journal_is_the_same_job(tmp_path: Path) -> None:
    journal = tmp_path / "rent.jsonl"
    async with FakeNumbersServer() as fake, fake.client(**QUICK) as client:
        wanted = [
            n.phone_number for n in await client.available_numbers.search("US", "LOCAL", size=10)
        ]
        await client.bulk.rent(wanted[:5], journal=journal)
        report = await client.bulk.rent(wanted, journal=journal)

    assert report.ok
    assert report.resumed == 5
    assert set(fake.rent_counts.values()) == {1}


# --- a job is a coroutine ---------------------------------------------------------------------


async def test_create_task_runs_a_job(client: NumbersClient, fake: FakeNumbersServer) -> None:
    owned = fake.add_active_numbers(3)
    report = await asyncio.create_task(client.bulk.release(owned))
    assert sorted(phones_of(report)) == owned


async def test_task_group_create_task_runs_a_job(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    owned = fake.add_active_numbers(3)
    if not hasattr(asyncio, "TaskGroup"):  # Python 3.10: the same through gather
        (report,) = await asyncio.gather(client.bulk.release(owned))
    else:
        async with asyncio.TaskGroup() as group:
            task = group.create_task(client.bulk.release(owned))
        report = task.result()
    assert sorted(phones_of(report)) == owned


async def test_wait_for_runs_a_job_and_cancels_it_on_timeout(fake: FakeNumbersServer) -> None:
    owned = fake.add_active_numbers(4)
    async with fake.client(**QUICK) as client:
        report = await asyncio.wait_for(client.bulk.release(owned[:2]), timeout=10)
        assert sorted(phones_of(report)) == owned[:2]
        fake.inject(Fault.latency(0.5), route="release", times=None)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.bulk.release(owned[2:]), timeout=0.1)
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("numbers-async bulk")]


async def test_gather_runs_jobs_side_by_side(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    owned = fake.add_active_numbers(4)
    first, second = await asyncio.gather(
        client.bulk.release(owned[:2]), client.bulk.update(owned[2:], display_name="x")
    )
    assert sorted(phones_of(first)) == owned[:2]
    assert sorted(phones_of(second)) == owned[2:]


async def test_cancelling_a_job_task_abandons_its_items_like_a_second_ctrl_c(
    fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    owned = fake.add_active_numbers(6)
    async with fake.client(**QUICK) as client:
        fake.inject(Fault.latency(0.2), route="release", times=None)
        job = client.bulk.release(owned, journal=journal, concurrency=3)
        task = asyncio.create_task(job)
        for _ in range(400):
            if len(fake.requests_for("release")) >= 3:
                break
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert task.cancelled()
    assert job.unreported == ()  # nothing had finished
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("numbers-async bulk")]
    intents = [line for line in journal.read_text().splitlines() if '"intent"' in line]
    assert len(intents) == 3  # unknown: a rerun settles them


# --- the command line says that it waits -------------------------------------------------------


def test_the_cli_says_that_a_rerun_waits_for_the_earlier_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "release.jsonl"
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("+12065550100\n")
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    header = {"journal": "numbers_async.bulk", "version": 2, "operation": "release", "request": {}}
    # A release sent just now by a run that was killed: it may still be acting for 4 s.
    # (With 1 s, a CLI that took longer than that to start under load, in CI, found the
    # window over, rightly did not wait, and so did not say it.)
    intent = {"item": "+12065550100", "event": "intent", "at": now, "window": 4, "attempt": 1}
    journal.write_text(json.dumps(header) + "\n" + json.dumps(intent) + "\n")

    code = main(["bulk-release", str(numbers), "--journal", str(journal), "--fake"])

    err = capsys.readouterr().err
    assert code == 0
    assert f"{journal} has requests an earlier run may still be making; waiting" in err
    assert "UTC) for them to end before settling them" in err


def test_the_cli_refuses_a_timeout_that_is_not_positive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("+12065550100\n")
    code = main(["bulk-release", str(numbers), "--timeout", "0", "--fake"])
    assert code == 2
    assert "--timeout: must be a positive number of seconds" in capsys.readouterr().err
