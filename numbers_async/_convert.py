"""The one cattrs converter between wire JSON (camelCase) and the models (snake_case).

Decoding: one decoder per model, generated from its attrs field definitions
(``attrs.fields``) the first time the converter is asked for the model's hook, and
registered in the converter through a hook factory. For every field, the generator reads
the field's type and writes the check and conversion that type needs, inline, into one
Python function per model (``decoder_source`` shows it); nothing is written by hand per
model, so a field added to a model is decoded, and checked, without touching this module.

Decoding validates the JSON it is given: a required field (an attrs field without a
default, e.g. ``phone_number``) must be present with the right JSON type, and any other
field, when present and not ``null``, must have the right JSON type. A value of the wrong
type raises ``FieldError`` naming the path (``activeNumbers[3].money.amount``), the
expected type and what came instead (its JSON type and a short excerpt, never the value
of a secret field). Unknown fields are ignored and unknown enum values kept (open enums).

Decoding a page is the client's hottest code (benchmarks B2, B3), so the generated code
is straight-line: one ``dict.get`` and one class check per field, the usual timestamp
form parsed inline, and the value built by setting its slots in field order where that
is all the class's ``__init__`` would do (``_slot_setters``). Immutable values that
repeat across a listing (prices, capability lists, SMS settings, unknown enum values) are
decoded once and shared, in bounded caches (``_INTERNED_MAX``).

Encoding (``unstructure``) omits ``None`` fields (an unset field is never sent) and keeps
``""`` (that is how a number is unlinked from a service plan). ``to_dict`` and ``to_json``
export any model for users, in wire or Python names, with secrets masked.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from numbers_async import _json, models
from numbers_async._timestamps import format_datetime, parse_datetime
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
StructureHook = Callable[[Any, Any], Any]

# --- errors ------------------------------------------------------------------------------------


class _Missing:
    """The value of a field the body left out."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
_EXCERPT = 30


def describe(value: Any, *, secret: bool = False) -> str:
    """What came instead: the JSON type and, unless ``secret``, a short excerpt."""
    if value is MISSING:
        return "nothing (the field is missing)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, (int, float)):
        kind = "number"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, Mapping):
        return "object"
    elif isinstance(value, (list, tuple)):
        return f"array of {len(value)}"
    else:
        return type(value).__name__
    if secret:
        return f"{kind} (value hidden)"
    text = repr(value)
    if len(text) > _EXCERPT:
        text = text[: _EXCERPT - 3] + "..."
    return f"{kind} {text}"


class FieldError(ValueError):
    """A value of the wrong JSON type somewhere in a decoded body.

    ``path`` is where, as the body spells it (``activeNumbers[3].money.amount``);
    ``expected`` the JSON type the field needs; ``got`` what came instead (its JSON type
    and a short excerpt, never the value of a secret field).
    """

    def __init__(self, expected: str, value: Any, *, secret: bool = False) -> None:
        super().__init__(expected)
        self.expected = expected
        self.got = describe(value, secret=secret)
        self.segments: list[str] = []  # innermost first: each level appends its own

    @property
    def path(self) -> str:
        """Where the value was, e.g. ``activeNumbers[3].money.amount`` ('' for the body)."""
        out = ""
        for segment in reversed(self.segments):
            out += segment if segment[:1] == "[" or not out else "." + segment
        return out

    def __str__(self) -> str:
        return f"{self.path or 'body'}: expected {self.expected}, got {self.got}"


def _fail(where: str, expected: str, value: Any, secret: bool) -> typing.NoReturn:
    error = FieldError(expected, value, secret=secret)
    error.segments.append(where)
    raise error


# --- scalar conversions (each raises FieldError without a path) -------------------------------

if sys.version_info >= (3, 11):
    _from_utc_text = datetime.fromisoformat  # reads the trailing "Z" itself
else:  # pragma: no cover - Python 3.10 (nox -s tests_all)

    def _from_utc_text(text: str) -> datetime:
        return datetime.fromisoformat(text[:-1] + "+00:00")  # the same timezone.utc


#: Lengths of 'YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z', the form REST responses use.
_FAST_TIMESTAMP_LENGTHS = frozenset({20, 22, 23, 24, 25, 26, 27})
_TIMESTAMP = "an RFC 3339 timestamp string"


def _when(value: Any) -> datetime:
    """A timestamp field's value (not None).

    The form REST responses use goes straight to ``fromisoformat`` (a tenth of
    ``parse_datetime``'s cost); it reads only digits between the separators checked
    here (``value[7]`` rules out ISO week dates, which Python 3.12+ would accept). Anything
    else, or anything it refuses, goes through ``parse_datetime``, which decides.
    """
    if (
        value.__class__ is str
        and len(value) in _FAST_TIMESTAMP_LENGTHS
        and value[-1] == "Z"
        and value[10] == "T"
        and value[7] == "-"
        and value[13] == ":"
        and value[16] == ":"
        and (len(value) == 20 or value[19] == ".")
    ):
        try:
            return _from_utc_text(value)
        except ValueError:
            pass
    if not isinstance(value, str):
        raise FieldError(_TIMESTAMP, value)
    try:
        return parse_datetime(value)
    except ValueError:
        raise FieldError(_TIMESTAMP, value) from None


def _when_at(value: Any, where: str) -> datetime:
    """``_when(value)`` for the field ``where``."""
    try:
        return _when(value)
    except FieldError as error:
        error.segments.append(where)
        raise


#: The usual form, 'YYYY-MM-DDTHH:MM:SS.ffffffZ', checked inline by generated decoders:
#: the separators ``_when`` checks, at their places in a 27-character string.
_INLINE_TIMESTAMP = (
    "{v}.__class__ is str and len({v}) == 27 and {v}[26] == 'Z' and {v}[19] == '.'"
    " and {v}[16] == ':' and {v}[13] == ':' and {v}[10] == 'T' and {v}[7] == '-'"
)

_DECIMAL = "a decimal string"


def _decimal(value: Any) -> Decimal:
    """A money amount: the API sends a decimal string (a JSON number may have lost digits)."""
    if value.__class__ is not str:
        raise FieldError(_DECIMAL, value)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise FieldError(_DECIMAL, value) from None
    if not amount.is_finite():
        raise FieldError(_DECIMAL, value)
    return amount


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
            where = wire_name(cls, field.name)
            required = field.default is attrs.NOTHING
            self.emit(1, f"{v} = get({where!r}{', _MISSING' if required else ''})")
            if field.init:
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
            if not field.init:
                continue
            self.field(f"v{index}", field)
        setters = _slot_setters(cls) if _BUILD_DIRECT else None
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


#: Build values by setting their slots rather than through ``__init__`` where that is the
#: same thing (``_slot_setters``).
_BUILD_DIRECT = True


def _slot_setters(cls: type[Any]) -> list[Callable[[Any, Any], None]] | None:
    """The slot setters of ``cls``'s fields in field order, or None.

    Only if setting them is all its ``__init__`` does: a slotted class without
    validators, converters, ``init=False`` fields, aliases or init hooks. Otherwise values
    are built through ``__init__``.
    """
    if "__slots__" not in cls.__dict__ or any(
        hasattr(cls, hook) for hook in ("__attrs_pre_init__", "__attrs_post_init__")
    ):
        return None
    setters = []
    for field in attrs.fields(cls):
        descriptor = getattr(cls, field.name, None)
        if (
            not field.init
            or field.validator is not None
            or field.converter is not None
            or field.alias != field.name
            or not isinstance(descriptor, types.MemberDescriptorType)
        ):
            return None
        setters.append(descriptor.__set__)
    return setters


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


def _decoder_factory(conv: cattrs.Converter) -> Callable[[type[Any]], StructureHook]:
    made: dict[type[Any], StructureHook] = {}

    def make_decoder(cls: type[Any]) -> StructureHook:
        if cls in made:
            return made[cls]
        generator = _Generator(conv, cls)
        source = generator.source()
        _SOURCES[cls] = source
        code = compile(source, f"<numbers_async decoder {cls.__name__}>", "exec")
        exec(code, generator.names)  # noqa: S102 - our own generated source
        hook = typing.cast(StructureHook, generator.names[f"decode_{cls.__name__}"])
        hook.handled_fields = tuple(field.name for field in attrs.fields(cls))  # type: ignore[attr-defined]
        made[cls] = hook
        return hook

    return make_decoder


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
        renames: dict[str, Any] = {
            field.name: override(rename=wire_name(cls, field.name)) for field in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **renames)

    return make_encoder


def _enum_value(member: Enum) -> Any:
    return member.value


def make_converter() -> cattrs.Converter:
    """Build a converter configured for the Numbers API wire format."""
    conv = cattrs.Converter(detailed_validation=False, unstruct_collection_overrides={tuple: list})
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_unstructure_hook(Decimal, str)
    # Each enum class directly: as a str subclass it would otherwise be passed through.
    for name in models.__all__:
        enum_cls = getattr(models, name)
        if _is_open_enum(enum_cls):
            conv.register_unstructure_hook(enum_cls, _enum_value)
    conv.register_structure_hook_factory(attrs.has, _decoder_factory(conv))
    conv.register_unstructure_hook_factory(attrs.has, _encoder_factory(conv))
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
