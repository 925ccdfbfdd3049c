"""A FastAPI service that rents Sinch numbers and receives their events.

The same service as ``examples/aiohttp_app.py``: the lifespan opens one
``NumbersClient`` for the whole application and closes it at shutdown;
``POST /numbers/rent`` rents a number whose ``callbackUrl`` is this service's
``/sinch/events``, where the library's router verifies each event before
``on_numbers_event`` sees it. Run it where Sinch can reach ``PUBLIC_URL``
(``pip install "numbers-async[fastapi]" uvicorn``):

```console
export SINCH_PROJECT_ID=... SINCH_KEY_ID=... SINCH_KEY_SECRET=...
export SINCH_CALLBACK_SECRET=... SINCH_SERVICE_PLAN_ID=...
export PUBLIC_URL=https://numbers.example.com
python examples/fastapi_app.py
```
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

from numbers_async import (
    InvalidInputError,
    NumbersClient,
    NumbersError,
    SmsConfiguration,
)
from numbers_async.webhooks import NumbersEvent
from numbers_async.webhooks.fastapi import events_router

EVENTS_PATH = "/sinch/events"

log = logging.getLogger(__name__)


class RentRequest(BaseModel):
    phone_number: str | None = None  # None: any available US local number


class RentedNumber(BaseModel):
    phone_number: str


def numbers_client(request: Request) -> NumbersClient:
    """The application's one client, in the request state (the lifespan's)."""
    client: NumbersClient = request.state.numbers
    return client


def create_app(
    *,
    public_url: str,
    hmac_secret: str,
    service_plan_id: str,
    client_factory: Callable[[], NumbersClient] = NumbersClient.from_env,
) -> FastAPI:
    """The service; ``public_url`` is the origin Sinch reaches it at.

    Events received are kept in ``app.state.received``.
    """
    received: list[NumbersEvent] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, NumbersClient]]:
        # one client and connection pool for the app
        async with client_factory() as client:
            yield {"numbers": client}

    async def on_numbers_event(event: NumbersEvent) -> None:
        # Verified already, and Sinch has its 200: slow work here delays nobody.
        log.info("%s: %s %s", event.resource_id, event.event_type, event.status)
        received.append(event)

    app = FastAPI(lifespan=lifespan)
    app.state.received = received
    app.include_router(
        events_router(on_numbers_event, secret=hmac_secret, path=EVENTS_PATH)
    )

    @app.post("/numbers/rent")
    async def rent(
        client: Annotated[NumbersClient, Depends(numbers_client)],
        body: RentRequest | None = None,
    ) -> RentedNumber:
        phone = None if body is None else body.phone_number
        sms = SmsConfiguration(service_plan_id=service_plan_id)
        callback_url = public_url.rstrip("/") + EVENTS_PATH
        try:
            if phone is None:
                number = await client.available_numbers.rent_any(
                    "US", "LOCAL", sms=sms, callback_url=callback_url
                )
            else:
                number = await client.available_numbers.rent(
                    phone, sms=sms, callback_url=callback_url
                )
        except InvalidInputError as exc:
            raise HTTPException(400, str(exc)) from exc
        except NumbersError as exc:
            raise HTTPException(502, str(exc)) from exc
        return RentedNumber(phone_number=number.phone_number)

    return app


if __name__ == "__main__":
    import uvicorn

    logging.basicConfig(level=logging.INFO)
    uvicorn.run(
        create_app(
            public_url=os.environ["PUBLIC_URL"],
            hmac_secret=os.environ["SINCH_CALLBACK_SECRET"],
            service_plan_id=os.environ["SINCH_SERVICE_PLAN_ID"],
        )
    )
