"""`pinpay vouchers ...` and `pinpay keys ...` as an operator runs them.

Sync tests: the CLI runs its own event loop with asyncio.run, so checks on the database do too.
"""

import asyncio
import csv
import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pinpay.audit.models import AuditRecord
from pinpay.config import Settings
from pinpay.kit.crypto import Keyring, load_keyring
from pinpay.kit.ids import group_pin
from pinpay.runtime import open_runtime
from pinpay.vouchers import service
from pinpay.vouchers.models import Voucher
from tests.cli_support import Pinpay, cli

pytestmark = pytest.mark.usefixtures("_fresh_settings_and_logging")
ISSUE = "vouchers issue --value 25.00 --currency EUR --country AT --json --count"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _pin_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [dict(zip(header, row, strict=True)) for row in reader]


def _issue(pinpay: Pinpay, out: Path, count: int = 20) -> list[dict[str, str]]:
    result = pinpay(f"{ISSUE} {count} --out", str(out))
    assert result.exit_code == 0, result.output
    return _pin_rows(out)[1]


def _voucher_count(settings: Settings, keyring: Keyring) -> int:
    async def count() -> int:
        async with open_runtime(settings, keyring) as runtime, runtime.transaction() as session:
            return int(await session.scalar(select(func.count()).select_from(Voucher)) or 0)

    return asyncio.run(count())


def test_issue_writes_a_0600_pin_file_of_vouchers_that_exist(
    pinpay: Pinpay, db_settings: Settings, keyring: Keyring, tmp_path: Path
) -> None:
    out = tmp_path / "batch.csv"
    result = pinpay(f"{ISSUE} 20 --out", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {
        "count": 20,
        "value": 25.0,
        "currency": "EUR",
        "country": "AT",
    }.items() <= summary.items()
    assert _mode(out) == 0o600
    header, rows = _pin_rows(out)
    assert header == ["serial", "pin", "value", "currency", "expires"]
    assert len(rows) == 20
    assert all(r["value"] == "25.00" and r["currency"] == "EUR" for r in rows)
    assert all(len(r["pin"]) == 16 and r["pin"].isdigit() for r in rows)
    assert len({r["pin"] for r in rows}) == len({r["serial"] for r in rows}) == 20
    assert all(r["pin"] not in result.output for r in rows)  # PINs go to the file only

    async def check() -> None:
        async with open_runtime(db_settings, keyring) as runtime, runtime.transaction() as s:
            for row in rows:
                v = await service.find_by_pin(s, keyring, row["pin"])
                assert v is not None and v.serial == row["serial"]
                assert (v.face_value, v.remaining, v.country) == (2500, 2500, "AT")
                assert v.expires_at.date().isoformat() == row["expires"]

    asyncio.run(check())


def test_issue_never_overwrites_a_pin_file(
    pinpay: Pinpay, db_settings: Settings, keyring: Keyring, tmp_path: Path
) -> None:
    out = tmp_path / "batch.csv"
    _issue(pinpay, out, count=3)
    before = out.read_bytes()
    result = pinpay("vouchers issue --count 5 --value 25.00 --out", str(out))
    assert result.exit_code == 1
    assert "exists" in result.output
    assert out.read_bytes() == before
    assert _voucher_count(db_settings, keyring) == 3  # refused before a single voucher existed


def test_a_failed_issue_leaves_no_pin_file(keyring: Keyring, tmp_path: Path) -> None:
    empty = tmp_path / "unmigrated.db"  # no tables: the issue fails inside its transaction
    out = tmp_path / "batch.csv"
    run = cli(
        {
            "PINPAY_DATABASE_URL": f"sqlite+aiosqlite:///{empty}",
            "PINPAY_KEYS_JSON": keyring.to_json(),
        }
    )
    result = run("vouchers issue --count 2 --value 5 --out", str(out))
    assert result.exit_code != 0
    assert not out.exists()


def test_show_never_prints_the_pin(pinpay: Pinpay, tmp_path: Path) -> None:
    row = _issue(pinpay, tmp_path / "batch.csv", count=1)[0]
    result = pinpay("vouchers show --json", row["serial"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["serial"] == row["serial"]
    assert {
        "status": "ACTIVE",
        "face_value": 25.0,
        "signature_valid": True,
    }.items() <= shown.items()
    plain = pinpay("vouchers show", row["serial"])
    for output in (result.output, plain.output):
        assert row["pin"] not in output and group_pin(row["pin"]) not in output
    assert pinpay("vouchers show 1234123412341234").exit_code == 1


def test_freeze_unfreeze_void_and_illegal_transitions(
    pinpay: Pinpay, db_settings: Settings, keyring: Keyring, tmp_path: Path
) -> None:
    serial = _issue(pinpay, tmp_path / "batch.csv", count=1)[0]["serial"]

    def status(command: str) -> str:
        result = pinpay(f"vouchers {command} --json", serial)
        assert result.exit_code == 0, result.output
        return str(json.loads(result.stdout)["status"])

    assert status("freeze --reason stolen") == "FROZEN"
    refused = pinpay("vouchers freeze", serial)
    assert refused.exit_code == 1
    assert f"Cannot freeze voucher {serial}: it is FROZEN" in refused.output
    assert status("unfreeze") == "ACTIVE"
    assert status("void") == "VOID"
    for action in ("unfreeze", "freeze", "void"):
        assert pinpay(f"vouchers {action}", serial).exit_code == 1
    shown = json.loads(pinpay("vouchers show --json", serial).stdout)
    assert (shown["status"], shown["remaining"]) == ("VOID", 0.0)

    async def rejections() -> list[str]:
        async with open_runtime(db_settings, keyring) as runtime, runtime.transaction() as s:
            records = await s.scalars(
                select(AuditRecord)
                .where(AuditRecord.serial == serial, AuditRecord.outcome == "rejected")
                .order_by(AuditRecord.id)
            )
            return [f"{r.action}:{r.reason}" for r in records]

    assert asyncio.run(rejections()) == [
        "voucher.freeze:from_frozen",
        "voucher.unfreeze:from_void",
        "voucher.freeze:from_void",
        "voucher.void:from_void",
    ]


def test_keys_init_writes_0600_and_refuses_an_existing_keyring(tmp_path: Path) -> None:
    path = tmp_path / "pinpay.keys"
    run = cli({"PINPAY_KEYS_FILE": str(path)})
    result = run("keys init")
    assert result.exit_code == 0, result.output
    assert _mode(path) == 0o600
    before = path.read_bytes()
    assert all(len(load_keyring(path).kids(p)) == 1 for p in ("pepper", "seal", "sign"))
    again = run("keys init")
    assert again.exit_code == 1 and "exists" in again.output
    assert path.read_bytes() == before


def test_keys_rotate_appends_keys_and_old_vouchers_still_verify(
    db_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "pinpay.keys"
    run = cli({"PINPAY_KEYS_FILE": str(path), "PINPAY_DATABASE_URL": db_settings.database_url})

    assert run("keys rotate").exit_code == 1  # nothing to rotate yet
    assert run("keys init").exit_code == 0
    first = load_keyring(path)
    out = tmp_path / "batch.csv"
    assert run("vouchers issue --count 1 --value 5 --out", str(out)).exit_code == 0
    serial = _pin_rows(out)[1][0]["serial"]

    result = run("keys rotate --json")
    assert result.exit_code == 0, result.output
    rotated = load_keyring(path)
    assert _mode(path) == 0o600
    kids = json.loads(result.stdout)["rotated"]
    for purpose in ("pepper", "seal", "sign"):
        assert rotated.kids(purpose) == [*first.kids(purpose), kids[purpose]]
    only_pepper = run("keys rotate --purpose pepper --json")
    assert list(json.loads(only_pepper.stdout)["rotated"]) == ["pepper"]
    assert len(load_keyring(path).kids("sign")) == 2
    assert run("keys rotate --purpose nonsense").exit_code == 2

    shown = run("vouchers show --json", serial)
    assert json.loads(shown.stdout)["signature_valid"] is True
