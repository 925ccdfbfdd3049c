"""Models and the converter: round trips, real payload shapes, forward compatibility."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from numbers_async import _json
from numbers_async._convert import structure, unstructure
from numbers_async._responses import decode, decode_list
from numbers_async._timestamps import format_datetime, parse_datetime
from numbers_async.errors import DecodeError
from numbers_async.models import (
    ActiveNumber,
    AvailableNumber,
    AvailableRegion,
    CallbackConfiguration,
    Capability,
    NumberType,
    Page,
    ProvisioningStatus,
    SmsConfiguration,
)

from .strategies import ALL_MODELS


@pytest.mark.parametrize("cls", list(ALL_MODELS), ids=lambda c: c.__name__)
@given(data=st.data())
def test_every_model_round_trips_through_wire_json(cls: type, data: st.DataObject) -> None:
    value = data.draw(ALL_MODELS[cls])
    wire = _json.loads(_json.dumps(unstructure(value)))
    assert structure(wire, cls) == value


def test_unset_fields_are_left_out_and_empty_strings_kept() -> None:
    wire = unstructure(SmsConfiguration(service_plan_id="", campaign_id=None))
    assert wire == {"servicePlanId": ""}


# The shape right after a rent with SMS and Voice settings
# (docs/api-facts.md#rent-update-and-provisioning).
RENTED = {
    "phoneNumber": "+12025550134",
    "projectId": "51bc3f40-f266-4ca8-8938-a1ed0ff32b9a",
    "displayName": "",
    "regionCode": "US",
    "type": "LOCAL",
    "capability": ["SMS", "VOICE"],
    "money": {"currencyCode": "USD", "amount": "2.00"},
    "paymentIntervalMonths": 1,
    "nextChargeDate": "2024-07-06T14:42:42.022227Z",
    "expireAt": None,
    "smsConfiguration": {
        "servicePlanId": "",
        "campaignId": "",
        "scheduledProvisioning": {
            "servicePlanId": "plan-1",
            "campaignId": "",
            "status": "WAITING",
            "lastUpdatedTime": "2024-06-06T14:42:42.022227Z",
            "errorCodes": [],
        },
    },
    "voiceConfiguration": {
        "type": "RTC",
        "appId": "",
        "trunkId": "",
        "serviceId": "",
        "scheduledVoiceProvisioning": {
            "type": "RTC",
            "appId": "app-1",
            "status": "WAITING",
            "lastUpdatedTime": "2024-06-06T14:42:42.022227Z",
        },
    },
    "callbackUrl": "https://example.com/cb",
}


def test_rent_response_with_scheduled_provisioning_and_extra_fields_decodes() -> None:
    number = decode(200, _json.dumps(RENTED), ActiveNumber)
    assert number.phone_number == "+12025550134"
    assert number.type is NumberType.LOCAL
    assert number.capability == (Capability.SMS, Capability.VOICE)
    assert number.money is not None
    assert number.money.amount == Decimal("2.00")
    assert str(number.money.amount) == "2.00"
    assert number.expire_at is None
    sms = number.sms_configuration
    assert sms is not None
    assert sms.service_plan_id == ""
    assert sms.scheduled_provisioning is not None
    assert sms.scheduled_provisioning.service_plan_id == "plan-1"
    assert sms.scheduled_provisioning.status is ProvisioningStatus.WAITING
    assert sms.scheduled_provisioning.error_codes == ()
    voice = number.voice_configuration
    assert voice is not None
    assert voice.scheduled_voice_provisioning is not None
    assert voice.scheduled_voice_provisioning.app_id == "app-1"
    assert number.next_charge_date == datetime(2024, 7, 6, 14, 42, 42, 22227, tzinfo=timezone.utc)


def test_failed_provisioning_keeps_error_codes_and_unknown_status() -> None:
    payload = {
        "phoneNumber": "+12025550134",
        "smsConfiguration": {
            "scheduledProvisioning": {"status": "FAILED", "errorCodes": ["SMS_PROVISIONING_FAILED"]}
        },
        "voiceConfiguration": {"scheduledVoiceProvisioning": {"status": "PAUSED_FOR_REVIEW"}},
    }
    number = structure(payload, ActiveNumber)
    assert number.sms_configuration is not None
    scheduled = number.sms_configuration.scheduled_provisioning
    assert scheduled is not None
    assert scheduled.status is ProvisioningStatus.FAILED
    assert scheduled.error_codes == ("SMS_PROVISIONING_FAILED",)
    assert number.voice_configuration is not None
    voice = number.voice_configuration.scheduled_voice_provisioning
    assert voice is not None
    assert voice.status == "PAUSED_FOR_REVIEW"
    assert isinstance(voice.status, ProvisioningStatus)
    assert not ProvisioningStatus.is_known(voice.status)


def test_unknown_enum_values_are_kept_not_rejected() -> None:
    number = structure(
        {"phoneNumber": "+12025550134", "type": "SHORT_CODE", "capability": ["SMS", "FAX"]},
        AvailableNumber,
    )
    assert number.type == "SHORT_CODE"
    assert number.capability is not None
    assert number.capability[1].value == "FAX"
    assert unstructure(number) == {
        "phoneNumber": "+12025550134",
        "type": "SHORT_CODE",
        "capability": ["SMS", "FAX"],
    }
    assert [m.value for m in Capability] == ["SMS", "VOICE"]  # the member list never grows


def test_a_page_with_empty_final_token_ends_the_listing() -> None:
    page = decode(200, b'{"activeNumbers": [], "nextPageToken": "", "totalSize": 0}', Page)
    assert page == Page(items=(), next_page_token=None, total_size=0)


def test_a_page_with_absent_final_token_ends_the_listing() -> None:
    page = decode(200, _json.dumps({"activeNumbers": [RENTED], "totalSize": 10}), Page)
    assert page.next_page_token is None
    assert page.total_size == 10
    assert len(page.items) == 1


def test_an_empty_page_object_decodes() -> None:
    assert decode(200, b"{}", Page) == Page()


def test_regions_decode_from_their_envelope() -> None:
    body = _json.dumps(
        {
            "availableRegions": [
                {"regionCode": "US", "regionName": "United States", "types": ["LOCAL", "TOLL_FREE"]}
            ]
        }
    )
    assert decode_list(200, body, AvailableRegion, "availableRegions") == [
        AvailableRegion("US", "United States", (NumberType.LOCAL, NumberType.TOLL_FREE))
    ]


def test_absent_list_key_means_no_results() -> None:
    assert decode_list(200, b"{}", AvailableNumber, "availableNumbers") == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"phoneNumber": "+1', "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b"<html>oops</html>", "not valid JSON"),
        (
            b'{"phoneNumber": "+1", "money": {"amount": "two dollars"}}',
            "cannot decode ActiveNumber",
        ),
        (b'{"phoneNumber": "+1", "money": {"amount": 2.5}}', "cannot decode ActiveNumber"),
        (b'{"phoneNumber": "+1", "nextChargeDate": "yesterday"}', "cannot decode ActiveNumber"),
        (b'{"displayName": "no number"}', "cannot decode ActiveNumber: phoneNumber: expected"),
    ],
)
def test_undecodable_success_bodies_raise_decode_error(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message) as caught:
        decode(200, body, ActiveNumber)
    assert caught.value.status == 200
    assert caught.value.body == body


def test_a_list_key_holding_something_else_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="not a JSON array"):
        decode_list(200, b'{"availableNumbers": {}}', AvailableNumber, "availableNumbers")


def test_hmac_secret_is_hidden_from_repr() -> None:
    config = CallbackConfiguration(project_id="p", hmac_secret="s3cr3t-value-that-must-not-leak")
    assert "s3cr3t" not in repr(config)
    assert (
        repr(CallbackConfiguration()) == "CallbackConfiguration(project_id=None, hmac_secret=None)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-06T14:42:42Z", datetime(2024, 6, 6, 14, 42, 42, tzinfo=timezone.utc)),
        ("2024-06-06T14:42:42.5Z", datetime(2024, 6, 6, 14, 42, 42, 500000, tzinfo=timezone.utc)),
        (
            "2024-07-23T14:02:14.415637289",
            datetime(2024, 7, 23, 14, 2, 14, 415637, tzinfo=timezone.utc),
        ),
        (
            "2024-07-23T14:02:14.999999999Z",
            datetime(2024, 7, 23, 14, 2, 14, 999999, tzinfo=timezone.utc),
        ),
        (
            "2024-06-06T14:42:42.022+02:00",
            datetime(2024, 6, 6, 14, 42, 42, 22000, tzinfo=timezone(timedelta(hours=2))),
        ),
        (
            "2024-06-06T14:42:42-0530",
            datetime(2024, 6, 6, 14, 42, 42, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
        ),
        ("2024-06-06 14:42:42z", datetime(2024, 6, 6, 14, 42, 42, tzinfo=timezone.utc)),
    ],
)
def test_timestamps_parse_in_every_documented_form(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text", ["", "2024-06-06", "2024-06-06T14:42", "2024-06-06T14:42:42.1234567890Z", "x"]
)
def test_malformed_timestamps_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_datetime(text)


def test_utc_and_naive_datetimes_format_with_z() -> None:
    assert (
        format_datetime(datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
        == "2024-01-02T03:04:05Z"
    )
    assert format_datetime(datetime(2024, 1, 2, 3, 4, 5, 6)) == "2024-01-02T03:04:05.000006Z"


def test_repeated_values_in_a_page_decode_once_and_distinct_ones_stay_distinct() -> None:
    def number(phone: str, plan: str, amount: str) -> dict[str, object]:
        return {
            "phoneNumber": phone,
            "capability": ["SMS", "VOICE"] if plan == "plan-a" else ["SMS"],
            "money": {"currencyCode": "USD", "amount": amount},
            "smsConfiguration": {"servicePlanId": plan, "campaignId": ""},
            "voiceConfiguration": {"appId": "app", "lastUpdatedTime": "2024-06-06T14:42:42Z"},
        }

    body = _json.dumps(
        {
            "activeNumbers": [
                number("+12025550001", "plan-a", "2.00"),
                number("+12025550002", "plan-a", "2.00"),
                number("+12025550003", "plan-b", "2.0"),
            ]
        }
    )
    first, second, third = decode(200, body, Page).items
    assert first.money is second.money  # immutable, so shared
    assert first.sms_configuration is second.sms_configuration
    assert first.capability is second.capability
    assert first.voice_configuration == second.voice_configuration  # equal, not cached
    assert third.sms_configuration == SmsConfiguration("plan-b", "")
    assert third.capability == (Capability.SMS,)
    assert third.money is not None
    assert str(third.money.amount) == "2.0"  # "2.0" and "2.00" are not conflated


def test_the_shared_value_caches_stay_bounded() -> None:
    from numbers_async import _fields

    _fields.clear_caches()  # whatever earlier tests left
    for i in range(_fields._INTERNED_MAX + 10):
        structure(
            {
                "phoneNumber": "+1",
                "type": f"NEW_TYPE_{i}",
                "money": {"amount": f"{i}.00"},
                "capability": ["SMS"] * (i % 50),
                "smsConfiguration": {"servicePlanId": str(i)},
            },
            ActiveNumber,
        )
    sizes = [len(cache) for cache in _fields._CACHES]
    assert max(sizes) <= _fields._INTERNED_MAX
    assert sum(sizes) > 50  # the caches were used
    known = len(NumberType.__members__)
    assert known < len(_fields._open_members(NumberType)) <= known + _fields._INTERNED_MAX
