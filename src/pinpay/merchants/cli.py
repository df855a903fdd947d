"""`pinpay merchants ...`"""

from pathlib import Path

import typer

from pinpay.cli import emit_json, err, out, run, settings
from pinpay.kit.money import to_major, to_minor
from pinpay.merchants import admin, oauth, service, signatures
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


@app.command("rotate-webhook-secret")
def rotate_webhook_secret(mid: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A new webhook secret, shown once; the previous one keeps signing for 24 hours."""

    async def rotate() -> str:
        async with open_runtime(settings()) as runtime, runtime.unit_of_work() as session:
            return await admin.rotate_webhook_secret(session, runtime.keyring, mid)

    secret = run(rotate())
    if as_json:
        emit_json({"mid": mid, "webhook_secret": secret, "previous_valid_hours": 24})
    else:
        out.print(f"new webhook secret: {secret}\nThe previous one keeps signing for 24 hours.")


@app.command("update")
def update(
    mid: str,
    status: str | None = typer.Option(None, help="ACTIVE or INACTIVE"),
    direct_pins: bool | None = typer.Option(
        None, "--direct-pins/--no-direct-pins", help="Allow PINs server to server."
    ),
    disposition_seconds: int | None = typer.Option(None),
    notification_format: str | None = typer.Option(None, help="form or json"),
    max_payment: str | None = typer.Option(None, help="Maximum per payment, e.g. 1000.00"),
    allow_ip: list[str] | None = typer.Option(None, help="Replaces the allow-list (repeatable)."),
    basic_auth: bool | None = typer.Option(
        None, "--basic-auth/--no-basic-auth", help="Accept API keys (off: OAuth tokens only)."
    ),
    require_signatures: bool | None = typer.Option(
        None,
        "--require-signatures/--no-require-signatures",
        help="Every API call must be signed (RFC 9421) by a key from add-signing-key.",
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Change a merchant's settings; every change is audited."""

    async def change() -> dict[str, object]:
        async with open_runtime(settings()) as runtime, runtime.unit_of_work() as session:
            merchant = await admin.get(session, mid)
            currency = merchant.currencies[0] if merchant.currencies else "EUR"
            changes = admin.MerchantChanges(
                status=status,
                direct_pins=direct_pins,
                disposition_seconds=disposition_seconds,
                notification_format=notification_format,
                max_payment_minor=to_minor(max_payment, currency, param="max_payment")
                if max_payment is not None
                else None,
                allow_ips=allow_ip or None,
                basic_auth=basic_auth,
                require_signatures=require_signatures,
            )
            merchant = await admin.update_merchant(session, mid, changes)
            return {
                "mid": merchant.mid,
                "status": merchant.status,
                "direct_pins": merchant.direct_pins,
                "disposition_seconds": merchant.disposition_seconds,
                "notification_format": merchant.notification_format,
                "max_payment": str(to_major(merchant.max_payment_minor, currency)),
                "allowed_ips": merchant.allowed_ips,
                "basic_auth": merchant.basic_auth,
                "require_signatures": merchant.require_signatures,
            }

    result = run(change())
    if as_json:
        emit_json(result)
    else:
        for key, value in result.items():
            out.print(f"{key:>20}: {value}")


@app.command("create-client")
def create_client(
    mid: str,
    scope: list[str] = typer.Option(
        ..., help="payments:read, payments:write, refunds or payouts (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """An OAuth API client (client credentials); its secret is shown this once only."""

    async def create() -> tuple[oauth.NewClient, bool]:
        async with open_runtime(settings()) as runtime, runtime.transaction() as session:
            created = await oauth.create_client(session, mid, scope)
            return created, runtime.keyring.token_signer() is not None

    created, can_sign = run(create())
    if not can_sign:  # stderr: the --json output stays parseable
        err.print(
            "[yellow]warning:[/yellow] the keyring has no token key yet, so no access token "
            "can be issued: run `pinpay keys rotate --purpose token`."
        )
    result = {
        "mid": created.mid,
        "client_id": created.client_id,
        "client_secret": created.client_secret,
        "scopes": created.scopes,
    }
    if as_json:
        emit_json(result)
        return
    for key, value in result.items():
        out.print(f"{key:>15}: {value}")
    out.print("[yellow]Store the client secret now: it is not shown again.[/yellow]")


@app.command("revoke-client")
def revoke_client(client_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Revoke an API client: its secret and every token it holds stop working at once."""

    async def revoke() -> str:
        async with open_runtime(settings()) as runtime, runtime.transaction() as session:
            return await oauth.revoke_client(session, client_id)

    mid = run(revoke())
    if as_json:
        emit_json({"mid": mid, "client_id": client_id, "revoked": True})
    else:
        out.print(f"API client {client_id} of merchant {mid} is revoked.")


@app.command("add-signing-key")
def add_signing_key(
    mid: str,
    key_id: str = typer.Option(..., help="The keyid the merchant puts in Signature-Input."),
    public_key: Path = typer.Option(..., help="PEM public key: Ed25519 or ECDSA P-256."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Register a merchant's public key for signed requests (RFC 9421)."""

    pem = public_key.read_bytes()

    async def add() -> dict[str, object]:
        async with open_runtime(settings()) as runtime, runtime.unit_of_work() as session:
            key = await signatures.add_signing_key(session, mid, key_id, pem)
            return {"mid": mid, "key_id": key.key_id, "algorithm": key.algorithm}

    result = run(add())
    if as_json:
        emit_json(result)
    else:
        out.print(f"signing key {result['key_id']} ({result['algorithm']}) added to {mid}")


@app.command("api-keys")
def list_api_keys(mid: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A merchant's API keys: id, the first characters, created, revoked (never the key)."""

    async def load() -> list[dict[str, object]]:
        async with open_runtime(settings()) as runtime, runtime.transaction() as session:
            return [
                {
                    "id": key.id,
                    "hint": key.hint + "...",
                    "created": key.created_at.isoformat(),
                    "revoked": key.revoked_at.isoformat() if key.revoked_at else None,
                }
                for key in await admin.api_keys(session, mid)
            ]

    keys = run(load())
    if as_json:
        emit_json(keys)
    else:
        for key in keys:
            out.print(
                f"{key['id']:>6}  {key['hint']}  created {key['created']}"
                + (f"  revoked {key['revoked']}" if key["revoked"] else "  active")
            )


@app.command("add-api-key")
def add_api_key(mid: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """One more active API key, shown once (the others keep working until revoked)."""

    async def add() -> str:
        async with open_runtime(settings()) as runtime, runtime.unit_of_work() as session:
            return await admin.add_api_key(session, mid)

    api_key = run(add())
    if as_json:
        emit_json({"mid": mid, "api_key": api_key})
    else:
        out.print(f"new API key: {api_key}\nStore it now: it is not shown again.")


@app.command("revoke-api-key")
def revoke_api_key(mid: str, key_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """Revoke one API key at once (see `pinpay merchants api-keys MID` for ids)."""

    async def revoke() -> dict[str, object]:
        async with open_runtime(settings()) as runtime, runtime.unit_of_work() as session:
            key = await admin.revoke_api_key(session, mid, key_id)
            return {"id": key.id, "revoked": key.revoked_at.isoformat() if key.revoked_at else None}

    result = run(revoke())
    if as_json:
        emit_json(result)
    else:
        out.print(f"API key {result['id']} revoked")
