"""numbers_async: an asyncio-native client for the Sinch Numbers API.

Examples:
    ```python
    from numbers_async import NumbersClient

    async with NumbersClient(project_id, key_id, key_secret) as client:
        found = await client.available_numbers.search("US", "LOCAL", size=5)
        rented = await client.available_numbers.rent(found[0].phone_number)
    ```
"""

import importlib
from typing import TYPE_CHECKING, Any

from numbers_async._client import NumbersClient
from numbers_async._config import ClientOptions, RetryEvent, RetryPolicy, Timeouts
from numbers_async._convert import to_dict, to_json
from numbers_async._logs import log_from_env
from numbers_async._observe import AttemptEvent
from numbers_async._paging import ActiveNumbersPager
from numbers_async._rate import RateLimiter
from numbers_async._raw import RawActiveNumbersPager, RawResponse
from numbers_async._transport import Transport
from numbers_async._version import __version__
from numbers_async.errors import (
    AmbiguousOutcomeError,
    ApiError,
    AuthenticationError,
    ClientClosedError,
    DecodeError,
    FieldViolation,
    InsecureTransportWarning,
    InvalidArgumentError,
    InvalidEventError,
    InvalidInputError,
    InvalidSignatureError,
    JournalError,
    NotFoundError,
    NumbersError,
    NumbersTimeoutError,
    PermissionDeniedError,
    RateLimitedError,
    ResponseTooLargeError,
    ServerError,
    StaleEventError,
    TokenEndpointError,
    TransportError,
    UnexpectedRedirectError,
    WrongEventLoopError,
)
from numbers_async.models import (
    ActiveNumber,
    AvailableNumber,
    AvailableRegion,
    CallbackConfiguration,
    Capability,
    CapabilityName,
    EstScheduledVoiceProvisioning,
    EstVoiceConfiguration,
    FaxScheduledVoiceProvisioning,
    FaxVoiceConfiguration,
    Money,
    NumberType,
    NumberTypeName,
    Page,
    ProvisioningStatus,
    RtcScheduledVoiceProvisioning,
    RtcVoiceConfiguration,
    ScheduledSmsProvisioning,
    ScheduledVoiceProvisioning,
    SearchPattern,
    SearchPatternName,
    SmsConfiguration,
    SmsErrorCode,
    UnknownScheduledVoiceProvisioning,
    UnknownVoiceConfiguration,
    VoiceConfiguration,
)

if TYPE_CHECKING:
    from numbers_async.bulk import (
        BulkFailure,
        BulkJob,
        BulkOutcome,
        BulkProgress,
        BulkReport,
        BulkStream,
    )
    from numbers_async.models import AddressValidation, AddressValidationResult, EmergencyAddress

# Imported on first use, each name from its module: most programs never run a bulk job or
# manage an emergency address, and those modules were a good part of the import time
# (docs/performance.md, B7).
_LAZY = {
    **dict.fromkeys(
        ("BulkFailure", "BulkJob", "BulkOutcome", "BulkProgress", "BulkReport", "BulkStream"),
        "numbers_async.bulk",
    ),
    **dict.fromkeys(
        ("AddressValidation", "AddressValidationResult", "EmergencyAddress"),
        "numbers_async.models",
    ),
}


# NUMBERS_ASYNC_LOG=debug (or info, warning) sends the library's logs to stderr.
log_from_env()


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'numbers_async' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # from now on an attribute like any other
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ActiveNumber",
    "ActiveNumbersPager",
    "AddressValidation",
    "AddressValidationResult",
    "AmbiguousOutcomeError",
    "ApiError",
    "AttemptEvent",
    "AuthenticationError",
    "AvailableNumber",
    "AvailableRegion",
    "BulkFailure",
    "BulkJob",
    "BulkOutcome",
    "BulkProgress",
    "BulkReport",
    "BulkStream",
    "CallbackConfiguration",
    "Capability",
    "CapabilityName",
    "ClientClosedError",
    "ClientOptions",
    "DecodeError",
    "EmergencyAddress",
    "EstScheduledVoiceProvisioning",
    "EstVoiceConfiguration",
    "FaxScheduledVoiceProvisioning",
    "FaxVoiceConfiguration",
    "FieldViolation",
    "InsecureTransportWarning",
    "InvalidArgumentError",
    "InvalidEventError",
    "InvalidInputError",
    "InvalidSignatureError",
    "JournalError",
    "Money",
    "NotFoundError",
    "NumberType",
    "NumberTypeName",
    "NumbersClient",
    "NumbersError",
    "NumbersTimeoutError",
    "Page",
    "PermissionDeniedError",
    "ProvisioningStatus",
    "RateLimitedError",
    "RateLimiter",
    "RawActiveNumbersPager",
    "RawResponse",
    "ResponseTooLargeError",
    "RetryEvent",
    "RetryPolicy",
    "RtcScheduledVoiceProvisioning",
    "RtcVoiceConfiguration",
    "ScheduledSmsProvisioning",
    "ScheduledVoiceProvisioning",
    "SearchPattern",
    "SearchPatternName",
    "ServerError",
    "SmsConfiguration",
    "SmsErrorCode",
    "StaleEventError",
    "Timeouts",
    "TokenEndpointError",
    "Transport",
    "TransportError",
    "UnexpectedRedirectError",
    "UnknownScheduledVoiceProvisioning",
    "UnknownVoiceConfiguration",
    "VoiceConfiguration",
    "WrongEventLoopError",
    "__version__",
    "to_dict",
    "to_json",
]
