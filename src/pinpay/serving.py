"""`pinpay serve`, `pinpay worker` and `pinpay demo`: the long-running processes."""

import asyncio
import signal
import threading
from pathlib import Path
from typing import Any

import typer
import uvicorn

from pinpay.cli import err, out, run, settings
from pinpay.config import Settings
from pinpay.errors import PinPayError
from pinpay.keys.startup import production_keyring
from pinpay.runtime import open_runtime
from pinpay.tls import tls13_context, write_dev_certs
from pinpay.worker.service import run_forever


def _keys_or_exit(current: Settings) -> None:
    """Refuse to start without a keyring, or on the demo's outside demo mode (keys/startup)."""
    try:
        production_keyring(current)
    except PinPayError as error:
        err.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from None


def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, min=1, help="Server processes (they share nothing)."),
    tls_cert: Path | None = typer.Option(None, help="PEM certificate (chain): serve HTTPS."),
    tls_key: Path | None = typer.Option(None, help="PEM private key of --tls-cert."),
) -> None:
    """Serve the API and the payment pages (stateless: run as many as you like)."""
    _keys_or_exit(settings())
    if (tls_cert is None) != (tls_key is None):
        err.print("[red]error:[/red] --tls-cert and --tls-key go together")
        raise typer.Exit(2)
    tls: dict[str, Any] = {}
    if tls_cert and tls_key:
        # TLS 1.3 minimum (pinpay.tls); HSTS follows from the https scheme (PINPAY_HSTS_SECONDS).
        tls = {
            "ssl_certfile": tls_cert,
            "ssl_keyfile": tls_key,
            "ssl_context_factory": tls13_context,
        }
    uvicorn.run(
        "pinpay.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        proxy_headers=False,
        **tls,
    )


def worker(once: bool = typer.Option(False, help="One round of every duty, then exit.")) -> None:
    """Seal audit records and run the other background duties (safe in many copies)."""
    from pinpay.worker.service import run_once

    current = settings()
    _keys_or_exit(current)

    async def work() -> None:
        async with open_runtime(current) as runtime:
            if once:
                out.print(await run_once(runtime))
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await run_forever(runtime, stop)

    run(work())


def demo(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    shop_port: int = typer.Option(8001, help="Port of the demo shop (examples/demo_shop)."),
    vouchers: int = typer.Option(5, min=1, max=100),
) -> None:
    """One command: keys, an embedded SQLite database, a demo merchant and vouchers, the server
    and the demo shop that pays through it."""
    from pinpay.app import create_app
    from pinpay.demo import load_demo_shop, prepare_demo, prepare_keys_and_schema

    base, shop_base = f"http://{host}:{port}", f"http://{host}:{shop_port}"
    current = settings().model_copy(
        update={
            "demo_mode": True,
            "embedded_worker": True,
            "public_base_url": base,
            # The demo shop listens on this machine: let notifications reach it.
            "webhook_allow_private": True,
            "webhook_first_retry_seconds": 2.0,
            "worker_poll_seconds": 0.5,
        }
    )
    prepare_keys_and_schema(current)
    merchant = run(prepare_demo(current, voucher_count=vouchers))
    shop = load_demo_shop(base, merchant, shop_base)
    shop_server = None
    if shop is not None:
        shop_server = uvicorn.Server(
            uvicorn.Config(shop, host=host, port=shop_port, access_log=False, log_level="warning")
        )
        # Its own thread and loop: uvicorn leaves signal handling to the main thread's server.
        threading.Thread(target=shop_server.run, name="demo-shop", daemon=True).start()
        out.print(f"\nDemo shop: [bold]{shop_base}[/bold]  (buy something, pay with a PIN above)")
    out.print(
        f"PinPay is serving on {base}  (health: /health, API docs: /docs)\nPress Ctrl+C to stop."
    )
    try:
        uvicorn.run(
            create_app(current), host=host, port=port, access_log=False, log_level="warning"
        )
    finally:
        if shop_server is not None:
            shop_server.should_exit = True


def dev_cert(
    out_dir: Path = typer.Option(..., "--out", help="Directory for the three files."),
) -> None:
    """A local CA (ca.pem) and a certificate for localhost and 127.0.0.1 (cert.pem, key.pem),
    for `pinpay serve --tls-cert DIR/cert.pem --tls-key DIR/key.pem`; clients trust ca.pem."""
    paths = write_dev_certs(out_dir)
    out.print("\n".join(f"{name}: {path}" for name, path in paths.items()))


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.command()(demo)
    app.command("dev-cert")(dev_cert)
