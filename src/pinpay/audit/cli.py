"""`pinpay audit ...`"""

import typer

from pinpay.audit.chain import seal_pending
from pinpay.audit.verify import VerifyReport, verify_all
from pinpay.cli import emit_json, err, out, run, settings
from pinpay.runtime import open_runtime

app = typer.Typer(
    help="The tamper-evident audit log and the ledger's proofs.", no_args_is_help=True
)


@app.command("verify")
def verify(as_json: bool = typer.Option(False, "--json")) -> None:
    """Re-walk the hash chain and recompute every balance from the journal; exit 1 on a break."""

    async def check() -> VerifyReport:
        async with open_runtime(settings()) as runtime, runtime.transaction() as session:
            return await verify_all(session, runtime.keyring)

    report = run(check())
    if as_json:
        emit_json(report.as_dict())
    else:
        out.print(
            f"sealed records: {report.sealed_records}, not yet sealed: {report.unsealed_records}"
        )
        for problem in report.problems:
            err.print(f"[red]BROKEN[/red] {problem}")
        out.print(
            "[green]audit chain and ledger verified[/green]"
            if report.ok
            else f"[red]{len(report.problems)} problem(s) found[/red]"
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command("seal")
def seal(as_json: bool = typer.Option(False, "--json")) -> None:
    """Seal every pending record now (the worker does this continuously)."""

    async def seal_all() -> int:
        total = 0
        async with open_runtime(settings()) as runtime:
            while True:
                async with runtime.transaction() as session:
                    sealed = await seal_pending(
                        session, runtime.keyring, runtime.settings.audit_seal_batch
                    )
                total += sealed
                if not sealed:
                    return total

    total = run(seal_all())
    if as_json:
        emit_json({"sealed": total})
    else:
        out.print(f"sealed {total} record(s)")
