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


async def send_steadily(gate: RateGate, time: VirtualTime, count: int, gap: float) -> None:
    for _ in range(count):
        await gate.acquire()
        time.now += gap


async def test_a_pause_stops_everything_then_resumes_at_the_granted_rate(time: VirtualTime) -> None:
    gate = RateGate(None, clock=time.clock, sleep=time.sleep)
    await send_steadily(gate, time, 41, 0.02)  # 41 sent in 0.82 s; the last one is refused
    gate.pause(2.0)
    paused_at = time.now
    # 40 granted over the 0.82 s they took plus the 2 s pause now owed.
    assert gate.rate == pytest.approx(40 / 2.82)
    await gate.acquire()
    assert time.now >= paused_at + 2.0


async def test_refusals_of_requests_sent_before_the_pause_do_not_slow_it_further(
    time: VirtualTime,
) -> None:
    gate = RateGate(None, clock=time.clock, sleep=time.sleep)
    await send_steadily(gate, time, 100, 0.001)
    gate.pause(1.0)
    rate = gate.rate
    for _ in range(20):  # the rest of the burst, refused while the pause runs
        time.now += 0.001
        gate.pause(1.0)
    assert gate.rate == rate
    assert gate.paused_until == pytest.approx(time.now + 1.0)  # each refusal is honoured


async def test_the_granted_rate_is_held_then_ramps_back_to_unlimited(time: VirtualTime) -> None:
    gate = RateGate(None, clock=time.clock, sleep=time.sleep)
    await send_steadily(gate, time, 101, 0.01)
    gate.pause(1.0)
    granted = gate.rate
    assert granted is not None
    resumed = gate.paused_until
    rates: list[float | None] = []
    while gate.rate is not None:
        await gate.acquire()
        rates.append(gate.rate)
        assert time.now - resumed < 60, "never recovered"
    held = [r for r in rates if r == granted]
    assert len(held) >= 10 * granted * 0.9  # about ten seconds at the granted rate
    assert any(r is not None and r > granted for r in rates)  # then faster, step by step


async def test_after_a_quiet_spell_the_granted_rate_is_measured_afresh(time: VirtualTime) -> None:
    gate = RateGate(None, clock=time.clock, sleep=time.sleep)
    await gate.acquire()
    time.now += 30  # idle: the server's bucket is full again
    await send_steadily(gate, time, 51, 0.002)
    gate.pause(1.0)
    assert gate.rate == pytest.approx(50 / 1.102)  # not diluted by the idle 30 s


async def test_with_a_limit_the_ramp_stops_at_the_limit(time: VirtualTime) -> None:
    gate = RateGate(50, clock=time.clock, sleep=time.sleep)
    await send_steadily(gate, time, 61, 0.0)
    gate.pause(0.5)
    assert gate.rate is not None
    assert gate.rate < 50
    for _ in range(1500):
        await gate.acquire()
    assert gate.rate == 50


async def test_a_shorter_pause_never_shortens_a_longer_one(time: VirtualTime) -> None:
    gate = RateGate(None, clock=time.clock, sleep=time.sleep)
    gate.pause(5.0)
    until = gate.paused_until
    gate.pause(1.0)
    assert gate.paused_until == until
