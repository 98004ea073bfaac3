"""cty values as JSON, the form go-cty's cty/json package uses (Terraform's raw_state, for one).

Objects and maps are JSON objects (keys sorted; an object writes every attribute, nulls included),
lists, sets and tuples are arrays, numbers are written as exact decimal text (no exponent, no
float rounding: 0.8 stays 0.8) and a dynamically-typed value is `{"value": ..., "type": <type JSON>}`.
JSON has no way to say "unknown", so encoding an `Unknown` is an error.

Decoding reads numbers from their source text into Decimal, reports an attribute the type does not
declare, and treats an absent attribute as null. Like go-cty it also converts the few scalar forms
that older state files contain: numbers and bools where a string is expected, "true"/"false" where
a bool is expected and numeric strings where a number is expected. Duplicate keys are rejected.
"""

from __future__ import annotations

from tfprovider.cty._conform import (
    expect_bool,
    expect_dynamic,
    expect_map_items,
    expect_sequence,
    expect_str,
    expect_tuple_elements,
    object_attribute_values,
)
from tfprovider.cty._json_text import JsonNumber, clean_string, dumps_compact, load_json, quote_string
from tfprovider.cty.errors import CtyError
from tfprovider.cty.limits import MAX_NESTING_DEPTH
from tfprovider.cty.numbers import coerce_number, number_text, parse_number_text
from tfprovider.cty.type_json import type_from_json, type_to_json
from tfprovider.cty.types import DYNAMIC, CtyType, List, Map, Object, PrimitiveType, Set, Tuple
from tfprovider.cty.values import DynamicValue, Unknown


def encode_json(value: object, ty: CtyType) -> bytes:
    """Encode a wholly known Python cty value of type `ty` as compact JSON bytes."""
    parts: list[str] = []
    _write(value, ty, parts, 0)
    return "".join(parts).encode("utf-8")


def _nested(depth: int) -> int:
    if depth >= MAX_NESTING_DEPTH:
        raise CtyError(f"value nests more than {MAX_NESTING_DEPTH} levels deep")
    return depth + 1


def _write_child(step: str | int, value: object, ty: CtyType, parts: list[str], depth: int) -> None:
    try:
        _write(value, ty, parts, depth)
    except CtyError as err:
        raise err.add_parent(step) from None


def _write(value: object, ty: CtyType, parts: list[str], depth: int) -> None:
    if value is None:
        parts.append("null")
        return
    if isinstance(value, Unknown):
        raise CtyError("value is unknown, and JSON cannot represent unknown values")
    if isinstance(ty, PrimitiveType):
        if ty.name == "string":
            parts.append(quote_string(expect_str(value)))
        elif ty.name == "number":
            number = coerce_number(value)
            if not number.is_finite():
                raise CtyError(f"{number} cannot be written as a JSON number")
            parts.append(number_text(number))
        elif ty.name == "bool":
            parts.append("true" if expect_bool(value) else "false")
        else:
            _write_dynamic(expect_dynamic(value), parts, depth)
        return
    inner = _nested(depth)
    if isinstance(ty, List | Set | Tuple):
        if isinstance(ty, Tuple):
            pairs = list(zip(expect_tuple_elements(value, ty), ty.elements, strict=True))
        else:
            pairs = [(element, ty.element) for element in expect_sequence(value, ty.kind)]
        parts.append("[")
        for index, (element, element_type) in enumerate(pairs):
            if index:
                parts.append(",")
            _write_child(index, element, element_type, parts, inner)
        parts.append("]")
        return
    if isinstance(ty, Map | Object):
        if isinstance(ty, Map):
            items = [(key, element, ty.element) for key, element in expect_map_items(value)]
        else:
            attributes = ty.attributes
            items = [
                (name, element, attributes[name]) for name, element in object_attribute_values(value, ty)
            ]
        parts.append("{")
        for index, (key, element, element_type) in enumerate(items):
            if index:
                parts.append(",")
            parts.append(quote_string(key))
            parts.append(":")
            _write_child(key, element, element_type, parts, inner)
        parts.append("}")
        return
    raise CtyError(f"cannot encode values of unsupported type {ty!r}")


def _write_dynamic(value: DynamicValue, parts: list[str], depth: int) -> None:
    if value.type == DYNAMIC:
        raise CtyError("a DynamicValue's type must be concrete, not dynamic")
    type_json = dumps_compact(type_to_json(value.type))
    parts.append('{"value":')
    _write(value.value, value.type, parts, _nested(depth))
    parts.append(',"type":')
    parts.append(type_json)
    parts.append("}")


def decode_json(data: bytes | bytearray | memoryview, ty: CtyType) -> object:
    """Decode JSON bytes as a value of type `ty`; raises CtyError (only) on any malformed input."""
    return _read(load_json(data, "JSON value"), ty, 0)


def _json_kind(node: object) -> str:
    if node is None:
        return "null"
    if isinstance(node, bool):
        return "a JSON boolean"
    if isinstance(node, str):
        return "a JSON string"
    if isinstance(node, JsonNumber):
        return "a JSON number"
    if isinstance(node, list):
        return "a JSON array"
    return "a JSON object"


def _mismatch(expected: str, node: object) -> CtyError:
    return CtyError(f"expected {expected}, got {_json_kind(node)}")


def _read_child(step: str | int, node: object, ty: CtyType, depth: int) -> object:
    try:
        return _read(node, ty, depth)
    except CtyError as err:
        raise err.add_parent(step) from None


def _read(node: object, ty: CtyType, depth: int) -> object:
    if node is None:
        return None
    if isinstance(ty, PrimitiveType):
        return _read_primitive(node, ty, depth)
    inner = _nested(depth)
    if isinstance(ty, List | Set):
        if not isinstance(node, list):
            raise _mismatch(f"a {ty.kind} (JSON array)", node)
        element_type = ty.element
        return [_read_child(index, element, element_type, inner) for index, element in enumerate(node)]
    if isinstance(ty, Tuple):
        if not isinstance(node, list):
            raise _mismatch("a tuple (JSON array)", node)
        if len(node) != len(ty.elements):
            raise CtyError(f"expected a tuple of {len(ty.elements)} element(s), got {len(node)}")
        return [
            _read_child(index, element, element_type, inner)
            for index, (element, element_type) in enumerate(zip(node, ty.elements, strict=True))
        ]
    if isinstance(ty, Map):
        if not isinstance(node, dict):
            raise _mismatch("a map (JSON object)", node)
        element_type = ty.element
        return {key: _read_child(key, element, element_type, inner) for key, element in node.items()}
    if isinstance(ty, Object):
        if not isinstance(node, dict):
            raise _mismatch("an object (JSON object)", node)
        attributes = ty.attributes
        for name in node:
            if name not in attributes:
                expected = ", ".join(attributes) or "none"
                raise CtyError(f"unsupported attribute {name!r}; expected one of: {expected}")
        return {
            name: _read_child(name, node[name], attribute_type, inner) if name in node else None
            for name, attribute_type in attributes.items()
        }
    raise CtyError(f"cannot decode values of unsupported type {ty!r}")


def _read_primitive(node: object, ty: PrimitiveType, depth: int) -> object:
    name = ty.name
    if name == "string":
        if isinstance(node, str):
            return clean_string(node)
        if isinstance(node, JsonNumber):
            return node.text
        if isinstance(node, bool):
            return "true" if node else "false"
        raise _mismatch("a string", node)
    if name == "number":
        if isinstance(node, JsonNumber):
            return parse_number_text(node.text)
        if isinstance(node, str):
            return parse_number_text(node)
        raise _mismatch("a number", node)
    if name == "bool":
        if isinstance(node, bool):
            return node
        if node in ("true", "false"):
            return node == "true"
        raise _mismatch("a bool", node)
    return _read_dynamic(node, depth)


def _read_dynamic(node: object, depth: int) -> object:
    if not isinstance(node, dict) or set(node) != {"value", "type"}:
        raise CtyError(
            f'a dynamic-typed value must be a JSON object {{"value": ..., "type": ...}}, '
            f"got {_json_kind(node)}" + (f" with keys {sorted(node)}" if isinstance(node, dict) else "")
        )
    concrete = type_from_json(node["type"])
    inner = _nested(depth)
    if concrete == DYNAMIC:
        # Only hand-written JSON says "dynamic" here; its value is then itself dynamically typed.
        return _read(node["value"], concrete, inner)
    return DynamicValue(concrete, _read(node["value"], concrete, inner))
