"""What ``client.request`` builds from its arguments, without I/O: the checks of method,
path, query parameters and JSON body, and how each is encoded (``_generic``)."""

from __future__ import annotations

import enum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from numbers_async import NumberType, SmsConfiguration, _json
from numbers_async._generic import (
    MAX_JSON_DEPTH,
    build,
    check_path,
    decode_any,
    encode_body,
    encode_params,
)
from numbers_async._operations import Op
from numbers_async._raw import RawResponse
from numbers_async._redact import redact_value
from numbers_async._retry import Safety
from numbers_async.errors import DecodeError, InvalidInputError


def _build(method: object = "GET", path: object = "numberOrders/abc", **kwargs: Any) -> Any:
    arguments: dict[str, Any] = {"params": None, "json": None, "idempotent": None}
    arguments.update(kwargs)
    return build(method, path, **arguments)


# --- method and idempotent -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "OPTIONS", "TRACE", "CONNECT", "", None, b"GET"])
def test_a_method_outside_the_six_is_refused(method: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _build(method)
    assert caught.value.argument == "method"
    assert "'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'" in caught.value.rule


def test_a_post_without_idempotent_is_refused_before_anything_else_is_checked() -> None:
    with pytest.raises(InvalidInputError) as caught:
        _build("POST", "../escape")
    assert caught.value.argument == "idempotent"


def test_the_request_carries_the_rules_its_caller_gave() -> None:
    read = _build("GET")
    assert (read.op, read.safety, read.changes_state) == (Op.REQUEST, Safety.IDEMPOTENT, False)
    once = _build("PATCH", json={}, idempotent=False)
    assert (once.safety, once.changes_state) == (Safety.AT_MOST_ONCE, True)
    harmless = _build("POST", json={}, idempotent=True)
    assert (harmless.safety, harmless.changes_state) == (Safety.IDEMPOTENT, False)
    replace = _build("PUT", json={})
    assert (replace.safety, replace.changes_state) == (Safety.IDEMPOTENT, False)


def test_an_idempotent_method_sent_at_most_once_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        _build("DELETE", idempotent=False)
    assert caught.value.argument == "idempotent"


# --- the path ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("", "non-empty"),
        (None, "non-empty"),
        (42, "non-empty"),
        ("https://evil.example/v1/projects/p/activeNumbers", "not a URL"),
        ("HTTP://evil.example", "not a URL"),
        ("//evil.example/activeNumbers", "not a URL"),
        ("/numberOrders/abc", "without a leading '/'"),
        ("/v1/projects/other/activeNumbers", "without a leading '/'"),
        ("numberOrders/../../other-project/activeNumbers", "'.' or '..' segment"),
        ("..", "'.' or '..' segment"),
        ("numberOrders/./abc", "'.' or '..' segment"),
        ("numberOrders/%2e%2e/x", "'.' or '..' segment"),
        ("numberOrders/.%2E", "'.' or '..' segment"),
        ("numberOrders/%2E", "'.' or '..' segment"),
        ("numberOrders//abc", "empty segment"),
        ("numberOrders/", "empty segment"),
        ("numberOrders/a%2F..%2F..%2Fx", "hide '/'"),
        ("numberOrders/a%5cb", "hide '/'"),
        ("numberOrders\\abc", "must not contain '\\'"),
        ("numberOrders/abc\r\nX-Injected: 1", "control characters"),
        ("numberOrders/abc\n", "control characters"),
        ("numberOrders/abc\x00", "control characters"),
        ("numberOrders/abc%0d%0aX-Injected:%201", "control characters in escapes"),
        ("numberOrders?pageSize=1", "give query parameters in params"),
        ("numberOrders/abc#frag", "give query parameters in params"),
        ("numberOrders/{id}", "fill the template in"),
        ("numberOrders/{numberOrderId}/registration", "fill the template in"),
    ],
)
def test_a_path_that_could_leave_the_project_or_is_a_slip_is_refused(
    path: object, says: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _build("GET", path)
    assert caught.value.argument == "path"
    assert says in caught.value.rule


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("numberOrders:lookupNumberRequirements", "numberOrders:lookupNumberRequirements"),
        ("numberOrders/abc-123_x.y~z/submit", "numberOrders/abc-123_x.y~z/submit"),
        ("activeNumbers/+12025550134:release", "activeNumbers/+12025550134:release"),
        ("numberOrders/a b", "numberOrders/a%20b"),
        ("numberOrders/a%20b", "numberOrders/a%20b"),  # an escape the caller made stays
        ("numberOrders/100%", "numberOrders/100%25"),  # a '%' that escapes nothing
        ("numberOrders/50%zz", "numberOrders/50%25zz"),
        ("numberOrders/bj\u00f6rk", "numberOrders/bj%C3%B6rk"),
        ('numberOrders/a"b<c>d^e`f|g', "numberOrders/a%22b%3Cc%3Ed%5Ee%60f%7Cg"),
        ("numberOrders/a;b=c,d!e$f&g'(h)*i@j", "numberOrders/a;b=c,d!e$f&g'(h)*i@j"),
        ("numberOrders/%7Bid%7D", "numberOrders/%7Bid%7D"),
        ("numberOrders/...", "numberOrders/..."),  # not a dot segment
    ],
)
def test_a_path_is_percent_encoded_where_needed_and_sent_below_the_project(
    path: str, sent: str
) -> None:
    request = _build("GET", path)
    assert request.path == "/" + sent


def test_the_phone_number_in_a_path_is_found_for_redaction() -> None:
    assert check_path("activeNumbers/+12025550134/emergencyAddress")[1] == "+12025550134"
    assert check_path("activeNumbers/%2B12025550134:release")[1] == "+12025550134"
    assert check_path("numberOrders/abc")[1] is None


@given(st.text(min_size=1, max_size=40))
def test_any_accepted_path_is_sent_as_encoded_segments_below_the_project(path: str) -> None:
    try:
        encoded, _ = check_path(path)
    except InvalidInputError:
        return
    assert not encoded.startswith("/")
    allowed = set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@%/"
    )
    assert set(encoded) <= allowed
    for segment in encoded.split("/"):
        assert segment not in ("", ".", "..")


# --- query parameters -------------------------------------------------------------------------


def test_params_are_encoded_in_order_with_repeated_names_for_sequences() -> None:
    query = encode_params(
        {
            "numberPattern.pattern": "+1206",
            "capability": ["SMS", "VOICE"],
            "pageSize": 10,
            "sequential": True,
            "dryRun": False,
            "types": ("LOCAL",),
            "none": [],
        }
    )
    assert query == (
        "numberPattern.pattern=%2B1206&capability=SMS&capability=VOICE&pageSize=10"
        "&sequential=true&dryRun=false&types=LOCAL"
    )


def test_params_encode_everything_but_unreserved_characters() -> None:
    query = encode_params({"q a": "a b&c=d/e?f#g+h%i\u00e9"})
    assert query == "q%20a=a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%25i%C3%A9"


class _Color(enum.IntEnum):
    RED = 1


def test_params_send_enum_members_by_value() -> None:
    query = encode_params(
        {"type": NumberType.LOCAL, "kind": [NumberType("SHORT_CODE"), _Color.RED]}
    )
    assert query == "type=LOCAL&kind=SHORT_CODE&kind=1"


@pytest.mark.parametrize(
    ("params", "argument"),
    [
        ([("a", "b")], "params"),
        ("a=b", "params"),
        ({1: "b"}, "params"),
        ({"": "b"}, "params"),
        ({"a": None}, "params['a']"),
        ({"a": 1.5}, "params['a']"),
        ({"a": b"bytes"}, "params['a']"),
        ({"a": {"b": "c"}}, "params['a']"),
        ({"a": [["nested"]]}, "params['a']"),
        ({"a": {"set"}}, "params['a']"),
    ],
)
def test_bad_params_are_refused_naming_where(params: object, argument: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _build("GET", params=params)
    assert caught.value.argument == argument


def test_the_query_travels_beside_the_path() -> None:
    request = _build("GET", "activeNumbers", params={"pageSize": 2})
    assert request.target == "/activeNumbers?pageSize=2"


# --- the JSON body ----------------------------------------------------------------------------


def test_a_body_is_encoded_with_the_projects_json() -> None:
    value = {"regionCode": "DE", "numberOrderOption": {"phoneNumbers": ["+4930123"]}, "n": 1.5}
    request = _build("POST", "numberOrders:createNumberOrder", json=value, idempotent=False)
    assert request.body == _json.dumps(value)
    assert request.json == value


def test_a_body_may_be_any_json_value_and_is_normalised() -> None:
    body, shown = encode_body(
        ({"a": (1, 2)}, "text", None, True, NumberType.MOBILE, _Color.RED), "POST"
    )
    assert _json.loads(body or b"") == [{"a": [1, 2]}, "text", None, True, "MOBILE", 1]
    assert shown is None  # not an object: an AmbiguousOutcomeError shows none


def test_a_body_holding_a_secret_is_not_kept_for_error_reports() -> None:
    body, shown = encode_body({"hmacSecret": "s" * 32}, "PATCH")
    assert body == b'{"hmacSecret":"' + b"s" * 32 + b'"}'
    assert shown is None
    _, shown = encode_body({"callbackUrl": "https://user:pw@hooks.example"}, "POST")
    assert shown is None


def test_no_body_means_none_is_sent() -> None:
    request = _build("POST", idempotent=True)
    assert (request.body, request.json) == (None, None)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_read_sends_no_body(method: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _build(method, json={"a": 1})
    assert caught.value.argument == "json"


def _cycle() -> dict[str, Any]:
    value: dict[str, Any] = {}
    value["self"] = value
    return value


def _deep(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "argument", "says"),
    [
        ({"a": float("nan")}, "json['a']", "finite"),
        ([1, float("inf")], "json[1]", "finite"),
        ({"a": {"b": 2**64}}, "json['a']['b']", "64 bits"),
        ({"a": -(2**63) - 1}, "json['a']", "64 bits"),
        ({1: "a"}, "json", "strings as keys"),
        ({"a": {1, 2}}, "json['a']", "not 'set'"),
        ({"a": b"bytes"}, "json['a']", "not 'bytes'"),
        (object(), "json", "not 'object'"),
        ({"sms": SmsConfiguration(service_plan_id="p")}, "json['sms']", "to_dict(model"),
        (_cycle(), "json" + "['self']" * (MAX_JSON_DEPTH + 1), "nest deeper"),
        (_deep(MAX_JSON_DEPTH + 1), "json" + "[0]" * (MAX_JSON_DEPTH + 1), "nest deeper"),
    ],
)
def test_a_body_that_is_not_json_is_refused_naming_where(
    value: object, argument: str, says: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _build("POST", json=value, idempotent=False)
    assert caught.value.argument == argument
    assert says in caught.value.rule


def test_a_body_as_deep_as_allowed_is_sent() -> None:
    body, _ = encode_body(_deep(MAX_JSON_DEPTH), "POST")
    assert body == b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)


# --- the answer -------------------------------------------------------------------------------


def test_an_answer_decodes_to_plain_json_and_an_empty_one_to_none() -> None:
    assert decode_any(200, b'{"a":[1,"x",null,true,1.5]}') == {"a": [1, "x", None, True, 1.5]}
    assert decode_any(200, b"[]") == []
    assert decode_any(204, b"") is None
    assert decode_any(200, b" \r\n") is None


def test_a_2xx_that_is_not_json_is_a_decode_error_keeping_its_bytes() -> None:
    with pytest.raises(DecodeError) as caught:
        decode_any(200, b"<html>OK</html>")
    assert caught.value.body == b"<html>OK</html>"
    assert caught.value.status == 200


def test_the_repr_of_an_answer_shows_no_secret_member_at_any_depth() -> None:
    parsed = {
        "projectId": "p",
        "HMACSECRET": "s1",
        "items": [{"access_token": "t1", "callbackUrl": "https://user:pw@hooks.example/x"}],
    }
    raw = RawResponse(
        parsed=parsed, status_code=200, headers={}, operation="request", elapsed=0.0, retries=0
    )
    shown = repr(raw)
    for secret in ("s1", "t1", "user:pw"):
        assert secret not in shown
    assert redact_value(parsed) == {
        "projectId": "p",
        "HMACSECRET": "***",
        "items": [{"access_token": "***", "callbackUrl": "https://***@hooks.example/x"}],
    }
    assert parsed["HMACSECRET"] == "s1"  # the answer itself is left as it came
    model = SmsConfiguration(service_plan_id="p")
    assert redact_value(model) is model
