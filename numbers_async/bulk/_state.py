"""What a journal file says about each item: its lines folded into one state.

The last word counts, except that a success sticks. Kept apart from the file handling
(``_files``) and the open journal (``_journal``) so that both can fold lines the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

from numbers_async.bulk._lines import epoch
from numbers_async.bulk._results import Item, JournalFailure

__all__ = ["FORMAT", "READABLE_VERSIONS", "VERSION", "State", "Status", "sort_key"]

FORMAT: Final = "numbers_async.bulk"
VERSION: Final = 2
READABLE_VERSIONS: Final = frozenset({1, 2})

Status = Literal["succeeded", "failed", "unknown"]


class State:
    """What a journal says about each item: the last word, except that success sticks."""

    def __init__(self) -> None:
        self.status: dict[Item, Status] = {}
        self.numbers: dict[Item, Mapping[str, Any]] = {}  # succeeded item -> ActiveNumber JSON
        self.baseline: frozenset[str] | None = None
        self.header: Mapping[str, Any] | None = None
        self.positions: dict[int, Item] = {}  # input position -> the item that succeeded there
        self.had_unknown: set[Item] = set()  # items with an attempt whose outcome was unknown
        self.open_intent: set[Item] = set()  # an intent with no outcome after it (yet)
        # The last intent of each item: (at, window, attempt window); None where not recorded.
        self.intents: dict[Item, tuple[float, float | None, float | None]] = {}
        # The last failure of each item (error class, message, HTTP status): for reports.
        self.failures: dict[Item, tuple[str, str, int | None]] = {}

    def apply(self, entry: Mapping[str, Any]) -> None:
        """Fold one (validated) journal line into the state."""
        if "baseline" in entry:
            self.baseline = frozenset(entry["baseline"])
            return
        item, event = entry["item"], entry["event"]
        if event == "intent":
            if item in self.open_intent:
                self.had_unknown.add(item)  # the previous attempt never got an outcome
            self.open_intent.add(item)
            self.intents[item] = (epoch(entry["at"]), entry.get("window"), _attempt_window(entry))
        else:
            self.open_intent.discard(item)
        if event == "unknown":
            self.had_unknown.add(item)
        if event in ("failed", "unknown"):
            self.failures[item] = (
                entry["error"],
                str(entry.get("message", "")),
                entry.get("status"),
            )
        if self.status.get(item) == "succeeded":
            return  # a later failure of a repeated item must not undo a success
        if event == "succeeded":
            self.status[item] = "succeeded"
            self.numbers[item] = entry["number"]
            if "seq" in entry:
                self.positions[entry["seq"]] = item
        elif event == "failed":
            self.status[item] = "failed"
        else:  # "intent" without an outcome, or "unknown": the request may have acted
            self.status[item] = "unknown"

    def needs_check(self, item: Item) -> bool:
        """Whether an earlier attempt at ``item`` may have acted."""
        status = self.status.get(item)
        if status == "unknown":
            return True
        return status == "failed" and (item in self.had_unknown or item in self.open_intent)

    def failure_list(self) -> list[JournalFailure]:
        """Every item whose last word is a failure (an open intent is in flight, not here)."""
        failed = []
        for item, status in self.status.items():
            if status == "succeeded" or item in self.open_intent:
                continue
            error, message, code = self.failures.get(item, ("", "", None))
            failed.append(JournalFailure(item, error, message, code, status == "unknown"))
        return sorted(failed, key=lambda failure: sort_key(failure.item))

    def in_flight(self) -> int:
        """Items with an intent and no outcome after it (and no success before it)."""
        return sum(1 for item in self.open_intent if self.status.get(item) != "succeeded")


def sort_key(item: Item) -> tuple[int, int, str]:
    """Rent indexes (``rent_any``) in numeric order, before any phone number."""
    return (0, item, "") if isinstance(item, int) else (1, 0, item)


def _attempt_window(entry: Mapping[str, Any]) -> float | None:
    """An intent's attempt window, under its name or the one it had before (``attempt``)."""
    value: float | None = entry.get("attempt_window", entry.get("attempt"))
    return value
