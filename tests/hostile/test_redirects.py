"""Redirects are never followed: a 3xx is an error of the library's own tree.

Each redirect points at a route of the same server that would answer 200 with a plausible
body, so a client that follows it reports a success for something that did not happen.
"""

from __future__ import annotations

import pytest

from numbers_async import NumbersError, RetryPolicy, UnexpectedRedirectError

from .operations import OPERATIONS, Operation
from .server import HostileServer, redirect

REDIRECTS = (301, 302, 307, 308)


def names_redirect(error: BaseException, status: int) -> bool:
    text = str(error)
    return str(status) in text or "redirect" in text.lower()


@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
async def test_api_redirect_is_an_error_and_is_not_followed(
    hostile_server: HostileServer, operation: Operation, status: int
) -> None:
    hostile_server.on(operation.route, redirect(status))
    async with hostile_server.client(retry=RetryPolicy(backoff=0.01)) as client:
        with pytest.raises(NumbersError) as caught:
            await operation.call(client)
    assert names_redirect(caught.value, status)
    # Asked once, with the operation's own method; the target never; nothing else (no
    # retry as if it were a 5xx, no reconcile GET after a rent).
    assert hostile_server.api_calls() == [(operation.method, operation.route)]


@pytest.mark.parametrize("status", REDIRECTS)
async def test_token_endpoint_redirect_is_an_error_and_is_not_followed(
    hostile_server: HostileServer, status: int
) -> None:
    hostile_server.on("token", redirect(status))
    async with hostile_server.client() as client:
        with pytest.raises(NumbersError) as caught:
            await client.callbacks.get()
    assert names_redirect(caught.value, status)
    assert [(r.method, r.route) for r in hostile_server.received] == [("POST", "token")]


async def test_redirect_error_carries_the_location_and_the_request(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("get_active", redirect(307))
    async with hostile_server.client() as client:
        with pytest.raises(UnexpectedRedirectError) as caught:
            await client.active_numbers.get("+12025550134")
    assert caught.value.status == 307
    assert caught.value.location == f"{hostile_server.url}/landing/get_active"
    assert hostile_server.api_calls() == [("GET", "get_active")]
