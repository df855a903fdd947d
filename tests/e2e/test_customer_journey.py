"""The whole journey a newcomer sees: demo shop -> PinPay page -> two PINs -> order paid."""

import importlib.util
from pathlib import Path
from typing import Any

from pinpay.kit.ids import group_pin
from pinpay.runtime import Runtime
from pinpay.vouchers import service as vouchers
from tests.factories import create_merchant, issue_vouchers
from tests.servers import ServerThread, free_port

SHOP = Path(__file__).resolve().parents[2] / "examples" / "demo_shop" / "app.py"


def load_shop_factory() -> Any:
    spec = importlib.util.spec_from_file_location("demo_shop_under_test", SHOP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.create_shop


async def test_buy_with_two_pins_one_partially_used(
    runtime: Runtime, pinpay_server: str, browser: Any
) -> None:
    merchant = await create_merchant(runtime, name="PinPay Demo Shop")
    ten = (await issue_vouchers(runtime, face_value=1000)).vouchers[0]
    twenty_five = (await issue_vouchers(runtime, face_value=2500)).vouchers[0]
    port = free_port()
    shop_base = f"http://127.0.0.1:{port}"
    shop = load_shop_factory()(
        pinpay_server, merchant.api_key, [merchant.webhook_secret], shop_base
    )
    with ServerThread(shop, port):
        page = await (await browser.new_context(locale="en-US")).new_page()
        await page.goto(shop_base)
        await page.click("#buy-mug")  # 12.50 EUR
        await page.wait_for_url(f"{pinpay_server}/pay/**")
        assert "12.50 EUR" in await page.inner_text("#amount")
        assert "PinPay Demo Shop" in await page.inner_text("#merchant")

        await page.fill("#pin", group_pin(ten.pin))
        await page.click("#submit")
        await page.wait_for_selector("#missing")
        assert await page.inner_text("#missing") == "2.50 EUR"

        await page.fill("#pin", twenty_five.pin)
        await page.click("#submit")
        await page.wait_for_url(f"{shop_base}/orders/**")
        await page.wait_for_selector("#order-status.paid", timeout=15000)
        assert "Paid" in await page.inner_text("#order-status")
        await page.screenshot(path=str(Path(runtime.settings.keys_file).parent / "paid.png"))

    async with runtime.transaction() as session:
        first = await vouchers.get_by_serial(session, ten.serial)
        second = await vouchers.get_by_serial(session, twenty_five.serial)
    assert (first.remaining, first.held, first.status) == (0, 0, "DEPLETED")
    assert (second.remaining, second.held, second.status) == (2250, 0, "ACTIVE")
