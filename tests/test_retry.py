"""The retry decisions of ``_retry``, without I/O: what is retried, after how long, and
whether a failed request may have been processed."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime as http_date

import pytest

from numbers_async import _operations as ops
from numbers_async import _retry
from numbers_async._responses import error_for
from numbers_async._retry import (
    API_RULES,
    TOKEN_POLICY,
    TOKEN_RULES,
    RetryPolicy,
    Safety,
    Settlement,
    maybe_processed,
    retry_delay,
    settlement,
)
from numbers_async.errors import (
    AmbiguousOutcomeError,
    ApiError,
    AuthenticationError,
    ClientClosedError,
    DecodeError,
    InvalidInputError,
    NotFoundError,
    NumbersError,
    NumbersTimeoutError,
    RateLimitedError,
    ServerError,
    TokenEndpointError,
    TransportError,
)

POLICY = RetryPolicy(attempts=4, backoff=0.25, max_backoff=8.0, max_retry_after=60.0)


def test_retry_after_as_an_http_date_is_seconds_from_now() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    later = http_date(datetime(2026, 1, 1, 12, 0, 30, tzinfo=timezone.utc), usegmt=True)
    assert _retry.parse_retry_after(later, now=now.timestamp()) == 30.0
    earlier = http_date(datetime(2026, 1, 1, 11, 0, 0, tzinfo=timezone.utc), usegmt=True)
    assert _retry.parse_retry_after(earlier, now=now.timestamp()) == 0.0


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_parsed_once_into_the_error(status: int) -> None:
    error = error_for(status, {"Retry-After": "7"}, b"")
    assert error.retry_after == 7.0
    assert retry_delay(error, attempt=1, policy=POLICY) == 7.0


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (InvalidInputError("x", "must be"), False),
        (AuthenticationError(401), False),
        (AuthenticationError(503), False),  # the token endpoint failed: nothing was sent
        (TransportError("refused", request_sent=False), False),
        (NumbersTimeoutError("connect", request_sent=False), False),
        (TransportError("reset"), True),
        (NumbersTimeoutError("read"), True),
        (RateLimitedError(429), False),
        (NotFoundError(404), False),
        (ApiError(409), False),
        (ServerError(500), True),
        (ServerError(503), True),
        (DecodeError("not JSON", status=200, body=b"{"), True),
        (AmbiguousOutcomeError("available_numbers.rent_any", "lost"), True),
        # aclose() cut it off before it could act (else it is an AmbiguousOutcomeError).
        (ClientClosedError("closed", operation="available_numbers.rent"), False),
    ],
)
def test_maybe_processed(error: NumbersError, expected: bool) -> None:
    assert maybe_processed(error) is expected


def test_the_safety_table_covers_the_operations_that_cost_money() -> None:
    assert _retry.safety_of(ops.Op.RENT.value) is Safety.RECONCILE
    assert _retry.safety_of(ops.Op.RENT_ANY.value) is Safety.AT_MOST_ONCE
    others = [op for op in ops.Op if op not in (ops.Op.RENT, ops.Op.RENT_ANY)]
    assert {_retry.safety_of(op.value) for op in others} == {Safety.IDEMPOTENT}


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried(status: int) -> None:
    assert retry_delay(error_for(status, {}, b""), attempt=1, policy=POLICY) is not None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 501])
def test_other_statuses_are_not_retried(status: int) -> None:
    assert retry_delay(error_for(status, {}, b""), attempt=1, policy=POLICY) is None


def test_no_retry_after_the_last_attempt() -> None:
    error = ServerError(503)
    assert retry_delay(error, attempt=3, policy=POLICY) is not None
    assert retry_delay(error, attempt=4, policy=POLICY) is None


def test_backoff_is_full_jitter_under_the_ceiling() -> None:
    delays = [retry_delay(ServerError(503), attempt=3, policy=POLICY) for _ in range(200)]
    assert all(d is not None and 0 <= d <= 1.0 for d in delays)  # 0.25 * 2**2
    assert len(set(delays)) > 100


def test_a_retry_after_beyond_the_maximum_stops_retrying() -> None:
    error = error_for(429, {"Retry-After": "61"}, b"")
    assert retry_delay(error, attempt=1, policy=POLICY) is None


def test_at_most_once_retries_only_what_was_not_processed() -> None:
    safety = Safety.AT_MOST_ONCE
    unsent = TransportError("refused", request_sent=False)
    assert retry_delay(unsent, attempt=1, policy=POLICY, safety=safety) is not None
    assert retry_delay(RateLimitedError(429), attempt=1, policy=POLICY, safety=safety) is not None
    assert retry_delay(TransportError("reset"), attempt=1, policy=POLICY, safety=safety) is None
    assert retry_delay(ServerError(502), attempt=1, policy=POLICY, safety=safety) is None


def test_token_rules_fail_a_401_at_once_and_back_off_a_bare_429() -> None:
    assert (
        retry_delay(AuthenticationError(401), attempt=1, policy=TOKEN_POLICY, rules=TOKEN_RULES)
        is None
    )
    delay = retry_delay(RateLimitedError(429), attempt=1, policy=TOKEN_POLICY, rules=TOKEN_RULES)
    assert delay is not None
    assert 0 <= delay <= TOKEN_POLICY.backoff_ceiling(1)


def test_token_rules_retry_transport_errors_themselves_but_share_nothing_with_api_calls() -> None:
    # Nothing else retries a token fetch that could not reach its endpoint, so its own
    # rules do; but the token endpoint is another host: no outage gate, no client pause.
    error = TransportError("reset")
    assert retry_delay(error, attempt=1, policy=TOKEN_POLICY, rules=TOKEN_RULES) is not None
    assert retry_delay(error, attempt=1, policy=POLICY, rules=API_RULES) is not None
    assert (TOKEN_RULES.rides_outages, TOKEN_RULES.pauses_client) == (False, False)
    assert (API_RULES.rides_outages, API_RULES.pauses_client) == (True, True)


def test_the_token_fetch_waits_a_retry_after_up_to_its_own_cap() -> None:
    # Every call that needs a token waits with the fetch: past half a minute it stops.
    error = error_for(503, {"Retry-After": "30"}, b"")
    assert retry_delay(error, attempt=1, policy=TOKEN_POLICY, rules=TOKEN_RULES) == 30.0
    error = error_for(503, {"Retry-After": "120"}, b"")
    assert retry_delay(error, attempt=1, policy=TOKEN_POLICY, rules=TOKEN_RULES) is None


def test_the_operations_that_change_state_are_every_one_but_the_reads() -> None:
    changing = {op for op in ops.Op if _retry.changes_state(op.value)}
    assert changing == {
        ops.Op.RENT,
        ops.Op.RENT_ANY,
        ops.Op.UPDATE,
        ops.Op.RELEASE,
        ops.Op.UPDATE_CALLBACKS,
        ops.Op.PROVISION_EMERGENCY_ADDRESS,
        ops.Op.DEPROVISION_EMERGENCY_ADDRESS,
    }  # validating an emergency address is a POST that changes nothing


RENT, RENT_ANY = ops.Op.RENT.value, ops.Op.RENT_ANY.value
UPDATE, RELEASE, GET = ops.Op.UPDATE.value, ops.Op.RELEASE.value, ops.Op.GET_ACTIVE.value


@pytest.mark.parametrize(
    ("operation", "error", "answered_before", "may_have_acted", "can_send", "expected"),
    [
        # Nothing may have acted: what ended the call stands, whatever it was.
        (RENT, RateLimitedError(429), False, False, True, Settlement.RAISE),
        (UPDATE, RuntimeError("hook"), False, False, True, Settlement.RAISE),
        # A read stands even after a 5xx.
        (GET, ServerError(503), False, True, True, Settlement.RAISE),
        # A call that changes state and may have acted: checked where it can be...
        (RENT, ServerError(503), False, True, True, Settlement.RECONCILE),
        (RENT, RuntimeError("hook"), False, True, True, Settlement.RECONCILE),
        # ...else ambiguous, however it ended.
        (RENT, ServerError(503), False, True, False, Settlement.AMBIGUOUS),
        (RENT_ANY, ServerError(503), False, True, True, Settlement.AMBIGUOUS),
        (UPDATE, ServerError(503), False, True, True, Settlement.AMBIGUOUS),
        (RELEASE, TransportError("reset"), False, True, True, Settlement.AMBIGUOUS),
        (UPDATE, RuntimeError("hook"), False, True, True, Settlement.AMBIGUOUS),
        # A refusal after an answered attempt means what AFTER_UNKNOWN says...
        (RENT, NotFoundError(404), True, False, True, Settlement.RECONCILE),
        (RENT, ApiError(400), True, True, True, Settlement.RECONCILE),
        (RENT, NotFoundError(404), True, True, False, Settlement.AMBIGUOUS),
        (RELEASE, NotFoundError(404), True, False, True, Settlement.DONE),
        (RELEASE, NotFoundError(404), True, True, False, Settlement.DONE),
        (RELEASE, ApiError(400), True, True, True, Settlement.RAISE),
        # ...and nothing without an answered attempt before it.
        (RELEASE, NotFoundError(404), False, False, True, Settlement.RAISE),
        (RENT, NotFoundError(404), False, False, True, Settlement.RAISE),
        # No rule for an update's 404: it may have acted, so it is ambiguous.
        (UPDATE, NotFoundError(404), True, True, True, Settlement.AMBIGUOUS),
    ],
)
def test_how_a_call_that_may_have_acted_ends(
    operation: str,
    error: BaseException,
    answered_before: bool,
    may_have_acted: bool,
    can_send: bool,
    expected: Settlement,
) -> None:
    verdict = settlement(
        operation,
        error,
        safety=_retry.safety_of(operation),
        changes=_retry.changes_state(operation),
        answered_before=answered_before,
        may_have_acted=may_have_acted,
        can_send=can_send,
    )
    assert verdict is expected


GENERIC = _retry.GENERIC_OPERATION


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_a_generic_request_with_an_idempotent_method_is_idempotent(method: str) -> None:
    assert _retry.generic_rules(method, None) == (Safety.IDEMPOTENT, False)
    assert _retry.generic_rules(method, True) == (Safety.IDEMPOTENT, False)


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_an_idempotent_method_cannot_be_sent_at_most_once(method: str) -> None:
    # HTTP lets the stack send it again by itself (aiohttp does): no promise can be kept.
    with pytest.raises(InvalidInputError) as caught:
        _retry.generic_rules(method, False)
    assert caught.value.argument == "idempotent"
    assert f"cannot be False for a {method}" in caught.value.rule


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_post_or_patch_must_say_whether_it_is_idempotent(method: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _retry.generic_rules(method, None)
    assert caught.value.argument == "idempotent"
    assert f"must be given for a {method}" in caught.value.rule
    assert _retry.generic_rules(method, True) == (Safety.IDEMPOTENT, False)
    assert _retry.generic_rules(method, False) == (Safety.AT_MOST_ONCE, True)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("said", [1, 0, "yes", "false"])
def test_a_generic_request_takes_only_a_bool_for_idempotent(method: str, said: object) -> None:
    with pytest.raises(InvalidInputError, match="idempotent: must be True or False"):
        _retry.generic_rules(method, said)


def test_a_non_idempotent_generic_request_is_retried_only_when_provably_not_processed() -> None:
    safety, _ = _retry.generic_rules("POST", False)
    refused = TransportError("refused", request_sent=False)
    assert retry_delay(refused, attempt=1, policy=POLICY, safety=safety) is not None
    assert retry_delay(RateLimitedError(429), attempt=1, policy=POLICY, safety=safety) is not None
    for processed in (
        TransportError("reset"),
        ServerError(503),
        NumbersTimeoutError("read"),
        DecodeError("truncated", status=200, body=b"{"),
    ):
        assert retry_delay(processed, attempt=1, policy=POLICY, safety=safety) is None


def test_an_idempotent_generic_request_is_retried_as_a_read_is() -> None:
    safety, _ = _retry.generic_rules("POST", True)
    for failure in (
        TransportError("reset"),
        ServerError(503),
        DecodeError("x", status=200, body=b""),
    ):
        assert retry_delay(failure, attempt=1, policy=POLICY, safety=safety) is not None


@pytest.mark.parametrize(
    ("idempotent", "error", "answered_before", "may_have_acted", "expected"),
    [
        # Not idempotent, and an attempt may have acted: nothing can tell, however it ended.
        (False, ServerError(503), False, True, Settlement.AMBIGUOUS),
        (False, TransportError("reset"), False, True, Settlement.AMBIGUOUS),
        (False, RuntimeError("hook"), False, True, Settlement.AMBIGUOUS),
        # A refusal after an attempt that may have acted: it may be that attempt's doing.
        (False, NotFoundError(404), True, True, Settlement.AMBIGUOUS),
        # Nothing may have acted: what ended it stands.
        (False, RateLimitedError(429), False, False, Settlement.RAISE),
        (False, ApiError(400), False, False, Settlement.RAISE),
        # Idempotent: the caller said a repeat is harmless, so what ended it stands.
        (True, ServerError(503), False, True, Settlement.RAISE),
        (True, NotFoundError(404), True, True, Settlement.RAISE),
    ],
)
def test_how_a_generic_request_that_may_have_acted_ends(
    idempotent: bool,
    error: BaseException,
    answered_before: bool,
    may_have_acted: bool,
    expected: Settlement,
) -> None:
    safety, changes = _retry.generic_rules("POST", idempotent)
    verdict = settlement(
        GENERIC,
        error,
        safety=safety,
        changes=changes,
        answered_before=answered_before,
        may_have_acted=may_have_acted,
        can_send=True,
    )
    assert verdict is expected


def test_the_generic_operation_is_the_client_request_operation() -> None:
    assert ops.Op.REQUEST.value == GENERIC == "request"
    assert GENERIC not in _retry.STATE_CHANGING  # its own request says, not its name
    assert all(key[0] != GENERIC for key in _retry.AFTER_UNKNOWN)


def test_no_access_token_means_nothing_was_processed() -> None:
    assert maybe_processed(TokenEndpointError("down", status=503, attempts=4)) is False
