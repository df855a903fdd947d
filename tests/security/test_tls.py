"""`pinpay dev-cert` and `pinpay serve --tls-cert --tls-key`: a real server process on a loopback
port, TLS 1.3 as the floor, HSTS on every response."""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from pinpay.kit.crypto import Keyring
from tests.cli_support import cli
from tests.servers import free_port

PINPAY = str(Path(sys.executable).with_name("pinpay"))


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    out = tmp_path / "certs"
    result = cli({})("dev-cert --out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_dev_cert_files_parse_and_chain(certs: Path) -> None:
    ca = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
    cert = x509.load_pem_x509_certificate((certs / "cert.pem").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    assert (certs / "key.pem").stat().st_mode & 0o777 == 0o600
    context = ssl.create_default_context(cafile=certs / "ca.pem")
    context.load_cert_chain(certs / "cert.pem", certs / "key.pem")  # key matches the cert
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)


@pytest.fixture
def tls_server(certs: Path, tmp_path: Path, sqlite_template: Path) -> Iterator[int]:
    database = tmp_path / "pinpay.db"
    shutil.copy(sqlite_template, database)
    port = free_port()
    env = os.environ | {
        "PINPAY_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "PINPAY_KEYS_JSON": Keyring.generate().to_json(),
    }
    command = [PINPAY, "serve", "--port", str(port), "--tls-cert", str(certs / "cert.pem")]
    process = subprocess.Popen(
        [*command, "--tls-key", str(certs / "key.pem")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    _, stderr = process.communicate(timeout=5)
                    raise RuntimeError(f"pinpay serve did not start: {stderr!r}") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_tls_12_is_refused_and_tls_13_sees_hsts(tls_server: int, certs: Path) -> None:
    old = ssl.create_default_context(cafile=certs / "ca.pem")
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        pytest.raises(ssl.SSLError),
        socket.create_connection(("127.0.0.1", tls_server), timeout=5) as raw,
        old.wrap_socket(raw, server_hostname="localhost"),
    ):
        pass

    modern = ssl.create_default_context(cafile=certs / "ca.pem")
    modern.minimum_version = ssl.TLSVersion.TLSv1_3
    with httpx.Client(verify=modern, timeout=10) as client:
        for url in (
            f"https://localhost:{tls_server}/health",
            f"https://127.0.0.1:{tls_server}/v1/payments",
        ):
            response = client.get(url)
            assert response.extensions["http_version"] == b"HTTP/1.1"
            assert response.headers["strict-transport-security"] == (
                "max-age=63072000; includeSubDomains"
            )
        assert client.get(f"https://localhost:{tls_server}/health").status_code == 200


def test_unknown_ca_is_not_trusted(tls_server: int) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"https://localhost:{tls_server}/health", timeout=5)


async def test_no_hsts_over_plain_http(api: httpx.AsyncClient) -> None:
    response = await api.get("/health")
    assert "strict-transport-security" not in response.headers
