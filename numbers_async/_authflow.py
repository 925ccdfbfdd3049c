"""The auth flow layer: the credential on every attempt, and one replay after a 401.

An API attempt goes out with the key pair (Basic auth) or the cached bearer token; when
no token is cached, or it is due for a refresh, ``_tokens`` fetches one (a request
through the same retry and attempt layers) and the attempt waits for it. An answer
``401`` (the token expired, or was revoked) drops the token, gets a new one and replays
the attempt once; a second ``401`` is the attempt's answer. The exchange a replay follows
is ended here for a watched call (its ``response`` hooks are told another follows).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from numbers_async._attempt import Attempts
from numbers_async._auth import Auth, BasicAuth
from numbers_async._call import Call, Response
from numbers_async._observe import Observer
from numbers_async._retrying import Retrying
from numbers_async._tokens import Tokens
from numbers_async._transport import USER_AGENT

__all__ = ["AuthFlow"]

logger = logging.getLogger("numbers_async")

_HEADERS: Final = {"User-Agent": USER_AGENT, "Accept": "application/json"}
_JSON_HEADERS: Final = {**_HEADERS, "Content-Type": "application/json"}


class AuthFlow:
    """Sends API attempts with their credential, getting tokens from ``Tokens``."""

    def __init__(
        self,
        auth: Auth,
        attempts: Attempts,
        retrying: Retrying,
        clock: Callable[[], float],
        observer: Observer,
    ) -> None:
        self._auth = auth
        self._attempts = attempts
        self._tokens = Tokens(attempts, retrying, clock, observer)
        # The headers of a request without and with a body, by credential.
        self._with_token: dict[str, dict[str, str]] = {}
        self._json_with_token: dict[str, dict[str, str]] = {}

    async def send(self, call: Call) -> Response:
        """One attempt of ``call`` with its credential, replayed once after a 401."""
        auth = self._auth
        if isinstance(auth, BasicAuth):  # nothing to fetch or refresh
            return await self._attempts.send(call, self._headers(call, auth.header))
        authorization = auth.cached() or await self._tokens.authorization(auth, call)
        response = await self._attempts.send(call, self._headers(call, authorization))
        if response.status != 401:
            return response
        if call.watch is not None and call.watch.open:  # this exchange ends in a replay
            watch = call.watch
            await watch.exchange_answered(401, response.headers, response.elapsed, None, True)
        # Expired or revoked, the token is no good: drop it, get a new one (one fetch
        # shared by every caller that saw it refused) and replay once.
        expired = "expired" in response.headers.get("WWW-Authenticate", "").lower()
        logger.info(
            "access token %s; fetching a new one and replaying %s",
            "expired" if expired else "refused (revoked?)",
            call.request.op.value,
        )
        auth.invalidate(authorization)
        # A newer token may be cached already: this call took its credential before it
        # waited for the rate gate and a slot, and others replaced the token meanwhile.
        authorization = auth.cached() or await self._tokens.authorization(auth, call)
        return await self._attempts.send(call, self._headers(call, authorization))

    def _headers(self, call: Call, authorization: str) -> dict[str, str]:
        # The merged headers change only when the token does: build them once per token.
        if call.request.body is None:
            headers, cache = _HEADERS, self._with_token
        else:
            headers, cache = _JSON_HEADERS, self._json_with_token
        merged = cache.get(authorization)
        if merged is None:
            if len(cache) > 8:  # old tokens: forget them
                cache.clear()
            merged = cache[authorization] = {**headers, "Authorization": authorization}
        return merged

    async def aclose(self) -> None:
        """Stop a token fetch in flight (the calls waiting for it are cut off)."""
        await self._tokens.aclose()
