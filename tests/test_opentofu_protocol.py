"""OpenTofu 1.6 to 1.12, played at the protocol level against the real provider process.

No OpenTofu binary can be installed here, so these tests take OpenTofu's part: they start the
launcher from the ``registry.opentofu.org`` tree of the provider mirror with the environment
OpenTofu's go-plugin client gives a provider, and send the tfplugin6 calls each release sends, in
its order and with its request fields, against the local Pulumi Cloud emulator. What each release
does was read in opentofu/opentofu at the release tags named below:

- launch (``internal/command/meta_providers.go``, ``internal/plugin6/serve.go``): the same
  ``TF_PLUGIN_MAGIC_COOKIE`` as Terraform, ``PLUGIN_PROTOCOL_VERSIONS`` from a Go map of versions
  5 and 6 (so either order), AutoMTLS with a client certificate in ``PLUGIN_CLIENT_CERT`` unless
  ``TF_DISABLE_PLUGIN_TLS``, and ``Kill()`` at the end of every phase, which calls
  ``GRPCController.Shutdown``;
- the client (``internal/plugin6/grpc_provider.go``): no release calls ``GetMetadata``; the first
  call on every provider instance is ``GetProviderSchema`` (its schema cache is only used across
  instances when ``get_provider_schema_optional`` is set, v1.6.3); ``GetFunctions`` and
  ``CallFunction`` from v1.7; ``MoveResourceState`` from v1.10; ``ClientCapabilities`` with
  ``write_only_attributes_allowed`` on validate, configure, read, plan and import from v1.11;
  ``GetResourceIdentitySchemas`` right after every ``GetProviderSchema`` (UNIMPLEMENTED meaning
  "no identities") and identities on read, plan, apply and import from v1.12;
- the walks (``internal/tofu``): validate, then plan (refresh = ``UpgradeResourceState`` +
  ``ReadResource``, then ``PlanResourceChange``), then apply (``PlanResourceChange`` again, then
  ``ApplyResourceChange``), each phase with its own provider process; ``tofu import`` reads the
  imported object at once; functions missing from the schema are looked up with ``GetFunctions``
  during plan (``context_functions.go``); ``Stop`` sends ``StopProvider`` on interrupt.

The differences from Terraform that matter to a provider are exactly those: GetMetadata is never
called, GetFunctions is called for unknown provider functions, and 1.12's identity handling.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from support.emulator import Emulator
from support.plugin_client import PluginProcess

from tfprovider import __version__
from tfprovider.cty import (
    Object,
    decode_msgpack,
    encode_json,
    encode_msgpack,
    is_known,
    is_wholly_known,
    type_from_json_bytes,
)
from tfprovider.installer import go_platform
from tfprovider.protocol import tfplugin6_pb2 as pb
from tfprovider.protocol import tfplugin6_pb2_grpc as pb_grpc

COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
ACCESS_TOKEN = "pul-opentofu-protocol-access-0042"
ORGTOKEN = "pulumiservice_api_tokens_orgtoken"
ERROR = pb.Diagnostic.ERROR


@dataclass(frozen=True)
class Release:
    """What one OpenTofu release does differently at the protocol level (see the module docstring)."""

    version: str
    functions: bool = False  # GetFunctions / CallFunction (tfplugin6.5), v1.7+
    moves: bool = False  # MoveResourceState for `moved` between resource types, v1.10+
    write_only: bool = False  # ClientCapabilities.write_only_attributes_allowed, v1.11+
    identities: bool = False  # GetResourceIdentitySchemas and identity data, v1.12+

    def __str__(self) -> str:
        return f"tofu{self.version}"


RELEASES = (
    Release("1.6.3"),
    Release("1.7.10", functions=True),
    Release("1.8.11", functions=True),
    Release("1.9.4", functions=True),
    Release("1.10.10", functions=True, moves=True),
    Release("1.11.14", functions=True, moves=True, write_only=True),
    Release("1.12.6", functions=True, moves=True, write_only=True, identities=True),
)
BY_VERSION = {release.version: release for release in RELEASES}


def errors(response: Any) -> list[str]:
    return [f"{d.summary}: {d.detail}" for d in response.diagnostics if d.severity == ERROR]


def implied_type(block: Any) -> Object:
    """The value type of a schema block, as OpenTofu's convert package derives it."""
    assert not block.block_types, "the provider's schemas have no nested blocks"
    return Object({attribute.name: type_from_json_bytes(attribute.type) for attribute in block.attributes})


@dataclass
class Schemas:
    provider: Object
    token: Object
    computed: frozenset[str]
    identity: Object | None
    response: Any


@dataclass
class Token:
    """What OpenTofu keeps in its state for one token: attributes, private bytes, identity."""

    state: dict[str, Any]
    private: bytes
    identity: dict[str, Any] | None = None


@dataclass
class OpenTofuInstance:
    """One provider process driven the way one OpenTofu release drives a provider instance."""

    release: Release
    plugin: PluginProcess
    calls: list[str] = field(default_factory=list)
    _schemas: Schemas | None = None

    @property
    def stub(self) -> pb_grpc.ProviderStub:
        return pb_grpc.ProviderStub(self.plugin.channel)

    def call(self, method: str, request: Any) -> Any:
        self.calls.append(method)
        return getattr(self.stub, method)(request, timeout=30)

    def capabilities(self) -> pb.ClientCapabilities | None:
        return pb.ClientCapabilities(write_only_attributes_allowed=True) if self.release.write_only else None

    # -- schema: the first call on every instance ---------------------------------------------------

    def schemas(self) -> Schemas:
        if self._schemas is not None:
            return self._schemas
        response = self.call("GetProviderSchema", pb.GetProviderSchema.Request())
        assert not errors(response)
        assert response.HasField("provider"), "OpenTofu fails with 'missing provider schema'"
        token_schema = response.resource_schemas[ORGTOKEN]
        identity: Object | None = None
        if self.release.identities:
            try:
                identities = self.call("GetResourceIdentitySchemas", pb.GetResourceIdentitySchemas.Request())
            except grpc.RpcError as rpc_error:  # UNIMPLEMENTED: no identities, anything else fails
                assert rpc_error.code() == grpc.StatusCode.UNIMPLEMENTED, rpc_error
            else:
                assert not errors(identities)
                if ORGTOKEN in identities.identity_schemas:
                    attributes = identities.identity_schemas[ORGTOKEN].identity_attributes
                    identity = Object({a.name: type_from_json_bytes(a.type) for a in attributes})
        self._schemas = Schemas(
            provider=implied_type(response.provider.block),
            token=implied_type(token_schema.block),
            computed=frozenset(a.name for a in token_schema.block.attributes if a.computed),
            identity=identity,
            response=response,
        )
        return self._schemas

    # -- values ----------------------------------------------------------------------------------

    def token_value(self, value: dict[str, Any] | None) -> pb.DynamicValue:
        return pb.DynamicValue(msgpack=encode_msgpack(value, self.schemas().token))

    def decode_token(self, value: pb.DynamicValue) -> dict[str, Any] | None:
        decoded = decode_msgpack(value.msgpack, self.schemas().token)
        assert decoded is None or isinstance(decoded, dict)
        return decoded

    def identity_data(self, identity: dict[str, Any] | None) -> pb.ResourceIdentityData | None:
        schema = self.schemas().identity
        if identity is None or schema is None:
            return None
        return pb.ResourceIdentityData(
            identity_data=pb.DynamicValue(msgpack=encode_msgpack(identity, schema))
        )

    def decode_identity(self, data: pb.ResourceIdentityData) -> dict[str, Any] | None:
        schema = self.schemas().identity
        if schema is None or not data.HasField("identity_data"):
            return None
        decoded = decode_msgpack(data.identity_data.msgpack, schema)
        assert isinstance(decoded, dict) and is_wholly_known(decoded)
        return decoded

    def token_config(self, **values: Any) -> dict[str, Any]:
        config = dict.fromkeys(self.schemas().token.attributes)
        config.update(values)
        return config

    def proposed_new(self, prior: dict[str, Any] | None, config: dict[str, Any]) -> dict[str, Any]:
        """objchange.ProposedNew for a flat schema: config values, except computed attributes left
        null in config, which keep their prior value (null for a create)."""
        prior = prior or dict.fromkeys(config)
        return {
            name: prior[name] if value is None and name in self.schemas().computed else value
            for name, value in config.items()
        }

    # -- the calls each walk makes -------------------------------------------------------------------

    def validate(self, provider_config: dict[str, Any], token_config: dict[str, Any]) -> None:
        schemas = self.schemas()
        provider = self.call(
            "ValidateProviderConfig",
            pb.ValidateProviderConfig.Request(
                config=pb.DynamicValue(msgpack=encode_msgpack(provider_config, schemas.provider))
            ),
        )
        assert not errors(provider)
        resource = self.call(
            "ValidateResourceConfig",
            pb.ValidateResourceConfig.Request(
                type_name=ORGTOKEN,
                config=self.token_value(token_config),
                client_capabilities=self.capabilities(),
            ),
        )
        assert not errors(resource)

    def configure(self, provider_config: dict[str, Any]) -> None:
        schemas = self.schemas()
        response = self.call(
            "ConfigureProvider",
            pb.ConfigureProvider.Request(
                terraform_version=self.release.version,  # OpenTofu sends its own version here
                config=pb.DynamicValue(msgpack=encode_msgpack(provider_config, schemas.provider)),
                client_capabilities=self.capabilities(),
            ),
        )
        assert not errors(response)

    def refresh(self, token: Token) -> Token | None:
        """UpgradeResourceState with the stored JSON, then ReadResource; None when it is gone."""
        schemas = self.schemas()
        upgraded = self.call(
            "UpgradeResourceState",
            pb.UpgradeResourceState.Request(
                type_name=ORGTOKEN,
                version=schemas.response.resource_schemas[ORGTOKEN].version,
                raw_state=pb.RawState(json=encode_json(token.state, schemas.token)),
            ),
        )
        assert not errors(upgraded)
        current = self.decode_token(upgraded.upgraded_state)
        assert current == token.state
        return self.read(Token(current, token.private, token.identity))

    def read(self, token: Token) -> Token | None:
        read = self.call(
            "ReadResource",
            pb.ReadResource.Request(
                type_name=ORGTOKEN,
                current_state=self.token_value(token.state),
                private=token.private,
                client_capabilities=self.capabilities(),
                current_identity=self.identity_data(token.identity),
            ),
        )
        assert not errors(read)
        state = self.decode_token(read.new_state)
        if state is None:
            return None
        assert is_wholly_known(state)
        identity = self.decode_identity(read.new_identity) or token.identity
        return Token(state, read.private, identity)

    def plan(self, prior: Token | None, config: dict[str, Any] | None) -> tuple[dict[str, Any] | None, Any]:
        proposed = None if config is None else self.proposed_new(prior.state if prior else None, config)
        response = self.call(
            "PlanResourceChange",
            pb.PlanResourceChange.Request(
                type_name=ORGTOKEN,
                prior_state=self.token_value(prior.state if prior else None),
                proposed_new_state=self.token_value(proposed),
                config=self.token_value(config),
                prior_private=prior.private if prior else b"",
                client_capabilities=self.capabilities(),
                prior_identity=self.identity_data(prior.identity if prior else None),
            ),
        )
        assert not errors(response)
        planned = self.decode_token(response.planned_state)
        if config is None:
            assert planned is None, "a destroy plan is null"
        else:
            assert planned is not None
            for name, value in config.items():  # OpenTofu rejects a plan that changes configured values
                if value is not None:
                    assert planned[name] == value, name
        return planned, response

    def apply(self, prior: Token | None, config: dict[str, Any] | None) -> Token | None:
        """The apply walk: plan again (it must agree with itself), then ApplyResourceChange."""
        planned, plan = self.plan(prior, config)
        response = self.call(
            "ApplyResourceChange",
            pb.ApplyResourceChange.Request(
                type_name=ORGTOKEN,
                prior_state=self.token_value(prior.state if prior else None),
                planned_state=plan.planned_state,
                config=self.token_value(config),
                planned_private=plan.planned_private,
                planned_identity=plan.planned_identity if plan.HasField("planned_identity") else None,
            ),
        )
        assert not errors(response)
        new_state = self.decode_token(response.new_state)
        if planned is None:
            assert new_state is None
            return None
        assert new_state is not None and is_wholly_known(new_state)
        for name, value in planned.items():  # "Provider produced inconsistent result after apply"
            if is_known(value):
                assert new_state[name] == value, name
        identity = self.decode_identity(response.new_identity)
        if self.release.identities and self.schemas().identity is not None:
            assert identity is not None, "1.12 stores the identity an apply returns"
        return Token(new_state, response.private, identity)

    def import_token(self, import_id: str = "", identity: dict[str, Any] | None = None) -> Token:
        response = self.call(
            "ImportResourceState",
            pb.ImportResourceState.Request(
                type_name=ORGTOKEN,
                id=import_id,
                client_capabilities=self.capabilities(),
                identity=self.identity_data(identity),
            ),
        )
        assert not errors(response)
        (imported,) = response.imported_resources
        assert imported.type_name == ORGTOKEN
        state = self.decode_token(imported.state)
        assert state is not None
        token = self.read(Token(state, imported.private, self.decode_identity(imported.identity)))
        assert token is not None, "OpenTofu: Cannot import non-existent remote object"
        return token

    def shutdown(self) -> None:
        """``Kill()`` at the end of a phase: GRPCController.Shutdown, and the process exits at once."""
        started = time.monotonic()
        assert self.plugin.shutdown(timeout=5) == 0
        assert time.monotonic() - started < 2, "go-plugin kills a plugin that takes 2 s to exit"


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(access_token=ACCESS_TOKEN, orgs=["acme"]) as running:
        yield running


def opentofu_launcher(plugins_dir: Path) -> Path:
    """Where `tofu init` finds the provider in a filesystem mirror (and copies it from)."""
    return (
        plugins_dir
        / "registry.opentofu.org"
        / "pulumi"
        / "pulumiservice"
        / __version__
        / go_platform()
        / f"terraform-provider-pulumiservice_v{__version__}"
    )


def opentofu_env(protocol_versions: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_", "PULUMI_"))}
    env.update(
        TF_PLUGIN_MAGIC_COOKIE=COOKIE,
        PLUGIN_PROTOCOL_VERSIONS=protocol_versions,
        PLUGIN_MIN_PORT="10000",
        PLUGIN_MAX_PORT="25000",
    )
    return env


class Launcher:
    """Starts provider instances as one OpenTofu release would, one per phase."""

    def __init__(self, plugins_dir: Path, workdir: Path, release: Release, protocol_versions: str) -> None:
        self.path = opentofu_launcher(plugins_dir)
        self.workdir = workdir
        self.release = release
        self.protocol_versions = protocol_versions
        self._running: list[PluginProcess] = []

    def start(self) -> OpenTofuInstance:
        plugin = PluginProcess([str(self.path)], opentofu_env(self.protocol_versions), cwd=str(self.workdir))
        plugin.start()  # PLUGIN_CLIENT_CERT is added: OpenTofu's AutoMTLS
        self._running.append(plugin)
        return OpenTofuInstance(self.release, plugin)

    def close(self) -> None:
        for plugin in self._running:
            plugin.close()


@pytest.fixture(params=RELEASES, ids=str)
def tofu(request: pytest.FixtureRequest, plugins_dir: Path, tmp_path: Path) -> Iterator[Launcher]:
    release: Release = request.param
    # go-plugin lists the protocol versions from a map: cover both orders across releases.
    versions = "5,6" if RELEASES.index(release) % 2 == 0 else "6,5"
    launcher = Launcher(plugins_dir, tmp_path, release, versions)
    try:
        yield launcher
    finally:
        launcher.close()


def provider_config(instance: OpenTofuInstance, emulator: Emulator) -> dict[str, Any]:
    config = dict.fromkeys(instance.schemas().provider.attributes)
    config.update(access_token=ACCESS_TOKEN, api_url=emulator.url)
    return config


def live(emulator: Emulator, name: str) -> list[dict[str, Any]]:
    status, body = emulator.call("GET", "/api/orgs/acme/tokens?filter=all")
    assert status == 200
    return [token for token in body["tokens"] if token["name"] == name]


# --- the tests ---------------------------------------------------------------------------------------


def test_the_mirror_has_the_opentofu_layout(plugins_dir: Path) -> None:
    launcher = opentofu_launcher(plugins_dir)
    assert launcher.is_file() and os.access(launcher, os.X_OK)
    assert launcher.relative_to(plugins_dir).parts[:4] == (
        "registry.opentofu.org",
        "pulumi",
        "pulumiservice",
        __version__,
    )


def test_validate_and_plan_of_a_new_token(tofu: Launcher, emulator: Emulator) -> None:
    """`tofu plan` with one new token: a validate instance, then a plan instance. The schema is the
    first call each time (never GetMetadata); 1.12 asks for identity schemas right after it; 1.7+
    look up an unknown ``provider::pulumiservice::…`` function with GetFunctions, which finds none
    (OpenTofu then reports "Function not found in provider"), and a CallFunction for it anyway
    gets a FunctionError instead of a failed call."""
    release = tofu.release
    validate = tofu.start()
    config = validate.token_config(name=f"plan-{release.version}", org_name="acme", description="d")
    validate.validate(provider_config(validate, emulator), config)
    validate.shutdown()
    first = ["GetResourceIdentitySchemas"] if release.identities else []
    assert validate.calls == ["GetProviderSchema", *first, "ValidateProviderConfig", "ValidateResourceConfig"]

    plan = tofu.start()
    plan.validate(provider_config(plan, emulator), config)
    plan.configure(provider_config(plan, emulator))
    if release.functions:
        functions = plan.call("GetFunctions", pb.GetFunctions.Request())
        assert not errors(functions) and dict(functions.functions) == {}
        called = plan.call("CallFunction", pb.CallFunction.Request(name="rotate", arguments=[]))
        assert "rotate" in called.error.text and not called.HasField("result")
    planned, _ = plan.plan(None, config)
    assert planned is not None and not is_known(planned["token_value"])
    plan.shutdown()
    assert "GetMetadata" not in validate.calls + plan.calls
    assert not live(emulator, config["name"]), "planning creates nothing"


@pytest.mark.parametrize(
    "tofu", [BY_VERSION["1.6.3"], BY_VERSION["1.11.14"], BY_VERSION["1.12.6"]], ids=str, indirect=True
)
def test_apply_refresh_import_and_destroy(tofu: Launcher, emulator: Emulator) -> None:
    """`tofu apply`, a refreshing `tofu plan`, `tofu import` into a fresh state, then `tofu destroy`,
    each phase in a provider process of its own, against real API calls."""
    release = tofu.release
    name = f"life-{release.version}"

    def phase() -> OpenTofuInstance:
        instance = tofu.start()
        config = provider_config(instance, emulator)
        instance.validate(config, instance.token_config(name=name, org_name="acme"))
        instance.configure(config)
        return instance

    apply = phase()
    config = apply.token_config(name=name, org_name="acme", description="made by tofu", reason="tofu test")
    created = apply.apply(None, config)
    apply.shutdown()
    assert created is not None
    (remote,) = live(emulator, name)
    assert created.state["token_id"] == remote["id"] and created.state["token_value"].startswith("pul-")
    if release.identities:  # the provider declares an identity for the token: 1.12 keeps it in state
        assert created.identity == {"org_name": "acme", "token_id": remote["id"]}

    refresh = phase()
    refreshed = refresh.refresh(created)
    assert refreshed is not None and refreshed.state == created.state
    planned, plan = refresh.plan(refreshed, config)
    assert planned == refreshed.state and not plan.requires_replace
    refresh.shutdown()

    importer = phase()
    imported = importer.import_token(import_id=f"acme/{remote['id']}")
    assert imported.state["token_id"] == remote["id"] and imported.state["token_value"] is None
    planned, plan = importer.plan(
        imported, importer.token_config(name=name, org_name="acme", description="made by tofu")
    )
    assert not plan.requires_replace
    if release.identities:  # `import { identity = { org_name, token_id } }`, with an empty id
        assert imported.identity == created.identity
        by_identity = importer.import_token(identity=imported.identity)
        assert by_identity.state["token_id"] == remote["id"]
    importer.shutdown()

    destroy = phase()
    current = destroy.refresh(created)
    assert destroy.apply(current, None) is None
    destroy.shutdown()
    assert not live(emulator, name)
    assert "GetMetadata" not in apply.calls + refresh.calls + importer.calls + destroy.calls


@pytest.mark.parametrize("tofu", [BY_VERSION["1.10.10"], BY_VERSION["1.12.6"]], ids=str, indirect=True)
def test_a_moved_block_from_another_type_gets_a_diagnostic(tofu: Launcher, emulator: Emulator) -> None:
    """1.10+ call MoveResourceState on the target provider for `moved` across resource types."""
    instance = tofu.start()
    instance.configure(provider_config(instance, emulator))
    response = instance.call(
        "MoveResourceState",
        pb.MoveResourceState.Request(
            source_provider_address="registry.opentofu.org/hashicorp/random",
            source_type_name="random_password",
            source_schema_version=3,
            source_state=pb.RawState(json=b'{"id":"none","result":"s3cr3t"}'),
            target_type_name=ORGTOKEN,
        ),
    )
    (problem,) = errors(response)
    assert "random_password" in problem and "import" in problem
    assert "s3cr3t" not in problem
    instance.shutdown()


@pytest.mark.parametrize("tofu", [BY_VERSION["1.6.3"], BY_VERSION["1.12.6"]], ids=str, indirect=True)
def test_stop_provider_ends_a_read_in_flight_and_the_instance_still_shuts_down(
    tofu: Launcher, plugins_dir: Path
) -> None:
    """Ctrl-C during `tofu plan`: OpenTofu calls StopProvider while a refresh waits on a slow Pulumi
    Cloud, waits for its walk to end, then kills the instance (Shutdown)."""
    with Emulator(access_token=ACCESS_TOKEN, orgs=["acme"], extra_args=["--latency-ms", "20000"]) as slow:
        instance = tofu.start()
        instance.configure(provider_config(instance, slow))
        state = instance.token_config(
            name="slow",
            org_name="acme",
            description="",
            admin=False,
            expires=0,
            id="acme/t-1",
            token_id="t-1",
        )
        outcome: dict[str, Any] = {}

        def refresh() -> None:
            outcome["response"] = instance.stub.ReadResource(
                pb.ReadResource.Request(type_name=ORGTOKEN, current_state=instance.token_value(state)),
                timeout=30,
            )
            outcome["at"] = time.monotonic()

        reader = threading.Thread(target=refresh)
        reader.start()
        time.sleep(0.5)  # the read is waiting on the emulator now
        assert reader.is_alive()
        stopped_at = time.monotonic()
        stop = instance.call("StopProvider", pb.StopProvider.Request())
        assert stop.Error == ""
        reader.join(timeout=10)
        assert not reader.is_alive()
        assert outcome["at"] - stopped_at < 2.0
        assert errors(outcome["response"]), "a cancelled read reports an error, never a made-up state"
        assert instance.plugin.proc.poll() is None, "StopProvider cancels work; the process keeps serving"
        assert instance.schemas().response.provider.block.attributes
        instance.shutdown()


@pytest.mark.parametrize("tofu", [BY_VERSION["1.12.6"]], ids=str, indirect=True)
def test_shutdown_removes_the_socket_and_sigint_is_ignored(tofu: Launcher) -> None:
    """OpenTofu forwards Ctrl-C to the process group like Terraform: the provider ignores SIGINT
    and leaves when the phase ends with Shutdown."""
    instance = tofu.start()
    instance.schemas()
    socket_dir = Path(instance.plugin.handshake.address).parent
    assert socket_dir.is_dir()
    instance.plugin.proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    assert instance.plugin.proc.poll() is None
    instance.shutdown()
    assert not socket_dir.exists()
