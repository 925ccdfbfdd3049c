"""The receivers' default memory of seen event ids: its size is checked, and it forgets
the least recently seen id first."""

from __future__ import annotations

import pytest

from numbers_async.errors import InvalidInputError
from numbers_async.webhooks import RecentEventIds


@pytest.mark.parametrize("capacity", [0, -1, 2.0, "3", True])
def test_a_capacity_that_is_not_a_positive_whole_number_is_refused(capacity: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        RecentEventIds(capacity)  # type: ignore[arg-type]
    assert caught.value.argument == "capacity"
    assert caught.value.rule == "must be a positive whole number"
    assert f"(got {capacity!r})" in str(caught.value)


async def test_a_memory_of_one_remembers_the_last_id() -> None:
    memory = RecentEventIds(1)
    assert await memory.claim("evt-1")
    assert not await memory.claim("evt-1")
    assert await memory.claim("evt-2")
    assert await memory.claim("evt-1")  # evt-1 was forgotten to make room
    assert len(memory) == 1


async def test_the_least_recently_seen_id_is_forgotten_first() -> None:
    memory = RecentEventIds(2)
    for event_id in ("evt-1", "evt-2"):
        assert await memory.claim(event_id)
    assert not await memory.claim("evt-1")  # seen again: now the most recent
    assert await memory.claim("evt-3")  # evt-2 makes room
    assert not await memory.claim("evt-1")
    assert await memory.claim("evt-2")
