"""Webhook helpers name the argument and the rule of bad input, and write times in UTC."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from numbers_async.errors import InvalidInputError
from numbers_async.webhooks import NumbersEvent, compute_signature, parse_event


def test_an_empty_secret_is_refused_by_name() -> None:
    with pytest.raises(InvalidInputError) as caught:
        compute_signature(b"{}", "")
    assert caught.value.argument == "secret"
    assert caught.value.rule == "must be a non-empty string (the HMAC secret)"


def test_a_signature_without_a_secret_is_refused_by_name() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_event(b"{}", signature="0" * 40)
    assert caught.value.argument == "secret"
    assert caught.value.rule == (
        "is required when a signature is given, to verify it against the body"
    )


@pytest.fixture
def local_zone_behind_utc() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "EST+05")
        time.tzset()
        yield
    time.tzset()


@pytest.mark.usefixtures("local_zone_behind_utc")
def test_an_event_time_in_another_zone_is_written_in_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    event = NumbersEvent(timestamp=datetime(2024, 7, 23, 23, 2, 14, 415637, tzinfo=tokyo))
    assert event.to_dict()["timestamp"] == "2024-07-23T14:02:14.415637"
