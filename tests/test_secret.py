"""Secret never shows its value except through reveal(); redact() scrubs values out of foreign text."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from urllib.parse import quote

import pytest

from tfprovider.secret import REDACTED, Secret, redact

VALUE = "pul-0123456789abcdef0123456789abcdef01234567"


def test_repr_str_and_formatting_are_redacted() -> None:
    s = Secret(VALUE)
    shown = [repr(s), str(s), format(s), f"{s}", f"{s!r}", f"{s!s}", f"{s:>20}"]
    # Old-style and str.format formatting are how log records and older code format values.
    shown += ["%s" % s, "%r" % s, "{}".format(s), "{!r:>30}".format(s)]  # noqa: UP031, UP032
    for text in shown:
        assert VALUE not in text
        assert REDACTED in text
    assert repr(s) == "Secret('********')"
    assert str(s) == "********"
    assert f"{s:>10}" == "  ********"


def test_containers_and_dataclasses_show_the_placeholder() -> None:
    @dataclasses.dataclass
    class Holder:
        token: Secret

    s = Secret(VALUE)
    for text in (repr([s]), repr({"k": s}), repr(Holder(s)), str((s,))):
        assert VALUE not in text


def test_reveal_returns_the_value() -> None:
    assert Secret(VALUE).reveal() == VALUE
    assert Secret("").reveal() == ""


def test_only_strings_are_wrapped() -> None:
    with pytest.raises(TypeError):
        Secret(VALUE.encode())  # type: ignore[arg-type]


def test_equality_and_hash_follow_the_value() -> None:
    assert Secret(VALUE) == Secret(VALUE)
    assert Secret(VALUE) != Secret(VALUE + "x")
    assert Secret("é") == Secret("é")  # non-ASCII values compare too
    assert hash(Secret(VALUE)) == hash(Secret(VALUE))
    assert len({Secret(VALUE), Secret(VALUE), Secret("other")}) == 2
    # A secret is never equal to its plain value: that comparison is almost certainly a mistake.
    assert Secret(VALUE) != VALUE


def test_truthiness_means_non_empty() -> None:
    assert Secret("x")
    assert not Secret("")


def test_cannot_be_pickled_or_mutated() -> None:
    s = Secret(VALUE)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(s, protocol=protocol)
    with pytest.raises(AttributeError):
        s._value = "changed"
    with pytest.raises(AttributeError):
        del s._value
    assert s.reveal() == VALUE


def test_copy_keeps_the_same_secret() -> None:
    s = Secret(VALUE)
    assert copy.copy(s) is s
    assert copy.deepcopy({"t": s})["t"] is s


def test_redact_replaces_every_occurrence_and_encoded_forms() -> None:
    token = Secret("abc/def+1")
    text = f"first abc/def+1, url {quote('abc/def+1', safe='')}, again abc/def+1"
    out = redact(text, token)
    assert "abc/def+1" not in out
    assert quote("abc/def+1", safe="") not in out
    assert out.count(REDACTED) == 3


def test_redact_handles_json_escaping_and_several_secrets() -> None:
    a, b = Secret('se"cret'), Secret("other")
    out = redact('{"message": "bad se\\"cret and other"}', a, b)
    assert "cret" not in out
    assert "other" not in out


def test_redact_prefers_longer_values_and_skips_empty_ones() -> None:
    short, long = Secret("pul-ab"), Secret("pul-abcdef")
    assert redact("x pul-abcdef y", short, long) == f"x {REDACTED} y"
    assert redact("unchanged", Secret(""), None) == "unchanged"
