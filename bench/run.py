"""PinPay's benchmark, in one command: `make bench` (or `BENCH_SECONDS=60 make bench`).

A fresh PostgreSQL database, keys in a temporary directory, a merchant and 100,000 vouchers
issued by the real CLI; pgbench's TPC-B on the same PostgreSQL as the yardstick; `pinpay serve`
with two workers; then PIN assignments and complete payments from 32 light asyncio clients, and
the lockout guard's cost measured in-process. Figures go to bench/results/latest.json and .png,
and into bench/README.md's table. See bench/README.md for what each figure means.
"""

import argparse
import asyncio
import contextlib
import csv
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop
from cpu import CpuMeter, CpuSplit
from environment import Postgres, commit, free_port, machine, pinpay, run_command, serving
from loadgen import (
    Client,
    ClientFactory,
    PhaseResult,
    PinPool,
    assign_operation,
    create_payments,
    health_operation,
    payment_operation,
    percentile,
    run_phase,
    say,
)
from report import contention, print_report, update_readme, verdicts

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
FACE_VALUE = "25.00"
PASSES = 2  # a 25.00 voucher covers two payments of 10.00 (loadgen.payment_body)
ISSUE_BATCH = 100_000
LIGHT_CLIENTS = 2  # the light-load assignment phase: nothing queues
# What the server is told regardless of the caller's environment.
FORCED_SETTINGS = ("DATABASE_URL", "KEYS_FILE", "KEYS_JSON", "LOG_LEVEL", "PIN_REFUSAL_FLOOR_MS")


def summary(result: PhaseResult) -> dict[str, Any]:
    data: dict[str, Any] = {
        "clients": result.clients,
        "seconds": round(result.seconds, 2),
        "ok": result.ok,
        "errors": result.errors,
        "per_s": round(result.per_second, 1),
        "p50_ms": round(percentile(result.latencies_ms, 50), 2),
        "p95_ms": round(percentile(result.latencies_ms, 95), 2),
        "p99_ms": round(percentile(result.latencies_ms, 99), 2),
        "max_ms": round(max(result.latencies_ms, default=0.0), 2),
        "ran_out_early": result.exhausted,
    }
    for step, values in sorted(result.steps_ms.items()):
        data[f"{step}_p50_ms"] = round(percentile(values, 50), 2)
        data[f"{step}_p99_ms"] = round(percentile(values, 99), 2)
    if result.error_samples:
        data["error_samples"] = result.error_samples
    return data


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Context:
    args: argparse.Namespace
    pg: Postgres
    db: str
    env: dict[str, str]
    tmp: Path
    pool: PinPool
    batches: int = 0

    async def issue(
        self, count: int, meter: CpuMeter | None = None
    ) -> tuple[float, CpuSplit | None]:
        """`pinpay vouchers issue`; the PINs join the pool. Wall seconds and CPU split."""
        self.batches += 1
        out_file = self.tmp / f"pins-{self.batches}.csv"
        args = ["vouchers", "issue", "--count", str(count), "--value", FACE_VALUE]
        args += ["--currency", "EUR", "--out", str(out_file), "--json"]
        _out, wall, split = await run_command(pinpay(*args), self.env, meter)
        with out_file.open(newline="") as handle:
            self.pool.add([row["pin"] for row in csv.DictReader(handle)])
        out_file.unlink()
        return wall, split

    def settle(self) -> None:
        """VACUUM (ANALYZE) the benchmark database before a measured phase, untimed: rows just
        bulk-loaded (100,000 vouchers, thousands of payments) have no planner statistics and
        unset hint bits, and autovacuum would otherwise do that work in the middle of a phase
        (seen here: PostgreSQL's CPU per assignment tripled in one run). A database in service
        is analyzed and vacuumed; `pgbench -i` vacuums its tables too."""
        say("VACUUM (ANALYZE) before the phase (untimed)")
        self.pg.sql("VACUUM (ANALYZE)", self.db)

    async def ensure_pins(self, needed: int) -> None:
        """Issue more vouchers (untimed) if fewer than `needed` payments' worth are left."""
        if self.pool.left() < needed:
            more = max(20_000, (needed - self.pool.left()) // PASSES + 1)
            say(f"issuing {more:,} more vouchers (untimed)")
            await self.issue(more)


def pin_iter(pool: PinPool) -> Iterator[str]:
    while True:
        yield pool.take()


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    seconds = args.seconds
    pg = Postgres.from_url(args.admin_url)
    run_id = f"pinpay_bench_{os.getpid()}_{secrets.token_hex(3)}"
    db, pgbench_db = run_id, f"{run_id}_pgbench"
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    results: dict[str, Any] = {
        "started_at": started_at,
        "command": args.command_line,
        "bench_seconds": seconds,
        "commit": commit(),
        "machine": machine(pg),
    }
    say(f"commit {results['commit']}, {seconds} s per phase, database {db}")
    tmp = Path(tempfile.mkdtemp(prefix="pinpay-bench-"))
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("PINPAY_") and k.removeprefix("PINPAY_") in FORCED_SETTINGS)
    }
    env.update(
        PINPAY_DATABASE_URL=pg.url(db),
        PINPAY_KEYS_FILE=str(tmp / "pinpay.keys"),
        PINPAY_LOG_LEVEL="WARNING",
        PINPAY_PIN_REFUSAL_FLOOR_MS="0",
    )
    results["server"] = {
        "workers": args.workers,
        "settings": {
            k: re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", v)
            for k, v in sorted(env.items())
            if k.startswith("PINPAY_")
        },
    }
    created: list[str] = []
    try:
        pg.create(db)
        created.append(db)
        await run_command(pinpay("keys", "init"), env)
        await run_command(pinpay("migrate"), env)
        out, _, _ = await run_command(
            pinpay("merchants", "create", "--name", "Bench", "--json"), env
        )
        api_key = json.loads(out)["api_key"]

        # Issuance through the real CLI (process start and the CSV file included).
        ctx = Context(args, pg, db, env, tmp, PinPool(PASSES))
        batch = args.issue_batch
        say(f"issuing {batch:,} vouchers with `pinpay vouchers issue`")
        wall, split = await ctx.issue(batch, CpuMeter([db]))
        results["issue_per_s"] = round(batch / wall, 1)
        results["issue"] = {"count": batch, "seconds": round(wall, 2)}
        cpu: dict[str, Any] = {"issue": split.as_dict() if split else None}
        say(f"issued {batch:,} in {wall:.1f} s: {results['issue_per_s']:,.0f}/s")

        # pgbench TPC-B on the same server, its own database.
        pg.create(pgbench_db)
        created.append(pgbench_db)
        say("pgbench -i -s 10")
        await run_command(["pgbench", "-i", "-s", "10", "-q", pgbench_db], pg.env())
        say(f"pgbench TPC-B, 16 clients, {seconds} s")
        pgb_args = ["pgbench", "-c", "16", "-j", "2", "-T", str(seconds), pgbench_db]
        out, _, split = await run_command(pgb_args, pg.env(), CpuMeter([pgbench_db]))
        tps = re.search(r"^tps = ([\d.]+)", out, re.MULTILINE)
        latency = re.search(r"^latency average = ([\d.]+) ms", out, re.MULTILINE)
        if not tps:
            raise RuntimeError(f"no tps in pgbench's output:\n{out}")
        pgbench_tps = float(tps.group(1))
        results["pgbench_tps"] = round(pgbench_tps, 1)
        results["pgbench"] = {
            "command": shlex.join(pgb_args[:-1]),
            "scale": 10,
            "latency_avg_ms": float(latency.group(1)) if latency else None,
        }
        cpu["pgbench"] = split.as_dict() if split else None
        pg.drop(pgbench_db)
        created.remove(pgbench_db)
        say(f"pgbench: {pgbench_tps:,.0f} tps")

        # The lockout guard's cost, in-process (before the server starts: a quieter machine).
        from fraudcost import measure

        from pinpay.config import Settings

        say(f"lockout guard cost: {args.fraud_pairs} guarded + {args.fraud_pairs} bare")
        await ctx.ensure_pins(2 * args.fraud_pairs + 100)
        fraud = await measure(
            Settings(database_url=pg.url(db), keys_file=tmp / "pinpay.keys"),
            api_key,
            pin_iter(ctx.pool),
            args.fraud_pairs,
        )
        results["fraud_check_us"] = round(fraud.difference_us, 1)
        results["fraud"] = fraud.as_dict()
        say(
            f"guard adds {fraud.difference_us:.0f} us (direct {fraud.guard_direct_median_us:.0f}"
            f" us, locked query {fraud.locked_query_median_us:.0f} us)"
        )

        # What one call costs the server alone (in-process, one call at a time).
        from statements import measure as measure_calls

        say("SQL round trips and CPU per call, in-process")
        await ctx.ensure_pins(200)
        results["per_call"] = await measure_calls(
            Settings(database_url=pg.url(db), keys_file=tmp / "pinpay.keys", log_level="WARNING"),
            api_key,
            pin_iter(ctx.pool),
        )
        for name, call in results["per_call"]["calls"].items():
            say(
                f"  {name}: {call['round_trips']} round trips ({call['statements']} statements),"
                f" {call['cpu_ms_median']:.2f} ms CPU, {call['wall_ms_median']:.2f} ms"
            )

        # The server and the HTTP phases.
        port = free_port()
        async with serving(env, port, args.workers, tmp / "server.log") as server:
            phases, phase_cpu = await http_phases(ctx, api_key, port, server.pid)
        results.update(phases)
        cpu.update(phase_cpu)
        both = [phase_cpu["assign"], phase_cpu["payments"]]
        results["cpu_seconds"] = {
            k: round(sum(c[k] for c in both), 2)
            for k in (
                "wall",
                "loadgen",
                "server",
                "server_system",
                "postgres",
                "postgres_cluster",
                "machine_busy",
                "other",
            )
        }
        results["cpu_by_phase"] = cpu
        results["contended_phases"] = contention(results)
    finally:
        for name in created:
            with contextlib.suppress(subprocess.CalledProcessError):
                pg.drop(name)
        shutil.rmtree(tmp, ignore_errors=True)
    return results


async def http_phases(
    ctx: Context, api_key: str, port: int, server_pid: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    args, seconds = ctx.args, ctx.args.seconds
    factory = ClientFactory(args.client, "127.0.0.1", port, api_key, args.clients)
    clients: list[Client] = [factory.make() for _ in range(args.clients)]
    meter = CpuMeter([ctx.db], server_pid)
    results: dict[str, Any] = {"loadgen_client": args.client, "clients": args.clients}
    cpu: dict[str, Any] = {}
    try:
        # Warm-up (not counted): connections, the server's caches, and a rate to size the rest.
        made, took = await create_payments(clients, args.clients * 30)
        await ctx.ensure_pins(len(made) + 1000)
        warm = await run_phase("warm-up", clients, 3, assign_operation(deque(made), ctx.pool))
        say(f"warm-up: {len(made) / took:,.0f} creates/s, {warm.per_second:,.0f} assigns/s")

        # PIN assignment on pre-made payments. A 3 s warm-up on a shared machine can guess low;
        # an assignment costs the server about twice a creation, hence the second floor.
        rate = max(warm.per_second, len(made) / took / 2, 50)
        wanted = int(rate * seconds * 1.6) + 10 * args.clients
        await ctx.ensure_pins(wanted + 1000)
        say(f"pre-creating {wanted:,} payments (untimed)")
        made, took = await create_payments(clients, wanted)
        ctx.settle()
        say(f"assign phase: {args.clients} clients, {seconds} s")
        assign, split = await measured(
            meter, clients, "assign", seconds, assign_operation(deque(made), ctx.pool)
        )
        results["assign"] = summary(assign)
        results["assign"]["precreate_per_s"] = round(len(made) / took, 1)
        cpu["assign"] = split.as_dict()
        for key in ("per_s", "p50_ms", "p95_ms", "p99_ms"):
            results[f"assign_{key}"] = results["assign"][key]

        # The same assignment at light load: two clients, so that nothing queues. With 32
        # clients always waiting, latency is 32 / throughput (Little's law); this is the time
        # one assignment takes when the machine is free to serve it.
        light_seconds = min(seconds, 10)
        # Fewer clients can serve faster than 32 (less contention): room for twice the rate.
        wanted = int(max(assign.per_second, 50) * light_seconds * 2) + 100
        await ctx.ensure_pins(wanted + 1000)
        made, _ = await create_payments(clients, wanted)
        ctx.settle()
        light_clients = clients[:LIGHT_CLIENTS]
        say(f"assign at light load: {LIGHT_CLIENTS} clients, {light_seconds} s")
        light, split = await measured(
            meter,
            light_clients,
            "assign_light",
            light_seconds,
            assign_operation(deque(made), ctx.pool),
        )
        results["assign_light"] = summary(light)
        cpu["assign_light"] = split.as_dict()
        for key in ("per_s", "p50_ms", "p99_ms"):
            results[f"assign_light_{key}"] = results["assign_light"][key]

        # Complete payments: create, assign, capture.
        ctx.settle()
        warm = await run_phase("warm-up", clients, 3, payment_operation(ctx.pool))
        await ctx.ensure_pins(int(max(warm.per_second, 50) * seconds * 1.5) + 1000)
        say(f"payments phase: {args.clients} clients, {seconds} s")
        payments, split = await measured(
            meter, clients, "payments", seconds, payment_operation(ctx.pool)
        )
        results["payments"] = summary(payments)
        cpu["payments"] = split.as_dict()
        for key in ("per_s", "p50_ms", "p95_ms", "p99_ms"):
            results[f"payments_{key}"] = results["payments"][key]
        # The floor under every call: the same clients on GET /health (shorter: a reference).
        say(f"health phase: {args.clients} clients, {min(seconds, 10)} s")
        health, split = await measured(
            meter, clients, "health", min(seconds, 10), health_operation()
        )
        results["health"] = summary(health)
        cpu["health"] = split.as_dict()
        results["health_per_s"] = results["health"]["per_s"]
        for phase, split_dict in cpu.items():
            done = results[phase]["ok"] or 1
            split_dict["loadgen_us_per_request"] = round(
                split_dict["loadgen"] / (done * (3 if phase == "payments" else 1)) * 1e6, 1
            )

        if args.profile:
            from profile_server import profile_phases

            results["profile"] = await profile_phases(ctx, clients, server_pid, assign.per_second)
    finally:
        for client in clients:
            await client.close()
        await factory.close()
    return results, cpu


async def measured(
    meter: CpuMeter,
    clients: list[Client],
    name: str,
    seconds: float,
    operation: Any,
) -> tuple[PhaseResult, CpuSplit]:
    meter.start()
    sampler = asyncio.create_task(meter.sampler())
    try:
        result = await run_phase(name, clients, seconds, operation)
    finally:
        sampler.cancel()
    split = meter.stop()
    line = (
        f"{name}: {result.per_second:,.0f}/s, p50 {percentile(result.latencies_ms, 50):.1f} ms,"
        f" p99 {percentile(result.latencies_ms, 99):.1f} ms, {result.errors} errors"
    )
    say(line + (" (ran out of pre-made payments early)" if result.exhausted else ""))
    for sample in result.error_samples:
        say(f"  error: {sample}")
    return result, split


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS") or 20),
        help="length of each measured phase (default: BENCH_SECONDS or 20)",
    )  # fmt: skip
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="pinpay serve --workers")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--fraud-pairs", type=int, default=300)
    parser.add_argument(
        "--issue-batch", type=int, default=ISSUE_BATCH,
        help="vouchers in the timed issuance batch (100,000; smaller only to try the harness)",
    )  # fmt: skip
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL to create the run's databases in (BENCH_ADMIN_URL)",
    )
    parser.add_argument(
        "--profile", type=float, default=float(os.environ.get("BENCH_PROFILE") or 0),
        help="after the measured phases, py-spy each phase this many seconds (BENCH_PROFILE)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.json/png go")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    args.seconds = int(args.seconds) if float(args.seconds).is_integer() else args.seconds
    args.command_line = shlex.join(["python", "bench/run.py", *argv])
    if os.environ.get("BENCH_SECONDS"):
        args.command_line = f"BENCH_SECONDS={os.environ['BENCH_SECONDS']} {args.command_line}"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)  # profiles are written there during the run
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        results = runner.run(bench(args))
    (args.out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print_report(results)
    from chart import draw

    draw(results, args.out / "latest.png")
    if args.out == RESULTS:
        update_readme(BENCH / "README.md", results)
    print(f"\nwrote {args.out / 'latest.json'}, {args.out / 'latest.png'}")
    missed = [label for label, met, _ in verdicts(results) if not met]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
