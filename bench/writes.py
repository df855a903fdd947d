"""What one PIN assignment and one capture write on PostgreSQL, measured, not estimated.

    .venv/bin/python bench/writes.py                 # 1,000 operations per phase, about 90 s
    .venv/bin/python bench/writes.py --ops 2000 --runs 3 --json after.json
    .venv/bin/python bench/writes.py --compare before.json after.json   # medians, Markdown

A fresh database set up like `bench/run.py` does (`pinpay keys init`, `migrate`, `merchants
create`, `vouchers issue`), then the real application called in-process through httpx's ASGI
transport, one call at a time. Two rounds: payments of 10.00 (a 25.00 voucher keeps 15.00) and
of 25.00 (the capture uses the voucher up: status DEPLETED). Each round creates its payments
(untimed), then measures the assignment of one PIN per payment, then the captures. PINs are
taken in a shuffled, seeded order, as customers bring vouchers in no particular order.

For each phase, after `--warm` unmeasured operations and a CHECKPOINT (so that the first change
of every page writes a full-page image, as at the start of each checkpoint cycle in a steady
state), over `--ops` operations:

- WAL: every record between the LSNs before and after (`pg_current_wal_flush_lsn()`, which
  pg_walinspect needs; each commit flushes), kept by a temporary replication slot and read back
  with `pg_walinspect`, counted when it touches a block of this database or belongs to a
  transaction that does (its COMMIT): other databases on the server are left out. A page's
  second image (another checkpoint began meanwhile) is left out too and shown apart, so that
  the figures are those of one checkpoint cycle. The cluster-wide LSN advance is shown beside.
- Index entries inserted: B-tree leaf insertions in that WAL (INSERT_LEAF, INSERT_POST and
  level-0 splits, which carry the new item), per index.
- Rows inserted and updated, HOT updates, from `pg_stat_user_tables` (the app's backends are
  made to flush their counters first with `pg_stat_force_next_flush()`); from the WAL, updates
  whose new version had to go to another page.
- Backend CPU: utime + stime from /proc/<pid>/stat of the app's connections' backends
  (`pg_backend_pid()`), so this must run on the database's machine; over the whole phase and
  as the median of 100-operation windows (other work on the machine comes in bursts and
  inflates it: the load average is printed with it). It varies by a tenth or more from run to
  run even on a quiet machine: compare medians of several runs.

Whether a page still has room for an update depends on pruning, which removes an old version
only once no snapshot can see it, as far as the backend knows: on a busy server that lags, so
"moved to another page" (and HOT shares short of 100 %) vary a little from run to run.
"""

import argparse
import asyncio
import contextlib
import csv
import itertools
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cpu import read_stat
from environment import Postgres, commit, pinpay, run_command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from wal import wal_by_relation, wal_records
from writes_report import compare, report, say

from pinpay.app import create_app
from pinpay.config import Settings
from pinpay.migrations import upgrade

# pg_walinspect reads flushed WAL only; every committed operation's WAL is flushed.
FLUSHED = "SELECT pg_current_wal_flush_lsn()::text"
SLOT = f"pinpay_writes_{os.getpid()}"
WINDOW = 100  # operations per CPU reading: 10 ms ticks, about 15 per window
TABLES = "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"


async def app_backends(engine: AsyncEngine) -> list[int]:
    """The backend pids behind the pool's idle connections, each told to flush its statistics
    as soon as this transaction ends (they would otherwise wait up to 10 s of idleness)."""
    idle = max(engine.sync_engine.pool.checkedin(), 1)  # type: ignore[attr-defined]
    async with AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(engine.connect()) for _ in range(idle)]
        pids = []
        for connection in connections:
            sql = "SELECT pg_backend_pid(), pg_stat_force_next_flush()"
            pids.append(int((await connection.execute(text(sql))).scalar_one()))
            await connection.commit()
    await asyncio.sleep(0.3)  # the flush happens when each backend goes idle
    return pids


def backend_cpu(pids: list[int]) -> float:
    stats = [read_stat(pid) for pid in pids]
    return sum(stat.cpu for stat in stats if stat is not None)


async def table_counts(admin: Any) -> dict[str, tuple[int, int, int]]:
    await admin.execute("SELECT pg_stat_clear_snapshot()")
    return {row[0]: tuple(row[1:]) for row in await admin.fetch(TABLES)}


async def measure_phase(
    name: str,
    admin: Any,
    engine: AsyncEngine,
    operation: Callable[[int], Awaitable[None]],
    warm: int,
    ops: int,
) -> dict[str, Any]:
    for i in range(warm):
        await operation(i)
    pids = await app_backends(engine)
    tables0 = await table_counts(admin)
    # A checkpoint (anyone's) lets PostgreSQL recycle older WAL: a temporary slot keeps the
    # phase's WAL until it has been read, and goes with this session even if the run dies.
    await admin.execute("SELECT pg_create_physical_replication_slot($1, true, true)", SLOT)
    await admin.execute("CHECKPOINT")
    lsn0 = await admin.fetchval(FLUSHED)
    cpu0 = backend_cpu(pids)
    windows = [cpu0]  # the CPU reading every WINDOW operations
    for i in range(warm, warm + ops):
        await operation(i)
        if (i - warm + 1) % WINDOW == 0:
            windows.append(backend_cpu(pids))
    cpu1 = backend_cpu(pids)
    # Other work on the machine comes in bursts; the median window is the operation's own cost.
    per_window = [(b - a) * 1000 / WINDOW for a, b in itertools.pairwise(windows)]
    lsn1 = await admin.fetchval(FLUSHED)
    records = await wal_records(admin, lsn0, lsn1)
    await admin.execute("SELECT pg_drop_replication_slot($1)", SLOT)
    after = await app_backends(engine)
    if set(after) - set(pids):
        raise RuntimeError(f"{name}: the app opened another connection while measured")
    tables1 = await table_counts(admin)
    cluster = await admin.fetchval("SELECT $1::text::pg_lsn - $2::text::pg_lsn", lsn1, lsn0)
    per = await wal_by_relation(admin, records)
    rows = {}
    for table, (ins1, upd1, hot1) in tables1.items():
        ins0, upd0, hot0 = tables0.get(table, (0, 0, 0))
        if (ins1, upd1) != (ins0, upd0):
            rows[table] = {"inserted": ins1 - ins0, "updated": upd1 - upd0, "hot": hot1 - hot0}
    total = sum((per.values()), Counter())
    updated = sum(row["updated"] for row in rows.values())
    return {
        "phase": name,
        "ops": ops,
        "wal_bytes_per_op": total["bytes"] / ops,
        "wal_fpi_bytes_per_op": total["fpi_bytes"] / ops,
        "wal_fpi_per_op": total["fpi"] / ops,
        "wal_records_per_op": total["records"] / ops,
        "wal_repeated_fpi_bytes_per_op": total["repeated_fpi_bytes"] / ops,
        "cluster_lsn_bytes_per_op": float(cluster) / ops,
        "index_inserts_per_op": total["index_inserts"] / ops,
        "updates_per_op": updated / ops,
        "hot_share": sum(row["hot"] for row in rows.values()) / updated if updated else None,
        "backend_cpu_ms_per_op": (cpu1 - cpu0) * 1000 / ops,
        "backend_cpu_ms_per_op_median_window": statistics.median(per_window or [0.0]),
        "cpu_window_ops": WINDOW,
        "backends": len(pids),
        "loadavg": os.getloadavg()[0],  # other work on the machine inflates CPU per operation
        "rows": rows,
        "wal_by_relation": {k: dict(v) for k, v in sorted(per.items())},
    }


async def setup(
    pg: Postgres, db: str, tmp: Path, vouchers: int, revision: str | None = None
) -> tuple[str, list[str]]:
    """Keys, schema (the newest, or `revision`), a merchant and `vouchers` PINs of 25.00 EUR,
    by the real CLI."""
    env = {**os.environ, "PINPAY_DATABASE_URL": pg.url(db)}
    env["PINPAY_KEYS_FILE"] = str(tmp / "pinpay.keys")
    await run_command(pinpay("keys", "init"), env)
    if revision is None:
        await run_command(pinpay("migrate"), env)
    else:  # Alembic runs its own event loop: in a thread of its own
        await asyncio.to_thread(upgrade, pg.url(db), revision)
    out, _, _ = await run_command(pinpay("merchants", "create", "--name", "W", "--json"), env)
    issue = ["vouchers", "issue", "--count", str(vouchers), "--value", "25.00"]
    await run_command(pinpay(*issue, "--currency", "EUR", "--out", str(tmp / "pins.csv")), env)
    with (tmp / "pins.csv").open(newline="") as handle:
        pins = [row["pin"] for row in csv.DictReader(handle)]
    return json.loads(out)["api_key"], pins


class Api:
    """The real application, in-process, one call at a time."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, path: str, body: dict[str, Any], want: int) -> Any:
        response = await self.client.post(path, json=body)
        if response.status_code != want:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        return response.json()

    async def create(self, amount: str) -> str:
        body = {
            "type": "PAYSAFECARD", "amount": amount, "currency": "EUR",
            "redirect": {"success_url": "https://s.example/ok", "failure_url": "https://s.example/ko"},
            "customer": {"id": "writes"},
        }  # fmt: skip
        return str((await self.post("/v1/payments", body, 201))["id"])


async def one_round(
    api: Api, admin: Any, engine: AsyncEngine, amount: str, pins: list[str], args: Any
) -> list[dict[str, Any]]:
    """Payments of `amount`, one PIN each: the assignments measured, then the captures."""
    ids = [await api.create(amount) for _ in pins]

    async def assign(i: int) -> None:
        await api.post(f"/v1/payments/{ids[i]}/cards", {"pins": [pins[i]]}, 200)

    async def capture(i: int) -> None:
        await api.post(f"/v1/payments/{ids[i]}/capture", {}, 200)

    results = []
    for name, operation in (("assign", assign), ("capture", capture)):
        label = f"{name} {amount} of a 25.00 voucher"
        results.append(await measure_phase(label, admin, engine, operation, args.warm, args.ops))
        report(results[-1])
    return results


async def rounds(args: argparse.Namespace, pg: Postgres, db: str, tmp: Path) -> list[Any]:
    per_round = args.warm + args.ops
    api_key, pins = await setup(pg, db, tmp, max(args.vouchers, 2 * per_round))
    random.Random(args.seed).shuffle(pins)
    settings = Settings(
        database_url=pg.url(db), keys_file=tmp / "pinpay.keys", log_level="WARNING",
        pin_refusal_floor_ms=0,
    )  # fmt: skip
    admin = await asyncpg.connect(pg.url(db).replace("+asyncpg", ""))
    app = create_app(settings)
    results = []
    try:
        await admin.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://writes", auth=(api_key, "")
        ) as client:
            for number, amount in enumerate(("10.00", "25.00")):
                round_pins = pins[number * per_round : (number + 1) * per_round]
                engine = app.state.runtime.engine
                results += await one_round(Api(client), admin, engine, amount, round_pins, args)
    finally:
        await app.state.runtime.close()
        await admin.close()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=1000, help="measured operations per phase")
    parser.add_argument("--warm", type=int, default=50, help="unmeasured operations before")
    parser.add_argument("--vouchers", type=int, default=20_000, help="vouchers issued")
    parser.add_argument("--seed", type=int, default=1, help="the PINs' shuffle")
    parser.add_argument("--runs", type=int, default=1, help="whole runs, each on a new database")
    parser.add_argument("--db-prefix", default="pinpay_writes", help="the scratch database's")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="leave the database for a look")
    parser.add_argument(
        "--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
        help="measure nothing: compare two --json files",
    )  # fmt: skip
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    pg = Postgres.from_url(args.admin_url)
    runs = []
    for _ in range(args.runs):
        db = f"{args.db_prefix}_{os.getpid()}_{secrets.token_hex(3)}"
        tmp = Path(tempfile.mkdtemp(prefix="pinpay-writes-"))
        say(f"commit {commit()}, PostgreSQL {pg.sql('SHOW server_version')}, database {db}")
        settings = {name: pg.sql(f"SHOW {name}") for name in ("autovacuum", "wal_compression")}
        say(", ".join(f"{name} {value}" for name, value in settings.items()))
        pg.create(db)
        try:
            runs.append({"database": db, "phases": await rounds(args, pg, db, tmp)})
        finally:
            if args.keep:
                say(f"kept database {db}")
            else:
                with contextlib.suppress(Exception):
                    pg.drop(db)
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"commit": commit(), "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
