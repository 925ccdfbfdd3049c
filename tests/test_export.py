"""The public export: any model as a dict or JSON, wire or Python names, secrets masked."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbers_async
from numbers_async import _convert, to_dict, to_json
from numbers_async.models import (
    ActiveNumber,
    CallbackConfiguration,
    Capability,
    Money,
    NumberType,
    Page,
    SmsConfiguration,
)

from .strategies import ALL_MODELS

NUMBER = ActiveNumber(
    phone_number="+12025550134",
    type=NumberType.LOCAL,
    capability=(Capability.SMS, Capability("RCS")),
    money=Money("USD", Decimal("2.00")),
    next_charge_date=datetime(2026, 7, 6, 14, 42, 42, 22227, tzinfo=timezone.utc),
    sms_configuration=SmsConfiguration(service_plan_id="plan", campaign_id=""),
)
SECRET = "my-callback-secret-that-is-32-chars-long"


def test_to_dict_uses_python_names_and_json_values() -> None:
    exported = to_dict(NUMBER)
    assert exported["phone_number"] == "+12025550134"
    assert exported["type"] == "LOCAL"
    assert exported["capability"] == ["SMS", "RCS"]  # an unknown enum value is kept
    assert exported["money"] == {"currency_code": "USD", "amount": "2.00"}  # exact, as text
    assert exported["next_charge_date"] == "2026-07-06T14:42:42.022227Z"
    assert exported["sms_configuration"] == {
        "service_plan_id": "plan",
        "campaign_id": "",
        "scheduled_provisioning": None,
    }


def test_to_dict_keeps_every_field_unless_asked_to_omit_unset_ones() -> None:
    assert set(to_dict(NUMBER)) == set(ActiveNumber.__annotations__)
    assert "expire_at" not in to_dict(NUMBER, omit_none=True)
    assert to_dict(NUMBER, omit_none=True)["sms_configuration"] == {
        "service_plan_id": "plan",
        "campaign_id": "",
    }


def test_wire_names_give_the_api_spelling() -> None:
    exported = to_dict(NUMBER, wire_names=True)
    assert exported["phoneNumber"] == "+12025550134"
    assert exported["money"] == {"currencyCode": "USD", "amount": "2.00"}
    assert exported["smsConfiguration"]["servicePlanId"] == "plan"
    assert to_dict(Page(items=(NUMBER,)), wire_names=True)["activeNumbers"][0] == exported


def test_secrets_are_masked_unless_revealed() -> None:
    config = CallbackConfiguration(project_id="p", hmac_secret=SECRET)
    assert to_dict(config) == {"project_id": "p", "hmac_secret": "***"}
    assert SECRET not in to_json(config, wire_names=True)
    assert to_dict(config, wire_names=True, reveal_secrets=True)["hmacSecret"] == SECRET
    assert to_dict(CallbackConfiguration())["hmac_secret"] is None  # unset is not masked


def test_to_json_is_the_dict_as_json_text() -> None:
    text = to_json(NUMBER, wire_names=True)
    assert isinstance(text, str)
    assert json.loads(text) == to_dict(NUMBER, wire_names=True)


def test_anything_but_a_model_is_refused() -> None:
    with pytest.raises(TypeError, match="takes a numbers_async model, not dict"):
        to_dict({"phone_number": "+1"})


def test_the_export_functions_are_public() -> None:
    assert {"to_dict", "to_json"} <= set(numbers_async.__all__)


@pytest.mark.parametrize("cls", list(ALL_MODELS), ids=lambda c: c.__name__)
@given(data=st.data())
def test_a_wire_export_with_secrets_decodes_back_to_the_model(
    cls: type[Any], data: st.DataObject
) -> None:
    value = data.draw(ALL_MODELS[cls])
    exported = json.loads(to_json(value, wire_names=True, reveal_secrets=True, omit_none=True))
    assert _convert.structure(exported, cls) == value


def test_wire_encoding_gives_plain_strings_for_enum_members() -> None:
    wire = _convert.unstructure(NUMBER)
    assert wire["type"].__class__ is str
    assert [item.__class__ for item in wire["capability"]] == [str, str]
    assert _convert.structure(wire, ActiveNumber) == NUMBER  # in memory, no JSON between
