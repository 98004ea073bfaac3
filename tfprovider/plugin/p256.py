"""ECDSA over NIST P-256 (FIPS 186-4, SEC 1), only as much as a per-launch certificate needs:
make a key pair and sign one certificate with SHA-256.

Why not a library: this runs on every TLS launch, several times per Terraform command, and
importing ``cryptography.x509`` alone takes 65-105 ms, more than the rest of the launch before
the handshake; a key and a signature below take about two milliseconds. The key only ever signs
its own certificate here; the TLS handshakes are signed by gRPC's BoringSSL, which gets the key
as PEM.

Security notes. Secrets come from ``os.urandom`` (the kernel CSPRNG). Key and nonce are drawn
with 64 extra random bits and reduced (FIPS 186-4 B.4.1 and B.5.1), so their bias is below
2**-64. Python integers are not constant-time, so the two scalar multiplications leak timing;
that is accepted because the key is fresh per process, lives only in its memory, and this code
computes with it exactly twice (its public point, one signature) before BoringSSL takes over.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import NamedTuple, Protocol

# Curve parameters (FIPS 186-4 D.1.2.3, SEC 2 2.4.2): y^2 = x^3 - 3x + b over GF(P), order N.
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5
COORDINATE_BYTES = 32

_EXTRA_RANDOM_BITS = 64


class Point(NamedTuple):
    """An affine point on the curve (never the point at infinity: callers get that as an error)."""

    x: int
    y: int

    def uncompressed(self) -> bytes:
        """SEC 1 2.3.3 uncompressed encoding, ``04 || X || Y``: what SubjectPublicKeyInfo holds."""
        return b"\x04" + self.x.to_bytes(COORDINATE_BYTES, "big") + self.y.to_bytes(COORDINATE_BYTES, "big")


class KeyPair(NamedTuple):
    private: int
    public: Point


class Signature(NamedTuple):
    r: int
    s: int


G = Point(GX, GY)

# A point in Jacobian coordinates (X, Y, Z) stands for (X/Z^2, Y/Z^3); Z == 0 is infinity.
# Working without inversions is what makes this fast enough in pure Python.
_Jacobian = tuple[int, int, int]
_INFINITY: _Jacobian = (1, 1, 0)


def is_on_curve(point: Point) -> bool:
    x, y = point
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x - 3 * x + B)) % P == 0


def _double(point: _Jacobian) -> _Jacobian:
    """Doubling for a = -3 (the "dbl-2001-b" formulas)."""
    x1, y1, z1 = point
    if z1 == 0 or y1 == 0:
        return _INFINITY
    delta = z1 * z1 % P
    gamma = y1 * y1 % P
    beta = x1 * gamma % P
    alpha = 3 * (x1 - delta) * (x1 + delta) % P
    x3 = (alpha * alpha - 8 * beta) % P
    z3 = ((y1 + z1) * (y1 + z1) - gamma - delta) % P
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % P
    return x3, y3, z3


def _add_affine(point: _Jacobian, other: Point) -> _Jacobian:
    """``point + other`` with ``other`` affine (the "madd-2007-bl" formulas)."""
    x1, y1, z1 = point
    if z1 == 0:
        return other.x, other.y, 1
    z1z1 = z1 * z1 % P
    u2 = other.x * z1z1 % P
    s2 = other.y * z1 * z1z1 % P
    h = (u2 - x1) % P
    r = 2 * (s2 - y1) % P
    if h == 0:
        return _double(point) if r == 0 else _INFINITY
    hh = h * h % P
    i = 4 * hh % P
    j = h * i % P
    v = x1 * i % P
    x3 = (r * r - j - 2 * v) % P
    y3 = (r * (v - x3) - 2 * y1 * j) % P
    z3 = ((z1 + h) * (z1 + h) - z1z1 - hh) % P
    return x3, y3, z3


def _to_affine(point: _Jacobian) -> Point:
    x, y, z = point
    if z == 0:
        raise ValueError("the scalar multiple is the point at infinity")
    z_inverse = pow(z, -1, P)
    z_inverse_squared = z_inverse * z_inverse % P
    return Point(x * z_inverse_squared % P, y * z_inverse_squared * z_inverse % P)


def multiply(scalar: int, point: Point) -> Point:
    """``scalar * point`` for any point on the curve (plain double-and-add); raises
    ``ValueError`` if the result is infinity."""
    result = _INFINITY
    for bit in bin(scalar % N)[2:]:
        result = _double(result)
        if bit == "1":
            result = _add_affine(result, point)
    return _to_affine(result)


def multiply_base(scalar: int) -> Point:
    """``scalar * G`` with a fixed-base comb: the scalar's 256 bits are read as four 64-bit rows,
    and each column of four bits selects a precomputed sum from :data:`COMB_TABLE`, so the work
    is 64 doublings and at most 64 additions instead of 256 and about 128."""
    k = scalar % N
    result = _INFINITY
    for column in range(_COMB_SPACING - 1, -1, -1):
        result = _double(result)
        index = 0
        for row in range(_COMB_TEETH):
            index |= ((k >> (column + row * _COMB_SPACING)) & 1) << row
        if index:
            result = _add_affine(result, COMB_TABLE[index - 1])
    return _to_affine(result)


_COMB_TEETH = 4
_COMB_SPACING = 64
# COMB_TABLE[i - 1] = sum of 2**(64*j) * G over the bits j set in i, for i = 1..15: derived from
# G alone (tests recompute every entry with :func:`multiply`).
COMB_TABLE: tuple[Point, ...] = (
    Point(
        0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
        0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    ),
    Point(
        0x0FA822BC2811AAA58492592E326E25DE29493BAAAD651F7E90E75CB48E14DB63,
        0xBFF44AE8F5DBA80D6F4AD4BCB3DF188B34B1A65050FE82F5E41124545F462EE7,
    ),
    Point(
        0x300A4BBC89D6726FB257C0DE95E02789E96C98FD0D35F1FA93391CE2097992AF,
        0x72AAC7E0D09B46447F1DDB25FF1E3C6F5BB1EEADA9D806A5AA54A291C08127A0,
    ),
    Point(
        0x447D739BEEDB5E67FB982FD588C6766EFC35FF7DC297EAC357C84FC9D789BD85,
        0x2D4825AB834131EEE12E9D953A4AAFF73D349B95A7FAE5000C7E33C972E25B32,
    ),
    Point(
        0xEF9519328A9C72FFDDC6068BB91DFC60EF7FBD2B1A0A11B713949C932A1D367F,
        0x611E9FC37DBB2C9BC1EE9807022C219C23183B0895CA1740196035A77376D8A8,
    ),
    Point(
        0x550663797B51F5D87DEA6482E11238BF2936DF5EC6C9BC36CAE2B1920B57F4BC,
        0x157164848AECB8510AFA40018D9D50E59FB3D576DBDEFBE144FFE216348A964C,
    ),
    Point(
        0xEB5D7745B21141EAA2E8F483F43E43917CCD84E70D715F26E48ECAFFFC5CDE01,
        0xEAFD72EBDBECC17B0990E6A158006CEE85F22CFE2844B645CAC917E2731A3479,
    ),
    Point(
        0xA6D39677A78492762736FF8344315FC596439591A3C6B94A6CF20FFB313728BE,
        0x674F84749B0B881666B8BABD2D27ECDF824A920C2284059BF2BAB833C357F5F4,
    ),
    Point(
        0x4E769E7672C9DDAD31855F7DB8C7FEDB74E02F080203A56B2DF48C04677C8A3E,
        0x42B99082DE8306631EC0057206947281FB9AE16F3B9122A5A4C36165B824BBB0,
    ),
    Point(
        0x78878EF61C6CE04D7FDC1CA008A1C478D1F89E799C0CE1316EF95150DDA868B9,
        0xB6CB3F5D7B72C321DE53142C12309DEF6ACE570EBDE08D4F9C62B9121FE0D976,
    ),
    Point(
        0x0C88BC4D716B1287595C5220812FFCAE5B82DD5BD54FB4967F991ED2C31A3573,
        0xDD5DDEA3F3901DC618D1B5B39C04E6AA7C8181F4DF2564F33A57BF635F48ACA8,
    ),
    Point(
        0x68F344AF6B317466EFE0A423083E49F343A0A28C42BA792FE96A79FB3E72AD0C,
        0x31B9C405F8540A20604ED93C24D67FF3668BFC2271F5C626CDFE17DB3FB24D4A,
    ),
    Point(
        0x4052BF4B6F461DB9663C62C3EDBAD7A00D1A10144EC39C28D36B4789A2582E7F,
        0xFECF4D5190B0FC61862BE6BD71D70CC8E724F33999BFCC5B235A27C3188D25EB,
    ),
    Point(
        0x1EDDBAE2C802E41A123202A8F62BFF7AAFDF5CC08526A7A474346C10A1D4CFAC,
        0x43104D86560EBCFC0C45F45273DB33A036E06B7E4C7019178FA0AF2DD603F844,
    ),
    Point(
        0xB48E26B484F7A21C0A4A46FB6AAF363A66B0DE3225C4744B9615B5110D1D78E5,
        0xFAC015404D4D3DAB64131BCDFED6F668C004E4048B7B0F9806EBB0F621A01B2D,
    ),
)


def _random_scalar() -> int:
    """Uniform in [1, N-1] up to a bias below 2**-64 (FIPS 186-4 B.4.1)."""
    extra = os.urandom((N.bit_length() + _EXTRA_RANDOM_BITS) // 8)
    return int.from_bytes(extra, "big") % (N - 1) + 1


def generate_key_pair() -> KeyPair:
    private = _random_scalar()
    return KeyPair(private, multiply_base(private))


def sign(private: int, message: bytes) -> Signature:
    """ECDSA signature of SHA-256(``message``) with a fresh random nonce."""
    digest = int.from_bytes(sha256(message), "big")  # 256 bits: no truncation
    while True:
        signature = sign_digest_with_nonce(private, digest, _random_scalar())
        if signature is not None:
            return signature


class _Hash(Protocol):
    def digest(self) -> bytes: ...


def _sha256_constructor() -> Callable[[bytes], _Hash]:
    """CPython's built-in SHA-256 (module ``_sha2`` from 3.12, ``_sha256`` before), else hashlib's.

    ``hashlib`` first loads OpenSSL's libcrypto, which costs several milliseconds per launch;
    the built-in is what hashlib itself falls back to, and is plenty for one certificate.
    """
    for module in ("_sha2", "_sha256"):
        try:
            constructor: Callable[[bytes], _Hash] = importlib.import_module(module).sha256
        except (ImportError, AttributeError):
            continue
        return constructor
    import hashlib

    return hashlib.sha256


def sha256(message: bytes) -> bytes:
    return _sha256_constructor()(message).digest()


def sign_digest_with_nonce(private: int, digest: int, nonce: int) -> Signature | None:
    """The ECDSA signing equation (SEC 1 4.1.3) for a given nonce; ``None`` when r or s is 0 and
    another nonce must be drawn. Separate from :func:`sign` so published test vectors, which fix
    the nonce, can check it."""
    r = multiply_base(nonce).x % N
    if r == 0:
        return None
    s = pow(nonce, -1, N) * (digest + r * private) % N
    if s == 0:
        return None
    return Signature(r, s)
