"""How cty values look in Python: plain Python data plus two small marker types.

Provider logic mostly reads and writes ordinary Python (None, str, Decimal, bool, list, dict), so the
only non-builtin pieces are `Unknown` (a value Terraform will only learn during apply, possibly
with refinements narrowing what it can be) and `DynamicValue` (a value whose type is chosen at run
time and therefore travels with it).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from tfprovider.cty.types import CtyType


@dataclass(frozen=True, repr=False)
class Unknown:
    """A value not known until apply, with optional refinements (Terraform >= 1.6).

    Refinements let Terraform reason about an unknown during plan. Only the ones that fit the value's
    type may be set: `string_prefix` for strings, number bounds for numbers, length bounds for lists,
    sets and maps; `not_null` fits any type except dynamic. Bounds are `(bound, inclusive)` pairs.
    """

    not_null: bool = False
    string_prefix: str | None = None
    number_lower: tuple[Decimal, bool] | None = None
    number_upper: tuple[Decimal, bool] | None = None
    length_lower: int | None = None
    length_upper: int | None = None

    @property
    def is_refined(self) -> bool:
        """True if any refinement is set, so the value needs the refined wire form."""
        return (
            self.not_null
            or self.string_prefix is not None
            or self.number_lower is not None
            or self.number_upper is not None
            or self.length_lower is not None
            or self.length_upper is not None
        )

    def __repr__(self) -> str:
        # Show only the refinements that are set: Unknown() / Unknown(not_null=True, string_prefix='a-').
        values = ((f.name, getattr(self, f.name), f.default) for f in fields(self))
        shown = [f"{name}={value!r}" for name, value, default in values if value != default]
        return f"Unknown({', '.join(shown)})"


UNKNOWN = Unknown()


@dataclass(frozen=True)
class DynamicValue:
    """A value of a `dynamic`-typed attribute: the concrete type chosen at run time, and the value.

    `value` follows the usual Python mapping for `type` (and may itself be None or an `Unknown`).
    """

    type: CtyType
    value: object


def is_known(value: object) -> bool:
    """False only for an `Unknown`; a known container may still hold unknowns (see is_wholly_known)."""
    return not isinstance(value, Unknown)


def is_wholly_known(value: object) -> bool:
    """True if no `Unknown` appears anywhere inside `value`, however deeply nested."""
    pending: list[object] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, Unknown):
            return False
        if isinstance(item, DynamicValue):
            pending.append(item.value)
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return True
