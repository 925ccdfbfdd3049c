"""Field-level decoding: the error a bad field raises, and what generated decoders call.

``FieldError`` names the path of the field (``activeNumbers[3].money.amount``), the JSON
type expected and what came instead (its JSON type and a short excerpt, never the value
of a secret field). The generated decoders (``_decoders``) call the helpers here: the
scalar conversions (timestamps, money amounts), open enum members, arrays, and the
bounded caches of values shared across a listing.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

from numbers_async._timestamps import parse_datetime

T = TypeVar("T")

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
#: (``[7:20:3]`` is the characters at 7, 10, 13, 16 and 19, compared at once.)
_INLINE_TIMESTAMP = (
    "{v}.__class__ is str and len({v}) == 27 and {v}[26] == 'Z' and {v}[7:20:3] == '-T::.'"
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


# --- what generated decoders share: JSON scalar checks, open enums, arrays, caches ---------------

#: JSON types of the scalar Python types a field may have: (class check, name in errors).
_JSON_SCALARS: dict[Any, tuple[str, str]] = {
    str: ("{v}.__class__ is not str", "a string"),
    int: ("{v}.__class__ is not int", "an integer"),  # bool is not int here
    bool: ("{v}.__class__ is not bool", "a boolean"),
}
#: Bound on each cache of shared decoded values; a full cache is emptied.
_INTERNED_MAX = 4096
#: Every cache of shared values, for tests and for ``clear_caches``.
_CACHES: list[dict[Any, Any]] = []
#: The cache of each model whose values are shared, wherever its decoding is written.
_MODEL_CACHES: dict[type[Any], dict[Any, Any]] = {}


def _is_open_enum(type_: Any) -> bool:
    return isinstance(type_, type) and issubclass(type_, Enum) and issubclass(type_, str)


def _remember(cache: dict[Any, Any], key: Any, value: T) -> T:
    if len(cache) >= _INTERNED_MAX:
        cache.clear()
    cache[key] = value
    return value


def _new_cache() -> dict[Any, Any]:
    cache: dict[Any, Any] = {}
    _CACHES.append(cache)
    return cache


def _cache_for(cls: type[Any]) -> dict[Any, Any]:
    """The one cache of ``cls``'s shared values (a model decoded inside several others)."""
    cache = _MODEL_CACHES.get(cls)
    if cache is None:
        cache = _MODEL_CACHES[cls] = _new_cache()
    return cache


def clear_caches() -> None:
    """Empty every cache of shared decoded values."""
    for cache in _CACHES:
        cache.clear()


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


def _scalar_hook(type_: Any) -> Callable[[Any, Any], Any]:
    """A checked conversion of one array element (text or an open enum)."""
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
    return typing.cast(Callable[[Any, Any], Any], namespace["element"])


class TupleHook(typing.Protocol):
    """Decodes a JSON array into a tuple; ``cache`` holds arrays of text decoded before."""

    cache: dict[Any, Any] | None

    def __call__(self, value: Any) -> tuple[Any, ...]: ...


def _tuple_hook(decode_element: Callable[[Any, Any], Any], shared: bool) -> TupleHook:
    """``tuple[element, ...]`` from a JSON array.

    With ``shared`` (arrays of text or open enums), an array decoded before is the same
    tuple, from the hook's ``cache``.
    """

    def decode_all(value: list[Any] | tuple[Any, ...]) -> tuple[Any, ...]:
        decoded = []
        for index, item in enumerate(value):
            try:
                decoded.append(decode_element(item, None))
            except FieldError as error:
                error.segments.append(f"[{index}]")
                raise
        return tuple(decoded)

    def decode_tuple(value: Any) -> tuple[Any, ...]:
        if value.__class__ is not list and not isinstance(value, (list, tuple)):
            raise FieldError("an array", value)
        return decode_all(value)

    if not shared:
        hook = typing.cast(TupleHook, decode_tuple)
        hook.cache = None
        return hook

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

    hook = typing.cast(TupleHook, decode_shared_tuple)
    hook.cache = cache
    return hook
