"""Behaviours of the journal and its line rules that mutation testing found unasserted.

Each test pins one detail a changed line of ``_journal`` or ``_lines`` would get wrong:
the rule a bad line is reported by, what an intent writes, the order of items to check,
what ``forget`` clears, when the earlier run's requests must have ended, and how a write
ends that is cut off or fails.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from numbers_async import InvalidInputError, NotFoundError, TransportError
from numbers_async.bulk._inputs import key
from numbers_async.bulk._journal import Journal
from numbers_async.bulk._lines import epoch, epoch_or_none, line_problem

PHONE = "+12065550100"
OTHER = "+12065550101"
AT = "2026-01-02T03:04:05.000Z"
SECONDS = "a non-negative number of seconds"


async def reopen(path: Path) -> Journal:
    return await Journal.open(path, "rent_any", {})


def last_line(path: Path) -> dict[str, Any]:
    line: dict[str, Any] = json.loads(path.read_text().splitlines()[-1])
    return line


async def record_slowly(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> asyncio.Task[None]:
    """Record an intent for ``PHONE`` whose write takes 0.3 s in the writer thread; return
    once that write has begun."""
    real_write = journal._write
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow_write(data: bytes) -> None:
        loop.call_soon_threadsafe(started.set)
        time.sleep(0.3)  # in the writer thread
        real_write(data)

    monkeypatch.setattr(journal, "_write", slow_write)
    recording = asyncio.create_task(journal.record_intent(PHONE))
    await started.wait()
    return recording


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"baseline": ["12065550100"]}, "baseline must be a list of E.164 phone numbers"),
        ({"item": PHONE, "at": AT}, "neither an item's event nor a baseline"),
        ({"event": "intent", "at": AT}, "neither an item's event nor a baseline"),
        (
            {"item": -1, "event": "intent", "at": AT},
            "item must be a string or a non-negative integer",
        ),
        ({"item": PHONE, "event": "intent", "at": "2026-01-02"}, "at must be an ISO 8601 time"),
        (
            {"item": PHONE, "event": "intent", "at": AT, "seq": -1},
            "seq must be a non-negative integer",
        ),
        (
            {"item": PHONE, "event": "intent", "at": AT, "window": math.inf},
            f"window must be {SECONDS}",
        ),
        (
            {"item": PHONE, "event": "intent", "at": AT, "attempt": -0.5},
            f"attempt must be {SECONDS}",
        ),
        (
            {"item": PHONE, "event": "unknown", "at": AT},
            "error must be the name of an error class",
        ),
        (
            {"item": PHONE, "event": "failed", "at": AT, "error": "ApiError", "status": "500"},
            "status must be an HTTP status",
        ),
        (
            {"item": PHONE, "event": "succeeded", "at": AT, "number": {"phoneNumber": "1"}},
            "number must be an active number with an E.164 phoneNumber",
        ),
        (
            {
                "item": PHONE,
                "event": "succeeded",
                "at": AT,
                "number": {"phoneNumber": PHONE, "regionCode": 5},
            },
            "number is not an active number as the API describes it",
        ),
    ],
)
def test_a_bad_line_is_reported_by_the_rule_it_breaks(entry: dict[str, Any], problem: str) -> None:
    assert line_problem(entry) == problem


def test_a_time_written_with_z_is_read_as_utc() -> None:
    expected = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp()
    assert epoch_or_none(AT) == expected


def test_epoch_of_an_unreadable_time_is_zero() -> None:
    assert epoch("not a time") == 0.0


async def test_an_intent_writes_its_position_window_and_attempt_window_to_the_millisecond(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.jsonl"
    journal = await reopen(path)
    try:
        await journal.record_intent(PHONE, seq=3, window=5.12345, attempt_window=2.34567)
    finally:
        await journal.aclose()
    line = last_line(path)
    assert (line["seq"], line["window"], line["attempt_window"]) == (3, 5.123, 2.346)


async def test_a_failure_writes_its_position(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = await reopen(path)
    try:
        await journal.record_failure(
            PHONE, NotFoundError(404, message="gone"), unknown=False, seq=4
        )
    finally:
        await journal.aclose()
    assert last_line(path)["seq"] == 4


async def test_a_definite_failure_after_its_intent_needs_no_check(tmp_path: Path) -> None:
    journal = await reopen(tmp_path / "j.jsonl")
    try:
        await journal.record_intent(PHONE)
        await journal.record_failure(PHONE, NotFoundError(404, message="gone"), unknown=False)
        assert (journal.needs_check(PHONE), journal.items_to_check()) == (False, [])
    finally:
        await journal.aclose()


async def test_items_are_listed_attempt_numbers_first_in_numeric_order(tmp_path: Path) -> None:
    journal = await reopen(tmp_path / "j.jsonl")
    try:
        for item in (OTHER, 10, PHONE, 2):
            await journal.record_intent(item)
        assert journal.unknown_items() == [2, 10, PHONE, OTHER]
        assert journal.items_to_check() == [2, 10, PHONE, OTHER]
    finally:
        await journal.aclose()


async def test_forgetting_an_item_never_tried_is_harmless(tmp_path: Path) -> None:
    journal = await reopen(tmp_path / "j.jsonl")
    try:
        journal.forget(PHONE)
        assert journal.status(PHONE) is None
    finally:
        await journal.aclose()


async def test_a_forgotten_item_that_then_fails_definitely_needs_no_check(
    tmp_path: Path,
) -> None:
    journal = await reopen(tmp_path / "j.jsonl")
    try:
        await journal.record_intent(PHONE)
        await journal.record_failure(PHONE, TransportError("reset"), unknown=True)
        await journal.record_intent(PHONE)
        journal.forget(PHONE)  # the server's word: neither attempt acted
        await journal.record_intent(PHONE)
        await journal.record_failure(PHONE, NotFoundError(404, message="gone"), unknown=False)
        assert journal.needs_check(PHONE) is False
    finally:
        await journal.aclose()


async def test_requests_ended_at_counts_an_item_to_check_after_one_that_needs_none(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.jsonl"
    journal = await reopen(path)
    try:
        await journal.record_intent(OTHER)
        await journal.record_failure(OTHER, NotFoundError(404, message="gone"), unknown=False)
        await journal.record_intent(PHONE, window=5.0)
    finally:
        await journal.aclose()
    at = epoch(last_line(path)["at"])
    journal = await reopen(path)
    try:
        assert journal.requests_ended_at(1000.0, 1000.0) == at + 5.0
    finally:
        await journal.aclose()


async def test_requests_ended_at_is_when_the_last_of_the_items_to_check_ends(
    tmp_path: Path,
) -> None:
    # The earliest end would let a rerun settle while a later request may still act.
    path = tmp_path / "j.jsonl"
    journal = await reopen(path)
    try:
        await journal.record_intent(PHONE, window=50.0)
        await journal.record_intent(OTHER, window=5.0)
    finally:
        await journal.aclose()
    first, second = (epoch(json.loads(line)["at"]) for line in path.read_text().splitlines()[1:])
    journal = await reopen(path)
    try:
        assert journal.requests_ended_at(1000.0, 1000.0) == max(first + 50.0, second + 5.0)
    finally:
        await journal.aclose()


@pytest.mark.parametrize(
    ("line", "problem"), [(b"{not json\n", "is not JSON"), (b"[1]\n", "is not a JSON object")]
)
async def test_an_unreadable_line_is_reported_against_the_journal_by_number(
    tmp_path: Path, line: bytes, problem: str
) -> None:
    path = tmp_path / "j.jsonl"
    journal = await reopen(path)
    try:
        await journal.record_intent(PHONE)
    finally:
        await journal.aclose()
    header = path.read_bytes().splitlines(keepends=True)[0]
    path.write_bytes(header + line)
    with pytest.raises(InvalidInputError) as caught:
        await reopen(path)
    assert caught.value.argument == "journal"
    assert f"line 2 {problem};" in caught.value.rule


async def test_requests_ended_at_ends_one_recorded_attempt_after_this_run_took_the_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.jsonl"
    journal = await reopen(path)
    try:
        await journal.record_intent(PHONE, window=1000.0, attempt_window=2.0)
    finally:
        await journal.aclose()
    journal = await reopen(path)
    try:
        assert journal.locked
        assert journal.requests_ended_at(1000.0, 1000.0) == journal.opened_at + 2.0
    finally:
        await journal.aclose()


async def test_a_closed_journal_refuses_to_record(tmp_path: Path) -> None:
    journal = await reopen(tmp_path / "j.jsonl")
    await journal.aclose()
    with pytest.raises(RuntimeError, match=r"^the journal is closed$"):
        await journal.record_intent(PHONE)


async def test_the_journal_writer_task_is_named_for_what_it_is(tmp_path: Path) -> None:
    journal = await reopen(tmp_path / "j.jsonl")
    try:
        recording = asyncio.create_task(journal.record_intent(PHONE))
        await asyncio.sleep(0)  # the append has queued its line and started the writer
        names = {task.get_name() for task in asyncio.all_tasks()}
        await recording
        assert "numbers-async journal writer" in names
    finally:
        await journal.aclose()


async def test_a_rent_refused_on_its_first_try_is_not_checked_against_the_project(
    tmp_path: Path,
) -> None:
    from numbers_async.testing import FakeNumbersServer

    async with FakeNumbersServer() as fake, fake.client() as client:
        taken = (await client.available_numbers.search("US", "LOCAL", size=1))[0].phone_number
        await client.available_numbers.rent(taken)  # now no longer available
        fake.requests.clear()

        report = await client.bulk.rent([taken], journal=tmp_path / "j.jsonl")

    assert [failure.item for failure in report.failed] == [taken]
    # A definite refusal of a first attempt needs no proof: only an attempt whose outcome
    # was unknown is checked with GET activeNumbers/{phone}.
    assert fake.requests_for("get_active") == []
    assert len(fake.requests_for("rent")) == 1


async def test_an_intent_written_with_the_old_attempt_name_still_bounds_the_wait(
    tmp_path: Path,
) -> None:
    # Journals written before the attempt window had its name call it "attempt".
    path = tmp_path / "j.jsonl"
    journal = await reopen(path)
    await journal.aclose()
    now = datetime.now(timezone.utc).isoformat()
    intent = {"item": PHONE, "event": "intent", "window": 1000.0, "attempt": 2.0, "at": now}
    with path.open("a") as file:
        file.write(json.dumps(intent) + "\n")
    journal = await reopen(path)
    try:
        assert journal.requests_ended_at(1000.0, 1000.0) == journal.opened_at + 2.0
    finally:
        await journal.aclose()


def test_an_attempt_window_that_is_not_seconds_is_reported() -> None:
    entry = {"item": PHONE, "event": "intent", "at": AT, "attempt_window": "60"}
    assert line_problem(entry) == f"attempt_window must be {SECONDS}"


async def test_a_write_cut_off_by_cancelling_the_writer_reaches_the_file_before_it_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write in progress when the journal's writer task is cancelled (as ``asyncio.run``
    cancels what is left on Ctrl-C) is finished by the journal's own thread, and closing
    waits for that thread: the line is in the file, whole."""
    path = tmp_path / "j.jsonl"
    journal = await reopen(path)
    recording = await record_slowly(journal, monkeypatch)
    writer = journal._writer
    assert writer is not None
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await recording
    with pytest.raises(asyncio.CancelledError):  # the writer's: the loop is going away
        await journal.aclose()
    assert last_line(path)["item"] == PHONE


async def test_a_write_failing_otherwise_than_on_the_disk_fails_the_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = await reopen(tmp_path / "j.jsonl")

    def broken_write(data: bytes) -> None:
        raise RuntimeError("the writer broke")

    monkeypatch.setattr(journal, "_write", broken_write)
    try:
        for item in (PHONE, OTHER):  # the next write is tried again, and fails as well
            with pytest.raises(RuntimeError, match="the writer broke"):
                await asyncio.wait_for(journal.record_intent(item), 5.0)
    finally:
        await journal.aclose()


async def test_lines_are_written_by_the_journal_thread_with_utc_times_in_z(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.jsonl"
    journal = await reopen(path)
    real_write = journal._write
    threads: list[str] = []

    def write(data: bytes) -> None:
        threads.append(threading.current_thread().name)
        real_write(data)

    monkeypatch.setattr(journal, "_write", write)
    await journal.record_intent(PHONE)
    await journal.aclose()
    assert [name.rsplit("_", 1)[0] for name in threads] == ["numbers-async-journal"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", last_line(path)["at"])


@pytest.mark.parametrize(
    ("item", "expected"),
    [("+12065550100", "+12065550100"), (7, 7), (True, "True"), (1.5, "1.5"), (None, "None")],
)
def test_an_item_is_its_own_journal_key_if_a_string_or_an_integer_else_its_repr(
    item: object, expected: object
) -> None:
    assert key(item) == expected


async def test_a_new_journal_s_header_says_when_it_was_created(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = await reopen(path)
    await journal.aclose()
    header = json.loads(path.read_text().splitlines()[0])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", header["created"])


async def test_closing_waits_for_the_lines_queued_before_it(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = await reopen(path)
    recording = asyncio.create_task(journal.record_intent(PHONE))
    await asyncio.sleep(0)  # queued, and the writer started
    await journal.aclose()
    assert last_line(path)["item"] == PHONE
    await recording


async def test_a_close_cancelled_while_a_line_is_written_still_closes_once_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file (and its lock) is released when the write ends, so the job can be
    rerun in the same process."""
    path = tmp_path / "j.jsonl"
    journal = await reopen(path)
    recording = await record_slowly(journal, monkeypatch)
    closing = asyncio.create_task(journal.aclose())
    await asyncio.sleep(0.05)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    await recording  # the write ends
    await asyncio.sleep(0.1)  # the writer's own end, and the close it calls
    again = await reopen(path)
    await again.aclose()
    assert last_line(path)["item"] == PHONE
