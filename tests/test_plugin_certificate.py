"""The per-launch certificate made without a crypto library: DER encoding, ECDSA P-256, X.509.

``cryptography`` appears here only as the independent judge: it parses what we write, verifies
our signatures and loads our key; a grpc client pinned to the certificate must connect.
"""

from __future__ import annotations

import calendar
import datetime
import hashlib
import os
import tempfile
from concurrent import futures

import grpc
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from tfprovider.plugin import der, p256
from tfprovider.plugin.tls import BACKDATE_SECONDS, LIFETIME_SECONDS, make_server_certificate, pem

# --- DER ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "020100"),
        (127, "02017f"),
        (128, "02020080"),  # a leading zero keeps it positive
        (256, "02020100"),
        (-1, "0201ff"),
        (-129, "0202ff7f"),
    ],
)
def test_integers_are_minimal_twos_complement(value: int, encoded: str) -> None:
    assert der.integer(value).hex() == encoded


def test_lengths_switch_to_the_long_form_at_128_bytes() -> None:
    assert der.octet_string(b"x" * 127)[:2] == b"\x04\x7f"
    assert der.octet_string(b"x" * 128)[:3] == b"\x04\x81\x80"
    assert der.octet_string(b"x" * 300)[:4] == b"\x04\x82\x01\x2c"


def test_object_identifiers() -> None:
    assert der.object_identifier("1.2.840.10045.2.1").hex() == "06072a8648ce3d0201"
    assert der.object_identifier("2.5.29.17").hex() == "0603551d11"
    with pytest.raises(ValueError, match="not an object identifier"):
        der.object_identifier("1.40")


def test_named_bits_drop_trailing_zero_bits() -> None:
    # KeyUsage digitalSignature (0) + keyCertSign (5): 1000 01xx, two unused bits.
    assert der.named_bits(0, 5).hex() == "03020284"
    assert der.named_bits(0).hex() == "03020780"
    assert der.named_bits(8).hex() == "0303070080"
    with pytest.raises(ValueError, match="unused bits"):
        der.bit_string(b"\x01", 1)


def test_times_are_utc_until_2049_and_generalized_after() -> None:
    assert der.x509_time(calendar.timegm((2049, 12, 31, 23, 59, 59))) == b"\x17\x0d491231235959Z"
    assert der.x509_time(calendar.timegm((2050, 1, 1, 0, 0, 0))) == b"\x18\x0f20500101000000Z"


def test_implicit_and_explicit_tags() -> None:
    assert der.implicit(2, der.ia5_string("a")).hex() == "820161"
    assert der.explicit(0, der.integer(2)).hex() == "a003020102"
    with pytest.raises(ValueError, match="primitive"):
        der.implicit(0, der.sequence())


# --- P-256 ----------------------------------------------------------------------------------------

# RFC 6979 A.2.5: the P-256 key and the SHA-256 signatures of "sample" and "test".
RFC6979_KEY = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
RFC6979_PUBLIC = (
    0x60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6,
    0x7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299,
)
RFC6979_SIGNATURES = [
    (
        b"sample",
        0xA6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60,
        0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716,
        0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8,
    ),
    (
        b"test",
        0xD16B6AE827F17175E040871A1C7EC3500192C4C92677336EC2537ACAEE0008E0,
        0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367,
        0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083,
    ),
]


def test_public_key_of_the_rfc6979_key() -> None:
    assert tuple(p256.multiply_base(RFC6979_KEY)) == RFC6979_PUBLIC
    assert tuple(p256.multiply(RFC6979_KEY, p256.G)) == RFC6979_PUBLIC


@pytest.mark.parametrize(("message", "nonce", "r", "s"), RFC6979_SIGNATURES)
def test_signing_equation_matches_rfc6979(message: bytes, nonce: int, r: int, s: int) -> None:
    digest = int.from_bytes(hashlib.sha256(message).digest(), "big")
    assert p256.sign_digest_with_nonce(RFC6979_KEY, digest, nonce) == (r, s)


def test_comb_table_is_derived_from_the_generator() -> None:
    for index, point in enumerate(p256.COMB_TABLE, start=1):
        scalar = sum(1 << (64 * row) for row in range(4) if index >> row & 1)
        assert point == p256.multiply(scalar, p256.G), index
        assert p256.is_on_curve(point)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=p256.N - 1))
def test_fixed_base_and_generic_multiplication_agree(scalar: int) -> None:
    assert p256.multiply_base(scalar) == p256.multiply(scalar, p256.G)


def test_the_group_order_gives_infinity() -> None:
    with pytest.raises(ValueError, match="infinity"):
        p256.multiply_base(p256.N)
    assert p256.multiply_base(p256.N - 1) == (p256.GX, p256.P - p256.GY)  # -G


def test_builtin_sha256_matches_hashlib() -> None:
    for message in (b"", b"abc", os.urandom(1000)):
        assert p256.sha256(message) == hashlib.sha256(message).digest()


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=200))
def test_signatures_verify_with_an_independent_implementation(message: bytes) -> None:
    key = p256.generate_key_pair()
    assert p256.is_on_curve(key.public)
    r, s = p256.sign(key.private, message)
    public = ec.EllipticCurvePublicNumbers(key.public.x, key.public.y, ec.SECP256R1()).public_key()
    public.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public.verify(encode_dss_signature(r, s), message + b"!", ec.ECDSA(hashes.SHA256()))


# --- the certificate ------------------------------------------------------------------------------


def test_certificate_has_every_field_go_plugin_needs() -> None:
    now = calendar.timegm((2030, 6, 1, 12, 0, 0))
    made = make_server_certificate(now)
    cert = x509.load_der_x509_certificate(made.cert_der)
    assert cert.version == x509.Version.v3
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"
    assert cert.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA256
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"
    public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["localhost"] and not san.critical
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.value.ca is True and constraints.value.path_length is None and constraints.critical
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.key_cert_sign
    assert not (usage.value.key_encipherment or usage.value.crl_sign or usage.value.content_commitment)
    extended = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(extended) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert len(cert.extensions) == 4
    assert cert.not_valid_before_utc.timestamp() == now - BACKDATE_SECONDS
    assert cert.not_valid_after_utc.timestamp() == now + LIFETIME_SECONDS
    assert 0 < cert.serial_number < 2**128


def test_certificate_is_canonical_der() -> None:
    # cryptography re-encodes what it parsed; DER has one encoding, so the bytes must round-trip.
    made = make_server_certificate()
    cert = x509.load_der_x509_certificate(made.cert_der)
    assert cert.public_bytes(serialization.Encoding.DER) == made.cert_der
    assert (
        x509.load_pem_x509_certificate(made.cert_pem).public_bytes(serialization.Encoding.DER)
        == made.cert_der
    )


def test_certificate_after_2049_uses_generalized_time() -> None:
    now = calendar.timegm((2049, 12, 20, 0, 0, 0))  # expires in 2050
    cert = x509.load_der_x509_certificate(make_server_certificate(now).cert_der)
    assert cert.not_valid_after_utc == datetime.datetime(2050, 1, 19, tzinfo=datetime.UTC)


def test_private_key_is_pkcs8_and_matches_the_certificate() -> None:
    made = make_server_certificate()
    assert made.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    key = serialization.load_pem_private_key(made.key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    cert = x509.load_der_x509_certificate(made.cert_der)
    assert key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)


def test_each_certificate_has_its_own_key_and_serial() -> None:
    first, second = make_server_certificate(), make_server_certificate()
    assert first.key_pem != second.key_pem
    assert x509.load_der_x509_certificate(first.cert_der).serial_number != (
        x509.load_der_x509_certificate(second.cert_der).serial_number
    )


def test_pem_lines_are_64_characters() -> None:
    text = pem("CERTIFICATE", bytes(range(256)) * 2).decode()
    lines = text.splitlines()
    assert lines[0] == "-----BEGIN CERTIFICATE-----" and lines[-1] == "-----END CERTIFICATE-----"
    assert all(len(line) == 64 for line in lines[1:-2]) and 0 < len(lines[-2]) <= 64


def test_grpc_serves_tls_with_it_to_a_client_that_pins_it() -> None:
    made = make_server_certificate()
    executor = futures.ThreadPoolExecutor(max_workers=2)
    server = grpc.server(executor)
    echo = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", {"Echo": echo}),))
    with tempfile.TemporaryDirectory() as directory:
        address = f"unix:{directory}/tls.sock"
        credentials = grpc.ssl_server_credentials([(made.key_pem, made.cert_pem)])
        assert server.add_secure_port(address, credentials) != 0
        server.start()
        try:
            pinned = grpc.ssl_channel_credentials(root_certificates=made.cert_pem)
            options = [("grpc.ssl_target_name_override", "localhost")]
            with grpc.secure_channel(address, pinned, options=options) as channel:
                assert channel.unary_unary("/test.Echo/Echo")(b"ping", timeout=10) == b"ping"
            other = grpc.ssl_channel_credentials(root_certificates=make_server_certificate().cert_pem)
            with (
                grpc.secure_channel(address, other, options=options) as channel,
                pytest.raises(grpc.RpcError),
            ):
                channel.unary_unary("/test.Echo/Echo")(b"ping", timeout=3)
        finally:
            server.stop(None).wait()
            executor.shutdown()
