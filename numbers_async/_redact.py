"""Redacting secrets out of text that quotes what a server sent (error messages).

A response body quoted in an error message (``DecodeError``, or ``ApiError`` for a body
that is not the API's JSON envelope) may hold a credential: a callback configuration's
``hmacSecret``, an OAuth2 token response's ``access_token``, or a URL's user info.
``redact_secrets`` shows each as ``***``; ``redact_value`` does the same to decoded JSON
(the ``parsed`` of a ``client.request`` answer, in its repr).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

__all__ = ["redact_secrets", "redact_value"]


#: JSON member names whose values are credentials (compared unescaped, ignoring case): a
#: callback configuration's HMAC secret, and an OAuth2 token response's access token.
_SECRET_KEYS: Final = frozenset({"hmacsecret", "access_token"})

#: Where a JSON member name may start: a quoted string followed by a colon. A lookahead,
#: so that every quote is tried (a hostile body cannot hide a key inside a bogus match).
_MEMBER_NAME: Final = r'(?=(?P<member>"(?P<name>(?:[^"\\]|\\.)*)"\s*:\s*))'


#: The user info of a URL (``https://user:password@host``), its slashes possibly escaped as
#: JSON writes them (``https:\/\/``): a credential wherever a server echoes a callback URL.
_URL_USER_INFO: Final = r"([A-Za-z][A-Za-z0-9+.-]{0,31}:(?:\\?/){2})[^/\\\s@\"'<>]*@"

# Both patterns are compiled on first use, through ``re``'s cache: only errors and reprs that
# quote a server's words redact, and the import stays lean (benchmark B7).


def redact_secrets(text: str) -> str:
    r"""``text`` with every secret JSON member's value shown as ``"***"``, and URL user info too.

    ``{"projectId":"p","hmacSecret":"abc"}`` becomes ``{"projectId":"p","hmacSecret":"***"}``;
    ``https://user:password@hooks.example`` becomes ``https://***@hooks.example``.
    Works on excerpts that are not valid JSON: a value cut off by the excerpt's end (or
    never closed) is redacted up to the end, and a name spelt with escapes
    (``"hmac\u0053ecret"``) is recognised as the name it decodes to.
    """
    if "@" in text:
        text = re.sub(_URL_USER_INFO, r"\1***@", text)
    if '"' not in text:
        return text
    parts: list[str] = []
    position = 0
    for match in re.finditer(_MEMBER_NAME, text):
        start = match.start()
        name = _unescape(match["name"])
        if start < position or name.lower() not in _SECRET_KEYS:
            continue
        parts.append(text[position:start])
        parts.append(f'"{name}":"***"')
        position = _value_end(text, match.end("member"))
    if not parts:
        return text
    parts.append(text[position:])
    return "".join(parts)


def redact_value(value: Any) -> Any:
    """A copy of decoded JSON ``value``: each secret member's value and URL user info ``***``.

    ``{"hmacSecret": "abc", "items": [{"url": "https://u:p@h"}]}`` becomes
    ``{"hmacSecret": "***", "items": [{"url": "https://***@h"}]}``.
    """
    if isinstance(value, dict):
        return {
            key: "***" if str(key).lower() in _SECRET_KEYS else redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, str) and "@" in value:
        return re.sub(_URL_USER_INFO, r"\1***@", value)
    return value


def _unescape(name: str) -> str:
    try:
        decoded = json.loads(f'"{name}"')
    except ValueError:
        return name
    return decoded if isinstance(decoded, str) else name


def _value_end(text: str, start: int) -> int:
    """Where the JSON value starting at ``start`` ends (the text's end if it never does)."""
    end = len(text)
    if start >= end:
        return end
    opening = text[start]
    if opening == '"':
        index = start + 1
        while index < end:
            if text[index] == "\\":
                index += 2
            elif text[index] == '"':
                return index + 1
            else:
                index += 1
        return end
    if opening in "[{":
        depth, index, in_string = 0, start, False
        while index < end:
            char = text[index]
            if in_string:
                if char == "\\":
                    index += 1
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
                if depth == 0:
                    return index + 1
            index += 1
        return end
    index = start
    while index < end and text[index] not in ",}]":
        index += 1
    return index
