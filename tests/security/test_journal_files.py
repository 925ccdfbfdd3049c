"""Security review, journal files: a journal path can never cost an unrelated file, and
what a journal file says is bounded before it is believed.

One test per finding of the review (the journal items of the security issue); each failed
before its fix.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from numbers_async import (
    InvalidInputError,
    JournalError,
    NumbersClient,
    RetryPolicy,
    SmsConfiguration,
    Timeouts,
)
from numbers_async.bulk import _files
from numbers_async.testing import FakeNumbersServer

PHONE = "+12065550100"
HEADER = {"journal": "numbers_async.bulk", "version": 2, "operation": "release", "request": {}}
AT = "2026-01-01T00:00:00.000Z"
SECRET_URL = "https://hooks:s3cret-pass@example.com/sinch"


def write_journal(path: Path, *entries: object) -> None:
    path.write_text("".join(json.dumps(entry) + "\n" for entry in [HEADER, *entries]))


# --- the journal never clobbers a file --------------------------------------------------------


async def test_a_symlink_to_a_file_is_refused_and_the_file_left_intact(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("do not touch\n")
    link = tmp_path / "release.jsonl"
    link.symlink_to(precious)

    with pytest.raises(JournalError, match="symbolic link") as raised:
        await client.bulk.release(fake.add_active_numbers(1), journal=link)

    assert raised.value.path == str(link)
    assert precious.read_text() == "do not touch\n"
    assert fake.requests_for("release") == []


async def test_a_dangling_symlink_is_refused_and_its_target_not_created(
    client: NumbersClient, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere.jsonl"
    link = tmp_path / "release.jsonl"
    link.symlink_to(target)

    with pytest.raises(JournalError, match="symbolic link"):
        await client.bulk.release([], journal=link)

    assert not target.exists()
    assert link.is_symlink()


async def test_a_numbers_file_passed_as_the_journal_is_refused_and_left_intact(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    numbers = tmp_path / "numbers.txt"
    numbers.write_text(PHONE)  # one phone number, no newline: it used to be truncated

    with pytest.raises(InvalidInputError, match="does not start with a numbers_async bulk"):
        await client.bulk.release([PHONE], journal=numbers)

    assert numbers.read_text() == PHONE
    assert fake.requests == []


async def test_a_torn_header_is_never_cut_off_as_if_it_were_a_torn_line(
    client: NumbersClient, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    torn = json.dumps(HEADER)[:30]  # a header cut mid-write: no complete line at all
    journal.write_text(torn)

    with pytest.raises(InvalidInputError, match="left as it is"):
        await client.bulk.release([], journal=journal)

    assert journal.read_text() == torn


async def test_a_journal_owned_by_another_user_is_refused(
    client: NumbersClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "release.jsonl"
    write_journal(journal)
    if os.getuid() == 0:
        os.chown(journal, 12345, 12345)  # as root, really another user's file
    else:
        monkeypatch.setattr(_files, "user_id", lambda: os.getuid() + 1)

    with pytest.raises(JournalError, match="owned by another user"):
        await client.bulk.release([], journal=journal)


async def test_a_journal_in_a_directory_others_can_write_to_is_refused(
    client: NumbersClient, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # anyone could swap the journal for a link between two runs

    with pytest.raises(JournalError, match="other users can write to"):
        await client.bulk.release([], journal=shared / "release.jsonl")

    assert not (shared / "release.jsonl").exists()


async def test_a_shared_directory_with_the_sticky_bit_is_accepted(
    client: NumbersClient, tmp_path: Path
) -> None:
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)  # like /tmp: only a file's owner can replace it

    report = await client.bulk.release([], journal=sticky / "release.jsonl")

    assert report.ok


# --- what a journal file says is bounded -------------------------------------------------------


@pytest.mark.parametrize("window", [1e300, 1e9])
async def test_an_absurd_window_is_a_journal_error_at_once(
    client: NumbersClient, tmp_path: Path, window: float
) -> None:
    journal = tmp_path / "release.jsonl"
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    write_journal(journal, {"item": PHONE, "event": "intent", "at": now, "window": window})

    started = time.monotonic()
    with pytest.raises(JournalError, match="line 2 asks to wait"):
        await client.bulk.release([PHONE], journal=journal)

    assert time.monotonic() - started < 1  # not an OverflowError, not a wait of years


async def test_a_deeply_nested_line_is_a_journal_error(
    client: NumbersClient, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    journal.write_text(json.dumps(HEADER) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")

    with pytest.raises(JournalError, match="line 2 is nested too deeply"):
        await client.bulk.release([PHONE], journal=journal)


async def test_a_job_whose_timeouts_outlast_the_journal_cap_is_refused(
    fake: FakeNumbersServer, tmp_path: Path
) -> None:
    retry = RetryPolicy(attempts=200, max_retry_after=3600)
    async with fake.client(retry=retry, timeouts=Timeouts(total=None)) as client:
        with pytest.raises(InvalidInputError, match="longer than the 604800 s"):
            await client.bulk.release([PHONE], journal=tmp_path / "release.jsonl")
    assert not (tmp_path / "release.jsonl").exists()


# --- credentials in a callback URL ------------------------------------------------------------


async def test_callback_credentials_are_masked_in_the_journal_header(
    client: NumbersClient, tmp_path: Path
) -> None:
    journal = tmp_path / "update.jsonl"

    await client.bulk.update([], callback_url=SECRET_URL, journal=journal)
    await client.bulk.update([], callback_url=SECRET_URL, journal=journal)  # the same job

    assert "s3cret-pass" not in journal.read_text()
    header = json.loads(journal.read_text().splitlines()[0])
    assert header["request"] == {"callbackUrl": "https://***@example.com/sinch"}


async def test_callback_credentials_are_masked_in_the_mismatch_error(
    client: NumbersClient, tmp_path: Path
) -> None:
    journal = tmp_path / "update.jsonl"
    plain = {**HEADER, "operation": "update", "request": {"callbackUrl": SECRET_URL}}
    journal.write_text(json.dumps(plain) + "\n")  # written before credentials were masked

    with pytest.raises(InvalidInputError, match="different request") as raised:
        await client.bulk.update([], display_name="other", journal=journal)

    assert "s3cret-pass" not in str(raised.value)
    assert "https://***@example.com/sinch" in str(raised.value)


async def test_a_masked_header_still_tells_another_password_apart(
    client: NumbersClient, tmp_path: Path
) -> None:
    journal = tmp_path / "update.jsonl"
    await client.bulk.update([], callback_url=SECRET_URL, journal=journal)

    other = SECRET_URL.replace("s3cret-pass", "other-pass")
    with pytest.raises(InvalidInputError, match="different request"):
        await client.bulk.update([], callback_url=other, journal=journal)


# --- the journal is a trust boundary: verify_resumed -------------------------------------------


async def test_a_forged_rent_success_is_checked_with_verify_resumed_and_rented(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    found = await client.available_numbers.search("US", "LOCAL", size=1)
    phone = found[0].phone_number
    sms = SmsConfiguration(service_plan_id="plan")
    header = {
        **HEADER,
        "operation": "rent",
        "request": {"smsConfiguration": {"servicePlanId": "plan"}},
    }
    forged = {"item": phone, "event": "succeeded", "number": {"phoneNumber": phone}, "at": AT}
    journal = tmp_path / "rent.jsonl"
    journal.write_text(json.dumps(header) + "\n" + json.dumps(forged) + "\n")

    trusting = await client.bulk.rent([phone], sms=sms, journal=journal)
    assert trusting.resumed == 1
    assert fake.rent_counts[phone] == 0

    report = await client.bulk.rent([phone], sms=sms, journal=journal, verify_resumed=True)

    assert report.ok
    assert report.resumed == 0
    assert fake.rent_counts[phone] == 1  # the server said "not yours": rented now
    assert [r.route for r in fake.requests_for("get_active")] == ["get_active"]


async def test_a_true_release_success_is_confirmed_by_the_server(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path
) -> None:
    journal = tmp_path / "release.jsonl"
    owned = fake.add_active_numbers(2)
    await client.bulk.release(owned, journal=journal)
    fake.requests.clear()

    report = await client.bulk.release(owned, journal=journal, verify_resumed=True)

    assert report.ok
    assert report.resumed == 2
    assert [r.route for r in fake.requests] == ["get_active", "get_active"]
