"""The public surface is exactly what DESIGN §1 promises, and nothing private leaks."""

from __future__ import annotations

import numbers_async
from numbers_async import errors, models

DESIGN_NAMES = {
    "NumbersClient",
    "ActiveNumber",
    "AvailableNumber",
    "AvailableRegion",
    "Money",
    "SmsConfiguration",
    "VoiceConfiguration",
    "ScheduledSmsProvisioning",
    "ScheduledVoiceProvisioning",
    "CallbackConfiguration",
    "Page",
    "NumberType",
    "Capability",
    "SearchPattern",
    "ProvisioningStatus",
    "NumbersError",
    "InvalidInputError",
    "TransportError",
    "NumbersTimeoutError",
    "AmbiguousOutcomeError",
    "DecodeError",
    "ApiError",
    "InvalidArgumentError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitedError",
    "ServerError",
    "Timeouts",
}


def test_all_is_sorted_and_complete() -> None:
    assert numbers_async.__all__ == sorted(numbers_async.__all__)
    assert set(numbers_async.__all__) >= DESIGN_NAMES
    for name in numbers_async.__all__:
        assert getattr(numbers_async, name) is not None
        assert not name.startswith("_") or name == "__version__"


def test_models_and_errors_are_reexported() -> None:
    for module in (models, errors):
        assert module.__all__ == sorted(module.__all__)
        for name in module.__all__:
            assert getattr(numbers_async, name) is getattr(module, name)


def test_error_tree_matches_the_design() -> None:
    e = errors
    assert issubclass(e.InvalidInputError, ValueError)
    assert issubclass(e.NumbersTimeoutError, e.TransportError)
    assert issubclass(e.NumbersTimeoutError, TimeoutError)
    for cls in (
        e.InvalidInputError,
        e.TransportError,
        e.AmbiguousOutcomeError,
        e.DecodeError,
        e.ApiError,
    ):
        assert cls.__bases__[0] is e.NumbersError
    for cls in (
        e.InvalidArgumentError,
        e.AuthenticationError,
        e.PermissionDeniedError,
        e.NotFoundError,
        e.RateLimitedError,
        e.ServerError,
    ):
        assert cls.__bases__ == (e.ApiError,)


def test_every_public_name_is_documented() -> None:
    for name in numbers_async.__all__:
        if name != "__version__":
            assert getattr(numbers_async, name).__doc__, name
