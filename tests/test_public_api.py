"""The public surface is exactly what docs/reference/ documents, and nothing private leaks."""

from __future__ import annotations

import enum
import inspect
import os
from collections.abc import Callable
from typing import Any, Literal, get_args, get_origin

import pytest

import numbers_async
from numbers_async import NumbersClient, RetryPolicy, Timeouts, errors, models
from numbers_async.testing import FakeNumbersServer

# Type aliases cannot carry a __doc__; each is documented where it is defined, in models.
LITERAL_ALIASES: dict[str, type[enum.Enum]] = {
    "CapabilityName": models.Capability,
    "NumberTypeName": models.NumberType,
    "SearchPatternName": models.SearchPattern,
}

PROMISED_NAMES = {
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
    assert set(numbers_async.__all__) >= PROMISED_NAMES
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
        if name != "__version__" and name not in LITERAL_ALIASES:
            assert getattr(numbers_async, name).__doc__, name


@pytest.mark.parametrize("name", sorted(LITERAL_ALIASES))
def test_literal_alias_lists_exactly_the_enums_known_values(name: str) -> None:
    alias = getattr(numbers_async, name)

    assert get_origin(alias) is Literal
    assert get_args(alias) == tuple(member.value for member in LITERAL_ALIASES[name])


def test_bulk_stream_is_exported_lazily() -> None:
    from numbers_async import bulk

    assert "BulkStream" in numbers_async.__all__
    assert numbers_async.BulkStream is bulk.BulkStream


def test_the_emergency_address_models_are_exported_lazily() -> None:
    from numbers_async import _addresses

    for name in _addresses.__all__:
        assert name in models.__all__
        assert getattr(numbers_async, name) is getattr(models, name) is getattr(_addresses, name)


@pytest.mark.parametrize("module", [numbers_async, models], ids=lambda module: module.__name__)
def test_dir_lists_every_exported_name_lazy_ones_included(module: Any) -> None:
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        module.Nothing  # noqa: B018 - the module's __getattr__ refuses what it does not export


def _keywords(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    return {
        name: parameter
        for name, parameter in inspect.signature(function).parameters.items()
        if name != "self"
    }


def test_from_env_takes_every_constructor_argument_by_name() -> None:
    constructor = _keywords(NumbersClient.__init__)
    from_env = _keywords(NumbersClient.from_env)

    assert set(from_env) == set(constructor)
    assert from_env.pop("options").kind is inspect.Parameter.VAR_KEYWORD
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in from_env.values())


@pytest.mark.parametrize(
    "function", [NumbersClient.__init__, NumbersClient.from_env, FakeNumbersServer.client]
)
def test_the_constructor_settings_are_written_once_in_client_options(
    function: Callable[..., Any],
) -> None:
    options = _keywords(function)["options"]
    assert options.kind is inspect.Parameter.VAR_KEYWORD
    assert options.annotation == "Unpack[ClientOptions]"  # the one list of the settings
    assert numbers_async.ClientOptions.__optional_keys__ == {
        "auth",
        "max_concurrency",
        "rate_limit",
        "retry",
        "timeouts",
        "session",
        "transport",
        "max_response_size",
        "event_hooks",
        "tracing",
        "trace_phone_numbers",
        "tracer_provider",
        "meter_provider",
    }


async def test_a_misspelt_setting_is_a_type_error_everywhere(fake: FakeNumbersServer) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_concurency'"):
        NumbersClient("p", "k", "s", max_concurency=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_concurency'"):
        NumbersClient.from_env(project_id="p", key_id="k", key_secret="s", max_concurency=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'base_url'"):
        fake.client(base_url="http://elsewhere")  # type: ignore[call-arg]


async def test_every_setting_reaches_the_client(fake: FakeNumbersServer) -> None:
    retry, timeouts = RetryPolicy(attempts=2), Timeouts(total=5)
    async with fake.client(
        auth="basic", max_concurrency=2, rate_limit=50, retry=retry, timeouts=timeouts
    ) as client:
        await client.callbacks.get()
    assert (client.retry, client.timeouts) == (retry, timeouts)
    assert fake.token_requests == 0  # basic auth


def test_fake_client_takes_the_constructor_arguments_it_does_not_fix() -> None:
    fixed = {"project_id", "key_id", "key_secret", "base_url", "auth_url"}
    constructor = _keywords(NumbersClient.__init__)

    assert set(_keywords(FakeNumbersServer.client)) == set(constructor) - fixed


def test_from_env_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINCH_PROJECT_ID", "env-project")
    monkeypatch.setenv("SINCH_KEY_ID", "env-key")
    monkeypatch.setenv("SINCH_KEY_SECRET", "env-secret")
    monkeypatch.setenv("SINCH_NUMBERS_URL", "http://127.0.0.1:1")

    client = NumbersClient.from_env(project_id="given", base_url="http://127.0.0.1:2")

    assert (client.project_id, client.key_id) == ("given", "env-key")
    assert "http://127.0.0.1:2" in repr(client)
    assert os.environ["SINCH_KEY_SECRET"] not in repr(client)


async def test_fake_close_is_a_deprecated_alias_of_aclose() -> None:
    fake = FakeNumbersServer()
    await fake.start()

    with pytest.deprecated_call(match="aclose"):
        await fake.close()

    with pytest.raises(RuntimeError, match="not started"):
        _ = fake.url
