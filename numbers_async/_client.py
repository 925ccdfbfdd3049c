"""``NumbersClient``: its settings, its resource groups and its life."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, overload

from numbers_async import _operations as ops
from numbers_async._auth import Auth, BasicAuth, OAuth2
from numbers_async._call import CallOptions
from numbers_async._config import ClientOptions, RetryPolicy, Timeouts, unknown_option
from numbers_async._emergency import EmergencyAddresses
from numbers_async._groups import ActiveNumbers, AvailableNumbers, AvailableRegions, Callbacks
from numbers_async._observe import Observer, load_otel
from numbers_async._rate import RateGate, RateLimiter
from numbers_async._raw import RawResponse
from numbers_async._sender import DEFAULT_CLOSE_TIMEOUT, Sender
from numbers_async._transport import DEFAULT_MAX_RESPONSE_SIZE, AiohttpTransport, Transport
from numbers_async._with_raw import WithRawResponse
from numbers_async.errors import InvalidInputError

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

    from numbers_async.bulk import Bulk

__all__ = ["DEFAULT_AUTH_URL", "DEFAULT_BASE_URL", "DEFAULT_MAX_RESPONSE_SIZE", "NumbersClient"]

DEFAULT_BASE_URL: Final = "https://numbers.api.sinch.com"
DEFAULT_AUTH_URL: Final = "https://auth.sinch.com/oauth2/token"
DEFAULT_MAX_CONCURRENCY: Final = 64

#: One query parameter's value: ``True`` is sent as ``true``.
ParamValue: TypeAlias = str | int | bool
#: ``client.request``'s ``params``: a sequence value repeats its name (``a=1&a=2``).
Params: TypeAlias = Mapping[str, ParamValue | Sequence[ParamValue]]


class NumbersClient:
    """An asyncio client for the Sinch Numbers API.

    Use it as an async context manager, or call ``aclose()`` when done.

    Args:
        project_id: the Sinch project.
        key_id, key_secret: an access key of the project.
        base_url: the Numbers API origin.
        auth_url: the OAuth2 token endpoint.
        **options: the settings of ``ClientOptions``: ``auth``, ``max_concurrency``,
            ``rate_limit``, ``retry``, ``timeouts``, ``session``, ``transport``,
            ``max_response_size``, ``event_hooks``, ``tracing``, ``trace_phone_numbers``,
            ``tracer_provider`` and ``meter_provider`` (each described there). Any other
            keyword is a ``TypeError``.

    ``client.with_options(retry=..., timeouts=...)`` gives a view with other settings for
    some calls, sharing this client's connections, token and rate limit.
    ``client.with_raw_response`` has every operation return its result with its answer
    (status, headers, request id, retries: ``RawResponse``).
    """

    def __init__(
        self,
        project_id: str,
        key_id: str,
        key_secret: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        auth_url: str = DEFAULT_AUTH_URL,
        **options: Unpack[ClientOptions],
    ) -> None:
        unknown = unknown_option("NumbersClient()", options)
        if unknown is not None:
            raise unknown
        auth = options.get("auth", "oauth2")
        max_concurrency = options.get("max_concurrency", DEFAULT_MAX_CONCURRENCY)
        max_response_size = options.get("max_response_size", DEFAULT_MAX_RESPONSE_SIZE)
        session, transport = options.get("session"), options.get("transport")
        ops.check_credential("project_id", project_id)
        ops.check_credential("key_id", key_id)
        ops.check_credential("key_secret", key_secret, secret=True)
        ops.check_origin("base_url", base_url)
        ops.check_origin("auth_url", auth_url)
        ops.check_positive_int("max_concurrency", max_concurrency)
        if max_response_size is not None:
            ops.check_positive_int("max_response_size", max_response_size)
        limiter = _limiter(options.get("rate_limit"))
        observer = _observer(project_id, options)
        defaults = CallOptions(RetryPolicy(), Timeouts())
        call_options = _call_options(options.get("retry"), options.get("timeouts"), defaults)
        if transport is not None and not isinstance(transport, Transport):
            raise InvalidInputError("transport", "must have an async request() method", transport)
        if transport is not None and session is not None:
            raise InvalidInputError("transport", "give a transport or a session, not both")
        close_transport = None
        if transport is None:
            # One connection more than requests in flight: a token fetch, made while
            # max_concurrency callers hold their slots, can always get a connection.
            own = AiohttpTransport(
                max_connections=max_concurrency + 1,
                session=session,
                max_response_size=max_response_size,
            )
            transport = own
            if session is None:
                close_transport = own.aclose
        credentials: Auth
        if auth == "oauth2":
            credentials = OAuth2(key_id, key_secret, auth_url)
        elif auth == "basic":
            credentials = BasicAuth(key_id, key_secret)
        else:
            raise InvalidInputError("auth", "must be 'oauth2' or 'basic'", auth)
        self.project_id = project_id
        """The Sinch project this client acts for."""
        self.key_id = key_id
        """The id of the access key (not a secret; the key secret is never kept in the open)."""
        self._auth_kind = auth
        self._base_url = base_url
        self._sender = Sender(
            base_url=base_url,
            project_id=project_id,
            auth=credentials,
            transport=transport,
            close_transport=close_transport,
            limiter=limiter,
            max_concurrency=max_concurrency,
            max_response_size=max_response_size,
            observer=observer,
        )
        self._bind(call_options)

    def _bind(self, options: CallOptions) -> None:
        self._options = options
        self.available_regions = AvailableRegions(self._sender, options)
        self.available_numbers = AvailableNumbers(self._sender, options)
        self.active_numbers = ActiveNumbers(self._sender, options)
        self.callbacks = Callbacks(self._sender, options)
        self.emergency_addresses = EmergencyAddresses(self._sender, options)
        self.with_raw_response = WithRawResponse(self._sender, options)
        """Every operation, returning its result with its answer (``RawResponse``)."""

    def with_options(
        self, *, retry: RetryPolicy | None = None, timeouts: Timeouts | None = None
    ) -> NumbersClient:
        """A view of this client with another retry policy and/or timeouts.

        The view shares the connections, token, concurrency and rate limit; closing
        either closes both. For example, a view that never retries:
        ``client.with_options(retry=RetryPolicy(attempts=1))``.
        """
        view = copy.copy(self)
        view.__dict__.pop("_bulk", None)  # the view's bulk jobs run with the view's options
        view._bind(_call_options(retry, timeouts, self._options))
        return view

    @classmethod
    def from_env(
        cls,
        *,
        project_id: str | None = None,
        key_id: str | None = None,
        key_secret: str | None = None,
        base_url: str | None = None,
        auth_url: str | None = None,
        **options: Unpack[ClientOptions],
    ) -> NumbersClient:
        """Build a client from ``SINCH_PROJECT_ID``, ``SINCH_KEY_ID``, ``SINCH_KEY_SECRET``.

        ``SINCH_NUMBERS_URL`` and ``SINCH_AUTH_URL`` override the origins. An argument given
        here wins over its variable; ``options`` are the constructor's (``ClientOptions``).

        Raises:
            InvalidInputError: a credential is neither given nor set (``argument`` names
                the variable), or an argument breaks its rule.
            TypeError: a keyword that is neither one of these nor of ``ClientOptions``.
        """
        unknown = unknown_option("NumbersClient.from_env()", options)
        if unknown is not None:
            raise unknown
        credentials = []
        for given, variable in (
            (project_id, "SINCH_PROJECT_ID"),
            (key_id, "SINCH_KEY_ID"),
            (key_secret, "SINCH_KEY_SECRET"),
        ):
            value = given or os.environ.get(variable)
            if not value:
                raise InvalidInputError(variable, "must be set in the environment")
            credentials.append(value)
        return cls(
            *credentials,
            base_url=base_url or os.environ.get("SINCH_NUMBERS_URL") or DEFAULT_BASE_URL,
            auth_url=auth_url or os.environ.get("SINCH_AUTH_URL") or DEFAULT_AUTH_URL,
            **options,
        )

    def __repr__(self) -> str:
        return (
            f"NumbersClient(project_id={self.project_id!r}, key_id={self.key_id!r}, "
            f"auth={self._auth_kind!r}, base_url={ops.redact_url(self._base_url)!r})"
        )

    @overload
    async def request(
        self,
        method: Literal["GET", "HEAD"],
        path: str,
        *,
        params: Params | None = None,
        json: None = None,
        idempotent: Literal[True] = True,
    ) -> RawResponse[Any]: ...

    @overload
    async def request(
        self,
        method: Literal["PUT", "DELETE"],
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        idempotent: Literal[True] = True,
    ) -> RawResponse[Any]: ...

    @overload
    async def request(
        self,
        method: Literal["POST", "PATCH"],
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool,
    ) -> RawResponse[Any]: ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> RawResponse[Any]:
        """Send a request to an endpoint this client does not wrap, as it sends its own.

        The same credential, rate limit, concurrency, retries, deadline, errors, event
        hooks, logs and spans as every operation of the client (its operation is
        ``"request"``); ``client.with_options(retry=..., timeouts=...)`` sets them for
        one call. The guide: [Requests the client does not wrap](../guides/raw-requests.md).

        Args:
            method: ``"GET"``, ``"HEAD"``, ``"POST"``, ``"PUT"``, ``"PATCH"`` or
                ``"DELETE"``.
            path: the path below ``/v1/projects/{projectId}/``, such as
                ``"numberOrders:lookupNumberRequirements"`` or ``f"numberOrders/{id}"``.
                It is percent-encoded where needed (an escape such as ``%20`` is kept);
                a URL, a leading ``/``, ``.`` or ``..``, ``?``, ``#``, ``{``, ``}``, a
                backslash or a control character is refused.
            params: query parameters: each value a ``str``, ``int`` or ``bool`` (sent
                as ``true`` / ``false``), or a list or tuple of them (the name repeated).
                Every value is percent-encoded: a ``+`` goes as ``%2B``.
            json: the body, any JSON value (``None``: no body; refused for GET and
                HEAD).
            idempotent: whether sending the request twice does no harm. Required for
                a POST or a PATCH. ``True``: retried like a read, and its failure
                stands however it ends. ``False``: never sent again once an attempt may
                have been processed; if its outcome is then unknown, the call ends in
                ``AmbiguousOutcomeError``. GET, HEAD, PUT and DELETE are idempotent in
                HTTP, and the HTTP stack itself may send them twice: ``False`` is
                refused for them.

        Returns:
            The answer: ``parsed`` is its JSON body decoded (dicts, lists, ``str``,
            ``int``, ``float``, ``bool``), ``None`` for an empty body; ``status_code``,
            ``headers``, ``request_id``, ``elapsed`` and ``retries`` describe it.

        Raises:
            InvalidInputError: an argument breaks its rule; nothing was sent.
            ApiError: an answer that is not a 2xx (the API's error envelope read as for
                every operation: ``NotFoundError``, ``InvalidArgumentError``...).
            DecodeError: a 2xx whose body is not JSON (its bytes in ``body``).
            AmbiguousOutcomeError: ``idempotent=False``, and an attempt may have been
                processed while the call could not learn its outcome.

        Examples:
            ```python
            import asyncio

            from numbers_async import NumbersClient


            async def main() -> None:
                async with NumbersClient.from_env() as client:
                    raw = await client.request(
                        "POST",
                        "numberOrders:lookupNumberRequirements",
                        json={"regionCode": "DE", "numberType": "LOCAL"},
                        idempotent=True,  # it only reads
                    )
                    print(raw.status_code, raw.request_id)
                    print(sorted(raw.parsed["fields"]))


            asyncio.run(main())
            ```
        """
        # Imported on first use: only programs that call endpoints the client does not
        # wrap need it, and the import is kept lean for the others (benchmark B7).
        from numbers_async._generic import build, decode_any

        built = build(method, path, params=params, json=json, idempotent=idempotent)
        sender, options = self._sender, self._options
        return await sender.send_raw(built, options, decode_any, sender.deadline_for(options))

    @property
    def closed(self) -> bool:
        """Whether the client has been closed."""
        return self._sender.closed

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy this client's calls run with (a view's own, for a view)."""
        return self._options.retry

    @property
    def timeouts(self) -> Timeouts:
        """The timeouts this client's calls run with (a view's own, for a view)."""
        return self._options.timeouts

    async def aclose(self, timeout: float | None = DEFAULT_CLOSE_TIMEOUT) -> None:
        """Close the client (and its aiohttp session, unless it was injected). Idempotent.

        New calls raise ``ClientClosedError`` at once. Calls already in flight (their
        retries, backoff and reconciliation included) get up to ``timeout`` seconds to
        finish (default 10; ``None``: as long as they take). One still running then is
        cut off: it raises ``ClientClosedError``, or ``AmbiguousOutcomeError`` when an
        attempt of a call that changes state (a rent, a release...) may have been processed.
        ``async with`` closes with the default timeout.
        """
        if timeout is not None:
            ops.check_non_negative_number("timeout", timeout)
        await self._sender.aclose(timeout)

    async def __aenter__(self) -> NumbersClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def bulk(self) -> Bulk:
        """Bulk jobs over many numbers: ``client.bulk.rent / rent_any / update / release``."""
        from numbers_async.bulk import Bulk

        bulk: Bulk | None = self.__dict__.get("_bulk")
        if bulk is None:
            bulk = self.__dict__["_bulk"] = Bulk(self, observer=self._sender.observer)
        return bulk


def _observer(project_id: str, options: ClientOptions) -> Observer:
    tracing = options.get("tracing", True)
    phone_numbers = options.get("trace_phone_numbers", False)
    for name, value in (("tracing", tracing), ("trace_phone_numbers", phone_numbers)):
        if not isinstance(value, bool):
            raise InvalidInputError(name, "must be True or False", value)
    otel = load_otel(
        tracing,
        tracer_provider=options.get("tracer_provider"),
        meter_provider=options.get("meter_provider"),
        phone_numbers=phone_numbers,
    )
    return Observer(project_id=project_id, event_hooks=options.get("event_hooks"), otel=otel)


def _limiter(rate_limit: object) -> RateLimiter:
    if rate_limit is None:
        return RateGate(None)
    if isinstance(rate_limit, RateLimiter):
        return rate_limit
    return RateGate(ops.check_positive_number("rate_limit", rate_limit))


def _call_options(
    retry: RetryPolicy | None, timeouts: Timeouts | None, defaults: CallOptions
) -> CallOptions:
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise InvalidInputError("retry", "must be a RetryPolicy", retry)
    if timeouts is not None and not isinstance(timeouts, Timeouts):
        raise InvalidInputError("timeouts", "must be a Timeouts", timeouts)
    return CallOptions(
        retry=defaults.retry if retry is None else retry,
        timeouts=defaults.timeouts if timeouts is None else timeouts,
    )
