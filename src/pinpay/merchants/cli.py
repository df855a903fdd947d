"""`pinpay merchants ...`"""

import typer

from pinpay.cli import emit_json, out, run, settings
from pinpay.merchants import service
from pinpay.runtime import open_runtime

app = typer.Typer(help="Merchant accounts and their credentials.", no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Option(..., help="The merchant's name as customers see it."),
    currency: list[str] = typer.Option(["EUR"], help="Currencies accepted (repeatable)."),
    allow_ip: list[str] = typer.Option(
        [], help="IP or CIDR allowed to call the API (repeatable; none means any)."
    ),
    disposition_seconds: int = typer.Option(
        600, help="How long an authorization waits for capture (60 to 600)."
    ),
    notification_format: str = typer.Option("form", help="form or json"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a merchant; its API key and webhook secret are shown this once only."""

    async def create_merchant() -> service.NewMerchant:
        async with open_runtime(settings()) as runtime, runtime.transaction() as session:
            return await service.create_merchant(
                session,
                runtime.keyring,
                name=name,
                currencies=currency,
                allow_ips=allow_ip,
                disposition_seconds=disposition_seconds,
                notification_format=notification_format,
            )

    created = run(create_merchant())
    result = {
        "mid": created.merchant.mid,
        "name": created.merchant.name,
        "currencies": created.merchant.currencies,
        "api_key": created.api_key,
        "webhook_secret": created.webhook_secret,
    }
    if as_json:
        emit_json(result)
        return
    for key, value in result.items():
        out.print(f"{key:>15}: {value}")
    out.print(
        "[yellow]Store the API key and webhook secret now: they are not shown again.[/yellow]"
    )
