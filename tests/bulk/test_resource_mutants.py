"""What ``client.bulk`` hands to the job it builds, pinned where mutation testing found it
unasserted: every option of a bulk method reaches each request, the journal's header,
``on_progress``, and ``verify_resumed``'s default (trust the journal).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from numbers_async import (
    BulkJob,
    BulkProgress,
    InvalidInputError,
    NumbersClient,
    SmsConfiguration,
    VoiceConfiguration,
)
from numbers_async.testing import FakeNumbersServer

SMS = SmsConfiguration(service_plan_id="plan-1")
VOICE = VoiceConfiguration(app_id="app-1")
CALLBACK = "https://example.com/events"
# What every request of a job given SMS, VOICE and CALLBACK carries.
OPTIONS_ON_THE_WIRE = {
    "smsConfiguration": {"servicePlanId": "plan-1"},
    "voiceConfiguration": {"type": "RTC", "appId": "app-1"},
    "callbackUrl": CALLBACK,
}


def header(path: Path) -> dict[str, Any]:
    line: dict[str, Any] = json.loads(path.read_text().splitlines()[0])
    return line


async def items_for(operation: str, client: NumbersClient, fake: FakeNumbersServer) -> list[str]:
    """Two numbers to rent or to update (none for ``rent_any``, which takes a count)."""
    if operation == "rent":
        found = await client.available_numbers.search("US", "LOCAL", size=2)
        return [number.phone_number for number in found]
    return [] if operation == "rent_any" else fake.add_active_numbers(2)


def job_of(
    operation: str,
    client: NumbersClient,
    items: list[str],
    journal: Path,
    on_progress: Any = None,
) -> BulkJob:
    """A two-item job of ``operation`` with every option, and a journal."""
    options: dict[str, Any] = {"sms": SMS, "voice": VOICE, "callback_url": CALLBACK}
    if operation == "rent_any":
        return client.bulk.rent_any(
            2, "US", "LOCAL", journal=journal, on_progress=on_progress, **options
        )
    if operation == "rent":
        return client.bulk.rent(items, journal=journal, on_progress=on_progress, **options)
    return client.bulk.update(
        items, display_name="Fleet", journal=journal, on_progress=on_progress, **options
    )


ROUTES = {"rent": "rent", "rent_any": "rent_any", "update": "update_active"}


@pytest.mark.parametrize("operation", ["rent", "rent_any", "update"])
async def test_every_option_reaches_each_request_and_the_journal_header(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path, operation: str
) -> None:
    journal = tmp_path / "job.jsonl"
    seen: list[BulkProgress] = []
    items = await items_for(operation, client, fake)
    report = await job_of(operation, client, items, journal, seen.append)

    assert report.ok, report.failed
    bodies = [request.json() for request in fake.requests_for(ROUTES[operation])]
    assert len(bodies) == 2
    for body in bodies:
        assert {name: body.get(name) for name in OPTIONS_ON_THE_WIRE} == OPTIONS_ON_THE_WIRE
    # The header records what each item sends (a rent_any's count besides): a rerun with
    # other options is another job.
    expected = {**bodies[0], "count": 2} if operation == "rent_any" else bodies[0]
    assert header(journal)["request"] == expected
    assert [progress.done for progress in seen] == [1, 2]


@pytest.mark.parametrize("operation", ["rent", "rent_any", "update"])
async def test_a_rerun_trusts_the_journal_unless_told_to_verify(
    client: NumbersClient, fake: FakeNumbersServer, tmp_path: Path, operation: str
) -> None:
    journal = tmp_path / "job.jsonl"
    items = await items_for(operation, client, fake)
    first = await job_of(operation, client, items, journal)
    assert first.ok, first.failed
    fake.requests.clear()

    report = await job_of(operation, client, items, journal)

    assert report.resumed == 2
    assert fake.requests_for("get_active") == []  # verify_resumed is False by default


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"phone_numbers": "+12065550100"},
            "phone_numbers: must be an iterable or async iterable of phone numbers "
            "(got '+12065550100')",
        ),
        (
            {"phone_numbers": 42},
            "phone_numbers: must be an iterable or async iterable of phone numbers (got 42)",
        ),
        (
            {"journal": 42},
            "journal: must be a file path, a FileJournal or a RedisJournal (got 42)",
        ),
        ({"on_progress": 42}, "on_progress: must be callable (got 42)"),
        ({"verify_resumed": "yes"}, "verify_resumed: must be True or False (got 'yes')"),
    ],
)
async def test_a_bad_argument_is_refused_with_its_name_the_rule_and_the_value(
    client: NumbersClient, fake: FakeNumbersServer, arguments: dict[str, Any], message: str
) -> None:
    options = dict(arguments)  # the parameter's own dict is shared by every run
    phone_numbers = options.pop("phone_numbers", [])
    with pytest.raises(InvalidInputError) as raised:
        client.bulk.release(phone_numbers, **options)
    assert str(raised.value) == message
    assert fake.requests == []
