"""The servicer knows no resource type of its own: what it says about an unknown type name comes
from the provider's registries, whatever they hold."""

from __future__ import annotations

from tfprovider.protocol import tfplugin6_pb2 as pb
from tfprovider.provider import Provider
from tfprovider.resources.orgtoken import OrgTokenResource
from tfprovider.server import ProviderServicer


def test_an_unknown_type_is_answered_with_the_registered_types() -> None:
    provider = Provider(environ={})
    provider.resources = {"example_thing": OrgTokenResource()}
    provider.ephemeral_resources = {}
    servicer = ProviderServicer(provider)

    answer = servicer.ReadDataSource(pb.ReadDataSource.Request(type_name="example_other"), None)

    (diagnostic,) = answer.diagnostics
    assert diagnostic.summary == "Unsupported data source"
    assert "no data source named 'example_other'" in diagnostic.detail
    assert "It serves resource types `example_thing`; check the type name" in diagnostic.detail
    assert "orgtoken" not in diagnostic.detail


def test_the_default_provider_names_its_resource_and_ephemeral_resource() -> None:
    servicer = ProviderServicer(Provider(environ={}))

    answer = servicer.ReadResource(pb.ReadResource.Request(type_name="nope"), None)

    (diagnostic,) = answer.diagnostics
    assert diagnostic.summary == "Unsupported resource type"
    assert (
        "It serves resource types `pulumiservice_api_tokens_orgtoken`; ephemeral resource types "
        "`pulumiservice_api_tokens_orgtoken`" in diagnostic.detail
    )
