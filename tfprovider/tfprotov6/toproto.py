"""Plain values → wire: schemas, diagnostics and DynamicValues for tfplugin6 responses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tfprovider.cty import CtyType, encode_msgpack, type_to_json_bytes
from tfprovider.diagnostics import Diagnostic, ElementKey, PathStep, Severity
from tfprovider.protocol import tfplugin6_pb2 as pb
from tfprovider.schema import Attribute, IdentitySchema, Schema


def dynamic_value(value: Any, ty: CtyType) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=encode_msgpack(value, ty))


def identity_data(value: Any, ty: CtyType) -> pb.ResourceIdentityData:
    return pb.ResourceIdentityData(identity_data=dynamic_value(value, ty))


def attribute_path(path: Iterable[PathStep]) -> pb.AttributePath:
    steps = []
    for step in path:
        if isinstance(step, ElementKey):
            if isinstance(step.key, int):
                steps.append(pb.AttributePath.Step(element_key_int=step.key))
            else:
                steps.append(pb.AttributePath.Step(element_key_string=step.key))
        else:
            steps.append(pb.AttributePath.Step(attribute_name=step))
    return pb.AttributePath(steps=steps)


def diagnostic(diag: Diagnostic) -> pb.Diagnostic:
    severity = pb.Diagnostic.ERROR if diag.severity is Severity.ERROR else pb.Diagnostic.WARNING
    message = pb.Diagnostic(severity=severity, summary=diag.summary, detail=diag.detail)
    if diag.path:
        message.attribute.CopyFrom(attribute_path(diag.path))
    return message


def diagnostics(diags: Iterable[Diagnostic]) -> list[pb.Diagnostic]:
    return [diagnostic(d) for d in diags]


def _attribute(attr: Attribute) -> pb.Schema.Attribute:
    return pb.Schema.Attribute(
        name=attr.name,
        type=type_to_json_bytes(attr.type),
        description=attr.description,
        description_kind=pb.StringKind.MARKDOWN,
        required=attr.required,
        optional=attr.optional,
        computed=attr.computed,
        sensitive=attr.sensitive,
        deprecated=attr.deprecated,
        write_only=attr.write_only,
    )


def schema(s: Schema) -> pb.Schema:
    block = pb.Schema.Block(
        version=s.version,
        attributes=[_attribute(a) for a in s.block.attributes],
        description=s.block.description,
        description_kind=pb.StringKind.MARKDOWN,
        deprecated=s.block.deprecated,
    )
    return pb.Schema(version=s.version, block=block)


def identity_schema(s: IdentitySchema) -> pb.ResourceIdentitySchema:
    return pb.ResourceIdentitySchema(
        version=s.version,
        identity_attributes=[
            pb.ResourceIdentitySchema.IdentityAttribute(
                name=a.name,
                type=type_to_json_bytes(a.type),
                required_for_import=a.required_for_import,
                optional_for_import=a.optional_for_import,
                description=a.description,
            )
            for a in s.attributes
        ],
    )
