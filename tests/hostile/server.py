"""A loopback server that misbehaves on demand: the hostile counterpart of the fake.

``HostileServer`` answers every Numbers API route and the OAuth2 token endpoint with a
plausible, well-formed body unless a test picks a misbehaviour for the route::

    server.on("rent", redirect(302))            # every rent is answered 302
    server.on("get_active", truncated_json(), times=1)  # only the first get_active

A misbehaviour (a ``Behaviour``) is an async function of the request in hand (a ``Hit``)
returning the response; the factories below build the common ones. Rules for a route are
tried in the order given; a rule whose ``times`` is spent is skipped, and when none is left
the request gets the plausible answer. Every request is logged in ``received`` on arrival
(before it is answered), so a test can assert exactly what the server was asked.

The server keeps just enough state to be believable: tokens are issued as ``tok-1``,
``tok-2``... and can be revoked (a revoked token is answered ``401`` *without*
``error="expired"``), and a number rented once answers ``404`` to a second rent, as the
real API does.
"""

from __future__ import annotations

import asyncio
import json
import re
import struct
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote

import attrs
from aiohttp import web

from numbers_async import NumbersClient

PROJECT_ID = "hostile-project"
KEY_ID = "hostile-key-id"
KEY_SECRET = "hostile-key-secret"
PHONE = "+12025550134"
"""The number the plausible answers talk about when the path names none."""

MiB = 1 << 20
GiB = 1 << 30

_PROJECT = r"/v1/projects/(?P<project>[^/]+)"
_PHONE = r"(?P<phone>[^/:]+)"
_ROUTES: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (method, name, re.compile(pattern))
    for method, name, pattern in (
        ("POST", "token", r"/oauth2/token"),
        ("GET", "list_regions", _PROJECT + r"/availableRegions"),
        ("GET", "search_available", _PROJECT + r"/availableNumbers"),
        ("POST", "rent_any", _PROJECT + r"/availableNumbers:rentAny"),
        ("GET", "get_available", _PROJECT + r"/availableNumbers/" + _PHONE),
        ("POST", "rent", _PROJECT + r"/availableNumbers/" + _PHONE + r":rent"),
        ("GET", "list_active", _PROJECT + r"/activeNumbers"),
        ("GET", "get_active", _PROJECT + r"/activeNumbers/" + _PHONE),
        ("PATCH", "update_active", _PROJECT + r"/activeNumbers/" + _PHONE),
        ("POST", "release", _PROJECT + r"/activeNumbers/" + _PHONE + r":release"),
        ("GET", "get_callbacks", _PROJECT + r"/callbackConfiguration"),
        ("PATCH", "update_callbacks", _PROJECT + r"/callbackConfiguration"),
        # Reached only through client.request: a Number Order, as the reference shows one.
        ("POST", "create_number_order", _PROJECT + r"/numberOrders:createNumberOrder"),
    )
)
_LANDING = re.compile(r"/landing/(?P<route>[a-z_]+)")

Json = dict[str, Any]


@attrs.frozen
class Received:
    """One request as the server received it.

    ``route`` is the operation's name (``"rent"``, ``"token"``...), ``"landing"`` for the
    target of a redirect, ``"unknown"`` for anything else. ``query`` holds the decoded pairs.
    """

    method: str
    path: str
    route: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    body: bytes
    phone: str | None

    @property
    def page_token(self) -> str | None:
        """The ``pageToken`` query parameter, if sent."""
        return dict(self.query).get("pageToken")

    @property
    def bearer(self) -> str | None:
        """The bearer token sent, if any."""
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        return value if scheme.lower() == "bearer" else None


@attrs.define
class Hit:
    """A request in hand: what a ``Behaviour`` answers."""

    server: HostileServer
    request: web.BaseRequest
    received: Received

    @property
    def route(self) -> str:
        return self.received.route

    def plausible(self) -> tuple[int, Json]:
        """Handle the request as a well-behaved server would: ``(status, JSON body)``.

        State changes happen here (a rent marks the number rented), so a behaviour that
        calls it has "processed" the request whatever it answers afterwards.
        """
        return self.server.plausible(self.received)

    def plausible_bytes(self) -> tuple[int, bytes]:
        status, body = self.plausible()
        return status, json.dumps(body).encode()


Behaviour = Callable[[Hit], Awaitable[web.StreamResponse]]


@attrs.define
class _Rule:
    behaviour: Behaviour
    remaining: int | None


class HostileServer:
    """The Numbers API and its token endpoint on loopback, misbehaving where told to."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        """Every request in arrival order, logged before it is answered."""
        self.revoked: set[str] = set()
        """Bearer tokens answered ``401`` without ``error="expired"``."""
        self.revoke_every_token = False
        """Answer every bearer request ``401`` (as if each token were revoked on issue)."""
        self.rented: set[str] = set()
        """Numbers rented (by a plausible rent or rentAny); a second rent answers 404."""
        self.issued = 0
        """Tokens issued so far; the next one is ``tok-{issued + 1}``."""
        self.orders: list[str] = []
        """The ids of the number orders created (by a plausible createNumberOrder)."""
        self._rules: dict[str, list[_Rule]] = {}
        self._runner: web.ServerRunner | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        server = web.Server(self._handle, access_log=None)
        runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> HostileServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_url(self) -> str:
        return f"{self.url}/oauth2/token"

    def client(self, **kwargs: Any) -> NumbersClient:
        """A client pointed at this server; ``kwargs`` go to ``NumbersClient``."""
        return NumbersClient(
            PROJECT_ID, KEY_ID, KEY_SECRET, base_url=self.url, auth_url=self.auth_url, **kwargs
        )

    # -- choosing misbehaviour -------------------------------------------------------------

    def on(self, route: str, behaviour: Behaviour, *, times: int | None = None) -> None:
        """Answer requests on ``route`` with ``behaviour``: the next ``times``, or all."""
        if route not in {name for _, name, _ in _ROUTES}:
            raise ValueError(f"unknown route {route!r}")
        self._rules.setdefault(route, []).append(_Rule(behaviour, times))

    def revoke(self, *tokens: str) -> None:
        """Answer these bearer tokens ``401`` (no ``error="expired"``) from now on."""
        self.revoked.update(tokens)

    # -- what was received -------------------------------------------------------------------

    def routes(self) -> list[str]:
        """The route of every request, token endpoint included, in order."""
        return [r.route for r in self.received]

    def api_calls(self) -> list[tuple[str, str]]:
        """``(method, route)`` of every request but the token endpoint's, in order."""
        return [(r.method, r.route) for r in self.received if r.route != "token"]

    def requests_for(self, route: str) -> list[Received]:
        return [r for r in self.received if r.route == route]

    # -- answering ---------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        path = unquote(request.rel_url.raw_path)
        route, phone = _resolve(request.method, path)
        received = Received(
            method=request.method,
            path=request.rel_url.raw_path,
            route=route,
            query=tuple(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True)),
            headers=dict(request.headers),
            body=body,
            phone=phone,
        )
        self.received.append(received)
        hit = Hit(self, request, received)
        if route == "landing":
            target = _LANDING.fullmatch(path)
            landed = attrs.evolve(received, route=target["route"] if target else "unknown")
            status, value = self.plausible(landed)
            return _json_response(status, value)
        if route not in ("token", "unknown") and self._is_revoked(received.bearer):
            return _json_response(
                401,
                _envelope(401, "UNAUTHENTICATED", "The access token was revoked"),
                {"WWW-Authenticate": 'Bearer realm="sinch"'},
            )
        behaviour = self._pick(route)
        if behaviour is None:
            status, value = hit.plausible()
            return _json_response(status, value)
        return await behaviour(hit)

    def _is_revoked(self, token: str | None) -> bool:
        return token is not None and (self.revoke_every_token or token in self.revoked)

    def _pick(self, route: str) -> Behaviour | None:
        for rule in self._rules.get(route, ()):
            if rule.remaining == 0:
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
            return rule.behaviour
        return None

    def plausible(self, received: Received) -> tuple[int, Json]:
        """What a well-behaved server answers ``received``; a rent changes state."""
        phone = received.phone or PHONE
        route = received.route
        if route == "token":
            self.issued += 1
            return 200, {
                "access_token": f"tok-{self.issued}",
                "token_type": "bearer",
                "expires_in": 3600,
                "scope": "",
            }
        if route == "list_regions":
            region = {"regionCode": "US", "regionName": "United States", "types": ["LOCAL"]}
            return 200, {"availableRegions": [region]}
        if route == "search_available":
            return 200, {"availableNumbers": [available_number(phone)]}
        if route == "get_available":
            return 200, available_number(phone)
        if route == "rent":
            if phone in self.rented:
                return 404, _envelope(404, "NOT_FOUND", f"Number {phone} is not available")
            self.rented.add(phone)
            return 200, active_number(phone)
        if route == "rent_any":
            self.rented.add(phone)
            return 200, active_number(phone)
        if route == "list_active":
            return 200, {
                "activeNumbers": [active_number(phone)],
                "nextPageToken": "",
                "totalSize": 1,
            }
        if route in ("get_active", "update_active"):
            return 200, active_number(phone)
        if route == "release":
            return 200, {**active_number(phone), "expireAt": "2026-12-29T00:00:00Z"}
        if route == "create_number_order":
            order_id = f"order-{len(self.orders) + 1}"
            self.orders.append(order_id)
            return 200, number_order(order_id)
        if route in ("get_callbacks", "update_callbacks"):
            return 200, {"projectId": PROJECT_ID, "hmacSecret": "h" * 32}
        return 404, _envelope(404, "NOT_FOUND", f"No such operation: {received.method} {phone}")


# -- plausible bodies ------------------------------------------------------------------------


def active_number(phone: str = PHONE) -> Json:
    """A complete, well-formed ``ActiveNumber``."""
    return {
        "phoneNumber": phone,
        "projectId": PROJECT_ID,
        "displayName": "",
        "regionCode": "US",
        "type": "LOCAL",
        "capability": ["SMS", "VOICE"],
        "money": {"currencyCode": "USD", "amount": "2.00"},
        "paymentIntervalMonths": 1,
        "nextChargeDate": "2026-12-29T00:00:00Z",
        "expireAt": None,
        "smsConfiguration": {"servicePlanId": "", "campaignId": ""},
        "voiceConfiguration": {"appId": ""},
        "callbackUrl": "",
    }


def available_number(phone: str = PHONE) -> Json:
    """A complete, well-formed ``AvailableNumber``."""
    return {
        "phoneNumber": phone,
        "regionCode": "US",
        "type": "LOCAL",
        "capability": ["SMS", "VOICE"],
        "setupPrice": {"currencyCode": "USD", "amount": "0.00"},
        "monthlyPrice": {"currencyCode": "USD", "amount": "2.00"},
        "paymentIntervalMonths": 1,
        "supportingDocumentationRequired": False,
    }


def number_order(order_id: str, phone: str = "+493055501234") -> Json:
    """A ``NumberOrder`` just created for ``phone`` (the members of reference 1.0.3)."""
    return {
        "projectId": PROJECT_ID,
        "idNumberOrder": order_id,
        "regionCode": "DE",
        "numberType": "LOCAL",
        "state": "CREATED",
        "orderNumbers": [{"phoneNumber": phone, "capability": ["VOICE"]}],
        "expireTime": "2026-12-31T00:00:00Z",
        "createTime": "2026-12-29T00:00:00Z",
        "updateTime": "2026-12-29T00:00:00Z",
    }


# -- behaviours ------------------------------------------------------------------------------


def answer_json(value: Any, *, status: int = 200, process: bool = True) -> Behaviour:
    """Answer ``value`` (any JSON: ``None``, a list, an object with wrong types...).

    With ``process``, the request is handled first (a rent rents), then this is answered.
    """

    async def behaviour(hit: Hit) -> web.StreamResponse:
        if process:
            hit.plausible()
        return web.Response(status=status, text=json.dumps(value), content_type="application/json")

    return behaviour


def answer_bytes(
    body: bytes, *, status: int = 200, content_type: str = "application/json"
) -> Behaviour:
    """Process the request, then answer ``body`` verbatim (HTML, nothing, garbage)."""

    async def behaviour(hit: Hit) -> web.StreamResponse:
        hit.plausible()
        response = web.Response(status=status, body=body)
        response.headers["Content-Type"] = content_type
        return response

    return behaviour


def patched(change: Callable[[Json], Json]) -> Behaviour:
    """Process the request and answer its plausible body as rewritten by ``change``."""

    async def behaviour(hit: Hit) -> web.StreamResponse:
        status, value = hit.plausible()
        return _json_response(status, change(value))

    return behaviour


def redirect(status: int) -> Behaviour:
    """Answer ``status`` with a ``Location`` on this server that would answer 200 plausibly.

    Nothing is processed: following the redirect is the only way to a "success".
    """

    async def behaviour(hit: Hit) -> web.StreamResponse:
        location = f"{hit.server.url}/landing/{hit.route}"
        return web.Response(status=status, headers={"Location": location})

    return behaviour


def unauthorized(www_authenticate: str = 'Bearer realm="sinch"') -> Behaviour:
    """Answer 401 with ``www_authenticate`` (no ``error="expired"`` by default)."""

    async def behaviour(hit: Hit) -> web.StreamResponse:
        return _json_response(
            401,
            _envelope(401, "UNAUTHENTICATED", "Invalid access token"),
            {"WWW-Authenticate": www_authenticate},
        )

    return behaviour


def gzip_bomb(inflated: int) -> Behaviour:
    """Process, then stream a gzip body (``Content-Encoding: gzip``) of ``inflated`` zeros.

    About 1 KiB on the wire per MiB inflated; generated as the client reads, so neither side
    of the test holds it. Chunked, so no ``Content-Length`` warns the client.
    """

    async def behaviour(hit: Hit) -> web.StreamResponse:
        hit.plausible()
        response = web.StreamResponse(headers={"Content-Encoding": "gzip"})
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        return await _stream(hit, response, gzip_zeros(inflated))

    return behaviour


def huge_body(size: int, *, field: str = "displayName") -> Behaviour:
    """Process, then stream (chunked) the plausible JSON object grown to ``size`` bytes.

    ``field`` holds a string ``"aaaa..."`` long enough for that: the body is valid and
    complete, so only its size is wrong.
    """

    async def behaviour(hit: Hit) -> web.StreamResponse:
        status, value = hit.plausible()
        value.pop(field, None)
        response = web.StreamResponse(status=status)
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        return await _stream(hit, response, _huge_json(value, size, field))

    return behaviour


def truncated_json() -> Behaviour:
    """Process, then answer the first half of the plausible JSON, framed as complete."""

    async def behaviour(hit: Hit) -> web.StreamResponse:
        status, body = hit.plausible_bytes()
        response = web.Response(status=status, body=body[: len(body) // 2])
        response.content_type = "application/json"
        return response

    return behaviour


def cut_mid_body() -> Behaviour:
    """Process, declare the full ``Content-Length``, send half the body, drop the connection."""

    async def behaviour(hit: Hit) -> web.StreamResponse:
        status, body = hit.plausible_bytes()
        response = web.StreamResponse(status=status)
        response.content_type = "application/json"
        response.content_length = len(body)
        await response.prepare(hit.request)
        await response.write(body[: len(body) // 2])
        await asyncio.sleep(0.01)  # let the half reach the client before the reset
        _abort(hit)
        return response

    return behaviour


def reset() -> Behaviour:
    """Process the request, then drop the connection without answering."""

    async def behaviour(hit: Hit) -> web.StreamResponse:
        hit.plausible()
        _abort(hit)
        return web.Response()

    return behaviour


def drip(interval: float) -> Behaviour:
    """Process, then send the plausible body one byte every ``interval`` seconds."""

    async def behaviour(hit: Hit) -> web.StreamResponse:
        status, body = hit.plausible_bytes()
        response = web.StreamResponse(status=status)
        response.content_type = "application/json"
        response.content_length = len(body)
        try:
            await response.prepare(hit.request)
            for index in range(len(body)):
                await response.write(body[index : index + 1])
                await asyncio.sleep(interval)
        except ConnectionError:
            pass
        return response

    return behaviour


def delayed(seconds: float) -> Behaviour:
    """Wait ``seconds``, then process the request and answer plausibly."""

    async def behaviour(hit: Hit) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        status, value = hit.plausible()
        return _json_response(status, value)

    return behaviour


def page_chain(links: Mapping[str | None, str], *, limit: int = 12) -> Behaviour:
    """Answer listing pages whose ``nextPageToken`` follows ``links`` (token in -> out).

    ``{None: "A", "A": "B", "B": "A"}`` cycles A -> B -> A. After ``limit`` pages the
    chain ends (``nextPageToken: ""``) so that a client that never notices still stops.
    Each page holds one number, distinct per page.
    """
    served = 0

    async def behaviour(hit: Hit) -> web.StreamResponse:
        nonlocal served
        served += 1
        token = hit.received.page_token
        following = links.get(token, "") if served < limit else ""
        number = active_number(f"+1202555{served:04d}")
        body = {"activeNumbers": [number], "nextPageToken": following, "totalSize": limit}
        return _json_response(200, body)

    return behaviour


# -- helpers ---------------------------------------------------------------------------------


def gzip_zeros(inflated: int) -> Iterator[bytes]:
    """A gzip stream of ``inflated`` zero bytes (a multiple of 1 MiB), a block at a time.

    Deflating a MiB of zeros after a sync flush always gives the same bytes, so the body is
    one compressed MiB repeated, then an empty final block and the gzip trailer.
    """
    if inflated < MiB or inflated % MiB:
        raise ValueError("inflated must be a positive multiple of 1 MiB")
    first, repeated = _zero_blocks()
    zeros = bytes(MiB)
    crc = zlib.crc32(zeros)
    yield first
    for _ in range(inflated // MiB - 1):
        crc = zlib.crc32(zeros, crc)
        yield repeated
    yield b"\x03\x00" + struct.pack("<II", crc, inflated & 0xFFFFFFFF)


_BLOCKS: list[bytes] = []


def _zero_blocks() -> tuple[bytes, bytes]:
    if not _BLOCKS:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        zeros = bytes(MiB)
        first = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
        second = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
        third = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if second != third:
            raise AssertionError("zlib's output for repeated zero blocks is not stable")
        _BLOCKS.extend((first, second))
    return _BLOCKS[0], _BLOCKS[1]


def _huge_json(value: Json, size: int, field: str) -> Iterator[bytes]:
    rest = json.dumps(value)[1:-1]
    head = ("{" + rest + (", " if rest else "") + json.dumps(field) + ': "').encode()
    tail = b'"}'
    left = max(0, size - len(head) - len(tail))
    chunk = b"a" * MiB
    yield head
    while left > 0:
        piece = chunk if left >= MiB else chunk[:left]
        left -= len(piece)
        yield piece
    yield tail


async def _stream(
    hit: Hit, response: web.StreamResponse, chunks: Iterator[bytes]
) -> web.StreamResponse:
    try:
        await response.prepare(hit.request)
        for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
    except ConnectionError:
        pass  # the client stopped reading: what a size limit should do
    return response


def _abort(hit: Hit) -> None:
    if hit.request.transport is not None:
        hit.request.transport.abort()


def _resolve(method: str, path: str) -> tuple[str, str | None]:
    if _LANDING.fullmatch(path):
        return "landing", None
    for route_method, name, pattern in _ROUTES:
        match = pattern.fullmatch(path)
        if match and method == route_method:
            return name, match.groupdict().get("phone")
    return "unknown", None


def _envelope(code: int, status: str, message: str) -> Json:
    return {"error": {"code": code, "message": message, "status": status, "details": []}}


def _json_response(
    status: int, value: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(value), content_type="application/json", headers=headers
    )
