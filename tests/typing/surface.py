"""What a type checker must say about the public surface (``mypy --strict tests``).

Nothing here runs: pytest collects only ``test_*.py``, and the functions are never called.
Each ``# type: ignore[code]`` line is a mistake mypy must flag; if a signature loosened so
that the mistake passed, the ignore would be unused and ``warn_unused_ignores`` (part of
``--strict``) would fail the typecheck. The lines without an ignore must stay accepted.
"""

from __future__ import annotations

from numbers_async import (
    BulkStream,
    Capability,
    CapabilityName,
    NumbersClient,
    NumberType,
    NumberTypeName,
    RetryPolicy,
    SearchPattern,
    Timeouts,
)
from numbers_async.testing import FakeNumbersServer


def from_env_lists_its_keywords() -> None:
    NumbersClient.from_env(max_concurrency=3, retry=RetryPolicy(), timeouts=Timeouts())
    NumbersClient.from_env(max_concurency=3)  # type: ignore[call-arg]
    NumbersClient.from_env(auth="bearer")  # type: ignore[arg-type]


def fake_client_lists_its_keywords(fake: FakeNumbersServer) -> None:
    fake.client(max_concurrency=3, auth="basic")
    fake.client(max_concurency=3)  # type: ignore[call-arg]
    fake.client(base_url="http://elsewhere")  # type: ignore[call-arg]


async def fake_closes_with_aclose(fake: FakeNumbersServer) -> None:
    await fake.aclose()


async def enum_arguments_take_members_or_known_strings(client: NumbersClient) -> None:
    await client.available_numbers.search("US", "LOCAL", search_pattern="START")
    await client.available_numbers.search(
        "US", NumberType.TOLL_FREE, capabilities=[Capability.SMS, "VOICE"]
    )
    client.active_numbers.list(number_type="MOBILE", search_pattern=SearchPattern.END)
    await client.available_regions.list(types=["LOCAL", NumberType.MOBILE])


async def wrong_enum_literals_are_type_errors(client: NumbersClient) -> None:
    await client.available_numbers.search("US", "local")  # type: ignore[arg-type]
    await client.available_numbers.rent_any("US", "CELL")  # type: ignore[arg-type]
    await client.available_numbers.search(
        "US",
        "LOCAL",
        search_pattern="BEGINS",  # type: ignore[arg-type]
    )
    client.active_numbers.list(capabilities="FAX")  # type: ignore[arg-type]
    client.bulk.rent_any(3, "US", "local")  # type: ignore[arg-type]
    client.bulk.rent_any(3, "US", "LOCAL", capabilities=["FAX"])  # type: ignore[list-item]


def literal_aliases_name_the_known_values() -> None:
    kind: NumberTypeName = "TOLL_FREE"
    wrong: CapabilityName = "FAX"  # type: ignore[assignment]
    del kind, wrong


def bulk_stream_is_exported(stream: BulkStream) -> BulkStream:
    return stream


async def request_makes_a_post_or_patch_say_whether_it_is_idempotent(
    client: NumbersClient,
) -> None:
    await client.request("GET", "numberOrders/x", params={"a": ["b", 1, True]})
    await client.request("PUT", "numberOrders/x/registration", json={"data": {}})
    await client.request("POST", "numberOrders:createNumberOrder", json={}, idempotent=False)
    await client.request("PATCH", "x", json=[1], idempotent=True)
    await client.request("POST", "numberOrders:createNumberOrder", json={})  # type: ignore[call-overload]
    await client.request("DELETE", "numberOrders/x", idempotent=False)  # type: ignore[call-overload]
    await client.request("GET", "x", json={"a": 1})  # type: ignore[call-overload]
    await client.request("OPTIONS", "x")  # type: ignore[call-overload]
    await client.request("GET", "x", params={"a": 1.5})  # type: ignore[call-overload]
