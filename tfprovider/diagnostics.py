"""Diagnostics: how provider logic tells Terraform what went wrong, and where.

Provider code never raises to report a user's mistake; it returns ``Diagnostic`` values that
name the attribute and say what to do. ``tfprotov6.toproto`` turns them into wire messages, so
nothing here knows about protobuf.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class ElementKey:
    """A step into a collection: a map key (``str``) or a list/tuple index (``int``)."""

    key: str | int


PathStep = str | ElementKey
"""An attribute name, or an element of a collection."""


@dataclass(frozen=True)
class Diagnostic:
    """One message for the user. ``path`` points Terraform at the offending attribute."""

    severity: Severity
    summary: str
    detail: str = ""
    path: tuple[PathStep, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def error(summary: str, detail: str = "", *path: PathStep) -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, detail, tuple(path))


def warning(summary: str, detail: str = "", *path: PathStep) -> Diagnostic:
    return Diagnostic(Severity.WARNING, summary, detail, tuple(path))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


class DiagnosticError(Exception):
    """Raised inside provider logic to abandon an operation with diagnostics already composed.

    The servicer catches it and returns ``diagnostics``; any other exception becomes a generic
    error diagnostic (never a dead handler).
    """

    def __init__(self, *diagnostics: Diagnostic) -> None:
        super().__init__("; ".join(d.summary for d in diagnostics))
        self.diagnostics: tuple[Diagnostic, ...] = diagnostics
