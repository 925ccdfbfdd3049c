"""A call's deadline and an attempt's total both cut a request the server holds forever,
and the deadline also bounds the check that settles a lost rent.

The server holds the request for far longer than any bound here, so a bound that does not
apply shows up as a call still running when the test's own (generous) limit expires.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from numbers_async import AmbiguousOutcomeError, NumbersTimeoutError, RetryPolicy, Timeouts
from numbers_async.testing import FakeNumbersServer, Fault

HELD = 60.0  # how long the fake holds a request
PATIENCE = 8.0  # how long a test waits for a call that should end within a second or two


async def test_a_deadline_cuts_an_attempt_that_has_no_total_limit(fake: FakeNumbersServer) -> None:
    (phone,) = fake.add_active_numbers(1)
    timeouts = Timeouts(total=None, deadline=0.5)
    async with fake.client(retry=RetryPolicy(attempts=1), timeouts=timeouts) as client:
        fake.inject(Fault.latency(HELD), route="get_active")
        with pytest.raises(NumbersTimeoutError):
            await asyncio.wait_for(client.active_numbers.get(phone), PATIENCE)


async def test_an_attempts_total_applies_under_a_longer_deadline(fake: FakeNumbersServer) -> None:
    (phone,) = fake.add_active_numbers(1)
    timeouts = Timeouts(total=0.3, deadline=HELD)
    async with fake.client(retry=RetryPolicy(attempts=1), timeouts=timeouts) as client:
        fake.inject(Fault.latency(HELD), route="get_active")
        with pytest.raises(NumbersTimeoutError):
            await asyncio.wait_for(client.active_numbers.get(phone), PATIENCE)


async def test_the_check_after_a_lost_rent_shares_the_calls_deadline(
    fake: FakeNumbersServer,
) -> None:
    quick = RetryPolicy(backoff=0.001, max_backoff=0.002)
    async with fake.client(retry=quick, timeouts=Timeouts(deadline=3.0)) as client:
        (number,) = await client.available_numbers.search("US", "LOCAL", size=1)
        # The rent is done but its answer is a 503 after 2.5 s; the retry is told "not
        # available"; the GET that would settle it is held by the server.
        fake.inject(Fault.latency(2.5), route="rent", times=1)
        fake.inject(Fault.status_after(503), route="rent", times=1)
        fake.inject(Fault.latency(HELD), route="get_active")
        started = time.monotonic()
        with pytest.raises(AmbiguousOutcomeError):
            await asyncio.wait_for(client.available_numbers.rent(number.phone_number), PATIENCE)
    # Within the 3 s deadline (plus slack), not 2.5 s + a fresh 3 s for the GET.
    assert time.monotonic() - started < 4.5
    assert fake.rent_counts[number.phone_number] == 1
