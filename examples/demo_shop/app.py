"""A tiny web shop that takes payment through PinPay's public merchant API, as a real one would.

It creates a payment with its API key, sends the buyer to PinPay's hosted payment page, receives
the signed notification, captures the payment and shows the order as paid. Run by `pinpay demo`
on port 8001; nothing here reaches into PinPay's internals.
"""

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import httpx
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from pinpay.webhooks import InvalidSignature, verify

PRODUCTS = {
    "mug": ("PinPay coffee mug", "12.50"),
    "shirt": ("PinPay T-shirt", "27.00"),
    "stickers": ("Sticker pack", "4.90"),
}
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@dataclass
class Order:
    id: str
    product: str
    amount: str
    payment_id: str | None = None
    status: str = "PENDING_PAYMENT"
    events: list[str] = field(default_factory=list)


def create_shop(
    api_base: str,
    api_key: str,
    webhook_secrets: list[str],
    shop_base: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    app = FastAPI(title="PinPay demo shop", docs_url=None, redoc_url=None, openapi_url=None)
    orders: dict[str, Order] = {}
    by_payment: dict[str, Order] = {}

    def pinpay() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=api_base, auth=(api_key, ""), timeout=10, transport=transport
        )

    async def capture(order: Order) -> None:
        async with pinpay() as client:
            response = await client.post(
                f"/v1/payments/{order.payment_id}/capture",
                headers={"Idempotency-Key": f"capture-{order.id}"},
            )
        if response.status_code == 200 and response.json()["status"] == "SUCCESS":
            order.status = "PAID"

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html", {"products": PRODUCTS})

    @app.post("/checkout")
    async def checkout(product: str = Form(...)) -> Response:
        name, amount = PRODUCTS[product]
        order = Order(id="ord_" + secrets.token_hex(6), product=name, amount=amount)
        async with pinpay() as client:
            response = await client.post(
                "/v1/payments",
                headers={"Idempotency-Key": order.id},
                json={
                    "type": "PAYSAFECARD",
                    "amount": amount,
                    "currency": "EUR",
                    "redirect": {
                        "success_url": f"{shop_base}/orders/{order.id}",
                        "failure_url": f"{shop_base}/orders/{order.id}?failed=1",
                    },
                    "notification_url": f"{shop_base}/notify",
                    "customer": {"id": "demo-" + secrets.token_hex(4)},
                    "shop_id": "demo-shop",
                },
            )
        if response.status_code != 201:
            return HTMLResponse(f"Payment could not start: {response.json()['message']}", 502)
        payment = response.json()
        order.payment_id = payment["id"]
        orders[order.id] = by_payment[payment["id"]] = order
        return RedirectResponse(payment["redirect"]["auth_url"], status_code=303)

    @app.post("/notify")
    async def notify(request: Request) -> Response:
        body = await request.body()
        try:
            verify(webhook_secrets, request.headers, body)
        except InvalidSignature:
            return Response(status_code=401)
        fields = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        order = by_payment.get(fields.get("mtid", ""))
        if order is None:
            return Response(status_code=200)  # not ours; acknowledge so it is not re-sent
        order.events.append(fields.get("eventType", "?"))
        if fields.get("eventType") == "ASSIGN_CARDS" and order.status != "PAID":
            await capture(order)
        return Response(status_code=200)

    @app.get("/orders/{order_id}", response_class=HTMLResponse)
    async def show_order(request: Request, order_id: str, failed: int = 0) -> Response:
        order = orders.get(order_id)
        if order is None:
            return HTMLResponse("No such order", 404)
        if failed and order.status == "PENDING_PAYMENT":
            order.status = "PAYMENT_FAILED"
        return templates.TemplateResponse(request, "order.html", {"order": order})

    return app
