"""Field-level decoding: the error a bad field raises, and the scalar conversions.

``FieldError`` names the path of the field (``activeNumbers[3].money.amount``), the JSON
type expected and what came instead (its JSON type and a short excerpt, never the value
of a secret field). The generated decoders (``_decoders``) call the helpers here.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
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
