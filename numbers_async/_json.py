"""JSON encode/decode: orjson when it is installed (the ``fast`` extra), else the stdlib.

Both raise a ``ValueError`` subclass on malformed input, and both refuse the same numbers:
``NaN``, ``Infinity`` and ``-Infinity`` (not JSON, though the stdlib reads them by
default) and numbers too large for a double (``1e999999``). An integer outside the 64-bit
range becomes a float in both, as orjson does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["dumps", "loads"]

loads: Callable[[bytes | str], Any]
dumps: Callable[[Any], bytes]

_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1


def _stdlib_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number out of range (infinite as a double): {text[:40]}")
    return value


def _bounded_int(text: str) -> int | float:
    value = int(text)  # over 4300 digits, a ValueError: out of range either way
    if _INT64_MIN <= value <= _UINT64_MAX:
        return value
    return _finite_float(text)


def _stdlib_loads(data: bytes | str) -> Any:
    """``json.loads`` refusing what orjson refuses (see the module docstring)."""
    return json.loads(
        data, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int
    )


try:
    import orjson
except ImportError:  # pragma: no cover - depends on the installed extras
    loads = _stdlib_loads
    dumps = _stdlib_dumps
else:
    loads = orjson.loads
    dumps = orjson.dumps
