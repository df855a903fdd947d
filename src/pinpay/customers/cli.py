"""`pinpay customers ...`: open a verified account, export or erase a person's data (GDPR)."""

import sys
from datetime import date
from typing import Any

import typer

from pinpay.cli import emit_json, err, out, run, settings
from pinpay.customers import gdpr
from pinpay.customers.logins import LoginGuard
from pinpay.customers.models import WalletBalance
from pinpay.customers.passwords import hash_password
from pinpay.customers.service import PersonalData, normalize_email, open_account
from pinpay.kit import clock
from pinpay.kit.money import parse_currency
from pinpay.runtime import open_runtime

app = typer.Typer(help="Customer accounts (wallets) and their personal data.", no_args_is_help=True)


def _birth_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        err.print("[red]error:[/red] --birth-date must be YYYY-MM-DD")
        raise typer.Exit(2) from None


@app.command("create")
def create(
    email: str = typer.Option(..., help="The customer's e-mail address (counts as verified)."),
    first_name: str = typer.Option(...),
    last_name: str = typer.Option(...),
    birth_date: str = typer.Option(..., help="YYYY-MM-DD"),
    currency: str = typer.Option("EUR", help="The wallet's first currency."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read a login password from the first line of stdin."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Open a verified account (support, tests). Without --password-stdin it has no password
    and nobody can log in to it; its wallet still receives refunds and payouts."""
    person = PersonalData(email, first_name, last_name, _birth_date(birth_date))
    code = parse_currency(currency.upper())
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None

    async def open_it() -> dict[str, str]:
        async with open_runtime(settings()) as runtime, runtime.transaction() as session:
            password_hash = await hash_password(password) if password is not None else None
            account = await open_account(
                session, runtime.keyring, person, password_hash=password_hash
            )
            # An empty balance row, so that the account shows its currency from the start.
            session.add(
                WalletBalance(
                    account_id=account.id, currency=code, balance=0, updated_at=clock.now()
                )
            )
            return {"psc_id": account.psc_id, "email": normalize_email(email)}

    created = run(open_it())
    if as_json:
        emit_json(created)
    else:
        out.print(f"psc_id: {created['psc_id']}\n email: {created['email']}")


@app.command("export")
def export(identifier: str = typer.Argument(..., metavar="ID", help="psc id or e-mail")) -> None:
    """Print, as JSON, everything held about the person: personal data, balances, history,
    payments, logins."""

    async def export_it() -> dict[str, Any]:
        async with open_runtime(settings()) as runtime, runtime.transaction() as session:
            account = await gdpr.resolve(session, runtime.keyring, identifier)
            return await gdpr.export(session, runtime.keyring, account)

    emit_json(run(export_it()))


@app.command("erase")
def erase(
    identifier: str = typer.Argument(..., metavar="ID", help="psc id or e-mail"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Remove the person's personal data for good; the ledger keeps the pseudonymous psc id."""

    async def erase_it() -> str:
        async with open_runtime(settings()) as runtime, runtime.transaction() as session:
            account = await gdpr.resolve(session, runtime.keyring, identifier)
            await gdpr.erase(session, runtime.keyring, LoginGuard(runtime.guard), account)
            return account.psc_id

    psc_id = run(erase_it())
    if as_json:
        emit_json({"psc_id": psc_id, "status": "ERASED"})
    else:
        out.print(f"{psc_id}: personal data erased; its ledger entries stay under the psc id.")
