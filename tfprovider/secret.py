"""A credential string that cannot leak by accident.

The provider handles two kinds of credentials: the access token it authenticates with and the token
values Pulumi Cloud hands back once, on creation. Both pass through code that formats messages,
builds exceptions and writes logs. Wrapping them in :class:`Secret` makes every accidental path
(``str()``, ``repr()``, f-strings, ``%`` formatting, dataclass reprs, pickling into a cache) print a
placeholder or fail, so the only way to the value is an explicit, greppable ``.reveal()``.

:func:`redact` covers the remaining path: text that came from somewhere else (a service error
message, an exception raised by the HTTP stack) and may quote a credential back to us.
"""

from __future__ import annotations

import hmac
import json
from typing import Final, NoReturn
from urllib.parse import quote

__all__ = ["REDACTED", "Secret", "redact"]

#: What a secret's value is replaced with wherever it would otherwise be shown.
REDACTED: Final = "********"


class Secret:
    """An immutable credential string whose value is only available through :meth:`reveal`."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            # Refuse bytes and other objects: their reprs would show the value somewhere else.
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """Return the credential itself; call this only where the value must leave the process."""
        return self._value

    # -- presentation: always the placeholder ---------------------------------------------------

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, format_spec: str) -> str:
        # Any format spec (``{s:>20}``, ``{s!s}`` goes through __str__) yields the placeholder,
        # formatted as asked so alignment in tables still works.
        return format(REDACTED, format_spec)

    # -- value semantics ------------------------------------------------------------------------

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # Constant time, so comparing a guessed value does not reveal how much of it matched.
        return hmac.compare_digest(self._value.encode("utf-8"), other._value.encode("utf-8"))

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    # -- immutability and no serialisation ------------------------------------------------------

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __copy__(self) -> Secret:
        return self  # immutable: a copy may be the same object

    def __deepcopy__(self, memo: object) -> Secret:
        return self

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        # Pickling would write the value to disk or a socket in clear text.
        raise TypeError("Secret values cannot be pickled; call reveal() where the value is really needed")

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret values cannot be pickled; call reveal() where the value is really needed")


def redact(text: str, *secrets: Secret | None) -> str:
    """Replace every occurrence of the secrets' values in ``text`` with :data:`REDACTED`.

    Besides the plain value, the forms a value takes when it is quoted back inside a URL
    (percent-encoded) or a JSON string (escaped) are replaced too. ``None`` and empty secrets are
    skipped so callers can pass optional credentials as they are. Longer values are replaced first,
    so a secret that contains another is not left half-visible.
    """
    needles: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        value = secret.reveal()
        needles.add(value)
        needles.add(quote(value, safe=""))
        needles.add(json.dumps(value)[1:-1])
    for needle in sorted(needles, key=len, reverse=True):
        if needle:
            text = text.replace(needle, REDACTED)
    return text
