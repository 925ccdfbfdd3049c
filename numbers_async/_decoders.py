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
is all the class's ``__init__`` would do (``_slot_setters``). The models a model holds
are decoded in place, not by calling their decoders: a nested model's fields and the
items of an array of models (a page's numbers) are written into the holder's function,
their failures named by the same paths (an array item by its index). Called with
``consume=True`` (a page parsed for this decode only), a decoder takes each item out of
its array as it decodes it, so the item's JSON is freed as soon as its model is built. A
union field reads ``type`` in place and calls
that class's decoder; a model inside itself is decoded by a call too (``_late_hook``).
Immutable values that repeat across a listing (prices, capability lists, SMS settings,
unknown enum values) are decoded once and shared, in bounded caches
(``_fields._INTERNED_MAX``), one per model wherever its decoding is written.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import cattrs

from numbers_async._fields import (
    _DECIMAL,
    _INLINE_TIMESTAMP,
    _JSON_SCALARS,
    _TIMESTAMP,
    MISSING,
    FieldError,
    _cache_for,
    _decimal,
    _fail,
    _from_utc_text,
    _is_open_enum,
    _open_member_maker,
    _open_members,
    _remember,
    _scalar_hook,
    _tuple_hook,
    _when_at,
)
from numbers_async._voice import RAW, UNIONS
from numbers_async.models import Page

T = TypeVar("T")
StructureHook = Callable[[Any, Any], Any]

# --- the decoder generator ---------------------------------------------------------------------

_NONE_TYPE = type(None)
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


class _Generator:
    """Writes one model's decoder from its attrs fields, the models it holds inline."""

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
        self.inside: list[type[Any]] = []  # the models being written, outermost first

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
        if type_ in self.inside:  # a model inside itself: its decoder is being written
            return _late_hook(self.conv, type_)
        return self.conv.get_structure_hook(type_)

    def inline(self, type_: Any) -> bool:
        """Whether values of ``type_`` are decoded in place (a model not already open)."""
        return attrs.has(type_) and type_ not in self.inside

    def check_object(self, indent: int, v: str) -> None:
        """Lines that refuse a ``v`` that is not a JSON object."""
        self.emit(indent, f"if {v}.__class__ is not dict and not isinstance({v}, _Mapping):")
        self.emit(indent + 1, f"raise FieldError('an object', {v})")

    def guarded(self, indent: int, where: str) -> None:
        """Close a ``try:`` opened at ``indent``: a failure inside gets ``where`` on its path."""
        self.emit(indent, "except FieldError as error:")
        self.emit(indent + 1, f"error.segments.append({where!r})")
        self.emit(indent + 1, "raise")

    def source(self) -> str:
        self.emit(0, f"def decode_{self.cls.__name__}(value, _=None, consume=False):")
        self.emit(1, "if value.__class__ is not dict and not isinstance(value, _Mapping):")
        self.emit(2, "raise FieldError('an object', value)")
        self.model(1, self.cls, "value", "result", "v")
        self.emit(1, "return result")
        return "\n".join(self.lines) + "\n"

    def model(self, indent: int, cls: type[Any], value: str, out: str, prefix: str) -> None:
        """Lines that decode ``value`` (a mapping) into an instance of ``cls`` in ``out``.

        Field *i* is read into the local ``{prefix}{i}``, checked and converted there; a
        nested model's fields get that name and ``_`` as their prefix, so no name is reused.
        """
        self.inside.append(cls)
        fields = attrs.fields(attrs.resolve_types(cls))
        get = f"{prefix}get"
        self.emit(indent, f"{get} = {value}.get")
        for index, field in enumerate(fields):
            v = f"{prefix}{index}"
            if not field.init:  # a constant of the class, never read from the body
                self.emit(indent, f"{v} = {self.name(_constant(cls, field), 'constant')}")
            elif field.metadata.get(RAW):  # the whole object, as received
                self.emit(indent, f"{v} = dict({value})")
            else:
                where = wire_name(cls, field.name)
                required = field.default is attrs.NOTHING
                self.emit(indent, f"{v} = {get}({where!r}{', _MISSING' if required else ''})")
        body = indent
        cache = self.name(_cache_for(cls), "cache") if self.internable(fields) else None
        if cache is not None:  # a value seen before is shared: its fields need no checks
            plain = " and ".join(
                f"{prefix}{i} is None"
                if attrs.has(_optional_inner(field.type) or field.type)
                else f"({prefix}{i}.__class__ is str or {prefix}{i} is None)"
                for i, field in enumerate(fields)
            )
            key = "(" + "".join(f"{prefix}{i}, " for i in range(len(fields))) + ")"
            self.emit(indent, f"{prefix}plain = {plain}")
            self.emit(indent, f"if {prefix}plain:")
            self.emit(indent + 1, f"{prefix}key = {key}")
            self.emit(indent + 1, f"{out} = {cache}.get({prefix}key)")
            self.emit(indent, "else:")
            self.emit(indent + 1, f"{out} = None")
            self.emit(indent, f"if {out} is None:")
            body = indent + 1
        for index, field in enumerate(fields):
            if field.init and not field.metadata.get(RAW):
                self.field(body, cls, f"{prefix}{index}", field)
        self.build(body, cls, fields, out, prefix)
        if cache is not None:
            self.emit(body, f"if {prefix}plain:")
            self.emit(body + 1, f"_remember({cache}, {prefix}key, {out})")
        self.inside.pop()

    def build(
        self,
        indent: int,
        cls: type[Any],
        fields: tuple[attrs.Attribute[Any], ...],
        out: str,
        prefix: str,
    ) -> None:
        """The line(s) building the instance of ``cls`` from its decoded fields."""
        cls_name = "_cls" if cls is self.cls else self.name(cls, "cls")
        setters = _slot_setters(cls)
        if setters is None:
            args = [
                f"{prefix}{i}" if not field.kw_only else f"{field.name}={prefix}{i}"
                for i, field in enumerate(fields)
                if field.init
            ]
            self.emit(indent, f"{out} = {cls_name}({', '.join(args)})")
            return
        # What the frozen __init__ does (one slot set per field), without its call.
        self.emit(indent, f"{out} = _new({cls_name})")
        for index, setter in enumerate(setters):
            self.emit(indent, f"{self.name(setter, 'set')}({out}, {prefix}{index})")

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
        elif type_ in UNIONS:
            self.union(indent, v, type_, where, secret)
        elif self.inline(type_):
            self.emit(indent, "try:")
            self.check_object(indent + 1, v)
            self.model(indent + 1, type_, v, v, f"{v}_")
            self.guarded(indent, where)
        elif (element := _tuple_element(type_)) is not None and self.inline(element):
            self.emit(indent, "try:")
            self.items(indent + 1, v, element)
            self.guarded(indent, where)
        else:
            if type_ is Decimal:
                call = f"_decimal({v})"
            elif element is not None:
                call = self.tuple_call(indent, v, element)
            elif attrs.has(type_):  # a model inside itself: through its own decoder
                hook = self.name(self.element_hook(type_), "hook")
                call = f"{hook}({v}, None)"
            else:
                raise TypeError(f"no decoder for {self.cls.__name__} field type {type_!r}")
            self.emit(indent, "try:")
            self.emit(indent + 1, f"{v} = {call}")
            self.guarded(indent, where)

    def tuple_call(self, indent: int, v: str, element: Any) -> str:
        """The call decoding the array ``v`` of ``element``.

        An array of text seen before is looked up here first, without a call.
        """
        shared = element in _JSON_SCALARS or _is_open_enum(element)
        hook = _tuple_hook(self.element_hook(element), shared)
        name = self.name(hook, "tuple")
        if hook.cache is None:
            return f"{name}({v})"
        # The hook's own first step, written here: the usual array is one seen before.
        shared_name = self.name(hook.cache, "shared")
        self.emit(indent, f"if {v}.__class__ is list:")
        self.emit(indent + 1, "try:")
        self.emit(indent + 2, f"{v}_found = {shared_name}.get(tuple({v}))")
        self.emit(indent + 1, "except TypeError:  # an unhashable item: the hook says what")
        self.emit(indent + 2, f"{v}_found = None")
        self.emit(indent, "else:")
        self.emit(indent + 1, f"{v}_found = None")
        return f"{v}_found if {v}_found is not None else {name}({v})"

    def items(self, indent: int, v: str, element: type[Any]) -> None:
        """Lines that decode the array ``v`` of ``element`` models, each in place.

        With ``consume``, each item of a list is dropped from it once it is in hand, so
        it is freed as soon as it is decoded (``_responses.decode_object``).
        """
        item, obj, index = f"{v}_item", f"{v}_obj", f"{v}_index"
        self.emit(indent, f"if {v}.__class__ is not list and not isinstance({v}, (list, tuple)):")
        self.emit(indent + 1, f"raise FieldError('an array', {v})")
        self.emit(indent, f"{v}_items = []")
        self.emit(indent, f"{v}_append = {v}_items.append")
        self.emit(indent, f"{v}_drain = consume and {v}.__class__ is list")
        self.emit(indent, f"for {index}, {item} in enumerate({v}):")
        self.emit(indent + 1, f"if {v}_drain:")
        self.emit(indent + 2, f"{v}[{index}] = None")
        self.emit(indent + 1, "try:")
        self.check_object(indent + 2, item)
        self.model(indent + 2, element, item, obj, f"{v}_")
        self.emit(indent + 1, "except FieldError as error:")
        self.emit(indent + 2, f"error.segments.append(f'[{{{index}}}]')")
        self.emit(indent + 2, "raise")
        self.emit(indent + 1, f"{v}_append({obj})")
        self.emit(indent, f"{v} = tuple({v}_items)")

    def union(self, indent: int, v: str, union: type[Any], where: str, secret: bool) -> None:
        """Lines that check ``v``, read its ``type`` once and call that type's decoder.

        The same steps as the union's own decoder (``_union_source``), written into the
        field's model so that decoding it takes one call, not two. (Writing each class's
        decoding here instead was measured: no faster, and the code several times longer.)
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
        self.guarded(indent + 1, where)
        found, fallback_name = self.name(find, "find"), self.name(fallback, "other")
        self.emit(indent, "try:")
        self.emit(indent + 1, f"{v} = ({found}({kind}) or {fallback_name})({v}, None)")
        self.guarded(indent, where)

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

    def field(self, indent: int, cls: type[Any], v: str, field: attrs.Attribute[Any]) -> None:
        where = wire_name(cls, field.name)
        secret = is_secret(field)
        inner = _optional_inner(field.type)
        type_ = field.type if inner is None else inner
        if field.default is attrs.NOTHING:  # required: present, not null, the right type
            if type_ not in _JSON_SCALARS:  # (a scalar's class check rules these out)
                self.emit(indent, f"if {v} is _MISSING or {v} is None:")
                expected = _expected(type_)
                self.emit(indent + 1, f"_fail({where!r}, {expected!r}, {v}, {secret})")
            self.convert(indent, v, type_, where, secret)
            return
        if (cls, field.name) in _EMPTY_IS_UNSET:
            self.emit(indent, f"if {v} == '':")
            self.emit(indent + 1, f"{v} = None")
        if inner is None:  # not Optional, but with a default: null means "not set"
            self.emit(indent, f"if {v} is None:")
            default_value: Any = field.default
            if isinstance(default_value, attrs.Factory):  # type: ignore[arg-type]
                if default_value.takes_self:
                    raise TypeError(f"{cls.__name__}.{field.name}: a default taking self")
                factory = self.name(default_value.factory, "factory")
                self.emit(indent + 1, f"{v} = {factory}()")
            else:
                default = self.name(field.default, "default")
                self.emit(indent + 1, f"{v} = {default}")
            self.emit(indent, "else:")
            self.convert(indent + 1, v, type_, where, secret)
            return
        if type_ in _JSON_SCALARS:  # the common case, one line: the type or None
            check, expected = _JSON_SCALARS[type_]
            self.emit(indent, f"if {check.format(v=v)} and {v} is not None:")
            self.emit(indent + 1, f"_fail({where!r}, {expected!r}, {v}, {secret})")
            return
        self.emit(indent, f"if {v} is not None:")
        self.convert(indent + 1, v, type_, where, secret)


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


def _late_hook(conv: cattrs.Converter, cls: type[Any]) -> StructureHook:
    """``cls``'s decoder, looked up at its first call (once it has been written)."""
    found: list[StructureHook] = []

    def decode_later(value: Any, _: Any = None) -> Any:
        if not found:
            found.append(conv.get_structure_hook(cls))
        return found[0](value, None)

    return decode_later


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
