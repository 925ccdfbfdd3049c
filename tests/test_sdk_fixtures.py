"""Every JSON fixture of the official Java SDK's numbers domain, through the public models.

The fixtures stay out of this repository: set ``NUMBERS_ASYNC_SDK_FIXTURES`` to the
directory ``openapi-contracts/src/test/resources/domains/numbers/v1`` of a checkout of
https://github.com/sinch/sinch-sdk-java, and these tests read them; without it they are
skipped. Every ``*.json`` file there must be listed below, so a fixture the SDK adds fails
here until someone says what it is.

- a response, a model or an event: decoded, then exported with
  ``to_dict(wire_names=True)``, with nothing lost or changed (``tests/shapes.py`` says what
  counts as the same);
- a request: what the client sends for the same arguments is the fixture;
- an error: the ``ApiError`` the client raises keeps its code, status, message and details.

The project's own examples of each shape are in ``tests/test_api_shapes.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from numbers_async import (
    ActiveNumber,
    AddressValidation,
    AvailableNumber,
    AvailableRegion,
    CallbackConfiguration,
    EmergencyAddress,
    EstVoiceConfiguration,
    FaxVoiceConfiguration,
    InvalidInputError,
    Page,
    RtcVoiceConfiguration,
    ScheduledVoiceProvisioning,
    SmsConfiguration,
    VoiceConfiguration,
)
from numbers_async import _emergency as emergency
from numbers_async import _operations as ops
from numbers_async._responses import decode_list, error_for
from numbers_async.webhooks import parse_event

from .shapes import differences, round_trip

ENV = "NUMBERS_ASYNC_SDK_FIXTURES"
ROOT = Path(os.environ[ENV]) if os.environ.get(ENV) else None

#: Response fixtures (and models the SDK tests both ways): the model each decodes to.
MODELS: dict[str, type[Any]] = {
    "active/ScheduledVoiceProvisioningDtoEST.json": ScheduledVoiceProvisioning,
    "active/ScheduledVoiceProvisioningDtoFAX.json": ScheduledVoiceProvisioning,
    "active/ScheduledVoiceProvisioningDtoRTC.json": ScheduledVoiceProvisioning,
    "active/SmsConfigurationDtoServicePlanIdNull.json": SmsConfiguration,
    "active/SmsConfigurationDtoServicePlanIdValue.json": SmsConfiguration,
    "active/SmsConfigurationResponseDto.json": SmsConfiguration,
    "active/VoiceConfigurationDtoAppIdNull.json": VoiceConfiguration,
    "active/VoiceConfigurationDtoAppIdUndefined.json": VoiceConfiguration,
    "active/VoiceConfigurationDtoAppIdValue.json": VoiceConfiguration,
    "active/VoiceConfigurationDtoRTCSwitchToFAX.json": VoiceConfiguration,
    "active/VoiceConfigurationResponseDtoEST.json": VoiceConfiguration,
    "active/VoiceConfigurationResponseDtoFAX.json": VoiceConfiguration,
    "active/VoiceConfigurationResponseDtoRTC.json": VoiceConfiguration,
    "active/active-numbers-get.json": ActiveNumber,
    "active/active-numbers-list-light.json": Page,
    "active/active-numbers-list.json": Page,
    "available/available-numbers-get.json": AvailableNumber,
    "emergency-address.json": EmergencyAddress,
    "errors/rent-response.json": ActiveNumber,  # filed under errors/, a rent's answer
    "eventdestinations/event-destination-response.json": CallbackConfiguration,
    "response/validate-address-response-no-match.json": AddressValidation,
    "response/validate-address-response.json": AddressValidation,
}
#: Response fixtures holding a list: the model of each item and the list's member.
LISTS: dict[str, tuple[type[Any], str]] = {
    "available/available-numbers-list.json": (AvailableNumber, "availableNumbers"),
    "regions/available-regions-list.json": (AvailableRegion, "availableRegions"),
}
EVENTS = ["sinchevents/number-sinch-event.json"]
ERRORS = {"errors/error-trial-account.json": 403, "errors/not-found-error.json": 404}

ADDRESS = EmergencyAddress(
    street_number="3500",
    street_info="Lenox Rd NE",
    location="a location",
    city="Atlanta",
    state="GA",
    postal_code="30326",
    postal_code_plus_four="4228",
)
VALID_URL = "https://example.com/callback"
VALID_SECRET = "0123456789abcdef0123456789abcdef"


def _update_body() -> Any:
    # The fixture's callbackUrl, "foo callback", is not a URL: the client refuses it (see
    # test_the_request_fixtures_values_the_client_refuses), so a URL stands in for it.
    return ops.update_active(
        "+12025550134",
        display_name="a display",
        sms=SmsConfiguration("service plan id", "campaign id"),
        voice=RtcVoiceConfiguration("AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEE"),
        callback_url=VALID_URL,
    ).json


def _voice_body(voice: VoiceConfiguration) -> Any:
    request = ops.update_active(
        "+12025550134", display_name=None, sms=None, voice=voice, callback_url=None
    )
    assert request.json is not None
    return request.json["voiceConfiguration"]


def _sms_body() -> Any:
    request = ops.rent(
        "+12025550134",
        sms=SmsConfiguration(service_plan_id="service plan id", campaign_id="campaign id"),
        voice=None,
        callback_url=None,
    )
    assert request.json is not None
    return request.json["smsConfiguration"]


#: Request fixtures: what the client sends for the same arguments, and the members that
#: stand in for a value the client refuses.
REQUESTS: dict[str, tuple[Callable[[], Any], dict[str, str]]] = {
    "active/VoiceConfigurationRequestDtoEST.json": (
        lambda: _voice_body(EstVoiceConfiguration("AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEE")),
        {},
    ),
    "active/VoiceConfigurationRequestDtoFAX.json": (
        lambda: _voice_body(FaxVoiceConfiguration("AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEE")),
        {},
    ),
    "active/VoiceConfigurationRequestDtoRTC.json": (
        lambda: _voice_body(RtcVoiceConfiguration("AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEE")),
        {},
    ),
    "active/SmsConfigurationRequestDto.json": (_sms_body, {}),
    "active/active-numbers-update-request.json": (_update_body, {"callbackUrl": VALID_URL}),
    "request/emergency-address-request.json": (
        lambda: emergency.provision_address("+12025550134", ADDRESS, "a display").json,
        {},
    ),
    "eventdestinations/event-destination-update-request.json": (
        lambda: json.loads(ops.update_callbacks(VALID_SECRET).body or b""),
        {"hmacSecret": VALID_SECRET},
    ),
}

LISTED = {*MODELS, *LISTS, *EVENTS, *ERRORS, *REQUESTS}

needs_fixtures = pytest.mark.skipif(
    ROOT is None, reason=f"{ENV} is not set (a checkout of sinch-sdk-java's numbers fixtures)"
)


def _load(name: str) -> Any:
    assert ROOT is not None
    return json.loads((ROOT / name).read_text())


@needs_fixtures
def test_every_fixture_is_listed() -> None:
    assert ROOT is not None
    found = {path.relative_to(ROOT).as_posix() for path in ROOT.rglob("*.json")}
    assert found == LISTED


@needs_fixtures
@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_response_fixture_round_trips_with_nothing_lost_or_changed(name: str) -> None:
    sent = _load(name)
    cls = MODELS[name]
    exported = round_trip(sent, cls)
    voice = cls in (VoiceConfiguration, ScheduledVoiceProvisioning)
    assert differences(sent, exported, voice=voice) == []


@needs_fixtures
@pytest.mark.parametrize("name", sorted(LISTS))
def test_a_list_fixture_round_trips_item_by_item(name: str) -> None:
    from numbers_async import _json, to_dict

    sent = _load(name)
    cls, member = LISTS[name]
    items = decode_list(200, _json.dumps(sent), cls, member)
    exported = {member: [to_dict(item, wire_names=True) for item in items]}
    assert differences(sent, exported) == []


@needs_fixtures
@pytest.mark.parametrize("name", EVENTS)
def test_an_event_fixture_round_trips(name: str) -> None:
    sent = _load(name)
    event = parse_event(json.dumps(sent).encode(), max_age=None)
    assert event.internal_failure_code == sent["internalFailureCode"]
    assert differences(sent, event.to_dict()) == []


@needs_fixtures
@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_the_client_sends_what_a_request_fixture_holds(name: str) -> None:
    build, stand_ins = REQUESTS[name]
    expected = {**_load(name), **stand_ins}
    assert build() == expected


@needs_fixtures
def test_the_request_fixtures_values_the_client_refuses() -> None:
    # Not a URL, not a secret of the documented shape: refused before anything is sent.
    update = _load("active/active-numbers-update-request.json")
    with pytest.raises(InvalidInputError, match="callback_url"):
        ops.update_active(
            "+12025550134",
            display_name=None,
            sms=None,
            voice=None,
            callback_url=update["callbackUrl"],
        )
    secret = _load("eventdestinations/event-destination-update-request.json")["hmacSecret"]
    with pytest.raises(InvalidInputError, match="hmac_secret"):
        ops.update_callbacks(secret)


@needs_fixtures
@pytest.mark.parametrize("name", sorted(ERRORS))
def test_an_error_fixture_keeps_everything_it_says(name: str) -> None:
    sent = _load(name)
    error = error_for(ERRORS[name], {}, json.dumps(sent).encode())
    envelope = sent["error"]
    assert (error.status, error.code) == (ERRORS[name], envelope["code"])
    assert (error.status_text, error.message) == (envelope["status"], envelope["message"])
    assert error.details == envelope["details"]
