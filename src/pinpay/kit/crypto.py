"""The keyring: every secret key PinPay holds, each with a key id, kept outside the database.

Purposes: `pepper` (HMAC-SHA256 for finding a voucher by PIN), `seal` (AES-256-GCM for data that
must be readable again), `sign` (Ed25519 over voucher rows), `token` (Ed25519 over OAuth access
tokens). Rotation appends a key: the newest one is used for new writes, the older ones keep
verifying, opening and finding what they made.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pinpay.errors import KeysMissing, PinPayError

PURPOSES = ("pepper", "seal", "sign", "token")
# Keyrings written before a purpose existed load without its key; `pinpay keys rotate --purpose
# token` adds the first one. Only the feature needing it (OAuth tokens) is off until then.
OPTIONAL_PURPOSES = ("token",)
_NONCE_BYTES = 12


class KeyringError(PinPayError):
    code = "keyring_error"
    number = None


class SealBroken(PinPayError):
    code = "seal_broken"
    number = None
    default_message = "Sealed data could not be opened: wrong key, wrong context or tampered."


@dataclass(frozen=True)
class Key:
    kid: str
    secret: bytes
    created: str


def _new_key(purpose: str) -> Key:
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return Key(
        kid=f"{purpose}-{stamp}-{secrets.token_hex(3)}",
        secret=secrets.token_bytes(32),
        created=datetime.now(UTC).isoformat(),
    )


@dataclass
class Keyring:
    keys: dict[str, list[Key]] = field(default_factory=dict)
    # Made by `pinpay demo`: `pinpay serve` and `pinpay worker` refuse it outside demo mode.
    demo: bool = False
    _signers: dict[str, Ed25519PrivateKey] = field(default_factory=dict, repr=False)
    _aeads: dict[str, AESGCM] = field(default_factory=dict, repr=False)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def generate(cls, *, demo: bool = False) -> "Keyring":
        return cls({purpose: [_new_key(purpose)] for purpose in PURPOSES}, demo=demo)

    @classmethod
    def from_json(cls, text: str) -> "Keyring":
        try:
            raw = json.loads(text)
            keys = {
                purpose: [
                    Key(k["kid"], base64.b64decode(k["key"]), k.get("created", ""))
                    for k in raw[purpose]
                ]
                for purpose in PURPOSES
                if purpose in raw or purpose not in OPTIONAL_PURPOSES
            }
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyringError(f"The keyring is malformed: {type(exc).__name__}") from None
        for purpose in OPTIONAL_PURPOSES:
            keys.setdefault(purpose, [])
        for purpose, ring in keys.items():
            empty_allowed = purpose in OPTIONAL_PURPOSES
            if (not ring and not empty_allowed) or any(len(k.secret) != 32 for k in ring):
                raise KeyringError(f"The keyring has no valid {purpose} key.")
        return cls(keys, demo=raw.get("demo") is True)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                **({"demo": True} if self.demo else {}),
                **{
                    purpose: [
                        {
                            "kid": k.kid,
                            "key": base64.b64encode(k.secret).decode(),
                            "created": k.created,
                        }
                        for k in ring
                    ]
                    for purpose, ring in self.keys.items()
                },
            },
            indent=2,
        )

    def rotated(self, purposes: Sequence[str] = PURPOSES) -> "Keyring":
        """A new keyring with one fresh key appended for each purpose named (the first one for a
        purpose this keyring predates)."""
        return Keyring(
            {
                p: [*self.keys.get(p, []), _new_key(p)] if p in purposes else list(self.keys[p])
                for p in dict.fromkeys([*self.keys, *purposes])
            },
            demo=self.demo,
        )

    # -- lookup -----------------------------------------------------------------------------
    def newest(self, purpose: str) -> Key:
        return self.keys[purpose][-1]

    def by_kid(self, purpose: str, kid: str) -> Key:
        for key in self.keys[purpose]:
            if key.kid == kid:
                return key
        raise KeyringError(f"Unknown {purpose} key id {kid}.")

    def kids(self, purpose: str) -> list[str]:
        return [k.kid for k in self.keys[purpose]]

    # -- pepper: finding a voucher by PIN ---------------------------------------------------------
    def pin_lookup(self, pin: str) -> tuple[str, bytes]:
        """The keyed hash of a PIN under the newest pepper: what a new voucher stores."""
        key = self.newest("pepper")
        return key.kid, hmac.new(key.secret, pin.encode(), hashlib.sha256).digest()

    def pin_lookup_candidates(self, pin: str) -> list[bytes]:
        """The keyed hash under every pepper, newest first: one of them finds any voucher."""
        return [
            hmac.new(k.secret, pin.encode(), hashlib.sha256).digest()
            for k in reversed(self.keys["pepper"])
        ]

    def keyed_hash(self, value: str, kid: str | None = None) -> tuple[str, bytes]:
        key = self.by_kid("pepper", kid) if kid else self.newest("pepper")
        return key.kid, hmac.new(key.secret, value.encode(), hashlib.sha256).digest()

    # -- seal: AES-256-GCM with associated data ----------------------------------------------------
    def _aead(self, key: Key) -> AESGCM:
        aead = self._aeads.get(key.kid)
        if aead is None:
            aead = self._aeads[key.kid] = AESGCM(key.secret)
        return aead

    def seal(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
        """Encrypt under the newest sealing key; `aad` binds the ciphertext to its row."""
        key = self.newest("seal")
        nonce = os.urandom(_NONCE_BYTES)
        return key.kid, nonce + self._aead(key).encrypt(nonce, plaintext, aad)

    def open(self, kid: str, sealed: bytes, aad: bytes) -> bytes:
        try:
            return self._aead(self.by_kid("seal", kid)).decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], aad
            )
        except InvalidTag:
            raise SealBroken() from None

    # -- sign: Ed25519 ---------------------------------------------------------------------------
    def _signer(self, key: Key) -> Ed25519PrivateKey:
        signer = self._signers.get(key.kid)
        if signer is None:
            signer = self._signers[key.kid] = Ed25519PrivateKey.from_private_bytes(key.secret)
        return signer

    def sign(self, message: bytes) -> tuple[str, bytes]:
        key = self.newest("sign")
        return key.kid, self._signer(key).sign(message)

    def verify(self, kid: str, message: bytes, signature: bytes) -> bool:
        try:
            key = self.by_kid("sign", kid)
        except KeyringError:
            return False
        try:
            self._signer(key).public_key().verify(signature, message)
        except InvalidSignature:
            return False
        return True

    # -- token: Ed25519 over OAuth access tokens (public keys published as a JWKS) ---------------
    def token_signer(self) -> tuple[str, Ed25519PrivateKey] | None:
        """The newest token key, or None for a keyring that predates token keys."""
        ring = self.keys.get("token")
        if not ring:
            return None
        return ring[-1].kid, self._signer(ring[-1])

    def token_public_keys(self) -> dict[str, Ed25519PublicKey]:
        """Every token key id that verifies, oldest first: rotation keeps old tokens valid."""
        return {k.kid: self._signer(k).public_key() for k in self.keys.get("token", [])}


def write_keyring(path: Path, keyring: Keyring, *, overwrite: bool = False) -> None:
    """Write with mode 0600 from the first byte; a rotation replaces the file atomically."""
    path = path.expanduser()
    if path.exists() and not overwrite:
        raise KeyringError(f"{path} exists already; use `pinpay keys rotate` to add keys.")
    tmp = path.with_name(path.name + f".tmp-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(keyring.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_keyring(path: Path, inline_json: str | None = None) -> Keyring:
    if inline_json:
        return Keyring.from_json(inline_json)
    path = path.expanduser()
    if not path.exists():
        raise KeysMissing(f"No keyring at {path}. Create one with `pinpay keys init`.")
    return Keyring.from_json(path.read_text())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
