"""Tables that print to a terminal and to Markdown from the same rows, and the number formats."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

MISSING = "-"


@dataclass
class Table:
    title: str
    headers: Sequence[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        if len(cells) != len(self.headers):
            raise ValueError(f"{self.title}: a row of {len(cells)} cells for {len(self.headers)} columns")
        self.rows.append(list(cells))

    def text(self) -> str:
        """Aligned columns: the first left-aligned (row names), the others right-aligned (numbers)."""
        everything = [list(self.headers), *self.rows]
        widths = [max(len(row[i]) for row in everything) for i in range(len(self.headers))]

        def line(cells: Sequence[str]) -> str:
            first, *rest = cells
            aligned = (cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True))
            parts = [first.ljust(widths[0]), *aligned]
            return "  ".join(parts).rstrip()

        rule = "  ".join("-" * width for width in widths)
        out = [self.title, "=" * len(self.title), line(self.headers), rule]
        out += [line(row) for row in self.rows]
        out += [f"  * {note}" for note in self.notes]
        return "\n".join(out)

    def markdown(self) -> str:
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

        align = "| " + " | ".join([":---"] + ["---:"] * (len(self.headers) - 1)) + " |"
        out = [f"### {self.title}", "", line(self.headers), align]
        out += [line(row) for row in self.rows]
        if self.notes:
            out.append("")
            out += [f"- {note}" for note in self.notes]
        return "\n".join(out)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def seconds(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.0f} ms"


def millis(value: float | None) -> str:
    return MISSING if value is None else f"{value * 1000:.0f} ms"


def ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or denominator is None or denominator <= 0:
        return MISSING
    value = numerator / denominator
    return f"{value:.1f}x" if value >= 10 else f"{value:.2f}x"


def mib(value: float | None) -> str:
    return MISSING if value is None or value <= 0 else f"{value:.0f} MiB"


def rate(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f}/s"
