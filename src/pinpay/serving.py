"""`pinpay serve`, `pinpay worker` and `pinpay demo`: the long-running processes."""

import asyncio
import signal

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
    vouchers: int = typer.Option(5, min=1, max=100),
) -> None:
    """One command: keys, an embedded SQLite database, a demo merchant and vouchers, the server."""
    from pinpay.demo import prepare_demo, prepare_keys_and_schema

    current = settings().model_copy(
        update={
            "demo_mode": True,
            "embedded_worker": True,
            "public_base_url": f"http://{host}:{port}",
        }
    )
    prepare_keys_and_schema(current)
    run(prepare_demo(current, voucher_count=vouchers))
    from pinpay.app import create_app

    out.print(
        f"\nPinPay is serving on http://{host}:{port}  (health: /health, API docs: /docs)"
        "\nPress Ctrl+C to stop."
    )
    uvicorn.run(create_app(current), host=host, port=port, access_log=False, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.command()(demo)
