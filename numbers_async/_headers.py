"""``Headers``: response headers as a read-only mapping that ignores the case of names.

HTTP header names are case-insensitive (RFC 9110 §5.1): ``headers["retry-after"]`` and
``headers["Retry-After"]`` are the same header. aiohttp hands responses over with such a
mapping already (``CIMultiDictProxy``); ``Headers`` is the one the client builds itself —
from what another transport returned (``MockTransport`` answers with it), and for
``ApiError.headers`` — frozen, and unlike aiohttp's proxy it survives ``pickle`` and
``copy`` with the error that holds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["Headers"]


class Headers(Mapping[str, str]):
    """A read-only, case-insensitive mapping of header names to values.

    Names keep the spelling they came with (iteration and ``repr`` show it); lookups
    ignore case. A name given twice keeps its first value.
    """

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        items: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            items.setdefault(name.lower(), (name, value))
        self._items = items

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Headers, (list(self.items()),))
