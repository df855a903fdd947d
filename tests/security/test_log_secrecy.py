"""No secret in any log line (DESIGN.md "Security model"): a whole payment flow with every logger
at DEBUG, SQLAlchemy's statements and parameters included, and then not one PIN, key, secret,
token, password, session cookie or e-mail address anywhere in what was written."""

import logging
import re
from collections.abc import Iterator

import httpx
import pytest

from pinpay.app import create_app
from pinpay.kit.log import configure_logging
from pinpay.notifications.delivery import deliver_due
from pinpay.runtime import Runtime
from pinpay.web.customer_session import SESSION_COOKIE
from tests.api_client import basic, payment_body
from tests.customers.helpers import EMAIL, PASSWORD, Mailbox, log_in, register
from tests.factories import create_merchant, issue_vouchers
from tests.oauth.helpers import access_token, bearer, new_client

BASE = "http://pinpay.test"
LOGGERS = ("", "sqlalchemy.engine")


@pytest.fixture
def debug_logging(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Everything at DEBUG for the test; the usual configuration and levels afterwards."""
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    try:
        yield
    finally:
        configure_logging()
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _all_debug(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("DEBUG")
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
        logging.getLogger(name).setLevel(logging.DEBUG)


def _forms(pin: str) -> list[str]:
    groups = [pin[i : i + 4] for i in range(0, 16, 4)]
    return [pin, " ".join(groups), "-".join(groups)]


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found is not None, html
    return found.group(1)


async def test_no_secret_is_logged_at_debug(
    runtime: Runtime,
    debug_logging: None,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    mailbox = Mailbox()
    runtime.mail = mailbox
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    runtime.http_transport = httpx.MockTransport(receiver)
    runtime.settings.webhook_allow_private = True
    app = create_app(runtime.settings, runtime)  # configures logging itself: DEBUG comes after
    _all_debug(caplog)
    capfd.readouterr()
    assert logging.getLogger("sqlalchemy.engine").isEnabledFor(logging.DEBUG)

    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url=BASE) as api,
        httpx.AsyncClient(transport=transport, base_url=BASE) as web,
    ):
        created = await create_merchant(runtime, name="Secret Shop")
        client = await new_client(runtime, created.merchant.mid)
        token = await access_token(api, client)
        merchant = bearer(token)

        first, second = (await issue_vouchers(runtime, count=2, face_value=2500)).vouchers
        made = await api.post("/v1/payments", json=payment_body("30.00"), headers=merchant)
        assert made.status_code == 201, made.text
        payment = made.json()
        checked = await api.post(
            "/v1/vouchers/check", json={"pin": _forms(first.pin)[2]}, headers=basic(created.api_key)
        )
        assert checked.status_code == 200, checked.text
        direct = await api.post(
            f"/v1/payments/{payment['id']}/cards", json={"pins": [first.pin]}, headers=merchant
        )
        assert direct.status_code == 200, direct.text
        assert direct.json()["status"] in ("INITIATED", "REDIRECTED"), direct.text

        page_path = httpx.URL(payment["redirect"]["auth_url"]).path
        page = await web.get(page_path)
        assert page.status_code == 200, page.text
        grouped = _forms(second.pin)[1]
        posted = await web.post(page_path, data={"pin": grouped, "csrf": _csrf(page.text)})
        assert posted.status_code == 303, posted.text
        assert posted.headers["location"].startswith("https://shop.example/ok")
        captured = await api.post(f"/v1/payments/{payment['id']}/capture", headers=merchant)
        assert captured.status_code == 200 and captured.json()["status"] == "SUCCESS"
        for _ in range(10):
            if not await deliver_due(runtime):
                break
        assert received, "the fake receiver got no notification"

        assert (await register(web)).status_code == 200
        verification_path = mailbox.verification_path(EMAIL)
        assert (await web.get(verification_path)).status_code == 200
        logged_in = await log_in(web)
        assert logged_in.status_code == 303, logged_in.text
        session_cookie = web.cookies[SESSION_COOKIE]
        assert (await web.get("/account")).status_code == 200

    out, err = capfd.readouterr()
    written = "\n".join([out, err, caplog.text, *(r.getMessage() for r in caplog.records)])
    assert "sqlalchemy.engine" in caplog.text or "SELECT" in written, "SQL was not logged"
    assert "http.request" in written, "the app's own log lines were not captured"

    secrets = {
        "api key": created.api_key,
        "webhook secret": created.webhook_secret,
        "oauth client secret": client.client_secret,
        "access token": token,
        "access token signature": token.rsplit(".", 1)[1],
        "customer password": PASSWORD,
        "session cookie": session_cookie,
        "e-mail address": EMAIL,
        "e-mail address (lower case)": EMAIL.lower(),
        "e-mail verification token": verification_path.rsplit("/", 1)[1],
    }
    for name, voucher in (("first PIN", first), ("second PIN", second)):
        for form in _forms(voucher.pin):
            secrets[f"{name} {form!r}"] = form
    leaks = []
    for name, secret in secrets.items():
        assert len(secret) >= 8, name
        for line in written.splitlines():
            if secret in line:
                leaks.append(f"{name} in: {line[:400]}")
    assert not leaks, "secrets in the logs:\n" + "\n".join(leaks)
