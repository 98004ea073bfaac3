"""A minimal provider on the PyPI ``tf`` framework, for the launch-latency comparison.

One resource, ``benchtf_item``, whose only argument is ``name`` and whose ``id`` is that name: the
least a provider built on this framework can be. Run by the interpreter of the benchmark's own
``tf`` virtual environment (``tf`` needs protobuf 5, which the project's environment cannot hold).
"""

from __future__ import annotations

from typing import Any

from tf import schema, types
from tf.iface import Config, CreateContext, DeleteContext, ReadContext, State, UpdateContext
from tf.provider import Provider, Resource
from tf.runner import run_provider
from tf.utils import Diagnostics


class Item(Resource):
    def __init__(self, provider: Any) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "item"

    @classmethod
    def get_schema(cls) -> schema.Schema:
        return schema.Schema(
            attributes=[
                schema.Attribute("name", types.String(), required=True, requires_replace=True),
                schema.Attribute("id", types.String(), computed=True),
            ]
        )

    def create(self, ctx: CreateContext, planned: State) -> State:
        return {**planned, "id": planned["name"]}

    def read(self, ctx: ReadContext, current: State) -> State:
        return current

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State:
        return {**planned, "id": planned["name"]}

    def delete(self, ctx: DeleteContext, current: State) -> None:
        return None


class BenchProvider(Provider):
    def full_name(self) -> str:
        return "registry.terraform.io/bench/benchtf"

    def get_model_prefix(self) -> str:
        return "benchtf_"

    def get_provider_schema(self, diags: Diagnostics) -> schema.Schema:
        return schema.Schema(attributes=[])

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        return None

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        return None

    def get_data_sources(self) -> list[Any]:
        return []

    def get_resources(self) -> list[Any]:
        return [Item]


if __name__ == "__main__":
    run_provider(BenchProvider())
