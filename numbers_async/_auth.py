"""Credentials: HTTP Basic, or OAuth2 client credentials with one cached token.

Nothing here does I/O. ``BasicAuth`` is a fixed header; ``OAuth2`` is the token's state
(the header to send, when to refresh it, when it expires) and the token request's parts.
The auth flow layer (``_authflow``) fetches tokens through the request pipeline and hands
each answer to ``parse_token``, the one function that reads a token response.
"""

from __future__ import annotations

import base64
import logging
import math
import re
import time
from collections.abc import Callable
from typing import Final, TypeAlias

import attrs
from yarl import URL

from numbers_async import _json
from numbers_async._operations import redact_url
from numbers_async.errors import TokenEndpointError

__all__ = [
    "MAX_LIFETIME",
    "MIN_LIFETIME",
    "Auth",
    "BasicAuth",
    "OAuth2",
    "TokenGrant",
    "parse_token",
]

logger = logging.getLogger("numbers_async")

#: The shortest time a token is taken to live, in seconds: what an ``expires_in`` that is
#: absent, not a number, zero, negative or shorter is taken as, so that a token endpoint
#: can never make the client fetch a token per call (a token that dies sooner is answered
#: ``401`` by the API, and then replaced once).
MIN_LIFETIME: Final = 60.0
#: The longest time a token is taken to live, in seconds (one day): a longer
#: ``expires_in`` (``1e300``, ``"Infinity"``) is capped, so every token is refreshed.
MAX_LIFETIME: Final = 86_400.0

#: RFC 6750's ``b64token``: what a bearer token may hold to travel in a header as it is
#: (compiled on first use, through ``re``'s cache: the import stays lean, B7).
_B64TOKEN: Final = r"[A-Za-z0-9\-._~+/]+=*"


def basic_header(key_id: str, key_secret: str) -> str:
    """The ``Authorization`` value for HTTP Basic with the key pair."""
    pair = f"{key_id}:{key_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


class BasicAuth:
    """The key pair on every request (Sinch rate-limits this heavily; OAuth2 is the default)."""

    def __init__(self, key_id: str, key_secret: str) -> None:
        self.header = basic_header(key_id, key_secret)
        """The ``Authorization`` header of every request."""

    def __repr__(self) -> str:
        return "BasicAuth(...)"


@attrs.frozen
class TokenGrant:
    """A token response, read: the access token and how long it lives, in seconds.

    ``adjusted`` says why ``lifetime`` is not the ``expires_in`` sent (None if it is).
    """

    access_token: str = attrs.field(repr=False)  # a credential: never shown
    lifetime: float
    adjusted: str | None = None


def parse_token(status: int, body: bytes) -> TokenGrant:
    """Read a token endpoint's 2xx answer; ``TokenEndpointError`` if it holds no usable token.

    Refused: no JSON object, no ``access_token``, a token outside RFC 6750's ``b64token``
    (CR/LF, spaces, anything else that could not travel in a header as it is), and a
    ``token_type`` other than ``bearer`` in any case (none at all is taken as bearer).
    ``expires_in`` is bounded to ``MIN_LIFETIME``..``MAX_LIFETIME`` (see ``_lifetime``).
    The message never quotes the body or the token.
    """
    try:
        data = _json.loads(body)
        token = data["access_token"]
        kind = data.get("token_type")
        expires_in = data.get("expires_in")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise TokenEndpointError(
            "the token endpoint sent an unreadable token response", status=status
        ) from None
    if not isinstance(token, str) or not token:
        raise TokenEndpointError("the token endpoint sent no access_token", status=status)
    if not re.fullmatch(_B64TOKEN, token):
        raise TokenEndpointError(
            "the token endpoint sent an access_token that is not a valid bearer token "
            "(RFC 6750 b64token: letters, digits and -._~+/ then any '='); it was not kept "
            "or sent",
            status=status,
        )
    if kind is not None and not (isinstance(kind, str) and kind.lower() == "bearer"):
        raise TokenEndpointError(
            f"the token endpoint sent {_described(kind)}, not a bearer token (the only kind "
            "the Numbers API takes); it was not kept or sent",
            status=status,
        )
    lifetime, adjusted = _lifetime(expires_in)
    return TokenGrant(token, lifetime, adjusted)


def _described(kind: object) -> str:
    """``token_type`` for a message: quoted if short and plain, else only its kind."""
    if isinstance(kind, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,32}", kind):
        return f"a token of type {kind!r}"
    return "a token_type that is not a short name"


def _lifetime(expires_in: object) -> tuple[float, str | None]:
    """Seconds a token with this ``expires_in`` is taken to live, and why, if not as sent.

    A number or a string holding one (some endpoints send ``"3600"``) is taken as given
    within ``MIN_LIFETIME``..``MAX_LIFETIME``. Absent, ``null``, not a number (``"soon"``,
    ``true``, ``NaN``), zero, negative or shorter: ``MIN_LIFETIME``. Longer (``1e300``,
    ``"Infinity"``): ``MAX_LIFETIME``.
    """
    if expires_in is None:
        return MIN_LIFETIME, "no expires_in"
    if not isinstance(expires_in, int | float | str):  # true and false count as 1 and 0
        return MIN_LIFETIME, "an expires_in that is not a number"
    try:
        seconds = float(expires_in)  # the JSON decoder gives no integer beyond a double
    except ValueError:
        return MIN_LIFETIME, "an expires_in that is not a number"
    if math.isnan(seconds):
        return MIN_LIFETIME, "an expires_in that is not a number"
    if seconds < MIN_LIFETIME:
        return MIN_LIFETIME, f"an expires_in under {MIN_LIFETIME:g} s"
    if seconds > MAX_LIFETIME:
        return MAX_LIFETIME, f"an expires_in over {MAX_LIFETIME:g} s"
    return seconds, None


class OAuth2:
    """OAuth2 client credentials: the one cached bearer token every request shares.

    The token is refreshed ahead of its expiry (a tenth of its lifetime, at most a
    minute, before ``expires_in`` runs out); until it expires it stays usable, so a
    refresh that fails early does not fail the calls that could still use it.
    """

    def __init__(
        self,
        key_id: str,
        key_secret: str,
        token_url: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_authorization = basic_header(key_id, key_secret)
        """The ``Authorization`` header of the token request (the key pair)."""
        self.token_url = token_url
        """The token endpoint, as configured."""
        self.token_path = URL(token_url).path
        """The token endpoint's path, for errors (no credentials, no query)."""
        self.clock = clock
        """The clock the token's lifetime is counted by."""
        self._header: str | None = None
        self._refresh_at = 0.0
        self._expires_at = 0.0
        self._warned = False  # about a lifetime not taken as sent: once per client

    def __repr__(self) -> str:
        return f"OAuth2(token_url={redact_url(self.token_url)!r})"

    def cached(self) -> str | None:
        """The header to send now, or None if a token must be fetched first."""
        header = self._header
        return header if header is not None and self.clock() < self._refresh_at else None

    def usable(self) -> str | None:
        """The current header while it has not expired (even if due for a refresh), else None."""
        header = self._header
        return header if header is not None and self.clock() < self._expires_at else None

    def store(self, grant: TokenGrant, started: float) -> str:
        """Keep ``grant``, asked for at ``clock()`` time ``started``; the header to send."""
        header = f"Bearer {grant.access_token}"
        # Count the lifetime from when we asked, so a slow response never overstates it.
        self._expires_at = started + grant.lifetime
        self._refresh_at = self._expires_at - min(60.0, grant.lifetime / 10)
        self._header = header
        if grant.adjusted is not None:
            level = logging.DEBUG if self._warned else logging.WARNING
            self._warned = True
            logger.log(
                level,
                "the token endpoint sent %s; the token is taken to live %g s",
                grant.adjusted,
                grant.lifetime,
            )
        logger.debug("obtained an access token valid for %.0fs", grant.lifetime)
        return header

    def invalidate(self, used: str) -> None:
        """Forget ``used`` if it is still the current token (the API refused it)."""
        if self._header == used:
            self._header = None


#: A client's credentials.
Auth: TypeAlias = BasicAuth | OAuth2
