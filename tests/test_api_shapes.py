"""The project's own example of each shape the API sends today, round-tripped whole.

Written for this project from the facts in docs/api-facts.md#the-api-beyond-the-10-spec
(no SDK fixture is copied here; ``tests/test_sdk_fixtures.py`` reads those). Each goes
through the public models and back with nothing lost or changed, as ``tests/shapes.py``
defines it; that module's comparison is itself tested at the end.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from numbers_async import (
    ActiveNumber,
    AddressValidation,
    EmergencyAddress,
    EstVoiceConfiguration,
    Page,
    ScheduledVoiceProvisioning,
    SmsConfiguration,
    VoiceConfiguration,
)
from numbers_async import _emergency as emergency
from numbers_async import _operations as ops
from numbers_async.webhooks import parse_event

from .shapes import Normalised, differences, round_trip

PHONE = "+12065550147"
NUMBER: dict[str, Any] = {
    "phoneNumber": PHONE,
    "projectId": "0d7f3b8e-5f7c-4a0e-9a51-3e2c1b7d9a10",
    "displayName": "Front desk",
    "regionCode": "US",
    "type": "LOCAL",
    "capability": ["SMS", "VOICE"],
    "money": {"currencyCode": "USD", "amount": "1.50"},
    "paymentIntervalMonths": 1,
    "nextChargeDate": "2025-03-14T09:26:53.589793Z",
    "expireAt": None,
    "smsConfiguration": {
        "servicePlanId": "plan-7",
        "campaignId": "",
        "scheduledProvisioning": None,
    },
    "callbackUrl": "https://hooks.example.org/numbers",
}
# Settled on an app, as the live API answers: all three ids, the others empty.
RTC_SETTLED = {
    "type": "RTC",
    "appId": "app-42",
    "trunkId": "",
    "serviceId": "",
    "lastUpdatedTime": "2025-02-14T09:26:53Z",
    "scheduledVoiceProvisioning": None,
}
# Moving from that app to a SIP trunk: the change waits under scheduledVoiceProvisioning.
RTC_TO_EST = {
    "type": "RTC",
    "appId": "app-42",
    "trunkId": "",
    "serviceId": "",
    "lastUpdatedTime": "2025-02-14T09:26:53.5Z",
    "scheduledVoiceProvisioning": {
        "type": "EST",
        "appId": "",
        "trunkId": "trunk-9",
        "serviceId": "",
        "status": "IN_PROGRESS",
        "lastUpdatedTime": "2025-02-15T10:00:00.123Z",
    },
}
FAX_SETTLED = {"type": "FAX", "serviceId": "fax-3", "lastUpdatedTime": "2025-02-16T00:00:00Z"}
SMS_FAILED = {
    "servicePlanId": "",
    "campaignId": "",
    "scheduledProvisioning": {
        "servicePlanId": "plan-7",
        "campaignId": "campaign-2",
        "status": "FAILED",
        "lastUpdatedTime": "2025-02-15T10:00:00Z",
        "errorCodes": ["CAMPAIGN_MNO_REJECTED", "SOME_CODE_FROM_NEXT_YEAR"],
    },
}
SMS_UNSPECIFIED = {
    "servicePlanId": "plan-7",
    "campaignId": "",
    "scheduledProvisioning": {"status": "PROVISIONING_STATUS_UNSPECIFIED", "errorCodes": []},
}
ADDRESS = {
    "streetNumber": "1600",
    "streetInfo": "Pennsylvania Ave NW",
    "location": "",
    "city": "Washington",
    "state": "DC",
    "postalCode": "20500",
    "postalCodePlusFour": "0003",
}
NEAR_MATCH = {
    "phoneNumber": PHONE,
    "displayName": "Reception",
    "validatedAddress": {**ADDRESS, "streetInfo": "Pennsylvania Avenue Northwest"},
    "validationResult": "NEAR_MATCH",
    "validationMessage": "Corrected to valid address|Corrected address abbreviations",
    "correctedAddress": ADDRESS,
    "candidateAddresses": [],
}
NO_MATCH = {
    "phoneNumber": PHONE,
    "displayName": "Reception",
    "validatedAddress": {**ADDRESS, "streetNumber": "16000"},
    "validationResult": "NO_MATCH",
    "validationMessage": "Invalid address - no correction found|Address is Invalid",
    "correctedAddress": dict.fromkeys(ADDRESS, ""),
    "candidateAddresses": [ADDRESS, {**ADDRESS, "streetNumber": "1650"}],
}
LAST_PAGE = {
    "activeNumbers": [{**NUMBER, "voiceConfiguration": RTC_TO_EST}],
    "nextPageToken": "",
    "totalSize": 1,
}

SHAPES: dict[str, tuple[Any, type[Any]]] = {
    "number with an RTC app": ({**NUMBER, "voiceConfiguration": RTC_SETTLED}, ActiveNumber),
    "number moving to a SIP trunk": ({**NUMBER, "voiceConfiguration": RTC_TO_EST}, ActiveNumber),
    "number on fax": ({**NUMBER, "voiceConfiguration": FAX_SETTLED}, ActiveNumber),
    "voice without a type": ({"appId": "app-42"}, VoiceConfiguration),
    "a scheduled EST change": (
        RTC_TO_EST["scheduledVoiceProvisioning"],
        ScheduledVoiceProvisioning,
    ),
    "failed SMS provisioning": (SMS_FAILED, SmsConfiguration),
    "unspecified provisioning status": (SMS_UNSPECIFIED, SmsConfiguration),
    "an emergency address": (ADDRESS, EmergencyAddress),
    "a near match": (NEAR_MATCH, AddressValidation),
    "no match, two candidates": (NO_MATCH, AddressValidation),
    "the last page": (LAST_PAGE, Page),
    "a voice type from the future": (
        {
            "type": "WEBRTC_ROOM",
            "roomId": "r-1",
            "limits": {"participants": 8, "regions": ["us-east", None]},
            "lastUpdatedTime": "2025-02-14T09:26:53Z",
            "scheduledVoiceProvisioning": {"type": "OTHER", "x": True, "status": "WAITING"},
        },
        VoiceConfiguration,
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_shape_round_trips_with_nothing_lost_or_changed(name: str) -> None:
    sent, cls = SHAPES[name]
    voice = cls in (VoiceConfiguration, ScheduledVoiceProvisioning)
    assert differences(sent, round_trip(sent, cls), voice=voice) == []


def test_the_events_of_today_round_trip() -> None:
    events = [
        {
            "eventId": "01HZX3",
            "timestamp": "2025-02-15T10:00:00.123456789",
            "projectId": "0d7f3b8e-5f7c-4a0e-9a51-3e2c1b7d9a10",
            "resourceId": PHONE,
            "resourceType": "ACTIVE_NUMBER",
            "eventType": "PROVISIONING_TO_CAMPAIGN",
            "status": "FAILED",
            "failureCode": "CAMPAIGN_MNO_REJECTED",
            "internalFailureCode": "CRS0042",
        },
        {
            "eventId": "01HZX4",
            "timestamp": "2025-02-15T10:00:01.5",
            "projectId": "0d7f3b8e-5f7c-4a0e-9a51-3e2c1b7d9a10",
            "resourceId": "order-5",
            "resourceType": "NUMBER_ORDER",
            "eventType": "NUMBER_ORDER_PROCESSING",
            "status": "IN_REVIEW",
            "orderStep": "DOCUMENTS",
        },
    ]
    for sent in events:
        exported = parse_event(json.dumps(sent).encode(), max_age=None).to_dict()
        # Nine fractional digits are read to the microsecond, and written as six.
        assert differences(sent, exported) == []


def test_the_request_shapes_are_what_the_client_sends() -> None:
    address = EmergencyAddress(
        street_number="1600",
        street_info="Pennsylvania Ave NW",
        city="Washington",
        state="DC",
        postal_code="20500",
        postal_code_plus_four="0003",
    )
    assert emergency.validate_address(PHONE, address, "Reception").json == {
        "displayName": "Reception",
        "address": {k: v for k, v in ADDRESS.items() if k != "location"},
    }
    update = ops.update_active(
        PHONE,
        display_name=None,
        sms=SmsConfiguration(service_plan_id="plan-7", campaign_id=""),
        voice=EstVoiceConfiguration("trunk-9"),
        callback_url=None,
    )
    assert update.json == {
        "smsConfiguration": {"servicePlanId": "plan-7", "campaignId": ""},
        "voiceConfiguration": {"type": "EST", "trunkId": "trunk-9"},
    }


# --- the comparison itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "exported", "found"),
    [
        ({"a": "1"}, {}, ["a: lost"]),
        ({"a": "1"}, {"a": "2"}, ["a: '1' became '2'"]),
        ({"a": "1"}, {"a": 1}, ["a: '1' became 1"]),
        ({"a": [1, 2]}, {"a": [1]}, ["a: 2 items became 1"]),
        ({"a": {"b": None, "c": "x"}}, {"a": {"b": None}}, ["a.c: lost"]),
        ({}, {"a": "new"}, ["a: added 'new'"]),
        ({"expireAt": "2025-01-01T00:00:00Z"}, {"expireAt": "2025-01-01T00:00:01Z"}, ["expireAt"]),
        ({"nextPageToken": "t"}, {"nextPageToken": None}, ["nextPageToken: 't' became None"]),
        ({"type": "EST", "trunkId": ""}, {"type": "EST"}, ["trunkId: lost"]),  # its own id
        ({"amount": "2.50"}, {"amount": "2.5"}, ["amount: '2.50' became '2.5'"]),
    ],
)
def test_the_comparison_finds_what_was_lost_changed_or_added(
    sent: Any, exported: Any, found: list[str]
) -> None:
    got = differences(sent, exported, voice=True)
    assert len(got) == len(found)
    assert all(line.startswith(prefix) for line, prefix in zip(got, found, strict=True))


def test_the_comparison_counts_what_it_normalises() -> None:
    seen: Normalised = Normalised()
    sent = {
        "appId": "a",
        "trunkId": "",
        "lastUpdatedTime": "2025-01-01T00:00:00.1Z",
        "missing": None,
        "scheduledVoiceProvisioning": {"type": "FAX", "serviceId": "s", "appId": ""},
    }
    exported = {
        "type": "RTC",
        "appId": "a",
        "lastUpdatedTime": "2025-01-01T00:00:00.100000Z",
        "extra": None,
        "scheduledVoiceProvisioning": {"type": "FAX", "serviceId": "s"},
    }
    assert differences(sent, exported, seen=seen, voice=True) == ["missing: lost"]
    assert seen == {
        "empty id of another voice type": 2,
        "timestamp respelled": 1,
        "voice type RTC written out": 1,
    }
