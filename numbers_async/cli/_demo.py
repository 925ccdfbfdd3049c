"""``numbers-async demo``: a guided tour of the client against the embedded fake server."""

from __future__ import annotations

import asyncio
import time

from numbers_async import ActiveNumber, NumbersClient, SmsConfiguration
from numbers_async.cli._output import table
from numbers_async.testing import FakeNumbersServer

__all__ = ["run_demo"]

SERVICE_PLAN = "demo-service-plan-0001"


def _step(number: int, title: str) -> None:
    print(f"\n[{number}] {title}")


def _sms_state(number: ActiveNumber) -> str:
    sms = number.sms_configuration
    if sms is None:
        return "-"
    if sms.scheduled_provisioning is not None:
        scheduled = sms.scheduled_provisioning
        return f"{scheduled.status} -> {scheduled.service_plan_id}"
    return sms.service_plan_id or "-"


def _active_rows(numbers: list[ActiveNumber]) -> list[list[object]]:
    return [
        [
            n.phone_number,
            n.display_name or "-",
            n.money.amount if n.money else "-",
            _sms_state(n),
            n.expire_at.strftime("%Y-%m-%d") if n.expire_at else "-",
        ]
        for n in numbers
    ]


ACTIVE_HEADERS = ("number", "display name", "monthly", "sms service plan", "expires")


async def run_demo(*, latency: float = 0.005, count: int = 5) -> int:
    """Search, rent ``count`` numbers, list, update one and release them all."""
    started = time.perf_counter()
    async with FakeNumbersServer(latency=latency) as fake, fake.client() as client:
        print(f"numbers-async demo: embedded fake Sinch API at {fake.url}")
        print(f"(it adds {latency * 1000:.0f} ms of latency to every response)")
        await _tour(fake, client, count)
        elapsed = time.perf_counter() - started
        api_requests = [r for r in fake.requests if r.route != "token"]
        print(
            f"\nDone in {elapsed:.2f}s: {len(api_requests)} API requests, "
            f"{fake.token_requests} token request(s), every rented number rented exactly once: "
            f"{all(c == 1 for c in fake.rent_counts.values())}."
        )
    return 0


async def _tour(fake: FakeNumbersServer, client: NumbersClient, count: int) -> None:
    _step(1, "Regions offering LOCAL numbers")
    regions = await client.available_regions.list(types=["LOCAL"])
    print(
        table(
            ("region", "name", "types"),
            [[r.region_code, r.region_name, ", ".join(r.types or ())] for r in regions],
        )
    )

    _step(2, f"Search {count} US LOCAL numbers with SMS, starting with +1206")
    found = await client.available_numbers.search(
        "US", "LOCAL", pattern="+1206", search_pattern="START", capabilities=["SMS"], size=count
    )
    print(
        table(
            ("number", "capabilities", "setup", "monthly"),
            [
                [
                    n.phone_number,
                    ", ".join(n.capability or ()),
                    n.setup_price.amount if n.setup_price else "-",
                    n.monthly_price.amount if n.monthly_price else "-",
                ]
                for n in found
            ],
        )
    )

    _step(3, f"Rent {len(found)} numbers concurrently, linked to SMS service plan {SERVICE_PLAN}")
    sms = SmsConfiguration(service_plan_id=SERVICE_PLAN)
    rented = await asyncio.gather(
        *(client.available_numbers.rent(n.phone_number, sms=sms) for n in found)
    )
    print(table(ACTIVE_HEADERS, _active_rows(list(rented))))
    print("Sinch applies SMS settings asynchronously: they wait under scheduled_provisioning.")

    _step(4, "Provisioning completes; list the project's numbers (page size 2)")
    fake.complete_provisioning()
    pager = client.active_numbers.list(region_code="US", page_size=2)
    pages = 0
    listed: list[ActiveNumber] = []
    async for page in pager.pages():
        pages += 1
        listed.extend(page.items)
    print(table(ACTIVE_HEADERS, _active_rows(listed)))
    print(f"{len(listed)} numbers in {pages} page{'' if pages == 1 else 's'}.")

    first = rented[0].phone_number
    _step(5, f"Name {first} 'Support line'")
    updated = await client.active_numbers.update(first, display_name="Support line")
    print(table(ACTIVE_HEADERS, _active_rows([updated])))

    _step(6, "Release them all")
    released = await asyncio.gather(
        *(client.active_numbers.release(n.phone_number) for n in rented)
    )
    print(table(ACTIVE_HEADERS, _active_rows(list(released))))
    remaining = [n async for n in client.active_numbers.list()]
    print(f"The project now owns {len(remaining)} numbers.")
