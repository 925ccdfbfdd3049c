"""The decoder generator: one decoder per model, written from its attrs fields.

The first time the converter is asked for a model's hook, ``_decoder_factory`` reads each
field's type from ``attrs.fields`` and writes the check and conversion that type needs,
inline, into one Python function per model (``numbers_async._convert.decoder_source``
shows it). Nothing is written by hand per model, so a field added to a model is decoded,
and checked, without touching this module.

A required field (an attrs field without a default, e.g. ``phone_number``) must be
present with the right JSON type; any other field, when present and not ``null``, must
have the right JSON type. Unknown fields are ignored and unknown enum values kept. A field
that is not an ``__init__`` argument is a constant of its class (a voice configuration's
``type``): it is never read from the body.

A union of models discriminated by a member of the body (the voice configurations, by
``type``: ``_voice.UNIONS``) gets a decoder that reads that member once and hands the
body to its class's decoder; a value it does not know goes to the union's catch-all
class, whose ``RAW`` field keeps the whole object.

Decoding a page is the client's hottest code (benchmarks B2, B3), so the generated code
is straight-line: one ``dict.get`` and one class check per field, the usual timestamp
form parsed inline, and the value built by setting its slots in field order where that
is all the class's ``__init__`` would do (``_slot_setters``). Immutable values that
repeat across a listing (prices, capability lists, SMS settings, unknown enum values) are
decoded once and shared, in bounded caches (``_INTERNED_MAX``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import attrs
import cattrs

from numbers_async._fields import (
    _DECIMAL,
    _INLINE_TIMESTAMP,
    _TIMESTAMP,
    MISSING,
    FieldError,
    _decimal,
    _fail,
    _from_utc_text,
    _when_at,
)
from numbers_async._voice import RAW, UNIONS
from numbers_async.models import Page

T = TypeVar("T")
StructureHook = Callable[[Any, Any], Any]

# --- the decoder generator ---------------------------------------------------------------------

_NONE_TYPE = type(None)
#: JSON types of the scalar Python types a field may have: (class check, name in errors).
_JSON_SCALARS: dict[Any, tuple[str, str]] = {
    str: ("{v}.__class__ is not str", "a string"),
    int: ("{v}.__class__ is not int", "an integer"),  # bool is not int here
    bool: ("{v}.__class__ is not bool", "a boolean"),
}
#: Bound on each cache of shared decoded values; a full cache is emptied.
_INTERNED_MAX = 4096
#: Fields whose wire name is not their name in camelCase (the list envelope).
_WIRE_NAMES: dict[tuple[type[Any], str], str] = {(Page, "items"): "activeNumbers"}
#: Fields for which the API's "" means "not set" (the last page's token).
_EMPTY_IS_UNSET: frozenset[tuple[type[Any], str]] = frozenset({(Page, "next_page_token")})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def wire_name(cls: type[Any], field: str) -> str:
    """The JSON name of ``cls``'s attribute ``field``."""
    return _WIRE_NAMES.get((cls, field)) or _camel(field)


def is_secret(field: attrs.Attribute[Any]) -> bool:
    """A field hidden from its model's repr (``hmac_secret``): never shown, never excerpted."""
    return field.repr is not True


def _optional_inner(type_: Any) -> Any | None:
    """``X`` for ``X | None``, else None."""
    args = typing.get_args(type_)
    if (
        typing.get_origin(type_) in (typing.Union, types.UnionType)
        and len(args) == 2
        and _NONE_TYPE in args
    ):
        return args[0] if args[1] is _NONE_TYPE else args[1]
    return None


def _tuple_element(type_: Any) -> Any | None:
    """``X`` for ``tuple[X, ...]``, else None."""
    args = typing.get_args(type_)
    if typing.get_origin(type_) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _is_open_enum(type_: Any) -> bool:
    return isinstance(type_, type) and issubclass(type_, Enum) and issubclass(type_, str)


def _remember(cache: dict[Any, Any], key: Any, value: T) -> T:
    if len(cache) >= _INTERNED_MAX:
        cache.clear()
    cache[key] = value
    return value


#: Every cache of shared values, for tests and for ``clear_caches``.
_CACHES: list[dict[Any, Any]] = []


def _new_cache() -> dict[Any, Any]:
    cache: dict[Any, Any] = {}
    _CACHES.append(cache)
    return cache


def clear_caches() -> None:
    """Empty every cache of shared decoded values."""
    for cache in _CACHES:
        cache.clear()


class _Generator:
    """Writes one model's decoder from its attrs fields."""

    def __init__(self, conv: cattrs.Converter, cls: type[Any]) -> None:
        self.conv = conv
        self.cls = cls
        self.names: dict[str, Any] = {
            "_cls": cls,
            "_fail": _fail,
            "FieldError": FieldError,
            "_MISSING": MISSING,
            "_Mapping": Mapping,
            "_when_at": _when_at,
            "_fromiso": _from_utc_text,
            "_decimal": _decimal,
            "_remember": _remember,
            "_new": object.__new__,
        }
        self.lines: list[str] = []

    def name(self, value: Any, prefix: str) -> str:
        """A global of the generated function holding ``value``."""
        key = f"_{prefix}{len(self.names)}"
        self.names[key] = value
        return key

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def element_hook(self, type_: Any) -> StructureHook:
        if type_ in _JSON_SCALARS or _is_open_enum(type_):
            return _scalar_hook(type_)
        return self.conv.get_structure_hook(type_)

    def convert(self, indent: int, v: str, type_: Any, where: str, secret: bool) -> None:
        """Lines that check ``v`` (known not None) against ``type_`` and convert it in place."""
        if type_ in _JSON_SCALARS:
            check, expected = _JSON_SCALARS[type_]
            self.emit(indent, f"if {check.format(v=v)}:")
            self.emit(indent + 1, f"_fail({where!r}, {expected!r}, {v}, {secret})")
        elif _is_open_enum(type_):
            members = _open_members(type_)
            known = self.name(members.get, "known")
            make = self.name(_open_member_maker(type_, members), "enum")
            self.emit(indent, f"if {v}.__class__ is str:")
            self.emit(indent + 1, f"{v} = {known}({v}) or {make}({v})")
            self.emit(indent, "else:")
            self.emit(indent + 1, f"_fail({where!r}, 'a string', {v}, {secret})")
        elif type_ is datetime:  # the usual form inline, any other through _when
            self.emit(indent, f"if {_INLINE_TIMESTAMP.format(v=v)}:")
            self.emit(indent + 1, "try:")
            self.emit(indent + 2, f"{v} = _fromiso({v})")
            self.emit(indent + 1, "except ValueError:")
            self.emit(indent + 2, f"{v} = _when_at({v}, {where!r})")
            self.emit(indent, "else:")
            self.emit(indent + 1, f"{v} = _when_at({v}, {where!r})")
        else:
            if type_ is Decimal:
                call = f"_decimal({v})"
            elif _tuple_element(type_) is not None:
                hook = self.name(_tuple_hook(self, _tuple_element(type_)), "tuple")
                call = f"{hook}({v})"
            elif type_ in UNIONS:  # the union's dispatch, inline: one call fewer per value
                call = self.union_dispatch(indent, v, type_, where, secret)
            elif attrs.has(type_):
                hook = self.name(self.conv.get_structure_hook(type_), "hook")
                call = f"{hook}({v}, None)"
            else:
                raise TypeError(f"no decoder for {self.cls.__name__} field type {type_!r}")
            self.emit(indent, "try:")
            self.emit(indent + 1, f"{v} = {call}")
            self.emit(indent, "except FieldError as error:")
            self.emit(indent + 1, f"error.segments.append({where!r})")
            self.emit(indent + 1, "raise")

    def union_dispatch(
        self, indent: int, v: str, union: type[Any], where: str, secret: bool
    ) -> str:
        """Lines that check ``v`` and read its ``type``; returns the call that decodes it.

        The same steps as the union's own decoder (``_union_source``), written into the
        field's model so that decoding it takes one call, not two.
        """
        by_type, other, default = UNIONS[union]
        find = {kind: self.conv.get_structure_hook(cls) for kind, cls in by_type.items()}.get
        fallback = self.conv.get_structure_hook(other)
        kind = f"{v}_type"
        self.emit(indent, f"if {v}.__class__ is not dict and not isinstance({v}, _Mapping):")
        self.emit(indent + 1, f"_fail({where!r}, 'an object', {v}, {secret})")
        self.emit(indent, f"{kind} = {v}.get('type')")
        self.emit(indent, f"if {kind} is None:")
        self.emit(indent + 1, f"{kind} = {default!r}")
        self.emit(indent, f"elif {kind}.__class__ is not str:")
        self.emit(indent + 1, "try:")
        self.emit(indent + 2, f"_fail('type', 'a string', {kind}, False)")
        self.emit(indent + 1, "except FieldError as error:")
        self.emit(indent + 2, f"error.segments.append({where!r})")
        self.emit(indent + 2, "raise")
        found, fallback_name = self.name(find, "find"), self.name(fallback, "other")
        return f"({found}({kind}) or {fallback_name})({v}, None)"

    def internable(self, fields: tuple[attrs.Attribute[Any], ...]) -> bool:
        """Whether values of the model are worth sharing.

        They are if every field is text, a number, an enum or a nested model: no
        timestamps (they differ from number to number), no lists, no secrets.
        """
        for field in fields:
            type_ = _optional_inner(field.type) or field.type
            if is_secret(field) or type_ is datetime or _tuple_element(type_) is not None:
                return False
        return bool(fields)

    def source(self) -> str:
        cls = self.cls
        fields = attrs.fields(attrs.resolve_types(cls))
        intern = self.internable(fields)
        self.emit(0, f"def decode_{cls.__name__}(value, _=None):")
        self.emit(1, "if value.__class__ is not dict and not isinstance(value, _Mapping):")
        self.emit(2, "raise FieldError('an object', value)")
        self.emit(1, "get = value.get")
        args: list[str] = []
        for index, field in enumerate(fields):
            v = f"v{index}"
            if not field.init:  # a constant of the class, never read from the body
                self.emit(1, f"{v} = {self.name(_constant(cls, field), 'constant')}")
                continue
            if field.metadata.get(RAW):  # the whole object, as received
                self.emit(1, f"{v} = dict(value)")
            else:
                where = wire_name(cls, field.name)
                required = field.default is attrs.NOTHING
                self.emit(1, f"{v} = get({where!r}{', _MISSING' if required else ''})")
            args.append(v if not field.kw_only else f"{field.name}={v}")
        if intern:
            cache = self.name(_new_cache(), "cache")
            plain = " and ".join(
                f"v{i} is None"
                if attrs.has(_optional_inner(field.type) or field.type)
                else f"(v{i}.__class__ is str or v{i} is None)"
                for i, field in enumerate(fields)
            )
            key = "(" + "".join(f"v{i}, " for i in range(len(fields))) + ")"
            self.emit(1, f"plain = {plain}")
            self.emit(1, "if plain:")
            self.emit(2, f"found = {cache}.get({key})")
            self.emit(2, "if found is not None:")
            self.emit(3, "return found")
            self.emit(2, f"key = {key}")
        for index, field in enumerate(fields):
            if field.init and not field.metadata.get(RAW):
                self.field(f"v{index}", field)
        setters = _slot_setters(cls)
        if setters is None:
            self.emit(1, f"result = _cls({', '.join(args)})")
        else:
            # What the frozen __init__ does (one slot set per field), without its call.
            self.emit(1, "result = _new(_cls)")
            for index, setter in enumerate(setters):
                self.emit(1, f"{self.name(setter, 'set')}(result, v{index})")
        if intern:
            self.emit(1, "if plain:")
            self.emit(2, f"_remember({cache}, key, result)")
        self.emit(1, "return result")
        return "\n".join(self.lines) + "\n"

    def field(self, v: str, field: attrs.Attribute[Any]) -> None:
        cls = self.cls
        where = wire_name(cls, field.name)
        secret = is_secret(field)
        inner = _optional_inner(field.type)
        type_ = field.type if inner is None else inner
        if field.default is attrs.NOTHING:  # required: present, not null, the right type
            if type_ not in _JSON_SCALARS:  # (a scalar's class check rules these out)
                self.emit(1, f"if {v} is _MISSING or {v} is None:")
                expected = _expected(type_)
                self.emit(2, f"_fail({where!r}, {expected!r}, {v}, {secret})")
            self.convert(1, v, type_, where, secret)
            return
        if (cls, field.name) in _EMPTY_IS_UNSET:
            self.emit(1, f"if {v} == '':")
            self.emit(2, f"{v} = None")
        if inner is None:  # not Optional, but with a default: null means "not set"
            self.emit(1, f"if {v} is None:")
            default_value: Any = field.default
            if isinstance(default_value, attrs.Factory):  # type: ignore[arg-type]
                if default_value.takes_self:
                    raise TypeError(f"{cls.__name__}.{field.name}: a default taking self")
                factory = self.name(default_value.factory, "factory")
                self.emit(2, f"{v} = {factory}()")
            else:
                default = self.name(field.default, "default")
                self.emit(2, f"{v} = {default}")
            self.emit(1, "else:")
            self.convert(2, v, type_, where, secret)
            return
        if type_ in _JSON_SCALARS:  # the common case, one line: the type or None
            check, expected = _JSON_SCALARS[type_]
            self.emit(1, f"if {check.format(v=v)} and {v} is not None:")
            self.emit(2, f"_fail({where!r}, {expected!r}, {v}, {secret})")
            return
        self.emit(1, f"if {v} is not None:")
        self.convert(2, v, type_, where, secret)


def _slot_setters(cls: type[Any]) -> list[Callable[[Any, Any], None]] | None:
    """The slot setters of ``cls``'s fields in field order, or None.

    Only if setting them is all its ``__init__`` does: a slotted class without
    validators, converters, aliases, init hooks or ``init=False`` fields other than
    constants. Otherwise values are built through ``__init__``.
    """
    if "__slots__" not in cls.__dict__ or any(
        hasattr(cls, hook) for hook in ("__attrs_pre_init__", "__attrs_post_init__")
    ):
        return None
    setters = []
    for field in attrs.fields(cls):
        descriptor = getattr(cls, field.name, None)
        if (
            (not field.init and isinstance(field.default, attrs.Factory))  # type: ignore[arg-type]
            or field.validator is not None
            or field.converter is not None
            or field.alias != field.name
            or not isinstance(descriptor, types.MemberDescriptorType)
        ):
            return None
        setters.append(descriptor.__set__)
    return setters


def _constant(cls: type[Any], field: attrs.Attribute[Any]) -> Any:
    """The value of a field that is not an ``__init__`` argument: its plain default."""
    if field.default is attrs.NOTHING or isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
        raise TypeError(f"{cls.__name__}.{field.name}: init=False needs a plain default")
    return field.default


def _expected(type_: Any) -> str:
    if type_ in _JSON_SCALARS:
        return _JSON_SCALARS[type_][1]
    if _is_open_enum(type_):
        return "a string"
    if type_ is datetime:
        return _TIMESTAMP
    if type_ is Decimal:
        return _DECIMAL
    if _tuple_element(type_) is not None:
        return "an array"
    return "an object"


_MEMBERS: dict[type[Any], dict[str, Any]] = {}


def _open_members(enum_cls: type[Any]) -> dict[str, Any]:
    """Value -> member for ``enum_cls``: its members, and the unknown values seen so far."""
    members = _MEMBERS.get(enum_cls)
    if members is None:
        members = _MEMBERS[enum_cls] = dict(enum_cls._value2member_map_)
    return members


def _open_member_maker(enum_cls: type[Any], members: dict[str, Any]) -> Callable[[str], Any]:
    """A function building the member for a value not in ``members`` yet.

    An unknown value's pseudo-member is built once and shared (a bounded number of them).
    """
    known = len(members)

    def make(value: str) -> Any:
        if len(members) >= known + _INTERNED_MAX:  # forget the unknown values seen
            for extra in list(members)[known:]:
                del members[extra]
        member = members[value] = enum_cls(value)
        return member

    return make


def _scalar_hook(type_: Any) -> StructureHook:
    """A checked conversion of one list element (text or an open enum)."""
    if _is_open_enum(type_):
        members = _open_members(type_)
        known = members.get
        make = _open_member_maker(type_, members)

        def element_enum(value: Any, _: Any = None) -> Any:
            if value.__class__ is not str:
                raise FieldError("a string", value)
            return known(value) or make(value)

        return element_enum
    check, expected = _JSON_SCALARS[type_]
    code = compile(
        f"def element(value, _=None):\n"
        f"    if {check.format(v='value')}:\n"
        f"        raise FieldError({expected!r}, value)\n"
        f"    return value\n",
        f"<numbers_async element decoder {type_.__name__}>",
        "exec",
    )
    namespace: dict[str, Any] = {"FieldError": FieldError}
    exec(code, namespace)  # noqa: S102 - our own generated source
    return typing.cast(StructureHook, namespace["element"])


def _tuple_hook(generator: _Generator, element: Any) -> Callable[[Any], tuple[Any, ...]]:
    """``tuple[element, ...]`` from a JSON array; arrays of plain text are decoded once."""
    decode_element = generator.element_hook(element)

    def decode_all(value: list[Any] | tuple[Any, ...]) -> tuple[Any, ...]:
        decoded = []
        for index, item in enumerate(value):
            try:
                decoded.append(decode_element(item, None))
            except FieldError as error:
                error.segments.append(f"[{index}]")
                raise
        return tuple(decoded)

    if not (element in _JSON_SCALARS or _is_open_enum(element)):

        def decode_tuple(value: Any) -> tuple[Any, ...]:
            if value.__class__ is not list and not isinstance(value, (list, tuple)):
                raise FieldError("an array", value)
            return decode_all(value)

        return decode_tuple

    cache = _new_cache()

    def decode_shared_tuple(value: Any) -> tuple[Any, ...]:
        if value.__class__ is not list and not isinstance(value, (list, tuple)):
            raise FieldError("an array", value)
        key = tuple(value)
        try:
            found: tuple[Any, ...] | None = cache.get(key)
        except TypeError:  # an object in the array: not hashable, and not valid either
            found = None
        if found is not None:
            return found
        result = decode_all(value)
        if all(item.__class__ is str for item in key):
            _remember(cache, key, result)
        return result

    return decode_shared_tuple


_SOURCES: dict[type[Any], str] = {}


def _union_source(conv: cattrs.Converter, base: type[Any]) -> tuple[str, dict[str, Any]]:
    """The decoder of a union: ``type`` read once, then its class's decoder.

    A missing or ``null`` ``type`` is the union's default; a value no class claims (a
    type newer than this version) goes to the catch-all class, which keeps it all.
    """
    by_type, other, default = UNIONS[base]
    names: dict[str, Any] = {
        "_fail": _fail,
        "FieldError": FieldError,
        "_Mapping": Mapping,
        "_find": {kind: conv.get_structure_hook(cls) for kind, cls in by_type.items()}.get,
        "_other": conv.get_structure_hook(other),
    }
    source = (
        f"def decode_{base.__name__}(value, _=None):\n"
        "    if value.__class__ is not dict and not isinstance(value, _Mapping):\n"
        "        raise FieldError('an object', value)\n"
        "    kind = value.get('type')\n"
        "    if kind is None:\n"
        f"        kind = {default!r}\n"
        "    elif kind.__class__ is not str:\n"
        "        _fail('type', 'a string', kind, False)\n"
        "    return (_find(kind) or _other)(value, None)\n"
    )
    return source, names


def _decoder_factory(conv: cattrs.Converter) -> Callable[[type[Any]], StructureHook]:
    made: dict[type[Any], StructureHook] = {}

    def make_decoder(cls: type[Any]) -> StructureHook:
        if cls in made:
            return made[cls]
        if cls in UNIONS:
            source, names = _union_source(conv, cls)
        else:
            generator = _Generator(conv, cls)
            source, names = generator.source(), generator.names
        _SOURCES[cls] = source
        code = compile(source, f"<numbers_async decoder {cls.__name__}>", "exec")
        exec(code, names)  # noqa: S102 - our own generated source
        hook = typing.cast(StructureHook, names[f"decode_{cls.__name__}"])
        hook.handled_fields = tuple(field.name for field in attrs.fields(cls))  # type: ignore[attr-defined]
        made[cls] = hook
        return hook

    return make_decoder
