"""The one cattrs converter between wire JSON (camelCase) and the models (snake_case).

Decoding goes through one decoder per model, generated from its attrs fields by
``_decoders`` (which says how, and what each checks) and registered here through a hook
factory; ``decoder_source`` shows a model's decoder. A value of the wrong JSON type
raises ``FieldError`` (``_fields``) naming its path.

Encoding (``unstructure``) omits ``None`` fields (an unset field is never sent) and keeps
``""`` (that is how a number is unlinked from a service plan). ``to_dict`` and ``to_json``
export any model for users, in wire or Python names, with secrets masked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from numbers_async import _json
from numbers_async._decoders import _SOURCES, _decoder_factory, is_secret, wire_name
from numbers_async._enums import _OpenEnum
from numbers_async._fields import FieldError
from numbers_async._timestamps import format_datetime
from numbers_async._voice import RAW, UNIONS
from numbers_async.models import Page

__all__ = [
    "FieldError",
    "converter",
    "decoder_source",
    "make_converter",
    "structure",
    "structure_hook",
    "to_dict",
    "to_json",
    "unstructure",
    "wire_name",
]

T = TypeVar("T")


def decoder_source(cls: type[Any]) -> str:
    """The Python source of ``cls``'s generated decoder (for reading and for tests)."""
    structure_hook(cls)
    return _SOURCES[cls]


# --- encoding ----------------------------------------------------------------------------------


def _unstructure_page(page: Page) -> dict[str, Any]:
    out: dict[str, Any] = {"activeNumbers": [unstructure(item) for item in page.items]}
    if page.next_page_token is not None:
        out["nextPageToken"] = page.next_page_token
    if page.total_size is not None:
        out["totalSize"] = page.total_size
    return out


def _encoder_factory(conv: cattrs.Converter) -> Callable[[type[Any]], Callable[[Any], Any]]:
    def make_encoder(cls: type[Any]) -> Callable[[Any], Any]:
        fields = attrs.fields(cls)
        if any(field.metadata.get(RAW) for field in fields):
            # A type this version does not know: what came, as it came (never sent).
            return functools.partial(_export, wire_names=True, reveal_secrets=True, omit_none=True)
        renames: dict[str, Any] = {
            # A constant (a voice configuration's type) is written even though it is
            # its field's default: the API needs it.
            field.name: override(rename=wire_name(cls, field.name), omit_if_default=field.init)
            for field in fields
        }
        return make_dict_unstructure_fn(
            cls, conv, _cattrs_omit_if_default=True, _cattrs_include_init_false=True, **renames
        )

    return make_encoder


def _enum_value(member: Enum) -> Any:
    return member.value


def make_converter() -> cattrs.Converter:
    """Build a converter configured for the Numbers API wire format."""
    conv = cattrs.Converter(detailed_validation=False, unstruct_collection_overrides={tuple: list})
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_unstructure_hook(Decimal, str)
    # Every open enum by its value, through their base class (dispatch follows the MRO, where
    # _OpenEnum comes before str): as a str subclass it would otherwise be passed through.
    conv.register_unstructure_hook(_OpenEnum, _enum_value)
    conv.register_structure_hook_factory(attrs.has, _decoder_factory(conv))
    conv.register_unstructure_hook_factory(attrs.has, _encoder_factory(conv))
    # A field typed as a union holds one of its classes: encode by that class.
    conv.register_unstructure_hook_func(
        UNIONS.__contains__, lambda value: conv.get_unstructure_hook(value.__class__)(value)
    )
    conv.register_unstructure_hook(Page, _unstructure_page)
    return conv


converter = make_converter()
_hooks: dict[type[Any], Callable[[Any, Any], Any]] = {}


def structure_hook(cls: type[T]) -> Callable[[Any, type[T]], T]:
    """The converter's hook for ``cls``, looked up once (not dispatched on every call)."""
    hook = _hooks.get(cls)
    if hook is None:
        hook = _hooks[cls] = converter.get_structure_hook(cls)
    return hook


def structure(data: Any, cls: type[T]) -> T:
    """Decode wire JSON (already parsed) into ``cls``; ``FieldError`` if it does not fit."""
    return structure_hook(cls)(data, cls)


def unstructure(value: Any) -> Any:
    """Encode a model into wire JSON (camelCase keys, unset fields left out)."""
    return converter.unstructure(value)


# --- public export -----------------------------------------------------------------------------

#: What a secret field shows in an export unless ``reveal_secrets=True``.
MASK = "***"


def _export(value: Any, wire_names: bool, reveal_secrets: bool, omit_none: bool) -> Any:
    if attrs.has(value.__class__):
        cls = value.__class__
        out: dict[str, Any] = {}
        for field in attrs.fields(cls):
            item = getattr(value, field.name)
            if field.metadata.get(RAW) and wire_names:
                # Members this version does not model, as received; the decoded fields
                # (written after them) hold the rest.
                modelled = {wire_name(cls, f.name) for f in attrs.fields(cls)}
                for key, member in item.items():
                    if key not in modelled:
                        out[key] = _export(member, wire_names, reveal_secrets, omit_none)
                continue
            if item is None and omit_none:
                continue
            key = wire_name(cls, field.name) if wire_names else field.name
            if item is not None and is_secret(field) and not reveal_secrets:
                out[key] = MASK
            else:
                out[key] = _export(item, wire_names, reveal_secrets, omit_none)
        return out
    if isinstance(value, (tuple, list)):
        return [_export(item, wire_names, reveal_secrets, omit_none) for item in value]
    if isinstance(value, Mapping):  # JSON kept as received: a copy, never the object itself
        return {
            key: _export(item, wire_names, reveal_secrets, omit_none) for key, item in value.items()
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    return value


def to_dict(
    model: Any, *, wire_names: bool = False, reveal_secrets: bool = False, omit_none: bool = False
) -> dict[str, Any]:
    """Any model (``ActiveNumber``, ``Page``, ...) as a dict of JSON values.

    Keys are the attribute names (``phone_number``), or with ``wire_names=True`` the API's
    (``phoneNumber``). Values are what JSON can hold: money amounts as decimal strings
    (exact), timestamps as RFC 3339 strings, enum members as their values, tuples as
    lists, nested models as dicts. Every field is present (``None`` when unset) unless
    ``omit_none=True``. Secrets (``CallbackConfiguration.hmac_secret``) read ``"***"``
    unless ``reveal_secrets=True``.

    A voice configuration says its ``type`` (``"RTC"``, ``"EST"``, ``"FAX"``). One of a
    type newer than this version (``UnknownVoiceConfiguration``) keeps what came in
    ``raw``; with ``wire_names=True`` those members are written at the top level, as the
    API sent them, so nothing it sent is missing from the export.
    """
    if not attrs.has(model.__class__):
        raise TypeError(f"to_dict() takes a numbers_async model, not {type(model).__name__}")
    result: dict[str, Any] = _export(model, wire_names, reveal_secrets, omit_none)
    return result


def to_json(
    model: Any, *, wire_names: bool = False, reveal_secrets: bool = False, omit_none: bool = False
) -> str:
    """``to_dict(model, ...)`` as compact JSON text (same options)."""
    exported = to_dict(
        model, wire_names=wire_names, reveal_secrets=reveal_secrets, omit_none=omit_none
    )
    return _json.dumps(exported).decode()
