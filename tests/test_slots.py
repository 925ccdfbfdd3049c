"""The attempt layer's slots: at most ``max_concurrency`` in flight, in arrival order.

``Slots`` replaces ``asyncio.Semaphore`` on the hot path (a free slot is taken without
an await), so these pin what the semaphore gave: the bound, the order, and that a
cancelled waiter neither takes a slot nor loses one.
"""

from __future__ import annotations

import asyncio

from numbers_async._attempt import Slots


async def _settle() -> None:
    """Let every task that can run, run (a few passes of the loop, no time passing)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_free_slots_are_taken_without_waiting_up_to_the_size() -> None:
    slots = Slots(2)
    assert slots.take_free()
    assert slots.take_free()
    assert not slots.take_free()
    slots.give_back()
    assert slots.take_free()


async def test_waiters_get_slots_in_arrival_order_and_newcomers_do_not_overtake() -> None:
    slots = Slots(1)
    await slots.take()
    order: list[int] = []

    async def waiter(index: int) -> None:
        await slots.take()
        order.append(index)

    tasks = [asyncio.create_task(waiter(index)) for index in range(3)]
    await _settle()
    assert order == []
    slots.give_back()  # handed to the first waiter, not made free
    assert not slots.take_free()
    await _settle()
    assert order == [0]
    slots.give_back()
    slots.give_back()
    await _settle()
    assert order == [0, 1, 2]
    await asyncio.gather(*tasks)
    assert not slots.take_free()  # the last waiter still holds the one slot
    slots.give_back()
    assert slots.take_free()


async def test_a_waiter_cancelled_while_waiting_takes_no_slot() -> None:
    slots = Slots(1)
    await slots.take()
    cancelled = asyncio.create_task(slots.take())
    later = asyncio.create_task(slots.take())
    await _settle()
    cancelled.cancel()
    await _settle()
    assert cancelled.cancelled()
    slots.give_back()  # goes to the waiter behind the cancelled one
    await _settle()
    assert later.done()
    slots.give_back()
    assert slots.take_free()


async def test_a_waiter_cancelled_as_it_is_handed_a_slot_passes_it_on() -> None:
    slots = Slots(1)
    await slots.take()
    first = asyncio.create_task(slots.take())
    second = asyncio.create_task(slots.take())
    await _settle()
    slots.give_back()  # handed to the first waiter...
    first.cancel()  # ...which is cancelled before it runs again
    await _settle()
    assert first.cancelled()
    assert second.done()  # the slot went on to the next waiter, not lost
    slots.give_back()
    assert slots.take_free()
    assert not slots.take_free()  # and was not doubled either
