"""cty types, their JSON form, the value helpers and CtyError formatting."""

from __future__ import annotations

import copy
import json
import pickle
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
    PrimitiveType,
    Set,
    Tuple,
    Unknown,
    is_known,
    is_wholly_known,
    type_from_json,
    type_from_json_bytes,
    type_to_json,
    type_to_json_bytes,
)

# ----------------------------------------------------------------------------------------- types


def test_types_compare_structurally_and_hash_consistently() -> None:
    a = Object({"name": STRING, "tags": Map(List(STRING))}, optional={"tags"})
    b = Object({"tags": Map(List(STRING)), "name": STRING}, optional=frozenset({"tags"}))
    assert a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1
    assert List(STRING) != Set(STRING) != Map(STRING)
    assert Object({"a": STRING}) != Object({"a": STRING}, optional={"a"})
    assert Tuple([STRING, NUMBER]) != Tuple([NUMBER, STRING])
    assert PrimitiveType("string") == STRING
    assert STRING != "string"


def test_types_are_immutable() -> None:
    t = List(STRING)
    with pytest.raises(AttributeError):
        setattr(t, "element", NUMBER)  # noqa: B010 - bypasses the type checker on purpose
    obj = Object({"a": STRING})
    with pytest.raises(TypeError):
        obj.attributes["b"] = NUMBER  # type: ignore[index]
    assert dict(obj.attributes) == {"a": STRING}


def test_object_attributes_are_sorted_and_optional_must_exist() -> None:
    obj = Object({"zeta": STRING, "alpha": BOOL})
    assert list(obj.attributes) == ["alpha", "zeta"]
    with pytest.raises(CtyError, match="'nope'"):
        Object({"a": STRING}, optional={"nope"})


def test_constructors_reject_non_types() -> None:
    with pytest.raises(TypeError):
        List("string")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Tuple([STRING, 1])  # type: ignore[list-item]
    with pytest.raises(CtyError):
        PrimitiveType("strin")


def test_types_survive_copy_and_pickle() -> None:
    t = Object({"a": Tuple([STRING, Set(NUMBER)]), "b": DYNAMIC}, optional={"b"})
    assert copy.deepcopy(t) == t
    assert pickle.loads(pickle.dumps(t)) == t
    assert pickle.loads(pickle.dumps(STRING)) == STRING


def test_types_render_in_terraform_syntax() -> None:
    t = Object({"a": List(STRING), "b": Tuple([NUMBER, DYNAMIC])}, optional={"b"})
    assert str(t) == "object({a=list(string), b=optional(tuple([number, any]))})"
    assert repr(List(STRING)) == "List(STRING)"


def test_deep_types_hash_without_recursion() -> None:
    t: CtyType = STRING
    for _ in range(10_000):
        t = List(t)
    assert isinstance(hash(t), int)


# -------------------------------------------------------------------------------------- type JSON

TYPE_JSON_CASES: list[tuple[CtyType, str]] = [
    (STRING, '"string"'),
    (NUMBER, '"number"'),
    (BOOL, '"bool"'),
    (DYNAMIC, '"dynamic"'),
    (List(STRING), '["list","string"]'),
    (Set(NUMBER), '["set","number"]'),
    (Map(List(BOOL)), '["map",["list","bool"]]'),
    (Tuple([STRING, NUMBER]), '["tuple",["string","number"]]'),
    (Tuple([]), '["tuple",[]]'),
    (Object({}), '["object",{}]'),
    (Object({"b": NUMBER, "a": STRING}), '["object",{"a":"string","b":"number"}]'),
    (
        Object({"b": NUMBER, "a": STRING, "c": BOOL}, optional={"c", "a"}),
        '["object",{"a":"string","b":"number","c":"bool"},["a","c"]]',
    ),
    (Object({"a<b": STRING}), '["object",{"a\\u003cb":"string"}]'),  # Go's encoding/json escape
]


@pytest.mark.parametrize(("ty", "text"), TYPE_JSON_CASES, ids=[c[1] for c in TYPE_JSON_CASES])
def test_type_json_bytes_match_go_cty_both_ways(ty: CtyType, text: str) -> None:
    assert type_to_json_bytes(ty) == text.encode()
    assert type_from_json_bytes(text.encode()) == ty
    assert type_from_json(json.loads(text)) == ty
    assert type_from_json(type_to_json(ty)) == ty


def test_type_to_json_gives_plain_python() -> None:
    assert type_to_json(Object({"a": List(STRING)}, optional={"a"})) == [
        "object",
        {"a": ["list", "string"]},
        ["a"],
    ]


BAD_TYPE_JSON = [
    "strin",
    "",
    ["list"],
    ["list", "string", "extra"],
    ["lst", "string"],
    ["object", 5],
    ["object", {"a": "strin"}],
    ["object", {"a": "string"}, ["b"]],
    ["object", {"a": "string"}, "a"],
    ["object", {"a": "string"}, [1]],
    ["object"],
    ["tuple", "string"],
    ["tuple", ["string", 5]],
    [],
    [5, "string"],
    5,
    None,
    True,
    {"list": "string"},
]


@pytest.mark.parametrize("obj", BAD_TYPE_JSON, ids=[json.dumps(o) for o in BAD_TYPE_JSON])
def test_type_from_json_rejects_malformed(obj: object) -> None:
    with pytest.raises(CtyError):
        type_from_json(obj)
    with pytest.raises(CtyError):
        type_from_json_bytes(json.dumps(obj).encode())


def test_type_from_json_names_the_bad_type() -> None:
    with pytest.raises(CtyError, match="'strin'"):
        type_from_json("strin")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b'"string" x',
        b'["list","string"',
        b"\xff\xfe",
        b'["object",{"a":"string","a":"bool"}]',
        b"NaN",
        '"string"'.encode("utf-16"),
    ],
)
def test_type_from_json_bytes_rejects_bad_bytes(raw: bytes) -> None:
    with pytest.raises(CtyError):
        type_from_json_bytes(raw)


def test_type_from_json_bytes_rejects_non_bytes() -> None:
    with pytest.raises(CtyError):
        type_from_json_bytes('"string"')  # type: ignore[arg-type]


@pytest.mark.parametrize("levels", [65, 10_000])
def test_deeply_nested_type_json_is_rejected_cleanly(levels: int) -> None:
    raw = ('["list",' * levels + '"string"' + "]" * levels).encode()
    with pytest.raises(CtyError, match="deep"):
        type_from_json_bytes(raw)
    with pytest.raises(CtyError):
        type_from_json_bytes(b"[" * 100_000)


def test_type_json_depth_limit_allows_64_levels() -> None:
    t: CtyType = STRING
    for _ in range(64):
        t = List(t)
    assert type_from_json_bytes(type_to_json_bytes(t)) == t
    with pytest.raises(CtyError):
        type_to_json(List(t))


# ------------------------------------------------------------------------------------ value helpers


def test_unknown_refinement_flag() -> None:
    assert not UNKNOWN.is_refined
    assert Unknown() == UNKNOWN
    assert Unknown(not_null=True).is_refined
    assert Unknown(string_prefix="").is_refined
    assert Unknown(number_lower=(Decimal(0), True)).is_refined
    assert Unknown(length_upper=3).is_refined
    assert repr(UNKNOWN) == "Unknown()"
    assert repr(Unknown(not_null=True, length_lower=1)) == "Unknown(not_null=True, length_lower=1)"


def test_is_known_and_wholly_known() -> None:
    assert is_known(None) and is_known("x") and is_known([UNKNOWN])
    assert not is_known(UNKNOWN) and not is_known(Unknown(not_null=True))
    assert is_wholly_known({"a": [1, {"b": (None, "x")}], "c": DynamicValue(STRING, "s")})
    assert not is_wholly_known({"a": [1, {"b": (None, Unknown(not_null=True))}]})
    assert not is_wholly_known(DynamicValue(List(STRING), ["a", UNKNOWN]))
    assert not is_wholly_known(UNKNOWN)
    deep: object = UNKNOWN
    for _ in range(10_000):
        deep = [deep]
    assert not is_wholly_known(deep)


# ------------------------------------------------------------------------------------------- errors


def test_cty_error_reads_well_with_a_path() -> None:
    err = CtyError("expected a number, got a string", ("expires",))
    assert str(err) == "at .expires: expected a number, got a string"
    assert err.message == "expected a number, got a string" and err.path == ("expires",)
    assert isinstance(err, ValueError)
    nested = CtyError("bad", ("tags", "team name", 0, "x"))
    assert str(nested) == 'at .tags["team name"][0].x: bad'
    assert str(CtyError("whole value is wrong")) == "whole value is wrong"


def test_cty_error_add_parent_prefixes_path() -> None:
    err = CtyError("bad", ("leaf",)).add_parent("outer", 2)
    assert err.path == ("outer", 2, "leaf")
