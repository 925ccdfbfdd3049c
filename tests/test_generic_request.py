"""``client.request``: an endpoint the client does not wrap, through the client's pipeline.

Against the fake server over loopback (its Number Order routes, and the routes the client
wraps, reached the raw way), and ``MockTransport`` where only the bytes on the wire
matter. What the arguments become without I/O is in ``tests/test_generic_build.py``;
answers lost on a hostile server in ``tests/hostile/test_generic_request.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from numbers_async import (
    AmbiguousOutcomeError,
    AttemptEvent,
    ClientClosedError,
    DecodeError,
    InvalidArgumentError,
    InvalidInputError,
    NotFoundError,
    NumbersClient,
    NumbersTimeoutError,
    RetryEvent,
    RetryPolicy,
    ServerError,
    Timeouts,
    TransportError,
    _json,
)
from numbers_async.testing import FakeNumbersServer, Fault, MockTransport

QUICK = RetryPolicy(backoff=0.001, max_backoff=0.001)
LOOKUP = "numberOrders:lookupNumberRequirements"
CREATE = "numberOrders:createNumberOrder"
DE_LOCAL = {"regionCode": "DE", "numberType": "LOCAL"}


def api_routes(fake: FakeNumbersServer) -> list[str]:
    return [r.route for r in fake.requests if r.route != "token"]


async def create_order(client: NumbersClient, phone: str, **kwargs: Any) -> dict[str, Any]:
    body = {**DE_LOCAL, "numberOrderOption": {"phoneNumbers": [phone]}}
    raw = await client.request("POST", CREATE, json=body, idempotent=False, **kwargs)
    order: dict[str, Any] = raw.parsed
    return order


async def free_de_number(client: NumbersClient) -> str:
    (found,) = await client.available_numbers.search("DE", "LOCAL", size=1)
    return found.phone_number


# --- the answer -------------------------------------------------------------------------------


async def test_a_get_returns_the_decoded_json_with_its_answer(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        raw = await client.request("GET", "callbackConfiguration")
    assert raw.parsed == {"projectId": fake.project_id, "hmacSecret": ""}
    assert (raw.status_code, raw.operation, raw.retries) == (200, "request", 0)
    answered = fake.requests[-1]
    assert answered.route == "get_callbacks"
    assert answered.path == f"/v1/projects/{fake.project_id}/callbackConfiguration"
    assert raw.request_id == answered.request_id != ""
    assert raw.headers["content-type"].startswith("application/json")


async def test_it_goes_with_the_clients_credential(fake: FakeNumbersServer) -> None:
    async with fake.client(auth="basic") as client:
        await client.request("GET", "callbackConfiguration")
    assert fake.requests[-1].headers["Authorization"].startswith("Basic ")
    async with fake.client() as client:
        await client.request("GET", "callbackConfiguration")
    assert fake.requests[-1].headers["Authorization"].startswith("Bearer ")


async def test_an_expired_token_is_replaced_and_the_request_replayed(
    fake: FakeNumbersServer,
) -> None:
    async with fake.client() as client:
        await client.request("GET", "callbackConfiguration")
        fake.expire_tokens()
        raw = await client.request("GET", "callbackConfiguration")
    assert raw.retries == 0  # a replay after a 401 is the same attempt
    assert [r.route for r in fake.requests].count("token") == 2


async def test_a_json_body_is_sent_as_json_and_its_answer_decoded(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        phone = await free_de_number(client)
        order = await create_order(client, phone)
    sent = fake.requests_for("create_number_order")[-1]
    assert sent.headers["Content-Type"] == "application/json"
    expected = {**DE_LOCAL, "numberOrderOption": {"phoneNumbers": [phone]}}
    assert sent.body == _json.dumps(expected)
    assert order == fake.number_orders[order["idNumberOrder"]]
    assert order["state"] == "CREATED"


async def test_a_request_without_a_body_sends_none(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        await client.request("GET", "callbackConfiguration")
    sent = fake.requests[-1]
    assert sent.body == b""
    assert "Content-Type" not in sent.headers


async def test_params_reach_the_server_as_given(fake: FakeNumbersServer) -> None:
    fake.add_active_numbers(3, prefix="+1555")
    fake.add_active_numbers(2, prefix="+1666")
    urls: list[str] = []

    def seen(event: AttemptEvent) -> None:
        urls.append(event.url)

    async with fake.client(event_hooks={"request": [seen]}) as client:
        raw = await client.request(
            "GET",
            "activeNumbers",
            params={
                "numberPattern.pattern": "+1555",
                "numberPattern.searchPattern": "START",
                "capability": ["SMS", "VOICE"],
                "pageSize": 2,
            },
        )
    # The fake decodes the query as a form: a "+" sent bare would have been a space.
    assert fake.requests[-1].query == (
        ("numberPattern.pattern", "+1555"),
        ("numberPattern.searchPattern", "START"),
        ("capability", "SMS"),
        ("capability", "VOICE"),
        ("pageSize", "2"),
    )
    assert urls[-1].endswith(
        "/activeNumbers?numberPattern.pattern=%2B1555&numberPattern.searchPattern=START"
        "&capability=SMS&capability=VOICE&pageSize=2"
    )
    assert raw.parsed["totalSize"] == 3
    assert len(raw.parsed["activeNumbers"]) == 2


async def test_a_path_is_sent_encoded_below_the_project(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        with pytest.raises(NotFoundError):
            await client.request("GET", "numberOrders/an id/registration")
    assert fake.requests[-1].path == (
        f"/v1/projects/{fake.project_id}/numberOrders/an%20id/registration"
    )


async def test_the_phone_number_of_a_path_goes_as_the_client_sends_it(
    fake: FakeNumbersServer,
) -> None:
    (phone,) = fake.add_active_numbers(1)
    async with fake.client() as client:
        raw = await client.request("GET", f"activeNumbers/{phone}")
        number = await client.active_numbers.get(phone)
    assert raw.parsed["phoneNumber"] == number.phone_number == phone
    assert fake.requests[-2].path == fake.requests[-1].path


async def test_an_empty_answer_is_none() -> None:
    def handler(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Any:
        return 200, {"Content-Length": "0", "X-Request-Id": "r-1"}, b""

    async with NumbersClient(
        "p", "k", "s", base_url="http://127.0.0.1:9", auth="basic", transport=MockTransport(handler)
    ) as client:
        raw = await client.request("HEAD", "numberOrders/abc")
    assert (raw.parsed, raw.status_code, raw.request_id) == (None, 200, "r-1")


# --- refusals: nothing is sent ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ({"method": "POST", "path": LOOKUP}, "idempotent"),
        ({"method": "PATCH", "path": "numberOrders/x"}, "idempotent"),
        ({"method": "DELETE", "path": "numberOrders/x", "idempotent": False}, "idempotent"),
        ({"method": "get", "path": "x"}, "method"),
        ({"method": "GET", "path": "../x"}, "path"),
        ({"method": "GET", "path": "https://elsewhere.example/x"}, "path"),
        ({"method": "GET", "path": "numberOrders/x\r\nHost: evil"}, "path"),
        ({"method": "GET", "path": "x", "params": {"a": None}}, "params['a']"),
        ({"method": "GET", "path": "x", "json": {"a": 1}}, "json"),
        (
            {"method": "PUT", "path": "x", "json": {"a": float("nan")}, "idempotent": True},
            "json['a']",
        ),
        ({"method": "POST", "path": "x", "idempotent": "no"}, "idempotent"),
    ],
)
async def test_a_bad_argument_is_refused_before_anything_is_sent(
    fake: FakeNumbersServer, arguments: dict[str, Any], argument: str
) -> None:
    async with fake.client() as client:
        with pytest.raises(InvalidInputError) as caught:
            await client.request(**arguments)
    assert caught.value.argument == argument
    assert fake.requests == []  # not even a token


async def test_a_closed_client_sends_nothing(fake: FakeNumbersServer) -> None:
    client = fake.client()
    await client.aclose()
    with pytest.raises(ClientClosedError) as caught:
        await client.request("GET", "callbackConfiguration")
    assert "request" in str(caught.value)
    assert fake.requests == []


# --- errors -----------------------------------------------------------------------------------


async def test_an_error_answer_is_the_api_error_it_stands_for(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        with pytest.raises(NotFoundError) as caught:
            await client.request("GET", "numberOrders/nope")
    error = caught.value
    assert (error.operation, error.method) == ("request", "GET")
    assert error.path == f"/v1/projects/{fake.project_id}/numberOrders/nope"
    assert error.request_id == fake.requests[-1].request_id
    assert error.message == "Number order nope not found"
    assert str(error).startswith(f"request: GET {error.path}: HTTP 404 NOT_FOUND")


async def test_a_400_carries_its_field_violations(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        order = await create_order(client, await free_de_number(client))
        with pytest.raises(InvalidArgumentError) as caught:
            await client.request(
                "PUT",
                f"numberOrders/{order['idNumberOrder']}/registration",
                json={"data": {"businessName": "Acme GmbH"}},
                idempotent=True,
            )
    fields = [v.field for v in caught.value.field_violations]
    assert fields == ["data.businessRegistrationNumber", "data.contactEmail"]


async def test_a_2xx_that_is_not_json_is_retried_when_idempotent(fake: FakeNumbersServer) -> None:
    async with fake.client(retry=QUICK) as client:
        fake.inject(Fault.truncated_json(), route="get_callbacks", times=1)
        raw = await client.request("GET", "callbackConfiguration")
    assert raw.retries == 1
    assert raw.parsed["projectId"] == fake.project_id


async def test_a_2xx_that_is_not_json_keeps_its_bytes_on_the_decode_error(
    fake: FakeNumbersServer,
) -> None:
    async with fake.client(retry=RetryPolicy(attempts=1)) as client:
        fake.inject(Fault.truncated_json(), route="get_callbacks", times=1)
        with pytest.raises(DecodeError) as caught:
            await client.request("GET", "callbackConfiguration")
    whole = _json.dumps({"projectId": fake.project_id, "hmacSecret": ""})
    assert caught.value.body == whole[: len(whole) // 2]


# --- retries: only where the caller said it is safe ---------------------------------------------


async def test_an_idempotent_request_is_retried(fake: FakeNumbersServer) -> None:
    retries: list[RetryEvent] = []
    async with fake.client(retry=RetryPolicy(backoff=0.001, on_retry=retries.append)) as client:
        fake.inject(Fault.status(503), route="lookup_number_requirements", times=2)
        raw = await client.request("POST", LOOKUP, json=DE_LOCAL, idempotent=True)
    assert raw.retries == 2
    assert [(r.operation, r.reason) for r in retries] == [("request", "HTTP 503")] * 2
    assert "businessName" in raw.parsed["fields"]


async def test_an_idempotent_request_whose_answer_was_lost_is_sent_again(
    fake: FakeNumbersServer,
) -> None:
    async with fake.client(retry=QUICK) as client:
        fake.inject(Fault.reset_after(), route="lookup_number_requirements", times=1)
        raw = await client.request("POST", LOOKUP, json=DE_LOCAL, idempotent=True)
    assert raw.retries == 1
    assert "businessName" in raw.parsed["fields"]
    assert len(fake.requests_for("lookup_number_requirements")) == 2


async def test_the_http_stack_itself_sends_a_put_again_after_a_dropped_connection(
    fake: FakeNumbersServer,
) -> None:
    # Why idempotent=False is refused for PUT and DELETE: aiohttp resends them once on
    # its own (RFC 9110 lets it), below every rule of this client (retries is 0).
    async with fake.client(retry=QUICK) as client:
        order = await create_order(client, await free_de_number(client))
        path = f"numberOrders/{order['idNumberOrder']}/registration"
        data = {"businessName": "Acme", "businessRegistrationNumber": "1", "contactEmail": "a@b"}
        fake.inject(Fault.reset_after(), route="update_number_order_registration", times=1)
        raw = await client.request("PUT", path, json={"data": data})
    assert raw.parsed["data"] == data
    assert raw.retries == 0
    assert len(fake.requests_for("update_number_order_registration")) == 2


async def test_an_idempotent_request_that_keeps_failing_raises_its_failure(
    fake: FakeNumbersServer,
) -> None:
    async with fake.client(retry=RetryPolicy(attempts=2, backoff=0.001)) as client:
        fake.inject(Fault.status_after(503), route="lookup_number_requirements", times=None)
        with pytest.raises(ServerError):  # a repeat is harmless: the caller may send it again
            await client.request("POST", LOOKUP, json=DE_LOCAL, idempotent=True)
    assert len(fake.requests_for("lookup_number_requirements")) == 2


async def test_a_non_idempotent_request_whose_answer_was_lost_is_never_sent_again(
    fake: FakeNumbersServer,
) -> None:
    async with fake.client(retry=QUICK) as client:
        phone = await free_de_number(client)
        fake.inject(Fault.reset_after(), route="create_number_order", times=1)
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await create_order(client, phone)
    assert len(fake.requests_for("create_number_order")) == 1
    assert len(fake.number_orders) == 1  # it was created; only the answer was lost
    error = caught.value
    assert (error.operation, error.method) == ("request", "POST")
    assert error.path == f"/v1/projects/{fake.project_id}/{CREATE}"
    assert error.request == {**DE_LOCAL, "numberOrderOption": {"phoneNumbers": [phone]}}
    assert "idempotent=False" in str(error)
    assert isinstance(error.__cause__, Exception)


async def test_a_non_idempotent_request_answered_5xx_is_ambiguous_with_the_answers_id(
    fake: FakeNumbersServer,
) -> None:
    async with fake.client(retry=QUICK) as client:
        phone = await free_de_number(client)
        fake.inject(Fault.status_after(503), route="create_number_order", times=1)
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await create_order(client, phone)
    assert len(fake.requests_for("create_number_order")) == 1
    assert caught.value.request_id == fake.requests[-1].request_id
    assert isinstance(caught.value.__cause__, ServerError)


async def test_a_non_idempotent_request_answered_429_is_retried(fake: FakeNumbersServer) -> None:
    async with fake.client(retry=QUICK) as client:
        phone = await free_de_number(client)
        fake.inject(Fault.status(429, retry_after="0"), route="create_number_order", times=1)
        order = await create_order(client, phone)
    assert len(fake.requests_for("create_number_order")) == 2
    assert list(fake.number_orders) == [order["idNumberOrder"]]


async def test_a_non_idempotent_request_whose_connection_was_refused_is_retried() -> None:
    sent: list[str] = []

    def handler(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Any:
        sent.append(method)
        if len(sent) == 1:
            raise TransportError("connection refused", request_sent=False)
        return 200, {"Content-Type": "application/json"}, b'{"idNumberOrder": "o-1"}'

    # outage_wait=0: the refused connection counts as an attempt, not as an outage.
    retry = RetryPolicy(backoff=0.001, max_backoff=0.001, outage_wait=0)
    async with NumbersClient(
        "p",
        "k",
        "s",
        base_url="http://127.0.0.1:9",
        auth="basic",
        retry=retry,
        transport=MockTransport(handler),
    ) as client:
        raw = await client.request("POST", CREATE, json=DE_LOCAL, idempotent=False)
    assert (raw.parsed, raw.retries, sent) == ({"idNumberOrder": "o-1"}, 1, ["POST", "POST"])


async def test_a_non_idempotent_request_whose_connection_dropped_is_ambiguous(
    fake: FakeNumbersServer,
) -> None:
    # The server dropped it before doing anything, but the client cannot know that.
    async with fake.client(retry=QUICK) as client:
        phone = await free_de_number(client)
        fake.inject(Fault.reset_before(), route="create_number_order", times=1)
        with pytest.raises(AmbiguousOutcomeError):
            await create_order(client, phone)
    assert len(fake.requests_for("create_number_order")) == 1


async def test_a_non_idempotent_request_refused_outright_raises_its_error(
    fake: FakeNumbersServer,
) -> None:
    async with fake.client(retry=QUICK) as client:
        with pytest.raises(NotFoundError):  # a 404 says it did nothing: not ambiguous
            await create_order(client, "+4930000000000")


async def test_a_view_without_retries_sends_once(fake: FakeNumbersServer) -> None:
    async with fake.client(retry=QUICK) as client:
        once = client.with_options(retry=RetryPolicy(attempts=1))
        fake.inject(Fault.status(503), route="get_callbacks", times=1)
        with pytest.raises(ServerError):
            await once.request("GET", "callbackConfiguration")
        raw = await client.request("GET", "callbackConfiguration")
    assert raw.retries == 0
    assert api_routes(fake) == ["get_callbacks", "get_callbacks"]


# --- the deadline -------------------------------------------------------------------------------


async def test_the_deadline_bounds_a_request(fake: FakeNumbersServer) -> None:
    # The server holds the answer for a minute; the 0.5 s deadline must end the call long
    # before the test's 8 s patience, however loaded the machine.
    async with fake.client(timeouts=Timeouts(deadline=0.5)) as client:
        fake.inject(Fault.latency(60.0), route="get_callbacks")
        with pytest.raises(NumbersTimeoutError) as caught:
            await asyncio.wait_for(client.request("GET", "callbackConfiguration"), 8.0)
    assert caught.value.operation == "request"


async def test_a_non_idempotent_request_cut_by_the_deadline_is_ambiguous(
    fake: FakeNumbersServer,
) -> None:
    async with fake.client() as client:
        phone = await free_de_number(client)
        slow = client.with_options(timeouts=Timeouts(deadline=0.5))
        fake.inject(Fault.latency(60.0), route="create_number_order")
        with pytest.raises(AmbiguousOutcomeError) as caught:  # as above: 0.5 s within 8 s
            await asyncio.wait_for(create_order(slow, phone), 8.0)
    assert isinstance(caught.value.__cause__, NumbersTimeoutError)


# --- what watches calls -------------------------------------------------------------------------


async def test_event_hooks_see_a_raw_request_and_its_retry(fake: FakeNumbersServer) -> None:
    events: list[AttemptEvent] = []
    hooks: dict[str, Any] = {"request": [events.append], "response": [events.append]}
    async with fake.client(retry=QUICK, event_hooks=hooks) as client:
        fake.inject(Fault.status(503), route="lookup_number_requirements", times=1)
        raw = await client.request("POST", LOOKUP, json=DE_LOCAL, idempotent=True)
    ours = [e for e in events if e.operation == "request"]
    assert [(e.kind, e.attempt, e.status, e.will_retry) for e in ours] == [
        ("request", 1, None, False),
        ("response", 1, 503, True),
        ("request", 2, None, False),
        ("response", 2, 200, False),
    ]
    assert {e.method for e in ours} == {"POST"}
    assert ours[0].url == f"{fake.url}/v1/projects/{fake.project_id}/{LOOKUP}"
    assert ours[-1].request_id == raw.request_id


async def test_a_raw_request_logs_its_exchange_with_the_request_id(
    fake: FakeNumbersServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="numbers_async.http")
    async with fake.client() as client:
        raw = await client.request("GET", "callbackConfiguration")
    lines = [r.getMessage() for r in caplog.records if r.name == "numbers_async.http"]
    ours = [line for line in lines if line.startswith("request attempt 1: GET ")]
    assert len(ours) == 1
    assert f"/v1/projects/{fake.project_id}/callbackConfiguration -> 200" in ours[0]
    assert f"(request id {raw.request_id})" in ours[0]


@pytest.fixture
def spans() -> Any:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


async def test_a_raw_request_has_an_operation_span_with_its_method_and_path(
    fake: FakeNumbersServer, spans: Any
) -> None:
    provider, exporter = spans
    async with fake.client(tracer_provider=provider) as client:
        order = await create_order(client, await free_de_number(client))
        order_id = order["idNumberOrder"]
        await client.request("GET", f"numberOrders/{order_id}")
    operations = [s for s in exporter.get_finished_spans() if s.name == "request"]
    assert [dict(s.attributes or {}) for s in operations] == [
        {
            "numbers_async.operation": "request",
            "numbers_async.project_id": fake.project_id,
            "http.request.method": "POST",
            "numbers_async.path": CREATE,
            "numbers_async.outcome": "succeeded",
            "numbers_async.attempts": 1,
        },
        {
            "numbers_async.operation": "request",
            "numbers_async.project_id": fake.project_id,
            "http.request.method": "GET",
            "numbers_async.path": f"numberOrders/{order_id}",
            "numbers_async.outcome": "succeeded",
            "numbers_async.attempts": 1,
        },
    ]
    (exchange,) = [
        s for s in exporter.get_finished_spans() if s.parent == operations[1].get_span_context()
    ]
    assert exchange.name == "GET"
    assert (exchange.attributes or {})["url.full"].endswith(f"/numberOrders/{order_id}")


async def test_a_phone_number_in_a_raw_path_is_kept_off_spans_unless_asked_for(
    fake: FakeNumbersServer, spans: Any
) -> None:
    provider, exporter = spans
    (phone,) = fake.add_active_numbers(1)
    async with fake.client(tracer_provider=provider) as client:
        await client.request("GET", f"activeNumbers/{phone}")
    async with fake.client(tracer_provider=provider, trace_phone_numbers=True) as client:
        await client.request("GET", f"activeNumbers/{phone}")
    hidden, shown = [s for s in exporter.get_finished_spans() if s.name == "request"]
    assert (hidden.attributes or {})["numbers_async.path"] == "activeNumbers/REDACTED"
    assert "numbers_async.phone_number" not in (hidden.attributes or {})
    assert (shown.attributes or {})["numbers_async.path"] == f"activeNumbers/{phone}"
    assert (shown.attributes or {})["numbers_async.phone_number"] == phone
    urls = [
        (s.attributes or {})["url.full"]
        for s in exporter.get_finished_spans()
        if s.name == "GET" and "activeNumbers" in str((s.attributes or {})["url.full"])
    ]
    assert urls == [
        f"{fake.url}/v1/projects/{fake.project_id}/activeNumbers/REDACTED",
        f"{fake.url}/v1/projects/{fake.project_id}/activeNumbers/{phone}",
    ]


async def test_an_ambiguous_raw_request_ends_its_span_ambiguous(
    fake: FakeNumbersServer, spans: Any
) -> None:
    provider, exporter = spans
    async with fake.client(tracer_provider=provider, retry=QUICK) as client:
        phone = await free_de_number(client)
        fake.inject(Fault.reset_after(), route="create_number_order", times=1)
        with pytest.raises(AmbiguousOutcomeError):
            await create_order(client, phone)
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "request"]
    assert (span.attributes or {})["numbers_async.outcome"] == "ambiguous"


async def test_the_repr_of_a_raw_answer_hides_a_secret(fake: FakeNumbersServer) -> None:
    secret = "s" * 40
    async with fake.client() as client:
        await client.callbacks.update(secret)
        raw = await client.request("GET", "callbackConfiguration")
    assert raw.parsed["hmacSecret"] == secret  # the value itself is what the API sent
    assert secret not in repr(raw)
    assert "'hmacSecret': '***'" in repr(raw)
