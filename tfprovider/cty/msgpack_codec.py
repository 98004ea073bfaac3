"""cty values in msgpack, the encoding Terraform uses for every value on the tfplugin6 wire.

Encoding follows go-cty's msgpack package byte for byte: null is nil; an unknown is extension 0 with
a one-byte payload, or extension 12 carrying a map of refinements; numbers use the smallest int
that holds them, else an exact float64, else their decimal text; objects carry every attribute in
name order; map keys are sorted; a dynamically-typed value is `[type JSON bytes, value]`.

Decoding is schema-directed: the expected type decides what may come next, so a mismatch is
reported at the exact path where it happens. The reader is our own rather than msgpack's unpacker
because the input is untrusted and we need precise control over nesting depth, allocation and the
one exception type callers see. Choices where go-cty leaves room, or where we deliberately differ:

* Extensions. go-cty reads any extension with a payload of at most one byte as a plain unknown, and
  extension 12 as a refined unknown; we do the same and also accept extension 0 of any length as a
  plain unknown. Any other extension is rejected, as in go-cty.
* Refinements that do not fit the type (a string prefix on a number) are rejected, as in go-cty;
  unknown refinement keys are skipped; a nullness refinement of `true` decodes as null; refinements
  on a dynamic-typed unknown are dropped (go-cty never writes them and ignores them on read).
* Objects. go-cty insists on exactly as many map entries as attributes. We read an absent
  attribute as null instead (the cty JSON decoder does the same), but still reject attributes the
  type does not declare and duplicate keys.
* Maps with duplicate keys are rejected rather than last-one-wins.
* Set elements come back as a list in wire order; duplicates are passed through, not merged.
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal
from typing import Final

import msgpack

from tfprovider.cty._conform import (
    expect_bool,
    expect_dynamic,
    expect_map_items,
    expect_sequence,
    expect_str,
    expect_tuple_elements,
    object_attribute_values,
    python_kind,
)
from tfprovider.cty.errors import CtyError
from tfprovider.cty.limits import MAX_NESTING_DEPTH, MAX_REFINEMENT_BYTES, checked_input
from tfprovider.cty.numbers import (
    INT64_MAX,
    as_exact_float,
    as_int64,
    coerce_number,
    number_text,
    parse_number_text,
)
from tfprovider.cty.type_json import type_from_json_bytes, type_to_json_bytes
from tfprovider.cty.types import (
    DYNAMIC,
    NUMBER,
    STRING,
    CtyType,
    List,
    Map,
    Object,
    PrimitiveType,
    Set,
    Tuple,
)
from tfprovider.cty.values import UNKNOWN, DynamicValue, Unknown

# Extension type codes go-cty uses for unknown values.
EXT_UNKNOWN: Final = 0
EXT_REFINED_UNKNOWN: Final = 12

# Refinement map keys inside an extension-12 payload.
REFINE_NULLNESS: Final = 1
REFINE_STRING_PREFIX: Final = 2
REFINE_NUMBER_LOWER: Final = 3
REFINE_NUMBER_UPPER: Final = 4
REFINE_LENGTH_LOWER: Final = 5
REFINE_LENGTH_UPPER: Final = 6

_PLAIN_UNKNOWN = msgpack.ExtType(EXT_UNKNOWN, b"\x00")


# ---------------------------------------------------------------------------------------------
# Encoding: build the tree of msgpack-native objects, then let msgpack's C packer write it.
# ---------------------------------------------------------------------------------------------


def encode_msgpack(value: object, ty: CtyType) -> bytes:
    """Encode a Python cty value of type `ty`; raises CtyError if the value does not fit the type."""
    tree = _to_wire(value, ty, 0)
    result: bytes = msgpack.packb(tree, use_bin_type=True)
    return result


def _nested(depth: int) -> int:
    if depth >= MAX_NESTING_DEPTH:
        raise CtyError(f"value nests more than {MAX_NESTING_DEPTH} levels deep")
    return depth + 1


def _number_to_wire(value: object) -> int | float | str:
    number = coerce_number(value)
    as_int = as_int64(number)
    if as_int is not None:
        return as_int
    as_float = as_exact_float(number)
    if as_float is not None:
        return as_float
    return number_text(number)


def _to_wire(value: object, ty: CtyType, depth: int) -> object:
    if value is None:
        return None
    if isinstance(value, Unknown):
        return _unknown_to_wire(value, ty)
    if isinstance(ty, PrimitiveType):
        name = ty.name
        if name == "string":
            return expect_str(value)
        if name == "number":
            return _number_to_wire(value)
        if name == "bool":
            return expect_bool(value)
        dynamic = expect_dynamic(value)
        if dynamic.type == DYNAMIC:
            raise CtyError("a DynamicValue's type must be concrete, not dynamic")
        inner_depth = _nested(depth)
        return [type_to_json_bytes(dynamic.type), _to_wire(dynamic.value, dynamic.type, inner_depth)]
    inner_depth = _nested(depth)
    if isinstance(ty, List | Set):
        elements = expect_sequence(value, ty.kind)
        return [
            _child_to_wire(index, element, ty.element, inner_depth) for index, element in enumerate(elements)
        ]
    if isinstance(ty, Tuple):
        elements = expect_tuple_elements(value, ty)
        return [
            _child_to_wire(index, element, element_type, inner_depth)
            for index, (element, element_type) in enumerate(zip(elements, ty.elements, strict=True))
        ]
    if isinstance(ty, Map):
        return {
            key: _child_to_wire(key, element, ty.element, inner_depth)
            for key, element in expect_map_items(value)
        }
    if isinstance(ty, Object):
        attributes = ty.attributes
        return {
            name: _child_to_wire(name, attribute, attributes[name], inner_depth)
            for name, attribute in object_attribute_values(value, ty)
        }
    raise CtyError(f"cannot encode values of unsupported type {ty!r}")


def _child_to_wire(step: str | int, value: object, ty: CtyType, depth: int) -> object:
    try:
        return _to_wire(value, ty, depth)
    except CtyError as err:
        raise err.add_parent(step) from None


def _bound_to_wire(bound: object, which: str) -> list[object]:
    if not isinstance(bound, tuple) or len(bound) != 2:
        raise CtyError(f"{which} refinement must be a (number, inclusive) pair, got {python_kind(bound)}")
    number, inclusive = bound
    if not isinstance(inclusive, bool):
        raise CtyError(f"{which} refinement's inclusive flag must be a bool, got {python_kind(inclusive)}")
    return [_number_to_wire(number), inclusive]


def _length_to_wire(length: object, which: str) -> int:
    if not isinstance(length, int) or isinstance(length, bool) or not 0 <= length <= INT64_MAX:
        raise CtyError(f"{which} refinement must be a non-negative int, got {length!r}")
    return length


def _unknown_to_wire(unknown: Unknown, ty: CtyType) -> msgpack.ExtType:
    if ty == DYNAMIC or not unknown.is_refined:
        # go-cty cannot refine an unknown of dynamic type, so it always writes the plain form there.
        return _PLAIN_UNKNOWN
    refinements: dict[int, object] = {}
    if unknown.not_null:
        refinements[REFINE_NULLNESS] = False  # the wire records "is null", so false = definitely not null
    if unknown.string_prefix is not None:
        if ty != STRING:
            raise CtyError(f"a string_prefix refinement only applies to strings, not {ty}")
        refinements[REFINE_STRING_PREFIX] = expect_str(unknown.string_prefix)
    for key, bound, which in (
        (REFINE_NUMBER_LOWER, unknown.number_lower, "number_lower"),
        (REFINE_NUMBER_UPPER, unknown.number_upper, "number_upper"),
    ):
        if bound is not None:
            if ty != NUMBER:
                raise CtyError(f"a {which} refinement only applies to numbers, not {ty}")
            refinements[key] = _bound_to_wire(bound, which)
    for key, length, which in (
        (REFINE_LENGTH_LOWER, unknown.length_lower, "length_lower"),
        (REFINE_LENGTH_UPPER, unknown.length_upper, "length_upper"),
    ):
        if length is not None:
            if not isinstance(ty, List | Set | Map):
                raise CtyError(f"a {which} refinement only applies to lists, sets and maps, not {ty}")
            refinements[key] = _length_to_wire(length, which)
    payload: bytes = msgpack.packb(refinements, use_bin_type=True)
    if len(payload) > MAX_REFINEMENT_BYTES:
        raise CtyError(
            f"unknown value refinements take {len(payload)} bytes, over the {MAX_REFINEMENT_BYTES}-byte "
            "limit decoders accept; shorten the string prefix"
        )
    return msgpack.ExtType(EXT_REFINED_UNKNOWN, payload)


# ---------------------------------------------------------------------------------------------
# Decoding: a small msgpack reader driven by the expected type.
# ---------------------------------------------------------------------------------------------

# Item kinds the reader reports.
_NIL, _BOOL, _INT, _FLOAT, _STR, _BIN, _ARRAY, _MAP, _EXT = range(9)

_KIND_NAMES = {
    _NIL: "null",
    _BOOL: "a bool",
    _INT: "an integer",
    _FLOAT: "a float",
    _STR: "a string",
    _BIN: "binary data",
    _ARRAY: "an array",
    _MAP: "a map",
    _EXT: "an unknown value",
}

_U8 = struct.Struct(">B")
_BE_U16 = struct.Struct(">H")
_BE_U32 = struct.Struct(">I")
_BE_U64 = struct.Struct(">Q")
_BE_I8 = struct.Struct(">b")
_BE_I16 = struct.Struct(">h")
_BE_I32 = struct.Struct(">i")
_BE_I64 = struct.Struct(">q")
_BE_F32 = struct.Struct(">f")
_BE_F64 = struct.Struct(">d")
_FIXEXT_SIZES = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}


class _Reader:
    """Reads one msgpack item header at a time from an in-memory buffer, checking every bound."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, size: int) -> int:
        """Reserve `size` bytes and return their start offset."""
        start = self.pos
        end = start + size
        if end > len(self.data):
            raise CtyError(
                f"msgpack data ends early: needed {size} more byte(s) at offset {start}, "
                f"but only {len(self.data) - start} remain"
            )
        self.pos = end
        return start

    def _unpack(self, fmt: struct.Struct) -> int:
        start = self._take(fmt.size)
        result: int = fmt.unpack_from(self.data, start)[0]
        return result

    def _bytes(self, size: int) -> bytes:
        start = self._take(size)
        return self.data[start : start + size]

    def _container(self, kind: int, length: int) -> tuple[int, object]:
        """Check a declared element count against the bytes left (each item takes at least one)."""
        remaining = len(self.data) - self.pos
        needed, noun = (length, "array elements") if kind == _ARRAY else (2 * length, "map entries")
        if needed > remaining:
            raise CtyError(f"msgpack data declares {length} {noun} but only {remaining} byte(s) remain")
        return kind, length

    def read(self) -> tuple[int, object]:
        """Consume the next item's header (and, for scalars, its payload); return (kind, argument).

        The argument is the scalar value, the byte payload for strings/binary, the element count for
        arrays/maps, or (type code, payload) for extensions.
        """
        start = self._take(1)
        code = self.data[start]
        if code <= 0x7F:
            return _INT, code
        if code >= 0xE0:
            return _INT, code - 0x100
        if code <= 0x8F:
            return self._container(_MAP, code & 0x0F)
        if code <= 0x9F:
            return self._container(_ARRAY, code & 0x0F)
        if code <= 0xBF:
            return _STR, self._bytes(code & 0x1F)
        if code == 0xC0:
            return _NIL, None
        if code == 0xC2:
            return _BOOL, False
        if code == 0xC3:
            return _BOOL, True
        if code in (0xC4, 0xC5, 0xC6):
            return _BIN, self._bytes(self._length(code - 0xC4))
        if code in (0xC7, 0xC8, 0xC9):
            size = self._length(code - 0xC7)
            ext_type = self._unpack(_BE_I8)
            return _EXT, (ext_type, self._bytes(size))
        if code == 0xCA:
            return _FLOAT, _BE_F32.unpack_from(self.data, self._take(4))[0]
        if code == 0xCB:
            return _FLOAT, _BE_F64.unpack_from(self.data, self._take(8))[0]
        if 0xCC <= code <= 0xCF:
            return _INT, self._unpack((_U8, _BE_U16, _BE_U32, _BE_U64)[code - 0xCC])
        if 0xD0 <= code <= 0xD3:
            return _INT, self._unpack((_BE_I8, _BE_I16, _BE_I32, _BE_I64)[code - 0xD0])
        if code in _FIXEXT_SIZES:
            ext_type = self._unpack(_BE_I8)
            return _EXT, (ext_type, self._bytes(_FIXEXT_SIZES[code]))
        if code in (0xD9, 0xDA, 0xDB):
            return _STR, self._bytes(self._length(code - 0xD9))
        if code in (0xDC, 0xDD):
            return self._container(_ARRAY, self._length(code - 0xDC + 1))
        if code in (0xDE, 0xDF):
            return self._container(_MAP, self._length(code - 0xDE + 1))
        raise CtyError(f"invalid msgpack type byte 0x{code:02x} at offset {start}")

    def _length(self, width_index: int) -> int:
        """Read an unsigned length of 1, 2 or 4 bytes (width_index 0, 1, 2)."""
        return self._unpack((_U8, _BE_U16, _BE_U32)[width_index])


def decode_msgpack(data: bytes | bytearray | memoryview, ty: CtyType) -> object:
    """Decode msgpack bytes as a value of type `ty`; raises CtyError (only) on any malformed input."""
    raw = bytes(checked_input(data, "msgpack data"))  # no copy for bytes
    reader = _Reader(raw)
    try:
        value = _decode(reader, ty, 0)
    except RecursionError:  # pragma: no cover - the depth limit is meant to make this unreachable
        raise CtyError("msgpack data nests too deeply") from None
    if reader.pos != len(raw):
        raise CtyError(f"unexpected {len(raw) - reader.pos} trailing byte(s) after the msgpack value")
    return value


def _mismatch(expected: str, kind: int) -> CtyError:
    return CtyError(f"expected {expected}, got {_KIND_NAMES[kind]}")


def _text(payload: object) -> str:
    assert isinstance(payload, bytes)
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise CtyError("string is not valid UTF-8") from None


def _number_from(kind: int, arg: object) -> Decimal:
    if kind == _INT:
        assert isinstance(arg, int)
        return Decimal(arg)
    if kind == _FLOAT:
        assert isinstance(arg, float)
        if math.isnan(arg):
            raise CtyError("expected a number, got NaN")
        return Decimal(arg)
    if kind in (_STR, _BIN):
        return parse_number_text(_text(arg))
    raise _mismatch("a number", kind)


def _deeper(depth: int) -> int:
    if depth >= MAX_NESTING_DEPTH:
        raise CtyError(f"msgpack value nests more than {MAX_NESTING_DEPTH} levels deep")
    return depth + 1


def _decode(reader: _Reader, ty: CtyType, depth: int) -> object:
    kind, arg = reader.read()
    if kind == _EXT:
        assert isinstance(arg, tuple)
        return _decode_unknown(arg[0], arg[1], ty)
    if isinstance(ty, PrimitiveType):
        name = ty.name
        if name == "dynamic":
            return _decode_dynamic(reader, kind, arg, depth)
        if kind == _NIL:
            return None
        if name == "string":
            if kind in (_STR, _BIN):
                return _text(arg)
            raise _mismatch("a string", kind)
        if name == "number":
            return _number_from(kind, arg)
        if kind == _BOOL:
            return arg
        raise _mismatch("a bool", kind)
    if kind == _NIL:
        return None
    if isinstance(ty, List | Set):
        if kind != _ARRAY:
            raise _mismatch(f"a {ty.kind} (msgpack array)", kind)
        assert isinstance(arg, int)
        element_type = ty.element
        inner_depth = _deeper(depth)
        return [_decode_child(reader, index, element_type, inner_depth) for index in range(arg)]
    if isinstance(ty, Tuple):
        if kind != _ARRAY:
            raise _mismatch("a tuple (msgpack array)", kind)
        if arg != len(ty.elements):
            raise CtyError(f"expected a tuple of {len(ty.elements)} element(s), got {arg}")
        inner_depth = _deeper(depth)
        return [
            _decode_child(reader, index, element_type, inner_depth)
            for index, element_type in enumerate(ty.elements)
        ]
    if isinstance(ty, Map):
        if kind != _MAP:
            raise _mismatch("a map (msgpack map)", kind)
        assert isinstance(arg, int)
        return _decode_map(reader, arg, ty.element, _deeper(depth))
    if isinstance(ty, Object):
        if kind != _MAP:
            raise _mismatch("an object (msgpack map)", kind)
        assert isinstance(arg, int)
        return _decode_object(reader, arg, ty, _deeper(depth))
    raise CtyError(f"cannot decode values of unsupported type {ty!r}")


def _decode_child(reader: _Reader, step: str | int, ty: CtyType, depth: int) -> object:
    try:
        return _decode(reader, ty, depth)
    except CtyError as err:
        raise err.add_parent(step) from None


def _read_key(reader: _Reader, what: str) -> str:
    kind, arg = reader.read()
    if kind not in (_STR, _BIN):
        raise CtyError(f"{what} must be strings, got {_KIND_NAMES[kind]}")
    return _text(arg)


def _decode_map(reader: _Reader, count: int, element_type: CtyType, depth: int) -> dict[str, object]:
    result: dict[str, object] = {}
    for _ in range(count):
        key = _read_key(reader, "map keys")
        if key in result:
            raise CtyError(f"duplicate map key {key!r}")
        result[key] = _decode_child(reader, key, element_type, depth)
    return result


def _decode_object(reader: _Reader, count: int, ty: Object, depth: int) -> dict[str, object]:
    attributes = ty.attributes
    found: dict[str, object] = {}
    for _ in range(count):
        name = _read_key(reader, "object attribute names")
        attribute_type = attributes.get(name)
        if attribute_type is None:
            expected = ", ".join(attributes) or "none"
            raise CtyError(f"unsupported attribute {name!r}; expected one of: {expected}")
        if name in found:
            raise CtyError(f"attribute {name!r} appears more than once")
        found[name] = _decode_child(reader, name, attribute_type, depth)
    return {name: found.get(name) for name in attributes}


def _decode_dynamic(reader: _Reader, kind: int, arg: object, depth: int) -> object:
    if kind == _NIL:
        return None
    if kind != _ARRAY or arg != 2:
        raise CtyError(
            f"a dynamic-typed value must be a 2-element array [type, value], got {_KIND_NAMES[kind]}"
            + (f" of {arg} element(s)" if kind == _ARRAY else "")
        )
    inner_depth = _deeper(depth)
    type_kind, type_json = reader.read()
    if type_kind not in (_STR, _BIN):
        raise CtyError(
            f"a dynamic-typed value must start with its type as JSON bytes, got {_KIND_NAMES[type_kind]}"
        )
    assert isinstance(type_json, bytes)
    concrete = type_from_json_bytes(type_json)
    if concrete == DYNAMIC:
        # Only a hand-made payload says "dynamic" here; its value is then itself dynamically typed.
        return _decode(reader, concrete, inner_depth)
    return DynamicValue(concrete, _decode(reader, concrete, inner_depth))


def _decode_unknown(ext_type: int, payload: bytes, ty: CtyType) -> object:
    if ext_type == EXT_UNKNOWN or len(payload) <= 1:
        return UNKNOWN
    if ext_type != EXT_REFINED_UNKNOWN:
        raise CtyError(
            f"unsupported msgpack extension type {ext_type} with {len(payload)} byte(s) of payload; "
            "only unknown values (extension 0 or 12) may appear"
        )
    if len(payload) > MAX_REFINEMENT_BYTES:
        raise CtyError(
            f"unknown value refinements are {len(payload)} bytes, over the {MAX_REFINEMENT_BYTES}-byte limit"
        )
    try:
        return _decode_refinements(_Reader(payload), ty)
    except CtyError as err:
        raise CtyError(f"invalid unknown value refinements: {err}", err.path) from None


def _decode_refinements(reader: _Reader, ty: CtyType) -> Unknown | None:
    kind, count = reader.read()
    if kind != _MAP:
        raise CtyError(f"expected a map, got {_KIND_NAMES[kind]}")
    assert isinstance(count, int)
    if ty == DYNAMIC:
        return UNKNOWN
    is_null = not_null = False
    string_prefix: str | None = None
    bounds: dict[int, tuple[Decimal, bool]] = {}
    lengths: dict[int, int] = {}
    for _ in range(count):
        key_kind, key = reader.read()
        if key_kind != _INT:
            raise CtyError(f"refinement keys must be integers, got {_KIND_NAMES[key_kind]}")
        if key == REFINE_NULLNESS:
            value_kind, flag = reader.read()
            if value_kind != _BOOL:
                raise CtyError(f"the nullness refinement must be a bool, got {_KIND_NAMES[value_kind]}")
            is_null, not_null = bool(flag), not flag
        elif key == REFINE_STRING_PREFIX:
            if ty != STRING:
                raise CtyError(f"a string prefix refinement does not apply to {ty}")
            value_kind, prefix = reader.read()
            if value_kind not in (_STR, _BIN):
                raise CtyError(
                    f"the string prefix refinement must be a string, got {_KIND_NAMES[value_kind]}"
                )
            string_prefix = _text(prefix)
        elif key in (REFINE_NUMBER_LOWER, REFINE_NUMBER_UPPER):
            if ty != NUMBER:
                raise CtyError(f"a number bound refinement does not apply to {ty}")
            bounds[key] = _decode_bound(reader)
        elif key in (REFINE_LENGTH_LOWER, REFINE_LENGTH_UPPER):
            if not isinstance(ty, List | Set | Map):
                raise CtyError(f"a length bound refinement does not apply to {ty}")
            value_kind, length = reader.read()
            if value_kind != _INT or not isinstance(length, int) or length < 0:
                raise CtyError("a length bound refinement must be a non-negative integer")
            lengths[key] = length
        else:
            _skip(reader, 0)  # a refinement from a newer Terraform; ignoring it only loses precision
    # Bytes after the map are ignored, as go-cty does, to leave room for future extensions.
    if is_null:
        return None
    return Unknown(
        not_null=not_null,
        string_prefix=string_prefix,
        number_lower=bounds.get(REFINE_NUMBER_LOWER),
        number_upper=bounds.get(REFINE_NUMBER_UPPER),
        length_lower=lengths.get(REFINE_LENGTH_LOWER),
        length_upper=lengths.get(REFINE_LENGTH_UPPER),
    )


def _decode_bound(reader: _Reader) -> tuple[Decimal, bool]:
    kind, count = reader.read()
    if kind != _ARRAY or count != 2:
        raise CtyError("a number bound refinement must be a [number, inclusive] array")
    number_kind, number = reader.read()
    bound = _number_from(number_kind, number)
    flag_kind, inclusive = reader.read()
    if flag_kind != _BOOL:
        raise CtyError("a number bound refinement must be a [number, inclusive] array")
    assert isinstance(inclusive, bool)
    return bound, inclusive


def _skip(reader: _Reader, depth: int) -> None:
    """Consume one item of any shape (used for refinement keys we do not know)."""
    kind, arg = reader.read()
    if kind in (_ARRAY, _MAP):
        assert isinstance(arg, int)
        inner = _deeper(depth)
        for _ in range(arg * (2 if kind == _MAP else 1)):
            _skip(reader, inner)
