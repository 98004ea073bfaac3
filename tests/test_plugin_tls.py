"""TLS on a Terraform launch: the per-launch server certificate and the pinned connection."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support.plugin_client import Handshake, PluginProcess
from test_plugin_runtime import SERVE_NOTHING, SERVING, health, launch_env, python

from tfprovider.plugin.tls import ServerCertificate, make_server_certificate


@pytest.fixture(scope="module")
def tls_plugin() -> Iterator[PluginProcess]:
    with PluginProcess(python(SERVE_NOTHING), launch_env(), tls=True) as process:
        yield process


def check_localhost_ca(cert: x509.Certificate) -> None:
    """What go-plugin's client needs: a P-256 self-signed CA certificate valid now for localhost."""
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"
    assert cert.signature_hash_algorithm is not None
    public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.value.ca is True and constraints.critical
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_cert_sign
    now = datetime.datetime.now(datetime.UTC)
    assert cert.not_valid_before_utc < now - datetime.timedelta(seconds=30)
    assert cert.not_valid_after_utc > now + datetime.timedelta(days=7)


def test_handshake_carries_the_unpadded_der_of_a_localhost_ca_certificate(tls_plugin: PluginProcess) -> None:
    line = tls_plugin.handshake.line
    fields = line.split("|")
    assert len(fields) == 6
    assert fields[:3] == ["1", "6", "unix"] and fields[4] == "grpc"
    assert "=" not in fields[5]
    der = base64.b64decode(fields[5] + "=" * (-len(fields[5]) % 4), validate=True)
    check_localhost_ca(x509.load_der_x509_certificate(der))


def test_pinned_tls_connection_serves(tls_plugin: PluginProcess) -> None:
    assert health(tls_plugin.channel) == SERVING


def test_a_client_pinning_another_certificate_is_refused(tls_plugin: PluginProcess) -> None:
    other = Handshake.parse(tls_plugin.handshake.line.rsplit("|", 1)[0] + "|" + _unpadded(_other_cert_der()))
    credentials = grpc.ssl_channel_credentials(root_certificates=other.cert_pem)
    options = [("grpc.ssl_target_name_override", "localhost")]
    channel = grpc.secure_channel("unix:" + tls_plugin.handshake.address, credentials, options=options)
    with channel, pytest.raises(grpc.RpcError) as info:
        health(channel, timeout=3)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_plaintext_clients_are_not_served_on_a_tls_launch(tls_plugin: PluginProcess) -> None:
    channel = grpc.insecure_channel("unix:" + tls_plugin.handshake.address)
    with channel, pytest.raises(grpc.RpcError) as info:
        health(channel, timeout=3)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_each_launch_gets_its_own_certificate(tls_plugin: PluginProcess) -> None:
    with PluginProcess(python(SERVE_NOTHING), launch_env(), tls=True) as second:
        assert second.handshake.cert_der != tls_plugin.handshake.cert_der
        assert second.shutdown() == 0


def test_make_server_certificate() -> None:
    made = make_server_certificate()
    assert isinstance(made, ServerCertificate)
    cert = x509.load_pem_x509_certificate(made.cert_pem)
    assert cert.public_bytes(serialization.Encoding.DER) == made.cert_der
    check_localhost_ca(cert)
    key = serialization.load_pem_private_key(made.key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)
    again = make_server_certificate()
    assert again.key_pem != made.key_pem
    assert x509.load_der_x509_certificate(again.cert_der).serial_number != cert.serial_number


def test_tls_launch_ends_cleanly_on_shutdown() -> None:
    with PluginProcess(python(SERVE_NOTHING), launch_env(), tls=True) as process:
        assert process.shutdown() == 0
        assert "Traceback" not in process.stderr_text()


def _other_cert_der() -> bytes:
    return make_server_certificate().cert_der


def _unpadded(der: bytes) -> str:
    return base64.b64encode(der).decode().rstrip("=")
