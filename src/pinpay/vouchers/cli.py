"""`pinpay vouchers ...`: issue batches to a PIN file, show, freeze, unfreeze, void."""

import csv
import os
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from pinpay.cli import emit_json, err, out, run, settings
from pinpay.kit.clock import as_utc
from pinpay.kit.money import format_money, parse_currency, to_json_number, to_major, to_minor
from pinpay.runtime import open_runtime
from pinpay.vouchers import issuance, service, signing
from pinpay.vouchers.models import Voucher

app = typer.Typer(help="Voucher batches and single vouchers.", no_args_is_help=True)

CSV_HEADER = ["serial", "pin", "value", "currency", "expires"]


def _open_pin_file(path: Path) -> int:
    """Create the PIN file with mode 0600 from its first byte; never overwrite an older one."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        err.print(f"[red]error:[/red] {path} exists; PIN files are never overwritten.")
        raise typer.Exit(1) from None


@app.command("issue")
def issue(
    count: int = typer.Option(..., min=1, max=issuance.MAX_BATCH),
    value: str = typer.Option(..., help="Face value, e.g. 25.00"),
    currency: str = typer.Option("EUR"),
    country: str | None = typer.Option(None, help="ISO 3166 alpha-2, e.g. AT"),
    expires_days: int = typer.Option(365 * 3, min=1),
    out_file: Path = typer.Option(..., "--out", help="CSV file for the PINs (created, 0600)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Issue a batch of active vouchers. The PINs go to the --out file only, never to a log."""
    code = parse_currency(currency.upper())
    face_value = to_minor(value, code, param="value")
    fd = _open_pin_file(out_file)

    async def issue_and_write() -> issuance.IssuedBatch:
        with (
            os.fdopen(fd, "w", newline="") as handle,
            Progress(
                *Progress.get_default_columns()[:1],
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err,
                disable=count < 5000 or as_json,
            ) as progress,
        ):
            task = progress.add_task("issuing", total=count)
            async with open_runtime(settings()) as runtime, runtime.transaction() as session:
                batch = await issuance.issue_batch(
                    session,
                    runtime.keyring,
                    count=count,
                    face_value=face_value,
                    currency=code,
                    country=country,
                    expires_days=expires_days,
                    on_progress=lambda n: progress.advance(task, n),
                )
                # The PINs are on disk before the vouchers exist: a crash leaves a file of PINs
                # that never became valid, never valid vouchers whose PINs nobody has.
                writer = csv.writer(handle)
                writer.writerow(CSV_HEADER)
                major = str(to_major(face_value, code))
                for v in batch.vouchers:
                    writer.writerow(
                        [v.serial, v.pin, major, v.currency, v.expires_at.date().isoformat()]
                    )
                handle.flush()
                os.fsync(handle.fileno())
            return batch

    try:
        batch = run(issue_and_write())
    except BaseException:
        out_file.unlink(missing_ok=True)
        raise
    summary = {
        "batch_id": batch.batch_id,
        "count": len(batch.vouchers),
        "value": to_json_number(face_value, code),
        "currency": code,
        "country": batch.country,
        "expires": batch.expires_at.isoformat(),
        "file": str(out_file),
    }
    if as_json:
        emit_json(summary)
    else:
        out.print(
            f"Issued {len(batch.vouchers)} vouchers of {format_money(face_value, code)} "
            f"(batch {batch.batch_id}); PINs in {out_file} (mode 0600)."
        )


def _describe(voucher: Voucher, genuine: bool) -> dict[str, object]:
    return {
        "serial": voucher.serial,
        "status": voucher.status,
        "currency": voucher.currency,
        "face_value": to_json_number(voucher.face_value, voucher.currency),
        "remaining": to_json_number(voucher.remaining, voucher.currency),
        "held": to_json_number(voucher.held, voucher.currency),
        "country": voucher.country,
        "issued": as_utc(voucher.issued_at).isoformat(),
        "expires": as_utc(voucher.expires_at).isoformat(),
        "batch_id": voucher.batch_id,
        "signature_valid": genuine,
    }


def _print(data: dict[str, object], as_json: bool) -> None:
    if as_json:
        emit_json(data)
    else:
        for key, value in data.items():
            out.print(f"{key:>16}: {value}")


@app.command("show")
def show(serial: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show one voucher by serial (never its PIN) and whether its signature holds."""

    async def load() -> dict[str, object]:
        async with open_runtime(settings()) as runtime, runtime.transaction() as session:
            voucher = await service.get_by_serial(session, serial)
            return _describe(voucher, signing.is_genuine(runtime.keyring, voucher))

    _print(run(load()), as_json)


def _status_command(action: str, help_text: str) -> None:
    def command(
        serial: str,
        reason: str | None = typer.Option(None),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        async def change() -> dict[str, object]:
            async with open_runtime(settings()) as runtime, runtime.unit_of_work() as session:
                voucher = await service.change_status(session, serial, action, reason=reason)
                return _describe(voucher, signing.is_genuine(runtime.keyring, voucher))

        _print(run(change()), as_json)

    command.__doc__ = help_text
    app.command(action)(command)


_status_command("freeze", "Freeze a voucher: it cannot be spent until unfrozen.")
_status_command("unfreeze", "Make a frozen voucher spendable again.")
_status_command("void", "Void a voucher for good; its remaining value leaves the float.")
