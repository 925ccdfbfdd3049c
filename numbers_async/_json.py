"""JSON encode/decode: orjson when it is installed (the ``fast`` extra), else the stdlib.

Both raise a ``ValueError`` subclass on malformed input.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["dumps", "loads"]

loads: Callable[[bytes | str], Any]
dumps: Callable[[Any], bytes]


def _stdlib_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


try:
    import orjson
except ImportError:  # pragma: no cover - depends on the installed extras
    loads = json.loads
    dumps = _stdlib_dumps
else:
    loads = orjson.loads
    dumps = orjson.dumps
