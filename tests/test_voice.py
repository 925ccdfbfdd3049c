"""Voice configurations: a union on the wire's ``type``, received, printed and sent whole."""

from __future__ import annotations

import copy
import pickle
import warnings
from datetime import datetime, timezone
from typing import Any

import aiohttp
import attrs
import pytest

from numbers_async import (
    DecodeError,
    EstScheduledVoiceProvisioning,
    EstVoiceConfiguration,
    FaxScheduledVoiceProvisioning,
    FaxVoiceConfiguration,
    InvalidInputError,
    NumbersClient,
    ProvisioningStatus,
    RtcScheduledVoiceProvisioning,
    RtcVoiceConfiguration,
    ScheduledVoiceProvisioning,
    UnknownScheduledVoiceProvisioning,
    UnknownVoiceConfiguration,
    VoiceConfiguration,
    _json,
    to_dict,
)
from numbers_async import _operations as ops
from numbers_async._convert import decoder_source, structure
from numbers_async._responses import decode
from numbers_async.models import ActiveNumber
from numbers_async.testing import FakeNumbersServer

from .conftest import basic_authorization

STAMP = "2024-07-01T11:58:35.610198Z"
WHEN = datetime(2024, 7, 1, 11, 58, 35, 610198, tzinfo=timezone.utc)


# --- decoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ({"type": "RTC", "appId": "app-1"}, RtcVoiceConfiguration("app-1")),
        ({"type": "EST", "trunkId": "trunk-1"}, EstVoiceConfiguration("trunk-1")),
        ({"type": "FAX", "serviceId": "fax-1"}, FaxVoiceConfiguration("fax-1")),
        ({"appId": "app-1"}, RtcVoiceConfiguration("app-1")),  # no type: RTC, the default
        ({"type": None, "appId": "app-1"}, RtcVoiceConfiguration("app-1")),
        ({}, RtcVoiceConfiguration()),
    ],
    ids=["rtc", "est", "fax", "no-type", "null-type", "empty"],
)
def test_each_voice_type_decodes_to_its_class(
    wire: dict[str, Any], expected: VoiceConfiguration
) -> None:
    assert structure(wire, VoiceConfiguration) == expected


def test_the_ids_of_other_types_the_api_sends_empty_do_not_change_the_class() -> None:
    wire = {"type": "EST", "appId": "", "trunkId": "trunk-1", "serviceId": ""}
    assert structure(wire, VoiceConfiguration) == EstVoiceConfiguration("trunk-1")


def test_a_scheduled_change_of_another_type_decodes_to_its_own_class() -> None:
    # An RTC number switching to FAX (the shape of the Java SDK's "switch to FAX" fixture).
    wire = {
        "type": "RTC",
        "appId": "app-1",
        "lastUpdatedTime": "2024-06-30T07:08:09.100Z",
        "scheduledVoiceProvisioning": {
            "type": "FAX",
            "serviceId": "fax-1",
            "appId": "",
            "trunkId": "",
            "status": "WAITING",
            "lastUpdatedTime": STAMP,
        },
    }

    voice = structure(wire, VoiceConfiguration)

    assert voice == RtcVoiceConfiguration(
        "app-1",
        datetime(2024, 6, 30, 7, 8, 9, 100000, tzinfo=timezone.utc),
        FaxScheduledVoiceProvisioning("fax-1", ProvisioningStatus.WAITING, WHEN),
    )


def test_an_unknown_voice_type_keeps_every_member_it_came_with() -> None:
    wire = {
        "type": "SIP_URI",
        "sipUri": "sip:support@example.com",
        "weights": [1, {"primary": True}],
        "lastUpdatedTime": STAMP,
        "scheduledVoiceProvisioning": {"type": "TEAMS", "tenant": "t-1", "status": "WAITING"},
    }

    number = structure({"phoneNumber": "+12025550134", "voiceConfiguration": wire}, ActiveNumber)
    voice = number.voice_configuration

    assert isinstance(voice, UnknownVoiceConfiguration)
    assert voice.type == "SIP_URI"
    assert voice.raw == wire
    assert voice.last_updated_time == WHEN
    scheduled = voice.scheduled_voice_provisioning
    assert isinstance(scheduled, UnknownScheduledVoiceProvisioning)
    assert (scheduled.type, scheduled.status) == ("TEAMS", ProvisioningStatus.WAITING)
    assert scheduled.raw == wire["scheduledVoiceProvisioning"]
    # Exported with the API's names, it is what came: nothing dropped, nothing changed.
    assert to_dict(number, wire_names=True, omit_none=True)["voiceConfiguration"] == {
        **wire,
        "lastUpdatedTime": "2024-07-01T11:58:35.610198Z",
    }


def test_the_raw_members_of_an_unknown_type_are_exported_as_a_copy() -> None:
    voice = structure({"type": "NEW", "nested": {"a": [1]}}, VoiceConfiguration)
    exported = to_dict(voice, wire_names=True)
    exported["nested"]["a"].append(2)
    assert isinstance(voice, UnknownVoiceConfiguration)
    assert voice.raw["nested"] == {"a": [1]}


@pytest.mark.parametrize("kind", [5, True, [], {}])
def test_a_type_that_is_not_a_string_is_a_decode_error_naming_it(kind: object) -> None:
    body = _json.dumps({"phoneNumber": "+1", "voiceConfiguration": {"type": kind}})
    with pytest.raises(DecodeError, match=r"voiceConfiguration\.type: expected a string"):
        decode(200, body, ActiveNumber)


def test_a_scheduled_type_that_is_not_a_string_names_its_path() -> None:
    body = _json.dumps(
        {"phoneNumber": "+1", "voiceConfiguration": {"scheduledVoiceProvisioning": {"type": 1}}}
    )
    with pytest.raises(
        DecodeError, match=r"voiceConfiguration\.scheduledVoiceProvisioning\.type: expected"
    ):
        decode(200, body, ActiveNumber)


def test_the_union_decoder_reads_type_once_and_calls_one_decoder() -> None:
    # Speed (benchmarks B2, B3): one dict lookup on the type, no trying class after class.
    source = decoder_source(VoiceConfiguration)
    assert source.count("value.get('type')") == 1
    assert "try" not in source
    assert source.count("(_find(kind) or _other)(value, None)") == 1
    # A known type's decoder does not read its own type again: it is the class's constant.
    assert "= get('type'" not in decoder_source(EstVoiceConfiguration)
    # A model with a union field dispatches inline: one call to the class's decoder.
    number = decoder_source(ActiveNumber)
    assert number.count(".get('type')") == 1
    assert number.count("(_find") == 1


class _CountingReads(dict[str, Any]):
    """A JSON object that records in ``reads`` which members are read through ``get``."""

    def __init__(self, reads: list[str], members: dict[str, Any]) -> None:
        super().__init__(members)
        self.reads = reads

    def get(self, key: str, default: Any = None) -> Any:
        self.reads.append(key)
        return super().get(key, default)


def test_a_model_with_a_union_field_reads_each_type_once() -> None:
    # The type of a voice configuration and of its scheduled change is read once each:
    # no class is tried in turn.
    reads: list[str] = []
    scheduled = {"type": "FAX", "serviceId": "fax-1", "status": "WAITING"}
    voice: dict[str, Any] = {"type": "EST", "trunkId": "t-1"}
    voice["scheduledVoiceProvisioning"] = _CountingReads(reads, scheduled)
    wire = {"phoneNumber": "+1", "voiceConfiguration": _CountingReads(reads, voice)}
    number = structure(wire, ActiveNumber)
    assert number.voice_configuration == EstVoiceConfiguration(
        "t-1", None, FaxScheduledVoiceProvisioning("fax-1", ProvisioningStatus.WAITING)
    )
    assert reads.count("type") == 2  # once per object
    voice_reads = ["type", "trunkId", "lastUpdatedTime", "scheduledVoiceProvisioning"]
    scheduled_reads = ["type", "serviceId", "status", "lastUpdatedTime"]
    assert sorted(reads) == sorted([*voice_reads, *scheduled_reads])


# --- the old name, and the classes themselves ----------------------------------------------------


def test_calling_voice_configuration_still_builds_an_rtc_configuration() -> None:
    old = VoiceConfiguration(app_id="app-1")
    positional = VoiceConfiguration("app-1", WHEN, None)

    assert type(old) is RtcVoiceConfiguration
    assert old == RtcVoiceConfiguration(app_id="app-1")
    assert positional == RtcVoiceConfiguration("app-1", last_updated_time=WHEN)
    assert old.type == "RTC"


def test_calling_scheduled_voice_provisioning_still_builds_an_rtc_one() -> None:
    old = ScheduledVoiceProvisioning(app_id="app-1", status=ProvisioningStatus.WAITING)
    assert old == RtcScheduledVoiceProvisioning("app-1", ProvisioningStatus.WAITING)


def test_every_voice_class_is_a_voice_configuration_with_its_type() -> None:
    values = [
        RtcVoiceConfiguration("a"),
        EstVoiceConfiguration("t"),
        FaxVoiceConfiguration("s"),
        UnknownVoiceConfiguration("NEW", {"type": "NEW"}),
    ]
    assert all(isinstance(value, VoiceConfiguration) for value in values)
    assert [value.type for value in values] == ["RTC", "EST", "FAX", "NEW"]
    scheduled = [
        RtcScheduledVoiceProvisioning("a"),
        EstScheduledVoiceProvisioning("t"),
        FaxScheduledVoiceProvisioning("s"),
        UnknownScheduledVoiceProvisioning("NEW"),
    ]
    assert all(isinstance(value, ScheduledVoiceProvisioning) for value in scheduled)
    assert [value.type for value in scheduled] == ["RTC", "EST", "FAX", "NEW"]


def test_the_type_of_a_known_class_is_not_an_argument() -> None:
    with pytest.raises(TypeError):
        EstVoiceConfiguration(type="RTC")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "value",
    [
        EstVoiceConfiguration("t", WHEN, FaxScheduledVoiceProvisioning("s")),
        UnknownVoiceConfiguration("NEW", {"type": "NEW", "x": [1]}),
    ],
)
def test_voice_configurations_pickle_copy_and_hash(value: VoiceConfiguration) -> None:
    assert pickle.loads(pickle.dumps(value)) == value  # noqa: S301 - our own bytes
    assert copy.deepcopy(value) == value
    assert attrs.evolve(value) == value
    assert isinstance(hash(value), int)


def test_reading_app_id_of_another_type_warns_and_reads_none() -> None:
    with pytest.warns(DeprecationWarning, match="EstVoiceConfiguration has no app_id"):
        assert EstVoiceConfiguration("t").app_id is None
    with pytest.warns(DeprecationWarning, match="FaxScheduledVoiceProvisioning has no app_id"):
        assert FaxScheduledVoiceProvisioning("s").app_id is None


def test_reading_app_id_of_an_rtc_configuration_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert RtcVoiceConfiguration("a").app_id == "a"
        assert RtcScheduledVoiceProvisioning("a").app_id == "a"


def test_to_dict_shows_each_type_and_its_id() -> None:
    assert to_dict(EstVoiceConfiguration("t"), wire_names=True, omit_none=True) == {
        "type": "EST",
        "trunkId": "t",
    }
    assert to_dict(FaxVoiceConfiguration("s")) == {
        "type": "FAX",
        "service_id": "s",
        "last_updated_time": None,
        "scheduled_voice_provisioning": None,
    }


# --- sending ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("voice", "wire"),
    [
        (RtcVoiceConfiguration("app-1"), {"type": "RTC", "appId": "app-1"}),
        (VoiceConfiguration(app_id="app-1"), {"type": "RTC", "appId": "app-1"}),
        (EstVoiceConfiguration("trunk-1"), {"type": "EST", "trunkId": "trunk-1"}),
        (FaxVoiceConfiguration("fax-1"), {"type": "FAX", "serviceId": "fax-1"}),
        (FaxVoiceConfiguration(""), {"type": "FAX", "serviceId": ""}),  # unlink
        (
            EstVoiceConfiguration("t", WHEN, EstScheduledVoiceProvisioning("u")),
            {"type": "EST", "trunkId": "t"},  # read-only fields are never sent
        ),
    ],
    ids=["rtc", "old-name", "est", "fax", "unlink", "read-only-left-out"],
)
def test_rent_update_and_rent_any_send_the_type_and_its_id(
    voice: VoiceConfiguration, wire: dict[str, Any]
) -> None:
    requests = [
        ops.rent("+12025550134", sms=None, voice=voice, callback_url=None),
        ops.update_active(
            "+12025550134", display_name=None, sms=None, voice=voice, callback_url=None
        ),
        ops.rent_any(
            "US",
            "LOCAL",
            pattern=None,
            search_pattern=None,
            capabilities=None,
            sms=None,
            voice=voice,
            callback_url=None,
        ),
    ]
    for request in requests:
        assert request.body is not None
        assert _json.loads(request.body)["voiceConfiguration"] == wire


def test_an_unknown_voice_type_is_refused_when_sent_back() -> None:
    voice = structure({"type": "SIP_URI", "sipUri": "sip:x"}, VoiceConfiguration)
    with pytest.raises(InvalidInputError) as caught:
        ops.update_active(
            "+12025550134", display_name=None, sms=None, voice=voice, callback_url=None
        )
    assert caught.value.argument == "voice"
    assert "'SIP_URI' is newer than this version" in str(caught.value)


@pytest.mark.parametrize(
    ("voice", "rule"),
    [
        (RtcVoiceConfiguration(), "RtcVoiceConfiguration must set app_id"),
        (EstVoiceConfiguration(last_updated_time=WHEN), "EstVoiceConfiguration must set trunk_id"),
        (FaxVoiceConfiguration(), "FaxVoiceConfiguration must set service_id"),
        (RtcVoiceConfiguration(7), "RtcVoiceConfiguration must set app_id to a string"),  # type: ignore[arg-type]
        (RtcScheduledVoiceProvisioning("a"), "must be an RtcVoiceConfiguration, Est"),
        ({"type": "RTC", "appId": "a"}, "must be an RtcVoiceConfiguration, Est"),
    ],
)
def test_a_voice_configuration_that_cannot_be_sent_is_refused(voice: object, rule: str) -> None:
    with pytest.raises(InvalidInputError, match=rule) as caught:
        ops.rent("+12025550134", sms=None, voice=voice, callback_url=None)
    assert caught.value.argument == "voice"


def test_a_voice_class_of_the_users_own_is_refused() -> None:
    @attrs.frozen
    class MyVoice(VoiceConfiguration):
        app_id: str | None = None

    with pytest.raises(InvalidInputError, match="must be an RtcVoiceConfiguration, Est"):
        ops.rent("+12025550134", sms=None, voice=MyVoice("a"), callback_url=None)


# --- against the fake server ------------------------------------------------------------------


async def test_a_number_moves_to_a_sip_trunk_then_to_fax_and_reads_whole(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    rented = await client.available_numbers.rent_any(
        "US", "LOCAL", voice=EstVoiceConfiguration("trunk-1")
    )
    phone = rented.phone_number
    assert fake.requests_for("rent_any")[-1].json()["voiceConfiguration"] == {
        "type": "EST",
        "trunkId": "trunk-1",
    }
    assert isinstance(rented.voice_configuration, RtcVoiceConfiguration)
    pending = rented.voice_configuration.scheduled_voice_provisioning
    assert isinstance(pending, EstScheduledVoiceProvisioning)
    assert (pending.trunk_id, pending.status) == ("trunk-1", ProvisioningStatus.WAITING)

    fake.complete_provisioning(phone)
    trunk = await client.active_numbers.get(phone)
    assert trunk.voice_configuration == EstVoiceConfiguration("trunk-1")

    switching = await client.active_numbers.update(phone, voice=FaxVoiceConfiguration("fax-1"))
    assert fake.requests_for("update_active")[-1].json() == {
        "voiceConfiguration": {"type": "FAX", "serviceId": "fax-1"}
    }
    assert isinstance(switching.voice_configuration, EstVoiceConfiguration)
    assert isinstance(
        switching.voice_configuration.scheduled_voice_provisioning, FaxScheduledVoiceProvisioning
    )
    fake.complete_provisioning(phone)
    fax = await client.active_numbers.get(phone)
    assert fax.voice_configuration == FaxVoiceConfiguration("fax-1")
    assert to_dict(fax, wire_names=True, omit_none=True)["voiceConfiguration"] == {
        "type": "FAX",
        "serviceId": "fax-1",
    }


async def test_a_number_read_with_an_unknown_voice_type_prints_every_member(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    (phone,) = fake.add_active_numbers(1)
    voice = {"type": "WEBRTC", "appId": "", "roomId": "room-7"}
    fake.active[phone] = {**fake.active[phone], "voiceConfiguration": voice}

    number = await client.active_numbers.get(phone)

    assert to_dict(number, wire_names=True, omit_none=True)["voiceConfiguration"] == voice
    with pytest.raises(InvalidInputError, match="'WEBRTC' is newer"):
        await client.active_numbers.update(phone, voice=number.voice_configuration)
    assert fake.requests_for("update_active") == []


@pytest.mark.parametrize(
    ("voice", "field", "description"),
    [
        ({"type": "EST", "appId": "a"}, "voice_configuration.app_id", "appId does not apply"),
        ({"type": "FAX"}, "voice_configuration.service_id", "serviceId is required"),
        ({"trunkId": "t"}, "voice_configuration.trunk_id", "trunkId does not apply to type RTC"),
    ],
)
async def test_the_fake_refuses_a_voice_configuration_that_mixes_types(
    fake: FakeNumbersServer, voice: dict[str, str], field: str, description: str
) -> None:
    (phone,) = fake.add_active_numbers(1)
    headers = basic_authorization(fake)
    url = f"{fake.url}/v1/projects/{fake.project_id}/activeNumbers/{phone}"
    # A body the client itself would never build.
    async with (
        aiohttp.ClientSession() as session,
        session.patch(url, json={"voiceConfiguration": voice}, headers=headers) as answer,
    ):
        assert answer.status == 400
        body = await answer.json()
    (violation,) = body["error"]["details"][0]["fieldViolations"]
    assert violation["field"] == field
    assert description in violation["description"]


def test_known_voice_classes_are_built_by_setting_their_slots() -> None:
    # Their type is a constant, not an argument: decoding still bypasses __init__ (speed).
    from numbers_async import _decoders

    for cls in (RtcVoiceConfiguration, EstScheduledVoiceProvisioning, FaxVoiceConfiguration):
        assert _decoders._slot_setters(cls) is not None
        assert "_new(_cls)" in decoder_source(cls)
