"""`pinpay merchants create-client / revoke-client`, `--no-basic-auth`, and the token key of a
keyring made before token keys existed."""

import json
from pathlib import Path

from pinpay.config import Settings
from pinpay.kit.crypto import PURPOSES, Keyring, load_keyring, write_keyring
from tests.cli_support import Pinpay, cli


def _mid(pinpay: Pinpay) -> str:
    return str(json.loads(pinpay("merchants create --name Acme --json").output)["mid"])


def test_create_and_revoke_a_client(pinpay: Pinpay) -> None:
    mid = _mid(pinpay)
    created = pinpay(
        f"merchants create-client {mid} --scope payments:write --scope payments:read --json"
    )
    assert created.exit_code == 0, created.output
    client = json.loads(created.stdout)
    assert client["mid"] == mid and client["scopes"] == ["payments:read", "payments:write"]
    assert client["client_id"].startswith("ppc_") and client["client_secret"].startswith("ppcs_")
    assert len(client["client_secret"]) >= 5 + 43  # 256 random bits

    revoked = pinpay(f"merchants revoke-client {client['client_id']} --json")
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.stdout) == {
        "mid": mid,
        "client_id": client["client_id"],
        "revoked": True,
    }
    assert pinpay(f"merchants revoke-client {client['client_id']}").exit_code == 0  # idempotent
    assert pinpay("merchants revoke-client ppc_nobody").exit_code == 1


def test_create_client_refusals(pinpay: Pinpay) -> None:
    mid = _mid(pinpay)
    assert pinpay(f"merchants create-client {mid} --scope admin").exit_code == 1
    assert pinpay(f"merchants create-client {mid}").exit_code == 2  # --scope is required
    assert pinpay("merchants create-client 0000000000 --scope refunds").exit_code == 1


def test_basic_auth_switch(pinpay: Pinpay) -> None:
    mid = _mid(pinpay)
    off = pinpay(f"merchants update {mid} --no-basic-auth --json")
    assert off.exit_code == 0, off.output
    assert json.loads(off.stdout)["basic_auth"] is False
    assert json.loads(pinpay(f"merchants update {mid} --basic-auth --json").stdout)["basic_auth"]


def test_an_older_keyring_loads_and_rotate_adds_its_first_token_key(
    db_settings: Settings, tmp_path: Path, keyring: Keyring
) -> None:
    path = tmp_path / "pinpay.keys"
    older = Keyring({p: ring for p, ring in keyring.keys.items() if p != "token"})
    raw = json.loads(older.to_json())
    raw.pop("token", None)
    path.write_text(json.dumps(raw))
    loaded = load_keyring(path)
    assert loaded.kids("token") == [] and loaded.token_signer() is None
    assert loaded.kids("sign") == keyring.kids("sign")

    run = cli({"PINPAY_KEYS_FILE": str(path), "PINPAY_DATABASE_URL": db_settings.database_url})
    mid = json.loads(run("merchants create --name Acme --json").stdout)["mid"]
    warned = run(f"merchants create-client {mid} --scope refunds --json")
    assert warned.exit_code == 0, warned.output
    assert json.loads(warned.stdout)["scopes"] == ["refunds"]
    assert "pinpay keys rotate --purpose token" in warned.stderr

    rotated = run("keys rotate --purpose token --json")
    assert rotated.exit_code == 0, rotated.output
    ring = load_keyring(path)
    assert ring.kids("token") == [json.loads(rotated.stdout)["rotated"]["token"]]
    assert all(ring.kids(p) == keyring.kids(p) for p in PURPOSES if p != "token")
    write_keyring(path, ring.rotated(["token"]), overwrite=True)
    assert len(load_keyring(path).kids("token")) == 2
