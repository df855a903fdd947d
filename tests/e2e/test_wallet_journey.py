"""A customer account in a real browser: sign up, confirm from the mail, log in, load a voucher,
log out; then buy at the demo shop, log in from PinPay's payment page and pay from the wallet;
the shop captures and shows the order paid."""

from pathlib import Path
from typing import Any

from pinpay.app import create_app
from pinpay.customers import service as customers
from pinpay.kit.ids import group_pin
from pinpay.runtime import Runtime
from tests.customers.helpers import Mailbox, problems, wallet_balance
from tests.e2e.test_customer_journey import load_shop_factory
from tests.factories import create_merchant, issue_vouchers
from tests.servers import ServerThread, free_port

EMAIL, PASSWORD = "grace.hopper@example.org", "a long enough password"


async def test_sign_up_load_a_voucher_and_pay_a_shop_from_the_wallet(
    runtime: Runtime, browser: Any
) -> None:
    merchant = await create_merchant(runtime, name="PinPay Demo Shop")
    voucher = (await issue_vouchers(runtime, face_value=2500)).vouchers[0]
    mailbox = Mailbox()
    pinpay_port, shop_port = free_port(), free_port()
    pinpay_base, shop_base = f"http://127.0.0.1:{pinpay_port}", f"http://127.0.0.1:{shop_port}"
    served = runtime.settings.model_copy(
        update={
            "public_base_url": pinpay_base,
            "embedded_worker": True,
            "webhook_allow_private": True,
            "worker_poll_seconds": 0.1,
            "webhook_first_retry_seconds": 0.5,
        }
    )
    # The server's own runtime (it runs on the server thread's event loop), with the mailbox
    # injected as its mail sender.
    server_runtime = Runtime.build(served, runtime.keyring)
    server_runtime.mail = mailbox
    shop = load_shop_factory()(pinpay_base, merchant.api_key, [merchant.webhook_secret], shop_base)
    with (
        ServerThread(create_app(served, server_runtime), pinpay_port),
        ServerThread(shop, shop_port),
    ):
        page = await (await browser.new_context(locale="en-US")).new_page()
        await page.goto(f"{pinpay_base}/account/register")
        await page.fill("#email", EMAIL)
        await page.fill("#first_name", "Grace")
        await page.fill("#last_name", "Hopper")
        await page.fill("#birth_date", "1986-12-09")
        await page.fill("#password", PASSWORD)
        await page.click("#register")
        assert "We have sent you an e-mail" in await page.inner_text("#status")

        await page.goto(pinpay_base + mailbox.verification_path(EMAIL))
        assert "is confirmed" in await page.inner_text("#status")
        await page.click("#next-step")
        await page.fill("#email", EMAIL)
        await page.fill("#password", PASSWORD)
        await page.click("#login")
        await page.wait_for_url(f"{pinpay_base}/account")

        await page.click("#load-link")
        await page.fill("#pin", group_pin(voucher.pin))
        await page.click("#load")
        await page.wait_for_url(f"{pinpay_base}/account?done=loaded")
        assert "25.00 EUR" in await page.inner_text("#balances")
        assert voucher.serial[-4:] in await page.inner_text("#history")
        await page.click("#logout")
        await page.wait_for_url(f"{pinpay_base}/account/login")

        await page.goto(shop_base)
        await page.click("#buy-mug")  # 12.50 EUR
        await page.wait_for_url(f"{pinpay_base}/pay/**")
        await page.click("#wallet-login")
        await page.fill("#email", EMAIL)
        await page.fill("#password", PASSWORD)
        await page.click("#login")
        await page.wait_for_url(f"{pinpay_base}/pay/**")
        assert await page.inner_text("#wallet-balance") == "25.00 EUR"
        await page.click("#pay-wallet")
        await page.wait_for_url(f"{shop_base}/orders/**")
        await page.wait_for_selector("#order-status.paid", timeout=15000)
        assert "Paid" in await page.inner_text("#order-status")
        await page.screenshot(path=str(Path(runtime.settings.keys_file).parent / "wallet.png"))

    async with runtime.transaction() as session:
        account = await customers.find_by_email(session, runtime.keyring, EMAIL)
    assert account is not None
    assert await wallet_balance(runtime, account.psc_id) == 1250
    assert await problems(runtime) == []
