"""Behaviours of the bulk operations that mutation testing found unasserted.

Each test pins one detail a changed line of ``_operations`` would get wrong: the options
passed through to the client, the request a journal header records, the window an intent
after an unknown outcome allows, what settling a ``rent_any`` job forgets and names, the
cap on how long a journal may ask a rerun to wait, how long one attempt and one call can
run, and what ``Unsettled`` carries.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest

from numbers_async import (
    ActiveNumber,
    InvalidInputError,
    NotFoundError,
    NumberType,
    ServerError,
    SmsConfiguration,
    VoiceConfiguration,
)
from numbers_async._config import RetryPolicy, Timeouts
from numbers_async._retry import UNBOUNDED_ATTEMPT, attempt_window, call_window
from numbers_async.bulk import Bulk
from numbers_async.bulk._operations import (
    LISTING_PAGE_SIZE,
    Release,
    Rent,
    RentAny,
    Unsettled,
    Update,
)
from numbers_async.bulk._store import MAX_WINDOW
from numbers_async.testing import FakeNumbersServer

PHONE = "+12065550100"
OTHER = "+12065550101"
SMS = SmsConfiguration(service_plan_id="plan-1")
VOICE = VoiceConfiguration(app_id="app-1")
CALLBACK = "https://example.com/callback"
RENT_ANY_REQUEST: dict[str, Any] = {"regionCode": "US", "type": "LOCAL"}


class Recorder:
    """An in-memory project that records every call with all its arguments."""

    retry = RetryPolicy()
    timeouts = Timeouts()

    def __init__(self, owned: Iterable[str] = (), *, available: Iterable[str] = ()) -> None:
        self.owned = set(owned)
        self.available = sorted(available)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @property
    def active_numbers(self) -> Recorder:
        return self

    @property
    def available_numbers(self) -> Recorder:
        return self

    async def get(self, phone_number: str, /) -> ActiveNumber:
        self.calls.append(("get", {"phone_number": phone_number}))
        if phone_number not in self.owned:
            raise NotFoundError(404)
        return ActiveNumber(phone_number=phone_number)

    async def _listing(self) -> AsyncIterator[ActiveNumber]:
        for phone in sorted(self.owned):
            yield ActiveNumber(phone_number=phone)

    def list(
        self, *, region_code: str, number_type: NumberType, page_size: int
    ) -> AsyncIterator[ActiveNumber]:
        arguments = {"region_code": region_code, "number_type": number_type}
        self.calls.append(("list", {**arguments, "page_size": page_size}))
        return self._listing()

    async def update(self, phone_number: str, /, **options: Any) -> ActiveNumber:
        self.calls.append(("update", {"phone_number": phone_number, **options}))
        return ActiveNumber(phone_number=phone_number)

    async def release(self, phone_number: str, /) -> ActiveNumber:
        self.calls.append(("release", {"phone_number": phone_number}))
        return ActiveNumber(phone_number=phone_number)

    async def rent(self, phone_number: str, /, **options: Any) -> ActiveNumber:
        self.calls.append(("rent", {"phone_number": phone_number, **options}))
        self.owned.add(phone_number)
        return ActiveNumber(phone_number=phone_number)

    async def rent_any(
        self, region_code: str, number_type: NumberType, **options: Any
    ) -> ActiveNumber:
        arguments = {"region_code": region_code, "number_type": number_type}
        self.calls.append(("rent_any", {**arguments, **options}))
        phone = self.available.pop(0)
        self.owned.add(phone)
        return ActiveNumber(phone_number=phone)


def header(path: Path) -> dict[str, Any]:
    line: dict[str, Any] = json.loads(path.read_text().splitlines()[0])
    return line


#: One call under a client's default settings: 4 attempts of 60 s, and 3 sleeps of
#: max_retry_after (60 s, above every backoff).
DEFAULT_WINDOW = 4 * 60.0 + 3 * 60.0


# --- options passed through to the client ---------------------------------------------------


async def test_rent_sends_its_sms_voice_and_callback_url() -> None:
    project = Recorder()
    await Rent(project, {}, SMS, VOICE, CALLBACK).call(PHONE, False)
    assert project.calls == [
        ("rent", {"phone_number": PHONE, "sms": SMS, "voice": VOICE, "callback_url": CALLBACK})
    ]


async def test_rent_any_sends_its_sms_voice_and_callback_url() -> None:
    project = Recorder(available={PHONE})
    await RentAny(project, RENT_ANY_REQUEST, 1, SMS, VOICE, CALLBACK).call(0, False)
    (name, sent), *_ = project.calls
    assert (name, sent["sms"], sent["voice"], sent["callback_url"]) == (
        "rent_any",
        SMS,
        VOICE,
        CALLBACK,
    )


async def test_update_sends_its_display_name_sms_voice_and_callback_url() -> None:
    project = Recorder()
    update = Update(
        project, {}, display_name="Support", sms=SMS, voice=VOICE, callback_url=CALLBACK
    )
    await update.call(PHONE, False)
    assert project.calls == [
        (
            "update",
            {
                "phone_number": PHONE,
                "display_name": "Support",
                "sms": SMS,
                "voice": VOICE,
                "callback_url": CALLBACK,
            },
        )
    ]


async def test_rent_any_lists_owned_numbers_of_its_region_and_type_by_full_pages(
    tmp_path: Path,
) -> None:
    project = Recorder()
    operation = RentAny(project, RENT_ANY_REQUEST, 1, None, None, None)
    journal = await operation.open_journal(tmp_path / "j.jsonl")
    try:
        await operation.reconcile(journal)  # a new journal: the baseline is listed
    finally:
        await journal.aclose()
    assert LISTING_PAGE_SIZE == 1000
    assert project.calls == [
        ("list", {"region_code": "US", "number_type": NumberType.LOCAL, "page_size": 1000})
    ]


# --- the request a journal header records ---------------------------------------------------


async def test_a_rent_journal_header_records_the_request_body(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    request = {"smsConfiguration": {"servicePlanId": "plan-1"}}
    journal = await Rent(Recorder(), request, SMS, None, None).open_journal(path)
    await journal.aclose()
    assert (header(path)["operation"], header(path)["request"]) == ("rent", request)


async def test_a_rent_any_journal_header_records_the_request_body_with_its_count(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.jsonl"
    operation = RentAny(Recorder(), RENT_ANY_REQUEST, 3, None, None, None)
    journal = await operation.open_journal(path)
    await journal.aclose()
    assert header(path)["request"] == {"regionCode": "US", "type": "LOCAL", "count": 3}


# --- the window an intent allows ------------------------------------------------------------


def test_a_rent_after_an_unknown_outcome_allows_twice_the_window_and_once_otherwise() -> None:
    rent = Rent(Recorder(), {}, None, None, None)
    assert (rent.intent_window(False), rent.intent_window(True)) == (
        rent.window,
        2 * rent.window,
    )
    assert rent.window == DEFAULT_WINDOW


async def test_the_journal_intent_after_an_unknown_rent_writes_twice_the_window(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rent.jsonl"
    project = Recorder()
    await Bulk(project).rent([PHONE], journal=path)
    first_header, intent = path.read_text().splitlines()[:2]
    assert json.loads(intent)["window"] == DEFAULT_WINDOW
    # As if the response had been lost long ago: an intent, no outcome, its window over.
    path.write_text(first_header + "\n" + json.dumps({**json.loads(intent), "window": 0}) + "\n")
    await Bulk(project).rent([PHONE], journal=path)
    intents = [
        entry
        for entry in map(json.loads, path.read_text().splitlines()[1:])
        if entry.get("event") == "intent"
    ]
    assert intents[-1]["window"] == 2 * DEFAULT_WINDOW


# --- what settling a rent_any job forgets ---------------------------------------------------


async def test_rent_any_settling_forgets_an_unknown_item_that_rented_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.jsonl"
    operation = RentAny(Recorder(owned={PHONE}), RENT_ANY_REQUEST, 1, None, None, None)
    journal = await operation.open_journal(path)
    try:
        await journal.record_baseline([PHONE])
        await journal.record_intent(0)
        await journal.record_failure(0, ServerError(503), unknown=True)
        await operation.reconcile(journal)  # nothing appeared: item 0 rented nothing
        assert (journal.status(0), journal.items_to_check()) == (None, [])
    finally:
        await journal.aclose()


async def test_rent_any_reconciling_assigns_an_appeared_number_and_forgets_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.jsonl"
    project = Recorder(owned={PHONE})
    operation = RentAny(project, RENT_ANY_REQUEST, 2, None, None, None)
    journal = await operation.open_journal(path)
    try:
        await journal.record_baseline([PHONE])
        for item in (0, 1):
            await journal.record_intent(item)
            await journal.record_failure(item, ServerError(503), unknown=True)
        project.owned.add(OTHER)  # one of the lost requests rented it
        await operation.reconcile(journal)
        succeeded = journal.succeeded(0)
        assert succeeded is not None
        assert succeeded.phone_number == OTHER
        assert (journal.status(1), journal.items_to_check()) == (None, [])
    finally:
        await journal.aclose()


# --- how long one attempt can run -----------------------------------------------------------


@pytest.mark.parametrize(
    ("timeouts", "limit"),
    [
        (Timeouts(total=10.0), 10.0),
        (Timeouts(total=None), UNBOUNDED_ATTEMPT),
        (Timeouts(total=None, deadline=50.0), 50.0),
        (Timeouts(total=10.0, deadline=5.0), 5.0),
        (Timeouts(total=10.0, deadline=50.0), 10.0),
    ],
)
def test_an_attempt_lasts_its_total_or_the_cap_within_the_deadline(
    timeouts: Timeouts, limit: float
) -> None:
    assert attempt_window(total=timeouts.total, deadline=timeouts.deadline) == limit


def test_an_attempt_under_the_default_timeouts_lasts_the_default_total() -> None:
    assert Rent(Recorder(), {}, None, None, None).attempt_window == 60.0


def test_an_unbounded_attempt_is_capped_at_five_minutes() -> None:
    assert UNBOUNDED_ATTEMPT == 300.0


# --- how long one call can run --------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry", "timeouts", "window"),
    [
        # 3 attempts of 10 s, sleeps 1 + 2 (backoff doubling).
        (RetryPolicy(attempts=3, backoff=1.0, max_backoff=100.0, max_retry_after=0.0), None, 33.0),
        # Sleeps are at least max_retry_after: 1.5 + 2.
        (RetryPolicy(attempts=3, backoff=1.0, max_backoff=100.0, max_retry_after=1.5), None, 33.5),
        # The backoff ceiling caps each sleep: 1 + 1.5 + 1.5.
        (RetryPolicy(attempts=4, backoff=1.0, max_backoff=1.5, max_retry_after=0.0), None, 44.0),
        # One attempt: no sleep.
        (RetryPolicy(attempts=1, backoff=1.0, max_backoff=100.0, max_retry_after=5.0), None, 10.0),
        # Unbounded attempts count 300 s each: 2 * 300 + 1.
        (
            RetryPolicy(attempts=2, backoff=1.0, max_backoff=100.0, max_retry_after=0.0),
            Timeouts(total=None),
            601.0,
        ),
        # A deadline caps the whole call.
        (
            RetryPolicy(attempts=3, backoff=1.0, max_backoff=100.0, max_retry_after=0.0),
            Timeouts(total=10.0, deadline=20.0),
            20.0,
        ),
        # A deadline longer than the call changes nothing.
        (
            RetryPolicy(attempts=3, backoff=1.0, max_backoff=100.0, max_retry_after=0.0),
            Timeouts(total=10.0, deadline=100.0),
            33.0,
        ),
    ],
)
def test_a_call_lasts_every_attempt_and_every_longest_sleep_within_the_deadline(
    retry: RetryPolicy, timeouts: Timeouts | None, window: float
) -> None:
    limits = Timeouts(total=10.0) if timeouts is None else timeouts
    assert call_window(retry, total=limits.total, deadline=limits.deadline) == window


def test_a_call_under_the_default_settings_lasts_the_default_window() -> None:
    assert Rent(Recorder(), {}, None, None, None).window == DEFAULT_WINDOW


def test_the_windows_come_from_the_settings_the_client_says_it_runs_with() -> None:
    project = Recorder()
    project.retry = RetryPolicy(attempts=2, backoff=1.0, max_backoff=1.0, max_retry_after=0.0)
    project.timeouts = Timeouts(total=7.0)
    operation = Release(project)
    assert (operation.window, operation.attempt_window) == (15.0, 7.0)  # 7 + 1 + 7
    project.timeouts = Timeouts(total=7.0, deadline=5.0)  # the deadline cuts both
    operation = Release(project)
    assert (operation.window, operation.attempt_window) == (5.0, 5.0)


async def test_a_views_bulk_jobs_take_the_views_settings(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        view = client.with_options(timeouts=Timeouts(total=5.0, deadline=12.0))
        assert (view.retry, view.timeouts) == (client.retry, Timeouts(total=5.0, deadline=12.0))
        operation = Release(view)
    assert (operation.window, operation.attempt_window) == (12.0, 5.0)


# --- what Unsettled carries -----------------------------------------------------------------


def test_unsettled_carries_the_error_and_its_message() -> None:
    error = ServerError(503, message="down for maintenance")
    unsettled = Unsettled(error)
    assert (unsettled.error, str(unsettled)) == (error, str(error))
    assert str(unsettled)


def test_attempt_and_call_windows_are_floats_even_from_whole_seconds() -> None:
    one = RetryPolicy(attempts=1)
    windows = (attempt_window(total=10, deadline=5), call_window(one, total=10, deadline=5))
    assert (type(windows[0]), type(windows[1])) == (float, float)


# --- the journal's cap on how long a rerun may be asked to wait -------------------------------


class Slow(Recorder):
    """A project whose client lets one call run up to ``deadline`` seconds."""

    retry = RetryPolicy(attempts=200, max_retry_after=3600)

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.timeouts = Timeouts(total=None, deadline=deadline)


async def test_a_rent_journal_is_refused_when_a_call_after_an_unknown_outcome_outlasts_the_cap(
    tmp_path: Path,
) -> None:
    """A rent after an unknown outcome may check first: two windows from its intent. A
    window of 0.6 weeks is within the one-week cap, twice it is not: refused, naming
    the argument and what to change, before anything is written."""
    window = 0.6 * MAX_WINDOW
    with pytest.raises(InvalidInputError) as caught:
        await Rent(Slow(window), {}, None, None, None).open_journal(tmp_path / "rent.jsonl")
    assert caught.value.argument == "journal"
    assert caught.value.rule == (
        f"the client's retries and timeouts let one call run {2 * window:g} s, longer than "
        f"the {MAX_WINDOW:g} s a journal may ask a rerun to wait; set "
        "Timeouts(deadline=...) on the client"
    )
    assert not (tmp_path / "rent.jsonl").exists()
    # A release under the same client waits one window: within the cap.
    journal = await Release(Slow(window)).open_journal(tmp_path / "release.jsonl")
    await journal.aclose()


async def test_a_journal_whose_longest_wait_is_exactly_the_cap_is_accepted(
    tmp_path: Path,
) -> None:
    journal = await Rent(Slow(MAX_WINDOW / 2), {}, None, None, None).open_journal(
        tmp_path / "rent.jsonl"
    )
    await journal.aclose()


async def test_rent_any_reconciling_names_the_numbers_no_request_accounts_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = Recorder(owned={PHONE})
    operation = RentAny(project, RENT_ANY_REQUEST, 1, None, None, None)
    journal = await operation.open_journal(tmp_path / "j.jsonl")
    try:
        await journal.record_baseline([PHONE])
        await journal.record_intent(0)
        await journal.record_failure(0, ServerError(503), unknown=True)
        project.owned |= {OTHER, "+12065550102", "+12065550103"}  # one lost rent, two others
        with caplog.at_level("WARNING", logger="numbers_async"):
            await operation.reconcile(journal)
    finally:
        await journal.aclose()
    assert [n.phone_number for n in operation.unaccounted] == ["+12065550102", "+12065550103"]
    assert [r.getMessage() for r in caplog.records] == [
        "bulk rent_any: 3 numbers appeared since the job began but only 1 requests had "
        "unknown outcomes; the rest (+12065550102, +12065550103) are reported as unaccounted"
    ]
