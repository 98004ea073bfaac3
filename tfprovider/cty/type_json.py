"""The JSON form of cty types, as go-cty writes it (`"string"`, `["list","string"]`, ...).

Terraform puts this form inside dynamically-typed msgpack values and inside JSON values, so the
parser sees bytes from another process: it accepts exactly go-cty's grammar, bounds nesting depth and
raises `CtyError` for anything else. Objects with optional attributes carry a third element listing
them, sorted: `["object",{"a":"string","b":"number"},["b"]]`.
"""

from __future__ import annotations

from collections.abc import Mapping

from tfprovider.cty._json_text import dumps_compact, load_json
from tfprovider.cty.errors import CtyError
from tfprovider.cty.limits import MAX_NESTING_DEPTH
from tfprovider.cty.types import (
    BOOL,
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

_PRIMITIVES: dict[str, CtyType] = {"string": STRING, "number": NUMBER, "bool": BOOL, "dynamic": DYNAMIC}
_COLLECTIONS: dict[str, type[List | Set | Map]] = {"list": List, "set": Set, "map": Map}
_KIND_NAMES = "list, set, map, tuple, object"


def type_to_json(t: CtyType) -> object:
    """The JSON-able Python form of `t`, e.g. `["map", ["list", "string"]]`."""
    return _to_json(t, 0)


def _to_json(t: CtyType, depth: int) -> object:
    if depth > MAX_NESTING_DEPTH:
        raise CtyError(f"type nests more than {MAX_NESTING_DEPTH} levels deep")
    if isinstance(t, PrimitiveType):
        return t.name
    if isinstance(t, List | Set | Map):
        return [t.kind, _to_json(t.element, depth + 1)]
    if isinstance(t, Tuple):
        return ["tuple", [_to_json(e, depth + 1) for e in t.elements]]
    if isinstance(t, Object):
        attrs = {name: _to_json(a, depth + 1) for name, a in t.attributes.items()}
        if t.optional:
            return ["object", attrs, sorted(t.optional)]
        return ["object", attrs]
    raise CtyError(f"{t!r} is not a cty type")


def type_to_json_bytes(t: CtyType) -> bytes:
    """Compact JSON bytes for `t`, byte-identical to go-cty's `Type.MarshalJSON`."""
    return dumps_compact(type_to_json(t)).encode("utf-8")


def type_from_json(obj: object) -> CtyType:
    """Parse the JSON-able form of a type (as produced by `json.loads`); raises CtyError if malformed."""
    return _from_json(obj, 0)


def type_from_json_bytes(data: bytes | bytearray | memoryview) -> CtyType:
    """Parse a type from JSON bytes; raises CtyError on invalid JSON or an invalid type description."""
    return _from_json(load_json(data, "type description"), 0)


def _describe(obj: object) -> str:
    if isinstance(obj, str):
        return f"the string {obj!r}"
    if isinstance(obj, list | tuple):
        return f"an array of {len(obj)} element(s)"
    if isinstance(obj, Mapping):
        return "a JSON object"
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "a boolean"
    return "a number"


def _from_json(obj: object, depth: int) -> CtyType:
    if depth > MAX_NESTING_DEPTH:
        raise CtyError(f"type description nests more than {MAX_NESTING_DEPTH} levels deep")
    if isinstance(obj, str):
        primitive = _PRIMITIVES.get(obj)
        if primitive is None:
            raise CtyError(f"unknown type name {obj!r}; expected string, number, bool or dynamic")
        return primitive
    if not isinstance(obj, list | tuple):
        raise CtyError(f"invalid type description: expected a type name or an array, got {_describe(obj)}")
    if not obj or not isinstance(obj[0], str):
        raise CtyError(f"invalid type description: an array must start with a type kind ({_KIND_NAMES})")
    kind = obj[0]
    if kind == "object":
        return _object_from_json(obj, depth)
    if len(obj) != 2:
        raise CtyError(f"invalid {kind!r} type description: expected [{kind!r}, ...] with exactly 2 elements")
    if kind in _COLLECTIONS:
        return _COLLECTIONS[kind](_from_json(obj[1], depth + 1))
    if kind == "tuple":
        elements = obj[1]
        if not isinstance(elements, list | tuple):
            raise CtyError(
                f"invalid tuple type description: expected an array of types, got {_describe(elements)}"
            )
        return Tuple(_from_json(e, depth + 1) for e in elements)
    raise CtyError(f"unknown type kind {kind!r}; expected one of {_KIND_NAMES}")


def _object_from_json(obj: list[object] | tuple[object, ...], depth: int) -> Object:
    if len(obj) not in (2, 3):
        raise CtyError(
            "invalid object type description: expected ['object', {attributes}] or with a third "
            "element listing optional attributes"
        )
    attrs = obj[1]
    if not isinstance(attrs, Mapping):
        raise CtyError(
            f"invalid object type description: attributes must be a JSON object, got {_describe(attrs)}"
        )
    attr_types: dict[str, CtyType] = {}
    for name, attr_json in attrs.items():
        if not isinstance(name, str):
            raise CtyError("invalid object type description: attribute names must be strings")
        attr_types[name] = _from_json(attr_json, depth + 1)
    optional: list[str] = []
    if len(obj) == 3:
        names = obj[2]
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise CtyError("invalid object type description: optional attributes must be an array of names")
        missing = sorted(n for n in names if n not in attr_types)
        if missing:
            raise CtyError(
                f"invalid object type description: optional attribute(s) {', '.join(missing)} "
                "are not declared"
            )
        optional = list(names)
    return Object(attr_types, optional)
