"""``Headers``: response headers as a read-only mapping that ignores the case of names.

HTTP header names are case-insensitive (RFC 9110 §5.1): ``headers["retry-after"]`` and
``headers["Retry-After"]`` are the same header. aiohttp hands responses over with such a
mapping already (``CIMultiDictProxy``); ``Headers`` is the one the client builds itself —
from what another transport returned (``MockTransport`` answers with it), and for
``ApiError.headers`` — frozen, and unlike aiohttp's proxy it survives ``pickle`` and
``copy`` with the error that holds it.

``request_id`` reads the id the server gave an answer, for quoting to support: the
header names are in ``REQUEST_ID_HEADERS`` (docs/api-facts.md#request-ids says why).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

__all__ = ["REQUEST_ID_HEADERS", "Headers", "request_id"]

#: Where an answer carries its request id, in the order they are read. Sinch documents no
#: header of its own; its edge is Envoy, whose request id is ``x-request-id``, the name
#: most gateways use (docs/api-facts.md#request-ids).
REQUEST_ID_HEADERS: Final = ("x-request-id",)


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


def request_id(headers: Mapping[str, str] | None) -> str | None:
    """The request id an answer's ``headers`` carry (``REQUEST_ID_HEADERS``), if any.

    ``headers`` must ignore the case of names (``Headers``, or aiohttp's own).
    """
    if not headers:
        return None
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None
