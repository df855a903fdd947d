"""The `pinpay` command: operators' tools, the server, the worker and the one-command demo.

Every command takes `--json` where a script may want its output; errors exit non-zero with the
same message the API would give.
"""

import asyncio
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer
from rich.console import Console

from pinpay.config import Settings, get_settings
from pinpay.errors import PinPayError
from pinpay.kit.crypto import PURPOSES, Keyring, load_keyring, write_keyring
from pinpay.kit.log import configure_logging

T = TypeVar("T")

app = typer.Typer(
    help="PinPay: prepaid PIN voucher payments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="The keyring: pepper, sealing and signing keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
out = Console()
err = Console(stderr=True)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine; a domain error becomes a message and exit status 1."""
    try:
        return asyncio.run(coro)
    except PinPayError as error:
        err.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from None


def settings() -> Settings:
    current = get_settings()
    configure_logging(current.log_level, json=current.log_json)
    return current


def emit_json(data: object) -> None:
    print(json.dumps(data, indent=2, default=str))


@keys_app.command("init")
def keys_init(
    force: bool = typer.Option(
        False, help="Replace an existing keyring (data it protects becomes unreadable)."
    ),
) -> None:
    """Create the keyring file (mode 0600) with one key for each purpose."""
    path = settings().keys_file
    try:
        write_keyring(path, Keyring.generate(), overwrite=force)
    except PinPayError as error:
        err.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from None
    out.print(
        f"Keyring written to {path} (mode 0600). Keep it out of the database and backups "
        "of it apart from the data."
    )


@keys_app.command("rotate")
def keys_rotate(
    purpose: list[str] = typer.Option(list(PURPOSES), help="Which keys to rotate."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add a new key for each purpose; old key ids keep verifying, opening and finding PINs."""
    current = settings()
    unknown = set(purpose) - set(PURPOSES)
    if unknown:
        err.print(f"[red]error:[/red] unknown purpose {sorted(unknown)}; choose from {PURPOSES}")
        raise typer.Exit(2)
    try:
        keyring = load_keyring(current.keys_file).rotated(purpose)
    except PinPayError as error:
        err.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from None
    write_keyring(current.keys_file, keyring, overwrite=True)
    newest = {p: keyring.newest(p).kid for p in purpose}
    if as_json:
        emit_json({"rotated": newest})
    else:
        for p, kid in newest.items():
            out.print(f"{p}: new key {kid}")


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (safe to run on every start)."""
    from pinpay.migrations import upgrade

    upgrade(settings().database_url)
    out.print("Database is at the newest schema.")


def _register_subcommands() -> None:
    # Imported here so that `pinpay --help` stays fast and each group lives beside its domain.
    from pinpay.audit.cli import app as audit_app
    from pinpay.customers.cli import app as customers_app
    from pinpay.keys import cli as keys_cli  # noqa: F401  (adds `pinpay keys reseal`)
    from pinpay.merchants.cli import app as merchants_app
    from pinpay.serving import register as register_serving
    from pinpay.vouchers.cli import app as vouchers_app

    app.add_typer(merchants_app, name="merchants")
    app.add_typer(vouchers_app, name="vouchers")
    app.add_typer(audit_app, name="audit")
    app.add_typer(customers_app, name="customers")
    register_serving(app)


def main() -> None:
    _register_subcommands()
    app()
