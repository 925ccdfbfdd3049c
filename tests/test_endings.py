"""The endings the settle layer gives a call that may have acted: what they say, word for word.

``AmbiguousOutcomeError`` is what a caller (or an operator reading a log) acts on, so each
kind says why the outcome is unknown and what to check; a release or a deprovision that a
lost attempt already did ends in its result, logged as such.
"""

from __future__ import annotations

import logging

import pytest

from numbers_async import _operations as ops
from numbers_async._call import Call, CallOptions
from numbers_async._config import RetryPolicy, Timeouts
from numbers_async._emergency import deprovision_address
from numbers_async._endings import ambiguous_outcome, check_failed, done_before
from numbers_async._generic import build
from numbers_async._operations import Request
from numbers_async._responses import decode
from numbers_async._retry import API_RULES
from numbers_async.errors import ClientClosedError, ServerError
from numbers_async.models import ActiveNumber

PHONE = "+12025550100"
BASE = "https://numbers.example/v1/projects/p"
SERVER_ERROR = ServerError(503, message="unavailable")  # what ended the call: "HTTP 503"


def _call(request: Request) -> Call:
    options = CallOptions(RetryPolicy(), Timeouts())
    return Call(request, BASE + request.target, options.retry, API_RULES, options.timeout, None)


def _rent_any() -> Request:
    return ops.rent_any(
        "US",
        "LOCAL",
        pattern=None,
        search_pattern=None,
        capabilities=None,
        sms=None,
        voice=None,
        callback_url=None,
    )


@pytest.mark.parametrize(
    ("request_of", "message"),
    [
        (
            lambda: ops.release(PHONE),
            "an attempt may have been processed, and the call then ended (HTTP 503); "
            "whether the change took effect is unknown",
        ),
        (
            _rent_any,
            "the request may have been processed but its outcome is unknown (HTTP 503); it "
            "was not retried because a repeat could rent a second number. Check "
            "active_numbers.list before trying again.",
        ),
        (
            lambda: build("POST", "things", params=None, json={"a": 1}, idempotent=False),
            "the request may have been processed but its outcome is unknown (HTTP 503); it "
            "was not sent again because it was sent with idempotent=False. Check what it "
            "did before sending it again.",
        ),
    ],
)
def test_an_ambiguous_outcome_says_why_and_what_to_check(request_of: object, message: str) -> None:
    request = request_of()  # type: ignore[operator]
    error = ambiguous_outcome(_call(request), SERVER_ERROR)
    assert error.operation == request.op.value
    assert error.method == "POST"
    assert error.path == "/v1/projects/p" + request.path
    assert str(error).endswith(f": {message}"), str(error)


def test_a_call_cut_off_by_aclose_says_the_client_was_closed() -> None:
    error = ambiguous_outcome(_call(ops.release(PHONE)), ClientClosedError("closed"))
    assert str(error).endswith(
        ": the client was closed while the call was in flight, after an attempt that may "
        "have been processed; whether it took effect is unknown"
    ), str(error)


def test_a_rent_whose_check_failed_names_the_number() -> None:
    rent = ops.rent(PHONE, sms=None, voice=None, callback_url=None)
    error = check_failed(_call(rent), SERVER_ERROR)
    assert str(error).endswith(f": {PHONE} may have been rented, and checking failed (HTTP 503)")


def test_a_release_a_lost_attempt_did_ends_in_the_number(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="numbers_async"):
        number = done_before(
            ops.release(PHONE), lambda status, body: decode(200, body, ActiveNumber)
        )
    assert number == ActiveNumber(phone_number=PHONE)
    assert [record.getMessage() for record in caplog.records] == [
        f"active_numbers.release {PHONE}: already released by an earlier attempt"
    ]


def test_a_deprovision_a_lost_attempt_did_ends_as_the_deprovision_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bodies: list[bytes] = []

    def nothing(status: int, body: bytes) -> None:
        bodies.append(body)

    with caplog.at_level(logging.INFO, logger="numbers_async"):
        assert done_before(deprovision_address(PHONE), nothing) is None
    assert bodies == [b""]  # what the deprovision itself answers: nothing
    assert [record.getMessage() for record in caplog.records] == [
        f"emergency_addresses.deprovision {PHONE}: already removed by an earlier attempt"
    ]
