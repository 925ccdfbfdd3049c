"""What one worker of a Redis job was handed out, and which of it its job still has.

Claims give a worker positions with each item's record; its job takes them one at a time
(``next``) and lets go of each once its outcome is recorded, or withdrawn (``let_go``).
The job never has one item twice at once. A claim may give the worker an item its job
still has (the worker lost its lease, and claimed the item again): that claim is kept
aside until the job lets go of the item, and the job gets the item then, unless the
job's last record of it counted as the holder's (it ran after the claim). Dropping such
a claim would leave Redis holding the item for a worker that never works it, and the
job, whose round ends only once nothing is claimed, would never end.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

from numbers_async.bulk._results import Item

__all__ = ["Claims"]

# Answers to a record that count as the holder's: the record ran after any claim of the
# item, which it consumed ("again": an unknown outcome put back, by its holder).
_HOLDERS: Final = frozenset({"ok", "again"})


class Claims:
    """The items handed out to one worker: waiting for its job, or being worked."""

    def __init__(self) -> None:
        self.records: dict[Item, dict[str, Any]] = {}  # item -> its record, as handed out
        self.resumed: set[int] = set()  # positions handed out as succeeded
        self._waiting: deque[tuple[int, Item]] = deque()
        self._positions: dict[int, Item] = {}  # handed out: position -> item
        self._active: set[int] = set()  # given to the job and not let go
        self._again: dict[int, tuple[Item, dict[str, Any]]] = {}  # claimed again meanwhile

    def give(self, seq: int, item: Item, record: dict[str, Any]) -> None:
        """A claim handed out ``item`` at ``seq`` with ``record``."""
        if seq in self._active:
            self._again[seq] = (item, record)  # never twice at once: let_go decides
            return
        self._positions[seq] = item
        self.records[item] = record
        if record.get("s") == "succeeded":
            self.resumed.add(seq)
        self._waiting.append((seq, item))

    def next(self) -> tuple[int, Item] | None:
        """The next item for the job, if one is waiting."""
        if not self._waiting:
            return None
        seq, item = self._waiting.popleft()
        if seq not in self.resumed:
            self._active.add(seq)
        return seq, item

    @property
    def held(self) -> bool:
        """Whether a claim waits for the job to let go of its item.

        The item is the job's then, to work or to report, even once Redis sees nothing
        left to do: handing out a success claims nothing.
        """
        return bool(self._again)

    def item_at(self, seq: int) -> Item | None:
        """The item handed out at ``seq``, if any."""
        return self._positions.get(seq)

    def intended(self, seq: int) -> None:
        """The job's intent for ``seq`` was recorded: a claim of it meanwhile is that one."""
        self._again.pop(seq, None)

    def let_go(self, item: Item, seq: int, result: str) -> None:
        """The job is done with ``item``: its last record was answered ``result``."""
        self.records.pop(item, None)
        self._active.discard(seq)
        again = self._again.pop(seq, None)
        if again is not None and result not in _HOLDERS:
            self.give(seq, *again)  # the claim came after: the job works (or reports) it

    def drop_waiting(self) -> int:
        """Forget what the job has not started (it went to other workers); how many."""
        dropped = len(self._waiting)
        self._waiting.clear()
        self.resumed.clear()
        return dropped
