"""The fake Sinch Numbers server, exercised with a raw aiohttp client over loopback."""

from __future__ import annotations

import asyncio
import base64
import errno
import json
import logging
import re
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import yarl
from multidict import CIMultiDictProxy

from numbers_async.testing import ROUTES, FakeNumbersServer, Fault, RecordedRequest

ACTIVE = "sinch.unifiednumber.v1alpha2.ActiveNumber"
AVAILABLE = "sinch.unifiednumber.v1alpha2.AvailableNumber"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        assert self.headers["Content-Type"] == "application/json"
        return json.loads(self.body)

    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = self.json()["error"]
        assert error["code"] == self.status
        return error


@pytest.fixture
async def fake() -> AsyncIterator[FakeNumbersServer]:
    async with FakeNumbersServer() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def key_pair(fake: FakeNumbersServer) -> dict[str, str]:
    return basic(fake.key_id, fake.key_secret)


def api(fake: FakeNumbersServer, path: str) -> str:
    return f"{fake.url}/v1/projects/{fake.project_id}/{path}"


def raw(url: str) -> yarl.URL:
    """A URL sent exactly as written (no re-encoding of "+" or "%2B")."""
    return yarl.URL(url, encoded=True)


async def send(
    http: aiohttp.ClientSession, method: str, url: str | yarl.URL, **kwargs: Any
) -> Reply:
    async with http.request(method, url, **kwargs) as response:
        return Reply(response.status, response.headers, await response.read())


async def call(
    http: aiohttp.ClientSession, fake: FakeNumbersServer, method: str, path: str, **kwargs: Any
) -> Reply:
    """A Numbers API call authorized with the key pair (HTTP Basic)."""
    return await send(http, method, api(fake, path), headers=key_pair(fake), **kwargs)


async def get_token(http: aiohttp.ClientSession, fake: FakeNumbersServer) -> str:
    reply = await send(
        http,
        "POST",
        fake.auth_url,
        headers=key_pair(fake),
        data={"grant_type": "client_credentials"},
    )
    assert reply.status == 200
    token: str = reply.json()["access_token"]
    return token


def us_local(fake: FakeNumbersServer, prefix: str = "+1") -> str:
    """The first available US LOCAL number starting with ``prefix``."""
    return min(
        phone
        for phone, number in fake.available.items()
        if number["regionCode"] == "US" and number["type"] == "LOCAL" and phone.startswith(prefix)
    )


def violations(error: dict[str, Any]) -> list[dict[str, str]]:
    (detail,) = error["details"]
    assert detail["type"] == "BadRequest"
    found: list[dict[str, str]] = detail["fieldViolations"]
    return found


# -- token endpoint and auth ----------------------------------------------------------------


async def test_token_endpoint_issues_bearer_token_for_the_key_pair(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await send(
        http,
        "POST",
        fake.auth_url,
        headers=key_pair(fake),
        data={"grant_type": "client_credentials"},
    )
    assert reply.status == 200
    body = reply.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == ""
    assert len(body["access_token"]) >= 32


async def test_each_token_is_a_different_opaque_string(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    assert await get_token(http, fake) != await get_token(http, fake)


async def test_token_endpoint_rejects_a_wrong_secret_with_401(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await send(
        http,
        "POST",
        fake.auth_url,
        headers=basic(fake.key_id, "wrong"),
        data={"grant_type": "client_credentials"},
    )
    assert reply.status == 401
    assert reply.json()["error"] == "invalid_client"
    assert fake.key_secret.encode() not in reply.body


async def test_token_endpoint_rejects_another_grant_type_with_400(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await send(
        http, "POST", fake.auth_url, headers=key_pair(fake), data={"grant_type": "password"}
    )
    assert reply.status == 400
    assert reply.json()["error"] == "unsupported_grant_type"


async def test_token_requests_counts_successful_and_failed_calls(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    await get_token(http, fake)
    await send(http, "POST", fake.auth_url, data={"grant_type": "client_credentials"})
    assert fake.token_requests == 2
    assert [r.status for r in fake.requests_for("token")] == [200, 401]


async def test_bearer_token_authorizes_the_numbers_api(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    token = await get_token(http, fake)
    reply = await send(
        http,
        "GET",
        api(fake, "callbackConfiguration"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status == 200


async def test_token_past_its_lifetime_is_answered_401_expired(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeNumbersServer(token_lifetime=0.05) as fake:
        reply = await send(
            http,
            "POST",
            fake.auth_url,
            headers=key_pair(fake),
            data={"grant_type": "client_credentials"},
        )
        assert reply.json()["expires_in"] == 1  # whole seconds, rounded up
        await asyncio.sleep(0.1)
        bearer = {"Authorization": f"Bearer {reply.json()['access_token']}"}
        expired = await send(http, "GET", api(fake, "callbackConfiguration"), headers=bearer)
    assert expired.status == 401
    assert expired.headers["WWW-Authenticate"] == 'Bearer error="expired"'
    assert expired.json()["title"] == "Token expired"


async def test_expire_tokens_expires_every_issued_token_but_not_new_ones(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    old = await get_token(http, fake)
    fake.expire_tokens()
    new = await get_token(http, fake)
    url = api(fake, "callbackConfiguration")
    stale = await send(http, "GET", url, headers={"Authorization": f"Bearer {old}"})
    fresh = await send(http, "GET", url, headers={"Authorization": f"Bearer {new}"})
    assert stale.status == 401
    assert "expired" in stale.headers["WWW-Authenticate"]
    assert fresh.status == 200


async def test_unknown_token_is_401_without_expired(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await send(
        http, "GET", api(fake, "callbackConfiguration"), headers={"Authorization": "Bearer nope"}
    )
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"] == "Bearer"
    assert reply.error()["status"] == "UNAUTHENTICATED"


async def test_missing_credentials_are_401_without_expired(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await send(http, "GET", api(fake, "callbackConfiguration"))
    assert reply.status == 401
    assert "expired" not in reply.headers["WWW-Authenticate"]


async def test_basic_auth_with_the_key_pair_is_accepted_by_the_numbers_api(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(http, fake, "GET", "callbackConfiguration")
    assert reply.status == 200


async def test_basic_auth_with_a_wrong_secret_is_401(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await send(
        http, "GET", api(fake, "callbackConfiguration"), headers=basic(fake.key_id, "nope")
    )
    assert reply.status == 401
    assert reply.error()["status"] == "UNAUTHENTICATED"


async def test_another_project_id_is_403_permission_denied(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    url = f"{fake.url}/v1/projects/someone-else/callbackConfiguration"
    reply = await send(http, "GET", url, headers=key_pair(fake))
    assert reply.status == 403
    assert reply.json() == {
        "error": {"code": 403, "message": "", "status": "PERMISSION_DENIED", "details": []}
    }


async def test_unknown_path_is_404_envelope_on_route_unknown(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(http, fake, "GET", "somethingElse")
    assert reply.status == 404
    assert reply.error()["status"] == "NOT_FOUND"
    assert fake.requests[-1].route == "unknown"


# -- availableRegions and availableNumbers ------------------------------------------------------


async def test_available_regions_lists_every_region_with_name_and_types(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    regions = (await call(http, fake, "GET", "availableRegions")).json()["availableRegions"]
    by_code = {r["regionCode"]: r for r in regions}
    assert by_code["US"] == {
        "regionCode": "US",
        "regionName": "United States",
        "types": ["LOCAL", "TOLL_FREE"],
    }
    assert {"GB", "SE", "DE"} <= set(by_code)


async def test_available_regions_filters_by_repeated_types(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(http, fake, "GET", "availableRegions?types=MOBILE&types=TOLL_FREE")
    codes = [r["regionCode"] for r in reply.json()["availableRegions"]]
    assert codes == ["GB", "SE", "US"]


async def test_available_regions_rejects_an_unknown_type(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(http, fake, "GET", "availableRegions?types=PAGER")
    assert reply.status == 400
    assert reply.error() == {
        "code": 400,
        "message": 'parsing field "types": "PAGER" is not a valid value',
        "status": "INVALID_ARGUMENT",
        "details": [],
    }


async def test_search_returns_matching_numbers_up_to_size(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    query = "regionCode=US&type=LOCAL&capabilities=SMS&capabilities=VOICE&size=3"
    found = (await call(http, fake, "GET", f"availableNumbers?{query}")).json()["availableNumbers"]
    assert len(found) == 3
    for number in found:
        assert (number["regionCode"], number["type"]) == ("US", "LOCAL")
        assert number["capability"] == ["SMS", "VOICE"]
        assert number["monthlyPrice"] == {"currencyCode": "USD", "amount": "2.00"}
        assert set(number) == {
            "phoneNumber",
            "regionCode",
            "type",
            "capability",
            "setupPrice",
            "monthlyPrice",
            "paymentIntervalMonths",
            "supportingDocumentationRequired",
        }


async def test_search_returns_ten_numbers_by_default(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(http, fake, "GET", "availableNumbers?regionCode=US&type=LOCAL")
    assert len(reply.json()["availableNumbers"]) == 10


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("type=LOCAL", "region_code"),
        ("regionCode=us&type=LOCAL", "region_code"),
        ("regionCode=USA&type=LOCAL", "region_code"),
        ("regionCode=US", "type"),
        ("regionCode=US&type=LOCAL&size=0", "size"),
    ],
)
async def test_search_rejects_missing_or_malformed_criteria_with_a_field_violation(
    http: aiohttp.ClientSession, fake: FakeNumbersServer, query: str, field: str
) -> None:
    reply = await call(http, fake, "GET", f"availableNumbers?{query}")
    assert reply.status == 400
    error = reply.error()
    assert error["status"] == "INVALID_ARGUMENT"
    assert [v["field"] for v in violations(error)] == [field]


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ("type=PAGER", "type", "PAGER"),
        ("type=LOCAL&capabilities=FAX", "capabilities", "FAX"),
        (
            "type=LOCAL&numberPattern.pattern=1&numberPattern.searchPattern=MIDDLE",
            "numberPattern.searchPattern",
            "MIDDLE",
        ),
    ],
)
async def test_search_rejects_unknown_enum_values_in_the_parsing_form(
    http: aiohttp.ClientSession, fake: FakeNumbersServer, query: str, field: str, value: str
) -> None:
    reply = await call(http, fake, "GET", f"availableNumbers?regionCode=US&{query}")
    assert reply.status == 400
    error = reply.error()
    assert error["message"] == f'parsing field "{field}": "{value}" is not a valid value'
    assert error["details"] == []


async def test_search_start_pattern_with_percent_encoded_plus_matches_the_area_code(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    url = api(fake, "availableNumbers?regionCode=US&type=LOCAL")
    url += "&numberPattern.pattern=%2B1206&numberPattern.searchPattern=START"
    found = (await send(http, "GET", raw(url), headers=key_pair(fake))).json()["availableNumbers"]
    assert found
    assert all(n["phoneNumber"].startswith("+1206") for n in found)
    assert fake.requests[-1].query[2] == ("numberPattern.pattern", "+1206")


async def test_unencoded_plus_in_pattern_is_read_as_a_space_and_matches_nothing(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    url = api(fake, "availableNumbers?regionCode=US&type=LOCAL")
    url += "&numberPattern.pattern=+1206&numberPattern.searchPattern=START"
    reply = await send(http, "GET", raw(url), headers=key_pair(fake))
    assert reply.status == 200
    assert reply.json()["availableNumbers"] == []
    assert fake.requests[-1].query[2] == ("numberPattern.pattern", " 1206")


async def test_pattern_without_search_pattern_means_contains(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    digits = us_local(fake)[-4:]
    query = f"regionCode=US&type=LOCAL&numberPattern.pattern={digits}&size=50"
    found = (await call(http, fake, "GET", f"availableNumbers?{query}")).json()["availableNumbers"]
    assert found
    assert all(digits in n["phoneNumber"] for n in found)


async def test_end_pattern_matches_the_last_digits(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = us_local(fake)
    query = f"regionCode=US&type=LOCAL&numberPattern.pattern={phone[-5:]}"
    query += "&numberPattern.searchPattern=END"
    found = (await call(http, fake, "GET", f"availableNumbers?{query}")).json()["availableNumbers"]
    assert phone in [n["phoneNumber"] for n in found]
    assert all(n["phoneNumber"].endswith(phone[-5:]) for n in found)


async def test_available_numbers_rejects_the_singular_capability_parameter(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(
        http, fake, "GET", "availableNumbers?regionCode=US&type=LOCAL&capability=SMS"
    )
    assert reply.status == 400
    (violation,) = violations(reply.error())
    assert violation["field"] == "capability"
    assert '"capabilities" (plural)' in violation["description"]


async def test_get_available_number_returns_it(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = us_local(fake)
    reply = await call(http, fake, "GET", f"availableNumbers/{phone}")
    assert reply.status == 200
    assert reply.json() == fake.available[phone]


async def test_get_available_number_that_is_not_available_is_404_with_resource_info(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(http, fake, "GET", "availableNumbers/+12025550134")
    assert reply.status == 404
    error = reply.error()
    assert error["status"] == "NOT_FOUND"
    assert error["details"] == [
        {
            "type": "ResourceInfo",
            "resourceType": AVAILABLE,
            "resourceName": "+12025550134",
            "owner": "",
            "description": "",
        }
    ]


@pytest.mark.parametrize("spelling", ["+", "%2B", "%2b"])
async def test_phone_in_path_may_be_sent_with_literal_or_encoded_plus(
    http: aiohttp.ClientSession, fake: FakeNumbersServer, spelling: str
) -> None:
    phone = us_local(fake)
    url = api(fake, f"availableNumbers/{spelling}{phone[1:]}")
    reply = await send(http, "GET", raw(url), headers=key_pair(fake))
    assert reply.status == 200
    assert reply.json()["phoneNumber"] == phone


@pytest.mark.parametrize("phone", ["12065550100", "+0206555", "+1206555abcd", "+1234567890123456"])
async def test_phone_in_path_that_is_not_e164_is_400(
    http: aiohttp.ClientSession, fake: FakeNumbersServer, phone: str
) -> None:
    reply = await call(http, fake, "GET", f"activeNumbers/{phone}")
    assert reply.status == 400
    assert violations(reply.error())[0]["field"] == "phone_number"


# -- rent, provisioning, rentAny ----------------------------------------------------------------


async def test_rent_moves_the_number_to_active_with_scheduled_provisioning(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = us_local(fake)
    body = {
        "smsConfiguration": {"servicePlanId": "plan-1", "campaignId": "camp-1"},
        "voiceConfiguration": {"appId": "app-1"},
        "callbackUrl": "https://example.com/cb",
    }
    reply = await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json=body)
    assert reply.status == 200
    number = reply.json()
    assert phone not in fake.available
    assert fake.active[phone] == number
    assert number["projectId"] == fake.project_id
    assert number["displayName"] == ""
    assert number["money"] == {"currencyCode": "USD", "amount": "2.00"}
    assert number["paymentIntervalMonths"] == 1
    assert number["nextChargeDate"].endswith("Z")
    assert number["callbackUrl"] == "https://example.com/cb"
    sms = number["smsConfiguration"]
    assert (sms["servicePlanId"], sms["campaignId"]) == ("", "")
    scheduled = sms["scheduledProvisioning"]
    assert scheduled["servicePlanId"] == "plan-1"
    assert scheduled["campaignId"] == "camp-1"
    assert scheduled["status"] == "WAITING"
    assert scheduled["errorCodes"] == []
    assert scheduled["lastUpdatedTime"].endswith("Z")
    voice = number["voiceConfiguration"]
    assert {k: voice[k] for k in ("type", "appId", "trunkId", "serviceId")} == {
        "type": "RTC",
        "appId": "",
        "trunkId": "",
        "serviceId": "",
    }
    assert voice["scheduledVoiceProvisioning"]["appId"] == "app-1"
    assert voice["scheduledVoiceProvisioning"]["status"] == "WAITING"
    assert voice["scheduledVoiceProvisioning"]["type"] == "RTC"
    assert fake.pending_provisioning == [phone]


async def test_complete_provisioning_moves_the_requested_values_up(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = us_local(fake)
    body = {"smsConfiguration": {"servicePlanId": "plan-1"}, "voiceConfiguration": {"appId": "a"}}
    await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json=body)
    fake.complete_provisioning(phone)
    number = (await call(http, fake, "GET", f"activeNumbers/{phone}")).json()
    assert number["smsConfiguration"] == {"servicePlanId": "plan-1", "campaignId": ""}
    assert number["voiceConfiguration"] == {
        "type": "RTC",
        "appId": "a",
        "trunkId": "",
        "serviceId": "",
    }
    assert fake.pending_provisioning == []


async def test_failed_provisioning_keeps_old_values_and_shows_failed_with_error_codes(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = us_local(fake)
    body = {"smsConfiguration": {"servicePlanId": "plan-1"}, "voiceConfiguration": {"appId": "a"}}
    await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json=body)
    fake.complete_provisioning(fail=True, error_codes=["CAMPAIGN_NOT_AVAILABLE"])
    number = (await call(http, fake, "GET", f"activeNumbers/{phone}")).json()
    sms = number["smsConfiguration"]
    assert sms["servicePlanId"] == ""
    assert sms["scheduledProvisioning"]["status"] == "FAILED"
    assert sms["scheduledProvisioning"]["errorCodes"] == ["CAMPAIGN_NOT_AVAILABLE"]
    assert number["voiceConfiguration"]["scheduledVoiceProvisioning"]["status"] == "FAILED"


async def test_complete_provisioning_of_a_number_with_nothing_pending_raises_key_error(
    fake: FakeNumbersServer,
) -> None:
    with pytest.raises(KeyError):
        fake.complete_provisioning("+12065550100")


async def test_provisioning_delay_completes_provisioning_by_itself(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeNumbersServer(provisioning_delay=0.05) as fake:
        phone = us_local(fake)
        body = {"smsConfiguration": {"servicePlanId": "plan-1"}}
        await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json=body)
        await asyncio.sleep(0.1)
        number = (await call(http, fake, "GET", f"activeNumbers/{phone}")).json()
    assert number["smsConfiguration"] == {"servicePlanId": "plan-1", "campaignId": ""}


async def test_rent_without_configuration_schedules_nothing(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = us_local(fake)
    number = (await call(http, fake, "POST", f"availableNumbers/{phone}:rent")).json()
    assert number["smsConfiguration"] == {"servicePlanId": "", "campaignId": ""}
    assert "scheduledVoiceProvisioning" not in number["voiceConfiguration"]
    assert fake.pending_provisioning == []


async def test_rent_of_a_number_already_rented_is_404_available_number(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = us_local(fake)
    await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json={})
    again = await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json={})
    assert again.status == 404
    assert again.error()["details"][0]["resourceType"] == AVAILABLE
    assert fake.rent_counts[phone] == 1


async def test_rent_of_a_number_that_is_not_us_local_is_400(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = next(p for p, n in fake.available.items() if n["regionCode"] == "GB")
    reply = await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json={})
    assert reply.status == 400
    assert "US LOCAL" in reply.error()["message"]
    assert phone in fake.available


async def test_rent_of_any_region_works_when_us_local_only_rent_is_off(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeNumbersServer(us_local_only_rent=False) as fake:
        phone = next(p for p, n in fake.available.items() if n["regionCode"] == "SE")
        reply = await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json={})
    assert reply.status == 200
    assert reply.json()["regionCode"] == "SE"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"smsConfiguration": {"service_plan_id": "x"}}', "sms_configuration.service_plan_id"),
        (b'{"smsConfiguration": {}}', "sms_configuration"),
        (b'{"voiceConfiguration": {"appId": 5}}', "voice_configuration.app_id"),
        (b'{"callback_url": "https://x"}', "callback_url"),
        (b"not json", ""),
        (b"[]", ""),
    ],
)
async def test_rent_rejects_a_malformed_body_with_a_field_violation(
    http: aiohttp.ClientSession, fake: FakeNumbersServer, body: bytes, field: str
) -> None:
    phone = us_local(fake)
    headers = {**key_pair(fake), "Content-Type": "application/json"}
    reply = await send(
        http, "POST", api(fake, f"availableNumbers/{phone}:rent"), headers=headers, data=body
    )
    assert reply.status == 400
    assert violations(reply.error())[0]["field"] == field
    assert phone in fake.available


async def test_rent_counts_count_rent_and_rent_any(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = us_local(fake)
    await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json={})
    await call(http, fake, "POST", f"activeNumbers/{phone}:release")
    await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json={})
    any_body = {"regionCode": "US", "type": "LOCAL"}
    other = (await call(http, fake, "POST", "availableNumbers:rentAny", json=any_body)).json()
    assert fake.rent_counts == {phone: 2, other["phoneNumber"]: 1}


async def test_rent_any_rents_the_first_matching_number_in_phone_order(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    body = {
        "regionCode": "US",
        "type": "LOCAL",
        "numberPattern": {"pattern": "+1208", "searchPattern": "START"},
        "capabilities": ["SMS"],
        "smsConfiguration": {"servicePlanId": "plan-1"},
        "callbackUrl": "https://example.com/cb",
    }
    expected = min(
        p
        for p, n in fake.available.items()
        if p.startswith("+1208") and "SMS" in n["capability"] and n["type"] == "LOCAL"
    )
    reply = await call(http, fake, "POST", "availableNumbers:rentAny", json=body)
    number = reply.json()
    assert number["phoneNumber"] == expected
    assert number["smsConfiguration"]["scheduledProvisioning"]["servicePlanId"] == "plan-1"
    assert number["callbackUrl"] == "https://example.com/cb"
    assert fake.rent_counts[expected] == 1


async def test_rent_any_without_a_match_is_404(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    body = {"regionCode": "US", "type": "LOCAL", "numberPattern": {"pattern": "999999999"}}
    reply = await call(http, fake, "POST", "availableNumbers:rentAny", json=body)
    assert reply.status == 404
    assert reply.error()["details"][0]["resourceType"] == AVAILABLE
    assert not fake.rent_counts


async def test_rent_any_requires_region_code_and_type(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    missing_type = await call(
        http, fake, "POST", "availableNumbers:rentAny", json={"regionCode": "US"}
    )
    missing_region = await call(
        http, fake, "POST", "availableNumbers:rentAny", json={"type": "LOCAL"}
    )
    assert violations(missing_type.error())[0]["field"] == "type"
    assert violations(missing_region.error())[0]["field"] == "region_code"


async def test_rent_any_outside_us_local_is_400(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    body = {"regionCode": "US", "type": "TOLL_FREE"}
    reply = await call(http, fake, "POST", "availableNumbers:rentAny", json=body)
    assert reply.status == 400
    assert "US LOCAL" in reply.error()["message"]


# -- activeNumbers: get, update, release ------------------------------------------------------


async def rented(http: aiohttp.ClientSession, fake: FakeNumbersServer, **body: Any) -> str:
    phone = us_local(fake)
    reply = await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json=body)
    assert reply.status == 200
    return phone


async def test_get_active_number_returns_the_owned_number(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = await rented(http, fake)
    reply = await call(http, fake, "GET", f"activeNumbers/{phone}")
    assert reply.json() == fake.active[phone]


async def test_get_active_number_not_owned_is_404_active_number(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(http, fake, "GET", "activeNumbers/+12025550134")
    assert reply.status == 404
    assert reply.error()["details"][0]["resourceType"] == ACTIVE
    assert reply.error()["details"][0]["resourceName"] == "+12025550134"


async def test_update_sets_display_name_and_callback_url(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = await rented(http, fake)
    body = {"displayName": "Support line", "callbackUrl": "https://example.com/x"}
    number = (await call(http, fake, "PATCH", f"activeNumbers/{phone}", json=body)).json()
    assert number["displayName"] == "Support line"
    assert number["callbackUrl"] == "https://example.com/x"
    assert fake.active[phone] == number


async def test_update_with_an_empty_body_is_400(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = await rented(http, fake)
    reply = await call(http, fake, "PATCH", f"activeNumbers/{phone}", json={})
    assert reply.status == 400
    assert reply.error()["status"] == "INVALID_ARGUMENT"


async def test_update_schedules_a_changed_sms_configuration(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = await rented(http, fake, smsConfiguration={"servicePlanId": "old"})
    fake.complete_provisioning(phone)
    body = {"smsConfiguration": {"servicePlanId": "new"}}
    number = (await call(http, fake, "PATCH", f"activeNumbers/{phone}", json=body)).json()
    assert number["smsConfiguration"]["servicePlanId"] == "old"
    assert number["smsConfiguration"]["scheduledProvisioning"]["servicePlanId"] == "new"


async def test_update_with_empty_service_plan_unlinks_once_provisioned(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = await rented(http, fake, smsConfiguration={"servicePlanId": "plan", "campaignId": "c"})
    fake.complete_provisioning(phone)
    body = {"smsConfiguration": {"servicePlanId": "", "campaignId": ""}}
    await call(http, fake, "PATCH", f"activeNumbers/{phone}", json=body)
    fake.complete_provisioning(phone)
    assert fake.active[phone]["smsConfiguration"] == {"servicePlanId": "", "campaignId": ""}


async def test_update_of_a_number_not_owned_is_404_active_number(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(http, fake, "PATCH", "activeNumbers/+12025550134", json={"displayName": "x"})
    assert reply.status == 404
    assert reply.error()["details"][0]["resourceType"] == ACTIVE


async def test_release_returns_the_number_with_expire_at_and_puts_it_back_on_sale(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = await rented(http, fake)
    before = dict(fake.active[phone])
    reply = await call(http, fake, "POST", f"activeNumbers/{phone}:release")
    number = reply.json()
    assert number["phoneNumber"] == phone
    assert number["expireAt"] == before["nextChargeDate"]
    assert number["expireAt"].endswith("Z")
    assert phone not in fake.active
    assert phone in fake.available


async def test_release_of_a_number_not_owned_is_404_active_number(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(http, fake, "POST", f"activeNumbers/{us_local(fake)}:release")
    assert reply.status == 404
    assert reply.error()["details"][0]["resourceType"] == ACTIVE


async def test_release_cancels_pending_provisioning(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = await rented(http, fake, smsConfiguration={"servicePlanId": "plan"})
    await call(http, fake, "POST", f"activeNumbers/{phone}:release")
    assert fake.pending_provisioning == []


# -- activeNumbers listing ----------------------------------------------------------------------


async def list_all(
    http: aiohttp.ClientSession, fake: FakeNumbersServer, **params: str
) -> list[dict[str, Any]]:
    """Every page of a listing, following nextPageToken (sent percent-encoded by aiohttp)."""
    pages: list[dict[str, Any]] = []
    while True:
        page = (await call(http, fake, "GET", "activeNumbers", params=params)).json()
        pages.append(page)
        if not page.get("nextPageToken"):
            return pages
        params = {**params, "pageToken": page["nextPageToken"]}


@pytest.mark.parametrize("final", ["empty", "absent"])
async def test_listing_pages_through_250_numbers(http: aiohttp.ClientSession, final: Any) -> None:
    async with FakeNumbersServer(final_page_token=final) as fake:
        phones = fake.add_active_numbers(250)
        pages = await list_all(http, fake, pageSize="100")
    assert [len(p["activeNumbers"]) for p in pages] == [100, 100, 50]
    assert [n["phoneNumber"] for p in pages for n in p["activeNumbers"]] == phones
    assert all(p["totalSize"] == 250 for p in pages)
    assert all(p["nextPageToken"] for p in pages[:-1])
    if final == "empty":
        assert pages[-1]["nextPageToken"] == ""
    else:
        assert "nextPageToken" not in pages[-1]


async def test_listing_uses_a_page_size_of_100_by_default(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.add_active_numbers(150)
    page = (await call(http, fake, "GET", "activeNumbers")).json()
    assert len(page["activeNumbers"]) == 100
    assert page["totalSize"] == 150


async def test_listing_filters_by_region_type_pattern_and_repeated_capability(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.add_active_numbers(5, prefix="+1555")
    voice_only = fake.add_active_numbers(3, prefix="+1556", capability=["VOICE"])
    fake.add_active_numbers(2, region_code="GB", number_type="MOBILE", prefix="+447")
    query = "regionCode=US&type=LOCAL&capability=VOICE&capability=SMS"
    both = (await call(http, fake, "GET", f"activeNumbers?{query}")).json()
    assert both["totalSize"] == 5
    url = api(fake, "activeNumbers?numberPattern.pattern=%2B1556&numberPattern.searchPattern=START")
    started = (await send(http, "GET", raw(url), headers=key_pair(fake))).json()
    assert [n["phoneNumber"] for n in started["activeNumbers"]] == voice_only
    gb = (await call(http, fake, "GET", "activeNumbers?regionCode=GB")).json()
    assert gb["totalSize"] == 2


async def test_active_numbers_rejects_the_plural_capabilities_parameter(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(http, fake, "GET", "activeNumbers?capabilities=SMS")
    assert reply.status == 400
    (violation,) = violations(reply.error())
    assert violation["field"] == "capabilities"
    assert '"capability" (singular)' in violation["description"]


async def test_listing_orders_by_display_name_when_asked(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    a, b, c = fake.add_active_numbers(3)
    for phone, name in ((a, "zulu"), (b, "alpha"), (c, "mike")):
        await call(http, fake, "PATCH", f"activeNumbers/{phone}", json={"displayName": name})
    pages = await list_all(http, fake, orderBy="displayName", pageSize="1")
    assert [p["activeNumbers"][0]["phoneNumber"] for p in pages] == [b, c, a]


async def test_listing_rejects_an_unknown_order_by(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(http, fake, "GET", "activeNumbers?orderBy=XXX")
    assert reply.status == 400
    assert violations(reply.error()) == [
        {"field": "order_by", "description": "Invalid order_by XXX"}
    ]


@pytest.mark.parametrize("size", ["0", "-5"])
async def test_listing_rejects_a_page_size_below_one(
    http: aiohttp.ClientSession, fake: FakeNumbersServer, size: str
) -> None:
    reply = await call(http, fake, "GET", f"activeNumbers?pageSize={size}")
    assert violations(reply.error())[0]["field"] == "page_size"


async def test_page_token_from_other_filters_is_400(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.add_active_numbers(3)
    token = (await call(http, fake, "GET", "activeNumbers?pageSize=1")).json()["nextPageToken"]
    reply = await call(
        http,
        fake,
        "GET",
        "activeNumbers",
        params={"pageSize": "1", "regionCode": "US", "pageToken": token},
    )
    assert reply.status == 400
    assert violations(reply.error())[0]["field"] == "page_token"


async def test_page_token_sent_without_percent_encoding_is_400(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.add_active_numbers(3)
    token = (await call(http, fake, "GET", "activeNumbers?pageSize=1")).json()["nextPageToken"]
    assert token.startswith("+")
    url = api(fake, f"activeNumbers?pageSize=1&pageToken={token}")
    reply = await send(http, "GET", raw(url), headers=key_pair(fake))
    assert reply.status == 400


async def test_garbage_page_token_is_400(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(http, fake, "GET", "activeNumbers?pageToken=bm9wZQ")
    assert violations(reply.error())[0]["field"] == "page_token"


async def test_listing_continues_correctly_after_a_release_between_pages(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phones = fake.add_active_numbers(4)
    first = (await call(http, fake, "GET", "activeNumbers", params={"pageSize": "2"})).json()
    await call(http, fake, "POST", f"activeNumbers/{phones[0]}:release")
    params = {"pageSize": "2", "pageToken": first["nextPageToken"]}
    second = (await call(http, fake, "GET", "activeNumbers", params=params)).json()
    assert [n["phoneNumber"] for n in second["activeNumbers"]] == phones[2:]
    assert second["totalSize"] == 3


# -- callbackConfiguration ----------------------------------------------------------------------


async def test_callback_configuration_starts_without_a_secret(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    reply = await call(http, fake, "GET", "callbackConfiguration")
    assert reply.json() == {"projectId": fake.project_id, "hmacSecret": ""}


async def test_callback_configuration_patch_stores_the_secret(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    secret = "a" * 16 + "-" + "B9" * 8
    reply = await call(http, fake, "PATCH", "callbackConfiguration", json={"hmacSecret": secret})
    assert reply.json() == {"projectId": fake.project_id, "hmacSecret": secret}
    again = await call(http, fake, "GET", "callbackConfiguration")
    assert again.json()["hmacSecret"] == secret


@pytest.mark.parametrize(
    "secret", ["short", "x" * 65, "has spaces in it but is long enough ok", ""]
)
async def test_callback_configuration_rejects_an_invalid_secret_without_echoing_it(
    http: aiohttp.ClientSession, fake: FakeNumbersServer, secret: str
) -> None:
    reply = await call(http, fake, "PATCH", "callbackConfiguration", json={"hmacSecret": secret})
    assert reply.status == 400
    assert violations(reply.error())[0]["field"] == "hmac_secret"
    assert not secret or secret.encode() not in reply.body
    assert fake.callback_configuration["hmacSecret"] == ""


# -- faults -------------------------------------------------------------------------------------


async def test_status_fault_answers_the_json_envelope_and_changes_nothing(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(503), route="rent")
    phone = us_local(fake)
    reply = await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json={})
    assert reply.status == 503
    assert reply.error() == {
        "code": 503,
        "message": "Service Unavailable",
        "status": "UNAVAILABLE",
        "details": [],
    }
    assert phone in fake.available
    assert not fake.rent_counts


async def test_status_fault_can_answer_a_gateway_html_page(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(502, body="html"))
    reply = await call(http, fake, "GET", "callbackConfiguration")
    assert reply.status == 502
    assert reply.headers["Content-Type"] == "text/html"
    assert b"<title>502 Bad Gateway</title>" in reply.body


async def test_status_fault_can_answer_an_empty_body(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(504, body="empty"))
    reply = await call(http, fake, "GET", "callbackConfiguration")
    assert (reply.status, reply.body) == (504, b"")
    assert "Content-Type" not in reply.headers


@pytest.mark.parametrize("retry_after", ["7", "Wed, 21 Oct 2037 07:28:00 GMT"])
async def test_status_fault_sends_retry_after_verbatim(
    http: aiohttp.ClientSession, fake: FakeNumbersServer, retry_after: str
) -> None:
    fake.inject(Fault.status(429, retry_after=retry_after))
    reply = await call(http, fake, "GET", "callbackConfiguration")
    assert reply.status == 429
    assert reply.headers["Retry-After"] == retry_after
    assert reply.error()["status"] == "RESOURCE_EXHAUSTED"


async def test_status_fault_on_the_token_route_fails_the_token_endpoint(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(503), route="token")
    reply = await send(
        http,
        "POST",
        fake.auth_url,
        headers=key_pair(fake),
        data={"grant_type": "client_credentials"},
    )
    assert reply.status == 503
    assert await get_token(http, fake)


async def test_fault_without_route_leaves_the_token_endpoint_alone(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    handle = fake.inject(Fault.status(500))
    assert await get_token(http, fake)
    assert handle.active
    reply = await call(http, fake, "GET", "callbackConfiguration")
    assert reply.status == 500
    assert reply.error()["status"] == "INTERNAL"
    assert not handle.active


async def test_latency_fault_delays_then_answers_normally(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.latency(0.2), route="get_callbacks")
    loop = asyncio.get_running_loop()
    started = loop.time()
    reply = await call(http, fake, "GET", "callbackConfiguration")
    assert reply.status == 200
    assert loop.time() - started >= 0.2


async def test_latency_faults_add_up_and_leave_the_deciding_fault_in_force(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.latency(0.05), times=None)
    fake.inject(Fault.status(503))
    loop = asyncio.get_running_loop()
    started = loop.time()
    reply = await call(http, fake, "GET", "callbackConfiguration")
    assert reply.status == 503
    assert loop.time() - started >= 0.05


async def test_reset_before_drops_the_connection_and_changes_nothing(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.reset_before(), route="rent")
    phone = us_local(fake)
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json={})
    assert phone in fake.available
    assert not fake.rent_counts
    assert fake.requests[-1].status == 0


async def test_reset_after_rents_the_number_but_loses_the_response(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.reset_after(), route="rent")
    phone = us_local(fake)
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await call(http, fake, "POST", f"availableNumbers/{phone}:rent", json={})
    assert phone in fake.active
    assert fake.rent_counts[phone] == 1
    assert fake.requests[-1].status == 0


async def test_dropped_connections_log_nothing_and_the_next_request_works(
    http: aiohttp.ClientSession, fake: FakeNumbersServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.inject(Fault.reset_before(), times=2)
    fake.inject(Fault.reset_after())
    # PATCH, because aiohttp quietly retries a GET once when its connection drops.
    body = {"hmacSecret": "s" * 32}
    for _ in range(3):
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await call(http, fake, "PATCH", "callbackConfiguration", json=body)
    assert (await call(http, fake, "PATCH", "callbackConfiguration", json=body)).status == 200
    assert [r.status for r in fake.requests] == [0, 0, 0, 200]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_truncated_json_is_a_200_with_half_a_body(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.truncated_json(), route="get_callbacks")
    reply = await call(http, fake, "GET", "callbackConfiguration")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.body == b'{"projectId":"fake-project","hmacSecret":""}'[:22]
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.body)


async def test_expire_token_fault_expires_tokens_and_answers_401_expired(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    token = await get_token(http, fake)
    fake.inject(Fault.expire_token(), route="get_callbacks")
    bearer = {"Authorization": f"Bearer {token}"}
    url = api(fake, "callbackConfiguration")
    first = await send(http, "GET", url, headers=bearer)
    second = await send(http, "GET", url, headers=bearer)
    assert first.status == second.status == 401
    assert first.headers["WWW-Authenticate"] == 'Bearer error="expired"'
    assert "expired" in second.headers["WWW-Authenticate"]


async def test_fault_fires_the_given_number_of_times_then_disappears(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    handle = fake.inject(Fault.status(500), route="get_callbacks", times=2)
    statuses = [(await call(http, fake, "GET", "callbackConfiguration")).status for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert handle.applied == 2
    assert not handle.active


async def test_fault_with_times_none_fires_until_cleared(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(500), times=None)
    for _ in range(3):
        assert (await call(http, fake, "GET", "callbackConfiguration")).status == 500
    fake.clear_faults()
    assert (await call(http, fake, "GET", "callbackConfiguration")).status == 200


async def test_cancelled_fault_no_longer_fires(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(500)).cancel()
    assert (await call(http, fake, "GET", "callbackConfiguration")).status == 200


async def statuses_with_probability(http: aiohttp.ClientSession, seed: int) -> list[int]:
    async with FakeNumbersServer(seed=seed) as fake:
        fake.inject(Fault.status(503), times=None, probability=0.5)
        return [(await call(http, fake, "GET", "callbackConfiguration")).status for _ in range(20)]


async def test_probabilistic_fault_is_reproducible_for_a_seed(
    http: aiohttp.ClientSession,
) -> None:
    first = await statuses_with_probability(http, seed=7)
    second = await statuses_with_probability(http, seed=7)
    assert first == second
    assert set(first) == {200, 503}


def test_inject_rejects_an_unknown_route() -> None:
    with pytest.raises(ValueError, match="unknown route"):
        FakeNumbersServer().inject(Fault.status(500), route="rent-any")


@pytest.mark.parametrize(
    "build",
    [lambda: Fault.status(99), lambda: Fault.latency(-1), lambda: Fault.status(500, body="xml")],  # type: ignore[arg-type]
)
def test_fault_constructors_reject_nonsense(build: Any) -> None:
    with pytest.raises(ValueError, match="must be"):
        build()


# -- rate limit -------------------------------------------------------------------------------


async def test_rate_limit_answers_429_with_retry_after_beyond_the_burst(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.set_rate_limit(1, burst=2)
    replies = [await call(http, fake, "GET", "callbackConfiguration") for _ in range(3)]
    assert [r.status for r in replies] == [200, 200, 429]
    assert replies[2].headers["Retry-After"] == "1"
    assert replies[2].error()["status"] == "RESOURCE_EXHAUSTED"


async def test_rate_limit_can_answer_429_without_retry_after(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.set_rate_limit(1, burst=1, retry_after=False)
    await call(http, fake, "GET", "callbackConfiguration")
    limited = await call(http, fake, "GET", "callbackConfiguration")
    assert limited.status == 429
    assert "Retry-After" not in limited.headers


async def test_rate_limit_refills_and_can_be_removed(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.set_rate_limit(20, burst=1)
    assert (await call(http, fake, "GET", "callbackConfiguration")).status == 200
    await asyncio.sleep(0.06)
    assert (await call(http, fake, "GET", "callbackConfiguration")).status == 200
    fake.set_rate_limit(None)
    for _ in range(3):
        assert (await call(http, fake, "GET", "callbackConfiguration")).status == 200


async def test_rate_limit_does_not_count_the_token_endpoint(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.set_rate_limit(1, burst=1)
    for _ in range(3):
        await get_token(http, fake)
    assert (await call(http, fake, "GET", "callbackConfiguration")).status == 200


# -- request log, concurrency, hooks ---------------------------------------------------------------


async def test_request_log_records_what_was_sent_and_answered(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    phone = us_local(fake)
    url = api(fake, f"availableNumbers/%2B{phone[1:]}:rent?")
    rented = await send(
        http, "POST", raw(url), headers=key_pair(fake), json={"callbackUrl": "https://x"}
    )
    await call(http, fake, "GET", "availableNumbers?regionCode=US&type=LOCAL&size=2")
    rent, search = fake.requests
    assert rent == RecordedRequest(
        method="POST",
        path=f"/v1/projects/{fake.project_id}/availableNumbers/%2B{phone[1:]}:rent",
        query=(),
        headers=rent.headers,
        body=b'{"callbackUrl": "https://x"}',
        route="rent",
        status=200,
        at=rent.at,
        request_id=rented.headers["X-Request-Id"],
    )
    assert rent.headers["Authorization"].startswith("Basic ")
    assert rent.json() == {"callbackUrl": "https://x"}
    assert search.query == (("regionCode", "US"), ("type", "LOCAL"), ("size", "2"))
    assert search.at >= rent.at
    assert fake.requests_for("rent") == [rent]


async def test_every_answer_carries_its_own_request_id(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(503), route="get_callbacks")
    failed = await call(http, fake, "GET", "callbackConfiguration")
    answered = await call(http, fake, "GET", "callbackConfiguration")
    refused = await send(http, "GET", api(fake, "callbackConfiguration"))  # no credentials
    token = await send(
        http, "POST", fake.auth_url, headers=key_pair(fake), data={"grant_type": "x"}
    )
    replies = [failed, answered, refused, token]
    assert [reply.status for reply in replies] == [503, 200, 401, 400]
    ids = [reply.headers["x-request-id"] for reply in replies]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)
    assert len(set(ids)) == 4  # each answer its own
    assert [record.request_id for record in fake.requests] == ids


async def test_in_flight_counts_concurrent_requests(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeNumbersServer(latency=0.1) as fake:
        calls = [
            asyncio.ensure_future(call(http, fake, "GET", "callbackConfiguration"))
            for _ in range(5)
        ]
        await asyncio.sleep(0.05)
        during = fake.in_flight
        await asyncio.gather(*calls)
        assert (during, fake.in_flight, fake.max_in_flight) == (5, 0, 5)


async def test_provisioning_hook_is_called_when_provisioning_completes(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    events: list[dict[str, Any]] = []

    async def hook(event: dict[str, Any]) -> None:
        events.append(event)

    fake.on_provisioning_event = hook
    phone = await rented(
        http,
        fake,
        smsConfiguration={"servicePlanId": "p", "campaignId": "c"},
        voiceConfiguration={"appId": "a"},
        callbackUrl="https://example.com/cb",
    )
    fake.complete_provisioning(phone)
    await asyncio.sleep(0)
    assert [e["eventType"] for e in events] == [
        "PROVISIONING_TO_SMS_PLATFORM",
        "PROVISIONING_TO_CAMPAIGN",
        "PROVISIONING_TO_VOICE_PLATFORM",
    ]
    event = events[0]
    assert event["resourceId"] == phone
    assert event["resourceType"] == "ACTIVE_NUMBER"
    assert event["projectId"] == fake.project_id
    assert event["status"] == "SUCCEEDED"
    assert event["callbackUrl"] == "https://example.com/cb"
    assert len(event["eventId"]) == 26
    assert "Z" not in event["timestamp"]
    assert "failureCode" not in event


async def test_provisioning_hook_reports_a_failure_with_its_code(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    events: list[dict[str, Any]] = []

    async def hook(event: dict[str, Any]) -> None:
        events.append(event)

    fake.on_provisioning_event = hook
    await rented(http, fake, smsConfiguration={"servicePlanId": "p"})
    fake.complete_provisioning(fail=True, error_codes=["PARTNER_SERVICE_UNAVAILABLE"])
    await asyncio.sleep(0)
    ((status, code),) = [(e["status"], e["failureCode"]) for e in events]
    assert (status, code) == ("FAILED", "PARTNER_SERVICE_UNAVAILABLE")


async def test_release_reports_deprovisioning_to_the_hook(
    http: aiohttp.ClientSession, fake: FakeNumbersServer
) -> None:
    events: list[dict[str, Any]] = []

    async def hook(event: dict[str, Any]) -> None:
        events.append(event)

    phone = await rented(http, fake, smsConfiguration={"servicePlanId": "p"})
    fake.complete_provisioning(phone)
    fake.on_provisioning_event = hook
    await call(http, fake, "POST", f"activeNumbers/{phone}:release")
    await asyncio.sleep(0)
    assert [e["eventType"] for e in events] == ["DEPROVISIONING_FROM_SMS_PLATFORM"]


async def test_close_waits_for_hook_tasks_still_running(http: aiohttp.ClientSession) -> None:
    delivered: list[str] = []

    async def slow_hook(event: dict[str, Any]) -> None:
        await asyncio.sleep(0.05)
        delivered.append(event["eventType"])

    async with FakeNumbersServer() as fake:
        fake.on_provisioning_event = slow_hook
        await rented(http, fake, voiceConfiguration={"appId": "a"})
        fake.complete_provisioning()
    assert delivered == ["PROVISIONING_TO_VOICE_PLATFORM"]


async def test_a_failing_hook_is_logged_not_raised(
    http: aiohttp.ClientSession, fake: FakeNumbersServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    fake.on_provisioning_event = broken
    await rented(http, fake, voiceConfiguration={"appId": "a"})
    fake.complete_provisioning()
    await asyncio.sleep(0)
    assert "hook failed" in caplog.text


# -- inventory and lifecycle ------------------------------------------------------------------


def test_inventory_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    assert FakeNumbersServer(seed=3).available == FakeNumbersServer(seed=3).available
    assert FakeNumbersServer(seed=3).available != FakeNumbersServer(seed=4).available


def test_inventory_has_numbers_per_bucket_for_every_region_and_type() -> None:
    fake = FakeNumbersServer(numbers_per_bucket=8)
    buckets = {(n["regionCode"], n["type"]) for n in fake.available.values()}
    assert len(fake.available) == 8 * len(buckets)
    assert {("US", "LOCAL"), ("US", "TOLL_FREE"), ("GB", "MOBILE"), ("SE", "MOBILE")} <= buckets


def test_added_numbers_are_unique_e164_in_ascending_order() -> None:
    fake = FakeNumbersServer()
    active = fake.add_active_numbers(1050)
    more = fake.add_available_numbers(10)
    assert active[:2] == ["+15550000000", "+15550000001"]
    assert len(set(active + more)) == 1060
    assert active == sorted(active)
    assert more[0] == "+15550001050"
    assert all(len(p) == 12 for p in active + more)


def test_adding_numbers_rejects_a_bad_prefix_or_type() -> None:
    fake = FakeNumbersServer()
    with pytest.raises(ValueError, match="prefix"):
        fake.add_active_numbers(1, prefix="1555")
    with pytest.raises(ValueError, match="number_type"):
        fake.add_available_numbers(1, number_type="PAGER")


async def test_url_is_available_only_while_started() -> None:
    fake = FakeNumbersServer()
    with pytest.raises(RuntimeError):
        _ = fake.url
    await fake.start()
    assert fake.url.startswith("http://127.0.0.1:")
    assert fake.auth_url == f"{fake.url}/oauth2/token"
    await fake.aclose()
    await fake.aclose()  # idempotent


async def test_client_is_a_numbers_client_pointed_at_the_fake(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        config = await client.callbacks.get()
    assert config.project_id == fake.project_id
    assert [r.route for r in fake.requests] == ["token", "get_callbacks"]


def test_routes_lists_every_route_name() -> None:
    assert set(ROUTES) == {
        "token",
        "list_regions",
        "search_available",
        "get_available",
        "rent",
        "rent_any",
        "list_active",
        "get_active",
        "update_active",
        "release",
        "get_callbacks",
        "update_callbacks",
        "get_emergency_address",
        "provision_emergency_address",
        "deprovision_emergency_address",
        "validate_emergency_address",
        "lookup_number_requirements",
        "create_number_order",
        "get_number_order",
        "get_number_order_registration",
        "update_number_order_registration",
        "submit_number_order",
        "unknown",
    }


async def test_close_cancels_a_hook_that_does_not_finish(http: aiohttp.ClientSession) -> None:
    cancelled = asyncio.Event()

    async def stuck_hook(event: dict[str, Any]) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with FakeNumbersServer() as fake:
        fake.on_provisioning_event = stuck_hook
        await rented(http, fake, voiceConfiguration={"appId": "a"})
        fake.complete_provisioning()
    assert cancelled.is_set()


async def test_down_refuses_connections_and_keeps_the_port_until_it_is_up_again(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeNumbersServer() as fake:
        url = fake.url
        phone = await rented(http, fake, smsConfiguration={"servicePlanId": "p"})
        async with fake.down():
            with pytest.raises(aiohttp.ClientConnectorError):
                await http.get(url)
            if sys.platform == "linux":
                taker = socket.socket()  # another program asking for this very port
                with taker, pytest.raises(OSError, match="in use") as caught:
                    taker.bind((fake.host, fake.port))
                assert caught.value.errno == errno.EADDRINUSE
        assert fake.url == url
        assert (await call(http, fake, "GET", f"activeNumbers/{phone}")).status == 200
        fake.complete_provisioning(phone)


async def test_down_is_up_again_after_a_block_that_raises(http: aiohttp.ClientSession) -> None:
    async with FakeNumbersServer() as fake:
        with pytest.raises(ZeroDivisionError):
            async with fake.down():
                _ = 1 / 0
        assert (await call(http, fake, "GET", "callbackConfiguration")).status == 200
        async with fake.down():
            pass  # and it may go down again
        assert (await call(http, fake, "GET", "callbackConfiguration")).status == 200


async def test_down_needs_a_started_server() -> None:
    fake = FakeNumbersServer()
    with pytest.raises(RuntimeError, match="not started"):
        async with fake.down():
            pass


async def test_a_closed_server_starts_again_on_the_same_port_with_its_state(
    http: aiohttp.ClientSession,
) -> None:
    fake = FakeNumbersServer()
    await fake.start()
    url = fake.url
    phone = await rented(http, fake, smsConfiguration={"servicePlanId": "p"})
    await fake.aclose()
    await fake.start()
    try:
        assert fake.url == url
        assert (await call(http, fake, "GET", f"activeNumbers/{phone}")).status == 200
        fake.complete_provisioning(phone)
    finally:
        await fake.aclose()
