"""`pinpay keys reseal`: re-encrypt every sealed value under the newest seal key, online.

Batches of `batch` rows, each in its own short transaction, walked in primary-key order; a row
is rewritten only if its seal key id is still the one read (compare and set), so a concurrent
writer is never overwritten and nothing is locked but the rows of the batch. Rows already under
the newest key are skipped, so the command can be stopped and run again at any time.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.customers.models import CustomerAccount
from pinpay.kit.crypto import Keyring
from pinpay.merchants.models import Merchant, WebhookSecret
from pinpay.runtime import Runtime
from pinpay.vouchers.models import Voucher

CUSTOMER_FIELDS = ("email", "first_name", "last_name", "birth_date")


@dataclass(frozen=True)
class Target:
    """One table's sealed columns and the associated data each was sealed with."""

    name: str
    table: Table
    columns: tuple[str, ...]
    # (row, column name) -> the AAD bytes; the row is the selected mapping.
    aad: Callable[[dict[str, object], str], bytes]
    # Extra columns the AAD needs, selected alongside.
    context: tuple[ColumnElement[Any], ...] = ()


def _customer_aad(row: dict[str, object], column: str) -> bytes:
    return f"customer|{row['psc_id']}|{column.removesuffix('_sealed')}".encode()


TARGETS = (
    Target(
        "voucher.pin_sealed",
        Voucher.__table__,  # type: ignore[arg-type]
        ("pin_sealed",),
        lambda row, _c: str(row["serial"]).encode(),
        (Voucher.__table__.c.serial,),
    ),
    Target(
        "customer_account",
        CustomerAccount.__table__,  # type: ignore[arg-type]
        tuple(f"{f}_sealed" for f in CUSTOMER_FIELDS),
        _customer_aad,
        (CustomerAccount.__table__.c.psc_id,),
    ),
    Target(
        "merchant_webhook_secret",
        WebhookSecret.__table__,  # type: ignore[arg-type]
        ("sealed",),
        lambda row, _c: f"webhook:{row['mid']}".encode(),
    ),
)


async def reseal_batch(
    session: AsyncSession, keyring: Keyring, target: Target, after_id: int, batch: int
) -> tuple[int, int | None]:
    """Reseal up to `batch` rows with id > after_id; (rows rewritten, last id seen or None)."""
    newest = keyring.newest("seal").kid
    table = target.table
    columns = [table.c.id, table.c.seal_kid, *(table.c[c] for c in target.columns)]
    query = select(*columns, *target.context)
    if target.table is WebhookSecret.__table__:
        query = query.add_columns(Merchant.mid).join(Merchant, Merchant.id == table.c.merchant_id)
    query = (
        query.where(table.c.id > after_id, table.c.seal_kid.is_not(None))
        .where(table.c.seal_kid != newest)
        .order_by(table.c.id)
        .limit(batch)
        .with_for_update(of=table)
    )
    rows = [dict(row) for row in (await session.execute(query)).mappings()]
    done = 0
    for row in rows:
        old_kid = str(row["seal_kid"])
        values: dict[str, object] = {"seal_kid": newest}
        for column in target.columns:
            sealed = row[column]
            if sealed is None:
                continue
            aad = target.aad(row, column)
            plain = keyring.open(old_kid, bytes(sealed), aad)
            values[column] = keyring.seal(plain, aad)[1]
        result = await session.execute(
            update(table)
            .where(table.c.id == row["id"], table.c.seal_kid == old_kid)
            .values(**values)
        )
        done += result.rowcount  # type: ignore[attr-defined]
    return done, (int(rows[-1]["id"]) if rows else None)


async def reseal_all(runtime: Runtime, batch: int = 1000) -> dict[str, int]:
    """Every sealed table, batch by batch, one transaction per batch."""
    counts: dict[str, int] = {}
    for target in TARGETS:
        counts[target.name], after = 0, 0
        while True:
            async with runtime.transaction() as session:
                done, last = await reseal_batch(session, runtime.keyring, target, after, batch)
            counts[target.name] += done
            if last is None:
                break
            after = last
    return counts
