"""Wire → plain values: DynamicValues decoded against the schema's cty type."""

from __future__ import annotations

from typing import Any

from tfprovider.cty import CtyError, CtyType, decode_json, decode_msgpack
from tfprovider.protocol import tfplugin6_pb2 as pb


def dynamic_value(message: Any, field: str, ty: CtyType) -> Any:
    """Decode ``message.field`` (a DynamicValue) as a value of ``ty``.

    An absent field is null (a client may omit e.g. an empty prior state); a present one must
    hold msgpack or JSON that conforms to ``ty``, otherwise ``CtyError`` says where it does not.
    """
    if not message.HasField(field):
        return None
    value: pb.DynamicValue = getattr(message, field)
    if value.msgpack:
        return decode_msgpack(value.msgpack, ty)
    if value.json:
        return decode_json(value.json, ty)
    raise CtyError(f"{field}: the DynamicValue carries neither msgpack nor JSON", ())


def identity_data(message: Any, field: str, ty: CtyType) -> Any:
    """Decode ``message.field`` (a ResourceIdentityData) as a value of the identity type ``ty``;
    null when the field, or the DynamicValue inside it, is absent."""
    if not message.HasField(field):
        return None
    holder = getattr(message, field)
    return dynamic_value(holder, "identity_data", ty)


def raw_state(message: pb.RawState, ty: CtyType) -> Any:
    """A stored state as Terraform hands it to UpgradeResourceState (JSON; flatmap is pre-0.12),
    or a stored identity as it hands it to UpgradeResourceIdentity (always JSON)."""
    if message.json:
        return decode_json(message.json, ty)
    if message.flatmap:
        raise CtyError(
            "the stored state is in the legacy flatmap format, which this provider never wrote", ()
        )
    return None
