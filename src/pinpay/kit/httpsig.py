"""HTTP Message Signatures (RFC 9421) and Content-Digest (RFC 9530): the wire format only.

Shared by the verifier (`pinpay.merchants.signatures`) and the client helper
(`pinpay.signing_client`). Only the Structured Field shapes these headers use are parsed
(RFC 8941 dictionaries whose members are inner lists of strings with parameters, or byte
sequences); anything else is malformed.
"""

import base64
import hashlib
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-p256-sha256"
ALGORITHMS = (ED25519, ECDSA_P256)
DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
COVERED = ("@method", "@target-uri", "content-digest")

PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey
Param = str | int | bool | bytes


class Malformed(ValueError):
    """A header that is not the Structured Field this module expects."""


_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*")
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")


@dataclass
class Member:
    """A dictionary member: an inner list of strings, or a single byte sequence, with params."""

    items: list[str] | None = None
    value: bytes | None = None
    params: dict[str, Param] = field(default_factory=dict)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def skip(self, chars: str) -> None:
        while self.peek() and self.peek() in chars:
            self.at += 1

    def match(self, pattern: re.Pattern[str]) -> re.Match[str]:
        found = pattern.match(self.text, self.at)
        if not found:
            raise Malformed(f"unexpected input at {self.at}")
        self.at = found.end()
        return found

    def string(self) -> str:
        self.at += 1  # opening quote
        chars: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise Malformed("unterminated string")
            self.at += 1
            if char == '"':
                return "".join(chars)
            if char == "\\":
                char = self.peek()
                if char not in ('"', "\\"):
                    raise Malformed("bad escape")
                self.at += 1
            elif not (0x20 <= ord(char) <= 0x7E):
                raise Malformed("bad character in string")
            chars.append(char)

    def bare(self) -> Param:
        char = self.peek()
        if char == '"':
            return self.string()
        if char == ":":
            return base64.b64decode(self.match(_BYTES).group(1), validate=True)
        if char == "?":
            self.at += 1
            return self.match(re.compile("[01]")).group() == "1"
        if char == "-" or char.isdigit():
            return int(self.match(_INTEGER).group())
        return self.match(_TOKEN).group()

    def params(self) -> dict[str, Param]:
        params: dict[str, Param] = {}
        while self.peek() == ";":
            self.at += 1
            self.skip(" ")
            key = self.match(_KEY).group()
            if self.peek() == "=":
                self.at += 1
                params[key] = self.bare()
            else:
                params[key] = True
        return params

    def member(self) -> Member:
        if self.peek() != "(":
            value = self.bare()
            if not isinstance(value, bytes):
                raise Malformed("expected a byte sequence")
            return Member(value=value, params=self.params())
        self.at += 1
        items: list[str] = []
        while True:
            self.skip(" ")
            if self.peek() == ")":
                self.at += 1
                return Member(items=items, params=self.params())
            if self.peek() != '"':
                raise Malformed("expected a component name")
            items.append(self.string())
            self.params()  # component parameters (;sf, ;key=...) are not supported
            if self.peek() not in (" ", ")"):
                raise Malformed("bad inner list")

    def dictionary(self) -> dict[str, Member]:
        members: dict[str, Member] = {}
        self.skip(" \t")
        while self.peek():
            key = self.match(_KEY).group()
            if self.peek() != "=":
                raise Malformed("expected a value")
            self.at += 1
            members[key] = self.member()
            self.skip(" \t")
            if not self.peek():
                break
            if self.peek() != ",":
                raise Malformed("expected a comma")
            self.at += 1
            self.skip(" \t")
        return members


def parse_dictionary(header: str) -> dict[str, Member]:
    try:
        return _Parser(header.strip()).dictionary()
    except (ValueError, IndexError) as exc:
        raise Malformed(str(exc)) from None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _serialize_bare(value: Param) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode() + ":"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def serialize_signature_params(components: list[str], params: dict[str, Param]) -> str:
    """The `@signature-params` value: also the member value of `Signature-Input`."""
    inner = "(" + " ".join(_serialize_bare(name) for name in components) + ")"
    return inner + "".join(
        f";{key}" if value is True else f";{key}={_serialize_bare(value)}"
        for key, value in params.items()
    )


def signature_base(
    values: dict[str, str], components: list[str], params: dict[str, Param]
) -> bytes:
    """RFC 9421 §2.5: one line per covered component, then the signature parameters."""
    lines = [f'"{name}": {values[name]}' for name in components]
    lines.append('"@signature-params": ' + serialize_signature_params(components, params))
    return "\n".join(lines).encode()


def content_digest(body: bytes, algorithms: tuple[str, ...] = ("sha-256",)) -> str:
    return ", ".join(
        f"{alg}=:{base64.b64encode(DIGESTS[alg](body).digest()).decode()}:" for alg in algorithms
    )


def digest_matches(header: str, body: bytes) -> bool:
    """Every digest we know must match the body, and at least one must be present."""
    members = parse_dictionary(header)
    known = {alg: member for alg, member in members.items() if alg in DIGESTS}
    if not known:
        return False
    return all(
        member.value is not None and member.value == DIGESTS[alg](body).digest()
        for alg, member in known.items()
    )


def algorithm_of(key: PublicKey | PrivateKey) -> str:
    if isinstance(key, Ed25519PublicKey | Ed25519PrivateKey):
        return ED25519
    if isinstance(key.curve, ec.SECP256R1):
        return ECDSA_P256
    raise ValueError("only Ed25519 and ECDSA P-256 keys are supported")


def sign(private_key: PrivateKey, base: bytes) -> bytes:
    if isinstance(private_key, Ed25519PrivateKey):
        return private_key.sign(base)
    algorithm_of(private_key)
    # RFC 9421 §3.3.4: ECDSA signatures are r || s, 32 bytes each, not DER.
    r, s = decode_dss_signature(private_key.sign(base, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify(public_key: PublicKey, base: bytes, signature: bytes) -> bool:
    try:
        if isinstance(public_key, Ed25519PublicKey):
            public_key.verify(signature, base)
            return True
        if len(signature) != 64:
            return False
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        public_key.verify(der, base, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False
