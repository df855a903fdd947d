"""`pinpay serve`, `pinpay worker` and `pinpay demo`: the long-running processes."""

import asyncio
import signal
import threading

import typer
import uvicorn

from pinpay.cli import out, run, settings
from pinpay.runtime import open_runtime
from pinpay.worker.service import run_forever


def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, min=1, help="Server processes (they share nothing)."),
) -> None:
    """Serve the API and the payment pages (stateless: run as many as you like)."""
    settings()
    uvicorn.run(
        "pinpay.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        proxy_headers=False,
    )


def worker(once: bool = typer.Option(False, help="One round of every duty, then exit.")) -> None:
    """Seal audit records and run the other background duties (safe in many copies)."""
    from pinpay.worker.service import run_once

    async def work() -> None:
        async with open_runtime(settings()) as runtime:
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


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.command()(demo)
