"""The server certificate made fresh for each launch when Terraform asks for TLS.

go-plugin's client pins exactly the certificate we put in the handshake and dials with server
name ``localhost``, so the certificate must name ``localhost`` (CN and DNS SAN) and be usable as
its own trust anchor (self-signed, CA:TRUE). The private key exists only in memory and is handed
to gRPC as bytes; it is never written to disk.

This runs on every TLS launch, several times per Terraform command, so the certificate is
written directly as DER (``der.py``) and signed with ECDSA P-256 in pure Python (``p256.py``):
about two milliseconds, where importing a general X.509 library would cost more than the rest of
the launch.
"""

from __future__ import annotations

import binascii
import os
import time
from typing import NamedTuple

from tfprovider.plugin import der, p256

SERVER_NAME = "localhost"
# Back-dating absorbs clock adjustments between launch and connection; the lifetime only has to
# outlast the longest Terraform command (the process and its key die with it anyway).
BACKDATE_SECONDS = 60 * 60
LIFETIME_SECONDS = 30 * 24 * 60 * 60
SERIAL_NUMBER_BYTES = 16

# Object identifiers (RFC 5280, RFC 5480, RFC 5758).
_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_PRIME256V1 = "1.2.840.10045.3.1.7"
_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
_COMMON_NAME = "2.5.4.3"
_SUBJECT_ALT_NAME = "2.5.29.17"
_BASIC_CONSTRAINTS = "2.5.29.19"
_KEY_USAGE = "2.5.29.15"
_EXTENDED_KEY_USAGE = "2.5.29.37"
_SERVER_AUTH = "1.3.6.1.5.5.7.3.1"

# KeyUsage bit positions (RFC 5280 4.2.1.3).
_DIGITAL_SIGNATURE = 0
_KEY_CERT_SIGN = 5
# GeneralName dNSName is [2] IMPLICIT IA5String (RFC 5280 4.2.1.6).
_DNS_NAME_TAG = 2


class ServerCertificate(NamedTuple):
    """A self-signed server certificate and its private key.

    ``cert_pem``/``key_pem`` are what ``grpc.ssl_server_credentials`` takes (the key as PKCS#8);
    ``cert_der`` is what goes into the handshake line.
    """

    cert_pem: bytes
    key_pem: bytes
    cert_der: bytes


def make_server_certificate(now: float | None = None) -> ServerCertificate:
    """A new ECDSA P-256 key and a self-signed certificate for ``localhost`` (see module doc),
    valid from an hour before ``now`` (default: the current time) for thirty days."""
    issued = time.time() if now is None else now
    key = p256.generate_key_pair()
    tbs = _to_be_signed(key.public, _serial_number(), issued - BACKDATE_SECONDS, issued + LIFETIME_SECONDS)
    signature = p256.sign(key.private, tbs)
    cert_der = der.sequence(
        tbs,
        _SIGNATURE_ALGORITHM,
        der.bit_string(der.sequence(der.integer(signature.r), der.integer(signature.s))),
    )
    return ServerCertificate(
        cert_pem=pem("CERTIFICATE", cert_der),
        key_pem=pem("PRIVATE KEY", _pkcs8_private_key(key)),
        cert_der=cert_der,
    )


def pem(label: str, data: bytes) -> bytes:
    """RFC 7468 text: base64 in 64-character lines between BEGIN/END lines."""
    lines = [binascii.b2a_base64(data[start : start + 48]) for start in range(0, len(data), 48)]
    return b"".join([f"-----BEGIN {label}-----\n".encode(), *lines, f"-----END {label}-----\n".encode()])


_SIGNATURE_ALGORITHM = der.sequence(der.object_identifier(_ECDSA_WITH_SHA256))  # parameters absent
_KEY_ALGORITHM = der.sequence(der.object_identifier(_EC_PUBLIC_KEY), der.object_identifier(_PRIME256V1))


def _serial_number() -> int:
    """Random and positive (RFC 5280 4.1.2.2); a fresh one per launch keeps clients that cache by
    issuer and serial from confusing two launches."""
    while True:
        serial = int.from_bytes(os.urandom(SERIAL_NUMBER_BYTES), "big")
        if serial:
            return serial


def _name() -> bytes:
    """``CN=localhost``: the subject, and the issuer as well, since the certificate signs itself."""
    common_name = der.sequence(der.object_identifier(_COMMON_NAME), der.utf8_string(SERVER_NAME))
    return der.sequence(der.set_of(common_name))


def _extension(oid: str, value: bytes, *, critical: bool) -> bytes:
    # DER omits a BOOLEAN equal to its DEFAULT, so "critical" appears only when true.
    flag = der.boolean(True) if critical else b""
    return der.sequence(der.object_identifier(oid), flag, der.octet_string(value))


def _to_be_signed(public: p256.Point, serial: int, not_before: float, not_after: float) -> bytes:
    """The TBSCertificate (RFC 5280 4.1): everything the signature covers."""
    name = _name()
    extensions = der.sequence(
        _extension(
            _SUBJECT_ALT_NAME,
            der.sequence(der.implicit(_DNS_NAME_TAG, der.ia5_string(SERVER_NAME))),
            critical=False,
        ),
        _extension(_BASIC_CONSTRAINTS, der.sequence(der.boolean(True)), critical=True),
        _extension(_KEY_USAGE, der.named_bits(_DIGITAL_SIGNATURE, _KEY_CERT_SIGN), critical=True),
        _extension(_EXTENDED_KEY_USAGE, der.sequence(der.object_identifier(_SERVER_AUTH)), critical=False),
    )
    return der.sequence(
        der.explicit(0, der.integer(2)),  # version: v3
        der.integer(serial),
        _SIGNATURE_ALGORITHM,
        name,  # issuer
        der.sequence(der.x509_time(not_before), der.x509_time(not_after)),
        name,  # subject
        der.sequence(_KEY_ALGORITHM, der.bit_string(public.uncompressed())),
        der.explicit(3, extensions),
    )


def _pkcs8_private_key(key: p256.KeyPair) -> bytes:
    """PKCS#8 PrivateKeyInfo (RFC 5208) around a SEC 1 ECPrivateKey (RFC 5915) that carries the
    public key too, so the reader need not recompute it."""
    ec_private_key = der.sequence(
        der.integer(1),
        der.octet_string(key.private.to_bytes(p256.COORDINATE_BYTES, "big")),
        der.explicit(1, der.bit_string(key.public.uncompressed())),
    )
    return der.sequence(der.integer(0), _KEY_ALGORITHM, der.octet_string(ec_private_key))
