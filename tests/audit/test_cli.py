"""`pinpay audit verify` and `pinpay audit seal` as an operator runs them.

Sync tests: the CLI runs its own event loop with asyncio.run, so data is set up the same way.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator

import pytest
from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from pinpay.audit import service as audit
from pinpay.cli import _register_subcommands, app
from pinpay.config import Settings, get_settings
from pinpay.kit.crypto import Keyring
from pinpay.kit.log import configure_logging
from pinpay.runtime import Runtime
from tests.audit.tampering import tamper
from tests.factories import issue_vouchers

Work = Callable[[Runtime], Awaitable[None]]
Pinpay = Callable[..., Result]

if not any(group.name == "audit" for group in app.registered_groups):
    _register_subcommands()


@pytest.fixture(autouse=True)
def _fresh_settings_and_logging() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    # The CLI pointed the logs at the runner's (now closed) stream: point them back.
    configure_logging()


@pytest.fixture
def pinpay(database_url: str, keyring: Keyring, runtime: Runtime) -> Pinpay:
    """Runs `pinpay ...` against the test database (`runtime` emptied it on PostgreSQL)."""
    env = {"PINPAY_DATABASE_URL": database_url, "PINPAY_KEYS_JSON": keyring.to_json()}

    def invoke(*args: str) -> Result:
        get_settings.cache_clear()
        return CliRunner().invoke(app, list(args), env=env)

    return invoke


def _with_runtime(settings: Settings, keyring: Keyring, work: Work) -> None:
    async def run() -> None:
        runtime = Runtime.build(settings, keyring)
        try:
            await work(runtime)
        finally:
            await runtime.close()

    asyncio.run(run())


def _write_records(count: int) -> Work:
    async def work(runtime: Runtime) -> None:
        for number in range(count):
            async with runtime.transaction() as session:
                await audit.record(session, "voucher.hold", reason=f"r{number}")

    return work


def _tamper(*statements: str) -> Work:
    async def work(runtime: Runtime) -> None:
        await tamper(runtime, *statements)

    return work


def test_verify_exits_0_on_a_clean_database(pinpay: Pinpay) -> None:
    result = pinpay("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "audit chain and ledger verified" in result.output


def test_seal_then_verify_then_tamper(pinpay: Pinpay, settings: Settings, keyring: Keyring) -> None:
    _with_runtime(settings, keyring, _write_records(3))
    unsealed = pinpay("audit", "verify", "--json")
    assert unsealed.exit_code == 0, unsealed.output
    assert json.loads(unsealed.stdout) == {
        "ok": True,
        "sealed_records": 0,
        "unsealed_records": 3,
        "problems": [],
    }

    sealed = pinpay("audit", "seal", "--json")
    assert sealed.exit_code == 0, sealed.output
    assert json.loads(sealed.stdout) == {"sealed": 3}
    clean = pinpay("audit", "verify")
    assert clean.exit_code == 0, clean.output
    assert "sealed records: 3, not yet sealed: 0" in clean.stdout

    _with_runtime(settings, keyring, _tamper("UPDATE audit_record SET reason = 'hidden'"))
    broken = pinpay("audit", "verify")
    assert broken.exit_code == 1
    assert "BROKEN" in broken.stderr and "does not match its seal" in broken.stderr
    assert "3 problem(s) found" in broken.stdout
    as_json = pinpay("audit", "verify", "--json")
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False and len(report["problems"]) == 3


def test_verify_exits_1_when_a_voucher_balance_disagrees_with_the_journal(
    pinpay: Pinpay, settings: Settings, keyring: Keyring
) -> None:
    async def issue_and_inflate(runtime: Runtime) -> None:
        batch = await issue_vouchers(runtime, face_value=1000)
        async with runtime.transaction() as session:
            await session.execute(
                text("UPDATE voucher SET remaining = 900 WHERE serial = :s"),
                {"s": batch.vouchers[0].serial},
            )

    _with_runtime(settings, keyring, issue_and_inflate)
    result = pinpay("audit", "verify", "--json")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert len(problems) == 1 and "column says 900, journal says 1000" in problems[0]
