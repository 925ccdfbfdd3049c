"""Hypothesis strategies for every model (shared by the round-trip tests)."""

from __future__ import annotations

import enum
from datetime import timedelta, timezone

from hypothesis import strategies as st

from numbers_async.models import (
    ActiveNumber,
    AvailableNumber,
    AvailableRegion,
    CallbackConfiguration,
    Capability,
    Money,
    NumberType,
    Page,
    ProvisioningStatus,
    ScheduledSmsProvisioning,
    ScheduledVoiceProvisioning,
    SmsConfiguration,
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
    error_codes=tuples(texts),
)
scheduled_voice = st.builds(
    ScheduledVoiceProvisioning,
    app_id=optional(texts),
    status=optional(open_enum(ProvisioningStatus)),
    last_updated_time=optional(datetimes),
)
sms = st.builds(
    SmsConfiguration,
    service_plan_id=optional(texts),
    campaign_id=optional(texts),
    scheduled_provisioning=optional(scheduled_sms),
)
voice = st.builds(
    VoiceConfiguration,
    app_id=optional(texts),
    last_updated_time=optional(datetimes),
    scheduled_voice_provisioning=optional(scheduled_voice),
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
    SmsConfiguration: sms,
    VoiceConfiguration: voice,
    AvailableNumber: available_numbers,
    ActiveNumber: active_numbers,
    AvailableRegion: regions,
    CallbackConfiguration: callback_configurations,
    Page: pages,
}
