"""The API's current enums and request rules (its 1.0.3 description, beyond the 1.0 spec)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from numbers_async import (
    Capability,
    InvalidArgumentError,
    InvalidInputError,
    NumbersClient,
    NumberType,
    ProvisioningStatus,
    SearchPattern,
    SmsConfiguration,
    SmsErrorCode,
)
from numbers_async import _operations as ops
from numbers_async._convert import structure
from numbers_async.models import ScheduledSmsProvisioning
from numbers_async.testing import FakeNumbersServer

from .conftest import api_requests, basic_authorization

# The 18 codes of the Java SDK's SmsErrorCode (docs/api-facts.md#the-api-beyond-the-10-spec).
SMS_ERROR_CODES = [
    "ERROR_CODE_UNSPECIFIED",
    "INTERNAL_ERROR",
    "SMS_PROVISIONING_FAILED",
    "CAMPAIGN_PROVISIONING_FAILED",
    "CAMPAIGN_NOT_AVAILABLE",
    "EXCEEDED_10DLC_LIMIT",
    "NUMBER_PROVISIONING_FAILED",
    "PARTNER_SERVICE_UNAVAILABLE",
    "CAMPAIGN_PENDING_ACCEPTANCE",
    "MNO_SHARING_ERROR",
    "CAMPAIGN_EXPIRED",
    "CAMPAIGN_MNO_REJECTED",
    "CAMPAIGN_MNO_SUSPENDED",
    "CAMPAIGN_MNO_REVIEW",
    "INSUFFICIENT_BALANCE",
    "MOCK_CAMPAIGN_NOT_ALLOWED",
    "TFN_NOT_ALLOWED",
    "INVALID_NNID",
]


# --- enums --------------------------------------------------------------------------------------


def test_the_unspecified_provisioning_status_is_named() -> None:
    status = structure({"status": "PROVISIONING_STATUS_UNSPECIFIED"}, ScheduledSmsProvisioning)
    assert status.status is ProvisioningStatus.PROVISIONING_STATUS_UNSPECIFIED
    assert ProvisioningStatus.is_known("PROVISIONING_STATUS_UNSPECIFIED")


def test_the_eighteen_sms_error_codes_are_named() -> None:
    assert [member.value for member in SmsErrorCode] == SMS_ERROR_CODES
    assert all(SmsErrorCode[code].value == code for code in SMS_ERROR_CODES)


def test_sms_error_codes_decode_to_members_and_newer_ones_are_kept() -> None:
    scheduled = structure(
        {"status": "FAILED", "errorCodes": ["CAMPAIGN_MNO_REVIEW", "BRAND_NEW_CODE"]},
        ScheduledSmsProvisioning,
    )
    assert scheduled.error_codes is not None
    known, newer = scheduled.error_codes
    assert known is SmsErrorCode.CAMPAIGN_MNO_REVIEW
    assert isinstance(newer, SmsErrorCode)
    assert newer.value == "BRAND_NEW_CODE"
    assert not SmsErrorCode.is_known(newer)
    assert scheduled.error_codes == ("CAMPAIGN_MNO_REVIEW", "BRAND_NEW_CODE")  # still strings


# --- servicePlanId is required on request SMS configurations ----------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda sms: ops.rent("+12025550134", sms=sms, voice=None, callback_url=None),
        lambda sms: ops.update_active(
            "+12025550134", display_name=None, sms=sms, voice=None, callback_url=None
        ),
        lambda sms: ops.rent_any(
            "US",
            "LOCAL",
            pattern=None,
            search_pattern=None,
            capabilities=None,
            sms=sms,
            voice=None,
            callback_url=None,
        ),
    ],
    ids=["rent", "update", "rent_any"],
)
@pytest.mark.parametrize(
    "sms", [SmsConfiguration(campaign_id="X"), SmsConfiguration()], ids=["campaign", "empty"]
)
def test_an_sms_configuration_without_its_service_plan_is_refused(
    build: Callable[[SmsConfiguration], object], sms: SmsConfiguration
) -> None:
    with pytest.raises(InvalidInputError, match="must set service_plan_id") as caught:
        build(sms)
    assert caught.value.argument == "sms"


@pytest.mark.parametrize(
    ("sms", "field"),
    [
        (SmsConfiguration(service_plan_id=5), "service_plan_id"),  # type: ignore[arg-type]
        (SmsConfiguration("plan", campaign_id=["c"]), "campaign_id"),  # type: ignore[arg-type]
    ],
)
def test_sms_ids_that_are_not_strings_are_refused(sms: SmsConfiguration, field: str) -> None:
    with pytest.raises(InvalidInputError, match=f"SmsConfiguration.{field} must be a string"):
        ops.rent("+12025550134", sms=sms, voice=None, callback_url=None)


def test_an_empty_service_plan_is_a_service_plan_and_is_sent() -> None:
    request = ops.update_active(
        "+12025550134",
        display_name=None,
        sms=SmsConfiguration(service_plan_id="", campaign_id="X"),
        voice=None,
        callback_url=None,
    )
    assert request.json == {"smsConfiguration": {"servicePlanId": "", "campaignId": "X"}}


Start = Callable[[NumbersClient], Awaitable[Any]]
CAMPAIGN_ONLY = SmsConfiguration(campaign_id="X")


@pytest.mark.parametrize(
    "start",
    [
        lambda c: c.available_numbers.rent("+12025550134", sms=SmsConfiguration(campaign_id="X")),
        lambda c: c.available_numbers.rent_any(
            "US", "LOCAL", sms=SmsConfiguration(campaign_id="X")
        ),
        lambda c: c.active_numbers.update("+12025550134", sms=SmsConfiguration(campaign_id="X")),
        lambda c: c.bulk.rent(["+12025550134"], sms=SmsConfiguration(campaign_id="X")),
        lambda c: c.bulk.rent_any(2, "US", "LOCAL", sms=SmsConfiguration(campaign_id="X")),
        lambda c: c.bulk.update(["+12025550134"], sms=SmsConfiguration(campaign_id="X")),
    ],
    ids=["rent", "rent_any", "update", "bulk.rent", "bulk.rent_any", "bulk.update"],
)
async def test_nothing_is_sent_for_an_sms_configuration_without_its_service_plan(
    fake: FakeNumbersServer, client: NumbersClient, start: Start
) -> None:
    with pytest.raises(InvalidInputError, match="service_plan_id"):
        await start(client)
    assert fake.requests == []


async def test_the_fake_refuses_an_sms_configuration_without_its_service_plan(
    fake: FakeNumbersServer,
) -> None:
    (phone,) = fake.add_active_numbers(1)
    url = f"{fake.url}/v1/projects/{fake.project_id}/activeNumbers/{phone}"
    body = {"smsConfiguration": {"campaignId": "X"}}  # what the client would never send
    async with (
        aiohttp.ClientSession() as session,
        session.patch(url, json=body, headers=basic_authorization(fake)) as r,
    ):
        assert r.status == 400
        body = await r.json()
    (violation,) = body["error"]["details"][0]["fieldViolations"]
    assert violation["field"] == "sms_configuration.service_plan_id"


# --- enum arguments: known strings, members, or explicit pseudo-members -------------------------


@pytest.mark.parametrize(
    ("build", "argument", "rule"),
    [
        (lambda: ops.search_available("US", "SHORT_CODE", pattern=None, search_pattern=None,
                                      capabilities=None, size=None),
         "number_type", "NumberType('SHORT_CODE')"),
        (lambda: ops.list_regions(["LOCAL", "PREMIUM"]), "types", "NumberType('PREMIUM')"),
        (lambda: ops.search_available("US", "LOCAL", pattern=None, search_pattern=None,
                                      capabilities=["SMS", "RCS"], size=None),
         "capabilities", "Capability('RCS')"),
        (lambda: ops.search_available("US", "LOCAL", pattern="1", search_pattern="start",
                                      capabilities=None, size=None),
         "search_pattern", "SearchPattern('start')"),
    ],
    ids=["number_type", "types", "capabilities", "search_pattern"],
)  # fmt: skip
def test_an_unknown_enum_string_is_refused_and_the_message_says_how_to_send_it(
    build: Callable[[], object], argument: str, rule: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        build()
    assert caught.value.argument == argument
    assert f"a value newer than this version: {rule}" in caught.value.rule


def test_a_value_of_the_wrong_type_is_refused_without_the_hint() -> None:
    with pytest.raises(InvalidInputError) as caught:
        ops.list_regions([5])
    assert "newer" not in caught.value.rule


def test_a_pseudo_member_is_sent_as_it_is() -> None:
    request = ops.search_available(
        "US",
        NumberType("SHORT_CODE"),
        pattern="1",
        search_pattern=SearchPattern("MIDDLE"),
        capabilities=[Capability.SMS, Capability("RCS")],
        size=None,
    )
    assert request.query == (
        "regionCode=US&type=SHORT_CODE&numberPattern.pattern=1"
        "&numberPattern.searchPattern=MIDDLE&capabilities=SMS&capabilities=RCS"
    )


async def test_a_new_value_reaches_the_api_which_decides(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    with pytest.raises(InvalidArgumentError, match="SHORT_CODE"):
        await client.available_numbers.search("US", NumberType("SHORT_CODE"))
    assert api_requests(fake) == ["search_available"]
