"""FakeNumbersServer: a stateful Sinch Numbers API and OAuth2 token endpoint on loopback."""

from __future__ import annotations

import asyncio
import bisect
import collections
import itertools
import json
import logging
import math
import random
import secrets
import socket
import sys
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote

import attrs
from aiohttp import web

from ._callbacks import CallbackDelivery, CallbackSender
from ._emergency import supports_emergency_address
from ._emergency import validate as validate_address
from ._faults import Fault, FaultHandle, FaultPlan, TokenBucket, retry_after_header
from ._inventory import (
    BOTH,
    NUMBER_TYPES,
    Bucket,
    NumberFilter,
    available_number,
    find_bucket,
    generate_inventory,
    region_list,
    sequential_numbers,
)
from ._lifecycle import (
    Outcome,
    activate,
    callback_event,
    deprovisioning,
    finish_provisioning,
    release,
    schedule_sms,
    schedule_voice,
)
from ._orders import (
    NUMBER_ORDER,
    check_open,
    new_order,
    parse_create_body,
    parse_lookup_body,
    parse_registration_body,
    requirements,
    reviewed,
    submitted,
)
from ._parsing import (
    REGION_CODE,
    check_query_names,
    parse_basic,
    parse_callbacks_body,
    parse_emergency_address_body,
    parse_list_query,
    parse_phone,
    parse_region_types,
    parse_rent_any_body,
    parse_rent_body,
    parse_search_query,
    parse_update_body,
)
from ._wire import (
    ACTIVE_NUMBER,
    AVAILABLE_NUMBER,
    EMERGENCY_ADDRESS,
    Answer,
    ApiFailure,
    Json,
    decode_page_token,
    encode_page_token,
    envelope,
    invalid_argument,
    json_answer,
    not_found,
    page_token_scope,
    permission_denied,
    rate_limited,
    resolve_route,
    token_expired,
    unauthenticated,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

    from numbers_async import ClientOptions, NumbersClient

logger = logging.getLogger("numbers_async.testing")

ProvisioningHook = Callable[[dict[str, Any]], Awaitable[None]]
"""``async def hook(event: dict) -> None``: see ``FakeNumbersServer.on_provisioning_event``."""

# How long wait_for_callbacks() waits by default before giving up.
_CALLBACK_WAIT = 10.0

# How long aclose() lets in-flight requests and provisioning hooks finish before cancelling.
_CLOSE_GRACE = 1.0
# Cached activeNumbers orderings kept at most (one per distinct filter and order).
_MAX_CACHED_LISTINGS = 32


@attrs.frozen
class RecordedRequest:
    """One request the fake received, and the status it answered.

    ``path`` is raw as sent (``%2B`` stays ``%2B``); ``query`` holds the decoded
    ``(name, value)`` pairs in order (form decoding: a literal ``+`` became a space).
    ``status`` is 0 while the request is being handled and when the connection was
    dropped. ``at`` is the event loop's clock (``loop.time()``) on arrival.
    """

    method: str
    """The HTTP method, e.g. ``"POST"``."""
    path: str
    """The path as sent, undecoded (``%2B`` stays ``%2B``)."""
    query: tuple[tuple[str, str], ...]
    """The decoded ``(name, value)`` query pairs, in order."""
    headers: dict[str, str]
    """The request headers."""
    body: bytes
    """The raw request body."""
    route: str
    """The route name it matched (one of ``ROUTES``), ``"unknown"`` when none."""
    status: int
    """The status answered; 0 while being handled or when the connection was dropped."""
    at: float
    """The event loop's clock (``loop.time()``) when it arrived."""
    request_id: str = ""
    """The ``X-Request-Id`` the fake answered with (``""`` while being handled, or when
    the connection was dropped)."""

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


@attrs.frozen
class _Call:
    method: str
    path: str
    route: str
    params: Mapping[str, str]
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)
    body: bytes


def _hold_ports(addresses: Sequence[Any]) -> list[socket.socket]:
    """Bind (without listening) each address a stopped server listened on, to keep it.

    With ``SO_REUSEADDR`` on both, Linux lets the server's next listening socket bind the
    same address while this one holds it, and refuses it to anyone else meanwhile: to a
    bind to port 0 and to the ports the kernel picks for outgoing connections.
    """
    holds: list[socket.socket] = []
    try:
        for address in addresses:
            family = socket.AF_INET6 if len(address) == 4 else socket.AF_INET
            hold = socket.socket(family, socket.SOCK_STREAM)
            holds.append(hold)
            hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            hold.bind(address)
    except BaseException:
        for hold in holds:
            hold.close()
        raise
    return holds


class FakeNumbersServer:
    """A stateful, spec-faithful fake of the Sinch Numbers API and its token endpoint.

    It serves both on one loopback port, holds an inventory of available numbers in
    several regions, moves numbers between available and active on rent and release,
    plays the scheduled-provisioning state machine, pages with opaque tokens, answers the
    documented error envelopes, delivers signed callbacks, and injects faults on demand.
    Every request is logged in [`requests`][].

    Arguments:
        project_id, key_id, key_secret: the only project and key pair it accepts.
        host, port: where to listen; port 0 picks a free port (see [`url`][]).
        token_lifetime: seconds an access token lives; reported as ``expires_in``
            (rounded up) and enforced with ``401`` ``Bearer error="expired"``. The client
            takes a lifetime under a minute as a minute, so with a shorter one it meets
            that ``401`` (and fetches a new token) instead of refreshing ahead.
        provisioning_delay: ``None`` keeps scheduled SMS/voice provisioning WAITING until
            [`complete_provisioning`][]; a number of seconds completes it by itself.
        latency: seconds added before every answer.
        seed, numbers_per_bucket: the generated inventory (same seed, same numbers) and
            its size per (region, type).
        final_page_token: whether the last activeNumbers page says
            ``"nextPageToken": ""`` or leaves the field out (both happen for real).
        us_local_only_rent: reject rent/rentAny of anything but US LOCAL numbers, as
            the real API does.
        callback_attempts: how many times a callback POST is tried before giving up.
        callback_backoff: seconds before the first retry; each later one waits twice as
            long as the one before.
        callback_timeout: seconds one callback POST may take.
        callback_out_of_order: deliver each batch of events (those one state change
            emits, such as a number's SMS and voice provisioning completing together) in
            a shuffled order, reproducible for a given ``seed``.
        callback_duplicates: deliver every event this many extra times, same ``eventId``.

    Callbacks: when scheduled provisioning completes or fails, and when a release
    deprovisions a number, the fake calls [`on_provisioning_event`][] with the event.
    By default that is [`deliver_callback`][], which POSTs the ``CallbackPayload`` to
    the number's ``callbackUrl`` as Sinch does (``X-Sinch-Signature`` when
    [`callback_configuration`][] has an ``hmacSecret``; retries on anything but
    ``200``) and records every attempt in [`callback_deliveries`][]. Replace the hook
    to intercept events instead, or wrap it to watch them and still deliver (the second
    example). ``await fake.wait_for_callbacks()`` returns once every event so far is
    handled.

    Number orders, for numbers that need a regulatory registration (``DE`` ``LOCAL`` in
    the fake's inventory), are served as Sinch's reference 1.0.3 describes them: looking
    up requirements, creating an order (which reserves its one number), reading it,
    reading and replacing its registration, and submitting it for review, which
    [`review_number_order`][] then completes or rejects. What Sinch leaves unsaid the
    fake decides (which fields a registration needs, which repeats it refuses); those
    rules are the fake's, not a contract ([Testing](../guides/testing.md#number-orders)).

    The state is plain wire-format dicts you may read in tests: [`available`][],
    [`active`][], [`emergency_addresses`][] (all keyed by phone number),
    [`callback_configuration`][], [`number_orders`][] and [`registrations`][] (by order id).
    Change it through the methods ([`add_active_numbers`][], ...), which keep the
    fake's indexes in step.

    Examples:
        ```python
        async with FakeNumbersServer() as fake:
            async with fake.client() as client:
                number = await client.available_numbers.rent_any("US", "LOCAL")
            assert fake.rent_counts[number.phone_number] == 1
        ```

        Watching the events the fake emits, and still delivering them:

        ```python
        async def watch(event: dict[str, Any]) -> None:
            seen.append(event)
            await fake.deliver_callback(event)


        fake.on_provisioning_event = watch
        ```
    """

    def __init__(
        self,
        *,
        project_id: str = "fake-project",
        key_id: str = "fake-key-id",
        key_secret: str = "fake-key-secret",
        host: str = "127.0.0.1",
        port: int = 0,
        token_lifetime: float = 3600.0,
        provisioning_delay: float | None = None,
        latency: float = 0.0,
        seed: int = 0,
        numbers_per_bucket: int = 50,
        final_page_token: Literal["empty", "absent"] = "empty",
        us_local_only_rent: bool = True,
        callback_attempts: int = 4,
        callback_backoff: float = 0.05,
        callback_timeout: float = 5.0,
        callback_out_of_order: bool = False,
        callback_duplicates: int = 0,
    ) -> None:
        _check_settings(token_lifetime, provisioning_delay, latency, final_page_token)
        self.project_id = project_id
        """The only project the fake serves."""
        self.key_id = key_id
        """The access key id it accepts."""
        self.key_secret = key_secret
        """The access key secret it accepts."""
        self.host = host
        """The address it listens on."""
        self.port = port
        """The port it listens on (the one picked, after ``start()``, when 0 was asked)."""
        self.token_lifetime = token_lifetime
        """Seconds an access token lives."""
        self.provisioning_delay = provisioning_delay
        """Seconds before scheduled provisioning completes by itself; ``None``: never."""
        self.latency = latency
        """Seconds added before every answer."""
        self.final_page_token = final_page_token
        """How the last page ends: ``"empty"`` sends ``nextPageToken: ""``, ``"absent"`` leaves it
        out.
        """
        self.us_local_only_rent = us_local_only_rent
        """Whether rent and rentAny refuse anything but US LOCAL numbers, as the real API does."""

        self.requests: list[RecordedRequest] = []
        """Every request in arrival order, the token endpoint's included."""
        self.rent_counts: collections.Counter[str] = collections.Counter()
        """Phone number -> how many times it was rented (rent and rentAny)."""
        self.token_requests = 0
        """Requests to the token endpoint, whatever the answer."""
        self.in_flight = 0
        """Requests being handled right now."""
        self.max_in_flight = 0
        """The most requests ever handled at the same time."""
        self.available: dict[str, Json] = {}
        """Phone number -> ``AvailableNumber``: the inventory that can be rented."""
        self.active: dict[str, Json] = {}
        """Phone number -> ``ActiveNumber``: the numbers the project owns."""
        self.callback_configuration: Json = {"projectId": project_id, "hmacSecret": ""}
        """What ``GET /callbackConfiguration`` answers."""
        self.emergency_addresses: dict[str, Json] = {}
        """Phone number -> ``EmergencyAddress``: the one address each owned US voice number
        may have (provisioned, not yet deprovisioned or released)."""
        self.number_orders: dict[str, Json] = {}
        """Order id -> ``NumberOrder``: every number order created, in any state."""
        self.registrations: dict[str, Json] = {}
        """Order id -> ``Registration``: the registration a ``PUT`` gave each order."""
        self.on_provisioning_event: ProvisioningHook | None = self.deliver_callback
        """Called (as a task) with each callback event: a ``CallbackPayload`` dict plus
        ``"callbackUrl"``, whenever scheduled provisioning completes or fails, and for
        each SMS plan, campaign or voice app a release deprovisions. Defaults to
        [`deliver_callback`][]; ``None`` drops the events."""
        self._callbacks = CallbackSender(
            attempts=callback_attempts,
            backoff=callback_backoff,
            timeout=callback_timeout,
            out_of_order=callback_out_of_order,
            duplicates=callback_duplicates,
            seed=seed,
        )

        self._available_order: list[str] = []  # sorted phones of `available`
        self._origins: dict[str, Json] = {}  # active phone -> its AvailableNumber, for release
        self._reserved: dict[str, Json] = {}  # phone -> its AvailableNumber, held by an order
        self._listings: dict[tuple[NumberFilter, str], list[tuple[str, ...]]] = {}
        self._tokens: dict[str, float] = {}  # access token -> loop time it expires
        self._pending: dict[str, asyncio.TimerHandle | None] = {}  # phone -> auto-completion
        self._event_tasks: set[asyncio.Task[None]] = set()
        self._faults = FaultPlan(random.Random(seed))
        self._bucket: TokenBucket | None = None
        self._send_retry_after = True
        self._runner: web.ServerRunner | None = None
        self._handlers: Mapping[str, Callable[[_Call], Json]] = {
            "list_regions": self._list_regions,
            "search_available": self._search_available,
            "get_available": self._get_available,
            "rent": self._rent,
            "rent_any": self._rent_any,
            "list_active": self._list_active,
            "get_active": self._get_active,
            "update_active": self._update_active,
            "release": self._release,
            "get_callbacks": self._get_callbacks,
            "update_callbacks": self._update_callbacks,
            "get_emergency_address": self._get_emergency_address,
            "provision_emergency_address": self._provision_emergency_address,
            "deprovision_emergency_address": self._deprovision_emergency_address,
            "validate_emergency_address": self._validate_emergency_address,
            "lookup_number_requirements": self._lookup_number_requirements,
            "create_number_order": self._create_number_order,
            "get_number_order": self._get_number_order,
            "get_number_order_registration": self._get_number_order_registration,
            "update_number_order_registration": self._update_number_order_registration,
            "submit_number_order": self._submit_number_order,
        }
        for number in generate_inventory(seed, numbers_per_bucket).values():
            self._store_available(number)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening; [`url`][] is valid afterwards."""
        if self._runner is not None:
            raise RuntimeError("FakeNumbersServer is already started")
        # access_log=None: a test fake should not fill the logs with one line per request.
        server = web.Server(self._handle, access_log=None)
        runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=_CLOSE_GRACE)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def aclose(self) -> None:
        """Stop serving and finish hook tasks. Idempotent; [`start`][] may follow.

        Provisioning still pending stays WAITING (its timers are cancelled) until
        [`complete_provisioning`][]. Callbacks still being delivered (or retried) get
        one second to finish, then are cancelled.
        """
        runner, self._runner = self._runner, None
        for phone, timer in self._pending.items():
            if timer is not None:
                timer.cancel()
                self._pending[phone] = None
        if runner is not None:
            await runner.cleanup()
        await self._finish_event_tasks()
        await self._callbacks.aclose()

    @asynccontextmanager
    async def down(self) -> AsyncIterator[None]:
        """Be down inside the block: an outage, then the same server on the same port.

        Entering stops serving as [`aclose`][] does (connections to the port are refused,
        in-flight requests get a second to finish); leaving starts serving again, with
        the same state, even when the block raises. Unlike ``aclose()`` then
        ``start()``, the port stays this fake's meanwhile (on Linux a bound, unlistening
        socket holds it), so no other server asking the system for a free port, nor an
        outgoing connection, can take it before the fake comes back.

        Examples:
            ```python
            async with fake.down():
                await asyncio.sleep(4)  # every connection is refused meanwhile
            ```
        """
        runner = self._runner
        if runner is None:
            raise RuntimeError("FakeNumbersServer is not started")
        addresses = list(runner.addresses)
        await self.aclose()
        holds = _hold_ports(addresses) if sys.platform == "linux" else []
        try:
            yield
        finally:
            try:
                await self.start()
            finally:
                for hold in holds:
                    hold.close()

    async def close(self) -> None:
        """Deprecated: the same as [`aclose`][], the name every other close here has."""
        warnings.warn(
            "FakeNumbersServer.close() is deprecated; use aclose()",
            DeprecationWarning,
            stacklevel=2,
        )
        await self.aclose()

    async def __aenter__(self) -> FakeNumbersServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def url(self) -> str:
        """The Numbers API base URL, e.g. ``http://127.0.0.1:8123`` (after [`start`][])."""
        if self._runner is None:
            raise RuntimeError("FakeNumbersServer is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def auth_url(self) -> str:
        """The OAuth2 token endpoint on the same server: ``{url}/oauth2/token``."""
        return f"{self.url}/oauth2/token"

    def env(self) -> dict[str, str]:
        """The ``SINCH_*`` variables that point ``NumbersClient.from_env()`` at this server.

        ``SINCH_PROJECT_ID``, ``SINCH_KEY_ID``, ``SINCH_KEY_SECRET``, ``SINCH_NUMBERS_URL``
        and ``SINCH_AUTH_URL``, for a subprocess's environment or ``monkeypatch.setenv``
        (after [`start`][]).

        Examples:
            ```python
            env = {**os.environ, **fake.env()}
            subprocess.run([sys.executable, "app.py"], env=env, check=True)
            ```
        """
        return {
            "SINCH_PROJECT_ID": self.project_id,
            "SINCH_KEY_ID": self.key_id,
            "SINCH_KEY_SECRET": self.key_secret,
            "SINCH_NUMBERS_URL": self.url,
            "SINCH_AUTH_URL": self.auth_url,
        }

    def client(self, **options: Unpack[ClientOptions]) -> NumbersClient:
        """A ``NumbersClient`` pointed at this server with its credentials.

        ``options`` are the constructor's (``ClientOptions``): ``auth``,
        ``max_concurrency``, ``retry``, ``timeouts``... Any other keyword is a ``TypeError``.
        """
        from numbers_async import NumbersClient
        from numbers_async._config import unknown_option

        unknown = unknown_option("FakeNumbersServer.client()", options)
        if unknown is not None:  # base_url and auth_url are this server's
            raise unknown
        return NumbersClient(
            self.project_id,
            self.key_id,
            self.key_secret,
            base_url=self.url,
            auth_url=self.auth_url,
            **options,
        )

    # -- callbacks ---------------------------------------------------------------------

    async def deliver_callback(self, event: Mapping[str, Any]) -> None:
        """POST one event to its ``callbackUrl`` as Sinch would; the default hook.

        ``event`` is what [`on_provisioning_event`][] receives. The body is the
        ``CallbackPayload`` JSON (without ``callbackUrl``), signed with ``X-Sinch-Signature``
        when [`callback_configuration`][] has an ``hmacSecret``. Anything but ``200``,
        and any connection error or timeout, is retried after ``callback_backoff``
        seconds, doubling, up to ``callback_attempts`` tries; then a warning is logged on
        ``numbers_async.testing`` and the event is dropped. Nothing is raised. An event
        whose ``callbackUrl`` is empty is not sent.

        Events passed in the same event-loop step form one batch, which
        ``callback_out_of_order`` shuffles; the call that starts a batch returns when the
        whole batch is delivered.
        """
        secret = str(self.callback_configuration.get("hmacSecret") or "")
        await self._callbacks.deliver(event, secret)

    @property
    def callback_deliveries(self) -> list[CallbackDelivery]:
        """Every callback POST attempt [`deliver_callback`][] made, in order."""
        return self._callbacks.deliveries

    async def wait_for_callbacks(self, timeout: float = _CALLBACK_WAIT) -> None:
        """Wait until every event emitted so far has been handled by the hook.

        With the default hook, that is: delivered, or given up on after the last retry.
        Raises ``TimeoutError`` if that takes more than ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._event_tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                busy = len(self._event_tasks)
                raise TimeoutError(f"{busy} callback event(s) still in hand after {timeout} s")
            await asyncio.wait(set(self._event_tasks), timeout=remaining)

    # -- test controls -----------------------------------------------------------------

    def requests_for(self, route: str) -> list[RecordedRequest]:
        """The recorded requests of one route (``"rent"``, ``"token"``, ...)."""
        return [request for request in self.requests if request.route == route]

    @property
    def pending_provisioning(self) -> list[str]:
        """Phone numbers whose scheduled provisioning is still WAITING."""
        return list(self._pending)

    def add_active_numbers(
        self,
        count: int,
        *,
        region_code: str = "US",
        number_type: str = "LOCAL",
        prefix: str = "+1555",
        capability: Sequence[str] = BOTH,
    ) -> list[str]:
        """Make the project own ``count`` new numbers directly (not counted as rents).

        Numbers are ``prefix`` plus a zero-padded counter (11 digits under ``+1``, else 12),
        skipping any the fake already knows. Returns them in ascending order.
        """
        now = _utcnow()
        added = self._new_numbers(count, region_code, number_type, prefix, capability)
        for number in added:
            phone = number["phoneNumber"]
            self._origins[phone] = number
            self.active[phone] = activate(number, project_id=self.project_id, now=now)
        self._listings.clear()
        return [number["phoneNumber"] for number in added]

    def add_available_numbers(
        self,
        count: int,
        *,
        region_code: str = "US",
        number_type: str = "LOCAL",
        prefix: str = "+1555",
        capability: Sequence[str] = BOTH,
    ) -> list[str]:
        """Add ``count`` numbers to the available inventory.

        They are numbered like [`add_active_numbers`][]; returns them in ascending order.
        """
        added = self._new_numbers(count, region_code, number_type, prefix, capability)
        for number in added:
            self._store_available(number)
        return [number["phoneNumber"] for number in added]

    def complete_provisioning(
        self,
        phone_number: str | None = None,
        *,
        fail: bool = False,
        error_codes: Sequence[str] = ("SMS_PROVISIONING_FAILED",),
    ) -> None:
        """Finish scheduled provisioning of one number (``None``: every pending number).

        Success moves the requested SMS/voice values up and drops the ``scheduled*``
        objects; ``fail=True`` marks them ``FAILED`` (SMS with ``error_codes``). Either
        way [`on_provisioning_event`][] is called. Raises ``KeyError`` if the number
        has nothing pending.
        """
        phones = self.pending_provisioning if phone_number is None else [phone_number]
        for phone in phones:
            if phone not in self._pending:
                raise KeyError(f"no provisioning is pending for {phone}")
            self._finish_provisioning(phone, failed=fail, error_codes=tuple(error_codes))

    def review_number_order(self, order_id: str, *, approve: bool = True) -> dict[str, Any]:
        """Finish Sinch's review of a submitted (``IN_REVIEW``) number order; its new state.

        Approved, it is ``COMPLETED`` and the project owns its number (in [`active`][],
        with the order's SMS and voice settings scheduled as a rent schedules them);
        rejected, it is ``REJECTED`` and the number is available again. Raises
        ``KeyError`` for an unknown order and ``ValueError`` for one not in review.
        """
        order = reviewed(self.number_orders[order_id], approve, _utcnow())
        self.number_orders[order_id] = order
        phone = order["orderNumbers"][0]["phoneNumber"]
        origin = self._reserved.pop(phone)
        if not approve:
            self._store_available(origin)
            return dict(order)
        self._origins[phone] = origin
        self.active[phone] = activate(origin, project_id=self.project_id, now=_utcnow())
        self._listings.clear()
        self._schedule(phone, order.get("smsConfiguration"), order.get("voiceConfiguration"))
        return dict(order)

    def expire_tokens(self) -> None:
        """Make every access token issued so far answer ``401`` ``Bearer error="expired"``."""
        for token in self._tokens:
            self._tokens[token] = -math.inf

    def inject(
        self,
        fault: Fault,
        *,
        route: str | None = None,
        times: int | None = 1,
        probability: float | None = None,
    ) -> FaultHandle:
        """Make requests fail with ``fault``.

        Arguments:
            fault: what happens to the affected requests, e.g. ``Fault.status(503)``.
            route: a route name (``"rent"``, ``"token"``, ...); ``None`` means every
                Numbers API route. The token endpoint only fails when named, so that
                "fail the next call" does not hit the client's token fetch instead.
            times: how many requests it affects; ``None`` means until cleared.
            probability: affect each matching request with this chance (the dice are
                seeded with ``seed``, so a run is reproducible).

        Faults are consulted in the order injected: every matching latency fault adds
        its delay, and the first matching fault of another kind decides the answer.
        """
        return self._faults.add(fault, route, times, probability)

    def clear_faults(self) -> None:
        """Withdraw every injected fault."""
        self._faults.clear()

    def set_rate_limit(
        self, rate: float | None, *, burst: int | None = None, retry_after: bool = True
    ) -> None:
        """Limit the Numbers API routes to ``rate`` requests/s (a token bucket).

        Requests beyond it get ``429``, with a ``Retry-After`` header in whole seconds
        unless ``retry_after`` is false. ``burst`` defaults to one second's worth of
        requests. ``rate=None`` removes the limit.
        """
        if rate is None:
            self._bucket = None
            return
        size = burst if burst is not None else max(1, math.ceil(rate))
        self._bucket = TokenBucket(rate, size, time.monotonic())
        self._send_retry_after = retry_after

    # -- HTTP ----------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        arrived = asyncio.get_running_loop().time()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            call = _read_call(request, await request.read())
            record = RecordedRequest(
                method=call.method,
                path=request.raw_path.partition("?")[0],
                query=call.query,
                headers=dict(request.headers),
                body=call.body,
                route=call.route,
                status=0,
                at=arrived,
            )
            self.requests.append(record)
            answer = await self._answer(call)
        finally:
            self.in_flight -= 1
        if answer.drop:
            self._record_status(record, 0, "")
            if request.transport is not None:
                request.transport.abort()
            # Never sent: aiohttp sees the closed transport and drops it without a log line.
            return web.Response()
        # Every answer carries a request id, as the API's gateway sends (docs/api-facts.md).
        request_id = secrets.token_hex(16)
        self._record_status(record, answer.status, request_id)
        return web.Response(
            status=answer.status,
            body=answer.body or None,
            content_type=answer.content_type,
            headers={**answer.headers, "X-Request-Id": request_id},
        )

    async def _answer(self, call: _Call) -> Answer:
        if call.route == "token":
            self.token_requests += 1
        delay, fault = self._faults.select(call.route)
        if self.latency + delay > 0:
            await asyncio.sleep(self.latency + delay)
        if fault is not None and fault.pre_emptive:
            if fault.kind == "expire_token":
                self.expire_tokens()
                return token_expired().answer()
            return fault._answer()
        # Handling is synchronous, so each request's state change is atomic.
        try:
            answer = json_answer(
                200, self._serve(call), _NO_STORE if call.route == "token" else None
            )
        except ApiFailure as failure:
            answer = failure.answer()
        return answer if fault is None else fault._distort(answer)

    def _record_status(self, record: RecordedRequest, status: int, request_id: str) -> None:
        # Search from the end: the entry is recent, and the list may have been cleared.
        for index in range(len(self.requests) - 1, -1, -1):
            if self.requests[index] is record:
                self.requests[index] = attrs.evolve(record, status=status, request_id=request_id)
                return

    def _serve(self, call: _Call) -> Json:
        if call.route == "token":
            return self._issue_token(call)
        if call.route == "unknown":
            raise ApiFailure(404, envelope(404, f"No such operation: {call.method} {call.path}"))
        self._check_rate_limit()
        self._authenticate(call.headers)
        if call.params["project"] != self.project_id:
            raise permission_denied()
        check_query_names(call.route, call.query)
        return self._handlers[call.route](call)

    # -- auth and rate limit ---------------------------------------------------------------

    def _issue_token(self, call: _Call) -> Json:
        scheme, _, credentials = call.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic" or not self._is_key_pair(credentials):
            raise ApiFailure(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                {"WWW-Authenticate": 'Basic realm="sinch"'},
            )
        grant = dict(parse_qsl(call.body.decode("utf-8", "replace"))).get("grant_type")
        if grant != "client_credentials":
            error = "invalid_request" if grant is None else "unsupported_grant_type"
            description = "grant_type must be client_credentials"
            raise ApiFailure(400, {"error": error, "error_description": description})
        token = secrets.token_urlsafe(32)
        self._tokens[token] = asyncio.get_running_loop().time() + self.token_lifetime
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": math.ceil(self.token_lifetime),
            "scope": "",
        }

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        scheme, _, credentials = headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            expires = self._tokens.get(credentials.strip())
            if expires is None:
                raise unauthenticated("Invalid access token")
            if asyncio.get_running_loop().time() >= expires:
                raise token_expired()
        elif scheme.lower() == "basic":
            if not self._is_key_pair(credentials):
                raise unauthenticated("Invalid key ID or key secret", scheme='Basic realm="sinch"')
        else:
            raise unauthenticated("Missing credentials: send a Bearer token or Basic key pair")

    def _is_key_pair(self, basic_credentials: str) -> bool:
        return parse_basic(basic_credentials.strip()) == (self.key_id, self.key_secret)

    def _check_rate_limit(self) -> None:
        if self._bucket is None:
            return
        wait = self._bucket.take(time.monotonic())
        if wait > 0:
            raise rate_limited(retry_after_header(wait) if self._send_retry_after else None)

    # -- operations --------------------------------------------------------------------

    def _list_regions(self, call: _Call) -> Json:
        types = parse_region_types(call.query)
        numbers = itertools.chain(
            self.available.values(), self._origins.values(), self._reserved.values()
        )
        return {"availableRegions": region_list(numbers, types)}

    def _search_available(self, call: _Call) -> Json:
        search = parse_search_query(call.query)
        found = itertools.islice(self._available_matching(search.filter), search.size)
        return {"availableNumbers": list(found)}

    def _get_available(self, call: _Call) -> Json:
        phone = parse_phone(call.params["phone"])
        number = self.available.get(phone)
        if number is None:
            raise not_found(AVAILABLE_NUMBER, phone)
        return number

    def _rent(self, call: _Call) -> Json:
        phone = parse_phone(call.params["phone"])
        rent = parse_rent_body(call.body)
        number = self.available.get(phone)
        if number is None:
            raise not_found(AVAILABLE_NUMBER, phone)
        self._check_rentable(number["regionCode"], number["type"], "phone_number")
        return self._activate(number, rent.callback_url, rent.sms, rent.voice)

    def _rent_any(self, call: _Call) -> Json:
        criteria, rent = parse_rent_any_body(call.body)
        self._check_rentable(criteria.region_code, criteria.number_type, "region_code")
        number = next(self._available_matching(criteria), None)
        if number is None:
            raise not_found(AVAILABLE_NUMBER, "", "No available number matches the criteria")
        return self._activate(number, rent.callback_url, rent.sms, rent.voice)

    def _list_active(self, call: _Call) -> Json:
        listing = parse_list_query(call.query)
        order_by, criteria = listing.order_by, listing.filter
        keys = self._ordered_active(criteria, order_by)
        scope = page_token_scope(
            criteria.region_code,
            criteria.number_type,
            criteria.pattern,
            criteria.search_pattern,
            sorted(criteria.capabilities),
            order_by,
        )
        start = 0
        if listing.page_token:
            after = decode_page_token(listing.page_token, scope, _key_length(order_by))
            start = bisect.bisect_right(keys, after)
        page = keys[start : start + listing.page_size]
        body: Json = {"activeNumbers": [self.active[key[-1]] for key in page]}
        if start + listing.page_size < len(keys):
            body["nextPageToken"] = encode_page_token(page[-1], scope)
        elif self.final_page_token == "empty":
            body["nextPageToken"] = ""
        body["totalSize"] = len(keys)
        return body

    def _get_active(self, call: _Call) -> Json:
        return self._owned(parse_phone(call.params["phone"]))

    def _update_active(self, call: _Call) -> Json:
        phone = parse_phone(call.params["phone"])
        update = parse_update_body(call.body)
        number = self._owned(phone)
        if update.display_name is not None:
            number = {**number, "displayName": update.display_name}
            self._listings.clear()
        if update.callback_url is not None:
            number = {**number, "callbackUrl": update.callback_url}
        self.active[phone] = number
        return self._schedule(phone, update.sms, update.voice)

    def _release(self, call: _Call) -> Json:
        phone = parse_phone(call.params["phone"])
        number = self._owned(phone)
        del self.active[phone]
        self.emergency_addresses.pop(phone, None)  # it leaves with the number
        self._listings.clear()
        self._cancel_provisioning(phone)
        origin = self._origins.pop(phone, None)
        if origin is not None:
            self._store_available(origin)
        for outcome in deprovisioning(number):
            self._emit(number, outcome)
        return release(number)

    def _get_emergency_address(self, call: _Call) -> Json:
        phone = self._emergency_capable(call)
        address = self.emergency_addresses.get(phone)
        if address is None:
            raise not_found(EMERGENCY_ADDRESS, phone, f"No emergency address for {phone}")
        return dict(address)

    def _provision_emergency_address(self, call: _Call) -> Json:
        phone = self._emergency_capable(call)
        display_name, address = parse_emergency_address_body(call.body)
        found = validate_address(phone, display_name, address)
        if found["validationResult"] == "NO_MATCH":
            raise invalid_argument("address", f"Invalid address: {found['validationMessage']}")
        self.emergency_addresses[phone] = address
        return dict(address)

    def _deprovision_emergency_address(self, call: _Call) -> Json:
        phone = self._emergency_capable(call)
        if self.emergency_addresses.pop(phone, None) is None:
            raise not_found(EMERGENCY_ADDRESS, phone, f"No emergency address for {phone}")
        return {}

    def _validate_emergency_address(self, call: _Call) -> Json:
        phone = self._emergency_capable(call)
        display_name, address = parse_emergency_address_body(call.body)
        return validate_address(phone, display_name, address)

    def _emergency_capable(self, call: _Call) -> str:
        phone = parse_phone(call.params["phone"])
        if not supports_emergency_address(self._owned(phone)):
            raise invalid_argument(
                "phone_number",
                f"Emergency addresses are supported for US numbers with the VOICE capability "
                f"only, not {phone}",
            )
        return phone

    def _lookup_number_requirements(self, call: _Call) -> Json:
        return requirements(*parse_lookup_body(call.body))

    def _create_number_order(self, call: _Call) -> Json:
        request = parse_create_body(call.body)
        phone = request.phone_number
        number = self.available.get(phone)
        if number is None or (number["regionCode"], number["type"]) != (
            request.region_code,
            request.number_type,
        ):
            raise not_found(
                AVAILABLE_NUMBER,
                phone,
                f"Number {phone} is not available as a {request.region_code} "
                f"{request.number_type} number",
            )
        order_id = secrets.token_hex(12)
        order = new_order(order_id, self.project_id, request, number, _utcnow())
        self._remove_available(phone)
        self._reserved[phone] = number
        self.number_orders[order_id] = order
        return dict(order)

    def _order(self, call: _Call) -> Json:
        order_id = call.params["order"]
        order = self.number_orders.get(order_id)
        if order is None:
            raise not_found(NUMBER_ORDER, order_id, f"Number order {order_id} not found")
        return order

    def _get_number_order(self, call: _Call) -> Json:
        return dict(self._order(call))

    def _get_number_order_registration(self, call: _Call) -> Json:
        order = self._order(call)
        return dict(self.registrations.get(order["idNumberOrder"], {"data": {}, "attachments": []}))

    def _update_number_order_registration(self, call: _Call) -> Json:
        order = self._order(call)
        check_open(order)
        data = parse_registration_body(call.body)
        registration = {"data": data, "attachments": []}
        self.registrations[order["idNumberOrder"]] = registration
        return dict(registration)

    def _submit_number_order(self, call: _Call) -> Json:
        order = self._order(call)
        order_id = order["idNumberOrder"]
        order = submitted(order, order_id in self.registrations, _utcnow())
        self.number_orders[order_id] = order
        return dict(order)

    def _get_callbacks(self, call: _Call) -> Json:
        return dict(self.callback_configuration)

    def _update_callbacks(self, call: _Call) -> Json:
        self.callback_configuration["hmacSecret"] = parse_callbacks_body(call.body)
        return dict(self.callback_configuration)

    # -- state helpers -----------------------------------------------------------------

    def _owned(self, phone: str) -> Json:
        number = self.active.get(phone)
        if number is None:
            raise not_found(ACTIVE_NUMBER, phone)
        return number

    def _check_rentable(self, region_code: str | None, number_type: str | None, field: str) -> None:
        if self.us_local_only_rent and (region_code, number_type) != ("US", "LOCAL"):
            raise invalid_argument(
                field,
                f"rent and rentAny work for US LOCAL numbers only, not {region_code} {number_type}",
            )

    def _activate(
        self,
        available: Json,
        callback_url: str,
        sms: Mapping[str, str] | None,
        voice: Mapping[str, str] | None,
    ) -> Json:
        phone = available["phoneNumber"]
        self._remove_available(phone)
        self._origins[phone] = available
        number = activate(
            available, project_id=self.project_id, now=_utcnow(), callback_url=callback_url
        )
        self.active[phone] = number
        self._listings.clear()
        self.rent_counts[phone] += 1
        return self._schedule(phone, sms, voice)

    def _schedule(
        self, phone: str, sms: Mapping[str, str] | None, voice: Mapping[str, str] | None
    ) -> Json:
        number = self.active[phone]
        if sms is None and voice is None:
            return number
        now = _utcnow()
        if sms is not None:
            number = schedule_sms(number, sms, now)
        if voice is not None:
            number = schedule_voice(number, voice, now)
        self.active[phone] = number
        self._cancel_provisioning(phone)
        timer = None
        if self.provisioning_delay is not None:
            loop = asyncio.get_running_loop()
            timer = loop.call_later(self.provisioning_delay, self._provisioning_due, phone)
        self._pending[phone] = timer
        return number

    def _cancel_provisioning(self, phone: str) -> None:
        timer = self._pending.pop(phone, None)
        if timer is not None:
            timer.cancel()

    def _provisioning_due(self, phone: str) -> None:
        self._pending.pop(phone, None)
        self._finish_provisioning(phone, failed=False, error_codes=())

    def _finish_provisioning(self, phone: str, *, failed: bool, error_codes: Sequence[str]) -> None:
        self._cancel_provisioning(phone)
        number, outcomes = finish_provisioning(
            self.active[phone], failed=failed, error_codes=error_codes, now=_utcnow()
        )
        self.active[phone] = number
        for outcome in outcomes:
            self._emit(number, outcome)

    def _emit(self, number: Json, outcome: Outcome) -> None:
        hook = self.on_provisioning_event
        if hook is None:
            return
        event = callback_event(number, outcome, project_id=self.project_id, now=_utcnow())
        task = asyncio.get_running_loop().create_task(_deliver(hook, event))
        self._event_tasks.add(task)
        task.add_done_callback(self._event_tasks.discard)

    async def _finish_event_tasks(self) -> None:
        if not self._event_tasks:
            return
        _, late = await asyncio.wait(set(self._event_tasks), timeout=_CLOSE_GRACE)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)

    def _store_available(self, number: Json) -> None:
        phone = number["phoneNumber"]
        if phone not in self.available:
            bisect.insort(self._available_order, phone)
        self.available[phone] = number

    def _remove_available(self, phone: str) -> None:
        del self.available[phone]
        del self._available_order[bisect.bisect_left(self._available_order, phone)]

    def _available_matching(self, criteria: NumberFilter) -> Iterator[Json]:
        for phone in self._available_order:
            number = self.available[phone]
            if criteria.matches(number):
                yield number

    def _ordered_active(self, criteria: NumberFilter, order_by: str) -> list[tuple[str, ...]]:
        # Sorting every page would make listing 100,000 numbers quadratic; the ordering is
        # cached per filter until the set of active numbers (or a display name) changes.
        keys = self._listings.get((criteria, order_by))
        if keys is None:
            if len(self._listings) >= _MAX_CACHED_LISTINGS:
                self._listings.clear()
            matching = (n for n in self.active.values() if criteria.matches(n))
            keys = sorted(_sort_key(number, order_by) for number in matching)
            self._listings[criteria, order_by] = keys
        return keys

    def _new_numbers(
        self,
        count: int,
        region_code: str,
        number_type: str,
        prefix: str,
        capability: Sequence[str],
    ) -> list[Json]:
        if not REGION_CODE.fullmatch(region_code):
            raise ValueError(f"region_code must be two upper-case letters, got {region_code!r}")
        if number_type not in NUMBER_TYPES:
            raise ValueError(f"number_type must be one of {NUMBER_TYPES}, got {number_type!r}")
        bucket = find_bucket(region_code, number_type) or Bucket(
            region_code, number_type, (prefix,), 0, (), "0.00", "1.00"
        )

        def taken(phone: str) -> bool:
            return phone in self.available or phone in self.active or phone in self._reserved

        phones = sequential_numbers(prefix, count, taken)
        return [available_number(phone, bucket, capability) for phone in phones]


_NO_STORE = {"Cache-Control": "no-store"}  # RFC 6749 §5.1 for token responses


def _check_settings(
    token_lifetime: float, provisioning_delay: float | None, latency: float, final_page_token: str
) -> None:
    if not token_lifetime > 0:
        raise ValueError(f"token_lifetime must be > 0, got {token_lifetime}")
    if provisioning_delay is not None and not provisioning_delay >= 0:
        raise ValueError(f"provisioning_delay must be >= 0 or None, got {provisioning_delay}")
    if not latency >= 0:
        raise ValueError(f"latency must be >= 0, got {latency}")
    if final_page_token not in ("empty", "absent"):
        raise ValueError(f"final_page_token must be 'empty' or 'absent', got {final_page_token!r}")


def _read_call(request: web.BaseRequest, body: bytes) -> _Call:
    # Route on the raw path, percent-decoded once: a phone may arrive as "+1..." or "%2B1...".
    path = unquote(request.rel_url.raw_path)
    route, params = resolve_route(request.method, path)
    # Form decoding, as real servers do: a literal "+" is a space and "%2B" is "+".
    query = tuple(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))
    return _Call(request.method, path, route, params, query, request.headers, body)


def _sort_key(number: Mapping[str, Any], order_by: str) -> tuple[str, ...]:
    # Keys end with the phone number, which makes them unique and names the number.
    if order_by == "displayName":
        return (number["displayName"], number["phoneNumber"])
    return (number["phoneNumber"],)


def _key_length(order_by: str) -> int:
    return 2 if order_by == "displayName" else 1


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


async def _deliver(hook: ProvisioningHook, event: Json) -> None:
    try:
        await hook(event)
    except Exception:
        # A failing hook is the test's business; log it rather than lose it silently.
        logger.exception("on_provisioning_event hook failed for %s", event["eventType"])
