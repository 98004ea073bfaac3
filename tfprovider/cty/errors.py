"""The one exception type the cty package raises, carrying the path to the offending part.

Decoders read bytes that arrive from another process, so every problem with those bytes (and every
problem with a Python value handed to an encoder) surfaces as a `CtyError`: callers catch exactly one
type and turn it into a diagnostic. The path is kept separate from the message so a caller can map it
onto a Terraform attribute path, while `str(err)` still reads well on its own.
"""

from __future__ import annotations

import json
import re

PathStep = str | int

_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def format_path(path: tuple[PathStep, ...]) -> str:
    """Render a path the way a Terraform user would write it: `.tags["team"][0]`.

    Attribute names and map keys are both strings here, so a string that looks like an identifier is
    shown with a dot and anything else in brackets; either way the user can find the spot.
    """
    parts: list[str] = []
    for step in path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _BARE_NAME.match(step):
            parts.append(f".{step}")
        else:
            parts.append(f"[{json.dumps(step, ensure_ascii=False)}]")
    return "".join(parts)


class CtyError(ValueError):
    """A value, type or encoded payload that does not fit the cty type system or its wire formats.

    `message` says what is wrong; `path` lists the attribute names, element indexes and map keys that
    lead from the top-level value to the bad part (empty when the problem is the value as a whole).
    """

    message: str
    path: tuple[PathStep, ...]

    def __init__(self, message: str, path: tuple[PathStep, ...] = ()) -> None:
        super().__init__(message, path)
        self.message = message
        self.path = path

    def add_parent(self, *steps: PathStep) -> CtyError:
        """Prefix the path with the steps of an enclosing container; returns self for `raise`.

        Containers catch their children's errors and call this on the way out, which keeps the
        success path free of per-element path bookkeeping.
        """
        self.path = steps + self.path
        return self

    def __str__(self) -> str:
        if not self.path:
            return self.message
        return f"at {format_path(self.path)}: {self.message}"
