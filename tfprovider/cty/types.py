"""cty types: the shapes Terraform values can take (string, number, bool, dynamic and the containers).

Types are immutable and hashable so schemas can be module-level constants, dictionary keys and
cache keys; equality is structural. Each type caches its hash at construction, which keeps hashing
constant-time however deeply types nest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, NoReturn

from tfprovider.cty.errors import CtyError


class CtyType:
    """Base of all cty types. Subclasses are immutable; compare them with `==`."""

    __slots__ = ("_hash",)
    _hash: int

    def _key(self) -> tuple[object, ...]:
        """The structural identity of the type; equal keys mean equal types."""
        raise NotImplementedError

    def _init_hash(self) -> None:
        object.__setattr__(self, "_hash", hash((type(self).__name__, *self._key())))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, CtyType):
            return NotImplemented
        return type(self) is type(other) and self._hash == other._hash and self._key() == other._key()

    def __hash__(self) -> int:
        return self._hash


_PRIMITIVE_NAMES = ("string", "number", "bool", "dynamic")


class PrimitiveType(CtyType):
    """`string`, `number`, `bool`, or the `dynamic` pseudo-type (any type, decided at run time).

    Use the module constants STRING, NUMBER, BOOL and DYNAMIC rather than constructing these.
    """

    __slots__ = ("name",)
    name: str

    def __init__(self, name: str) -> None:
        if name not in _PRIMITIVE_NAMES:
            raise CtyError(f"unknown primitive type {name!r}; expected one of {', '.join(_PRIMITIVE_NAMES)}")
        object.__setattr__(self, "name", name)
        self._init_hash()

    def _key(self) -> tuple[object, ...]:
        return (self.name,)

    def __reduce__(self) -> tuple[Any, ...]:
        return (PrimitiveType, (self.name,))

    def __repr__(self) -> str:
        return self.name.upper()

    def __str__(self) -> str:
        # Terraform's type-constraint syntax spells the dynamic pseudo-type `any`.
        return "any" if self.name == "dynamic" else self.name


STRING = PrimitiveType("string")
NUMBER = PrimitiveType("number")
BOOL = PrimitiveType("bool")
DYNAMIC = PrimitiveType("dynamic")


def _require_type(value: object, role: str) -> CtyType:
    if not isinstance(value, CtyType):
        raise TypeError(f"{role} must be a CtyType, got {type(value).__name__}")
    return value


class _CollectionType(CtyType):
    """Shared shape of list, set and map: every element has the same type."""

    __slots__ = ("element",)
    element: CtyType
    kind: ClassVar[str]

    def __init__(self, element: CtyType) -> None:
        object.__setattr__(self, "element", _require_type(element, f"{self.kind} element type"))
        self._init_hash()

    def _key(self) -> tuple[object, ...]:
        return (self.element,)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.element,))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.element!r})"

    def __str__(self) -> str:
        return f"{self.kind}({self.element})"


class List(_CollectionType):
    """An ordered sequence of elements of one type; Python value: list."""

    __slots__ = ()
    kind = "list"


class Set(_CollectionType):
    """An unordered collection of distinct elements of one type; Python value: list (wire order)."""

    __slots__ = ()
    kind = "set"


class Map(_CollectionType):
    """String keys to elements of one type; Python value: dict[str, value]."""

    __slots__ = ()
    kind = "map"


class Tuple(CtyType):
    """A fixed-length sequence whose positions each have their own type; Python value: list."""

    __slots__ = ("elements",)
    elements: tuple[CtyType, ...]

    def __init__(self, elements: Iterable[CtyType]) -> None:
        checked = tuple(_require_type(e, f"tuple element {i}") for i, e in enumerate(elements))
        object.__setattr__(self, "elements", checked)
        self._init_hash()

    def _key(self) -> tuple[object, ...]:
        return self.elements

    def __reduce__(self) -> tuple[Any, ...]:
        return (Tuple, (self.elements,))

    def __repr__(self) -> str:
        return f"Tuple({self.elements!r})"

    def __str__(self) -> str:
        return "tuple([" + ", ".join(str(e) for e in self.elements) + "])"


class Object(CtyType):
    """Named attributes, each with its own type; Python value: dict[str, value] carrying all of them.

    `optional` names attributes that may be left out of a value handed to an encoder (they are then
    written as null). On the wire an object always carries every attribute.
    """

    __slots__ = ("_attributes", "_items", "optional")
    _items: tuple[tuple[str, CtyType], ...]
    _attributes: Mapping[str, CtyType]
    optional: frozenset[str]

    def __init__(self, attributes: Mapping[str, CtyType], optional: Iterable[str] = frozenset()) -> None:
        items: list[tuple[str, CtyType]] = []
        for name, attr_type in attributes.items():
            if not isinstance(name, str):
                raise TypeError(f"object attribute names must be strings, got {type(name).__name__}")
            items.append((name, _require_type(attr_type, f"type of attribute {name!r}")))
        items.sort(key=lambda item: item[0])
        optional_names = frozenset(optional)
        unknown = sorted(n for n in optional_names if not isinstance(n, str) or n not in attributes)
        if unknown:
            raise CtyError(
                f"optional attribute(s) {', '.join(map(repr, unknown))} are not attributes of the object"
            )
        object.__setattr__(self, "_items", tuple(items))
        object.__setattr__(self, "_attributes", MappingProxyType(dict(items)))
        object.__setattr__(self, "optional", optional_names)
        self._init_hash()

    @property
    def attributes(self) -> Mapping[str, CtyType]:
        """Attribute name to type, in sorted name order (read-only)."""
        return self._attributes

    def _key(self) -> tuple[object, ...]:
        return (self._items, self.optional)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Object, (dict(self._items), self.optional))

    def __repr__(self) -> str:
        attrs = "{" + ", ".join(f"{name!r}: {t!r}" for name, t in self._items) + "}"
        if self.optional:
            return f"Object({attrs}, optional={sorted(self.optional)!r})"
        return f"Object({attrs})"

    def __str__(self) -> str:
        parts = []
        for name, t in self._items:
            parts.append(f"{name}=optional({t})" if name in self.optional else f"{name}={t}")
        return "object({" + ", ".join(parts) + "})"
