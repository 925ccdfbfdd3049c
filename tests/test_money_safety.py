"""Calls that spend money, settled when their outcome was lost: never "not available" guessed.

Each test here fails if a guard that keeps a number from being rented twice, or reported
failed while it is billed, is taken out.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from numbers_async import (
    AmbiguousOutcomeError,
    DecodeError,
    InvalidArgumentError,
    NumbersClient,
    NumbersTimeoutError,
    RetryPolicy,
    ServerError,
    Timeouts,
)
from numbers_async.testing import FakeNumbersServer, Fault
from tests.conftest import eventually

QUICK = RetryPolicy(backoff=0.001, max_backoff=0.002)
CALLBACK = "https://example.com/numbers-events"


async def first_available(client: NumbersClient) -> str:
    (number,) = await client.available_numbers.search("US", "LOCAL", size=1)
    return number.phone_number


async def test_a_lost_rent_whose_check_fails_is_ambiguous_not_unavailable(
    fake: FakeNumbersServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with fake.client(retry=QUICK) as client:
        phone = await first_available(client)
        # The rent goes through but its answer is a 503; the retry meets "not available";
        # every GET that would settle it fails too.
        fake.inject(Fault.status_after(503), route="rent", times=1)
        fake.inject(Fault.status(503), route="get_active", times=None)
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await client.available_numbers.rent(phone, callback_url=CALLBACK)
    assert caught.value.operation == "available_numbers.rent"
    assert caught.value.request == {"callbackUrl": CALLBACK}  # what was sent
    assert phone in str(caught.value)
    assert fake.rent_counts[phone] == 1
    assert phone in fake.active
    assert [r.status for r in fake.requests_for("rent")] == [503, 404]
    assert fake.requests_for("get_active")  # it did try to check
    # An operator sees it in the log as the caller does, the call's method and path included.
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"][-1] == str(
        caught.value
    )
    assert (caught.value.method, caught.value.path) == (
        "POST",
        f"/v1/projects/{fake.project_id}/availableNumbers/{phone}:rent",
    )


async def test_a_lost_rent_answered_400_on_retry_is_reconciled(
    fake: FakeNumbersServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with fake.client(retry=QUICK) as client:
        phone = await first_available(client)
        # Processed, answered 503; the retry is told "not available" as a 400.
        fake.inject(Fault.status_after(503), route="rent", times=1)
        fake.inject(Fault.status(400), route="rent", times=1)
        with caplog.at_level(logging.INFO, logger="numbers_async"):
            number = await client.available_numbers.rent(phone)
    assert number.phone_number == phone
    assert fake.rent_counts[phone] == 1
    assert [r.status for r in fake.requests_for("get_active")] == [200]
    assert f"available_numbers.rent {phone}: rented by an earlier attempt (reconciled)" in (
        caplog.messages
    )


async def test_a_rent_someone_else_took_meanwhile_is_reported_not_available(
    fake: FakeNumbersServer,
) -> None:
    async with fake.client(retry=QUICK) as client:
        phone = await first_available(client)
        # Not processed (503 before any work); the retry finds it gone; the GET says it
        # is not ours: the rent really did not happen.
        fake.inject(Fault.status(503), route="rent", times=1)
        fake.inject(Fault.status(400), route="rent", times=1)
        with pytest.raises(InvalidArgumentError):
            await client.available_numbers.rent(phone)
    assert sum(fake.rent_counts.values()) == 0
    assert [r.status for r in fake.requests_for("get_active")] == [404]


async def test_a_lost_release_answered_404_on_retry_is_done(
    fake: FakeNumbersServer, caplog: pytest.LogCaptureFixture
) -> None:
    (phone,) = fake.add_active_numbers(1)
    async with fake.client(retry=QUICK) as client:
        fake.inject(Fault.status_after(502), route="release", times=1)
        with caplog.at_level(logging.INFO, logger="numbers_async"):
            released = await client.active_numbers.release(phone)
    assert released.phone_number == phone
    assert f"active_numbers.release {phone}: already released by an earlier attempt" in (
        caplog.messages
    )


async def test_a_lost_release_answered_400_on_retry_is_an_error(
    fake: FakeNumbersServer,
) -> None:
    (phone,) = fake.add_active_numbers(1)
    async with fake.client(retry=QUICK) as client:
        fake.inject(Fault.status_after(502), route="release", times=1)
        fake.inject(Fault.status(400), route="release", times=1)
        with pytest.raises(InvalidArgumentError):
            await client.active_numbers.release(phone)
    assert fake.requests_for("get_active") == []


async def test_a_rent_out_of_attempts_that_did_not_happen_raises_its_last_error(
    fake: FakeNumbersServer,
) -> None:
    async with fake.client(retry=QUICK) as client:
        phone = await first_available(client)
        # Every attempt answered 503 without renting; the GET finds it not ours.
        fake.inject(Fault.status(503), route="rent", times=None)
        with pytest.raises(ServerError) as caught:
            await client.available_numbers.rent(phone)
    assert caught.value.status == 503
    assert len(fake.requests_for("rent")) == QUICK.attempts
    assert [r.status for r in fake.requests_for("get_active")] == [404]
    assert sum(fake.rent_counts.values()) == 0


async def test_an_ambiguous_rent_any_says_why_and_what_to_check(
    fake: FakeNumbersServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with fake.client(retry=QUICK) as client:
        fake.inject(Fault.status_after(504), route="rent_any", times=1)
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await client.available_numbers.rent_any("US", "LOCAL")
    message = str(caught.value)
    assert "HTTP 504" in message
    assert "Check active_numbers.list before trying again" in message
    # The log says it as the caller hears it.
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [message]


async def test_a_rent_cut_by_the_deadline_while_the_server_works_is_ambiguous(
    fake: FakeNumbersServer,
) -> None:
    async with fake.client(retry=QUICK, timeouts=Timeouts(deadline=1.0)) as client:
        phone = await first_available(client)
        # The server rents it after 1.5 s; the client's deadline ends the wait at 1 s, with
        # no time left to check: the outcome is unknown, never "not rented".
        fake.inject(Fault.latency(1.5), route="rent", times=1)
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await client.available_numbers.rent(phone)
    assert isinstance(caught.value.__cause__, NumbersTimeoutError)
    assert fake.requests_for("get_active") == []  # no time was left to check
    await eventually(lambda: fake.rent_counts[phone] == 1)


async def test_an_unreadable_answer_to_rent_any_is_ambiguous(fake: FakeNumbersServer) -> None:
    async with fake.client(retry=QUICK) as client:
        fake.inject(Fault.truncated_json(), route="rent_any", times=1)
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await client.available_numbers.rent_any("US", "LOCAL")
    cause = caught.value.__cause__
    assert isinstance(cause, DecodeError)
    assert cause.status == 200
    assert "not valid JSON" in str(cause)
    assert sum(fake.rent_counts.values()) == 1
    assert len(fake.requests_for("rent_any")) == 1


async def test_a_rerun_keeps_a_success_that_a_later_journal_line_calls_unknown(
    fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "rent_any.jsonl"
    async with fake.client(retry=QUICK) as client:
        first = await client.bulk.rent_any(2, "US", "LOCAL", journal=journal)
        assert first.ok
        rented = sorted(n.phone_number for n in first.succeeded)
        # A later line says attempt 0 may have acted again (the job's own intent line,
        # repeated), and a number the job did not rent appears in the project.
        (intent,) = [
            line
            for line in journal.read_text().splitlines()
            if json.loads(line).get("item") == 0 and json.loads(line).get("event") == "intent"
        ]
        with journal.open("a") as file:
            file.write(intent + "\n")
        fake.add_active_numbers(1)
        rerun = await client.bulk.rent_any(2, "US", "LOCAL", journal=journal)

    assert rerun.ok
    assert rerun.resumed == 2
    # Attempt 0 keeps its own number; the stranger is not taken for it.
    assert sorted(n.phone_number for n in rerun.succeeded) == rented
    assert sum(fake.rent_counts.values()) == 2
