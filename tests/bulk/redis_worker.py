"""One worker process of a bulk job journaled in Redis (run by the multi-worker tests).

``python -m tests.bulk.redis_worker CONFIG_JSON``: connects to the fake server and the
Redis named in the config, runs its bulk operation with a ``RedisJournal`` and prints
one JSON line when it ends: what this worker reported (its succeeded items, its failures,
how many were resumed) and how many Redis script calls it made. Every setting that bounds
a wait (lease, timeouts, retries) comes from the config, so that a test can keep a job
short and say why its bounds hold. With ``"gated": true`` the worker starts (imports,
client) and then waits for a line on stdin before it joins the job: a test can add a
worker at a chosen moment without waiting for a new interpreter to start.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from numbers_async import NumbersClient, RetryPolicy, Timeouts
from numbers_async.redis import RedisJournal, RedisRateLimiter


async def work(config: dict[str, Any]) -> dict[str, Any]:
    journal = RedisJournal.from_url(
        config["redis_url"],
        job=config["job"],
        lease=config["lease"],
        batch=config.get("batch", 20),
        max_outage=config.get("max_outage", 30.0),
    )
    limiter = None
    if config.get("rate"):
        limiter = RedisRateLimiter.from_url(
            config["redis_url"], rate=config["rate"], key=config["project_id"]
        )
    client = NumbersClient(
        config["project_id"],
        config["key_id"],
        config["key_secret"],
        base_url=config["url"],
        auth_url=config["auth_url"],
        timeouts=Timeouts(total=config["attempt"]),
        retry=RetryPolicy(
            attempts=config.get("attempts", 3),
            backoff=0.02,
            max_backoff=0.1,
            max_retry_after=config.get("max_retry_after", 0.2),
        ),
        rate_limit=limiter,
        max_concurrency=config.get("concurrency", 10),
    )
    try:
        async with client:
            if config.get("gated"):
                await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            job = bulk_job(client, config, journal)
            report = await job
    finally:
        if limiter is not None:
            await limiter.aclose()
    return {
        "succeeded": [number.phone_number for number in report.succeeded],
        "failed": [[failure.item, type(failure.error).__name__] for failure in report.failed],
        "resumed": report.resumed,
        "round_trips": journal.round_trips,
    }


def bulk_job(client: NumbersClient, config: dict[str, Any], journal: RedisJournal) -> Any:
    common = {"journal": journal, "concurrency": config.get("concurrency", 10)}
    if config["operation"] == "rent":
        return client.bulk.rent(config["items"], **common)
    if config["operation"] == "rent_any":
        return client.bulk.rent_any(config["count"], "US", "LOCAL", **common)
    return client.bulk.release(config["items"], **common)


def main() -> None:
    config = json.loads(sys.argv[1])
    print(json.dumps(asyncio.run(work(config))), flush=True)


if __name__ == "__main__":
    main()
