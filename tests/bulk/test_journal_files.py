"""Journal files: private, refused when unusable, validated line by line, torn lines cut."""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import logging
import os
import pickle
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from numbers_async import (
    ActiveNumber,
    InvalidInputError,
    JournalError,
    NotFoundError,
    NumbersClient,
    NumbersError,
)
from numbers_async.bulk._journal import Journal
from numbers_async.testing import FakeNumbersServer

PHONE = "+12065550100"
HEADER = {"journal": "numbers_async.bulk", "version": 2, "operation": "release", "request": {}}
AT = "2026-01-01T00:00:00.000Z"


def write_journal(path: Path, *entries: dict[str, Any]) -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in [HEADER, *entries]))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_journal_is_readable_by_its_owner_only(
    client: NumbersClient, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    previous = os.umask(0o022)
    try:
        await client.bulk.release([], journal=journal)
    finally:
        os.umask(previous)
    assert mode(journal) == 0o600


async def test_an_existing_journal_keeps_its_mode(client: NumbersClient, tmp_path: Path) -> None:
    journal = tmp_path / "release.jsonl"
    await client.bulk.release([], journal=journal)
    journal.chmod(0o640)  # the owner chose to share it with a group
    await client.bulk.release([], journal=journal)
    assert mode(journal) == 0o640


async def test_a_directory_is_refused_naming_the_path(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    with pytest.raises(JournalError, match="not a regular file") as raised:
        await client.bulk.release(fake.add_active_numbers(1), journal=tmp_path)
    assert raised.value.path == str(tmp_path)
    assert str(tmp_path) in str(raised.value)
    assert fake.requests_for("release") == []


async def test_a_device_is_refused_at_once(client: NumbersClient, fake: FakeNumbersServer) -> None:
    started = time.monotonic()
    with pytest.raises(JournalError, match="/dev/full: not a regular file"):
        await client.bulk.release(fake.add_active_numbers(1), journal="/dev/full")
    assert time.monotonic() - started < 5  # it used to read /dev/full forever
    assert fake.requests_for("release") == []


async def test_a_path_in_a_missing_directory_names_the_path_and_the_cause(
    client: NumbersClient, tmp_path: Path
) -> None:
    journal = tmp_path / "no such directory" / "release.jsonl"
    with pytest.raises(JournalError) as raised:
        await client.bulk.release([], journal=journal)
    assert raised.value.path == str(journal)
    assert raised.value.reason == "No such file or directory"
    assert isinstance(raised.value, NumbersError)


# One item at a time, a few lines fit; or eight at once, and only the header fits: the
# eight intents are one batch (group commit), so eight tasks fail together.
@pytest.mark.parametrize(("concurrency", "fitting_writes"), [(1, 3), (8, 1)])
async def test_no_space_mid_job_is_a_journal_error_and_no_task_exception_is_lost(
    fake: FakeNumbersServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    concurrency: int,
    fitting_writes: int,
) -> None:
    journal = tmp_path / "release.jsonl"
    owned = fake.add_active_numbers(8)
    real_write = Journal._write
    writes = 0

    def disk_fills_up(self: Journal, data: bytes) -> None:
        nonlocal writes
        writes += 1
        if writes > fitting_writes:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(self, data)

    monkeypatch.setattr(Journal, "_write", disk_fills_up)
    async with fake.client() as client:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            with pytest.raises(JournalError) as raised:
                await client.bulk.release(owned, journal=journal, concurrency=concurrency)
            gc.collect()
            await asyncio.sleep(0)
    assert raised.value.path == str(journal)
    assert raised.value.reason == "No space left on device"
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert not [t for t in asyncio.all_tasks() if "numbers-async" in t.get_name()]

    # The journal was closed (its lock released) although the job ended in an error.
    monkeypatch.undo()
    async with fake.client() as client:
        rerun = await client.bulk.release(owned, journal=journal)
    assert rerun.ok


def test_a_journal_error_pickles() -> None:
    error = JournalError("jobs/rent.jsonl", "No space left on device")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (copy.path, copy.reason, str(copy)) == (error.path, error.reason, str(error))


# --- each line validated on read -------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            {"item": PHONE, "event": "succeeded", "number": {"phoneNumber": 7}, "at": AT},
            "E.164 phoneNumber",
        ),
        (
            {"item": PHONE, "event": "succeeded", "number": {"phoneNumber": "7"}, "at": AT},
            "E.164 phoneNumber",
        ),
        (
            {
                "item": PHONE,
                "event": "succeeded",
                "number": {"phoneNumber": PHONE, "capability": 5},
                "at": AT,
            },
            "not an active number",
        ),
        ({"item": True, "event": "failed", "error": "X", "at": AT}, "item must be"),
        ({"item": PHONE, "event": "won", "at": AT}, "unknown event"),
        ({"item": PHONE, "event": "intent", "at": "yesterday"}, "ISO 8601"),
        ({"item": PHONE, "event": "intent", "at": AT, "window": "long"}, "window must be"),
        ({"item": PHONE, "event": "intent", "at": AT, "seq": -1}, "seq must be"),
        ({"item": PHONE, "event": "failed", "at": AT}, "error must be"),
        ({"baseline": [PHONE, 12065550101]}, "baseline must be"),
        ({"hello": "world"}, "neither"),
    ],
)
async def test_a_line_of_the_wrong_shape_is_reported_by_number(
    client: NumbersClient, tmp_path: Path, entry: dict[str, Any], problem: str
) -> None:
    journal = tmp_path / "release.jsonl"
    write_journal(journal, {"item": PHONE, "event": "intent", "at": AT}, entry)
    with pytest.raises(InvalidInputError, match="line 3 is not a valid journal entry") as raised:
        await client.bulk.release([PHONE], journal=journal)
    assert problem in str(raised.value)
    assert "start a new journal" in str(raised.value)


# --- torn lines and sticky successes ---------------------------------------------------------


async def test_opening_a_journal_cuts_off_a_torn_last_line(tmp_path: Path) -> None:
    journal = tmp_path / "release.jsonl"
    complete = json.dumps(HEADER) + "\n" + json.dumps({"item": PHONE, "event": "intent", "at": AT})
    journal.write_text(complete + '\n{"item": "+1206555')  # killed mid-write

    opened = await Journal.open(journal, "release", {})
    try:
        assert journal.read_text() == complete + "\n"  # cut on open, before any write
        assert opened.status(PHONE) == "unknown"
    finally:
        await opened.aclose()


async def test_after_a_torn_line_every_line_of_the_journal_is_whole(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    owned = fake.add_active_numbers(2)
    await client.bulk.release(owned[:1], journal=journal)
    with journal.open("a") as file:
        file.write('{"item": "+1555000')
    await client.bulk.release(owned, journal=journal)
    assert all(isinstance(json.loads(line), dict) for line in journal.read_text().splitlines())
    assert (await client.bulk.release(owned, journal=journal)).resumed == 2


async def test_a_success_sticks_in_a_rerun_whatever_follows_it(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    write_journal(
        journal,
        {"item": PHONE, "event": "succeeded", "number": {"phoneNumber": PHONE}, "at": AT},
        {"item": PHONE, "event": "intent", "at": AT},
        {"item": PHONE, "event": "failed", "error": "NotFoundError", "status": 404, "at": AT},
    )
    report = await client.bulk.release([PHONE], journal=journal)
    assert report.ok
    assert report.resumed == 1
    assert fake.requests == []


async def test_a_success_sticks_through_a_later_failure_of_the_same_item(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path / "j.jsonl", "release", {})
    try:
        await journal.record_success(PHONE, ActiveNumber(phone_number=PHONE))
        await journal.record_failure(PHONE, NotFoundError(404), unknown=True)
        assert journal.status(PHONE) == "succeeded"
        assert not journal.needs_check(PHONE)
    finally:
        await journal.aclose()


# --- journals written by the previous version -----------------------------------------------


async def test_a_version_1_journal_is_resumed(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    owned = fake.add_active_numbers(2)
    header = {**HEADER, "version": 1}
    lines = [
        header,
        {"item": owned[0], "event": "intent", "at": AT},
        {"item": owned[0], "event": "succeeded", "number": {"phoneNumber": owned[0]}, "at": AT},
        {"item": owned[1], "event": "intent", "at": AT},  # long ago: nothing to wait for
    ]
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = await client.bulk.release(owned, journal=journal)
    assert report.ok
    assert report.resumed == 1
    assert set(fake.active) == {owned[0]}  # taken from the journal, not sent again


async def test_a_job_cancelled_while_its_journal_opens_leaves_no_file_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from numbers_async.bulk import _journal

    opened: list[Any] = []
    real_open = _journal._open

    def slow_open(*args: Any) -> Any:
        time.sleep(0.2)  # in the worker thread: the caller is cancelled meanwhile
        result = real_open(*args)
        opened.append(result[0])
        return result

    monkeypatch.setattr(_journal, "_open", slow_open)
    opening = asyncio.create_task(Journal.open(tmp_path / "j.jsonl", "release", {}))
    await asyncio.sleep(0.05)
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    for _ in range(100):  # the thread finishes opening after the cancel
        if opened and opened[0].closed:
            break
        await asyncio.sleep(0.01)

    assert len(opened) == 1
    assert opened[0].closed
