"""parse_event and NumbersEvent: verification first, then a typed, forward-compatible event."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from numbers_async._enums import _OpenEnum
from numbers_async.errors import InvalidEventError, InvalidInputError, InvalidSignatureError
from numbers_async.webhooks import (
    EventStatus,
    EventType,
    FailureCode,
    NumbersEvent,
    ResourceType,
    compute_signature,
    parse_event,
)

from .vectors import VECTOR_BODY, VECTOR_DIGEST, VECTOR_SECRET

VECTOR_EVENT = NumbersEvent(
    event_id="abcd1234efghijklmnop567890",
    timestamp=datetime(2023, 6, 6, 7, 45, 27, 785357, tzinfo=timezone.utc),
    project_id="abcd12ef-ab12-ab12-bc34-abcdef123456",
    resource_id="+12345612345",
    resource_type=ResourceType.ACTIVE_NUMBER,
    event_type=EventType.PROVISIONING_TO_CAMPAIGN,
    status=EventStatus.FAILED,
    failure_code=FailureCode.CAMPAIGN_NOT_AVAILABLE,
)


def body_with(**fields: Any) -> bytes:
    return json.dumps({**json.loads(VECTOR_BODY), **fields}).encode()


def parse_recorded(body: Any, **options: Any) -> NumbersEvent:
    """``parse_event`` without the age check: these recorded events are years old.

    The tests here are about verifying and decoding; the age check has its own tests
    (tests/security/test_webhook_freshness.py).
    """
    return parse_event(body, max_age=None, **options)


# -- the documented vector ---------------------------------------------------------------


def test_documented_vector_parses_to_the_documented_event() -> None:
    event = parse_recorded(VECTOR_BODY, signature=VECTOR_DIGEST, secret=VECTOR_SECRET)

    assert event == VECTOR_EVENT


def test_documented_vector_timestamp_is_aware_utc_with_microseconds() -> None:
    event = parse_recorded(VECTOR_BODY)

    assert event.timestamp == datetime(2023, 6, 6, 7, 45, 27, 785357, tzinfo=timezone.utc)
    assert event.timestamp is not None
    assert event.timestamp.utcoffset() == timedelta(0)


def test_documented_vector_parses_with_an_uppercase_signature() -> None:
    event = parse_recorded(VECTOR_BODY, signature=VECTOR_DIGEST.upper(), secret=VECTOR_SECRET)

    assert event == VECTOR_EVENT


def test_event_serialises_back_to_the_wire_form() -> None:
    assert VECTOR_EVENT.to_dict() == json.loads(VECTOR_BODY)


# -- signature ---------------------------------------------------------------------------


def test_missing_signature_raises_invalid_signature_error_saying_it_is_missing() -> None:
    with pytest.raises(InvalidSignatureError, match="missing X-Sinch-Signature"):
        parse_recorded(VECTOR_BODY, signature=None, secret=VECTOR_SECRET)


def test_blank_signature_counts_as_missing() -> None:
    with pytest.raises(InvalidSignatureError, match="missing"):
        parse_recorded(VECTOR_BODY, signature="  ", secret=VECTOR_SECRET)


def test_wrong_signature_raises_invalid_signature_error_saying_it_does_not_match() -> None:
    with pytest.raises(InvalidSignatureError, match="does not match"):
        parse_recorded(VECTOR_BODY, signature=VECTOR_DIGEST, secret="another-secret")


def test_truncated_signature_raises_invalid_signature_error() -> None:
    with pytest.raises(InvalidSignatureError, match="does not match"):
        parse_recorded(VECTOR_BODY, signature=VECTOR_DIGEST[:20], secret=VECTOR_SECRET)


def test_signature_error_never_shows_the_secret_or_the_expected_digest() -> None:
    with pytest.raises(InvalidSignatureError) as caught:
        parse_recorded(VECTOR_BODY, signature="0" * 40, secret=VECTOR_SECRET)

    shown = f"{caught.value} {caught.value!r}"
    assert VECTOR_SECRET not in shown
    assert VECTOR_DIGEST not in shown


def test_signature_is_checked_before_the_body_is_decoded() -> None:
    with pytest.raises(InvalidSignatureError):
        parse_recorded(b"not json", signature="0" * 40, secret=VECTOR_SECRET)


def test_signature_without_a_secret_is_refused_instead_of_silently_ignored() -> None:
    with pytest.raises(InvalidInputError, match="secret"):
        parse_recorded(VECTOR_BODY, signature=VECTOR_DIGEST)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="secret"):
        parse_recorded(VECTOR_BODY, signature=VECTOR_DIGEST, secret="")


@pytest.mark.parametrize(
    "body", [VECTOR_BODY.decode(), json.loads(VECTOR_BODY), None], ids=["str", "dict", "None"]
)
def test_body_that_is_not_bytes_raises_type_error_asking_for_the_raw_body(body: object) -> None:
    with pytest.raises(TypeError, match=r"exact bytes received.*await request\.read\(\)"):
        parse_recorded(body, signature=VECTOR_DIGEST, secret=VECTOR_SECRET)


@pytest.mark.parametrize("body", [bytearray(VECTOR_BODY), memoryview(VECTOR_BODY)])
def test_bytearray_and_memoryview_bodies_parse(body: bytearray | memoryview) -> None:
    assert parse_recorded(body, signature=VECTOR_DIGEST, secret=VECTOR_SECRET) == VECTOR_EVENT


# -- timestamps --------------------------------------------------------------------------


def test_nine_digit_timestamp_keeps_microseconds() -> None:
    event = parse_recorded(body_with(timestamp="2024-07-23T14:02:14.415637289"))

    assert event.timestamp == datetime(2024, 7, 23, 14, 2, 14, 415637, tzinfo=timezone.utc)


def test_timestamp_with_an_offset_is_converted_to_utc() -> None:
    event = parse_recorded(body_with(timestamp="2024-07-23T16:02:14.415637+02:00"))

    assert event.timestamp is not None
    assert event.timestamp.tzinfo is timezone.utc
    assert event.timestamp == datetime(2024, 7, 23, 14, 2, 14, 415637, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01T00:00:00", "0001-01-01T00:00:00+01:00"])
def test_unreadable_timestamp_raises_invalid_event_error(text: str) -> None:
    with pytest.raises(InvalidEventError, match="timestamp"):
        parse_recorded(body_with(timestamp=text))


# -- forward compatibility ---------------------------------------------------------------


def test_unknown_failure_code_is_kept() -> None:
    event = parse_recorded(body_with(failureCode="PROVISIONING_TO_VOICE_PLATFORM_FAILED"))

    assert event.failure_code == "PROVISIONING_TO_VOICE_PLATFORM_FAILED"
    assert isinstance(event.failure_code, FailureCode)
    assert not FailureCode.is_known(event.failure_code)


def test_unknown_event_type_is_kept() -> None:
    event = parse_recorded(body_with(eventType="PORTING_COMPLETED"))

    assert event.event_type == "PORTING_COMPLETED"
    assert isinstance(event.event_type, EventType)


def test_observed_deprovisioning_from_voice_platform_is_a_known_event_type() -> None:
    event = parse_recorded(body_with(eventType="DEPROVISIONING_FROM_VOICE_PLATFORM"))

    assert event.event_type is EventType.DEPROVISIONING_FROM_VOICE_PLATFORM


def test_absent_fields_are_none() -> None:
    assert parse_recorded(b"{}") == NumbersEvent()


def test_null_fields_are_none() -> None:
    event = parse_recorded(body_with(failureCode=None, timestamp=None, eventId=None))
    assert event == NumbersEvent(
        **{**_fields(VECTOR_EVENT), "failure_code": None, "timestamp": None, "event_id": None}
    )


def test_unknown_fields_are_ignored_and_kept_in_raw() -> None:
    event = parse_recorded(body_with(brandId="B-42", extra={"nested": [1, 2]}))

    assert event == VECTOR_EVENT
    assert event.raw["brandId"] == "B-42"


def test_raw_is_not_part_of_equality_or_repr() -> None:
    event = parse_recorded(body_with(brandId="B-42"))

    assert event == NumbersEvent(**_fields(event))
    assert "raw" not in repr(event)
    assert "B-42" not in repr(event)


# -- malformed bodies --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b"", b"{", b'{"eventId": "a",}', b"\xff\xfe{}", b"[" * 100_000, b"NaN-ish"]
)
def test_malformed_json_raises_invalid_event_error(body: bytes) -> None:
    with pytest.raises(InvalidEventError, match="not valid JSON"):
        parse_recorded(body)


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b"[]", "an array"), (b'"event"', "a string"), (b"42", "a number"), (b"null", "null")],
)
def test_json_that_is_not_an_object_raises_invalid_event_error(body: bytes, kind: str) -> None:
    with pytest.raises(InvalidEventError, match=f"must be a JSON object, got {kind}"):
        parse_recorded(body)


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("eventId", 123, "a number"),
        ("timestamp", 1686037527, "a number"),
        ("projectId", ["p"], "an array"),
        ("resourceId", {"phone": "+1"}, "an object"),
        ("resourceType", True, "a boolean"),
        ("eventType", 1, "a number"),
        ("status", False, "a boolean"),
        ("failureCode", [], "an array"),
    ],
)
def test_field_of_the_wrong_type_raises_invalid_event_error_naming_it(
    field: str, value: object, kind: str
) -> None:
    with pytest.raises(InvalidEventError, match=f"^{field} must be a string, got {kind}$"):
        parse_recorded(body_with(**{field: value}))


# -- properties --------------------------------------------------------------------------


def _fields(event: NumbersEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "timestamp": event.timestamp,
        "project_id": event.project_id,
        "resource_id": event.resource_id,
        "resource_type": event.resource_type,
        "event_type": event.event_type,
        "status": event.status,
        "failure_code": event.failure_code,
    }


def open_enum(cls: type[_OpenEnum]) -> st.SearchStrategy[Any]:
    return st.none() | st.sampled_from(list(cls)) | st.text().map(cls)


events = st.builds(
    NumbersEvent,
    event_id=st.none() | st.text(),
    timestamp=st.none() | st.datetimes(timezones=st.just(timezone.utc)),
    project_id=st.none() | st.text(),
    resource_id=st.none() | st.text(),
    resource_type=open_enum(ResourceType),
    event_type=open_enum(EventType),
    status=open_enum(EventStatus),
    failure_code=open_enum(FailureCode),
)


@given(event=events, secret=st.text(min_size=1))
def test_any_event_serialised_and_signed_parses_back_equal(
    event: NumbersEvent, secret: str
) -> None:
    body = json.dumps(event.to_dict()).encode()

    assert parse_recorded(body, signature=compute_signature(body, secret), secret=secret) == event


@given(body=st.binary(), signature=st.none() | st.text(), secret=st.none() | st.text())
def test_arbitrary_bytes_raise_only_the_documented_errors(
    body: bytes, signature: str | None, secret: str | None
) -> None:
    with contextlib.suppress(InvalidSignatureError, InvalidEventError, InvalidInputError):
        parse_recorded(body, signature=signature, secret=secret)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)  # what every decoder reads exactly
    | st.floats(allow_nan=False, allow_infinity=False)  # NaN != NaN; orjson refuses both
    | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=10,
)
field_names = st.sampled_from(list(json.loads(VECTOR_BODY))) | st.text()


@given(data=st.dictionaries(field_names, json_values) | json_values)
def test_arbitrary_json_parses_or_raises_invalid_event_error(data: object) -> None:
    body = json.dumps(data).encode()
    try:
        event = parse_recorded(body)
    except InvalidEventError:
        return
    assert event.raw == data
