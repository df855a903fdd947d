"""The wire format of signed requests, without a server: digests, structured fields, keys."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pinpay.kit import httpsig
from pinpay.signing_client import sign_request


def test_content_digest_matches_rfc_9530_example() -> None:
    body = b'{"hello": "world"}'
    assert httpsig.content_digest(body) == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    both = httpsig.content_digest(body, ("sha-256", "sha-512"))
    assert httpsig.digest_matches(both, body)
    assert not httpsig.digest_matches(both, body + b" ")
    assert not httpsig.digest_matches("md5=:AAAA:", body)  # nothing we know: refused


def test_signature_input_parses_back_to_what_was_serialized() -> None:
    params: dict[str, httpsig.Param] = {"created": 1700000000, "keyid": 'k "1"', "nonce": "n"}
    value = httpsig.serialize_signature_params(list(httpsig.COVERED), params)
    assert value == (
        '("@method" "@target-uri" "content-digest");created=1700000000;keyid="k \\"1\\"";nonce="n"'
    )
    member = httpsig.parse_dictionary(f"sig1={value}, other=:AQID:")["sig1"]
    assert member.items == list(httpsig.COVERED) and member.params == params
    with pytest.raises(httpsig.Malformed):
        httpsig.parse_dictionary('sig1=("@method";created=1')


@pytest.mark.parametrize(
    "private_key",
    [Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())],
    ids=["ed25519", "ecdsa-p256"],
)
def test_signing_helper_round_trip(private_key: httpsig.PrivateKey) -> None:
    url, body = "https://pay.example/v1/payments?x=1", b'{"amount": "1.00"}'
    added = sign_request("post", url, {}, body, "key-1", private_key, created=1700000000)
    assert set(added) == {"Content-Digest", "Signature-Input", "Signature"}
    member = httpsig.parse_dictionary(added["Signature-Input"])["pinpay"]
    signature = httpsig.parse_dictionary(added["Signature"])["pinpay"].value
    assert member.items is not None and signature is not None
    assert member.params["keyid"] == "key-1" and member.params["created"] == 1700000000
    assert member.params["alg"] == httpsig.algorithm_of(private_key)
    values = {"@method": "POST", "@target-uri": url, "content-digest": added["Content-Digest"]}
    base = httpsig.signature_base(values, member.items, member.params)
    assert httpsig.verify(private_key.public_key(), base, signature)
    assert not httpsig.verify(private_key.public_key(), base.replace(b"POST", b"GET"), signature)
    # A fresh nonce every time.
    again = sign_request("post", url, {}, body, "key-1", private_key, created=1700000000)
    assert again["Signature-Input"] != added["Signature-Input"]
