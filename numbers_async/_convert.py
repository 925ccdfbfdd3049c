"""The one cattrs converter between wire JSON (camelCase) and the models (snake_case).

Built once at import; its hooks are generated per class up front so decoding a page does
no per-item hook lookups. Unstructuring omits ``None`` fields (an unset field is never
sent) and keeps ``""`` (that is how a number is unlinked from a service plan).

Decoding a page is the client's hottest code (benchmarks B2, B3), so every field hook is
resolved when the class hook is generated: cattrs' own ``X | None`` and ``tuple[X, ...]``
hooks look up the hook of ``X`` again for every value they see.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from numbers_async._timestamps import format_datetime, parse_datetime
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
    SearchPattern,
    SmsConfiguration,
    VoiceConfiguration,
)

__all__ = ["converter", "make_converter", "structure", "structure_hook", "unstructure"]

T = TypeVar("T")

_MODELS: tuple[type[Any], ...] = (
    Money,
    ScheduledSmsProvisioning,
    ScheduledVoiceProvisioning,
    SmsConfiguration,
    VoiceConfiguration,
    AvailableNumber,
    ActiveNumber,
    AvailableRegion,
    CallbackConfiguration,
)
_ENUMS: tuple[type[Any], ...] = (NumberType, Capability, SearchPattern, ProvisioningStatus)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _structure_decimal(value: Any, _: type) -> Decimal:
    if isinstance(value, float):  # a float would already have lost precision: refuse it
        raise TypeError(f"money amount must be a decimal string, got float {value!r}")
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"not a decimal amount: {value!r}") from exc


if sys.version_info >= (3, 11):
    _from_utc_text = datetime.fromisoformat  # reads the trailing "Z" itself
else:  # pragma: no cover - Python 3.10 (nox -s tests_all)

    def _from_utc_text(text: str) -> datetime:
        return datetime.fromisoformat(text[:-1] + "+00:00")  # the same timezone.utc


def _when(value: Any) -> datetime | None:
    """A timestamp field, or None.

    The form REST responses use, 'YYYY-MM-DDTHH:MM:SS.ffffffZ', goes straight to
    ``fromisoformat`` (a tenth of ``parse_datetime``'s cost), which rejects anything but
    digits between these separators; ``value[7]`` rules out ISO week dates ('2024-W01-1'),
    which Python 3.12+ would accept. Every other form goes through ``parse_datetime``.
    """
    if (
        value.__class__ is str
        and len(value) == 27
        and value[26] == "Z"
        and value[19] == "."
        and value[10] == "T"
        and value[7] == "-"
    ):
        return _from_utc_text(value)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"timestamp must be a string, got {type(value).__name__}")
    return parse_datetime(value)


def _structure_datetime(value: Any, _: type) -> datetime:
    """The cattrs hook for ``datetime`` (its ``X | None`` hook has already ruled out None)."""
    parsed = _when(value)
    if parsed is None:
        raise TypeError("timestamp must be a string, got NoneType")
    return parsed


def _make_enum_hook(enum_cls: type[Any]) -> Any:
    known = enum_cls._value2member_map_

    def structure_enum(value: Any, _: type) -> Any:
        member = known.get(value)
        return member if member is not None else enum_cls(value)

    return structure_enum


StructureHook = Callable[[Any, Any], Any]
_NONE_TYPE = type(None)
#: Types whose cattrs hook is ``cls(value)``; a value already of the type is kept as is.
_PRIMITIVES = (str, int, bool, float)


def _is_optional(type_: Any) -> bool:
    args = typing.get_args(type_)
    return (
        typing.get_origin(type_) in (typing.Union, types.UnionType)
        and len(args) == 2
        and _NONE_TYPE in args
    )


def _is_homogeneous_tuple(type_: Any) -> bool:
    args = typing.get_args(type_)
    return typing.get_origin(type_) is tuple and len(args) == 2 and args[1] is Ellipsis


def _primitive_hook(cls: type[Any]) -> StructureHook:
    # The same result as cattrs' ``cls(value)``, without the call when it would be a no-op.
    def structure_primitive(value: Any, _: Any) -> Any:
        return value if value.__class__ is cls else cls(value)

    return structure_primitive


def _optional_hook_factory(conv: cattrs.Converter) -> Callable[[Any], StructureHook]:
    def make_optional_hook(type_: Any) -> StructureHook:
        (inner,) = (arg for arg in typing.get_args(type_) if arg is not _NONE_TYPE)
        if inner in _PRIMITIVES:  # most fields are ``str | None``: one call, not two

            def structure_optional_primitive(value: Any, _: Any) -> Any:
                return value if value is None or value.__class__ is inner else inner(value)

            return structure_optional_primitive
        structure_inner = conv.get_structure_hook(inner)

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else structure_inner(value, inner)

        return structure_optional

    return make_optional_hook


def _tuple_hook_factory(conv: cattrs.Converter) -> Callable[[Any], StructureHook]:
    def make_tuple_hook(type_: Any) -> StructureHook:
        element = typing.get_args(type_)[0]
        structure_element = _element_hook(conv, element)

        def structure_tuple(value: Any, _: Any) -> tuple[Any, ...]:
            return tuple([structure_element(item, element) for item in value])

        return structure_tuple

    return make_tuple_hook


def _element_hook(conv: cattrs.Converter, type_: Any) -> StructureHook:
    if type_ in _PRIMITIVES:
        return _primitive_hook(type_)
    return conv.get_structure_hook(type_)


def _structure_page(data: Any, _: type) -> Page:
    if not isinstance(data, Mapping):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    raw_items = data.get("activeNumbers")
    if raw_items is None:
        raw_items = []
    elif not isinstance(raw_items, list):
        raise TypeError("activeNumbers must be a list")
    structure_item = _active_number_hook
    token = data.get("nextPageToken") or None  # "" and absent both end the listing
    total = data.get("totalSize")
    return Page(
        items=tuple([structure_item(item, ActiveNumber) for item in raw_items]),
        next_page_token=None if token is None else str(token),
        total_size=None if total is None else int(total),
    )


def _unstructure_page(page: Page) -> dict[str, Any]:
    out: dict[str, Any] = {"activeNumbers": [unstructure(item) for item in page.items]}
    if page.next_page_token is not None:
        out["nextPageToken"] = page.next_page_token
    if page.total_size is not None:
        out["totalSize"] = page.total_size
    return out


def make_converter() -> cattrs.Converter:
    """Build a converter configured for the Numbers API wire format."""
    conv = cattrs.Converter(
        detailed_validation=False,  # plain exceptions are cheaper; we wrap them in DecodeError
        unstruct_collection_overrides={tuple: list},
    )
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_unstructure_hook(Decimal, str)
    for enum_cls in _ENUMS:
        conv.register_structure_hook(enum_cls, _make_enum_hook(enum_cls))
        conv.register_unstructure_hook(enum_cls, lambda member: member.value)
    conv.register_structure_hook_factory(_is_optional, _optional_hook_factory(conv))
    conv.register_structure_hook_factory(_is_homogeneous_tuple, _tuple_hook_factory(conv))
    # Each model's hook is generated once its field types have hooks: _MODELS lists the
    # nested classes before the classes that contain them.
    for cls in _MODELS:
        renames: dict[str, Any] = {
            a.name: override(rename=_camel(a.name)) for a in cls.__attrs_attrs__
        }
        conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, **renames))
        conv.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **renames)
        )
    for cls, hook in _HOT_HOOKS.items():
        conv.register_structure_hook(cls, hook)
    conv.register_structure_hook(Page, _structure_page)
    conv.register_unstructure_hook(Page, _unstructure_page)
    return conv


# --- hand-written hooks for ActiveNumber and what it holds --------------------------------
#
# Every page of a listing decodes a hundred of these, so they are written out rather than
# generated: cattrs' generated hooks test each key twice and collect keyword arguments in a
# dict. Arguments are positional, in field order (keywords cost a frozen attrs __init__
# half as much again); the Hypothesis round trips in tests/test_models.py run through
# these hooks, so a field out of place fails them.
#
# Profiled (benchmarks/b3_list.py --profile), the cost was Python calls, not work: one
# helper per field, three per timestamp. So the usual case is written inline (and a
# timestamp is one call, _when): a value
# that already has its final form (str or None, int or None, a known enum value) passes
# through a class check, and only the rest goes through a helper.

#: Classes whose values a text field keeps as they are (anything else goes through str()).
_AS_IS_TEXT: frozenset[Any] = frozenset({str, _NONE_TYPE})
_AS_IS_INT: frozenset[Any] = frozenset({int, _NONE_TYPE})


def _str(value: Any) -> str | None:
    return value if value.__class__ in _AS_IS_TEXT else str(value)


def _int(value: Any) -> int | None:
    return value if value.__class__ in _AS_IS_INT else int(value)


def _open_enum(enum_cls: type[Any]) -> Callable[[Any], Any]:
    known = enum_cls._value2member_map_

    def member(value: Any) -> Any:
        if value is None:
            return None
        found = known.get(value)
        return found if found is not None else enum_cls(value)

    return member


_number_type = _open_enum(NumberType)
_capability = _open_enum(Capability)
_status = _open_enum(ProvisioningStatus)
_NUMBER_TYPES: Mapping[Any, NumberType] = NumberType._value2member_map_  # type: ignore[assignment]


# Values that repeat across a listing (the same capabilities, price, service plan) are
# immutable, so each distinct one is decoded once and shared. Only values made of
# plain text are cached (they make a safe key and decode exactly as given). The caches are
# bounded: emptied when they reach _INTERNED_MAX entries.
_INTERNED_MAX = 4096
_capability_sets: dict[Any, tuple[Capability, ...]] = {}
_moneys: dict[Any, Money] = {}
_sms_configurations: dict[Any, SmsConfiguration] = {}


def _remember(cache: dict[Any, Any], key: Any, value: T) -> T:
    if len(cache) >= _INTERNED_MAX:
        cache.clear()
    cache[key] = value
    return value


def _capabilities(value: Any) -> tuple[Capability, ...] | None:
    if value is None:
        return None
    key = tuple(value)
    found = _capability_sets.get(key)
    if found is None:
        found = tuple([_capability(item) for item in key])
        if all(item.__class__ is str for item in key):
            _remember(_capability_sets, key, found)
    return found


def _money(value: Any, _: Any = None) -> Money | None:
    if value is None:
        return None
    currency = value.get("currencyCode")
    amount = value.get("amount")
    if currency.__class__ in _AS_IS_TEXT and amount.__class__ in _AS_IS_TEXT:
        key = (currency, amount)
        found = _moneys.get(key)
        if found is None:
            found = _remember(_moneys, key, _build_money(currency, amount))
        return found
    return _build_money(currency, amount)


def _build_money(currency: Any, amount: Any) -> Money:
    return Money(
        _str(currency),  # currency_code
        None if amount is None else _structure_decimal(amount, Decimal),  # amount
    )


def _scheduled_sms(value: Any, _: Any = None) -> ScheduledSmsProvisioning | None:
    if value is None:
        return None
    get = value.get
    codes = get("errorCodes")
    return ScheduledSmsProvisioning(
        _str(get("servicePlanId")),  # service_plan_id
        _str(get("campaignId")),  # campaign_id
        _status(get("status")),  # status
        _when(get("lastUpdatedTime")),  # last_updated_time
        None if codes is None else tuple([_text(code) for code in codes]),  # error_codes
    )


def _text(value: Any) -> str:
    return value if value.__class__ is str else str(value)


def _scheduled_voice(value: Any, _: Any = None) -> ScheduledVoiceProvisioning | None:
    if value is None:
        return None
    get = value.get
    return ScheduledVoiceProvisioning(
        _str(get("appId")),  # app_id
        _status(get("status")),  # status
        _when(get("lastUpdatedTime")),  # last_updated_time
    )


def _sms(value: Any, _: Any = None) -> SmsConfiguration | None:
    if value is None:
        return None
    get = value.get
    plan = get("servicePlanId")
    campaign = get("campaignId")
    scheduled = get("scheduledProvisioning")
    if scheduled is None and plan.__class__ in _AS_IS_TEXT and campaign.__class__ in _AS_IS_TEXT:
        key = (plan, campaign)
        found = _sms_configurations.get(key)
        if found is None:
            found = _remember(_sms_configurations, key, SmsConfiguration(plan, campaign, None))
        return found
    return SmsConfiguration(
        _str(plan),  # service_plan_id
        _str(campaign),  # campaign_id
        _scheduled_sms(scheduled),  # scheduled_provisioning
    )


def _voice(value: Any, _: Any = None) -> VoiceConfiguration | None:
    # Not shared like the SMS configuration: its lastUpdatedTime differs from number to
    # number, so a cache would only miss.
    if value is None:
        return None
    get = value.get
    app = get("appId")
    scheduled = get("scheduledVoiceProvisioning")
    return VoiceConfiguration(
        app if app.__class__ in _AS_IS_TEXT else str(app),  # app_id
        _when(get("lastUpdatedTime")),  # last_updated_time
        None if scheduled is None else _scheduled_voice(scheduled),  # scheduled_voice_...
    )


def _active_number(value: Any, _: Any = None) -> ActiveNumber:
    get = value.get
    phone = value["phoneNumber"]
    project = get("projectId")
    name = get("displayName")
    region = get("regionCode")
    kind = get("type")
    money = get("money")
    interval = get("paymentIntervalMonths")
    sms = get("smsConfiguration")
    voice = get("voiceConfiguration")
    url = get("callbackUrl")
    return ActiveNumber(
        phone if phone.__class__ is str else str(phone),  # phone_number
        project if project.__class__ in _AS_IS_TEXT else str(project),  # project_id
        name if name.__class__ in _AS_IS_TEXT else str(name),  # display_name
        region if region.__class__ in _AS_IS_TEXT else str(region),  # region_code
        _NUMBER_TYPES.get(kind) or _number_type(kind),  # type
        _capabilities(get("capability")),  # capability
        None if money is None else _money(money),  # money
        interval if interval.__class__ in _AS_IS_INT else int(interval),  # payment_interval_months
        _when(get("nextChargeDate")),  # next_charge_date
        _when(get("expireAt")),  # expire_at
        None if sms is None else _sms(sms),  # sms_configuration
        None if voice is None else _voice(voice),  # voice_configuration
        url if url.__class__ in _AS_IS_TEXT else str(url),  # callback_url
    )


_HOT_HOOKS: dict[type[Any], Callable[[Any, Any], Any]] = {
    Money: _money,
    ScheduledSmsProvisioning: _scheduled_sms,
    ScheduledVoiceProvisioning: _scheduled_voice,
    SmsConfiguration: _sms,
    VoiceConfiguration: _voice,
    ActiveNumber: _active_number,
}


converter = make_converter()
_active_number_hook = converter.get_structure_hook(ActiveNumber)


_hooks: dict[type[Any], Callable[[Any, Any], Any]] = {}


def structure_hook(cls: type[T]) -> Callable[[Any, type[T]], T]:
    """The converter's hook for ``cls``, looked up once (not dispatched on every call)."""
    hook = _hooks.get(cls)
    if hook is None:
        hook = _hooks[cls] = converter.get_structure_hook(cls)
    return hook


def structure(data: Any, cls: type[T]) -> T:
    """Decode wire JSON (already parsed) into ``cls``."""
    return structure_hook(cls)(data, cls)


def unstructure(value: Any) -> Any:
    """Encode a model into wire JSON (camelCase keys, unset fields left out)."""
    return converter.unstructure(value)
