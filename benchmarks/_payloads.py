"""Wire bodies the benchmarks serve and decode: the documented Numbers API shapes.

One active number looks like what ``GET activeNumbers`` returns for a settled number
(the OpenAPI ``ActiveNumberResponse``; docs/api-facts.md#rent-update-and-provisioning):
every field present, no scheduled provisioning in flight. Pages differ only in their phone
numbers and ``nextPageToken``.
"""

from __future__ import annotations

import json
from typing import Any

PROJECT_ID = "51bc3f40-f266-4ca8-8938-a1ed0ff32b9a"
KEY_ID = "bench-key-id"
KEY_SECRET = "bench-key-secret"  # noqa: S105 - the loopback server's dummy key
ACCESS_TOKEN = "bench-access-token"  # noqa: S105 - ditto


def phone_number(index: int) -> str:
    """The ``index``-th benchmark number, E.164: ``+1202`` and seven digits."""
    return f"+1202{index:07d}"


def _timestamp(day: str, index: int) -> str:
    # Numbers rented at different moments: every number's timestamps differ, so no decoder
    # can reuse one number's parsed timestamp for the next.
    return f"{day}T{index // 3600 % 24:02d}:{index // 60 % 60:02d}:{index % 60:02d}.{index:06d}Z"


def active_number(index: int) -> dict[str, Any]:
    """One active number as the API sends it (same price and plans, its own timestamps)."""
    return {
        "phoneNumber": phone_number(index),
        "projectId": PROJECT_ID,
        "displayName": f"Support line {index}",
        "regionCode": "US",
        "type": "LOCAL",
        "capability": ["SMS", "VOICE"],
        "money": {"currencyCode": "USD", "amount": "2.00"},
        "paymentIntervalMonths": 1,
        "nextChargeDate": _timestamp("2026-07-06", index),
        "expireAt": None,
        "smsConfiguration": {
            "servicePlanId": "f4b1c2d3e5a64b7c8d9e0f1a2b3c4d5e",
            "campaignId": "",
            "scheduledProvisioning": None,
        },
        "voiceConfiguration": {
            "type": "RTC",
            "appId": "8f3c2a1b-4d5e-6f70-8192-a3b4c5d6e7f8",
            "trunkId": "",
            "serviceId": "",
            "lastUpdatedTime": _timestamp("2026-06-06", index),
            "scheduledVoiceProvisioning": None,
        },
        "callbackUrl": "https://callbacks.example.com/numbers",
    }


def dumps(value: Any) -> bytes:
    """Compact JSON, as a server sends it."""
    return json.dumps(value, separators=(",", ":")).encode()


def active_number_body(index: int = 0) -> bytes:
    """The body of ``GET activeNumbers/{phone}``."""
    return dumps(active_number(index))


def page_body(page: int, *, pages: int, page_size: int) -> bytes:
    """Page ``page`` (from 0) of a listing of ``pages * page_size`` numbers.

    The token of page *k* is ``"p{k}"``; the last page says ``"nextPageToken": ""``.
    """
    first = page * page_size
    items = [active_number(first + offset) for offset in range(page_size)]
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
