"""Pure request building, argument checks and error mapping (no event loop, no network)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode

import pytest

from numbers_async import _operations as ops
from numbers_async._responses import error_for
from numbers_async.errors import (
    ApiError,
    AuthenticationError,
    FieldViolation,
    InvalidArgumentError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
)
from numbers_async.models import Capability, NumberType, SmsConfiguration, VoiceConfiguration


def query_of(request: ops.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.query, keep_blank_values=True)


def test_search_sends_plural_capabilities_and_encodes_plus_as_2b() -> None:
    request = ops.search_available(
        "us",
        NumberType.LOCAL,
        pattern="+1206",
        search_pattern="START",
        capabilities=["SMS", Capability.VOICE],
        size=10,
    )
    assert request.method == "GET"
    assert request.path == "/availableNumbers"
    assert "numberPattern.pattern=%2B1206" in request.query
    assert query_of(request) == [
        ("regionCode", "US"),
        ("type", "LOCAL"),
        ("numberPattern.pattern", "+1206"),
        ("numberPattern.searchPattern", "START"),
        ("capabilities", "SMS"),
        ("capabilities", "VOICE"),
        ("size", "10"),
    ]


def test_listing_sends_singular_capability_and_a_page_size() -> None:
    query = ops.list_active_query(
        region_code=None,
        number_type=None,
        pattern=None,
        search_pattern=None,
        capabilities=["SMS", "VOICE"],
        page_size=100,
        order_by="displayName",
    )
    assert query == [
        ("capability", "SMS"),
        ("capability", "VOICE"),
        ("pageSize", "100"),
        ("orderBy", "displayName"),
    ]
    token = "Cgtw/aG9u+oLnNDQzajQSDCsxMzE1OTA0MzM1OQ=="  # base64: "/" and "+" too
    request = ops.list_active_page(urlencode(query), token)
    assert query_of(request) == [*query, ("pageToken", token)]
    assert request.query == urlencode([*query, ("pageToken", token)])
    assert ops.list_active_page(urlencode(query), None).query == urlencode(query)


def test_phone_numbers_in_paths_carry_the_action_suffix() -> None:
    assert ops.rent("+12025550134", sms=None, voice=None, callback_url=None).target == (
        "/availableNumbers/+12025550134:rent"
    )
    assert ops.release("+12025550134").target == "/activeNumbers/+12025550134:release"
    assert ops.get_active("+12025550134").target == "/activeNumbers/+12025550134"
    assert ops.get_available("+46701234567").target == "/availableNumbers/+46701234567"


def test_rent_body_holds_only_what_was_given_without_read_only_fields() -> None:
    request = ops.rent(
        "+12025550134",
        sms=SmsConfiguration(service_plan_id="plan", campaign_id=""),
        voice=VoiceConfiguration(app_id="app", last_updated_time=datetime.now(timezone.utc)),
        callback_url="https://example.com/cb",
    )
    assert request.body is not None
    assert json.loads(request.body) == {
        "smsConfiguration": {"servicePlanId": "plan", "campaignId": ""},
        "voiceConfiguration": {"type": "RTC", "appId": "app"},
        "callbackUrl": "https://example.com/cb",
    }


def test_rent_any_puts_filters_in_the_body() -> None:
    request = ops.rent_any(
        "US",
        "LOCAL",
        pattern="206",
        search_pattern="CONTAINS",
        capabilities="SMS",
        sms=None,
        voice=None,
        callback_url=None,
    )
    assert request.target == "/availableNumbers:rentAny"
    assert request.body is not None
    assert json.loads(request.body) == {
        "regionCode": "US",
        "type": "LOCAL",
        "capabilities": ["SMS"],
        "numberPattern": {"pattern": "206", "searchPattern": "CONTAINS"},
    }


def test_update_sends_empty_strings_to_unlink() -> None:
    request = ops.update_active(
        "+12025550134",
        display_name=None,
        sms=SmsConfiguration(service_plan_id=""),
        voice=None,
        callback_url="",
    )
    assert request.method == "PATCH"
    assert request.body is not None
    assert json.loads(request.body) == {
        "smsConfiguration": {"servicePlanId": ""},
        "callbackUrl": "",
    }


def test_regions_filter_by_repeated_types() -> None:
    assert query_of(ops.list_regions(["LOCAL", "MOBILE"])) == [
        ("types", "LOCAL"),
        ("types", "MOBILE"),
    ]
    assert ops.list_regions(None).query == ""


def test_callback_update_request_never_keeps_the_secret_for_error_reports() -> None:
    secret = "a" * 32
    request = ops.update_callbacks(secret)
    assert request.json is None
    assert request.body == b'{"hmacSecret":"' + secret.encode() + b'"}'


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: ops.get_active("12025550134"), "phone_number"),
        (lambda: ops.get_active("+0123"), "phone_number"),
        (lambda: ops.release(None), "phone_number"),
        (lambda: ops.release("+1202555013412345"), "phone_number"),
        (
            lambda: ops.search_available(
                "USA", "LOCAL", pattern=None, search_pattern=None, capabilities=None, size=None
            ),
            "region_code",
        ),
        (
            lambda: ops.search_available(
                "US", "local", pattern=None, search_pattern=None, capabilities=None, size=None
            ),
            "number_type",
        ),
        (
            lambda: ops.search_available(
                "US",
                "LOCAL",
                pattern=None,
                search_pattern=None,
                capabilities=["SMS", "FAX"],
                size=None,
            ),
            "capabilities",
        ),
        (
            lambda: ops.search_available(
                "US", "LOCAL", pattern=None, search_pattern=None, capabilities=[], size=None
            ),
            "capabilities",
        ),
        (
            lambda: ops.search_available(
                "US", "LOCAL", pattern=None, search_pattern=None, capabilities=3, size=None
            ),
            "capabilities",
        ),
        (
            lambda: ops.search_available(
                "US", "LOCAL", pattern=None, search_pattern=None, capabilities=None, size=0
            ),
            "size",
        ),
        (
            lambda: ops.search_available(
                "US", "LOCAL", pattern=None, search_pattern=None, capabilities=None, size=True
            ),
            "size",
        ),
        (
            lambda: ops.search_available(
                "US", "LOCAL", pattern="12a", search_pattern=None, capabilities=None, size=None
            ),
            "pattern",
        ),
        (
            lambda: ops.search_available(
                "US", "LOCAL", pattern=None, search_pattern="START", capabilities=None, size=None
            ),
            "search_pattern",
        ),
        (
            lambda: ops.search_available(
                "US", "LOCAL", pattern="1", search_pattern="BEGINS", capabilities=None, size=None
            ),
            "search_pattern",
        ),
        (lambda: ops.list_regions(["LOCAL", "PREMIUM"]), "types"),
        (
            lambda: ops.rent(
                "+12025550134", sms={"servicePlanId": "x"}, voice=None, callback_url=None
            ),
            "sms",
        ),
        (
            lambda: ops.rent("+12025550134", sms=SmsConfiguration(), voice=None, callback_url=None),
            "sms",
        ),
        (
            lambda: ops.rent(
                "+12025550134", sms=None, voice=VoiceConfiguration(), callback_url=None
            ),
            "voice",
        ),
        (
            lambda: ops.rent("+12025550134", sms=None, voice=None, callback_url="ftp://x"),
            "callback_url",
        ),
        (lambda: ops.rent("+12025550134", sms=None, voice=None, callback_url=""), "callback_url"),
        (
            lambda: ops.update_active(
                "+12025550134", display_name=None, sms=None, voice=None, callback_url=None
            ),
            "update",
        ),
        (
            lambda: ops.update_active(
                "+12025550134", display_name=7, sms=None, voice=None, callback_url=None
            ),
            "display_name",
        ),
        (
            lambda: ops.list_active_query(
                region_code=None,
                number_type=None,
                pattern=None,
                search_pattern=None,
                capabilities=None,
                page_size=-1,
                order_by=None,
            ),
            "page_size",
        ),
        (
            lambda: ops.list_active_query(
                region_code=None,
                number_type=None,
                pattern=None,
                search_pattern=None,
                capabilities=None,
                page_size=10,
                order_by="price",
            ),
            "order_by",
        ),
        (lambda: ops.update_callbacks("short"), "hmac_secret"),
        (lambda: ops.update_callbacks("x" * 31 + "!"), "hmac_secret"),
    ],
)
def test_bad_arguments_are_rejected_naming_the_argument(build: object, argument: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.argument == argument
    assert str(caught.value).startswith(f"{argument}: ")
    assert isinstance(caught.value, ValueError)


def test_an_invalid_hmac_secret_is_not_echoed() -> None:
    with pytest.raises(InvalidInputError) as caught:
        ops.update_callbacks("my secret value!")
    assert "my secret value" not in str(caught.value)


# --- error mapping -------------------------------------------------------------------------


def envelope(
    code: int, status: str, message: str = "", details: list[dict[str, object]] | None = None
) -> bytes:
    return json.dumps(
        {"error": {"code": code, "message": message, "status": status, "details": details or []}}
    ).encode()


def test_400_with_field_violations() -> None:
    body = envelope(
        400,
        "INVALID_ARGUMENT",
        "Invalid argument",
        [
            {
                "type": "BadRequest",
                "fieldViolations": [{"field": "order_by", "description": "Invalid order_by XXX"}],
            }
        ],
    )
    error = error_for(400, {}, body)
    assert type(error) is InvalidArgumentError
    assert error.status_text == "INVALID_ARGUMENT"
    assert error.field_violations == [FieldViolation("order_by", "Invalid order_by XXX")]
    assert str(error) == "HTTP 400 INVALID_ARGUMENT: Invalid argument"


def test_400_parsing_form_without_details() -> None:
    error = error_for(
        400,
        {},
        envelope(400, "INVALID_ARGUMENT", 'parsing field "type": "XXX" is not a valid value'),
    )
    assert isinstance(error, InvalidArgumentError)
    assert error.field_violations == []
    assert "is not a valid value" in error.message


def test_403_trial_account_with_resource_info() -> None:
    detail: dict[str, object] = {
        "type": "ResourceInfo",
        "resourceType": "project",
        "resourceName": "p",
        "owner": "",
        "description": "",
    }
    error = error_for(
        403,
        {},
        envelope(403, "PERMISSION_DENIED", "Trial account is not enabled to rent number", [detail]),
    )
    assert type(error) is PermissionDeniedError
    assert error.resource_info == detail


def test_404_carries_the_resource_name() -> None:
    detail: dict[str, object] = {
        "type": "ResourceInfo",
        "resourceType": "sinch.unifiednumber.v1alpha2.ActiveNumber",
        "resourceName": "+12025550134",
        "owner": "",
        "description": "",
    }
    error = error_for(404, {}, envelope(404, "NOT_FOUND", "Number not found", [detail]))
    assert type(error) is NotFoundError
    assert error.resource_info is not None
    assert error.resource_info["resourceName"] == "+12025550134"
    assert error.code == 404


def test_401_problem_json_is_an_authentication_error() -> None:
    body = (
        b'{"type":"https://sinch/expired","title":"Token expired","detail":"The token has expired"}'
    )
    error = error_for(401, {"WWW-Authenticate": 'Bearer error="expired"'}, body)
    assert type(error) is AuthenticationError
    assert error.message == "Token expired: The token has expired"


@pytest.mark.parametrize(
    ("value", "expected"), [("3", 3.0), ("0", 0.0), (None, None), ("soon", None)]
)
def test_429_retry_after_seconds(value: str | None, expected: float | None) -> None:
    headers = {} if value is None else {"Retry-After": value}
    error = error_for(429, headers, b"")
    assert type(error) is RateLimitedError
    assert error.retry_after == expected


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "Internal error"),
        (
            b"<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>",
            "502 Bad Gateway nginx",
        ),
        (b"", ""),
    ],
)
def test_5xx_with_json_html_and_empty_bodies(status: int, body: bytes | None, message: str) -> None:
    raw = envelope(status, "INTERNAL", "Internal error") if body is None else body
    error = error_for(status, {}, raw)
    assert type(error) is ServerError
    assert error.status == status
    assert error.message == message
    assert error.body == raw


def test_other_statuses_are_plain_api_errors() -> None:
    error = error_for(409, {}, b"conflict")
    assert type(error) is ApiError
    assert (error.status, error.code, error.message) == (409, 409, "conflict")
