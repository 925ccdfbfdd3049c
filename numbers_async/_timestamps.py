"""RFC 3339 timestamps as the API and its callbacks write them.

REST responses use ``Z`` and 0-6 fractional digits; callback payloads have no zone and
6-9 fractional digits (docs/api-facts.md#callbacks). Python's ``datetime.fromisoformat`` on 3.10
accepts neither ``Z`` nor more than six digits, so the text is normalised first.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

__all__ = ["format_datetime", "parse_datetime"]

#: Compiled on first use, through ``re``'s cache: only a timestamp the decoders do not read
#: inline (``_fields``), or a callback's, comes here, and the import stays lean (B7).
_RFC3339 = r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:?\d{2})?"


def parse_datetime(text: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware datetime; no zone means UTC.

    Fractional digits beyond microseconds are truncated (never rounded up into the next
    second). Raises ``ValueError`` for anything else.
    """
    match = re.fullmatch(_RFC3339, text)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text[:40]!r}")
    day, clock, fraction, zone = match.groups()
    iso = f"{day}T{clock}"
    if fraction:
        iso += "." + fraction[:6].ljust(6, "0")
    if zone is None or zone in "Zz":
        return datetime.fromisoformat(iso).replace(tzinfo=timezone.utc)
    if ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    return datetime.fromisoformat(iso + zone)


def format_datetime(value: datetime) -> str:
    """Format as RFC 3339, with ``Z`` for UTC and naive values (the API's own style)."""
    offset = value.utcoffset()
    if offset is None or not offset:
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()
