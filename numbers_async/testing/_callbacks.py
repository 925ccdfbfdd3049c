"""Callback delivery for the fake: signed JSON POSTs to ``callbackUrl``, retried with backoff.

Shapes and signature follow docs/api-facts.md#callbacks: the body is the ``CallbackPayload`` JSON
and, when the project has an HMAC secret, ``X-Sinch-Signature`` is the lowercase hex
HMAC-SHA1 of the exact body bytes. Sinch gives no ordering guarantee and may deliver an
event twice; the sender can reproduce both on demand.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs

from numbers_async.webhooks import SIGNATURE_HEADER, compute_signature

__all__ = ["CallbackDelivery", "CallbackSender", "Outgoing", "encode_callback"]

logger = logging.getLogger("numbers_async.testing")


@attrs.frozen
class CallbackDelivery:
    """One attempt to POST one event to a callback URL, and how it ended.

    ``status`` is the HTTP status the receiver answered, or ``None`` when no answer came
    (connection refused or reset, timeout, invalid URL); ``error`` is then the exception.
    ``attempt`` counts from 1 for each copy of an event (duplicates start again at 1).
    ``at`` is the event loop's clock (``loop.time()``) when the answer or error arrived.
    """

    url: str
    """Where the event was POSTed: the number's ``callbackUrl``."""
    body: bytes
    """The exact bytes sent: the ``CallbackPayload`` JSON."""
    signature: str | None
    """The ``X-Sinch-Signature`` sent, or ``None`` when the project has no HMAC secret."""
    attempt: int
    """Which attempt this was for this copy of the event, from 1."""
    status: int | None
    """The HTTP status the receiver answered, or ``None`` when no answer came."""
    error: Exception | None
    """The exception when no answer came (refused, reset, timeout), else ``None``."""
    at: float
    """The event loop's clock (``loop.time()``) when the answer or error arrived."""

    @property
    def delivered(self) -> bool:
        """Whether the receiver accepted it (answered ``200``)."""
        return self.status == 200

    def json(self) -> Any:
        """The body decoded as JSON: the ``CallbackPayload``."""
        return json.loads(self.body)


@attrs.frozen
class Outgoing:
    """An event ready to send: where, the exact bytes, and their signature (if any)."""

    url: str
    body: bytes
    signature: str | None


def encode_callback(event: Mapping[str, Any], secret: str) -> Outgoing:
    """The POST for an event dict (a ``CallbackPayload`` plus ``"callbackUrl"``).

    The URL is taken out of the body; the body is compact JSON in the documented field
    order, signed when ``secret`` is not empty.
    """
    payload = {key: value for key, value in event.items() if key != "callbackUrl"}
    body = json.dumps(payload, separators=(",", ":")).encode()
    signature = compute_signature(body, secret) if secret else None
    return Outgoing(str(event.get("callbackUrl", "")), body, signature)


class CallbackSender:
    """Delivers events in batches, with retries, optional shuffling and duplicates.

    Events handed to ``deliver`` in the same event-loop step (one provisioning
    completion, one release, one ``complete_provisioning()`` call) form a batch. A batch is
    delivered one POST at a time, so a receiver sees exactly the order recorded in
    ``deliveries``.
    """

    def __init__(
        self,
        *,
        attempts: int,
        backoff: float,
        timeout: float,
        out_of_order: bool,
        duplicates: int,
        seed: int,
    ) -> None:
        _check_settings(attempts, backoff, timeout, duplicates)
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.out_of_order = out_of_order
        self.duplicates = duplicates
        self.deliveries: list[CallbackDelivery] = []
        self._random = random.Random(seed)
        self._batch: list[Outgoing] = []
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, event: Mapping[str, Any], secret: str) -> None:
        """Send ``event`` to its ``callbackUrl`` with the batch it belongs to.

        Returns at once for an event without a URL, and for every event of a batch but
        the first, whose call sends the whole batch and returns when it is done.
        """
        outgoing = encode_callback(event, secret)
        if not outgoing.url:
            return  # the number has no callback URL: Sinch has nowhere to send the event
        self._batch.append(outgoing)
        if len(self._batch) > 1:
            return
        try:
            # One turn of the loop lets the other events emitted in this step join the batch.
            await asyncio.sleep(0)
        finally:
            batch, self._batch = self._batch, []
        for copy in self._arrange(batch):
            await self._send(copy)

    async def aclose(self) -> None:
        """Close the HTTP session (a later ``deliver`` opens a new one)."""
        self._batch = []
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _arrange(self, batch: list[Outgoing]) -> list[Outgoing]:
        copies = [outgoing for outgoing in batch for _ in range(1 + self.duplicates)]
        if self.out_of_order:
            self._random.shuffle(copies)
        return copies

    async def _send(self, outgoing: Outgoing) -> None:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            status, error = await self._post(outgoing)
            loop_time = asyncio.get_running_loop().time()
            self.deliveries.append(
                CallbackDelivery(
                    outgoing.url,
                    outgoing.body,
                    outgoing.signature,
                    attempt,
                    status,
                    error,
                    loop_time,
                )
            )
            if status == 200:
                return
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        logger.warning(
            "gave up delivering a callback to %s after %d attempts (last: %s)",
            outgoing.url,
            self.attempts,
            status if error is None else repr(error),
        )

    async def _post(self, outgoing: Outgoing) -> tuple[int | None, Exception | None]:
        headers = {"Content-Type": "application/json"}
        if outgoing.signature is not None:
            headers[SIGNATURE_HEADER] = outgoing.signature
        try:
            # Sinch does not follow redirects: a 3xx is a failed delivery like any non-200.
            async with self._open_session().post(
                outgoing.url, data=outgoing.body, headers=headers, allow_redirects=False
            ) as response:
                return response.status, None
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            return None, exc

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # A fresh connection per POST, as webhook senders do: a receiver restarted
            # between two deliveries never meets a stale keep-alive connection.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
        return self._session


def _check_settings(attempts: int, backoff: float, timeout: float, duplicates: int) -> None:
    if attempts < 1:
        raise ValueError(f"callback_attempts must be >= 1, got {attempts}")
    if not backoff >= 0:
        raise ValueError(f"callback_backoff must be >= 0, got {backoff}")
    if not timeout > 0:
        raise ValueError(f"callback_timeout must be > 0, got {timeout}")
    if duplicates < 0:
        raise ValueError(f"callback_duplicates must be >= 0, got {duplicates}")
