"""``NumbersClient`` and its resource groups."""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Awaitable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Final, Literal, TypeAlias
from urllib.parse import urlencode

from numbers_async import _operations as ops
from numbers_async._auth import Auth, BasicAuth, OAuth2
from numbers_async._call import CallOptions
from numbers_async._config import ClientOptions, RetryPolicy, Timeouts, unknown_option
from numbers_async._emergency import EmergencyAddresses
from numbers_async._paging import ActiveNumbersPager, Ahead, decode_page
from numbers_async._rate import RateGate, RateLimiter
from numbers_async._resource import _many, _one, _Resource
from numbers_async._sender import DEFAULT_CLOSE_TIMEOUT, Sender
from numbers_async._transport import DEFAULT_MAX_RESPONSE_SIZE, AiohttpTransport, Transport
from numbers_async.errors import InvalidInputError
from numbers_async.models import (
    ActiveNumber,
    AvailableNumber,
    AvailableRegion,
    CallbackConfiguration,
    Capability,
    CapabilityName,
    NumberType,
    NumberTypeName,
    Page,
    SearchPattern,
    SearchPatternName,
    SmsConfiguration,
    VoiceConfiguration,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

    from numbers_async.bulk import Bulk

__all__ = ["DEFAULT_AUTH_URL", "DEFAULT_BASE_URL", "DEFAULT_MAX_RESPONSE_SIZE", "NumbersClient"]

DEFAULT_BASE_URL: Final = "https://numbers.api.sinch.com"
DEFAULT_AUTH_URL: Final = "https://auth.sinch.com/oauth2/token"
DEFAULT_PAGE_SIZE: Final = 100
DEFAULT_MAX_CONCURRENCY: Final = 64

# An enum argument is a member or one of its known string values, anything else rejected at
# run time (InvalidInputError); the API reference shows these aliases as their values.
_NumberTypeArg: TypeAlias = NumberType | NumberTypeName
_SearchPatternArg: TypeAlias = SearchPattern | SearchPatternName
_CapabilityArg: TypeAlias = Capability | CapabilityName
_CapabilitiesArg: TypeAlias = Iterable[_CapabilityArg] | Capability | CapabilityName

_ACTIVE_NUMBER: Final = _one(ActiveNumber)
_AVAILABLE_NUMBER: Final = _one(AvailableNumber)
_CALLBACKS: Final = _one(CallbackConfiguration)
_AVAILABLE_NUMBERS: Final = _many(AvailableNumber, "availableNumbers")
_REGIONS: Final = _many(AvailableRegion, "availableRegions")


class AvailableRegions(_Resource):
    """``client.available_regions``: where numbers are offered."""

    async def list(
        self, types: Iterable[_NumberTypeArg] | _NumberTypeArg | None = None
    ) -> list[AvailableRegion]:
        """List regions, optionally only those offering the given number ``types``.

        Example: ``await client.available_regions.list(types=["LOCAL"])``.
        """
        return await self._call(ops.list_regions(types), _REGIONS)


class AvailableNumbers(_Resource):
    """``client.available_numbers``: search and rent numbers."""

    async def search(
        self,
        region_code: str,
        number_type: _NumberTypeArg,
        *,
        pattern: str | None = None,
        search_pattern: _SearchPatternArg | None = None,
        capabilities: _CapabilitiesArg | None = None,
        size: int | None = None,
    ) -> list[AvailableNumber]:
        """Search numbers available to rent.

        Args:
            region_code: ISO 3166-1 alpha-2 code, e.g. ``"US"``.
            number_type: ``"MOBILE"``, ``"LOCAL"`` or ``"TOLL_FREE"``.
            pattern: digits to look for, e.g. ``"+1206"`` (sent as ``%2B1206``).
            search_pattern: ``"START"``, ``"CONTAINS"`` or ``"END"``.
            capabilities: numbers must support all of these (``"SMS"``, ``"VOICE"``).
            size: at most this many results.

        Raises:
            InvalidInputError: an argument breaks its rule; nothing was sent.
        """
        request = ops.search_available(
            region_code,
            number_type,
            pattern=pattern,
            search_pattern=search_pattern,
            capabilities=capabilities,
            size=size,
        )
        return await self._call(request, _AVAILABLE_NUMBERS)

    async def get(self, phone_number: str) -> AvailableNumber:
        """Check whether one number is available, with its prices (``NotFoundError`` if not)."""
        return await self._call(ops.get_available(phone_number), _AVAILABLE_NUMBER)

    async def rent(
        self,
        phone_number: str,
        *,
        sms: SmsConfiguration | None = None,
        voice: VoiceConfiguration | None = None,
        callback_url: str | None = None,
    ) -> ActiveNumber:
        """Rent ``phone_number`` (this costs money).

        The SMS/Voice settings are applied asynchronously by Sinch: the returned number shows
        them under ``sms_configuration.scheduled_provisioning`` /
        ``voice_configuration.scheduled_voice_provisioning`` until they are in place.

        Retried safely: if an attempt may have gone through and a retry finds the number
        no longer available, ``active_numbers.get`` settles it — owned means rented.

        Raises:
            NotFoundError: the number is not available (and the project does not own it).
            AmbiguousOutcomeError: an attempt may have rented it and checking failed.
        """
        request = ops.rent(phone_number, sms=sms, voice=voice, callback_url=callback_url)
        return await self._call(request, _ACTIVE_NUMBER)

    async def rent_any(
        self,
        region_code: str,
        number_type: _NumberTypeArg,
        *,
        pattern: str | None = None,
        search_pattern: _SearchPatternArg | None = None,
        capabilities: _CapabilitiesArg | None = None,
        sms: SmsConfiguration | None = None,
        voice: VoiceConfiguration | None = None,
        callback_url: str | None = None,
    ) -> ActiveNumber:
        """Rent whichever available number matches the criteria (this costs money).

        Sinch currently supports this for US ``LOCAL`` numbers only. It is retried only when
        the request provably was not processed (connect failure, 429): a repeat could rent
        and bill a second number.

        Raises:
            AmbiguousOutcomeError: the request may have rented a number but the response was
                lost or failed; check ``active_numbers.list`` before trying again.
        """
        request = ops.rent_any(
            region_code,
            number_type,
            pattern=pattern,
            search_pattern=search_pattern,
            capabilities=capabilities,
            sms=sms,
            voice=voice,
            callback_url=callback_url,
        )
        return await self._call(request, _ACTIVE_NUMBER)


class ActiveNumbers(_Resource):
    """``client.active_numbers``: the numbers the project owns."""

    def list(
        self,
        *,
        region_code: str | None = None,
        number_type: _NumberTypeArg | None = None,
        pattern: str | None = None,
        search_pattern: _SearchPatternArg | None = None,
        capabilities: _CapabilitiesArg | None = None,
        page_size: int | None = None,
        order_by: Literal["phoneNumber", "displayName"] | None = None,
        page_token: str | None = None,
        max_items: int | None = None,
    ) -> ActiveNumbersPager:
        """List owned numbers lazily, page by page.

        Arguments are checked now; requests start when iteration does.
        ``page_size`` defaults to 100; ``max_items`` stops after that many numbers.

        Examples:
            ```python
            async for number in client.active_numbers.list(region_code="US"):
                ...
            async for page in client.active_numbers.list(page_size=500).pages():
                save(page.next_page_token)  # resume later with page_token=
            ```
        """
        pairs = ops.list_active_query(
            region_code=region_code,
            number_type=number_type,
            pattern=pattern,
            search_pattern=search_pattern,
            capabilities=capabilities,
            page_size=DEFAULT_PAGE_SIZE if page_size is None else page_size,
            order_by=order_by,
        )
        if page_token is not None:
            ops.check_str("page_token", page_token)
        if max_items is not None:
            ops.check_positive_int("max_items", max_items)

        sender, options = self._sender, self._options
        query = urlencode(pairs)

        def fetch(token: str | None, deadline_at: float | None, ahead: Ahead) -> Awaitable[Page]:
            request = ops.list_active_page(query, token)
            decode = functools.partial(decode_page, ahead=ahead)
            return sender.send(request, options, decode, deadline_at)

        return ActiveNumbersPager(
            fetch,
            page_token=page_token or None,
            max_items=max_items,
            deadline=lambda: sender.deadline_for(options),
        )

    async def get(self, phone_number: str) -> ActiveNumber:
        """Fetch one owned number (``NotFoundError`` if the project does not own it)."""
        return await self._call(ops.get_active(phone_number), _ACTIVE_NUMBER)

    async def update(
        self,
        phone_number: str,
        *,
        display_name: str | None = None,
        sms: SmsConfiguration | None = None,
        voice: VoiceConfiguration | None = None,
        callback_url: str | None = None,
    ) -> ActiveNumber:
        """Change an owned number; only the arguments given are sent.

        ``SmsConfiguration(service_plan_id="")`` unlinks the number from its service plan.
        At least one argument is required.
        """
        request = ops.update_active(
            phone_number, display_name=display_name, sms=sms, voice=voice, callback_url=callback_url
        )
        return await self._call(request, _ACTIVE_NUMBER)

    async def release(self, phone_number: str) -> ActiveNumber:
        """Give an owned number back; the result has ``expire_at`` set.

        Retried like a read: if an attempt's response was lost and the retry finds the
        number no longer owned, the lost attempt released it, and the result carries only
        ``phone_number`` (the API has nothing more to say about it).
        """
        return await self._call(ops.release(phone_number), _ACTIVE_NUMBER)


class Callbacks(_Resource):
    """``client.callbacks``: the project's event callback settings."""

    async def get(self) -> CallbackConfiguration:
        """The current configuration (its ``hmac_secret`` signs every event)."""
        return await self._call(ops.get_callbacks(), _CALLBACKS)

    async def update(self, hmac_secret: str) -> CallbackConfiguration:
        """Set the HMAC secret (32-64 characters of ``a-zA-Z0-9-``) used to sign events."""
        return await self._call(ops.update_callbacks(hmac_secret), _CALLBACKS)


class NumbersClient:
    """An asyncio client for the Sinch Numbers API.

    Use it as an async context manager, or call ``aclose()`` when done.

    Args:
        project_id: the Sinch project.
        key_id, key_secret: an access key of the project.
        base_url: the Numbers API origin.
        auth_url: the OAuth2 token endpoint.
        **options: the settings of ``ClientOptions``: ``auth``, ``max_concurrency``,
            ``rate_limit``, ``retry``, ``timeouts``, ``session``, ``transport`` and
            ``max_response_size`` (each described there). Any other keyword is a
            ``TypeError``.

    ``client.with_options(retry=..., timeouts=...)`` gives a view with other settings for
    some calls, sharing this client's connections, token and rate limit.
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
        )
        self._bind(call_options)

    def _bind(self, options: CallOptions) -> None:
        self._options = options
        self.available_regions = AvailableRegions(self._sender, options)
        self.available_numbers = AvailableNumbers(self._sender, options)
        self.active_numbers = ActiveNumbers(self._sender, options)
        self.callbacks = Callbacks(self._sender, options)
        self.emergency_addresses = EmergencyAddresses(self._sender, options)

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
            bulk = self.__dict__["_bulk"] = Bulk(self)
        return bulk


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
