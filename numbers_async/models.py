"""Typed values sent to and received from the Numbers API.

Every model is a frozen, slotted attrs class whose attributes are the spec's field names in
snake_case. Every attribute but a number's ``phone_number`` (its identity) is optional
(``None`` when the server left it out): the API adds and drops fields over time and a client
must keep working (DESIGN §2 "Models").

Enums are *open*: a value the server sends that this version does not know is kept as a
pseudo-member (``NumberType("SHORT_CODE").value == "SHORT_CODE"``) instead of failing the
whole response. Arguments, on the other hand, are checked against the known members: a
member or its string value, typed as the enum or its ``...Name`` literal alias
(``NumberType | NumberTypeName``), so a type checker flags ``"local"`` or ``"CELL"``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Literal

import attrs

__all__ = [
    "ActiveNumber",
    "AvailableNumber",
    "AvailableRegion",
    "CallbackConfiguration",
    "Capability",
    "CapabilityName",
    "Money",
    "NumberType",
    "NumberTypeName",
    "Page",
    "ProvisioningStatus",
    "ScheduledSmsProvisioning",
    "ScheduledVoiceProvisioning",
    "SearchPattern",
    "SearchPatternName",
    "SmsConfiguration",
    "VoiceConfiguration",
]


class _OpenEnum(str, enum.Enum):
    """A string enum that keeps values it does not know instead of raising."""

    @classmethod
    def _missing_(cls, value: object) -> _OpenEnum | None:
        if not isinstance(value, str):
            return None
        # A pseudo-member, built the way enum builds real ones but not registered, so that
        # is_known() stays False for it and the class's member list never grows.
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @classmethod
    def is_known(cls, value: object) -> bool:
        """Whether ``value`` (a member or a string) is one of the documented members."""
        return isinstance(value, str) and value in cls._value2member_map_

    def __str__(self) -> str:
        return str(self.value)


class NumberType(_OpenEnum):
    """The kind of phone number."""

    MOBILE = "MOBILE"
    LOCAL = "LOCAL"
    TOLL_FREE = "TOLL_FREE"


NumberTypeName = Literal["MOBILE", "LOCAL", "TOLL_FREE"]
"""The string values of the known ``NumberType`` members, for type checkers."""


class Capability(_OpenEnum):
    """What a number can be used for."""

    SMS = "SMS"
    VOICE = "VOICE"


CapabilityName = Literal["SMS", "VOICE"]
"""The string values of the known ``Capability`` members, for type checkers."""


class SearchPattern(_OpenEnum):
    """Where ``pattern`` must occur in a number."""

    START = "START"
    CONTAINS = "CONTAINS"
    END = "END"


SearchPatternName = Literal["START", "CONTAINS", "END"]
"""The string values of the known ``SearchPattern`` members, for type checkers."""


class ProvisioningStatus(_OpenEnum):
    """State of a scheduled SMS or Voice provisioning task."""

    WAITING = "WAITING"
    IN_PROGRESS = "IN_PROGRESS"
    FAILED = "FAILED"


@attrs.frozen
class Money:
    """An amount of money; ``amount`` is exact (the API sends a decimal string)."""

    currency_code: str | None = None
    amount: Decimal | None = None


@attrs.frozen
class ScheduledSmsProvisioning:
    """SMS settings still being applied after a rent or update (``status`` says how far)."""

    service_plan_id: str | None = None
    campaign_id: str | None = None
    status: ProvisioningStatus | None = None
    last_updated_time: datetime | None = None
    error_codes: tuple[str, ...] | None = None


@attrs.frozen
class ScheduledVoiceProvisioning:
    """Voice settings still being applied after a rent or update."""

    app_id: str | None = None
    status: ProvisioningStatus | None = None
    last_updated_time: datetime | None = None


@attrs.frozen
class SmsConfiguration:
    """SMS settings of a number; pass it as ``sms=`` to rent or update.

    An empty string is sent as ``""``, which unlinks the number from its service plan or
    campaign; ``None`` leaves the field out of the request. ``scheduled_provisioning`` is
    read-only and never sent.
    """

    service_plan_id: str | None = None
    campaign_id: str | None = None
    scheduled_provisioning: ScheduledSmsProvisioning | None = None


@attrs.frozen
class VoiceConfiguration:
    """Voice settings of a number; pass it as ``voice=`` to rent or update.

    ``last_updated_time`` and ``scheduled_voice_provisioning`` are read-only and never sent.
    """

    app_id: str | None = None
    last_updated_time: datetime | None = None
    scheduled_voice_provisioning: ScheduledVoiceProvisioning | None = None


@attrs.frozen
class AvailableNumber:
    """A number that can be rented, with its prices."""

    phone_number: str
    region_code: str | None = None
    type: NumberType | None = None
    capability: tuple[Capability, ...] | None = None
    setup_price: Money | None = None
    monthly_price: Money | None = None
    payment_interval_months: int | None = None
    supporting_documentation_required: bool | None = None


@attrs.frozen
class ActiveNumber:
    """A number the project has rented."""

    phone_number: str
    project_id: str | None = None
    display_name: str | None = None
    region_code: str | None = None
    type: NumberType | None = None
    capability: tuple[Capability, ...] | None = None
    money: Money | None = None
    payment_interval_months: int | None = None
    next_charge_date: datetime | None = None
    expire_at: datetime | None = None
    sms_configuration: SmsConfiguration | None = None
    voice_configuration: VoiceConfiguration | None = None
    callback_url: str | None = None


@attrs.frozen
class AvailableRegion:
    """A region in which numbers are offered, and the number types offered there."""

    region_code: str | None = None
    region_name: str | None = None
    types: tuple[NumberType, ...] | None = None


def _mask(secret: str | None) -> str:
    return "None" if secret is None else "'***'"


@attrs.frozen
class CallbackConfiguration:
    """The project's callback settings; ``hmac_secret`` signs every event (never shown in repr)."""

    project_id: str | None = None
    hmac_secret: str | None = attrs.field(default=None, repr=_mask)


@attrs.frozen
class Page:
    """One page of ``active_numbers.list``.

    ``next_page_token`` is ``None`` on the last page (the API sends ``""`` or nothing);
    pass it as ``page_token=`` to resume a listing. ``total_size`` counts all pages.
    """

    items: tuple[ActiveNumber, ...] = ()
    next_page_token: str | None = None
    total_size: int | None = None
