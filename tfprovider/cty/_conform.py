"""Checks that a Python value handed to an encoder has the shape its cty type demands.

Both encoders (msgpack and JSON) walk the same Python values, so the shape rules live here once:
which Python types stand for which cty types, and how an object's attributes are matched up. The
messages name the expected cty shape and the Python type actually found, which is what a provider
author needs to fix the call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from tfprovider.cty.errors import CtyError
from tfprovider.cty.types import Object, Tuple
from tfprovider.cty.values import DynamicValue, Unknown

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def python_kind(value: object) -> str:
    """A short description of a Python value's type for error messages."""
    if value is None:
        return "None"
    if isinstance(value, Unknown):
        return "an unknown value"
    if isinstance(value, DynamicValue):
        return f"a DynamicValue of type {value.type}"
    return type(value).__name__


def expect_str(value: object) -> str:
    if not isinstance(value, str):
        raise CtyError(f"expected a string, got {python_kind(value)}")
    if _LONE_SURROGATE.search(value) is not None:
        raise CtyError("string contains a lone surrogate and cannot be encoded as UTF-8")
    return value


def expect_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise CtyError(f"expected a bool, got {python_kind(value)}")
    return value


def expect_sequence(value: object, what: str) -> Sequence[object]:
    """A list or tuple standing for a cty list, set or tuple (`what` names which)."""
    if not isinstance(value, list | tuple):
        raise CtyError(f"expected a {what} (Python list or tuple), got {python_kind(value)}")
    return value


def expect_tuple_elements(value: object, ty: Tuple) -> Sequence[object]:
    elements = expect_sequence(value, "tuple")
    if len(elements) != len(ty.elements):
        raise CtyError(f"expected a tuple of {len(ty.elements)} element(s), got {len(elements)}")
    return elements


def expect_map_items(value: object) -> list[tuple[str, object]]:
    """The (key, element) pairs of a map value, sorted by key as go-cty writes them."""
    if not isinstance(value, Mapping):
        raise CtyError(f"expected a map (Python dict), got {python_kind(value)}")
    items: list[tuple[str, object]] = []
    for key, element in value.items():
        if not isinstance(key, str):
            raise CtyError(f"map keys must be strings, got {python_kind(key)} key {key!r}")
        items.append((expect_str(key), element))
    items.sort(key=lambda item: item[0])
    return items


def object_attribute_values(value: object, ty: Object) -> list[tuple[str, object]]:
    """Every attribute of `ty` in name order with its value; optional attributes may be absent (null).

    An attribute the type does not declare is an error: it would otherwise be dropped silently.
    """
    if not isinstance(value, Mapping):
        raise CtyError(f"expected an object (Python dict), got {python_kind(value)}")
    attributes = ty.attributes
    for name in value:
        if name not in attributes:
            expected = ", ".join(attributes) or "none"
            raise CtyError(f"unexpected attribute {name!r}; the object's attributes are: {expected}")
    result: list[tuple[str, object]] = []
    for name in attributes:
        if name in value:
            result.append((name, value[name]))
        elif name in ty.optional:
            result.append((name, None))
        else:
            raise CtyError(f"missing required attribute {name!r} (set it to None for null)")
    return result


def expect_dynamic(value: object) -> DynamicValue:
    if not isinstance(value, DynamicValue):
        raise CtyError(
            f"a dynamic-typed value must be a DynamicValue(type, value), None or an Unknown, "
            f"got {python_kind(value)}"
        )
    return value
