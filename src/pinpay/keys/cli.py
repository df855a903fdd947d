"""`pinpay keys reseal` (added to the `pinpay keys` group that `pinpay.cli` defines)."""

import typer

from pinpay.cli import emit_json, keys_app, out, run, settings
from pinpay.keys.reseal import reseal_all
from pinpay.runtime import open_runtime


@keys_app.command("reseal")
def keys_reseal(
    batch: int = typer.Option(1000, min=1, help="Rows per transaction."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Re-encrypt every sealed value under the newest seal key (online; safe to re-run)."""

    async def reseal() -> dict[str, int]:
        async with open_runtime(settings()) as runtime:
            return await reseal_all(runtime, batch)

    counts = run(reseal())
    if as_json:
        emit_json({"resealed": counts})
    else:
        for name, count in counts.items():
            out.print(f"{name}: {count} resealed")
