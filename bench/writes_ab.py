"""Backend CPU of one assignment and one capture on two schemas at once, interleaved.

    .venv/bin/python bench/writes_ab.py --baseline 0010     # what migration 0011 changed

Two databases set up alike (`bench/writes.py`'s setup): one migrated to the newest revision,
the other only to `--baseline`. The same code drives both, in process, one call at a time:
payments of 10.00, then of 25.00 (used up at capture); their assignments, then their captures,
in windows of `--window` operations taken in turn (AB, BA, AB, ...), each window's backend CPU
read from /proc. Other work on the machine comes and goes; taken in turn, both schemas meet it
alike, so the medians and the paired differences compare the schemas, not the moments.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from environment import Postgres, commit
from writes import Api, app_backends, backend_cpu, setup
from writes_report import say

from pinpay.app import create_app
from pinpay.config import Settings

Operation = Callable[[int], Awaitable[None]]


class Side:
    """One database, its app and its PINs."""

    def __init__(self, name: str, pg: Postgres, db: str, tmp: Path) -> None:
        self.name, self.pg, self.db, self.tmp = name, pg, db, tmp
        self.pins: list[str] = []
        self.api: Api | None = None
        self.app: Any = None

    async def start(self, api_key: str, stack: contextlib.AsyncExitStack) -> None:
        settings = Settings(
            database_url=self.pg.url(self.db), keys_file=self.tmp / "pinpay.keys",
            log_level="WARNING", pin_refusal_floor_ms=0,
        )  # fmt: skip
        self.app = create_app(settings)
        stack.push_async_callback(self.app.state.runtime.close)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://ab", auth=(api_key, "")
        )
        self.api = Api(await stack.enter_async_context(client))

    async def operations(self, amount: str, count: int, offset: int) -> dict[str, Operation]:
        api = self.api
        assert api is not None
        ids = [await api.create(amount) for _ in range(count)]
        pins = self.pins[offset : offset + count]

        async def assign(i: int) -> None:
            await api.post(f"/v1/payments/{ids[i]}/cards", {"pins": [pins[i]]}, 200)

        async def capture(i: int) -> None:
            await api.post(f"/v1/payments/{ids[i]}/capture", {}, 200)

        return {"assign": assign, "capture": capture}


async def interleaved(
    sides: list[Side], operations: list[Operation], warm: int, ops: int, window: int
) -> dict[str, list[float]]:
    """Per side, the backend CPU per operation (ms) of each window."""
    for operation in operations:
        for i in range(warm):
            await operation(i)
    pids = [await app_backends(side.app.state.runtime.engine) for side in sides]
    per_window: dict[str, list[float]] = {side.name: [] for side in sides}
    for k, first in enumerate(range(warm, warm + ops, window)):
        order = [0, 1] if k % 2 == 0 else [1, 0]
        for n in order:
            before = backend_cpu(pids[n])
            for i in range(first, min(first + window, warm + ops)):
                await operations[n](i)
            per_window[sides[n].name].append((backend_cpu(pids[n]) - before) * 1000 / window)
    return per_window


async def run(args: argparse.Namespace, pg: Postgres, sides: list[Side]) -> list[Any]:
    per_round = args.warm + args.ops
    results = []
    async with contextlib.AsyncExitStack() as stack:
        for side in sides:
            revision = args.baseline if side.name == "baseline" else None
            api_key, side.pins = await setup(pg, side.db, side.tmp, 2 * per_round, revision)
            random.Random(args.seed).shuffle(side.pins)
            version = pg.sql("SELECT version_num FROM alembic_version", side.db)
            say(f"{side.name}: database {side.db} at revision {version}")
            await side.start(api_key, stack)
        for number, amount in enumerate(("10.00", "25.00")):
            made = [await side.operations(amount, per_round, number * per_round) for side in sides]
            for phase in ("assign", "capture"):
                operations = [each[phase] for each in made]
                windows = await interleaved(sides, operations, args.warm, args.ops, args.window)
                base, head = windows["baseline"], windows["head"]
                result = {
                    "phase": f"{phase} {amount} of a 25.00 voucher",
                    "windows": windows,
                    "median_ms": {name: statistics.median(v) for name, v in windows.items()},
                    "mean_ms": {name: statistics.fmean(v) for name, v in windows.items()},
                    "median_paired_difference_ms": statistics.median(
                        h - b for b, h in zip(base, head, strict=True)
                    ),
                }
                results.append(result)
                medians, means = result["median_ms"], result["mean_ms"]
                say(
                    f"{result['phase']}: backend CPU ms/op, median of {len(base)} windows of"
                    f" {args.window}: baseline {medians['baseline']:.2f}, head"
                    f" {medians['head']:.2f}; means {means['baseline']:.2f}, {means['head']:.2f};"
                    f" median paired difference {result['median_paired_difference_ms']:+.2f}"
                    f" (load average {os.getloadavg()[0]:.2f})"
                )
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="the Alembic revision to compare with")
    parser.add_argument("--ops", type=int, default=1000, help="measured operations per phase")
    parser.add_argument("--warm", type=int, default=50, help="unmeasured operations before")
    parser.add_argument("--window", type=int, default=100, help="operations per turn")
    parser.add_argument("--seed", type=int, default=1, help="the PINs' shuffle")
    parser.add_argument("--db-prefix", default="pinpay_writes_ab", help="the scratch databases'")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    pg = Postgres.from_url(args.admin_url)
    stem = f"{args.db_prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    sides = [
        Side(name, pg, f"{stem}_{name}", Path(tempfile.mkdtemp(prefix=f"pinpay-ab-{name}-")))
        for name in ("baseline", "head")
    ]
    say(f"commit {commit()}, baseline revision {args.baseline}, databases {stem}_*")
    try:
        for side in sides:
            pg.create(side.db)
        results = await run(args, pg, sides)
    finally:
        for side in sides:
            with contextlib.suppress(Exception):
                pg.drop(side.db)
            shutil.rmtree(side.tmp, ignore_errors=True)
    if args.json:
        record = {"commit": commit(), "baseline": args.baseline, "phases": results}
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
