"""Error messages quote response bodies, but never a secret those bodies carry.

A ``DecodeError`` quotes the first 120 bytes of the body it could not decode, and an
``ApiError`` for a non-JSON body quotes an excerpt of it. A callback configuration's body
carries the project's ``hmacSecret``: in any message, ``str``, ``repr`` or ``args`` its
value shows as ``"***"``. The raw ``.body`` is kept as it came (for diagnosis), exactly
like the ``CallbackConfiguration`` the caller would otherwise have received.
"""

from __future__ import annotations

import pickle

import pytest

from numbers_async import AmbiguousOutcomeError, ApiError, DecodeError, NumbersError, RetryPolicy

from .server import PROJECT_ID, HostileServer, answer_bytes

ONE_ATTEMPT = RetryPolicy(attempts=1)
SECRET = "Sup3rSecretHmacValue-0123456789abcdef"
HIDDEN = SECRET[:8]  # not even the start of the value may show


def _everywhere(error: NumbersError) -> str:
    """All the text an error shows: its str, repr and args, as-is and after a pickle trip."""
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    return " ".join([str(error), repr(error), repr(error.args), str(copy), repr(copy.args)])


BAD_BODIES = {
    # projectId of the wrong type: valid JSON, the decoder refuses it
    "wrong-type": f'{{"projectId": 5, "hmacSecret": "{SECRET}"}}'.encode(),
    # the body ends inside the secret: not JSON at all
    "truncated": f'{{"projectId": "{PROJECT_ID}", "hmacSecret": "{SECRET}'.encode(),
    # the name spelt with a JSON escape still decodes to hmacSecret
    "escaped-name": f'{{"projectId": 5, "hmac\\u0053ecret": "{SECRET}"}}'.encode(),
    # the secret in a shape the decoder does not expect (it never quotes a secret field)
    "array-value": f'{{"projectId": "{PROJECT_ID}", "hmacSecret": ["{SECRET}"]}}'.encode(),
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_a_decode_error_on_callbacks_get_never_shows_the_hmac_secret(
    hostile_server: HostileServer, body: bytes
) -> None:
    hostile_server.on("get_callbacks", answer_bytes(body))
    async with hostile_server.client(retry=ONE_ATTEMPT) as client:
        with pytest.raises(DecodeError) as caught:
            await client.callbacks.get()
    shown = _everywhere(caught.value)
    assert HIDDEN not in shown
    assert '"hmacSecret":"***"' in str(caught.value)


async def test_a_decode_error_on_callbacks_update_never_shows_the_hmac_secret(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("update_callbacks", answer_bytes(BAD_BODIES["wrong-type"]))
    async with hostile_server.client(retry=ONE_ATTEMPT) as client:
        with pytest.raises(AmbiguousOutcomeError) as caught:  # the PATCH may have acted
            await client.callbacks.update(SECRET)
    decode_error = caught.value.__cause__
    assert isinstance(decode_error, DecodeError)
    assert caught.value.request is None  # the body sent holds the secret: never kept
    assert HIDDEN not in _everywhere(caught.value)
    assert HIDDEN not in _everywhere(decode_error)
    assert hostile_server.api_calls() == [("PATCH", "update_callbacks")]


async def test_a_decode_error_keeps_the_raw_body(hostile_server: HostileServer) -> None:
    body = BAD_BODIES["wrong-type"]
    hostile_server.on("get_callbacks", answer_bytes(body))
    async with hostile_server.client(retry=ONE_ATTEMPT) as client:
        with pytest.raises(DecodeError) as caught:
            await client.callbacks.get()
    assert caught.value.body == body  # as it came: only the message is redacted


async def test_an_api_error_quoting_a_non_json_body_never_shows_the_hmac_secret(
    hostile_server: HostileServer,
) -> None:
    # A 500 whose body is a callback configuration cut short: not JSON, so quoted.
    body = f'{{"projectId": "{PROJECT_ID}", "hmacSecret": "{SECRET}", "x'.encode()
    hostile_server.on("get_callbacks", answer_bytes(body, status=500))
    async with hostile_server.client(retry=ONE_ATTEMPT) as client:
        with pytest.raises(ApiError) as caught:
            await client.callbacks.get()
    assert caught.value.status == 500
    assert HIDDEN not in _everywhere(caught.value) + caught.value.message
    assert '"hmacSecret":"***"' in caught.value.message


def test_only_secret_members_are_redacted() -> None:
    body = b'{"projectId": "p-1", "displayName": "hmacSecret", "hmacSecret": "abc"}'
    error = DecodeError("cannot decode", status=200, body=body)
    assert '"projectId": "p-1", "displayName": "hmacSecret", "hmacSecret":"***"}' in str(error)
