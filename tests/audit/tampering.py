"""What someone with a database shell can do to the audit log: get past the append-only triggers.

On PostgreSQL a superuser switches row triggers (and the foreign keys, also triggers) off for one
transaction; on SQLite anyone who can open the file drops the triggers, and the stdlib driver does
not enforce foreign keys unless asked to.
"""

import sqlite3
from contextlib import closing
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from pinpay.runtime import Runtime

APPEND_ONLY = ("journal_entry", "journal_line", "audit_record", "audit_seal")
Statement = tuple[str, dict[str, Any]]


async def tamper(runtime: Runtime, *statements: str | Statement) -> None:
    """Run raw statements (with `:name` parameters) past the append-only triggers."""
    prepared = [(s, {}) if isinstance(s, str) else s for s in statements]
    url = runtime.engine.url
    if url.get_backend_name() == "postgresql":
        async with runtime.engine.begin() as connection:
            # LOCAL: ends with this transaction, so the pooled connection comes back clean.
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            for sql, params in prepared:
                await connection.execute(text(sql), params)
        return
    path = make_url(url).database
    assert path
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        for table in APPEND_ONLY:
            for verb in ("update", "delete"):
                db.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        for sql, params in prepared:
            db.execute(sql, params)
