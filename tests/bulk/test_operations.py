"""Per-operation logic over the narrow ``BulkClient`` protocol; the one unknown-outcome rule."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path

import pytest

from numbers_async import (
    ActiveNumber,
    AmbiguousOutcomeError,
    ApiError,
    AuthenticationError,
    Capability,
    DecodeError,
    InvalidInputError,
    NotFoundError,
    NumbersError,
    NumberType,
    SearchPattern,
    ServerError,
    SmsConfiguration,
    TransportError,
    VoiceConfiguration,
)
from numbers_async._config import RetryPolicy, Timeouts
from numbers_async._retry import maybe_processed
from numbers_async.bulk import Bulk


class Owned:
    """An in-memory project: ``BulkClient``'s calls over a set of owned numbers."""

    retry = RetryPolicy()
    timeouts = Timeouts()

    def __init__(self, owned: Iterable[str], *, available: Iterable[str] = ()) -> None:
        self.owned = set(owned)
        self.available = set(available)
        self.calls: list[tuple[str, object]] = []

    @property
    def active_numbers(self) -> Owned:
        return self

    @property
    def available_numbers(self) -> Owned:
        return self

    async def get(self, phone_number: str, /) -> ActiveNumber:
        self.calls.append(("get", phone_number))
        if phone_number not in self.owned:
            raise NotFoundError(404)
        return ActiveNumber(phone_number=phone_number)

    async def _listing(self) -> AsyncIterator[ActiveNumber]:
        for phone in sorted(self.owned):
            yield ActiveNumber(phone_number=phone)

    def list(
        self, *, region_code: str, number_type: NumberType, page_size: int
    ) -> AsyncIterator[ActiveNumber]:
        self.calls.append(("list", (region_code, number_type)))
        return self._listing()

    async def update(
        self,
        phone_number: str,
        /,
        *,
        display_name: str | None,
        sms: SmsConfiguration | None,
        voice: VoiceConfiguration | None,
        callback_url: str | None,
    ) -> ActiveNumber:
        self.calls.append(("update", phone_number))
        return ActiveNumber(phone_number=phone_number, display_name=display_name)

    async def release(self, phone_number: str, /) -> ActiveNumber:
        self.calls.append(("release", phone_number))
        if phone_number not in self.owned:
            raise NotFoundError(404)
        self.owned.discard(phone_number)
        return ActiveNumber(phone_number=phone_number)

    async def rent(
        self,
        phone_number: str,
        /,
        *,
        sms: SmsConfiguration | None,
        voice: VoiceConfiguration | None,
        callback_url: str | None,
    ) -> ActiveNumber:
        self.calls.append(("rent", phone_number))
        if phone_number not in self.available:
            raise NotFoundError(404)
        self.available.discard(phone_number)
        self.owned.add(phone_number)
        return ActiveNumber(phone_number=phone_number)

    async def rent_any(
        self,
        region_code: str,
        number_type: NumberType,
        *,
        pattern: str | None,
        search_pattern: SearchPattern | None,
        capabilities: Sequence[Capability] | None,
        sms: SmsConfiguration | None,
        voice: VoiceConfiguration | None,
        callback_url: str | None,
    ) -> ActiveNumber:
        self.calls.append(("rent_any", (number_type, search_pattern, capabilities, pattern)))
        phone = self.available.pop()
        self.owned.add(phone)
        return ActiveNumber(phone_number=phone)


@pytest.mark.parametrize(
    ("error", "unknown"),
    [
        (InvalidInputError("phone_number", "must be E.164"), False),
        (AuthenticationError(401), False),
        (TransportError("connect refused", request_sent=False), False),
        (TransportError("connection reset"), True),
        (NotFoundError(404), False),
        (ApiError(429), False),
        (ServerError(503), True),
        (AmbiguousOutcomeError("rent_any", "response lost"), True),
        (DecodeError("not JSON", status=200, body=b"<html>"), True),
    ],
)
def test_maybe_processed_says_whether_a_failed_request_may_have_acted(
    error: NumbersError, unknown: bool
) -> None:
    assert maybe_processed(error) is unknown


async def test_a_bulk_job_runs_over_any_client_that_answers_the_protocol() -> None:
    project = Owned({"+12065550100", "+12065550101"})
    report = await Bulk(project).release(["+12065550100", "+12065550101", "+12065550199"])
    assert sorted(n.phone_number for n in report.succeeded) == ["+12065550100", "+12065550101"]
    assert [(f.item, type(f.error)) for f in report.failed] == [("+12065550199", NotFoundError)]


async def test_rent_of_an_unknown_item_that_the_project_owns_is_settled_without_renting(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "rent.jsonl"
    project = Owned(set(), available={"+12065550100"})
    first = Bulk(project).rent(["+12065550100"], journal=journal)
    await first  # rented and journaled
    header, intent = journal.read_text().splitlines()[:2]
    # As if the response had been lost long ago: intent, then no outcome, and the time
    # that request could still have been running (its window) is over.
    journal.write_text(header + "\n" + json.dumps({**json.loads(intent), "window": 0}) + "\n")
    project.calls.clear()
    report = await Bulk(project).rent(["+12065550100"], journal=journal)
    assert [n.phone_number for n in report.succeeded] == ["+12065550100"]
    assert project.calls == [("get", "+12065550100")]


async def test_rent_any_sends_the_checked_criteria_as_enums() -> None:
    project = Owned(set(), available={"+12065550100"})
    await Bulk(project).rent_any(
        1, "US", "LOCAL", pattern="206", search_pattern="START", capabilities=["SMS", "SMS"]
    )
    assert project.calls == [
        ("rent_any", (NumberType.LOCAL, SearchPattern.START, [Capability.SMS], "206")),
    ]
