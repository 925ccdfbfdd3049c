"""Behaviours of a bulk job that mutation testing found unasserted.

Each test pins one thing a changed line of ``bulk._job`` (or of the file journal a rerun
reads) would get wrong: how long a rerun waits before it settles, what an ownership check
that fails leaves behind, what ``stop()`` stops, and how an item that the closed client
never sent is recorded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from numbers_async import (
    ApiError,
    BulkJob,
    BulkProgress,
    BulkReport,
    ClientClosedError,
    InvalidInputError,
    NumbersClient,
    RetryPolicy,
    ServerError,
    Timeouts,
    TransportError,
)
from numbers_async.testing import FakeNumbersServer, Fault
from tests.conftest import eventually

PHONE = "+12065550100"
AT = "2026-01-02T03:04:05.000Z"

# One attempt, no retries: a call's window is one attempt's total.
WINDOW = 1.5
ONE_ATTEMPT = RetryPolicy(attempts=1, outage_wait=0)


def phones_of(report: BulkReport) -> list[str]:
    return [number.phone_number for number in report.succeeded]


def events(path: Path) -> list[tuple[Any, str]]:
    """``(item, event)`` of every item line of the journal at ``path``, in order."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [(line["item"], line["event"]) for line in lines if "item" in line]


async def available(client: NumbersClient, count: int) -> list[str]:
    found = await client.available_numbers.search("US", "LOCAL", size=count)
    return [number.phone_number for number in found]


# --- a rerun waits for the earlier run's latest request --------------------------------------


async def test_a_rent_any_rerun_waits_for_the_killed_runs_latest_request(tmp_path: Path) -> None:
    """The killed run sent its two requests 1.2 s apart: settling after the first one's
    window, the rerun would miss the number the second was still renting, and rent a
    third."""
    journal = tmp_path / "rent_any.jsonl"
    options: dict[str, Any] = {"retry": ONE_ATTEMPT, "timeouts": Timeouts(total=WINDOW)}
    async with FakeNumbersServer() as fake, fake.client(**options) as client:
        # Item 0 rents after 1.2 s and its answer is lost: unknown. Item 1 follows, and
        # the server rents 0.8 s after it arrives, after the run was killed.
        fake.inject(Fault.latency(1.2), route="rent_any", times=1)
        fake.inject(Fault.reset_after(), route="rent_any", times=1)
        task = asyncio.create_task(
            client.bulk.rent_any(2, "US", "LOCAL", journal=journal, concurrency=1)
        )
        await eventually(lambda: len(fake.requests_for("rent_any")) == 1)
        fake.inject(Fault.latency(0.8), route="rent_any", times=1)  # item 1's only
        await eventually(lambda: len(fake.requests_for("rent_any")) == 2)
        task.cancel()  # killed with item 1's request on the server
        with pytest.raises(asyncio.CancelledError):
            await task
        assert [event for item, event in events(journal)] == ["intent", "unknown", "intent"]

        report = await client.bulk.rent_any(2, "US", "LOCAL", journal=journal)
        # Whatever the server was still doing has been done: every request it received
        # has rented (a rerun that settled too early ends before the last one lands).
        await eventually(
            lambda: sum(fake.rent_counts.values()) == len(fake.requests_for("rent_any"))
        )

    # The first item's window ended 0.3 s after the second request arrived, 0.5 s before
    # the server rented for it; the second's ended 0.7 s after that (margins for a loaded
    # machine either way: the request reaches the server well within 0.7 s of its intent).
    assert sum(fake.rent_counts.values()) == 2  # not 3: nothing rented twice
    assert report.ok, report.failed
    assert report.resumed == 2  # both found on the server
    assert sorted(phones_of(report)) == sorted(fake.rent_counts)


# --- a check that fails leaves the outcome unknown ------------------------------------------


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port bound but not listening: every connection to it is refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


def lost_rent(fake: FakeNumbersServer) -> None:
    """The next rent happens but its answer is lost, and the client's own check fails."""
    fake.inject(Fault.reset_after(), route="rent")
    fake.inject(Fault.status(503), route="get_active")


@pytest.mark.parametrize("check", ["answered 403", "not connecting"])
async def test_a_rerun_whose_ownership_check_fails_records_the_item_unknown(
    tmp_path: Path, refusing_port: int, check: str
) -> None:
    journal = tmp_path / "rent.jsonl"
    options: dict[str, Any] = {"retry": ONE_ATTEMPT, "timeouts": Timeouts(total=0.5)}
    async with FakeNumbersServer() as fake, fake.client(**options) as client:
        (phone,) = await available(client, 1)
        lost_rent(fake)
        assert (await client.bulk.rent([phone], journal=journal)).unknown == 1
        fake.requests.clear()

        if check == "answered 403":
            fake.inject(Fault.status(403), route="get_active")
            report = await client.bulk.rent([phone], journal=journal)
        else:  # the API cannot be reached; the token endpoint can
            unreachable = NumbersClient(
                fake.project_id,
                fake.key_id,
                fake.key_secret,
                base_url=f"http://127.0.0.1:{refusing_port}",
                auth_url=fake.auth_url,
                **options,
            )
            async with unreachable:
                report = await unreachable.bulk.rent([phone], journal=journal)

        (failure,) = report.failed
        if check == "answered 403":
            assert isinstance(failure.error, ApiError)
            assert failure.error.status == 403
            assert [r.route for r in fake.requests] == ["get_active"]  # never rented
        else:
            assert isinstance(failure.error, TransportError)
            assert not failure.error.request_sent
            assert [r.route for r in fake.requests] == ["token"]
        # The earlier run's rent may still have rented it: unknown, never "failed".
        assert failure.outcome_unknown
        assert events(journal)[-2:] == [(phone, "intent"), (phone, "unknown")]

        fake.requests.clear()
        settled = await client.bulk.rent([phone], journal=journal)

    assert phones_of(settled) == [phone]  # checked again, and found
    assert [r.route for r in fake.requests] == ["get_active"]
    assert fake.rent_counts[phone] == 1


# --- stop() ------------------------------------------------------------------------------------


async def test_stop_while_the_job_waits_for_the_next_streamed_item_ends_it(
    fake: FakeNumbersServer, tmp_path: Path
) -> None:
    """Ctrl-C while a job reads numbers from a pipe whose writer has nothing more yet."""
    owned = fake.add_active_numbers(2)
    next_line = asyncio.Event()  # never set: the writer is silent

    async def numbers() -> AsyncIterator[str]:
        yield owned[0]
        await next_line.wait()
        yield owned[1]

    async with fake.client() as client:
        job = client.bulk.release(numbers(), journal=tmp_path / "release.jsonl")
        task = asyncio.create_task(job)
        await eventually(lambda: fake.requests_for("release") != [] and job.in_flight == 0)
        job.stop()
        # Ends at once (a few event-loop turns); 10 s is a hang, whatever the load.
        report = await asyncio.wait_for(task, 10)

    assert report.stopped
    assert phones_of(report) == [owned[0]]
    assert len(fake.requests_for("release")) == 1


async def test_an_item_pulled_before_stop_is_not_started_after_it(
    fake: FakeNumbersServer,
) -> None:
    owned = fake.add_active_numbers(2)
    second_written = asyncio.Event()

    pulled = asyncio.Event()

    async def numbers() -> AsyncIterator[str]:
        yield owned[0]
        await second_written.wait()
        pulled.set()  # the pull that asked for it ends in this same step
        yield owned[1]

    async with fake.client() as client:
        job = client.bulk.release(numbers(), concurrency=2)
        async with job.stream() as outcomes:
            async for outcome in outcomes:
                assert outcome.ok
                # The next number arrives while the consumer is busy with this outcome:
                # the job has pulled it, not yet started it. Then the consumer stops.
                second_written.set()
                await pulled.wait()
                job.stop()

    assert job.stopping
    assert len(fake.requests_for("release")) == 1  # started no more items after stop()


def lose_every_rent_any(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.reset_after(), route="rent_any", times=None)


async def test_stop_during_a_rent_any_reruns_wait_sends_no_settling_request(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "rent_any.jsonl"
    # Requests that may run 20 s: the rerun would wait about that long.
    options: dict[str, Any] = {"retry": ONE_ATTEMPT, "timeouts": Timeouts(total=20)}
    async with FakeNumbersServer() as fake, fake.client(**options) as client:
        lose_every_rent_any(fake)
        assert (await client.bulk.rent_any(2, "US", "LOCAL", journal=journal)).unknown == 2
        fake.requests.clear()
        rerun: BulkJob

        def stop_when_waiting(progress: BulkProgress) -> None:
            if progress.waiting_until is not None:  # as Ctrl-C would: once it waits
                asyncio.get_running_loop().call_soon(rerun.stop)

        rerun = client.bulk.rent_any(
            2, "US", "LOCAL", journal=journal, on_progress=stop_when_waiting
        )
        started = time.monotonic()
        report = await rerun
        stopped_after = time.monotonic() - started

    # stop() ends the wait at its next look (every 0.1 s); 10 s is half the wait, far
    # beyond any delay of a loaded machine.
    assert stopped_after < 10
    assert report.stopped
    assert (report.succeeded, report.failed) == ([], [])
    assert fake.requests == []  # not even the listing that settles rent_any


async def test_a_rent_any_job_stopped_before_it_began_sends_nothing(tmp_path: Path) -> None:
    async with FakeNumbersServer() as fake, fake.client() as client:
        job = client.bulk.rent_any(2, "US", "LOCAL", journal=tmp_path / "rent_any.jsonl")
        job.stop()
        report = await job

    assert report.stopped
    assert fake.requests == []  # not even the listing of the baseline


# --- an item the closed client never sent -----------------------------------------------------


async def test_an_item_the_closed_client_never_sent_is_a_known_failure(
    fake: FakeNumbersServer, tmp_path: Path
) -> None:
    """The client is closed with one rent on the server and the other waiting for the
    client's only connection slot: the first may have rented, the second cannot have."""
    journal = tmp_path / "rent.jsonl"
    options: dict[str, Any] = {"retry": ONE_ATTEMPT, "timeouts": Timeouts(total=WINDOW)}
    # The server holds the first rent for 1 s, then rents; aclose() gives calls 0.1 s,
    # so the rent is still on the server when the client closes, even on a loaded machine.
    fake.inject(Fault.latency(1.0), route="rent", times=1)
    client = fake.client(max_concurrency=1, **options)
    first, second = await available(client, 2)
    task = asyncio.create_task(client.bulk.rent([first, second], journal=journal))
    await eventually(lambda: len(fake.requests_for("rent")) == 1)
    await client.aclose(timeout=0.1)
    report = await asyncio.wait_for(task, 10)

    failures = {failure.item: failure for failure in report.failed}
    assert failures[first].outcome_unknown  # it was on the server: it may have rented
    assert isinstance(failures[second].error, ClientClosedError)
    assert not failures[second].outcome_unknown  # nothing of it was ever sent
    recorded = events(journal)
    assert (first, "unknown") in recorded
    assert (second, "failed") in recorded
    assert (second, "unknown") not in recorded

    fake.requests.clear()
    async with fake.client(**options) as rerun:
        settled = await rerun.bulk.rent([first, second], journal=journal)

    assert sorted(phones_of(settled)) == sorted([first, second])
    # The first is checked before anything else is done; the second is rented as new.
    checked = [r.path.rsplit("/", 1)[-1] for r in fake.requests_for("get_active")]
    assert [c.replace("%2B", "+") for c in checked] == [first]
    assert len(fake.requests_for("rent")) == 1
    assert fake.rent_counts[first] == fake.rent_counts[second] == 1


# --- a job is a coroutine ------------------------------------------------------------------


async def test_a_job_refuses_a_value_sent_before_it_started_as_a_coroutine_does(
    client: NumbersClient,
) -> None:
    job = client.bulk.release([PHONE])
    with pytest.raises(TypeError, match="non-None value"):
        job.send("a value")
    job.close()


def raise_elsewhere() -> None:
    raise KeyError("elsewhere")


@pytest.mark.parametrize("with_traceback", [True, False], ids=["traceback", "no traceback"])
@pytest.mark.parametrize("with_value", [True, False], ids=["value", "type only"])
async def test_a_job_raises_what_is_thrown_into_it_with_its_traceback(
    client: NumbersClient, with_value: bool, with_traceback: bool
) -> None:
    try:
        raise_elsewhere()
    except KeyError as elsewhere:
        traceback = elsewhere.__traceback__
    thrown = ValueError("thrown in")
    job = client.bulk.release([PHONE])
    with warnings.catch_warnings():  # the three-argument throw() is deprecated (3.12)
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ValueError, match=r"^(thrown in)?$") as caught:
            job.throw(
                ValueError,
                thrown if with_value else None,
                traceback if with_traceback else None,
            )
    if with_value:
        assert caught.value is thrown
    functions = []
    tb: TracebackType | None = caught.value.__traceback__
    while tb is not None:
        functions.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    # The traceback given is kept (its frames are not the test's own).
    assert ("raise_elsewhere" in functions) is with_traceback


# --- what a report says -------------------------------------------------------------------


@pytest.mark.parametrize("source", ["list", "stream", "iterator"])
async def test_stop_after_the_last_item_started_does_not_make_the_report_stopped(
    client: NumbersClient, fake: FakeNumbersServer, source: str
) -> None:
    owned = fake.add_active_numbers(2)

    async def streamed() -> AsyncIterator[str]:
        for phone in owned:
            yield phone

    def stop_at_the_end(progress: BulkProgress) -> None:
        if progress.done == 2:
            job.stop()

    # The list one at a time: the job has not read past its last item when that item
    # ends. The stream, and an iterator of unknown length, with room to spare: the job
    # has seen them end by then.
    sources: dict[str, tuple[Any, int]] = {
        "list": (owned, 1),
        "stream": (streamed(), 3),
        "iterator": (iter(owned), 3),
    }
    items, concurrency = sources[source]
    job = client.bulk.release(items, concurrency=concurrency, on_progress=stop_at_the_end)
    report = await job

    assert job.stopping
    assert not report.stopped  # every item was started: nothing was left out
    assert len(report.succeeded) == 2


async def test_progress_counts_seconds_since_the_job_started(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    seen: list[BulkProgress] = []
    report = await client.bulk.release(fake.add_active_numbers(3), on_progress=seen.append)
    assert all(0 <= progress.elapsed <= report.elapsed for progress in seen)


async def test_a_changed_stream_names_the_argument_and_what_to_do(tmp_path: Path) -> None:
    journal = tmp_path / "release.jsonl"
    async with FakeNumbersServer() as fake, fake.client() as client:
        owned = fake.add_active_numbers(2)
        await client.bulk.release(owned[:1], journal=journal)

        async def other() -> AsyncIterator[str]:
            yield owned[1]

        with pytest.raises(InvalidInputError) as raised:
            await client.bulk.release(other(), journal=journal)

    assert raised.value.argument == "phone_numbers"
    assert raised.value.rule == (
        f"the input changed since {journal} was written: item 0 is {owned[1]!r} but the "
        f"journal records {owned[0]!r} as succeeded there (streamed inputs are checked by "
        "position), so it is not the same job. The job stopped; rerun with the input the "
        "journal was written for, or start a new journal (another file)"
    )


async def test_a_stream_that_changes_after_its_first_item_is_refused_at_that_item(
    tmp_path: Path,
) -> None:
    """Streamed items are numbered 0, 1, 2... on every run, so the second is checked
    against the second the journal saw succeed."""
    journal = tmp_path / "release.jsonl"
    async with FakeNumbersServer() as fake, fake.client() as client:
        owned = fake.add_active_numbers(3)
        await client.bulk.release(owned[:2], journal=journal)

        async def other() -> AsyncIterator[str]:
            yield owned[0]
            yield owned[2]

        with pytest.raises(InvalidInputError) as raised:
            await client.bulk.release(other(), journal=journal)
        assert owned[2] in fake.active  # not released: the job stopped there

    assert raised.value.rule.startswith(
        f"the input changed since {journal} was written: item 1 is {owned[2]!r} but the "
        f"journal records {owned[1]!r} as succeeded there"
    )


@pytest.mark.parametrize("dropped", [3, 5])
async def test_a_list_lacking_succeeded_items_names_the_first_three_and_counts_the_rest(
    tmp_path: Path, dropped: int
) -> None:
    journal = tmp_path / "release.jsonl"
    async with FakeNumbersServer() as fake, fake.client() as client:
        owned = sorted(fake.add_active_numbers(6))
        await client.bulk.release(owned, journal=journal)
        with pytest.raises(InvalidInputError) as raised:
            await client.bulk.release(owned[dropped:], journal=journal)

    shown = ", ".join(owned[:3])
    more = f" and {dropped - 3} more" if dropped > 3 else ""
    assert raised.value.argument == "phone_numbers"
    assert raised.value.rule == (
        f"the input changed since {journal} was written: it lacks {dropped} items the "
        f"journal records as succeeded ({shown}{more}), so it is not the same job (a new "
        "search returns other numbers: the rented ones are gone). Rerun with the list the "
        "journal was written for (save it before the first run), or start a new journal "
        "(another file) for a new job"
    )


async def test_a_file_journal_reports_what_its_file_records(tmp_path: Path) -> None:
    from numbers_async.bulk import FileJournal, JournalFailure

    path = tmp_path / "release.jsonl"
    missing = "+12025550199"
    async with FakeNumbersServer() as fake, fake.client() as client:
        owned = fake.add_active_numbers(2)
        await client.bulk.release([*owned, missing], journal=path)

    store = FileJournal(str(path))
    report = await store.report()
    assert (report.operation, report.journal, report.items) == ("release", str(path), None)
    assert (report.succeeded, report.in_flight) == (2, 0)
    (failure,) = report.failed
    assert isinstance(failure, JournalFailure)
    assert (failure.item, failure.error, failure.status) == (missing, "NotFoundError", 404)
    assert not failure.outcome_unknown
    assert repr(store) == f"FileJournal({str(path)!r})"


def test_a_file_journal_of_something_not_a_path_is_refused() -> None:
    from numbers_async.bulk import FileJournal

    with pytest.raises(InvalidInputError) as raised:
        FileJournal(42)  # type: ignore[arg-type]
    assert (raised.value.argument, raised.value.rule) == ("journal", "must be a file path")
    assert str(raised.value) == "journal: must be a file path (got 42)"


# --- a rerun's wait, as it is shown -------------------------------------------------------


async def test_a_rerun_shows_its_wait_in_the_job_and_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "rent_any.jsonl"
    options: dict[str, Any] = {"retry": ONE_ATTEMPT, "timeouts": Timeouts(total=WINDOW)}
    async with FakeNumbersServer() as fake, fake.client(**options) as client:
        lose_every_rent_any(fake)
        assert (await client.bulk.rent_any(2, "US", "LOCAL", journal=journal)).unknown == 2
        rerun: BulkJob
        shown: list[tuple[datetime | None, datetime | None]] = []

        def stop_when_waiting(progress: BulkProgress) -> None:
            if progress.waiting_until is not None:
                shown.append((progress.waiting_until, rerun.waiting_until))
                rerun.stop()

        rerun = client.bulk.rent_any(
            2, "US", "LOCAL", journal=journal, on_progress=stop_when_waiting
        )
        with caplog.at_level(logging.INFO, logger="numbers_async.bulk"):
            await rerun

    ((progress_until, job_until),) = shown
    assert job_until == progress_until
    assert rerun.waiting_until is None  # no longer waiting
    (message,) = [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()]
    assert progress_until is not None
    pattern = (
        rf"bulk rent_any: 2 items of {re.escape(str(journal))} have unknown outcomes; "
        rf"waiting (\d+\.\d)s \(until {re.escape(progress_until.isoformat(timespec='seconds'))}\)"
        r" for the earlier run's requests to end before settling them"
    )
    shown_wait = re.fullmatch(pattern, message)
    assert shown_wait is not None, message
    assert 0 <= float(shown_wait.group(1)) <= WINDOW  # from now until the window ends


# --- verify_resumed -----------------------------------------------------------------------


async def test_a_verified_success_is_reported_as_its_item_and_resumed(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "update.jsonl"
    owned = fake.add_active_numbers(1)
    await client.bulk.update(owned, display_name="Fleet", journal=journal)

    job = client.bulk.update(owned, display_name="Fleet", journal=journal, verify_resumed=True)
    async with job.stream() as outcomes:
        (outcome,) = [outcome async for outcome in outcomes]

    assert (outcome.item, outcome.ok, outcome.resumed) == (owned[0], True, True)
    assert [r.route for r in fake.requests_for("get_active")] == ["get_active"]


async def test_a_success_the_server_cannot_confirm_now_fails_the_item(
    fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "update.jsonl"
    owned = fake.add_active_numbers(1)
    async with fake.client(retry=ONE_ATTEMPT) as client:
        await client.bulk.update(owned, display_name="Fleet", journal=journal)
        fake.inject(Fault.status(503), route="get_active")
        job = client.bulk.update(owned, display_name="Fleet", journal=journal, verify_resumed=True)
        async with job.stream() as outcomes:
            (outcome,) = [outcome async for outcome in outcomes]

    assert outcome.item == owned[0]
    assert isinstance(outcome.error, ServerError)
    assert not outcome.ok


async def test_a_success_the_server_contradicts_is_done_again_and_journaled(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "release.jsonl"
    (phone,) = fake.add_active_numbers(1)
    header = {"journal": "numbers_async.bulk", "version": 2, "operation": "release", "request": {}}
    forged = {"item": phone, "event": "succeeded", "number": {"phoneNumber": phone}, "at": AT}
    journal.write_text(json.dumps(header) + "\n" + json.dumps(forged) + "\n")

    with caplog.at_level(logging.WARNING, logger="numbers_async.bulk"):
        report = await client.bulk.release([phone], journal=journal, verify_resumed=True)

    assert phones_of(report) == [phone]
    assert report.resumed == 0
    assert len(fake.requests_for("release")) == 1
    assert events(journal)[-2:] == [(phone, "intent"), (phone, "succeeded")]  # journaled
    assert [r.getMessage() for r in caplog.records] == [
        f"bulk release: {journal} records {phone!r} as succeeded but the server says "
        "otherwise; doing it now"
    ]


# --- what a job shows while it runs -------------------------------------------------------


@pytest.mark.parametrize("verify", [False, True], ids=["sent", "verified"])
async def test_each_item_runs_as_a_task_named_for_the_job_and_the_item(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path, verify: bool
) -> None:
    journal = tmp_path / "release.jsonl"
    owned = fake.add_active_numbers(1)
    if verify:  # a success the journal records, checked with the server
        await client.bulk.release(owned, journal=journal)
    fake.inject(Fault.latency(0.2), route="get_active" if verify else "release", times=1)
    job = client.bulk.release(owned, journal=journal, verify_resumed=verify)
    assert (job.stopping, job.waiting_until) == (False, None)
    running = asyncio.create_task(job)
    await eventually(lambda: job.in_flight == 1)  # for 0.2 s: the server holds it
    names = {task.get_name() for task in asyncio.all_tasks()}
    await running
    assert f"numbers-async bulk release {owned[0]}" in names


@pytest.mark.parametrize("input_state", ["waiting", "pulled"])
async def test_leaving_a_stream_early_leaves_no_input_task_and_nothing_odd_unreported(
    client: NumbersClient, fake: FakeNumbersServer, input_state: str
) -> None:
    owned = fake.add_active_numbers(2)
    second_written, pulled = asyncio.Event(), asyncio.Event()

    async def numbers() -> AsyncIterator[str]:
        yield owned[0]
        await second_written.wait()
        pulled.set()  # the pull that asked for it ends in this same step
        yield owned[1]

    job = client.bulk.release(numbers(), concurrency=2)
    async with job.stream() as outcomes:
        async for _ in outcomes:
            # The job reads the next number meanwhile, in its own task.
            names = {task.get_name() for task in asyncio.all_tasks()}
            if input_state == "pulled":  # read, and not yet started
                second_written.set()
                await pulled.wait()
            break

    assert "numbers-async bulk input" in names
    left = [task for task in asyncio.all_tasks() if task.get_name().startswith("numbers-async")]
    assert left == []  # the read was cancelled and awaited with the items
    assert job.unreported == ()  # a number read but never started is not an outcome
    job.stop()  # after the end: harmless
    assert len(fake.requests_for("release")) == 1
