"""The keyring: its file format, sealing, signing, keyed hashes and the key file on disk."""

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pinpay.errors import KeysMissing
from pinpay.kit.crypto import Keyring, KeyringError, SealBroken, load_keyring, write_keyring

RING = Keyring.generate().rotated()  # two keys for every purpose, as after one rotation


def test_keyring_survives_a_json_round_trip() -> None:
    again = Keyring.from_json(RING.to_json())
    assert again.keys == RING.keys
    pin = "4929123456781234"
    assert again.pin_lookup(pin) == RING.pin_lookup(pin)
    assert again.pin_lookup_candidates(pin) == RING.pin_lookup_candidates(pin)
    kid, sealed = RING.seal(b"secret", b"aad")
    assert again.open(kid, sealed, b"aad") == b"secret"
    kid, signature = RING.sign(b"message")
    assert again.verify(kid, b"message", signature)


def _ring_json(**changes: object) -> str:
    raw = json.loads(RING.to_json())
    raw.update(changes)
    return json.dumps(raw)


SHORT_KEY = base64.b64encode(b"k" * 16).decode()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "null",
        "[]",
        "{}",
        _ring_json(pepper=[]),
        _ring_json(seal="abc"),
        _ring_json(sign=[{"key": SHORT_KEY}]),
        _ring_json(sign=[{"kid": "sign-1"}]),
        _ring_json(pepper=[{"kid": "pepper-1", "key": SHORT_KEY}]),
        _ring_json(seal=[{"kid": "seal-1", "key": "%%% not base64 %%%"}]),
        json.dumps({k: v for k, v in json.loads(RING.to_json()).items() if k != "sign"}),
    ],
)
def test_a_malformed_keyring_is_a_keyring_error_that_leaks_no_key(text: str) -> None:
    with pytest.raises(KeyringError) as refused:
        Keyring.from_json(text)
    secrets_in_ring = [
        base64.b64encode(k.secret).decode() for ring in RING.keys.values() for k in ring
    ]
    assert not any(secret in refused.value.message for secret in secrets_in_ring)
    assert refused.value.code == "keyring_error"


def test_the_newest_key_writes_and_every_key_reads() -> None:
    old = Keyring({p: ring[:1] for p, ring in RING.keys.items()})
    old_kid, old_sealed = old.seal(b"pin", b"serial-1")
    sign_kid, signature = old.sign(b"row")
    new_kid, _ = RING.seal(b"pin", b"serial-1")
    assert (old_kid, new_kid) == (RING.kids("seal")[0], RING.newest("seal").kid)
    assert RING.open(old_kid, old_sealed, b"serial-1") == b"pin"
    assert RING.verify(sign_kid, b"row", signature)
    assert RING.sign(b"row")[0] == RING.newest("sign").kid
    assert RING.pin_lookup("1")[0] == RING.newest("pepper").kid
    assert RING.pin_lookup_candidates("1")[0] == RING.pin_lookup("1")[1]  # newest first
    assert old.pin_lookup("1") in [
        (k, d)
        for k, d in zip(reversed(RING.kids("pepper")), RING.pin_lookup_candidates("1"), strict=True)
    ]


def test_sealed_data_opens_only_with_its_aad_key_and_bytes() -> None:
    kid, sealed = RING.seal(b"4929123456781234", b"1000000000000001")
    assert RING.open(kid, sealed, b"1000000000000001") == b"4929123456781234"
    with pytest.raises(SealBroken):
        RING.open(kid, sealed, b"1000000000000002")  # moved to another row
    other_kid = RING.kids("seal")[0]
    with pytest.raises(SealBroken):
        RING.open(other_kid, sealed, b"1000000000000001")
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealBroken):
        RING.open(kid, flipped, b"1000000000000001")
    with pytest.raises(KeyringError):
        RING.open("seal-unknown", sealed, b"1000000000000001")
    # A fresh nonce every time: the same PIN never seals to the same bytes.
    assert RING.seal(b"same", b"aad")[1] != RING.seal(b"same", b"aad")[1]


@given(plaintext=st.binary(max_size=256), aad=st.binary(max_size=64), extra=st.binary(min_size=1))
def test_seal_round_trip_and_any_other_aad_fails(
    plaintext: bytes, aad: bytes, extra: bytes
) -> None:
    kid, sealed = RING.seal(plaintext, aad)
    assert RING.open(kid, sealed, aad) == plaintext
    with pytest.raises(SealBroken):
        RING.open(kid, sealed, aad + extra)


@given(
    message=st.binary(min_size=1, max_size=256),
    position=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_a_signature_fails_on_any_altered_message(message: bytes, position: int, bit: int) -> None:
    kid, signature = RING.sign(message)
    assert RING.verify(kid, message, signature)
    index = position % len(message)
    altered = message[:index] + bytes([message[index] ^ (1 << bit)]) + message[index + 1 :]
    assert not RING.verify(kid, altered, signature)
    assert not RING.verify(kid, message + b"x", signature)


def test_a_signature_fails_with_another_key_or_altered_bytes() -> None:
    kid, signature = RING.sign(b"row")
    assert not RING.verify(RING.kids("sign")[0], b"row", signature)
    assert not RING.verify("sign-unknown", b"row", signature)
    assert not RING.verify(kid, b"row", bytes([signature[0] ^ 1]) + signature[1:])
    assert not Keyring.generate().verify(kid, b"row", signature)


def test_keyed_hash_depends_on_the_key() -> None:
    fresh = Keyring.generate()
    assert fresh.pin_lookup("4929123456781234") != RING.pin_lookup("4929123456781234")
    kid = RING.kids("pepper")[0]
    assert RING.keyed_hash("x", kid) == (kid, RING.pin_lookup_candidates("x")[-1])
    assert RING.keyed_hash("x") == RING.pin_lookup("x")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_keyring_creates_mode_0600_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "pinpay.keys"
    write_keyring(path, RING)
    assert _mode(path) == 0o600
    assert load_keyring(path).keys == RING.keys
    before = path.read_bytes()
    with pytest.raises(KeyringError):
        write_keyring(path, Keyring.generate())
    assert path.read_bytes() == before
    rotated = RING.rotated()
    write_keyring(path, rotated, overwrite=True)
    assert _mode(path) == 0o600
    assert load_keyring(path).keys == rotated.keys
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pinpay.keys"]  # no temp file left


def test_write_keyring_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        write_keyring(tmp_path / "k", RING)
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "k") == 0o600


def test_load_keyring_prefers_inline_json_and_reports_a_missing_file(tmp_path: Path) -> None:
    assert load_keyring(tmp_path / "absent", RING.to_json()).keys == RING.keys
    with pytest.raises(KeysMissing):
        load_keyring(tmp_path / "absent")
