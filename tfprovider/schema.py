"""Schemas as plain data: what Terraform is told about the provider's and resources' attributes.

The value type of a schema (``Block.value_type``) is what every ``DynamicValue`` for that
resource is decoded with, so the schema is the single source of truth for both the wire and
the documentation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tfprovider.cty import CtyType, Object

_ATTRIBUTE_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class Attribute:
    """One attribute. Exactly one of required / optional / computed / optional+computed."""

    name: str
    type: CtyType
    description: str
    required: bool = False
    optional: bool = False
    computed: bool = False
    sensitive: bool = False
    deprecated: bool = False
    write_only: bool = False

    def __post_init__(self) -> None:
        if not _ATTRIBUTE_NAME.match(self.name):
            raise ValueError(f"attribute name {self.name!r} must match ^[a-z0-9_]+$")
        if self.required and (self.optional or self.computed):
            raise ValueError(f"attribute {self.name!r}: required excludes optional and computed")
        if not (self.required or self.optional or self.computed):
            raise ValueError(f"attribute {self.name!r} must be required, optional or computed")
        if not self.description:
            raise ValueError(f"attribute {self.name!r} needs a description")


@dataclass(frozen=True)
class Block:
    attributes: tuple[Attribute, ...]
    description: str = ""
    deprecated: bool = False

    def value_type(self) -> Object:
        """The cty object type of values conforming to this block."""
        return Object({a.name: a.type for a in self.attributes})

    def attribute(self, name: str) -> Attribute:
        for attr in self.attributes:
            if attr.name == name:
                return attr
        raise KeyError(name)


@dataclass(frozen=True)
class Schema:
    block: Block
    version: int = 0
    sensitive_names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        names = frozenset(a.name for a in self.block.attributes if a.sensitive)
        object.__setattr__(self, "sensitive_names", names)

    def value_type(self) -> Object:
        return self.block.value_type()


@dataclass(frozen=True)
class IdentityAttribute:
    """One attribute of a resource identity (Terraform 1.12+): a string, number or bool that,
    with the others, names one remote object on its own."""

    name: str
    type: CtyType
    description: str
    required_for_import: bool = False
    optional_for_import: bool = False

    def __post_init__(self) -> None:
        if not _ATTRIBUTE_NAME.match(self.name):
            raise ValueError(f"identity attribute name {self.name!r} must match ^[a-z0-9_]+$")
        if self.required_for_import == self.optional_for_import:
            raise ValueError(
                f"identity attribute {self.name!r} must be exactly one of required_for_import "
                "and optional_for_import"
            )
        if not self.description:
            raise ValueError(f"identity attribute {self.name!r} needs a description")


@dataclass(frozen=True)
class IdentitySchema:
    """A resource type's identity: what Terraform stores beside the state, and what an `import`
    block's `identity` argument must hold. ``version`` is bumped only if the attributes change."""

    attributes: tuple[IdentityAttribute, ...]
    version: int = 0

    def value_type(self) -> Object:
        return Object({a.name: a.type for a in self.attributes})
