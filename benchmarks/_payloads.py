"""Wire bodies the benchmarks serve and decode: the documented Numbers API shapes.

A listing page holds 100 active numbers of one *shape* (``SHAPES``), each taken from the
OpenAPI description (``ActiveNumberResponse``) and from what the API is documented to send
(docs/api-facts.md#rent-update-and-provisioning):

- ``settled``: every field present, no provisioning in flight (``scheduledProvisioning:
  null``, no ``scheduledVoiceProvisioning``);
- ``provisioning``: right after a rent or update, the requested settings still in SMS
  ``scheduledProvisioning`` and voice ``scheduledVoiceProvisioning`` objects (status,
  ``lastUpdatedTime``, ``campaignId``, ``errorCodes``); a third of them failed, with error
  codes, and the top-level ``servicePlanId``/``appId`` are still empty;
- ``minimal``: only ``phoneNumber`` (the one field a number always has);
- ``unknown``: settled numbers carrying fields this client does not know and enum values
  it does not know (a new number type, capability and provisioning status);
- ``est_fax``: the ``provisioning`` shape on the other voice types: half the numbers on an
  Elastic SIP Trunk (``EST``, ``trunkId``) moving to a Fax service (``FAX``,
  ``serviceId``), half the other way, each voice object with the API's three ids
  (docs/api-facts.md#the-api-beyond-the-10-spec); the same objects and timestamps as
  ``provisioning``, so the two compare the cost of the voice types;
- ``mixed``: a realistic blend: mostly settled, some in flight, some minimal, some with
  unknown fields, timestamps with 0, 3 and 6 fractional digits (unchanged since the
  reference run, so that its figures stay comparable).

Every number has its own timestamps (numbers rented at different moments), so no decoder
can reuse one number's parsed timestamp for the next.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

PROJECT_ID = "51bc3f40-f266-4ca8-8938-a1ed0ff32b9a"
KEY_ID = "bench-key-id"
KEY_SECRET = "bench-key-secret"  # noqa: S105 - the loopback server's dummy key
ACCESS_TOKEN = "bench-access-token"  # noqa: S105 - ditto
SERVICE_PLAN_ID = "f4b1c2d3e5a64b7c8d9e0f1a2b3c4d5e"
APP_ID = "8f3c2a1b-4d5e-6f70-8192-a3b4c5d6e7f8"


def phone_number(index: int) -> str:
    """The ``index``-th benchmark number, E.164: ``+1202`` and seven digits."""
    return f"+1202{index:07d}"


def _timestamp(day: str, index: int, digits: int = 6) -> str:
    clock = f"{day}T{index // 3600 % 24:02d}:{index // 60 % 60:02d}:{index % 60:02d}"
    if digits:
        clock += "." + f"{index:06d}"[-digits:]
    return clock + "Z"


def settled(index: int, *, digits: int = 6) -> dict[str, Any]:
    """A number whose settings are applied (same price and plans, its own timestamps)."""
    return {
        "phoneNumber": phone_number(index),
        "projectId": PROJECT_ID,
        "displayName": f"Support line {index}",
        "regionCode": "US",
        "type": "LOCAL",
        "capability": ["SMS", "VOICE"],
        "money": {"currencyCode": "USD", "amount": "2.00"},
        "paymentIntervalMonths": 1,
        "nextChargeDate": _timestamp("2026-07-06", index, digits),
        "expireAt": None,
        "smsConfiguration": {
            "servicePlanId": SERVICE_PLAN_ID,
            "campaignId": "",
            "scheduledProvisioning": None,
        },
        "voiceConfiguration": {
            "type": "RTC",
            "appId": APP_ID,
            "trunkId": "",
            "serviceId": "",
            "lastUpdatedTime": _timestamp("2026-06-06", index, digits),
            "scheduledVoiceProvisioning": None,
        },
        "callbackUrl": "https://callbacks.example.com/numbers",
    }


def provisioning(index: int, *, digits: int = 6) -> dict[str, Any]:
    """A number just rented or updated: SMS and voice provisioning in flight.

    Every third one failed (``FAILED`` with error codes), the others wait or run.
    """
    number = settled(index, digits=digits)
    failed = index % 3 == 0
    status = "FAILED" if failed else ("WAITING" if index % 3 == 1 else "IN_PROGRESS")
    number["smsConfiguration"] = {
        "servicePlanId": "",
        "campaignId": "",
        "scheduledProvisioning": {
            "servicePlanId": SERVICE_PLAN_ID,
            "campaignId": f"CAMP{index % 7}",
            "status": status,
            "lastUpdatedTime": _timestamp("2026-06-06", index, digits),
            "errorCodes": ["SMS_PROVISIONING_FAILED", "CAMPAIGN_NOT_AVAILABLE"] if failed else [],
        },
    }
    number["voiceConfiguration"] = {
        "type": "RTC",
        "appId": "",
        "trunkId": "",
        "serviceId": "",
        "lastUpdatedTime": None,
        "scheduledVoiceProvisioning": {
            "type": "RTC",
            "appId": APP_ID,
            "status": status,
            "lastUpdatedTime": _timestamp("2026-06-07", index, digits),
        },
    }
    return number


TRUNK_ID = "c0ffee00-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
FAX_SERVICE_ID = "fa11fa11-2b3c-4d5e-9f0a-1b2c3d4e5f60"


def est_fax(index: int, *, digits: int = 6) -> dict[str, Any]:
    """``provisioning``, on a SIP trunk moving to fax (even) or fax moving to a trunk (odd)."""
    number = provisioning(index, digits=digits)
    now, then = ("EST", "FAX") if index % 2 == 0 else ("FAX", "EST")
    ids = {"EST": ("trunkId", TRUNK_ID), "FAX": ("serviceId", FAX_SERVICE_ID)}
    scheduled = number["voiceConfiguration"]["scheduledVoiceProvisioning"]
    number["voiceConfiguration"] = {
        "type": now,
        "appId": "",
        "trunkId": "",
        "serviceId": "",
        "lastUpdatedTime": _timestamp("2026-06-05", index, digits),
        "scheduledVoiceProvisioning": {
            "type": then,
            "appId": "",
            "trunkId": "",
            "serviceId": "",
            "status": scheduled["status"],
            "lastUpdatedTime": scheduled["lastUpdatedTime"],
        },
    }
    number["voiceConfiguration"][ids[now][0]] = ids[now][1]
    number["voiceConfiguration"]["scheduledVoiceProvisioning"][ids[then][0]] = ids[then][1]
    return number


def minimal(index: int) -> dict[str, Any]:
    """Only the field every number has."""
    return {"phoneNumber": phone_number(index)}


def unknown(index: int) -> dict[str, Any]:
    """A settled number with fields and enum values this client does not know."""
    number = settled(index)
    number["type"] = "SHORT_CODE"
    number["capability"] = ["SMS", "VOICE", "RCS"]
    number["numberingPlan"] = {"id": f"plan-{index % 5}", "tier": "STANDARD"}
    number["tags"] = ["support", f"team-{index % 4}"]
    number["smsConfiguration"]["scheduledProvisioning"] = {
        "servicePlanId": SERVICE_PLAN_ID,
        "status": "PENDING_REVIEW",
        "lastUpdatedTime": _timestamp("2026-06-06", index),
        "errorCodes": [],
        "reviewId": f"r{index}",
    }
    number["voiceConfiguration"]["emergencyAddressId"] = None
    return number


def mixed(index: int) -> dict[str, Any]:
    """A realistic blend: 60% settled, 20% in flight, 10% minimal, 10% unknown fields."""
    slot = index % 10
    digits = (6, 3, 0)[index % 3]
    if slot < 6:
        return settled(index, digits=digits)
    if slot < 8:
        return provisioning(index, digits=digits)
    if slot == 8:
        return minimal(index)
    return unknown(index)


SHAPES: dict[str, Callable[[int], dict[str, Any]]] = {
    "settled": settled,
    "provisioning": provisioning,
    "minimal": minimal,
    "unknown": unknown,
    "est_fax": est_fax,
    "mixed": mixed,
}


def active_number(index: int, shape: str = "settled") -> dict[str, Any]:
    """One active number of ``shape`` as the API sends it."""
    return SHAPES[shape](index)


def dumps(value: Any) -> bytes:
    """Compact JSON, as a server sends it."""
    return json.dumps(value, separators=(",", ":")).encode()


def active_number_body(index: int = 0, shape: str = "settled") -> bytes:
    """The body of ``GET activeNumbers/{phone}``."""
    return dumps(active_number(index, shape))


def page_body(page: int, *, pages: int, page_size: int, shape: str = "settled") -> bytes:
    """Page ``page`` (from 0) of a listing of ``pages * page_size`` numbers of ``shape``.

    The token of page *k* is ``"p{k}"``; the last page says ``"nextPageToken": ""``.
    """
    first = page * page_size
    items = [active_number(first + offset, shape) for offset in range(page_size)]
    token = f"p{page + 1}" if page + 1 < pages else ""
    return dumps({"activeNumbers": items, "nextPageToken": token, "totalSize": pages * page_size})


def token_body() -> bytes:
    """The OAuth2 token endpoint's answer (with every field the official SDK reads)."""
    return dumps(
        {
            "access_token": ACCESS_TOKEN,
            "expires_in": 3599,
            "scope": "",
            "token_type": "bearer",
        }
    )
