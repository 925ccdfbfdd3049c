"""The fake's Number Order API: requirements, orders and their registrations (pure).

Modelled on the Numbers API reference 1.0.3 and its generated classes
(docs/api-facts.md#the-number-order-api): the paths, the members of a ``NumberOrder`` and
a ``Registration``, and the ``400`` error envelope are Sinch's. Sinch does not state the
rest, so the fake decides it, and its decisions are not a contract:

- Requirements exist for the regions and types whose numbers need supporting
  documentation (in the fake's inventory, ``DE`` ``LOCAL``); looking up any other pair
  answers ``404`` "Number requirements not found" (what a third party saw for US numbers).
  ``fields`` is the fake's own: each registration field by name, as
  ``{"required": true, "description": ...}``. ``quantityOrdersSupported`` is false.
- An order is for one available number of the region and type asked for
  (``numberOrderOption.phoneNumbers``: "max 1 number per order", the reference says);
  ``quantityOrderOption`` is refused. The number is reserved: it leaves the inventory.
- A registration's ``data`` holds every field of the requirements as a non-empty string,
  and nothing else, or the ``PUT`` is refused (``400`` naming each field); it replaces the
  data while the order is ``CREATED``.
- Submitting needs a ``CREATED`` order with its registration: it moves to ``IN_REVIEW``.
  Submitting again is refused (``400``), as is anything else in another state.
- ``FakeNumbersServer.review_number_order`` plays Sinch's review. Orders never expire, no
  event is sent, and attachments are not served.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final, cast

import attrs

from numbers_async._timestamps import format_datetime

from ._inventory import BUCKETS
from ._parsing import (
    _check_fields,
    _number_type,
    _object,
    _region_code,
    _sms,
    _string,
    _string_list,
    _voice,
    parse_object,
)
from ._wire import ApiFailure, Json, envelope, invalid_argument

__all__ = [
    "NUMBER_ORDER",
    "REQUIREMENT_FIELDS",
    "RESERVATION",
    "OrderRequest",
    "check_open",
    "new_order",
    "parse_create_body",
    "parse_lookup_body",
    "parse_registration_body",
    "requirements",
    "reviewed",
    "submitted",
]

NUMBER_ORDER: Final = "sinch.numbers.v1.NumberOrder"
#: How long an order holds its number ("reserved the number for 48h", the reference says).
RESERVATION: Final = timedelta(hours=48)
#: The fields every registration of the fake needs (its own; Sinch's vary by country).
REQUIREMENT_FIELDS: Final[Mapping[str, str]] = {
    "businessName": "The registered name of the business.",
    "businessRegistrationNumber": "The business's number in the national register.",
    "contactEmail": "Where the regulator may write about this number.",
}
_CREATE_FIELDS: Final = (
    "regionCode",
    "numberType",
    "smsConfiguration",
    "voiceConfiguration",
    "callbackUrl",
    "numberOrderOption",
    "quantityOrderOption",
)
#: The (region, type) pairs whose numbers need an order: those needing documentation.
_REGULATED: Final = frozenset(
    (bucket.region_code, bucket.number_type) for bucket in BUCKETS if bucket.documentation_required
)


@attrs.frozen
class OrderRequest:
    """A validated ``createNumberOrder`` body."""

    region_code: str
    number_type: str
    phone_number: str
    sms: dict[str, str] | None
    voice: dict[str, str] | None


def _region_and_type(obj: Mapping[str, Any]) -> tuple[str, str]:
    # required=True: neither is None, or a 400 was raised
    region = cast(str, _region_code(_string(obj, "regionCode", ""), required=True))
    number_type = _number_type(_string(obj, "numberType", ""), "numberType", required=True)
    return region, cast(str, number_type)


def parse_lookup_body(body: bytes) -> tuple[str, str]:
    """``(regionCode, numberType)`` of a ``lookupNumberRequirements`` body."""
    obj = parse_object(body)
    _check_fields(obj, ("regionCode", "numberType"), "")
    return _region_and_type(obj)


def requirements(region_code: str, number_type: str) -> Json:
    """The ``NumberRequirements`` of a region and type; ``404`` where none are known."""
    if (region_code, number_type) not in _REGULATED:
        raise ApiFailure(404, envelope(404, "Number requirements not found"))
    fields = {
        name: {"required": True, "description": text} for name, text in REQUIREMENT_FIELDS.items()
    }
    return {"quantityOrdersSupported": False, "fields": fields}


def parse_create_body(body: bytes) -> OrderRequest:
    """A ``createNumberOrder`` body: the region, the type, one number, its configuration."""
    obj = parse_object(body)
    _check_fields(obj, _CREATE_FIELDS, "")
    region, number_type = _region_and_type(obj)
    requirements(region, number_type)  # 404 for a region and type that need no order
    if obj.get("quantityOrderOption") is not None:
        raise invalid_argument(
            "quantity_order_option",
            f"Quantity orders are not supported for {region} {number_type}: order a number "
            "with numberOrderOption",
        )
    option = _object(obj, "numberOrderOption", "number_order_option")
    if option is None:
        raise invalid_argument("number_order_option", "numberOrderOption is required")
    _check_fields(option, ("phoneNumbers",), "number_order_option")
    phones = _string_list(option, "phoneNumbers")
    if len(phones) != 1:
        raise invalid_argument(
            "number_order_option.phone_numbers",
            f"An order is for exactly one number (max 1 number per order), got {len(phones)}",
        )
    _string(obj, "callbackUrl", "")  # a string if given; a NumberOrder does not show it
    return OrderRequest(region, number_type, phones[0], _sms(obj), _voice(obj))


def new_order(
    order_id: str, project_id: str, request: OrderRequest, available: Json, now: datetime
) -> Json:
    """The ``NumberOrder`` a valid request for the available number ``available`` creates."""
    order: Json = {
        "projectId": project_id,
        "idNumberOrder": order_id,
        "regionCode": request.region_code,
        "numberType": request.number_type,
        "state": "CREATED",
        "orderNumbers": [
            {
                "phoneNumber": available["phoneNumber"],
                "numberPrice": {
                    "setupPrice": dict(available["setupPrice"]),
                    "monthlyPrice": dict(available["monthlyPrice"]),
                    "paymentIntervalMonths": available["paymentIntervalMonths"],
                },
                "capability": list(available["capability"]),
            }
        ],
        "expireTime": format_datetime(now + RESERVATION),
        "createTime": format_datetime(now),
        "updateTime": format_datetime(now),
    }
    if request.sms is not None:
        order["smsConfiguration"] = dict(request.sms)
    if request.voice is not None:
        order["voiceConfiguration"] = dict(request.voice)
    return order


def parse_registration_body(body: bytes) -> Json:
    """The ``data`` of an ``UpdateNumberOrderRegistrationRequest``: every field, and only them."""
    obj = parse_object(body)
    _check_fields(obj, ("data",), "")
    data = _object(obj, "data", "data")
    if data is None:
        raise invalid_argument("data", "data is required")
    violations = [
        {"field": f"data.{name}", "description": f"{name} is not a field of the requirements"}
        for name in data
        if name not in REQUIREMENT_FIELDS
    ]
    violations += [
        {"field": f"data.{name}", "description": f"{name} is required: a non-empty string"}
        for name in REQUIREMENT_FIELDS
        if not isinstance(data.get(name), str) or not data[name].strip()
    ]
    if violations:
        detail = {"type": "BadRequest", "fieldViolations": violations}
        raise ApiFailure(
            400, envelope(400, "The registration does not meet the requirements", [detail])
        )
    return dict(data)


def _in_state(order: Json, state: str, action: str) -> None:
    if order["state"] != state:
        raise invalid_argument(
            "number_order", f"Cannot {action} a number order in state {order['state']}"
        )


def check_open(order: Json) -> None:
    """Refuse to change the registration of an order no longer ``CREATED``."""
    _in_state(order, "CREATED", "update the registration of")


def submitted(order: Json, registered: bool, now: datetime) -> Json:
    """The order once submitted for review: ``IN_REVIEW``, if it was complete."""
    _in_state(order, "CREATED", "submit")
    if not registered:
        raise invalid_argument(
            "registration", "Submit the registration (PUT .../registration) before the order"
        )
    return {**order, "state": "IN_REVIEW", "updateTime": format_datetime(now)}


def reviewed(order: Json, approve: bool, now: datetime) -> Json:
    """The order once reviewed: ``COMPLETED``, or ``REJECTED``."""
    if order["state"] != "IN_REVIEW":
        raise ValueError(
            f"number order {order['idNumberOrder']} is {order['state']}, not IN_REVIEW"
        )
    state = "COMPLETED" if approve else "REJECTED"
    return {**order, "state": state, "updateTime": format_datetime(now)}
