"""JSON codec (go-cty cty/json): exact numbers, object and dynamic forms, strict decoding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tfprovider.cty import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    UNKNOWN,
    CtyError,
    CtyType,
    DynamicValue,
    List,
    Map,
    Object,
    Set,
    Tuple,
    Unknown,
    decode_json,
    encode_json,
)

D = Decimal

CASES: list[tuple[str, object, CtyType, bytes]] = [
    ("string", "hello", STRING, b'"hello"'),
    ("escapes", 'a"b\\c\n<&>\u2028é', STRING, b'"a\\"b\\\\c\\n\\u003c\\u0026\\u003e\\u2028\xc3\xa9"'),
    ("null", None, STRING, b"null"),
    ("int", D(42), NUMBER, b"42"),
    ("0.8", D("0.8"), NUMBER, b"0.8"),
    ("negative", D("-12.5"), NUMBER, b"-12.5"),
    ("huge int", D(2**64 - 1), NUMBER, b"18446744073709551615"),
    ("exponent", D("1E+3"), NUMBER, b"1000"),
    ("tiny", D("1E-7"), NUMBER, b"0.0000001"),
    ("trailing zeros", D("2.500"), NUMBER, b"2.5"),
    ("bool", True, BOOL, b"true"),
    ("list", ["a", None], List(STRING), b'["a",null]'),
    ("set", [D(1), D(2)], Set(NUMBER), b"[1,2]"),
    ("tuple", ["a", D(1), False], Tuple([STRING, NUMBER, BOOL]), b'["a",1,false]'),
    ("map sorted", {"b": True, "a": False}, Map(BOOL), b'{"a":false,"b":true}'),
    (
        "object with nulls",
        {"token": "t", "expires": None, "tags": {}},
        Object({"token": STRING, "expires": NUMBER, "tags": Map(STRING)}),
        b'{"expires":null,"tags":{},"token":"t"}',
    ),
    (
        "dynamic",
        DynamicValue(List(NUMBER), [D("0.8")]),
        DYNAMIC,
        b'{"value":[0.8],"type":["list","number"]}',
    ),
    (
        "dynamic object",
        DynamicValue(Object({"a": STRING}, optional={"a"}), {"a": "x"}),
        DYNAMIC,
        b'{"value":{"a":"x"},"type":["object",{"a":"string"},["a"]]}',
    ),
]


@pytest.mark.parametrize(("value", "ty", "raw"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_encode_and_decode_match_go_cty_json(value: object, ty: CtyType, raw: bytes) -> None:
    assert encode_json(value, ty) == raw
    assert decode_json(raw, ty) == value


def test_point_eight_stays_exact() -> None:
    decoded = decode_json(b'{"n":0.8}', Object({"n": NUMBER}))
    assert isinstance(decoded, dict)
    assert str(decoded["n"]) == "0.8"
    assert encode_json(decoded, Object({"n": NUMBER})) == b'{"n":0.8}'


def test_numbers_are_parsed_exactly_never_via_float() -> None:
    raw = b"123456789012345678901234567890.123456789012345678901234567890"
    assert decode_json(raw, NUMBER) == D(raw.decode())
    assert decode_json(b"1e400", NUMBER) == D(10) ** 400
    assert decode_json(b"-0.000001", NUMBER) == D("-0.000001")


def test_unknowns_cannot_be_encoded() -> None:
    with pytest.raises(CtyError, match="unknown"):
        encode_json(UNKNOWN, STRING)
    with pytest.raises(CtyError) as info:
        encode_json({"a": [D(1), Unknown(not_null=True)]}, Object({"a": List(NUMBER)}))
    assert info.value.path == ("a", 1)


def test_encoder_rejects_wrong_python_types_with_path() -> None:
    with pytest.raises(CtyError) as info:
        encode_json({"expires": "soon"}, Object({"expires": NUMBER}))
    assert info.value.path == ("expires",)
    for value, ty in (
        (0.5, NUMBER),
        (D("Infinity"), NUMBER),
        (1, BOOL),
        ("x", DYNAMIC),
        ({"x": 1}, Object({})),
    ):
        with pytest.raises(CtyError):
            encode_json(value, ty)


def test_encoder_fills_optional_attributes_and_requires_others() -> None:
    ty = Object({"a": STRING, "b": STRING}, optional={"b"})
    assert encode_json({"a": "x"}, ty) == b'{"a":"x","b":null}'
    with pytest.raises(CtyError, match="'a'"):
        encode_json({"b": "x"}, ty)


def test_decode_missing_attributes_are_null_and_unknown_ones_rejected() -> None:
    ty = Object({"id": STRING, "count": NUMBER})
    assert decode_json(b'{"id":"x"}', ty) == {"id": "x", "count": None}
    with pytest.raises(CtyError, match="'legacy'"):
        decode_json(b'{"id":"x","legacy":true}', ty)


def test_decode_reports_paths() -> None:
    ty = Object({"rules": List(Object({"enabled": BOOL}))})
    with pytest.raises(CtyError) as info:
        decode_json(b'{"rules":[{"enabled":true},{"enabled":7}]}', ty)
    assert info.value.path == ("rules", 1, "enabled")
    assert str(info.value) == "at .rules[1].enabled: expected a bool, got a JSON number"


def test_decode_applies_go_cty_scalar_conversions() -> None:
    assert decode_json(b"12.50", STRING) == "12.50"
    assert decode_json(b"true", STRING) == "true"
    assert decode_json(b'"false"', BOOL) is False
    assert decode_json(b'"0.8"', NUMBER) == D("0.8")
    for raw, ty in ((b'"yes"', BOOL), (b'"abc"', NUMBER), (b"[]", STRING), (b"{}", NUMBER), (b"1", BOOL)):
        with pytest.raises(CtyError):
            decode_json(raw, ty)


def test_decode_dynamic_forms() -> None:
    assert decode_json(b"null", DYNAMIC) is None
    assert decode_json(b'{"type":"string","value":null}', DYNAMIC) == DynamicValue(STRING, None)
    assert decode_json(b'{"value":{"value":1,"type":"number"},"type":"dynamic"}', DYNAMIC) == DynamicValue(
        NUMBER, D(1)
    )
    for raw in (
        b'"hello"',
        b'{"value":"x"}',
        b'{"type":"string"}',
        b'{"value":"x","type":"string","extra":1}',
        b'{"value":"x","type":"strin"}',
        b'{"value":1,"type":"string","value":2}',
    ):
        with pytest.raises(CtyError):
            decode_json(raw, DYNAMIC)


def test_decode_lone_surrogate_escapes_become_replacement_characters() -> None:
    decoded = decode_json(b'{"\\ud800k":"a\\udc00"}', Map(STRING))
    assert decoded == {"\ufffdk": "a\ufffd"}
    assert encode_json(decoded, Map(STRING)) == '{"\ufffdk":"a\ufffd"}'.encode()
    assert decode_json(b'"\\ud83d\\ude00"', STRING) == "\U0001f600"


@pytest.mark.parametrize(
    ("raw", "ty"),
    [
        (b"", STRING),
        (b'"a" "b"', STRING),
        (b'"a"x', STRING),
        (b"NaN", NUMBER),
        (b"Infinity", NUMBER),
        (b"-Infinity", NUMBER),
        (b"01", NUMBER),
        (b'{"a":1,"a":2}', Map(NUMBER)),
        (b'{"a":1,"a":2}', Object({"a": NUMBER})),
        (b"\xff", STRING),
        (b'"\xc3\x28"', STRING),
        (b"[1,2]", Tuple([NUMBER])),
        (b"[1]", Tuple([NUMBER, NUMBER])),
        (b"1e20000", NUMBER),
        (b"{", Map(STRING)),
        (b"[" * 10_000 + b"]" * 10_000, List(STRING)),
        (b"[" * 100_000, List(STRING)),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, Map(STRING)),
    ],
)
def test_malformed_json_raises_cty_error(raw: bytes, ty: CtyType) -> None:
    with pytest.raises(CtyError):
        decode_json(raw, ty)


def test_depth_limit_applies_to_json_values() -> None:
    ty: CtyType = STRING
    for _ in range(70):
        ty = List(ty)
    raw = b"[" * 70 + b'"x"' + b"]" * 70
    with pytest.raises(CtyError, match="64"):
        decode_json(raw, ty)
    ok = b"[" * 64 + b'"x"' + b"]" * 64
    inner: CtyType = STRING
    for _ in range(64):
        inner = List(inner)
    assert encode_json(decode_json(ok, inner), inner) == ok


def test_non_bytes_input_is_rejected() -> None:
    with pytest.raises(CtyError):
        decode_json('"x"', STRING)  # type: ignore[arg-type]
    assert decode_json(bytearray(b'"x"'), STRING) == "x"
