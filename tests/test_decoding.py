"""The generated decoders: every field handled, JSON types validated, errors naming the path."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numbers_async import _convert, _decoders, _json, models
from numbers_async._convert import FieldError, structure, structure_hook, unstructure
from numbers_async._responses import decode, decode_list
from numbers_async._timestamps import parse_datetime
from numbers_async._voice import RAW, UNIONS
from numbers_async.errors import DecodeError
from numbers_async.models import (
    ActiveNumber,
    AvailableNumber,
    CallbackConfiguration,
    Money,
    Page,
)

from .strategies import ALL_MODELS

MODELS = [
    cls
    for cls in (getattr(models, name) for name in models.__all__)
    if isinstance(cls, type) and attrs.has(cls)
]


# --- every field of every model is decoded ---------------------------------------------------


def _sample(type_: Any, depth: int = 0) -> Any:
    """A value of ``type_`` that is not its field's default (so a dropped field shows)."""
    inner = _decoders._optional_inner(type_)
    if inner is not None:
        return _sample(inner, depth)
    element = _decoders._tuple_element(type_)
    if element is not None:
        return (_sample(element, depth), _sample(element, depth))
    if attrs.has(type_):
        return _filled(type_, depth + 1)
    if isinstance(type_, type) and issubclass(type_, enum.Enum):
        return list(type_)[-1]
    samples: dict[Any, Any] = {
        str: "text",
        int: 7,
        bool: True,
        Decimal: Decimal("2.50"),
        datetime: datetime(2024, 6, 6, 14, 42, 42, 22227, tzinfo=timezone.utc),
    }
    return samples[type_]


def _filled(cls: type[Any], depth: int = 0) -> Any:
    """An instance of ``cls`` with every field set, derived from its attrs fields.

    A class's constants (``init=False``) are its own; a field keeping the whole object
    (an unknown voice type's ``raw``) holds what the other fields encode to, and more.
    """
    fields = attrs.fields(attrs.resolve_types(cls))
    values = {
        field.name: _sample(field.type, depth)
        for field in fields
        if field.init and not field.metadata.get(RAW)
    }
    raw = [field.name for field in fields if field.metadata.get(RAW)]
    if raw:
        wire = _json.loads(_json.dumps(unstructure(cls(**values, **{raw[0]: {}}))))
        values[raw[0]] = {**wire, "xNotModelled": [1, {"deep": None}]}
    return cls(**values)


def test_the_model_list_covers_every_attrs_class_in_models() -> None:
    assert set(MODELS) == set(ALL_MODELS)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_a_model_with_every_field_set_round_trips(cls: type[Any]) -> None:
    # Fails if a model gains a field its decoder (or encoder) does not handle.
    value = _filled(cls)
    assert structure(_json.loads(_json.dumps(unstructure(value))), cls) == value


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_each_decoder_is_generated_from_every_attrs_field(cls: type[Any]) -> None:
    hook = structure_hook(cls)
    fields = attrs.fields(cls)
    assert hook.handled_fields == tuple(field.name for field in fields)  # type: ignore[attr-defined]
    source = _convert.decoder_source(cls)
    for field in fields:
        if field.init and not field.metadata.get(RAW):  # the others are not read by name
            assert repr(_convert.wire_name(cls, field.name)) in source


def test_a_model_gaining_a_field_gets_it_decoded() -> None:
    @attrs.frozen
    class Extended:
        phone_number: str
        new_field: int | None = None
        nested: Money | None = None

    value = structure({"phoneNumber": "+1", "newField": 3, "nested": {"amount": "1"}}, Extended)
    assert value == Extended("+1", 3, Money(amount=Decimal("1")))
    with pytest.raises(FieldError, match=r"newField: expected an integer, got string"):
        structure({"phoneNumber": "+1", "newField": "3"}, Extended)


def test_money_decoded_anywhere_is_one_shared_value() -> None:
    # Each decoder writes the decoding of the models it holds in place, with the one
    # cache of shared values of each model: the same money is one object everywhere.
    wire = {"currencyCode": "USD", "amount": "2.00"}
    active = structure({"phoneNumber": "+1", "money": dict(wire)}, ActiveNumber)
    available = structure(
        {"phoneNumber": "+1", "setupPrice": dict(wire), "monthlyPrice": dict(wire)},
        AvailableNumber,
    )
    alone = structure(dict(wire), Money)
    assert alone == Money("USD", Decimal("2.00"))
    assert active.money is available.setup_price is available.monthly_price is alone


# --- validation -----------------------------------------------------------------------------

_NUMBER = '{"phoneNumber": "+12025550134"'


@pytest.mark.parametrize(
    ("body", "cls", "path", "expected", "got"),
    [
        ('{"phoneNumber": null}', ActiveNumber, "phoneNumber", "a string", "null"),
        ('{"phoneNumber": 5}', ActiveNumber, "phoneNumber", "a string", "number 5"),
        ("{}", ActiveNumber, "phoneNumber", "a string", "nothing (the field is missing)"),
        ('{"phoneNumber": true}', AvailableNumber, "phoneNumber", "a string", "boolean True"),
        (_NUMBER + ', "projectId": 12}', ActiveNumber, "projectId", "a string", "number 12"),
        (_NUMBER + ', "type": 3}', ActiveNumber, "type", "a string", "number 3"),
        (_NUMBER + ', "capability": "SMS"}', ActiveNumber, "capability", "an array", "string"),
        (_NUMBER + ', "capability": ["SMS", 7]}', ActiveNumber, "capability[1]", "a string", "7"),
        (_NUMBER + ', "money": "2.00"}', ActiveNumber, "money", "an object", "string '2.00'"),
        (
            _NUMBER + ', "money": {"amount": 2.5}}',
            ActiveNumber,
            "money.amount",
            "a decimal string",
            "number 2.5",
        ),
        (
            _NUMBER + ', "money": {"amount": "two"}}',
            ActiveNumber,
            "money.amount",
            "a decimal string",
            "string 'two'",
        ),
        (
            _NUMBER + ', "setupPrice": {"currencyCode": ["USD"]}}',
            AvailableNumber,
            "setupPrice.currencyCode",
            "a string",
            "array of 1",
        ),
        (
            _NUMBER + ', "paymentIntervalMonths": "1"}',
            ActiveNumber,
            "paymentIntervalMonths",
            "an integer",
            "string '1'",
        ),
        (
            _NUMBER + ', "paymentIntervalMonths": true}',
            ActiveNumber,
            "paymentIntervalMonths",
            "an integer",
            "boolean",
        ),
        (
            _NUMBER + ', "supportingDocumentationRequired": "no"}',
            AvailableNumber,
            "supportingDocumentationRequired",
            "a boolean",
            "string 'no'",
        ),
        (
            _NUMBER + ', "nextChargeDate": "yesterday"}',
            ActiveNumber,
            "nextChargeDate",
            "an RFC 3339 timestamp string",
            "string 'yesterday'",
        ),
        (
            _NUMBER + ', "nextChargeDate": "2024-13-06T14:42:42.022227Z"}',  # the usual form
            ActiveNumber,
            "nextChargeDate",
            "an RFC 3339 timestamp string",
            "string '2024-13-06T14:42:42.022227Z'",
        ),
        (
            _NUMBER + ', "expireAt": 1717685000}',
            ActiveNumber,
            "expireAt",
            "an RFC 3339 timestamp string",
            "number",
        ),
        (
            _NUMBER + ', "smsConfiguration": {"scheduledProvisioning": {"errorCodes": [5]}}}',
            ActiveNumber,
            "smsConfiguration.scheduledProvisioning.errorCodes[0]",
            "a string",
            "number 5",
        ),
        (
            _NUMBER + ', "voiceConfiguration": {"scheduledVoiceProvisioning": {"status": {}}}}',
            ActiveNumber,
            "voiceConfiguration.scheduledVoiceProvisioning.status",
            "a string",
            "object",
        ),
        (
            '{"activeNumbers": [{"phoneNumber": "+1"}, {"phoneNumber": "+2"}, {}, '
            '{"phoneNumber": "+4", "money": {"amount": 2}}]}',
            Page,
            "activeNumbers[2].phoneNumber",
            "a string",
            "nothing",
        ),
        ('{"activeNumbers": [], "totalSize": "9"}', Page, "totalSize", "an integer", "'9'"),
        ('{"activeNumbers": [], "nextPageToken": 4}', Page, "nextPageToken", "a string", "4"),
        ('{"activeNumbers": {}}', Page, "activeNumbers", "an array", "object"),
        ('{"activeNumbers": [5]}', Page, "activeNumbers[0]", "an object", "number 5"),
        ('{"types": ["LOCAL", null]}', models.AvailableRegion, "types[1]", "a string", "null"),
    ],
)
def test_a_wrong_json_type_is_a_decode_error_naming_path_expected_and_got(
    body: str, cls: type[Any], path: str, expected: str, got: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(200, body.encode(), cls)
    message = str(caught.value)
    assert f"cannot decode {cls.__name__}: {path}: expected {expected}, got " in message
    assert got in message.split(f"expected {expected}, got ", 1)[1]


def test_a_list_item_of_the_wrong_type_is_named_by_its_index() -> None:
    body = b'{"availableNumbers": [{"phoneNumber": "+1"}, {"phoneNumber": "+2", "type": 9}]}'
    with pytest.raises(DecodeError, match=r"availableNumbers\[1\]\.type: expected a string"):
        decode_list(200, body, AvailableNumber, "availableNumbers")


def test_a_secret_of_the_wrong_type_is_not_excerpted() -> None:
    with pytest.raises(FieldError) as caught:
        structure({"hmacSecret": 31415926535897932384}, CallbackConfiguration)
    assert "31415926535897932384" not in str(caught.value)
    assert str(caught.value) == "hmacSecret: expected a string, got number (value hidden)"


def test_a_long_value_is_excerpted_not_copied_whole() -> None:
    with pytest.raises(FieldError) as caught:
        structure({"phoneNumber": "+1", "money": {"amount": "9" * 500 + "x"}}, ActiveNumber)
    assert len(str(caught.value)) < 120


@pytest.mark.parametrize(
    "wire",
    [
        {"phoneNumber": "+1", "type": "SHORT_CODE", "capability": ["SMS", "RCS"]},
        {"phoneNumber": "+1", "brandNew": {"nested": [1, 2]}, "voiceConfiguration": {"x": 1}},
        {"phoneNumber": "+1", "projectId": None, "money": None, "capability": None},
    ],
)
def test_unknown_fields_enum_values_and_nulls_in_optional_fields_are_accepted(
    wire: dict[str, Any],
) -> None:
    number = structure(wire, ActiveNumber)
    assert number.phone_number == "+1"


def test_null_list_in_a_page_means_no_items() -> None:
    assert structure({"activeNumbers": None, "nextPageToken": ""}, Page) == Page()


def test_a_non_finite_money_amount_is_refused() -> None:
    with pytest.raises(FieldError, match=r"money\.amount: expected a decimal string"):
        structure({"phoneNumber": "+1", "money": {"amount": "NaN"}}, ActiveNumber)


@pytest.mark.parametrize(
    "text",
    ["2024-06-06T14:42:42Z", "2024-06-06T14:42:42.5Z", "2024-06-06T14:42:42.022227Z"],
)
def test_rest_timestamps_with_zero_to_six_digits_decode_exactly(text: str) -> None:
    number = structure({"phoneNumber": "+1", "expireAt": text}, ActiveNumber)
    assert number.expire_at == parse_datetime(text)


# --- property: corrupt one field, the error names it -------------------------------------------


def _leaves(cls: type[Any], wire: dict[str, Any], path: list[Any]) -> list[tuple[list[Any], Any]]:
    """Every present, non-null value of ``wire`` with its path and its field's type."""
    found: list[tuple[list[Any], Any]] = []
    if cls in UNIONS:  # its decoder reads "type", then the class's decoder the rest
        by_type, other, _ = UNIONS[cls]
        variant = by_type.get(wire.get("type") or "RTC", other)
        return _leaves(variant, wire, path) + ([([*path, "type"], str)] if "type" in wire else [])
    for field in attrs.fields(attrs.resolve_types(cls)):
        if not field.init or field.metadata.get(RAW):
            continue  # a constant, or the whole object: not a value of its own
        key = _convert.wire_name(cls, field.name)
        value = wire.get(key)
        if value is None:
            continue
        type_ = _decoders._optional_inner(field.type) or field.type
        found.append(([*path, key], type_))
        element = _decoders._tuple_element(type_)
        if attrs.has(type_):
            found += _leaves(type_, value, [*path, key])
        elif element is not None:
            for index, item in enumerate(value):
                found.append(([*path, key, index], element))
                if attrs.has(element):
                    found += _leaves(element, item, [*path, key, index])
    return found


def _wrong_values(type_: Any) -> list[Any]:
    if type_ is int:
        return ["1", 1.5, True, [], {}]
    if type_ is bool:
        return [1, "true", None, {}]
    if _decoders._tuple_element(type_) is not None:
        return ["x", 5, {}]
    if attrs.has(type_):
        return ["x", 5, [], True]
    if type_ is datetime:
        return [5, "not a date", [], {}]
    if type_ is Decimal:
        return [2.5, 2, "two", {}]
    return [5, 2.5, False, [], {}]  # text and open enums


def _spelled(path: list[Any]) -> str:
    out = ""
    for segment in path:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            out += f".{segment}" if out else segment
    return out


def _put(wire: Any, path: list[Any], value: Any) -> None:
    for segment in path[:-1]:
        wire = wire[segment]
    wire[path[-1]] = value


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
@given(data=st.data())
def test_corrupting_one_field_is_reported_at_its_path(cls: type[Any], data: st.DataObject) -> None:
    value = data.draw(ALL_MODELS[cls])
    wire = _json.loads(_json.dumps(unstructure(value)))
    leaves = _leaves(cls, wire, [])
    if not leaves:
        return  # nothing present to corrupt (every optional field unset)
    path, type_ = data.draw(st.sampled_from(leaves))
    wrong = data.draw(st.sampled_from(_wrong_values(type_)))
    if wrong is None and not isinstance(path[-1], int):
        return  # null in an optional field is "unset", which is valid
    _put(wire, path, wrong)
    with pytest.raises(FieldError) as caught:
        structure(wire, cls)
    assert caught.value.path == _spelled(path)


@given(data=st.data())
def test_removing_or_nulling_a_required_field_is_reported(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from([ActiveNumber, AvailableNumber]))
    wire = _json.loads(_json.dumps(unstructure(data.draw(ALL_MODELS[cls]))))
    if data.draw(st.booleans()):
        del wire["phoneNumber"]
    else:
        wire["phoneNumber"] = None
    with pytest.raises(FieldError) as caught:
        structure(wire, cls)
    assert caught.value.path == "phoneNumber"
    assert caught.value.expected == "a string"


def test_a_model_with_a_validator_is_still_built_through_its_init() -> None:
    @attrs.frozen
    class Checked:
        phone_number: str = attrs.field(validator=attrs.validators.min_len(2))

    assert _decoders._slot_setters(Checked) is None
    assert _decoders._slot_setters(ActiveNumber) is not None
    assert structure({"phoneNumber": "+1"}, Checked) == Checked("+1")
    with pytest.raises(ValueError, match="Length of 'phone_number'"):
        structure({"phoneNumber": "+"}, Checked)


def test_a_field_type_without_a_decoder_is_refused_when_generating() -> None:
    @attrs.frozen
    class Odd:
        ratio: float | None = None

    with pytest.raises(TypeError, match="no decoder for Odd field type <class 'float'>"):
        _convert.make_converter().get_structure_hook(Odd)


# --- what the generated code does in place ----------------------------------------------------

_USUAL = "2024-06-06T14:42:42.022227Z"


def _decoded_or_refused(text: str) -> datetime | str:
    """What the number decoder makes of ``text`` as a timestamp, or the path it refuses."""
    try:
        number = structure({"phoneNumber": "+1", "nextChargeDate": text}, ActiveNumber)
    except FieldError as error:
        return error.path
    assert number.next_charge_date is not None
    return number.next_charge_date


def _parsed_or_refused(text: str) -> datetime | str:
    try:
        return parse_datetime(text)
    except ValueError:
        return "nextChargeDate"


@pytest.mark.parametrize(
    "text",
    [
        "2024-06-06X14:42:42.022227Z",  # any separator: fromisoformat takes it, RFC 3339 not
        "2024-W23-4T14:42:42.022227Z",  # an ISO week date
        "2024-06-06T14:42:42,022227Z",  # a decimal comma
        "2024-06-06T14-42:42.022227Z",
        "2024-06-06T14:42-42.022227Z",
        "2024-06-06T14:42:42.022227+",
        "2024-06-06 14:42:42.022227Z",  # RFC 3339 allows a space and lower case
        "2024-06-06t14:42:42.022227Z",
        "2024-06-06T14:42:42.022227z",
    ],
)
def test_the_usual_timestamp_form_is_read_in_place_only_when_it_is_rfc_3339(text: str) -> None:
    # The decoders parse 'YYYY-MM-DDTHH:MM:SS.ffffffZ' with datetime.fromisoformat, which
    # takes more than RFC 3339 does: whatever else comes is decided by parse_datetime.
    assert _decoded_or_refused(text) == _parsed_or_refused(text)


@given(
    changes=st.lists(
        st.tuples(st.integers(0, len(_USUAL) - 1), st.sampled_from("0123456789-T:.Z ,tW+x")),
        min_size=1,
        max_size=2,
    )
)
def test_a_timestamp_one_or_two_characters_off_is_decoded_as_parse_datetime_says(
    changes: list[tuple[int, str]],
) -> None:
    text = list(_USUAL)
    for index, character in changes:
        text[index] = character
    assert _decoded_or_refused("".join(text)) == _parsed_or_refused("".join(text))


def test_a_failing_item_is_named_by_its_first_place_even_when_listed_twice() -> None:
    bad = {"phoneNumber": "+2", "money": {"amount": 2}}
    page = {"activeNumbers": [{"phoneNumber": "+1"}, bad, bad]}
    with pytest.raises(FieldError) as caught:
        structure(page, Page)
    assert caught.value.path == "activeNumbers[1].money.amount"


@attrs.frozen
class _Node:
    name: str
    child: _Node | None = None
    children: tuple[_Node, ...] | None = None


def test_a_model_inside_itself_is_decoded_through_its_own_decoder() -> None:
    # Models held by a model are decoded in place, except one inside itself (which
    # would never end): its decoder is called, once it has been written.
    conv = _convert.make_converter()
    wire = {"name": "a", "child": {"name": "b"}, "children": [{"name": "c", "children": []}]}
    node = conv.structure(wire, _Node)
    assert node == _Node("a", _Node("b"), (_Node("c", None, ()),))
    with pytest.raises(FieldError) as caught:
        conv.structure({"name": "a", "children": [{"name": "c", "child": {"name": 5}}]}, _Node)
    assert caught.value.path == "children[0].child.name"
