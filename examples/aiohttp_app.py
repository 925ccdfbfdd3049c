"""An aiohttp.web service that rents Sinch numbers and receives their events.

One ``NumbersClient`` serves the whole application: a cleanup context opens it
at startup and closes it at shutdown. ``POST /numbers/rent`` (JSON
``{"phone_number": "+1..."}``, or no body for any US local number) rents a
number with an SMS service plan and this service's events URL as its
``callbackUrl``. When Sinch has provisioned the number it POSTs an event to
``/sinch/events``, where the library verifies the signature before
``on_numbers_event`` sees it. Run it where Sinch can reach ``PUBLIC_URL``:

```console
export SINCH_PROJECT_ID=... SINCH_KEY_ID=... SINCH_KEY_SECRET=...
export SINCH_CALLBACK_SECRET=... SINCH_SERVICE_PLAN_ID=...
export PUBLIC_URL=https://numbers.example.com
python examples/aiohttp_app.py
```

``numbers-async fake-server`` prints the ``SINCH_*`` variables to run it
without an account.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from numbers_async import (
    InvalidInputError,
    NumbersClient,
    NumbersError,
    SmsConfiguration,
)
from numbers_async.webhooks import NumbersEvent
from numbers_async.webhooks.aiohttp import events_handler

EVENTS_PATH = "/sinch/events"
NUMBERS = web.AppKey("numbers", NumbersClient)
RECEIVED = web.AppKey("received", list[NumbersEvent])

log = logging.getLogger(__name__)


def create_app(
    *,
    public_url: str,
    hmac_secret: str,
    service_plan_id: str,
    client_factory: Callable[[], NumbersClient] = NumbersClient.from_env,
) -> web.Application:
    """The service; ``public_url`` is the origin Sinch reaches it at."""
    app = web.Application()
    app[RECEIVED] = []

    async def numbers_client(app: web.Application) -> AsyncIterator[None]:
        # one client and connection pool for the app
        async with client_factory() as client:
            app[NUMBERS] = client
            yield

    async def on_numbers_event(event: NumbersEvent) -> None:
        # Verified already, and Sinch has its 200: slow work here delays nobody.
        log.info("%s: %s %s", event.resource_id, event.event_type, event.status)
        app[RECEIVED].append(event)

    async def rent(request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError as exc:
            raise web.HTTPBadRequest(text="the body must be JSON") from exc
        phone = body.get("phone_number") if isinstance(body, dict) else None
        numbers = request.app[NUMBERS].available_numbers
        sms = SmsConfiguration(service_plan_id=service_plan_id)
        callback_url = public_url.rstrip("/") + EVENTS_PATH
        try:
            if phone is None:
                number = await numbers.rent_any(
                    "US", "LOCAL", sms=sms, callback_url=callback_url
                )
            else:
                number = await numbers.rent(
                    phone, sms=sms, callback_url=callback_url
                )
        except InvalidInputError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        except NumbersError as exc:
            raise web.HTTPBadGateway(text=str(exc)) from exc
        return web.json_response({"phone_number": number.phone_number})

    app.cleanup_ctx.append(numbers_client)
    app.router.add_post("/numbers/rent", rent)
    events_handler(on_numbers_event, secret=hmac_secret).setup(app, EVENTS_PATH)
    return app


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    web.run_app(
        create_app(
            public_url=os.environ["PUBLIC_URL"],
            hmac_secret=os.environ["SINCH_CALLBACK_SECRET"],
            service_plan_id=os.environ["SINCH_SERVICE_PLAN_ID"],
        )
    )
