"""Typed values sent to and received from the Numbers API.

Every model is a frozen, slotted attrs class whose attributes are the spec's field names in
snake_case. Every attribute but a number's ``phone_number`` (its identity) is optional
(``None`` when the server left it out): the API adds and drops fields over time and a client
must keep working (see [the API facts](../api-facts.md)).

Enums are *open*: a value the server sends that this version does not know is kept as a
pseudo-member (``NumberType("SHORT_CODE").value == "SHORT_CODE"``) instead of failing the
whole response. Arguments, on the other hand, are checked against the known members: a
member or its string value, typed as the enum or its ``...Name`` literal alias
(``NumberType | NumberTypeName``), so a type checker flags ``"local"`` or ``"CELL"``. A
value newer than this version is sent when it is given as a pseudo-member,
``NumberType("SHORT_CODE")``: that spelling says it is meant, where a plain string that is
not a known value is refused as a likely typo
([API facts: enum values in arguments](../api-facts.md#enum-values-in-arguments)).

A number's voice configuration is one class per voice type
([`RtcVoiceConfiguration`][numbers_async.models.RtcVoiceConfiguration],
[`EstVoiceConfiguration`][numbers_async.models.EstVoiceConfiguration],
[`FaxVoiceConfiguration`][numbers_async.models.FaxVoiceConfiguration],
[`UnknownVoiceConfiguration`][numbers_async.models.UnknownVoiceConfiguration]), all a
[`VoiceConfiguration`][numbers_async.models.VoiceConfiguration]; the same for
[`ScheduledVoiceProvisioning`][numbers_async.models.ScheduledVoiceProvisioning]
([Voice and emergency addresses](../guides/voice.md)).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from numbers_async._enums import ProvisioningStatus, _OpenEnum
from numbers_async._voice import (
    EstScheduledVoiceProvisioning,
    EstVoiceConfiguration,
    FaxScheduledVoiceProvisioning,
    FaxVoiceConfiguration,
    RtcScheduledVoiceProvisioning,
    RtcVoiceConfiguration,
    ScheduledVoiceProvisioning,
    UnknownScheduledVoiceProvisioning,
    UnknownVoiceConfiguration,
    VoiceConfiguration,
)

__all__ = [
    "ActiveNumber",
    "AddressValidation",
    "AddressValidationResult",
    "AvailableNumber",
    "AvailableRegion",
    "CallbackConfiguration",
    "Capability",
    "CapabilityName",
    "EmergencyAddress",
    "EstScheduledVoiceProvisioning",
    "EstVoiceConfiguration",
    "FaxScheduledVoiceProvisioning",
    "FaxVoiceConfiguration",
    "Money",
    "NumberType",
    "NumberTypeName",
    "Page",
    "ProvisioningStatus",
    "RtcScheduledVoiceProvisioning",
    "RtcVoiceConfiguration",
    "ScheduledSmsProvisioning",
    "ScheduledVoiceProvisioning",
    "SearchPattern",
    "SearchPatternName",
    "SmsConfiguration",
    "SmsErrorCode",
    "UnknownScheduledVoiceProvisioning",
    "UnknownVoiceConfiguration",
    "VoiceConfiguration",
]


class NumberType(_OpenEnum):
    """The kind of phone number."""

    MOBILE = "MOBILE"
    """A mobile number (SMS and usually voice)."""

    LOCAL = "LOCAL"
    """A geographic (local) number. Renting works for US ``LOCAL`` numbers only."""

    TOLL_FREE = "TOLL_FREE"
    """A toll-free number."""


NumberTypeName = Literal["MOBILE", "LOCAL", "TOLL_FREE"]
"""The string values of the known ``NumberType`` members, for type checkers."""


class Capability(_OpenEnum):
    """What a number can be used for."""

    SMS = "SMS"
    """The number can send and receive SMS."""

    VOICE = "VOICE"
    """The number can make and receive calls."""


CapabilityName = Literal["SMS", "VOICE"]
"""The string values of the known ``Capability`` members, for type checkers."""


class SearchPattern(_OpenEnum):
    """Where ``pattern`` must occur in a number."""

    START = "START"
    """``pattern`` is a prefix of the number, usually starting with ``+`` (``+1206``)."""

    CONTAINS = "CONTAINS"
    """``pattern`` occurs anywhere in the number."""

    END = "END"
    """``pattern`` is a suffix of the number."""


SearchPatternName = Literal["START", "CONTAINS", "END"]
"""The string values of the known ``SearchPattern`` members, for type checkers."""


class SmsErrorCode(_OpenEnum):
    """Why a scheduled SMS provisioning failed (`ScheduledSmsProvisioning.error_codes`).

    The 18 codes the API's 1.0.3 description lists; a newer one arrives as a pseudo-member
    (`SmsErrorCode.is_known(code)` tells them apart). As a `str`, each compares equal to
    its value: `code == "SMS_PROVISIONING_FAILED"` still works.
    """

    ERROR_CODE_UNSPECIFIED = "ERROR_CODE_UNSPECIFIED"
    """No code given (the zero value of the API's enum)."""
    INTERNAL_ERROR = "INTERNAL_ERROR"
    """An error inside Sinch; its support can say more."""
    SMS_PROVISIONING_FAILED = "SMS_PROVISIONING_FAILED"
    """The number could not be added to the SMS service plan."""
    CAMPAIGN_PROVISIONING_FAILED = "CAMPAIGN_PROVISIONING_FAILED"
    """The 10DLC campaign could not be provisioned."""
    CAMPAIGN_NOT_AVAILABLE = "CAMPAIGN_NOT_AVAILABLE"
    """The campaign is not available from the campaign registry (TCR)."""
    EXCEEDED_10DLC_LIMIT = "EXCEEDED_10DLC_LIMIT"
    """The campaign has as many numbers as 10DLC allows."""
    NUMBER_PROVISIONING_FAILED = "NUMBER_PROVISIONING_FAILED"
    """The number could not be provisioned to the campaign."""
    PARTNER_SERVICE_UNAVAILABLE = "PARTNER_SERVICE_UNAVAILABLE"
    """A partner service did not answer; a later try may work."""
    CAMPAIGN_PENDING_ACCEPTANCE = "CAMPAIGN_PENDING_ACCEPTANCE"
    """The campaign is not accepted yet."""
    MNO_SHARING_ERROR = "MNO_SHARING_ERROR"
    """The campaign could not be shared with the mobile network operators."""
    CAMPAIGN_EXPIRED = "CAMPAIGN_EXPIRED"
    """The campaign has expired."""
    CAMPAIGN_MNO_REJECTED = "CAMPAIGN_MNO_REJECTED"
    """A mobile network operator rejected the campaign."""
    CAMPAIGN_MNO_SUSPENDED = "CAMPAIGN_MNO_SUSPENDED"
    """A mobile network operator suspended the campaign."""
    CAMPAIGN_MNO_REVIEW = "CAMPAIGN_MNO_REVIEW"
    """The campaign is under review by a mobile network operator."""
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    """The account's balance does not cover the fees."""
    MOCK_CAMPAIGN_NOT_ALLOWED = "MOCK_CAMPAIGN_NOT_ALLOWED"
    """A mock (test) campaign cannot be used."""
    TFN_NOT_ALLOWED = "TFN_NOT_ALLOWED"
    """A toll-free number cannot be linked to a 10DLC campaign."""
    INVALID_NNID = "INVALID_NNID"
    """The campaign's network node id (NNID) is invalid."""


@attrs.frozen
class Money:
    """An amount of money; ``amount`` is exact (the API sends a decimal string)."""

    currency_code: str | None = None
    """ISO 4217 currency code, e.g. ``"USD"`` (wire: ``currencyCode``); ``None`` when not sent."""

    amount: Decimal | None = None
    """The exact amount, e.g. ``Decimal("2.00")`` (wire: ``amount``, a decimal string); ``None``
    when not sent.
    """


@attrs.frozen
class ScheduledSmsProvisioning:
    """SMS settings still being applied after a rent or update (``status`` says how far)."""

    service_plan_id: str | None = None
    """The SMS service plan being linked; ``""`` when unlinking (wire: ``servicePlanId``). ``None``
    when the server leaves it out.
    """

    campaign_id: str | None = None
    """The 10DLC campaign being linked, ``""`` when none (wire: ``campaignId``). ``None`` when the
    server leaves it out.
    """

    status: ProvisioningStatus | None = None
    """How far the change is: ``WAITING``, ``IN_PROGRESS`` or ``FAILED`` (wire: ``status``).
    ``None`` when the server leaves it out.
    """

    last_updated_time: datetime | None = None
    """When the status last changed, timezone-aware UTC (wire: ``lastUpdatedTime``). ``None`` when
    the server leaves it out.
    """

    error_codes: tuple[SmsErrorCode, ...] | None = None
    """Why a ``FAILED`` provisioning failed, e.g. ``(SmsErrorCode.SMS_PROVISIONING_FAILED,)``;
    empty otherwise (wire: ``errorCodes``). Codes newer than this version are kept as
    pseudo-members. ``None`` when the server leaves it out.
    """


@attrs.frozen
class SmsConfiguration:
    """SMS settings of a number; pass it as ``sms=`` to rent or update.

    An empty string is sent as ``""``, which unlinks the number from its service plan or
    campaign; ``None`` leaves the field out of the request. A request must name the
    service plan (``service_plan_id``, ``""`` included): the API refuses an SMS
    configuration without it, so ``SmsConfiguration(campaign_id="X")`` alone raises
    ``InvalidInputError`` before anything is sent. ``scheduled_provisioning`` is
    read-only and never sent.
    """

    service_plan_id: str | None = None
    """The SMS service plan the number is linked to, ``""`` when none (wire: ``servicePlanId``).
    Right after a rent or update the requested plan is in ``scheduled_provisioning`` instead.
    ``None`` when the server leaves it out.
    """

    campaign_id: str | None = None
    """The 10DLC campaign (US) the number is linked to, ``""`` when none (wire: ``campaignId``).
    ``None`` when the server leaves it out.
    """

    scheduled_provisioning: ScheduledSmsProvisioning | None = None
    """The SMS change still being applied (wire: ``scheduledProvisioning``); ``None`` once it is
    done or when nothing was requested. Read-only.
    """


@attrs.frozen
class AvailableNumber:
    """A number that can be rented, with its prices."""

    phone_number: str
    """The number in E.164 form with its ``+``, e.g. ``"+12065550100"`` (wire: ``phoneNumber``);
    always present.
    """

    region_code: str | None = None
    """ISO 3166-1 alpha-2 region code, e.g. ``"US"`` (wire: ``regionCode``). ``None`` when the
    server leaves it out.
    """

    type: NumberType | None = None
    """The kind of number (wire: ``type``). ``None`` when the server leaves it out."""

    capability: tuple[Capability, ...] | None = None
    """What the number can do, e.g. ``(Capability.SMS, Capability.VOICE)`` (wire: ``capability``).
    ``None`` when the server leaves it out.
    """

    setup_price: Money | None = None
    """Charged once when the number is rented (wire: ``setupPrice``). ``None`` when the server
    leaves it out.
    """

    monthly_price: Money | None = None
    """Charged every payment interval while the number is rented (wire: ``monthlyPrice``). ``None``
    when the server leaves it out.
    """

    payment_interval_months: int | None = None
    """How many months one payment covers (wire: ``paymentIntervalMonths``). ``None`` when the
    server leaves it out.
    """

    supporting_documentation_required: bool | None = None
    """Whether renting needs documents sent to Sinch first (wire:
    ``supportingDocumentationRequired``). ``None`` when the server leaves it out.
    """


@attrs.frozen
class ActiveNumber:
    """A number the project has rented."""

    phone_number: str
    """The number in E.164 form with its ``+`` (wire: ``phoneNumber``); always present, the
    number's identity.
    """

    project_id: str | None = None
    """The Sinch project that rents the number (wire: ``projectId``). ``None`` when the server
    leaves it out.
    """

    display_name: str | None = None
    """Your own label for the number, set with ``update`` (wire: ``displayName``); ``None`` or
    ``""`` when never set.
    """

    region_code: str | None = None
    """ISO 3166-1 alpha-2 region code, e.g. ``"US"`` (wire: ``regionCode``). ``None`` when the
    server leaves it out.
    """

    type: NumberType | None = None
    """The kind of number (wire: ``type``). ``None`` when the server leaves it out."""

    capability: tuple[Capability, ...] | None = None
    """What the number can do (wire: ``capability``). ``None`` when the server leaves it out."""

    money: Money | None = None
    """What each payment interval costs (wire: ``money``). ``None`` when the server leaves it out.
    """

    payment_interval_months: int | None = None
    """How many months one payment covers (wire: ``paymentIntervalMonths``). ``None`` when the
    server leaves it out.
    """

    next_charge_date: datetime | None = None
    """When the project is next charged for the number, timezone-aware UTC (wire:
    ``nextChargeDate``). ``None`` when the server leaves it out.
    """

    expire_at: datetime | None = None
    """When a released number leaves the project, timezone-aware UTC (wire: ``expireAt``); ``None``
    while the number is not released.
    """

    sms_configuration: SmsConfiguration | None = None
    """The number's SMS settings (wire: ``smsConfiguration``). ``None`` when the server leaves it
    out.
    """

    voice_configuration: VoiceConfiguration | None = None
    """The number's Voice settings (wire: ``voiceConfiguration``): an ``RtcVoiceConfiguration``,
    ``EstVoiceConfiguration``, ``FaxVoiceConfiguration`` or ``UnknownVoiceConfiguration``
    by its ``type``. ``None`` when the server leaves it out.
    """

    callback_url: str | None = None
    """Where Sinch POSTs this number's events (wire: ``callbackUrl``); ``None`` or ``""`` when not
    set.
    """


@attrs.frozen
class AvailableRegion:
    """A region in which numbers are offered, and the number types offered there."""

    region_code: str | None = None
    """ISO 3166-1 alpha-2 region code, e.g. ``"US"`` (wire: ``regionCode``). ``None`` when the
    server leaves it out.
    """

    region_name: str | None = None
    """The region's name in English, e.g. ``"United States"`` (wire: ``regionName``). ``None`` when
    the server leaves it out.
    """

    types: tuple[NumberType, ...] | None = None
    """The number types offered in the region (wire: ``types``). ``None`` when the server leaves it
    out.
    """


def _mask(secret: str | None) -> str:
    return "None" if secret is None else "'***'"


@attrs.frozen
class CallbackConfiguration:
    """The project's callback settings; ``hmac_secret`` signs every event (never shown in repr)."""

    project_id: str | None = None
    """The Sinch project (wire: ``projectId``). ``None`` when the server leaves it out."""

    hmac_secret: str | None = attrs.field(default=None, repr=_mask)
    """The secret that signs every event POSTed to a ``callback_url`` (wire: ``hmacSecret``); 32 to
    64 characters of ``a-zA-Z0-9-``. Never shown in ``repr``; ``None`` or ``""`` when no secret is
    set.
    """


@attrs.frozen
class Page:
    """One page of ``active_numbers.list``.

    ``next_page_token`` is ``None`` on the last page (the API sends ``""`` or nothing);
    pass it as ``page_token=`` to resume a listing. ``total_size`` counts all pages.
    """

    items: tuple[ActiveNumber, ...] = ()
    """The numbers on this page, in the order the API sent them (wire: ``activeNumbers``); empty
    when there are none.
    """

    next_page_token: str | None = None
    """Pass as ``page_token=`` to get the next page (wire: ``nextPageToken``); ``None`` on the last
    page, where the API sends ``""`` or nothing.
    """

    total_size: int | None = None
    """How many numbers match across all pages (wire: ``totalSize``); ``None`` when not sent."""


# --- emergency addresses -----------------------------------------------------------------------

# Defined in ``_addresses`` and imported when first used (``__getattr__``): most programs
# never manage an emergency address, and ``import numbers_async`` stays lean (B7).
if TYPE_CHECKING:
    # The API reference lists them in the order of this import: the order they are defined in.
    # isort: off
    from numbers_async._addresses import (
        EmergencyAddress,
        AddressValidationResult,
        AddressValidation,
    )
    # isort: on

_LAZY: Final = frozenset({"AddressValidation", "AddressValidationResult", "EmergencyAddress"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from numbers_async import _addresses

        value = getattr(_addresses, name)
        globals()[name] = value  # from now on an attribute like any other
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
