"""Reading back what a stretch of WAL holds, with pg_walinspect (PostgreSQL 15+): the records
of one database, per relation, with full-page images and B-tree leaf insertions counted."""

import re
from collections import Counter, defaultdict
from typing import Any

LEAF_INSERTS = {"INSERT_LEAF", "INSERT_POST"}
BLOCK = re.compile(r"rel \d+/(\d+)/(\d+) fork (\w+) blk (\d+)( \(FPW\))?")
DB_OID = "SELECT oid FROM pg_database WHERE datname = current_database()"


async def wal_records(admin: Any, start: str, end: str) -> list[Any]:
    return list(
        await admin.fetch(
            "SELECT xid::text::bigint AS xid, resource_manager, record_type, record_length,"
            " fpi_length, description, block_ref"
            " FROM pg_get_wal_records_info($1::text::pg_lsn, $2::text::pg_lsn)",
            start,
            end,
        )
    )


async def wal_by_relation(admin: Any, records: list[Any]) -> dict[str, Any]:
    """This database's WAL records, per relation (a record goes to its first block's)."""
    db_oid = str(await admin.fetchval(DB_OID))
    names = {
        str(row[0]): row[1]
        for row in await admin.fetch("SELECT pg_relation_filenode(oid), relname FROM pg_class")
        if row[0] is not None
    }
    ours = {
        r["xid"]
        for r in records
        if r["xid"] and any(m[0] == db_oid for m in BLOCK.findall(r["block_ref"] or ""))
    }
    per: dict[str, Counter[str]] = defaultdict(Counter)
    imaged: set[tuple[str, ...]] = set()
    for r in records:
        blocks = BLOCK.findall(r["block_ref"] or "")
        if blocks and blocks[0][0] == db_oid:
            _, node, fork, _, _ = blocks[0]
            name = names.get(node, f"filenode {node}") + ("" if fork == "main" else f" ({fork})")
        elif not blocks and r["xid"] in ours:
            name = "(transaction)"
        else:
            continue
        count = per[name]
        count["records"] += 1
        # A second image of a page means another checkpoint began in the window (timed, or
        # forced by someone else): left out of the figures, which assume one cycle, and shown.
        images = [m[:4] for m in blocks if m[4]]
        repeated = sum(1 for image in images if image in imaged)
        imaged.update(images)
        repeated_bytes = r["fpi_length"] * repeated // len(images) if images else 0
        count["bytes"] += r["record_length"] - repeated_bytes
        count["fpi_bytes"] += r["fpi_length"] - repeated_bytes
        count["fpi"] += len(images) - repeated
        count["repeated_fpi"] += repeated
        count["repeated_fpi_bytes"] += repeated_bytes
        kind = r["record_type"]
        if r["resource_manager"] == "Btree" and (
            kind in LEAF_INSERTS or (kind.startswith("SPLIT") and "level 0" in r["description"])
        ):
            count["index_inserts"] += 1
        if r["resource_manager"] == "Heap":
            count[f"heap {kind}"] += 1
            if kind.startswith("UPDATE") and len({m[3] for m in blocks}) > 1:
                count["heap rows moved to another page"] += 1
    return per
