"""Credentials: HTTP Basic, or OAuth2 client credentials with one cached token.

Nothing here does I/O. ``BasicAuth`` is a fixed header; ``OAuth2`` is the token's state
(the header to send, when to refresh it, when it expires) and the token request's parts.
The auth flow layer (``_authflow``) fetches tokens through the request pipeline and hands
each answer to ``parse_token``, the one function that reads a token response.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from typing import TypeAlias

import attrs
from yarl import URL

from numbers_async import _json
from numbers_async._operations import redact_url
from numbers_async.errors import TokenEndpointError

__all__ = ["Auth", "BasicAuth", "OAuth2", "TokenGrant", "parse_token"]

logger = logging.getLogger("numbers_async")

#: How long a token lives when the token endpoint does not say (``expires_in``).
DEFAULT_LIFETIME = 3600.0


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
    """A token response, read: the access token and how long it lives, in seconds."""

    access_token: str = attrs.field(repr=False)  # a credential: never shown
    lifetime: float


def parse_token(status: int, body: bytes) -> TokenGrant:
    """Read a token endpoint's 2xx answer; ``TokenEndpointError`` if it holds no token.

    The message never quotes the body: it may hold the token.
    """
    try:
        data = _json.loads(body)
        token = data["access_token"]
        lifetime = float(data.get("expires_in", DEFAULT_LIFETIME))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise TokenEndpointError(
            "the token endpoint sent an unreadable token response", status=status
        ) from None
    if not isinstance(token, str) or not token:
        raise TokenEndpointError("the token endpoint sent no access_token", status=status)
    return TokenGrant(token, lifetime)


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
        logger.debug("obtained an access token valid for %.0fs", grant.lifetime)
        return header

    def invalidate(self, used: str) -> None:
        """Forget ``used`` if it is still the current token (the API refused it)."""
        if self._header == used:
            self._header = None


#: A client's credentials.
Auth: TypeAlias = BasicAuth | OAuth2
