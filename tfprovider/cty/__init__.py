"""The cty type and value system Terraform speaks, with its msgpack and JSON encodings.

Types are immutable objects (STRING, List(NUMBER), Object({...}), ...). Values are plain Python:
None for null, str, decimal.Decimal for numbers, bool, list for lists/sets/tuples, dict for
maps/objects, plus `Unknown` for values known only after apply and `DynamicValue` for values of
dynamic-typed attributes. Every problem with a value, a type or encoded bytes raises `CtyError`.
"""

from tfprovider.cty.errors import CtyError
from tfprovider.cty.json_codec import decode_json, encode_json
from tfprovider.cty.msgpack_codec import decode_msgpack, encode_msgpack
from tfprovider.cty.type_json import type_from_json, type_from_json_bytes, type_to_json, type_to_json_bytes
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
from tfprovider.cty.values import UNKNOWN, DynamicValue, Unknown, is_known, is_wholly_known

__all__ = [
    "BOOL",
    "DYNAMIC",
    "NUMBER",
    "STRING",
    "UNKNOWN",
    "CtyError",
    "CtyType",
    "DynamicValue",
    "List",
    "Map",
    "Object",
    "PrimitiveType",
    "Set",
    "Tuple",
    "Unknown",
    "decode_json",
    "decode_msgpack",
    "encode_json",
    "encode_msgpack",
    "is_known",
    "is_wholly_known",
    "type_from_json",
    "type_from_json_bytes",
    "type_to_json",
    "type_to_json_bytes",
]
