"""Round trips of API JSON through the public models, and what counts as "nothing changed".

``round_trip(data, cls)`` decodes wire JSON into ``cls`` and exports it back with
``to_dict(wire_names=True)``; ``differences(sent, exported)`` lists every member that was
lost or changed. Three things are equal though spelled differently, and are counted
(``Normalised``) rather than hidden:

- a timestamp, compared as the instant it names (the export writes six fractional
  digits: ``.100Z`` comes back as ``.100000Z``);
- ``null`` and an absent member (the export writes ``None`` for a field not sent), and the
  last page's ``"nextPageToken": ""`` (which means "no more pages", decoded to ``None``);
- a voice configuration without ``type`` (the API's default, ``RTC``, is written out), and
  the empty ids of the other voice types (``"trunkId": ""`` in an ``RTC`` configuration),
  which the API sends and a typed configuration does not keep.

A plain module (not conftest) so that tests can import its names.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any

from numbers_async import _json, to_dict
from numbers_async._responses import decode
from numbers_async._timestamps import parse_datetime

#: Members holding timestamps, wherever they appear.
TIMESTAMPS = frozenset({"lastUpdatedTime", "nextChargeDate", "expireAt", "timestamp"})
#: Members holding a voice configuration (a union on "type").
VOICE = frozenset({"voiceConfiguration", "scheduledVoiceProvisioning"})
VOICE_IDS = {"RTC": "appId", "EST": "trunkId", "FAX": "serviceId"}

Normalised = collections.Counter[str]


def round_trip(data: Any, cls: type[Any]) -> dict[str, Any]:
    """``data`` decoded into ``cls`` (as the client decodes a body) and exported back."""
    model = decode(200, _json.dumps(data), cls)
    return to_dict(model, wire_names=True, reveal_secrets=True)


def differences(
    sent: Any,
    exported: Any,
    path: str = "",
    seen: Normalised | None = None,
    *,
    voice: bool = False,
) -> list[str]:
    """Every member of ``sent`` lost or changed in ``exported``, by path.

    Members ``exported`` has beyond ``sent`` must be ``None`` or a normalisation above.
    ``seen`` counts the normalisations applied; ``voice``: ``sent`` is a voice
    configuration (members named like one are recognised by their name).
    """
    seen = collections.Counter() if seen is None else seen
    if isinstance(sent, Mapping) and isinstance(exported, Mapping):
        return _object_differences(sent, exported, path, seen, voice)
    if isinstance(sent, list) and isinstance(exported, list):
        if len(sent) != len(exported):
            return [f"{path}: {len(sent)} items became {len(exported)}"]
        found: list[str] = []
        for index, (a, b) in enumerate(zip(sent, exported, strict=True)):
            found += differences(a, b, f"{path}[{index}]", seen)
        return found
    if sent == exported and type(sent) is type(exported):
        return []
    return [f"{path}: {sent!r} became {exported!r}"]


def _object_differences(
    sent: Mapping[str, Any],
    exported: Mapping[str, Any],
    path: str,
    seen: Normalised,
    voice: bool,
) -> list[str]:
    found: list[str] = []
    kind = sent.get("type") or "RTC"
    for key, value in sent.items():
        where = f"{path}.{key}" if path else key
        if key not in exported:
            if voice and value == "" and key in VOICE_IDS.values() and key != VOICE_IDS.get(kind):
                seen["empty id of another voice type"] += 1
            else:
                found.append(f"{where}: lost")
            continue
        other = exported[key]
        if value is None and other is None:
            continue
        if key in TIMESTAMPS and isinstance(value, str) and isinstance(other, str):
            if parse_datetime(value) == parse_datetime(other):
                seen["timestamp respelled" if value != other else "timestamp"] += 1
            else:
                found.append(f"{where}: {value!r} became {other!r}")
        elif key == "nextPageToken" and value == "" and other is None:
            seen['last page token "" read as none'] += 1
        else:
            found += differences(value, other, where, seen, voice=key in VOICE)
    for key, value in exported.items():
        if key in sent or value is None:
            continue
        if voice and key == "type" and value == "RTC":
            seen["voice type RTC written out"] += 1
        else:
            found.append(f"{path}.{key}: added {value!r}" if path else f"{key}: added {value!r}")
    return found
