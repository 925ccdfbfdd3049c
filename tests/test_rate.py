"""The rate gate's arithmetic, on a virtual clock (no sleeping for real)."""

from __future__ import annotations

import pytest

from numbers_async._rate import RateGate


class VirtualTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def time() -> VirtualTime:
    return VirtualTime()


async def test_an_unlimited_gate_never_waits(time: VirtualTime) -> None:
    gate = RateGate(None, clock=time.clock, sleep=time.sleep)
    for _ in range(1000):
        await gate.acquire()
    assert time.slept == []
    assert gate.rate is None


async def test_a_rate_limit_spaces_acquisitions_evenly_after_a_small_burst(
    time: VirtualTime,
) -> None:
    gate = RateGate(100, clock=time.clock, sleep=time.sleep)
    start = time.now
    for _ in range(110):
        await gate.acquire()
    # A burst of 10, then 100 more at 100/s.
    assert time.now - start == pytest.approx(1.0, abs=0.02)


async def test_a_pause_stops_everything_then_resumes_at_half_the_achieved_rate(
    time: VirtualTime,
) -> None:
    gate = RateGate(None, clock=time.clock, sleep=time.sleep)
    for _ in range(40):  # one request every 20 ms
        await gate.acquire()
        time.now += 0.02
    gate.pause(2.0)
    paused_at = time.now
    assert gate.rate == pytest.approx(25.0)  # half of one request per 20 ms
    await gate.acquire()
    assert time.now >= paused_at + 2.0


async def test_after_a_pause_the_rate_ramps_back_to_unlimited(time: VirtualTime) -> None:
    gate = RateGate(None, clock=time.clock, sleep=time.sleep)
    for _ in range(40):
        await gate.acquire()
        time.now += 0.02
    gate.pause(1.0)
    rates = []
    for _ in range(200):
        await gate.acquire()
        rates.append(gate.rate)
    assert rates[0] == pytest.approx(25.0)
    assert rates[-1] is None  # back to unlimited once it reached the rate that drew the 429
    assert any(r is not None and r > 25.0 for r in rates)  # through a faster step on the way


async def test_with_a_limit_the_ramp_stops_at_the_limit(time: VirtualTime) -> None:
    gate = RateGate(50, clock=time.clock, sleep=time.sleep)
    for _ in range(60):
        await gate.acquire()
    gate.pause(0.5)
    assert gate.rate is not None
    assert gate.rate <= 25.0
    for _ in range(300):
        await gate.acquire()
    assert gate.rate == 50


async def test_a_shorter_pause_never_shortens_a_longer_one(time: VirtualTime) -> None:
    gate = RateGate(None, clock=time.clock, sleep=time.sleep)
    gate.pause(5.0)
    until = gate.paused_until
    gate.pause(1.0)
    assert gate.paused_until == until
