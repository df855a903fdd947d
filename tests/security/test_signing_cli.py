"""`pinpay merchants add-signing-key` and `--require-signatures` as an operator runs them."""

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.cli_support import Pinpay
from tests.security.helpers import public_pem


def test_register_keys_then_require_signatures(pinpay: Pinpay, tmp_path: Path) -> None:
    mid = json.loads(pinpay("merchants create --name Acme --json").output)["mid"]
    refused = pinpay(f"merchants update {mid} --require-signatures")
    assert refused.exit_code == 1 and "add-signing-key" in refused.output

    for key_id, private_key, algorithm in (
        ("ed-1", Ed25519PrivateKey.generate(), "ed25519"),
        ("p256-1", ec.generate_private_key(ec.SECP256R1()), "ecdsa-p256-sha256"),
    ):
        pem = tmp_path / f"{key_id}.pem"
        pem.write_bytes(public_pem(private_key))
        added = pinpay(
            f"merchants add-signing-key {mid} --key-id {key_id} --public-key {pem} --json"
        )
        assert added.exit_code == 0, added.output
        assert json.loads(added.output) == {"mid": mid, "key_id": key_id, "algorithm": algorithm}

    again = pinpay(f"merchants add-signing-key {mid} --key-id ed-1 --public-key {pem}")
    assert again.exit_code == 1
    rsa_pem = tmp_path / "rsa.pem"
    rsa_pem.write_bytes(public_pem(rsa.generate_private_key(65537, 2048)))  # type: ignore[arg-type]
    assert (
        pinpay(f"merchants add-signing-key {mid} --key-id r --public-key {rsa_pem}").exit_code == 1
    )

    on = pinpay(f"merchants update {mid} --require-signatures --json")
    assert on.exit_code == 0, on.output
    assert json.loads(on.output)["require_signatures"] is True
    off = pinpay(f"merchants update {mid} --no-require-signatures --json")
    assert json.loads(off.output)["require_signatures"] is False
