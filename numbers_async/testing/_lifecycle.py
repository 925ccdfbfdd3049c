"""Pure transitions of an active number: rent, scheduled provisioning, release.

Each function takes wire-format dicts and returns new ones; the server decides when to
call them. The provisioning shapes are those of docs/api-facts.md#rent-update-and-provisioning:
a requested configuration first appears under ``scheduledProvisioning`` /
``scheduledVoiceProvisioning`` with status ``WAITING`` and only later moves up.
"""

from __future__ import annotations

import calendar
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from numbers_async._timestamps import format_datetime

from ._parsing import VOICE_IDS
from ._wire import Json


@attrs.frozen
class Outcome:
    """One finished provisioning step, before it becomes a callback event."""

    event_type: str
    status: str  # "SUCCEEDED" or "FAILED"
    failure_code: str | None = None


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, clamped to the end of a shorter month."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def activate(
    available: Mapping[str, Any], *, project_id: str, now: datetime, callback_url: str = ""
) -> Json:
    """The ``ActiveNumber`` a freshly rented available number becomes."""
    interval = int(available["paymentIntervalMonths"])
    return {
        "phoneNumber": available["phoneNumber"],
        "projectId": project_id,
        "displayName": "",
        "regionCode": available["regionCode"],
        "type": available["type"],
        "capability": list(available["capability"]),
        "money": dict(available["monthlyPrice"]),
        "paymentIntervalMonths": interval,
        "nextChargeDate": format_datetime(add_months(now, interval)),
        "smsConfiguration": {"servicePlanId": "", "campaignId": ""},
        "voiceConfiguration": {"type": "RTC", "appId": "", "trunkId": "", "serviceId": ""},
        "callbackUrl": callback_url,
    }


def schedule_sms(number: Mapping[str, Any], requested: Mapping[str, str], now: datetime) -> Json:
    """Put a requested SMS configuration under ``scheduledProvisioning`` (status WAITING).

    A field the request leaves out keeps its current value.
    """
    current = number["smsConfiguration"]
    scheduled = {
        "servicePlanId": requested.get("servicePlanId", current["servicePlanId"]),
        "campaignId": requested.get("campaignId", current["campaignId"]),
        "status": "WAITING",
        "lastUpdatedTime": format_datetime(now),
        "errorCodes": [],
    }
    sms = {
        "servicePlanId": current["servicePlanId"],
        "campaignId": current["campaignId"],
        "scheduledProvisioning": scheduled,
    }
    return {**number, "smsConfiguration": sms}


def schedule_voice(number: Mapping[str, Any], requested: Mapping[str, str], now: datetime) -> Json:
    """Put a requested voice type and id under ``scheduledVoiceProvisioning`` (WAITING).

    Like the API, it names all three ids, those of the other types empty.
    """
    kind = requested["type"]
    scheduled = {
        "type": kind,
        **{field: requested.get(field, "") for field in VOICE_IDS.values()},
        "status": "WAITING",
        "lastUpdatedTime": format_datetime(now),
    }
    current = number["voiceConfiguration"]
    voice = {key: value for key, value in current.items() if key != "scheduledVoiceProvisioning"}
    return {**number, "voiceConfiguration": {**voice, "scheduledVoiceProvisioning": scheduled}}


def voice_id(voice: Mapping[str, Any]) -> str:
    """The id a voice configuration is linked by, for its type (``""`` when unlinked)."""
    return str(voice.get(VOICE_IDS.get(voice.get("type", "RTC"), "appId"), ""))


def finish_provisioning(
    number: Mapping[str, Any], *, failed: bool, error_codes: Sequence[str], now: datetime
) -> tuple[Json, list[Outcome]]:
    """Complete (or fail) every WAITING scheduled provisioning of the number.

    Success moves the scheduled values up and removes the scheduled object; failure keeps
    the old values and marks the scheduled object ``FAILED`` (SMS: with ``error_codes``).
    """
    stamp = format_datetime(now)
    sms, sms_events = _finish_sms(number["smsConfiguration"], failed, error_codes, stamp)
    voice, voice_events = _finish_voice(number["voiceConfiguration"], failed, stamp)
    status = "FAILED" if failed else "SUCCEEDED"
    failure_code = error_codes[0] if failed and error_codes else None
    outcomes = [Outcome(t, status, failure_code) for t in sms_events + voice_events]
    return {**number, "smsConfiguration": sms, "voiceConfiguration": voice}, outcomes


def _finish_sms(
    sms: Json, failed: bool, error_codes: Sequence[str], stamp: str
) -> tuple[Json, list[str]]:
    scheduled = sms.get("scheduledProvisioning")
    if scheduled is None or scheduled["status"] != "WAITING":
        return sms, []
    event_types = _sms_event_types(sms, scheduled)
    if failed:
        marked = {**scheduled, "status": "FAILED", "lastUpdatedTime": stamp}
        marked["errorCodes"] = list(error_codes)
        return {**sms, "scheduledProvisioning": marked}, event_types
    applied = {"servicePlanId": scheduled["servicePlanId"], "campaignId": scheduled["campaignId"]}
    return applied, event_types


def _finish_voice(voice: Json, failed: bool, stamp: str) -> tuple[Json, list[str]]:
    scheduled = voice.get("scheduledVoiceProvisioning")
    if scheduled is None or scheduled["status"] != "WAITING":
        return voice, []
    event_types = [_voice_event_type(voice_id(scheduled))]
    if failed:
        marked = {**scheduled, "status": "FAILED", "lastUpdatedTime": stamp}
        return {**voice, "scheduledVoiceProvisioning": marked}, event_types
    applied = {k: v for k, v in voice.items() if k != "scheduledVoiceProvisioning"}
    applied["type"] = scheduled["type"]
    applied.update((field, scheduled[field]) for field in VOICE_IDS.values())
    return applied, event_types


def release(number: Mapping[str, Any]) -> Json:
    """The number as the release call returns it: paid up to its next charge date."""
    return {**number, "expireAt": number["nextChargeDate"]}


def deprovisioning(number: Mapping[str, Any]) -> list[Outcome]:
    """The events a release causes: one per configured SMS plan, campaign and voice app."""
    sms, voice = number["smsConfiguration"], number["voiceConfiguration"]
    event_types = []
    if sms["servicePlanId"]:
        event_types.append("DEPROVISIONING_FROM_SMS_PLATFORM")
    if sms["campaignId"]:
        event_types.append("DEPROVISIONING_FROM_CAMPAIGN")
    if voice_id(voice):
        event_types.append("DEPROVISIONING_FROM_VOICE_PLATFORM")
    return [Outcome(t, "SUCCEEDED") for t in event_types]


def _sms_event_types(current: Mapping[str, str], scheduled: Mapping[str, str]) -> list[str]:
    plan_changed = scheduled["servicePlanId"] != current["servicePlanId"]
    campaign_changed = scheduled["campaignId"] != current["campaignId"]
    event_types = []
    # A request that changes nothing still reports on the SMS platform, as a re-provision.
    if plan_changed or not campaign_changed:
        event_types.append(
            "PROVISIONING_TO_SMS_PLATFORM"
            if scheduled["servicePlanId"]
            else "DEPROVISIONING_FROM_SMS_PLATFORM"
        )
    if campaign_changed:
        event_types.append(
            "PROVISIONING_TO_CAMPAIGN"
            if scheduled["campaignId"]
            else "DEPROVISIONING_FROM_CAMPAIGN"
        )
    return event_types


def _voice_event_type(linked_id: str) -> str:
    # The 1.0 spec's "DEPROVISIONING_TO_VOICE_PLATFORM" is deprecated for this name
    # (docs/api-facts.md#the-api-beyond-the-10-spec).
    if linked_id:
        return "PROVISIONING_TO_VOICE_PLATFORM"
    return "DEPROVISIONING_FROM_VOICE_PLATFORM"


def callback_event(
    number: Mapping[str, Any], outcome: Outcome, *, project_id: str, now: datetime
) -> Json:
    """A ``CallbackPayload`` for ``outcome``, plus the ``callbackUrl`` it is meant for.

    ``timestamp`` has no zone and six fractional digits, like the real callbacks.
    """
    event: Json = {
        "eventId": secrets.token_hex(13),
        "timestamp": now.replace(tzinfo=None).isoformat(timespec="microseconds"),
        "projectId": project_id,
        "resourceId": number["phoneNumber"],
        "resourceType": "ACTIVE_NUMBER",
        "eventType": outcome.event_type,
        "status": outcome.status,
    }
    if outcome.failure_code is not None:
        event["failureCode"] = outcome.failure_code
    event["callbackUrl"] = number["callbackUrl"]
    return event
