"""Hypothesis strategies for every model (shared by the round-trip tests)."""

from __future__ import annotations

import enum
from datetime import timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from numbers_async import _json
from numbers_async._convert import unstructure
from numbers_async.models import (
    ActiveNumber,
    AddressValidation,
    AddressValidationResult,
    AvailableNumber,
    AvailableRegion,
    CallbackConfiguration,
    Capability,
    EmergencyAddress,
    EstScheduledVoiceProvisioning,
    EstVoiceConfiguration,
    FaxScheduledVoiceProvisioning,
    FaxVoiceConfiguration,
    Money,
    NumberType,
    Page,
    ProvisioningStatus,
    RtcScheduledVoiceProvisioning,
    RtcVoiceConfiguration,
    ScheduledSmsProvisioning,
    ScheduledVoiceProvisioning,
    SmsConfiguration,
    SmsErrorCode,
    UnknownScheduledVoiceProvisioning,
    UnknownVoiceConfiguration,
    VoiceConfiguration,
)

texts = st.text(max_size=20)
phones = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
# Whole microseconds only: that is the precision a datetime keeps, so it is what round-trips.
zones = st.sampled_from(
    [timezone.utc, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
)
datetimes = st.datetimes(timezones=zones)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=4)


def open_enum(cls: type[enum.Enum]) -> st.SearchStrategy:
    """Known members and unknown values, which must survive a round trip too."""
    unknown = st.from_regex(r"[A-Z][A-Z_]{0,15}", fullmatch=True).map(cls)
    return st.one_of(st.sampled_from(list(cls)), unknown)


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


def tuples(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return optional(st.lists(strategy, max_size=3).map(tuple))


money = st.builds(Money, currency_code=optional(texts), amount=optional(decimals))
scheduled_sms = st.builds(
    ScheduledSmsProvisioning,
    service_plan_id=optional(texts),
    campaign_id=optional(texts),
    status=optional(open_enum(ProvisioningStatus)),
    last_updated_time=optional(datetimes),
    error_codes=tuples(open_enum(SmsErrorCode)),
)
# A voice type this version does not know.
new_voice_types = st.from_regex(r"[A-Z][A-Z_]{1,10}", fullmatch=True).filter(
    lambda kind: kind not in ("RTC", "EST", "FAX")
)
# JSON members this version does not model (their names start with "x").
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**31), 2**31) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
unknown_members = st.dictionaries(
    st.from_regex(r"x[A-Za-z]{0,8}", fullmatch=True), json_values, max_size=3
)


def with_raw(cls: type[Any], extra: dict[str, Any], **fields: Any) -> Any:
    """An unknown-type value whose `raw` is what its wire form decodes back to."""
    wire = _json.loads(_json.dumps(unstructure(cls(raw={}, **fields))))
    return cls(raw={**_json.loads(_json.dumps(extra)), **wire}, **fields)


scheduled_voice_variants = {
    RtcScheduledVoiceProvisioning: st.builds(
        RtcScheduledVoiceProvisioning,
        app_id=optional(texts),
        status=optional(open_enum(ProvisioningStatus)),
        last_updated_time=optional(datetimes),
    ),
    EstScheduledVoiceProvisioning: st.builds(
        EstScheduledVoiceProvisioning,
        trunk_id=optional(texts),
        status=optional(open_enum(ProvisioningStatus)),
        last_updated_time=optional(datetimes),
    ),
    FaxScheduledVoiceProvisioning: st.builds(
        FaxScheduledVoiceProvisioning,
        service_id=optional(texts),
        status=optional(open_enum(ProvisioningStatus)),
        last_updated_time=optional(datetimes),
    ),
    UnknownScheduledVoiceProvisioning: st.builds(
        with_raw,
        st.just(UnknownScheduledVoiceProvisioning),
        unknown_members,
        type=new_voice_types,
        status=optional(open_enum(ProvisioningStatus)),
        last_updated_time=optional(datetimes),
    ),
}
scheduled_voice = st.one_of(*scheduled_voice_variants.values())
voice_variants = {
    RtcVoiceConfiguration: st.builds(
        RtcVoiceConfiguration,
        app_id=optional(texts),
        last_updated_time=optional(datetimes),
        scheduled_voice_provisioning=optional(scheduled_voice),
    ),
    EstVoiceConfiguration: st.builds(
        EstVoiceConfiguration,
        trunk_id=optional(texts),
        last_updated_time=optional(datetimes),
        scheduled_voice_provisioning=optional(scheduled_voice),
    ),
    FaxVoiceConfiguration: st.builds(
        FaxVoiceConfiguration,
        service_id=optional(texts),
        last_updated_time=optional(datetimes),
        scheduled_voice_provisioning=optional(scheduled_voice),
    ),
    UnknownVoiceConfiguration: st.builds(
        with_raw,
        st.just(UnknownVoiceConfiguration),
        unknown_members,
        type=new_voice_types,
        last_updated_time=optional(datetimes),
        scheduled_voice_provisioning=optional(scheduled_voice),
    ),
}
voice = st.one_of(*voice_variants.values())
sms = st.builds(
    SmsConfiguration,
    service_plan_id=optional(texts),
    campaign_id=optional(texts),
    scheduled_provisioning=optional(scheduled_sms),
)
emergency_addresses = st.builds(
    EmergencyAddress,
    street_number=optional(texts),
    street_info=optional(texts),
    location=optional(texts),
    city=optional(texts),
    state=optional(texts),
    postal_code=optional(texts),
    postal_code_plus_four=optional(texts),
)
address_validations = st.builds(
    AddressValidation,
    phone_number=optional(phones),
    display_name=optional(texts),
    validated_address=optional(emergency_addresses),
    validation_result=optional(open_enum(AddressValidationResult)),
    validation_message=optional(texts),
    corrected_address=optional(emergency_addresses),
    candidate_addresses=tuples(emergency_addresses),
)
available_numbers = st.builds(
    AvailableNumber,
    phone_number=phones,
    region_code=optional(texts),
    type=optional(open_enum(NumberType)),
    capability=tuples(open_enum(Capability)),
    setup_price=optional(money),
    monthly_price=optional(money),
    payment_interval_months=optional(st.integers(0, 120)),
    supporting_documentation_required=optional(st.booleans()),
)
active_numbers = st.builds(
    ActiveNumber,
    phone_number=phones,
    project_id=optional(texts),
    display_name=optional(texts),
    region_code=optional(texts),
    type=optional(open_enum(NumberType)),
    capability=tuples(open_enum(Capability)),
    money=optional(money),
    payment_interval_months=optional(st.integers(0, 120)),
    next_charge_date=optional(datetimes),
    expire_at=optional(datetimes),
    sms_configuration=optional(sms),
    voice_configuration=optional(voice),
    callback_url=optional(texts),
)
regions = st.builds(
    AvailableRegion,
    region_code=optional(texts),
    region_name=optional(texts),
    types=tuples(open_enum(NumberType)),
)
callback_configurations = st.builds(
    CallbackConfiguration, project_id=optional(texts), hmac_secret=optional(texts)
)
# The API's "" and absent final tokens both decode to None, so a round trip starts from those.
pages = st.builds(
    Page,
    items=st.lists(active_numbers, max_size=3).map(tuple),
    next_page_token=optional(texts.filter(bool)),
    total_size=optional(st.integers(0, 2**31 - 1)),
)

ALL_MODELS = {
    Money: money,
    ScheduledSmsProvisioning: scheduled_sms,
    ScheduledVoiceProvisioning: scheduled_voice,
    **scheduled_voice_variants,
    SmsConfiguration: sms,
    VoiceConfiguration: voice,
    **voice_variants,
    AvailableNumber: available_numbers,
    ActiveNumber: active_numbers,
    AvailableRegion: regions,
    CallbackConfiguration: callback_configurations,
    Page: pages,
    EmergencyAddress: emergency_addresses,
    AddressValidation: address_validations,
}
