"""Sending the library's logs to stderr: ``NUMBERS_ASYNC_LOG``, as ``OPENAI_LOG`` does.

Every logger of the package is below ``numbers_async``: ``numbers_async.http`` logs each
HTTP exchange at DEBUG (with its request id); retries and waits are INFO; fallbacks and
ambiguous outcomes WARNING. ``NUMBERS_ASYNC_LOG=debug`` (or ``info``, ``warning``) adds a
handler to stderr at that level (``log_from_env``, run when the package is imported).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import IO, Final

from numbers_async.errors import InvalidInputError

__all__ = ["LOG_ENV", "configure_logging", "log_from_env"]

logger = logging.getLogger("numbers_async")

#: The environment variable that sends the library's logs to stderr, at its level.
LOG_ENV: Final = "NUMBERS_ASYNC_LOG"
_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}

_HANDLER_NAME: Final = "numbers_async.stderr"


def configure_logging(level: str, stream: IO[str] | None = None) -> None:
    """Send the library's logs at ``level`` and above to ``stream`` (stderr).

    ``level`` is ``"debug"``, ``"info"`` or ``"warning"`` (any case). Calling it again
    replaces the handler it added; handlers the application added are left alone.
    """
    wanted = _LEVELS.get(level.strip().lower())
    if wanted is None:
        raise InvalidInputError("level", "must be 'debug', 'info' or 'warning'", level)
    for handler in list(logger.handlers):
        if handler.get_name() == _HANDLER_NAME:
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(wanted)


def log_from_env(environ: Mapping[str, str] = os.environ) -> None:
    """Apply ``NUMBERS_ASYNC_LOG`` if it is set (a value it does not know shows warnings)."""
    value = environ.get(LOG_ENV)
    if not value:
        return
    if value.strip().lower() in _LEVELS:
        configure_logging(value)
        return
    configure_logging("warning")
    logger.warning(
        "%s=%r is not one of debug, info, warning: showing warnings only", LOG_ENV, value
    )
