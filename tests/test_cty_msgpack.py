"""msgpack codec: go-cty's byte vectors, number and unknown encodings, and hostile input."""

from __future__ import annotations

import json
from decimal import Decimal

import msgpack
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
    decode_msgpack,
    encode_msgpack,
)

D = Decimal

# Section 3 of the protocol reference (from terraform-plugin-go's tftypes tests and go-cty's encoder).
VECTORS: list[tuple[str, object, CtyType, str]] = [
    ("string", "hello", STRING, "a568656c6c6f"),
    ("null", None, STRING, "c0"),
    ("unknown", UNKNOWN, STRING, "d40000"),
    ("int", D(1), NUMBER, "01"),
    ("float", D("1.5"), NUMBER, "cb3ff8000000000000"),
    ("int64 max", D(9223372036854775807), NUMBER, "cf7fffffffffffffff"),
    ("uint64 max", D(18446744073709551615), NUMBER, "b43138343436373434303733373039353531363135"),
    ("0.8", D("0.8"), NUMBER, "a3302e38"),
    ("list", ["hello"], List(STRING), "91a568656c6c6f"),
    ("object", {"greeting": "hello"}, Object({"greeting": STRING}), "81a86772656574696e67a568656c6c6f"),
    ("object nulls", {"a": None, "b": None}, Object({"a": STRING, "b": NUMBER}), "82a161c0a162c0"),
    ("dynamic", DynamicValue(STRING, "hello"), DYNAMIC, "92c40822737472696e6722a568656c6c6f"),
    ("refined", Unknown(not_null=True, string_prefix="foo-"), STRING, "c7090c8201c202a4666f6f2d"),
]


@pytest.mark.parametrize(("value", "ty", "hex_"), [v[1:] for v in VECTORS], ids=[v[0] for v in VECTORS])
def test_reference_vectors_encode(value: object, ty: CtyType, hex_: str) -> None:
    assert encode_msgpack(value, ty).hex() == hex_


@pytest.mark.parametrize(("value", "ty", "hex_"), [v[1:] for v in VECTORS], ids=[v[0] for v in VECTORS])
def test_reference_vectors_decode(value: object, ty: CtyType, hex_: str) -> None:
    decoded = decode_msgpack(bytes.fromhex(hex_), ty)
    assert decoded == value
    assert type(decoded) is type(value)


# ------------------------------------------------------------------------------------------- numbers


def _str_hex(text: str) -> str:
    """The msgpack string encoding of `text` (how non-float, non-int64 numbers travel)."""
    packed: bytes = msgpack.packb(text)
    return packed.hex()


NUMBER_ENCODINGS = [
    (D(0), "00"),
    (D("-0"), "00"),
    (D(-1), "ff"),
    (D(-32), "e0"),
    (D(-33), "d0df"),
    (D(127), "7f"),
    (D(128), "cc80"),
    (D(255), "ccff"),
    (D(256), "cd0100"),
    (D(-129), "d1ff7f"),
    (D(65536), "ce00010000"),
    (D(2**32), "cf0000000100000000"),
    (D(-(2**63)), "d38000000000000000"),
    (D("1E+2"), "64"),  # integral even though written with an exponent
    (D("5.000"), "05"),
    (D(2**63), "cb43e0000000000000"),  # just past int64, but exactly a float64
    (D("-2.5"), "cbc004000000000000"),
    (D("Infinity"), "cb7ff0000000000000"),
    (D("-Infinity"), "cbfff0000000000000"),
    (D("0.1"), "a3302e31"),
    (D("123456789.123456789"), _str_hex("123456789.123456789")),
    (D("1.50E-30"), _str_hex("0." + "0" * 29 + "15")),
    (D(10) ** 400, _str_hex("1" + "0" * 400)),
]


@pytest.mark.parametrize(("number", "hex_"), NUMBER_ENCODINGS, ids=[str(n) for n, _ in NUMBER_ENCODINGS])
def test_number_encoding_picks_int_then_exact_float_then_text(number: Decimal, hex_: str) -> None:
    encoded = encode_msgpack(number, NUMBER)
    assert encoded.hex() == hex_
    assert decode_msgpack(encoded, NUMBER) == number


def test_point_eight_never_drifts() -> None:
    decoded = decode_msgpack(encode_msgpack(D("0.8"), NUMBER), NUMBER)
    assert isinstance(decoded, Decimal) and str(decoded) == "0.8"
    again = decode_msgpack(encode_msgpack(decoded, NUMBER), NUMBER)
    assert str(again) == "0.8"


def test_encoder_accepts_int_and_rejects_float_bool_nan() -> None:
    assert encode_msgpack(300, NUMBER) == encode_msgpack(D(300), NUMBER)
    for bad in (0.5, True, "1", D("NaN"), D("sNaN")):
        with pytest.raises(CtyError):
            encode_msgpack(bad, NUMBER)


@pytest.mark.parametrize(
    ("hex_", "expected"),
    [
        ("ca3fc00000", D("1.5")),  # float32
        ("cb3fe999999999999a", D(0.8)),  # a float64 decodes to its exact binary value
        ("cc ff", D(255)),
        ("cf ffffffffffffffff", D(2**64 - 1)),  # uint64 beyond int64
        ("d3 8000000000000000", D(-(2**63))),
        ("a3 31 65 33", D(1000)),  # "1e3"
        ("a4 2d 2e 35 30", D("-0.5")),  # "-.50"
        ("c4 03 312e35", D("1.5")),  # binary string text
    ],
)
def test_decoder_accepts_every_number_form(hex_: str, expected: Decimal) -> None:
    assert decode_msgpack(bytes.fromhex(hex_.replace(" ", "")), NUMBER) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "NaN",
        "Infinity",
        "inf",
        "1_000",
        " 1",
        "1 ",
        "0x10",
        "1e",
        "\u0661",
        "1e99999999999",
        "1e20000",
    ],
)
def test_decoder_rejects_bad_number_text(text: str) -> None:
    with pytest.raises(CtyError):
        decode_msgpack(msgpack.packb(text), NUMBER)


def test_decoder_rejects_nan_float() -> None:
    with pytest.raises(CtyError, match="NaN"):
        decode_msgpack(bytes.fromhex("cb7ff8000000000000"), NUMBER)


# ------------------------------------------------------------------------------------------ unknowns

REFINED_CASES: list[tuple[str, Unknown, CtyType, str]] = [
    ("not null", Unknown(not_null=True), STRING, "c7030c8101c2"),
    ("prefix", Unknown(string_prefix="ab"), STRING, "c7050c8102a26162"),
    ("lower incl", Unknown(number_lower=(D(0), True)), NUMBER, "c7050c81039200c3"),
    ("upper excl (fixext8)", Unknown(number_upper=(D("0.8"), False)), NUMBER, "d70c810492a3302e38c2"),
    (
        "both bounds",
        Unknown(not_null=True, number_lower=(D(-1), False), number_upper=(D(10), True)),
        NUMBER,
        "c70b0c8301c20392ffc204920ac3",
    ),
    ("length lower", Unknown(length_lower=1), List(STRING), "c7030c810501"),
    ("length upper", Unknown(length_upper=5), Set(NUMBER), "c7030c810605"),
    (
        "length both",
        Unknown(not_null=True, length_lower=2, length_upper=300),
        Map(BOOL),
        "c7090c8301c2050206cd012c",
    ),
    ("not null object", Unknown(not_null=True), Object({"a": STRING}), "c7030c8101c2"),
]


@pytest.mark.parametrize(
    ("unknown", "ty", "hex_"), [c[1:] for c in REFINED_CASES], ids=[c[0] for c in REFINED_CASES]
)
def test_refined_unknowns_round_trip_exactly(unknown: Unknown, ty: CtyType, hex_: str) -> None:
    encoded = encode_msgpack(unknown, ty)
    assert encoded.hex() == hex_
    assert decode_msgpack(encoded, ty) == unknown


def test_each_refinement_key_is_preserved() -> None:
    cases: list[tuple[Unknown, CtyType]] = [
        (Unknown(not_null=True), NUMBER),
        (Unknown(string_prefix="pul-"), STRING),
        (Unknown(number_lower=(D("1.5"), False)), NUMBER),
        (Unknown(number_upper=(D("123456789012345678901234567890.5"), True)), NUMBER),
        (Unknown(length_lower=3), List(NUMBER)),
        (Unknown(length_upper=0), Map(STRING)),
    ]
    for unknown, ty in cases:
        assert decode_msgpack(encode_msgpack(unknown, ty), ty) == unknown


def test_unknowns_inside_collections() -> None:
    ty = Object({"tags": Map(STRING), "ids": List(NUMBER), "pair": Tuple([STRING, BOOL])})
    value = {"tags": {"a": UNKNOWN, "b": "x"}, "ids": [D(1), Unknown(not_null=True)], "pair": [UNKNOWN, None]}
    assert decode_msgpack(encode_msgpack(value, ty), ty) == value


def test_unknown_of_dynamic_type_drops_refinements_like_go_cty() -> None:
    assert encode_msgpack(Unknown(not_null=True), DYNAMIC).hex() == "d40000"
    assert decode_msgpack(bytes.fromhex("c7030c8101c2"), DYNAMIC) == UNKNOWN


def test_refinements_must_fit_the_type_when_encoding() -> None:
    with pytest.raises(CtyError, match="string"):
        encode_msgpack(Unknown(string_prefix="x"), NUMBER)
    with pytest.raises(CtyError, match="number"):
        encode_msgpack(Unknown(number_lower=(D(1), True)), STRING)
    with pytest.raises(CtyError, match="list"):
        encode_msgpack(Unknown(length_lower=1), Tuple([STRING]))
    with pytest.raises(CtyError):
        encode_msgpack(Unknown(length_lower=-1), List(STRING))
    with pytest.raises(CtyError):
        encode_msgpack(Unknown(number_lower=(0.5, True)), NUMBER)  # type: ignore[arg-type]
    with pytest.raises(CtyError, match="1024"):
        encode_msgpack(Unknown(string_prefix="x" * 2000), STRING)


def test_any_tiny_extension_and_any_type_zero_extension_is_a_plain_unknown() -> None:
    for hex_ in (
        "d40000",
        "d405ff",
        "d47f00",
        "c70000",
        "c7000c",
        "d50000aa",
        "c703000102 03".replace(" ", ""),
    ):
        assert decode_msgpack(bytes.fromhex(hex_), STRING) == UNKNOWN


def test_refinement_decoding_details() -> None:
    # nullness true means "definitely null": go-cty collapses that to a null value.
    assert decode_msgpack(bytes.fromhex("c7030c8101c3"), STRING) is None
    # unknown keys are skipped, whatever their shape; trailing bytes in the payload are ignored.
    payload = msgpack.packb({99: [1, {"x": [2, 3]}], 1: False}) + b"\x00\x00"
    ext = msgpack.packb(msgpack.ExtType(12, payload))
    assert decode_msgpack(ext, STRING) == Unknown(not_null=True)


@pytest.mark.parametrize(
    ("payload", "ty"),
    [
        ({2: "x"}, NUMBER),  # prefix on a number
        ({3: [1, True]}, STRING),  # bound on a string
        ({5: 1}, STRING),  # length on a string
        ({5: 1}, Tuple([STRING])),  # length on a tuple (not a collection)
        ({1: "no"}, STRING),  # nullness not a bool
        ({2: 5}, STRING),  # prefix not a string
        ({3: [1]}, NUMBER),  # bound not a pair
        ({3: [None, True]}, NUMBER),  # bound null
        ({3: ["abc", True]}, NUMBER),  # bound not a number
        ({3: [1, "yes"]}, NUMBER),  # inclusive not a bool
        ({5: -1}, List(STRING)),  # negative length
        ({5: "1"}, List(STRING)),
        ({"k": 1}, STRING),  # non-integer key
        ([1, 2], STRING),  # not a map
    ],
)
def test_malformed_refinements_are_rejected(payload: object, ty: CtyType) -> None:
    ext = msgpack.packb(msgpack.ExtType(12, msgpack.packb(payload)))
    with pytest.raises(CtyError, match="refinement"):
        decode_msgpack(ext, ty)


def test_oversized_refinement_payload_is_rejected() -> None:
    payload = msgpack.packb({2: "x" * 1100})
    with pytest.raises(CtyError, match="1024"):
        decode_msgpack(msgpack.packb(msgpack.ExtType(12, payload)), STRING)


@pytest.mark.parametrize(
    "hex_", ["d50500aa", "c703070102 03".replace(" ", ""), "d6ff00000000", "d7ff0000000000000000"]
)
def test_other_extension_types_are_rejected(hex_: str) -> None:
    with pytest.raises(CtyError, match="extension"):
        decode_msgpack(bytes.fromhex(hex_), STRING)


# ------------------------------------------------------------------------------------- containers


def test_objects_carry_every_attribute_in_name_order() -> None:
    ty = Object({"b": NUMBER, "a": STRING, "c": Map(STRING)}, optional={"c"})
    encoded = encode_msgpack({"b": 1, "a": "x"}, ty)
    assert encoded == msgpack.packb({"a": "x", "b": 1, "c": None})
    assert decode_msgpack(encoded, ty) == {"a": "x", "b": D(1), "c": None}


def test_encoding_object_requires_non_optional_attributes_and_no_extras() -> None:
    ty = Object({"name": STRING, "note": STRING}, optional={"note"})
    with pytest.raises(CtyError, match="'name'"):
        encode_msgpack({"note": "x"}, ty)
    with pytest.raises(CtyError, match="'extra'"):
        encode_msgpack({"name": "x", "extra": 1}, ty)


def test_decoding_object_reads_missing_attributes_as_null_and_rejects_extras() -> None:
    ty = Object({"a": STRING, "b": NUMBER})
    assert decode_msgpack(msgpack.packb({"a": "x"}), ty) == {"a": "x", "b": None}
    assert decode_msgpack(msgpack.packb({}), ty) == {"a": None, "b": None}
    with pytest.raises(CtyError, match="'zzz'"):
        decode_msgpack(msgpack.packb({"a": "x", "b": 1, "zzz": 1}), ty)


def test_map_keys_are_sorted_and_values_typed() -> None:
    ty = Map(NUMBER)
    encoded = encode_msgpack({"b": 2, "a": D("0.5")}, ty)
    assert encoded == msgpack.packb({"a": 0.5, "b": 2})
    assert decode_msgpack(encoded, ty) == {"a": D("0.5"), "b": D(2)}


def test_sets_decode_to_lists_keeping_duplicates() -> None:
    assert decode_msgpack(msgpack.packb(["a", "a", "b"]), Set(STRING)) == ["a", "a", "b"]


def test_tuples_accept_python_tuples_and_check_length() -> None:
    ty = Tuple([STRING, NUMBER, BOOL])
    assert decode_msgpack(encode_msgpack(("a", 1, True), ty), ty) == ["a", D(1), True]
    with pytest.raises(CtyError, match="3"):
        encode_msgpack(["a", 1], ty)
    with pytest.raises(CtyError, match="3"):
        decode_msgpack(msgpack.packb(["a", 1]), ty)


def test_empty_containers() -> None:
    for ty, value in ((List(STRING), []), (Map(STRING), {}), (Tuple([]), []), (Object({}), {})):
        assert decode_msgpack(encode_msgpack(value, ty), ty) == value


def test_dynamic_values_nest_and_carry_their_type() -> None:
    ty = Object({"settings": DYNAMIC})
    inner = DynamicValue(
        Object({"n": NUMBER, "l": List(DYNAMIC)}), {"n": D("0.8"), "l": [DynamicValue(BOOL, True)]}
    )
    value = {"settings": inner}
    encoded = encode_msgpack(value, ty)
    assert decode_msgpack(encoded, ty) == value
    assert decode_msgpack(encode_msgpack({"settings": None}, ty), ty) == {"settings": None}
    assert decode_msgpack(encode_msgpack(DynamicValue(STRING, None), DYNAMIC), DYNAMIC) == DynamicValue(
        STRING, None
    )
    assert decode_msgpack(encode_msgpack(DynamicValue(STRING, UNKNOWN), DYNAMIC), DYNAMIC) == DynamicValue(
        STRING, UNKNOWN
    )


def test_dynamic_wrapper_declaring_dynamic_unwraps() -> None:
    inner = encode_msgpack(DynamicValue(NUMBER, D(3)), DYNAMIC)
    outer = bytes([0x92]) + msgpack.packb(b'"dynamic"') + inner
    assert decode_msgpack(outer, DYNAMIC) == DynamicValue(NUMBER, D(3))


def test_encoding_dynamic_requires_a_concrete_dynamic_value() -> None:
    with pytest.raises(CtyError, match="DynamicValue"):
        encode_msgpack("hello", DYNAMIC)
    with pytest.raises(CtyError, match="concrete"):
        encode_msgpack(DynamicValue(DYNAMIC, "x"), DYNAMIC)
    with pytest.raises(CtyError):
        encode_msgpack(DynamicValue(STRING, "x"), STRING)


@pytest.mark.parametrize(
    ("value", "ty", "path", "fragment"),
    [
        ({"expires": "soon"}, Object({"expires": NUMBER}), ("expires",), "number"),
        ({"a": [1, "x"]}, Object({"a": List(NUMBER)}), ("a", 1), "number"),
        ({"tags": {"team": 5}}, Object({"tags": Map(STRING)}), ("tags", "team"), "string"),
        ([["a", 1.5]], List(Tuple([STRING, NUMBER])), (0, 1), "float"),
        ({"x": "true"}, Object({"x": BOOL}), ("x",), "bool"),
        ({"d": DynamicValue(List(STRING), [3])}, Object({"d": DYNAMIC}), ("d", 0), "string"),
        ({1: "a"}, Map(STRING), (), "keys"),
        ("abc", List(STRING), (), "list"),
        ("\ud800", STRING, (), "surrogate"),
    ],
)
def test_encoder_errors_name_the_path(
    value: object, ty: CtyType, path: tuple[object, ...], fragment: str
) -> None:
    with pytest.raises(CtyError, match=fragment) as info:
        encode_msgpack(value, ty)
    assert info.value.path == path


# ------------------------------------------------------------------------------------ hostile input


def test_wrong_wire_type_reports_path() -> None:
    ty = Object({"config": Object({"enabled": BOOL})})
    with pytest.raises(CtyError) as info:
        decode_msgpack(msgpack.packb({"config": {"enabled": "yes"}}), ty)
    assert info.value.path == ("config", "enabled")
    assert str(info.value) == "at .config.enabled: expected a bool, got a string"


@pytest.mark.parametrize(
    ("data", "ty"),
    [
        (msgpack.packb({1: "x"}), Map(STRING)),
        (msgpack.packb({None: "x"}), Map(STRING)),
        (bytes.fromhex("81") + msgpack.packb([1]) + b"\xa1x", Map(STRING)),
        (msgpack.packb({1: "x"}), Object({"a": STRING})),
    ],
)
def test_non_string_keys_are_rejected(data: bytes, ty: CtyType) -> None:
    with pytest.raises(CtyError, match="strings"):
        decode_msgpack(data, ty)


def test_duplicate_keys_are_rejected() -> None:
    with pytest.raises(CtyError, match="duplicate"):
        decode_msgpack(bytes.fromhex("82a161a178a161a179"), Map(STRING))
    with pytest.raises(CtyError, match="more than once"):
        decode_msgpack(bytes.fromhex("82a161a178a161a179"), Object({"a": STRING, "b": STRING}))


def test_every_truncation_of_a_valid_payload_is_rejected() -> None:
    ty = Object(
        {
            "name": STRING,
            "n": NUMBER,
            "big": NUMBER,
            "f": NUMBER,
            "tags": Map(List(STRING)),
            "u": STRING,
            "d": DYNAMIC,
            "b": BOOL,
        }
    )
    value = {
        "name": "x" * 40,
        "n": D(-70000),
        "big": D(2**70),
        "f": D("2.5"),
        "tags": {"k": ["v", "w"]},
        "u": Unknown(string_prefix="p"),
        "d": DynamicValue(Set(NUMBER), [D(1)]),
        "b": True,
    }
    encoded = encode_msgpack(value, ty)
    assert decode_msgpack(encoded, ty) == value
    for cut in range(len(encoded)):
        with pytest.raises(CtyError):
            decode_msgpack(encoded[:cut], ty)


def test_trailing_garbage_is_rejected() -> None:
    with pytest.raises(CtyError, match="trailing"):
        decode_msgpack(bytes.fromhex("a568656c6c6f00"), STRING)
    with pytest.raises(CtyError, match="trailing"):
        decode_msgpack(bytes.fromhex("c0c0"), STRING)


@pytest.mark.parametrize(
    ("hex_", "ty"),
    [
        ("c1", STRING),  # reserved type byte
        ("a2c328", STRING),  # invalid UTF-8
        ("a3eda080", STRING),  # encoded surrogate
        ("ddffffffff", List(STRING)),  # 4 billion elements promised, none present
        ("dfffffffff", Map(STRING)),
        ("dbffffffff61", STRING),  # 4 GiB string promised
        ("c6ffffffff", STRING),
        ("c9ffffffff0c", STRING),
        ("", STRING),
        ("c3", STRING),
        ("a1", NUMBER),
        ("90", STRING),
        ("80", List(STRING)),
        ("91c0", DYNAMIC),  # dynamic needs [type, value]
        ("92c0c0", DYNAMIC),  # type must be JSON bytes
        ("92c4057374726e67c0", DYNAMIC),  # type JSON is not JSON
        ("92c4072273747269c0", DYNAMIC),  # wrong type JSON: "stri
        ("92c406227374726922c0", DYNAMIC),  # "stri" is not a type
        ("92c40822737472696e672201", DYNAMIC),  # string type, number value
    ],
)
def test_malformed_bytes_raise_cty_error(hex_: str, ty: CtyType) -> None:
    with pytest.raises(CtyError):
        decode_msgpack(bytes.fromhex(hex_), ty)


def test_non_bytes_input_is_rejected() -> None:
    with pytest.raises(CtyError):
        decode_msgpack("a568656c6c6f", STRING)  # type: ignore[arg-type]
    assert decode_msgpack(bytearray.fromhex("a568656c6c6f"), STRING) == "hello"
    assert decode_msgpack(memoryview(bytes.fromhex("a568656c6c6f")), STRING) == "hello"


def test_input_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from tfprovider.cty import limits

    monkeypatch.setattr(limits, "MAX_INPUT_BYTES", 5)
    assert decode_msgpack(bytes.fromhex("a46162636f"), STRING) == "abco"
    with pytest.raises(CtyError, match="limit"):
        decode_msgpack(bytes.fromhex("a568656c6c6f"), STRING)


def _nested_list_type(levels: int) -> CtyType:
    ty: CtyType = STRING
    for _ in range(levels):
        ty = List(ty)
    return ty


def test_nesting_up_to_64_levels_is_fine_and_deeper_is_rejected() -> None:
    expected: object = "x"
    for _ in range(64):
        expected = [expected]
    assert decode_msgpack(b"\x91" * 64 + b"\xa1x", _nested_list_type(64)) == expected
    assert decode_msgpack(encode_msgpack(expected, _nested_list_type(64)), _nested_list_type(64)) == expected
    with pytest.raises(CtyError, match="64"):
        decode_msgpack(b"\x91" * 65 + b"\xa1x", _nested_list_type(65))


def test_ten_thousand_levels_never_raise_recursion_error() -> None:
    deep = b"\x91" * 10_000 + b"\xc0"
    for ty in (_nested_list_type(10_000), DYNAMIC, List(DYNAMIC), STRING):
        with pytest.raises(CtyError):
            decode_msgpack(deep, ty)
    # A chain of dynamic values, each declaring a list of dynamic: the types come from the input.
    header = b"\x92" + msgpack.packb(json.dumps(["list", "dynamic"]).encode()) + b"\x91"
    chain = header * 10_000 + b"\xc0"
    with pytest.raises(CtyError, match="deep"):
        decode_msgpack(chain, DYNAMIC)
    # A type description nested 10 000 levels deep inside a dynamic value.
    type_json = ('["list",' * 10_000 + '"string"' + "]" * 10_000).encode()
    with pytest.raises(CtyError):
        decode_msgpack(b"\x92" + msgpack.packb(type_json) + b"\xc0", DYNAMIC)
    assert encode_msgpack([], _nested_list_type(10_000)) == b"\x90"  # a deep type alone is fine
    deep_value: object = "x"
    for _ in range(10_000):
        deep_value = [deep_value]
    with pytest.raises(CtyError, match="64"):
        encode_msgpack(deep_value, _nested_list_type(10_000))
