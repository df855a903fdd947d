"""The merchant payouts API (API.md 5): create (validate or capture), capture, retrieve, limits."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pinpay.idempotency.api import respond_once
from pinpay.kit.clock import unix_ms
from pinpay.kit.money import to_json_number
from pinpay.merchants import transfers
from pinpay.merchants.auth import authenticate
from pinpay.payments.validation import correlation_id
from pinpay.payouts import service, validation
from pinpay.payouts.schemas import CreatePayoutRequest, PayoutLimits, PayoutObject, payout_object
from pinpay.refunds.schemas import without_secrets
from pinpay.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["payouts"])
# Error responses are documented for every /v1 route by pinpay.openapi.
ERRORS: dict[int | str, dict[str, Any]] = {}


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.post(
    "/payouts",
    status_code=201,
    response_model=PayoutObject,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Pay out to a customer account (validate, or capture at once)",
)
async def create_payout(request: Request, body: CreatePayoutRequest) -> JSONResponse:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)

        async def produce() -> dict[str, Any]:
            new = validation.new_payout(body, merchant)
            correlation = correlation_id(request.headers.get("correlation-id"))
            payout, account = await service.create(
                session, runtime.keyring, merchant, new, correlation
            )
            return payout_object(payout, psc_id=account.psc_id, email=new.customer.email)

        # A replay never shows the e-mail address again: it is not kept in clear.
        return await respond_once(
            session, request, merchant.id, 201, produce, stored=without_secrets
        )


@router.get(
    "/payouts/limits/{currency}",
    response_model=PayoutLimits,
    responses=ERRORS,
    summary="The merchant's payout limit today and what is left of it",
)
async def payout_limits(request: Request, currency: str) -> JSONResponse:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)
        code = transfers.merchant_currency(currency, merchant)
        limit = await service.daily_limit(session, merchant, code)
        return JSONResponse(
            {
                "object": "PAYOUT_LIMITS",
                "currency": code,
                "daily_limit": to_json_number(limit.limit, code),
                "paid_out_today": to_json_number(limit.paid_out, code),
                "left_today": to_json_number(limit.left, code),
                "resets": unix_ms(limit.resets_at),
            }
        )


@router.post(
    "/payouts/{payout_id}/capture",
    response_model=PayoutObject,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Capture a validated payout",
)
async def capture_payout(request: Request, payout_id: str) -> JSONResponse:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)

        async def produce() -> dict[str, Any]:
            payout, account = await service.capture(session, merchant, payout_id)
            return payout_object(payout, psc_id=account.psc_id)

        return await respond_once(session, request, merchant.id, 200, produce)


@router.get(
    "/payouts/{payout_id}",
    response_model=PayoutObject,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Retrieve a payout",
)
async def get_payout(request: Request, payout_id: str) -> JSONResponse:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)
        payout = await service.get(session, merchant, payout_id)
        return JSONResponse(payout_object(payout, psc_id=await service.psc_id_of(session, payout)))
