"""JSON text helpers shared by the type-JSON and value-JSON codecs.

Two concerns live here. Writing: go-cty produces JSON with Go's encoding/json, which escapes `<`, `>`,
`&`, U+2028 and U+2029 inside strings; doing the same keeps our bytes identical to Terraform's for the
same input. Reading: the standard library parser is fast but lenient in ways that would lose
information (floats for numbers, last-wins duplicate keys, NaN literals) and raises several
exception types; `load_json` parses strictly and reports every problem as a `CtyError`.
"""

from __future__ import annotations

import json
import re

from tfprovider.cty.errors import CtyError
from tfprovider.cty.limits import checked_input

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_GO_ESCAPE_PATTERN = re.compile("[<>&\u2028\u2029]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def go_escape(text: str) -> str:
    """Apply Go's extra escapes to JSON text whose only `<>&` characters are inside strings."""
    return _GO_ESCAPE_PATTERN.sub(lambda m: _GO_ESCAPES[m.group()], text)


def quote_string(value: str) -> str:
    """A JSON string literal for `value`, escaped the way Go's encoding/json would."""
    return go_escape(json.dumps(value, ensure_ascii=False))


def dumps_compact(obj: object) -> str:
    """Compact JSON with sorted object keys, as Go's json.Marshal writes maps."""
    return go_escape(json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True))


def clean_string(value: str) -> str:
    """Replace lone surrogates (from `\\ud800`-style escapes) with U+FFFD, as Go's decoder does.

    Without this a decoded string could not be re-encoded as UTF-8 later.
    """
    if _LONE_SURROGATE.search(value) is None:
        return value
    return _LONE_SURROGATE.sub("\ufffd", value)


class JsonNumber:
    """A JSON number kept as its source text, so no digit is lost to float conversion."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"JsonNumber({self.text!r})"


def _reject_constant(name: str) -> object:
    raise CtyError(f"{name} is not a valid JSON number")


def _pairs_to_dict(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for raw_key, value in pairs:
        key = clean_string(raw_key)
        if key in result:
            raise CtyError(f"duplicate key {key!r} in JSON object")
        result[key] = value
    return result


def load_json(data: object, what: str) -> object:
    """Parse JSON bytes into dicts, lists, str, bool, None and `JsonNumber`; raise only CtyError.

    `what` names the document in error messages ("type description", "value").
    """
    raw = bytes(checked_input(data, what))  # no copy for bytes
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CtyError(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(
            text,
            parse_float=JsonNumber,
            parse_int=JsonNumber,
            parse_constant=_reject_constant,
            object_pairs_hook=_pairs_to_dict,
        )
    except json.JSONDecodeError as exc:
        raise CtyError(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise CtyError(f"{what} nests too deeply") from None
