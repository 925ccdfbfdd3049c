"""The open enum base, and the enums both model modules use.

``numbers_async.models`` re-exports ``ProvisioningStatus``; it lives here so that the
voice configuration models (``_voice``) can use it without importing ``models``, which
imports them.
"""

from __future__ import annotations

import enum

__all__ = ["ProvisioningStatus", "_OpenEnum"]


class _OpenEnum(str, enum.Enum):
    """A string enum that keeps values it does not know instead of raising."""

    @classmethod
    def _missing_(cls, value: object) -> _OpenEnum | None:
        if not isinstance(value, str):
            return None
        # A pseudo-member, built the way enum builds real ones but not registered, so that
        # is_known() stays False for it and the class's member list never grows.
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @classmethod
    def is_known(cls, value: object) -> bool:
        """Whether `value` (a member or a string) is one of the documented members."""
        return isinstance(value, str) and value in cls._value2member_map_

    def __str__(self) -> str:
        return str(self.value)


class ProvisioningStatus(_OpenEnum):
    """State of a scheduled SMS or Voice provisioning task."""

    WAITING = "WAITING"
    """Accepted, not started yet."""

    IN_PROGRESS = "IN_PROGRESS"
    """Being applied."""

    FAILED = "FAILED"
    """Could not be applied; `error_codes` says why."""

    PROVISIONING_STATUS_UNSPECIFIED = "PROVISIONING_STATUS_UNSPECIFIED"
    """The API did not say (the zero value of the API's enum, listed since its 1.0.3
    description). Treat it as "not known yet", neither done nor failed."""
