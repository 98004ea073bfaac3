"""Just enough ASN.1 DER *encoding* to write one self-signed certificate and its private key.

The provider makes a certificate on every TLS launch, and a general ASN.1/X.509 library costs
more to import than the rest of the launch path together; the handful of types below is all a
certificate with a few extensions needs. Every function returns one complete DER element
(tag, length, contents) as bytes, so structures are built by nesting calls. Nothing here parses.
"""

from __future__ import annotations

import time

# Universal tags (X.690 8.x); the constructed bit (0x20) is part of SEQUENCE and SET.
_BOOLEAN = 0x01
_INTEGER = 0x02
_BIT_STRING = 0x03
_OCTET_STRING = 0x04
_OBJECT_IDENTIFIER = 0x06
_UTF8_STRING = 0x0C
_IA5_STRING = 0x16
_UTC_TIME = 0x17
_GENERALIZED_TIME = 0x18
_SEQUENCE = 0x30
_SET = 0x31
_CONTEXT_PRIMITIVE = 0x80
_CONTEXT_CONSTRUCTED = 0xA0


def element(tag: int, contents: bytes) -> bytes:
    """One element with the definite-length form DER requires (short form below 128 bytes)."""
    size = len(contents)
    if size < 0x80:
        return bytes((tag, size)) + contents
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + contents


def sequence(*items: bytes) -> bytes:
    return element(_SEQUENCE, b"".join(items))


def set_of(item: bytes) -> bytes:
    """A SET OF with one member (DER would sort several; certificates here never need that)."""
    return element(_SET, item)


def integer(value: int) -> bytes:
    """Two's complement, minimal: a leading 0x00 only when the top bit would make it negative."""
    size = value.bit_length() // 8 + 1  # one bit of room for the sign
    return element(_INTEGER, value.to_bytes(size, "big", signed=True))


def boolean(value: bool) -> bytes:
    return element(_BOOLEAN, b"\xff" if value else b"\x00")


def object_identifier(dotted: str) -> bytes:
    """``"1.2.840.10045.2.1"`` as an OID: the first two arcs share a byte, the rest are base 128."""
    arcs = [int(arc) for arc in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"not an object identifier: {dotted!r}")
    encoded = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        encoded.extend(reversed(chunk))
    return element(_OBJECT_IDENTIFIER, bytes(encoded))


def octet_string(data: bytes) -> bytes:
    return element(_OCTET_STRING, data)


def bit_string(data: bytes, unused_bits: int = 0) -> bytes:
    """``data`` with its last ``unused_bits`` bits (which must be zero) not counted."""
    if not 0 <= unused_bits <= 7 or (unused_bits and (not data or data[-1] & ((1 << unused_bits) - 1))):
        raise ValueError("the unused bits of a DER BIT STRING must exist and be zero")
    return element(_BIT_STRING, bytes((unused_bits,)) + data)


def named_bits(*positions: int) -> bytes:
    """A BIT STRING of flags (e.g. KeyUsage) with bit 0 first and, as DER requires for named
    bits, no trailing zero bits."""
    if not positions:
        return bit_string(b"")
    highest = max(positions)
    value = bytearray(highest // 8 + 1)
    for position in positions:
        value[position // 8] |= 0x80 >> (position % 8)
    return bit_string(bytes(value), 7 - highest % 8)


def utf8_string(text: str) -> bytes:
    return element(_UTF8_STRING, text.encode("utf-8"))


def ia5_string(text: str) -> bytes:
    return element(_IA5_STRING, text.encode("ascii"))


def x509_time(seconds: float) -> bytes:
    """A certificate validity time (RFC 5280 4.1.2.5): UTCTime through 2049, GeneralizedTime
    from 2050, both in UTC with whole seconds."""
    moment = time.gmtime(int(seconds))
    if 1950 <= moment.tm_year <= 2049:
        return element(_UTC_TIME, time.strftime("%y%m%d%H%M%SZ", moment).encode("ascii"))
    return element(_GENERALIZED_TIME, time.strftime("%Y%m%d%H%M%SZ", moment).encode("ascii"))


def explicit(number: int, inner: bytes) -> bytes:
    """``[number] EXPLICIT``: a context-specific constructed tag wrapped around ``inner``."""
    if number > 30:
        raise ValueError("explicit() takes a tag number below 31")
    return element(_CONTEXT_CONSTRUCTED | number, inner)


def implicit(number: int, primitive: bytes) -> bytes:
    """``[number] IMPLICIT`` for a primitive element: its tag replaced, length and contents kept
    (a single tag byte, which is all tags below 31 need)."""
    if primitive[0] & 0x20 or number > 30:
        raise ValueError("implicit() takes a primitive element and a tag number below 31")
    return bytes((_CONTEXT_PRIMITIVE | number,)) + primitive[1:]
