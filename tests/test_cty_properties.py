"""Property tests: generated types and values survive both codecs; arbitrary bytes never crash a decoder."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    decode_json,
    decode_msgpack,
    encode_json,
    encode_msgpack,
    is_wholly_known,
    type_from_json,
    type_from_json_bytes,
    type_to_json,
    type_to_json_bytes,
)

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

names = st.text(max_size=6)

concrete_primitives = st.sampled_from([STRING, NUMBER, BOOL])


def _containers(children: st.SearchStrategy[CtyType]) -> st.SearchStrategy[CtyType]:
    objects = st.dictionaries(names, children, max_size=4).flatmap(
        lambda attrs: st.sets(
            st.sampled_from(sorted(attrs)) if attrs else st.nothing(), max_size=len(attrs)
        ).map(lambda optional: Object(attrs, optional))
    )
    return st.one_of(
        children.map(List),
        children.map(Set),
        children.map(Map),
        st.lists(children, max_size=3).map(Tuple),
        objects,
    )


# Types that may stand inside a DynamicValue (anything but the bare dynamic pseudo-type).
concrete_types: st.SearchStrategy[CtyType] = st.recursive(concrete_primitives, _containers, max_leaves=6)
# Types that may also contain dynamic attributes and elements.
any_types: st.SearchStrategy[CtyType] = st.recursive(
    st.one_of(concrete_primitives, st.just(DYNAMIC)), _containers, max_leaves=6
)


def _decimal_text(mantissa: int, exponent: int) -> Decimal:
    return Decimal(f"{mantissa}E{exponent}")


numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(Decimal),
    st.sampled_from([Decimal("0.8"), Decimal("-0"), Decimal(2**63), Decimal(2**63 - 1), Decimal(-(2**63))]),
    st.builds(_decimal_text, st.integers(-(10**40), 10**40), st.integers(-60, 60)),
    st.floats(allow_nan=False, allow_infinity=False).map(Decimal),
    st.decimals(allow_nan=False, allow_infinity=False, places=5),
)
numbers_with_infinity = st.one_of(numbers, st.sampled_from([Decimal("Infinity"), Decimal("-Infinity")]))


def _bound(number: st.SearchStrategy[Decimal]) -> st.SearchStrategy[tuple[Decimal, bool] | None]:
    return st.none() | st.tuples(number, st.booleans())


def refined_unknowns(ty: CtyType) -> st.SearchStrategy[Unknown]:
    """Unknowns carrying only the refinements that apply to `ty` (dynamic takes none, as in go-cty)."""
    if ty == DYNAMIC:
        return st.just(UNKNOWN)
    lengths = st.none() | st.integers(min_value=0, max_value=2**40)
    if ty == STRING:
        return st.builds(Unknown, not_null=st.booleans(), string_prefix=st.none() | st.text(max_size=10))
    if ty == NUMBER:
        return st.builds(
            Unknown,
            not_null=st.booleans(),
            number_lower=_bound(numbers_with_infinity),
            number_upper=_bound(numbers),
        )
    if isinstance(ty, List | Set | Map):
        return st.builds(Unknown, not_null=st.booleans(), length_lower=lengths, length_upper=lengths)
    return st.builds(Unknown, not_null=st.booleans())


def values(ty: CtyType, *, unknowns: bool, infinity: bool) -> st.SearchStrategy[object]:
    """Python values of type `ty`, sometimes null and (if `unknowns`) sometimes unknown."""
    known = _known_values(ty, unknowns=unknowns, infinity=infinity)
    extras: list[st.SearchStrategy[object]] = [st.none()]
    if unknowns:
        extras.append(refined_unknowns(ty))
    return st.one_of(known, *extras)


def _known_values(ty: CtyType, *, unknowns: bool, infinity: bool) -> st.SearchStrategy[object]:
    def child(t: CtyType) -> st.SearchStrategy[object]:
        return values(t, unknowns=unknowns, infinity=infinity)

    if isinstance(ty, PrimitiveType):
        if ty == STRING:
            return st.text(max_size=20)
        if ty == NUMBER:
            return numbers_with_infinity if infinity else numbers
        if ty == BOOL:
            return st.booleans()
        return concrete_types.flatmap(lambda t: child(t).map(lambda v: DynamicValue(t, v)))
    if isinstance(ty, List | Set):
        return st.lists(child(ty.element), max_size=3)
    if isinstance(ty, Map):
        return st.dictionaries(st.text(max_size=5), child(ty.element), max_size=3)
    if isinstance(ty, Tuple):
        return st.tuples(*(child(e) for e in ty.elements)).map(list)
    assert isinstance(ty, Object)
    return st.fixed_dictionaries({name: child(t) for name, t in ty.attributes.items()})


msgpack_cases = any_types.flatmap(lambda t: st.tuples(st.just(t), values(t, unknowns=True, infinity=True)))
json_cases = any_types.flatmap(lambda t: st.tuples(st.just(t), values(t, unknowns=False, infinity=False)))


@PROPERTY_SETTINGS
@given(msgpack_cases)
def test_msgpack_round_trip(case: tuple[CtyType, object]) -> None:
    ty, value = case
    encoded = encode_msgpack(value, ty)
    decoded = decode_msgpack(encoded, ty)
    assert decoded == value
    assert encode_msgpack(decoded, ty) == encoded  # the encoding is canonical


@PROPERTY_SETTINGS
@given(json_cases)
def test_json_round_trip_for_wholly_known_values(case: tuple[CtyType, object]) -> None:
    ty, value = case
    assert is_wholly_known(value)
    encoded = encode_json(value, ty)
    decoded = decode_json(encoded, ty)
    assert decoded == value
    assert encode_json(decoded, ty) == encoded


@PROPERTY_SETTINGS
@given(msgpack_cases)
def test_json_refuses_exactly_the_values_with_unknowns(case: tuple[CtyType, object]) -> None:
    ty, value = case
    try:
        encode_json(value, ty)
    except CtyError as err:
        assert not is_wholly_known(value) or "Infinity" in str(err)
    else:
        assert is_wholly_known(value)


@PROPERTY_SETTINGS
@given(any_types)
def test_type_json_round_trip(ty: CtyType) -> None:
    assert type_from_json(type_to_json(ty)) == ty
    assert type_from_json_bytes(type_to_json_bytes(ty)) == ty


FUZZ_TYPES: list[CtyType] = [
    STRING,
    NUMBER,
    BOOL,
    DYNAMIC,
    List(NUMBER),
    Set(STRING),
    Map(List(BOOL)),
    Tuple([STRING, NUMBER]),
    Object({"a": STRING, "b": List(DYNAMIC), "c": Map(NUMBER)}, optional={"c"}),
]


@PROPERTY_SETTINGS
@given(st.binary(max_size=64), st.sampled_from(FUZZ_TYPES))
def test_decode_msgpack_on_arbitrary_bytes_returns_or_raises_cty_error(data: bytes, ty: CtyType) -> None:
    with contextlib.suppress(CtyError):
        decode_msgpack(data, ty)


@PROPERTY_SETTINGS
@given(msgpack_cases, st.data())
def test_decode_msgpack_on_corrupted_encodings_returns_or_raises_cty_error(
    case: tuple[CtyType, object], data: st.DataObject
) -> None:
    ty, value = case
    encoded = bytearray(encode_msgpack(value, ty))
    if encoded:
        position = data.draw(st.integers(0, len(encoded) - 1))
        encoded[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    with contextlib.suppress(CtyError):
        decode_msgpack(bytes(encoded[:cut]), ty)


@PROPERTY_SETTINGS
@given(st.one_of(st.binary(max_size=64), st.text(max_size=40).map(str.encode)), st.sampled_from(FUZZ_TYPES))
def test_decode_json_and_type_json_on_arbitrary_bytes_raise_only_cty_error(data: bytes, ty: CtyType) -> None:
    with contextlib.suppress(CtyError):
        decode_json(data, ty)
    with contextlib.suppress(CtyError):
        type_from_json_bytes(data)
