"""What one API call costs the server alone: SQL round trips and CPU, measured in-process.

The real application (`create_app`) is called through httpx's ASGI transport, one call at a
time, on the benchmark database. Statements come two ways: through SQLAlchemy (counted by its
`before_cursor_execute` event) and straight to asyncpg (pinpay.fastsql, and asyncpg's own
BEGIN and COMMIT), counted by a query logger on every pooled asyncpg connection. With
`pool_pre_ping` every checkout would also cost a BEGIN, a `;` and a ROLLBACK, counted too. CPU
is this process's time per call: no network, no load generator, no queueing, just the Python
and driver work of one request.
"""

import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import event

from pinpay.app import create_app
from pinpay.config import Settings


@dataclass
class Counts:
    statements: list[str] = field(default_factory=list)
    begins: int = 0
    commits: int = 0
    checkouts: int = 0

    def reset(self) -> None:
        self.statements.clear()
        self.begins = self.commits = self.checkouts = 0


def _first_words(sql: str, n: int = 6) -> str:
    return " ".join(sql.split()[:n])


async def measure(
    settings: Settings, api_key: str, pins: Iterator[str], rounds: int = 60
) -> dict[str, Any]:
    app = create_app(settings)
    runtime = app.state.runtime
    engine = runtime.engine.sync_engine
    pre_ping = bool(getattr(engine.pool, "_pre_ping", False))
    counts = Counts()

    def on_statement(*args: Any) -> None:
        counts.statements.append(args[2])

    def on_driver_query(record: Any) -> None:
        query = record.query.strip().rstrip(";").upper()
        if query.startswith("BEGIN"):
            counts.begins += 1
        elif query in ("COMMIT", "ROLLBACK"):
            counts.commits += 1
        else:
            counts.statements.append(record.query)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's asyncpg adapter holds the asyncpg connection; its own prepared
        # statements are not logged (they are counted above), fastsql's and BEGIN/COMMIT are.
        dbapi_connection._connection.add_query_logger(on_driver_query)

    def on_checkout(*_: Any) -> None:
        counts.checkouts += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "connect", on_connect)
    event.listen(engine.pool, "checkout", on_checkout)

    body = {
        "type": "PAYSAFECARD",
        "amount": "10.00",
        "currency": "EUR",
        "redirect": {"success_url": "https://s.example/ok", "failure_url": "https://s.example/ko"},
        "customer": {"id": "bench-sql"},
    }
    per_call: dict[str, dict[str, list[float]]] = {}
    shape: dict[str, dict[str, Any]] = {}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            auth=(api_key, ""),
        ) as client:

            async def call(name: str, path: str, payload: dict[str, Any], want: int) -> Any:
                counts.reset()
                cpu0, t0 = time.process_time(), time.perf_counter()
                response = await client.post(path, json=payload)
                wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                if response.status_code != want:
                    raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
                stats = per_call.setdefault(name, {"wall_ms": [], "cpu_ms": []})
                stats["wall_ms"].append(wall * 1000)
                stats["cpu_ms"].append(cpu * 1000)
                trips = len(counts.statements) + counts.begins + counts.commits
                trips += 3 * counts.checkouts if pre_ping else 0
                shape[name] = {
                    "statements": len(counts.statements),
                    "transactions": counts.begins,
                    "checkouts": counts.checkouts,
                    "round_trips": trips,
                    "sql": [_first_words(s) for s in counts.statements],
                }
                return response.json()

            for i in range(rounds + 5):
                if i == 5:  # the first few warm caches; not counted
                    per_call.clear()
                created = await call("create", "/v1/payments", body, 201)
                pid = created["id"]
                await call("assign", f"/v1/payments/{pid}/cards", {"pins": [next(pins)]}, 200)
                await call("capture", f"/v1/payments/{pid}/capture", {}, 200)
    finally:
        await runtime.close()
    return {
        "pool_pre_ping": pre_ping,
        "calls": {
            name: {
                "wall_ms_median": round(statistics.median(stats["wall_ms"]), 2),
                "cpu_ms_median": round(statistics.median(stats["cpu_ms"]), 2),
                **shape[name],
            }
            for name, stats in per_call.items()
        },
    }
