"""The shape every journal line must have: a line that does not is never trusted.

``line_problem`` says what is wrong with one line after the header (types and shapes:
items, events, times, positions, windows; phone numbers in E.164; numbers decoded as the
models describe them), or ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from numbers_async._convert import structure
from numbers_async.models import ActiveNumber

__all__ = ["EVENTS", "epoch", "epoch_or_none", "line_problem", "number_problem"]

EVENTS: Final = frozenset({"intent", "succeeded", "failed", "unknown"})
_E164: Final = re.compile(r"\+[1-9]\d{1,14}")


def line_problem(entry: Mapping[str, Any]) -> str | None:
    """What is wrong with one journal line (after the header), or None."""
    if "baseline" in entry:
        phones = entry["baseline"]
        if not isinstance(phones, list) or not all(_is_phone(phone) for phone in phones):
            return "baseline must be a list of E.164 phone numbers"
        return None
    if "item" not in entry or "event" not in entry:
        return "neither an item's event nor a baseline"
    item, event = entry["item"], entry["event"]
    if not isinstance(item, str) and not _is_count(item):
        return "item must be a string or a non-negative integer"
    if event not in EVENTS:
        return f"unknown event {event!r}"
    if not isinstance(entry.get("at"), str) or epoch_or_none(entry["at"]) is None:
        return "at must be an ISO 8601 time"
    if "seq" in entry and not _is_count(entry["seq"]):
        return "seq must be a non-negative integer"
    for name in ("window", "attempt_window", "attempt"):  # "attempt": its older name
        if name in entry and not _is_seconds(entry[name]):
            return f"{name} must be a non-negative number of seconds"
    if event == "succeeded":
        return _number_problem(entry.get("number"))
    if event in ("failed", "unknown"):
        if not isinstance(entry.get("error"), str):
            return "error must be the name of an error class"
        if "status" in entry and not _is_count(entry["status"]):
            return "status must be an HTTP status"
    return None


def _number_problem(number: Any) -> str | None:
    if not isinstance(number, dict) or not _is_phone(number.get("phoneNumber")):
        return "number must be an active number with an E.164 phoneNumber"
    try:
        structure(number, ActiveNumber)
    except Exception:  # noqa: BLE001 - any decoding failure means the line is not trusted
        return "number is not an active number as the API describes it"
    return None


def _is_phone(value: Any) -> bool:
    return isinstance(value, str) and _E164.fullmatch(value) is not None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_seconds(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < math.inf


def epoch_or_none(text: str) -> float | None:
    """Epoch seconds of an ISO 8601 time with a zone (``...Z``), or None."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


def epoch(text: str) -> float:
    """Epoch seconds of a validated ``at``."""
    moment = epoch_or_none(text)
    return 0.0 if moment is None else moment


def number_problem(number: Any) -> str | None:
    """What is wrong with a recorded ``ActiveNumber`` (wire JSON), or None."""
    return _number_problem(number)
