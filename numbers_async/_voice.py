"""Voice configuration models: a union on the wire's `type` (RTC, EST, FAX).

`numbers_async.models` re-exports every public name here. The API's voice
configuration, and the scheduled change of one, is a union discriminated by its `type`
member (see `docs/api-facts.md#the-api-beyond-the-10-spec`): `RTC` (a Voice API app,
`appId`), `EST` (an Elastic SIP Trunk, `trunkId`) and `FAX` (a Fax service,
`serviceId`); without `type`, the API means `RTC`. One class per type, all subclasses
of `VoiceConfiguration` (or `ScheduledVoiceProvisioning`), and one for a type this
version does not know, which keeps every member it came with.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from numbers_async._enums import ProvisioningStatus

__all__ = [
    "RAW",
    "EstScheduledVoiceProvisioning",
    "EstVoiceConfiguration",
    "FaxScheduledVoiceProvisioning",
    "FaxVoiceConfiguration",
    "RtcScheduledVoiceProvisioning",
    "RtcVoiceConfiguration",
    "ScheduledVoiceProvisioning",
    "UnknownScheduledVoiceProvisioning",
    "UnknownVoiceConfiguration",
    "VoiceConfiguration",
]

#: Field metadata of a field holding a whole JSON object as received (an unknown
#: type's members): decoders fill it with the object, exports with wire names spread it.
RAW: Final = "numbers_async.raw"


def _read_app_id(config: object) -> None:
    # Only reached for a type that has no app (an RTC class has the field itself).
    warnings.warn(
        f"{type(config).__name__} has no app_id (it is not an RTC configuration), so "
        "app_id reads None; check the type, e.g. isinstance(config, RtcVoiceConfiguration)",
        DeprecationWarning,
        stacklevel=3,
    )


# --- the current configuration ---------------------------------------------------------------


@attrs.frozen(init=False)
class VoiceConfiguration:
    """Voice settings of a number, one class per `type`; pass one as `voice=`.

    A number's `voice_configuration` is one of
    [`RtcVoiceConfiguration`][numbers_async.models.RtcVoiceConfiguration] (a Voice API app),
    [`EstVoiceConfiguration`][numbers_async.models.EstVoiceConfiguration] (an Elastic SIP
    Trunk), [`FaxVoiceConfiguration`][numbers_async.models.FaxVoiceConfiguration] (a Fax
    service), or [`UnknownVoiceConfiguration`][numbers_async.models.UnknownVoiceConfiguration]
    for a type newer than this version. All are `VoiceConfiguration`s and have `type`,
    `last_updated_time` (read-only) and `scheduled_voice_provisioning` (read-only: the
    change still being applied). See [Voice and emergency addresses](../guides/voice.md).

    Calling `VoiceConfiguration(app_id=...)` itself builds an `RtcVoiceConfiguration`,
    as it always has: code written before the API had other types keeps working.

    Examples:
        ```python
        from numbers_async import (
            EstVoiceConfiguration,
            RtcVoiceConfiguration,
            VoiceConfiguration,
        )

        trunk = EstVoiceConfiguration(trunk_id="my-trunk")
        assert isinstance(trunk, VoiceConfiguration)
        assert VoiceConfiguration(app_id="my-app") == RtcVoiceConfiguration("my-app")
        ```
    """

    if TYPE_CHECKING:
        type: str
        """The wire's `type`: `"RTC"`, `"EST"`, `"FAX"` or a newer one."""
        last_updated_time: datetime | None
        """When the voice settings last changed, timezone-aware UTC; read-only."""
        scheduled_voice_provisioning: ScheduledVoiceProvisioning | None
        """The voice change still being applied, of any type; read-only."""

        def __init__(
            self,
            app_id: str | None = None,
            last_updated_time: datetime | None = None,
            scheduled_voice_provisioning: ScheduledVoiceProvisioning | None = None,
        ) -> None: ...

    def __new__(cls, *args: Any, **kwargs: Any) -> VoiceConfiguration:
        if cls is VoiceConfiguration:  # the name that meant RTC before there were types
            return RtcVoiceConfiguration(*args, **kwargs)
        return super().__new__(cls)

    @property
    def app_id(self) -> str | None:
        """Deprecated outside `RtcVoiceConfiguration`: `None` here, with a warning.

        Only an RTC configuration has an app. Reading `app_id` of another type cannot
        tell "no app" from "a trunk or fax service", so it warns: check the class instead.
        """
        _read_app_id(self)
        return None


@attrs.frozen
class RtcVoiceConfiguration(VoiceConfiguration):
    """A number whose calls go to a Voice API application (`type` `"RTC"`).

    An empty `app_id` (`""`) unlinks the number from its app.
    """

    type: Literal["RTC"] = attrs.field(default="RTC", init=False)
    """Always `"RTC"` (wire: `type`)."""

    app_id: str | None = None
    """The Voice application the number is linked to, `""` when none (wire: `appId`).
    `None` when the server leaves it out.
    """

    last_updated_time: datetime | None = None
    """When the voice settings last changed, timezone-aware UTC (wire: `lastUpdatedTime`);
    read-only. `None` when the server leaves it out.
    """

    scheduled_voice_provisioning: ScheduledVoiceProvisioning | None = None
    """The voice change still being applied (wire: `scheduledVoiceProvisioning`), of any
    type; `None` once it is done or when nothing was requested. Read-only.
    """


@attrs.frozen
class EstVoiceConfiguration(VoiceConfiguration):
    """A number whose calls go to an Elastic SIP Trunk (`type` `"EST"`)."""

    type: Literal["EST"] = attrs.field(default="EST", init=False)
    """Always `"EST"` (wire: `type`)."""

    trunk_id: str | None = None
    """The Elastic SIP Trunk the number is linked to, `""` when none (wire: `trunkId`).
    `None` when the server leaves it out.
    """

    last_updated_time: datetime | None = None
    """When the voice settings last changed, timezone-aware UTC (wire: `lastUpdatedTime`);
    read-only. `None` when the server leaves it out.
    """

    scheduled_voice_provisioning: ScheduledVoiceProvisioning | None = None
    """The voice change still being applied (wire: `scheduledVoiceProvisioning`), of any
    type; `None` once it is done or when nothing was requested. Read-only.
    """


@attrs.frozen
class FaxVoiceConfiguration(VoiceConfiguration):
    """A number whose calls go to a Fax service (`type` `"FAX"`)."""

    type: Literal["FAX"] = attrs.field(default="FAX", init=False)
    """Always `"FAX"` (wire: `type`)."""

    service_id: str | None = None
    """The Fax service the number is linked to, `""` when none (wire: `serviceId`).
    `None` when the server leaves it out.
    """

    last_updated_time: datetime | None = None
    """When the voice settings last changed, timezone-aware UTC (wire: `lastUpdatedTime`);
    read-only. `None` when the server leaves it out.
    """

    scheduled_voice_provisioning: ScheduledVoiceProvisioning | None = None
    """The voice change still being applied (wire: `scheduledVoiceProvisioning`), of any
    type; `None` once it is done or when nothing was requested. Read-only.
    """


@attrs.frozen
class UnknownVoiceConfiguration(VoiceConfiguration):
    """A voice configuration of a `type` this version does not know; nothing is dropped.

    `raw` holds every member of the JSON object as received. It cannot be sent back
    (`rent` and `update` refuse it): this version does not know what the type needs.
    """

    type: str
    """The type the API sent (wire: `type`)."""

    raw: Mapping[str, Any] = attrs.field(factory=dict, hash=False, metadata={RAW: True})
    """Every member of the JSON object as received, `type` included. With wire names,
    `to_dict` writes them at the top level, beside the decoded fields.
    """

    last_updated_time: datetime | None = None
    """When the voice settings last changed, timezone-aware UTC (wire: `lastUpdatedTime`);
    read-only. `None` when the server leaves it out.
    """

    scheduled_voice_provisioning: ScheduledVoiceProvisioning | None = None
    """The voice change still being applied (wire: `scheduledVoiceProvisioning`), of any
    type; `None` once it is done or when nothing was requested. Read-only.
    """


# --- the change being applied -----------------------------------------------------------------


@attrs.frozen(init=False)
class ScheduledVoiceProvisioning:
    """A voice change still being applied after a rent or update, one class per `type`.

    [`RtcScheduledVoiceProvisioning`][numbers_async.models.RtcScheduledVoiceProvisioning],
    [`EstScheduledVoiceProvisioning`][numbers_async.models.EstScheduledVoiceProvisioning],
    [`FaxScheduledVoiceProvisioning`][numbers_async.models.FaxScheduledVoiceProvisioning],
    or
    [`UnknownScheduledVoiceProvisioning`][numbers_async.models.UnknownScheduledVoiceProvisioning]
    for a type newer than this version; all have `type`, `status` and
    `last_updated_time`. The type
    may differ from the current configuration's: switching a number from RTC to FAX
    shows an `RtcVoiceConfiguration` with a `FaxScheduledVoiceProvisioning`.

    Calling `ScheduledVoiceProvisioning(app_id=...)` itself builds an
    `RtcScheduledVoiceProvisioning`, as it always has.
    """

    if TYPE_CHECKING:
        type: str
        """The wire's `type`: `"RTC"`, `"EST"`, `"FAX"` or a newer one."""
        status: ProvisioningStatus | None
        """How far the change is: `WAITING`, `IN_PROGRESS` or `FAILED`."""
        last_updated_time: datetime | None
        """When the status last changed, timezone-aware UTC."""

        def __init__(
            self,
            app_id: str | None = None,
            status: ProvisioningStatus | None = None,
            last_updated_time: datetime | None = None,
        ) -> None: ...

    def __new__(cls, *args: Any, **kwargs: Any) -> ScheduledVoiceProvisioning:
        if cls is ScheduledVoiceProvisioning:  # the name that meant RTC before types
            return RtcScheduledVoiceProvisioning(*args, **kwargs)
        return super().__new__(cls)

    @property
    def app_id(self) -> str | None:
        """Deprecated outside `RtcScheduledVoiceProvisioning`: `None` here, with a warning."""
        _read_app_id(self)
        return None


@attrs.frozen
class RtcScheduledVoiceProvisioning(ScheduledVoiceProvisioning):
    """A Voice API application being linked (`type` `"RTC"`)."""

    type: Literal["RTC"] = attrs.field(default="RTC", init=False)
    """Always `"RTC"` (wire: `type`)."""

    app_id: str | None = None
    """The Voice application being linked (wire: `appId`). `None` when the server leaves
    it out.
    """

    status: ProvisioningStatus | None = None
    """How far the change is: `WAITING`, `IN_PROGRESS` or `FAILED` (wire: `status`).
    `None` when the server leaves it out.
    """

    last_updated_time: datetime | None = None
    """When the status last changed, timezone-aware UTC (wire: `lastUpdatedTime`). `None`
    when the server leaves it out.
    """


@attrs.frozen
class EstScheduledVoiceProvisioning(ScheduledVoiceProvisioning):
    """An Elastic SIP Trunk being linked (`type` `"EST"`)."""

    type: Literal["EST"] = attrs.field(default="EST", init=False)
    """Always `"EST"` (wire: `type`)."""

    trunk_id: str | None = None
    """The Elastic SIP Trunk being linked (wire: `trunkId`). `None` when the server
    leaves it out.
    """

    status: ProvisioningStatus | None = None
    """How far the change is: `WAITING`, `IN_PROGRESS` or `FAILED` (wire: `status`).
    `None` when the server leaves it out.
    """

    last_updated_time: datetime | None = None
    """When the status last changed, timezone-aware UTC (wire: `lastUpdatedTime`). `None`
    when the server leaves it out.
    """


@attrs.frozen
class FaxScheduledVoiceProvisioning(ScheduledVoiceProvisioning):
    """A Fax service being linked (`type` `"FAX"`)."""

    type: Literal["FAX"] = attrs.field(default="FAX", init=False)
    """Always `"FAX"` (wire: `type`)."""

    service_id: str | None = None
    """The Fax service being linked (wire: `serviceId`). `None` when the server leaves it
    out.
    """

    status: ProvisioningStatus | None = None
    """How far the change is: `WAITING`, `IN_PROGRESS` or `FAILED` (wire: `status`).
    `None` when the server leaves it out.
    """

    last_updated_time: datetime | None = None
    """When the status last changed, timezone-aware UTC (wire: `lastUpdatedTime`). `None`
    when the server leaves it out.
    """


@attrs.frozen
class UnknownScheduledVoiceProvisioning(ScheduledVoiceProvisioning):
    """A voice change of a `type` this version does not know; nothing is dropped."""

    type: str
    """The type the API sent (wire: `type`)."""

    raw: Mapping[str, Any] = attrs.field(factory=dict, hash=False, metadata={RAW: True})
    """Every member of the JSON object as received, `type` included. With wire names,
    `to_dict` writes them at the top level, beside the decoded fields.
    """

    status: ProvisioningStatus | None = None
    """How far the change is (wire: `status`). `None` when the server leaves it out."""

    last_updated_time: datetime | None = None
    """When the status last changed, timezone-aware UTC (wire: `lastUpdatedTime`). `None`
    when the server leaves it out.
    """


#: Each union's classes by the wire `type` they decode, its class for any other type,
#: and the type the API means when `type` is missing.
UNIONS: Final[dict[type[Any], tuple[dict[str, type[Any]], type[Any], str]]] = {
    VoiceConfiguration: (
        {
            "RTC": RtcVoiceConfiguration,
            "EST": EstVoiceConfiguration,
            "FAX": FaxVoiceConfiguration,
        },
        UnknownVoiceConfiguration,
        "RTC",
    ),
    ScheduledVoiceProvisioning: (
        {
            "RTC": RtcScheduledVoiceProvisioning,
            "EST": EstScheduledVoiceProvisioning,
            "FAX": FaxScheduledVoiceProvisioning,
        },
        UnknownScheduledVoiceProvisioning,
        "RTC",
    ),
}
