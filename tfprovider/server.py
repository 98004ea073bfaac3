"""The tfplugin6 ``Provider`` servicer: each RPC decoded, routed to provider logic, answered.

Every handler runs inside ``_answer``: whatever goes wrong — an unknown type name, a malformed
DynamicValue, a value of the wrong shape, a bug — comes back to Terraform as an error
diagnostic on the RPC's own response type. No exception escapes a handler, so one bad request
never kills the server or the other calls in flight.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import grpc

from tfprovider.cty import CtyError, CtyType, Unknown, is_wholly_known
from tfprovider.diagnostics import Diagnostic, DiagnosticError, ElementKey, PathStep, error
from tfprovider.log import logged_rpc
from tfprovider.protocol import tfplugin6_pb2 as pb
from tfprovider.protocol import tfplugin6_pb2_grpc as pb_grpc
from tfprovider.provider import Provider
from tfprovider.resources.base import (
    ApplyRequest,
    EphemeralResource,
    ManagedResource,
    ObjectValue,
    PlanRequest,
    ReadRequest,
)
from tfprovider.tfprotov6 import fromproto, toproto

Response = TypeVar("Response")


def _cty_diagnostic(exc: CtyError, what: str) -> Diagnostic:
    path: tuple[PathStep, ...] = tuple(
        ElementKey(step) if isinstance(step, int) else step for step in exc.path
    )
    return error(f"Invalid {what}", f"The provider could not decode the {what}: {exc}", *path)


def _answer(response_type: Callable[..., Response], handler: Callable[[], Response], what: str) -> Response:
    """Run ``handler``; turn any failure into a response carrying an error diagnostic."""
    try:
        return handler()
    except DiagnosticError as exc:
        diags = list(exc.diagnostics)
    except CtyError as exc:
        diags = [_cty_diagnostic(exc, what)]
    except Exception as exc:  # a bug must not take the server down
        print(f"[ERROR] unexpected failure in {what}:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
        diags = [
            error(
                "Internal provider error",
                f"{type(exc).__name__} while handling the {what}. This is a bug in "
                "terraform-provider-pulumiservice; please report it with the Terraform log.",
            )
        ]
    return response_type(diagnostics=toproto.diagnostics(diags))


def _unsupported_error(kind: str, name: str, served: Mapping[str, Iterable[str]]) -> DiagnosticError:
    """No ``kind`` called ``name``; the detail lists what ``served`` holds (kind -> type names)."""
    offered = "; ".join(
        f"{what} " + ", ".join(f"`{type_name}`" for type_name in sorted(names))
        for what, names in served.items()
        if names
    )
    return DiagnosticError(
        error(
            f"Unsupported {kind}",
            f"This provider has no {kind} named {name!r}. It serves {offered or 'no types'}; check "
            "the type name in your configuration.",
        )
    )


def _not_offered(what: str) -> DiagnosticError:
    return DiagnosticError(error("Not supported", f"terraform-provider-pulumiservice does not offer {what}."))


def _no_state_store() -> DiagnosticError:
    return _not_offered("state storage; use a Terraform backend for state")


def _raiser(exc: DiagnosticError) -> Callable[[], Any]:
    """A handler that fails with ``exc``: for RPCs about things this provider does not have."""

    def handle() -> Any:
        raise exc

    return handle


class ProviderServicer(pb_grpc.ProviderServicer):
    """Answers every tfplugin6 RPC; provider logic lives in ``Provider`` and its resources."""

    def __init__(self, provider: Provider | None = None) -> None:
        self.provider = provider or Provider()

    # -- helpers -----------------------------------------------------------------------------

    def _unsupported(self, kind: str, name: str) -> DiagnosticError:
        """The error for a type this provider does not serve, naming the types it does serve
        (from the provider's registries: the server itself knows no resource type)."""
        served: dict[str, Iterable[str]] = {
            "resource types": self.provider.resources.keys(),
            "ephemeral resource types": self.provider.ephemeral_resources.keys(),
        }
        return _unsupported_error(kind, name, served)

    def _resource(self, type_name: str) -> ManagedResource:
        resource = self.provider.resources.get(type_name)
        if resource is None:
            raise self._unsupported("resource type", type_name)
        return resource

    def _ephemeral(self, type_name: str) -> EphemeralResource:
        resource = self.provider.ephemeral_resources.get(type_name)
        if resource is None:
            raise self._unsupported("ephemeral resource type", type_name)
        return resource

    @staticmethod
    def _identity(resource: ManagedResource, state: ObjectValue | None) -> pb.ResourceIdentityData | None:
        """The identity that goes with ``state``, or None (sent as no identity) while there is none.

        Identity is derived from the state every time rather than carried along, so it is always
        wholly known when present and always names the object the state describes.
        """
        if state is None:
            return None
        identity = resource.identity(state)
        if identity is None:
            return None
        return toproto.identity_data(identity, resource.identity_schema.value_type())

    def _server_capabilities(self) -> pb.ServerCapabilities:
        return pb.ServerCapabilities(
            plan_destroy=True, get_provider_schema_optional=False, generate_resource_config=True
        )

    # -- schema and metadata -----------------------------------------------------------------

    def GetMetadata(self, request: pb.GetMetadata.Request, context: grpc.ServicerContext) -> Any:
        def handle() -> pb.GetMetadata.Response:
            return pb.GetMetadata.Response(
                server_capabilities=self._server_capabilities(),
                resources=[pb.GetMetadata.ResourceMetadata(type_name=n) for n in self.provider.resources],
                ephemeral_resources=[
                    pb.GetMetadata.EphemeralMetadata(type_name=n) for n in self.provider.ephemeral_resources
                ],
            )

        return _answer(pb.GetMetadata.Response, handle, "metadata request")

    def GetProviderSchema(self, request: pb.GetProviderSchema.Request, context: grpc.ServicerContext) -> Any:
        def handle() -> pb.GetProviderSchema.Response:
            return pb.GetProviderSchema.Response(
                provider=toproto.schema(self.provider.schema),
                resource_schemas={n: toproto.schema(r.schema) for n, r in self.provider.resources.items()},
                ephemeral_resource_schemas={
                    n: toproto.schema(r.schema) for n, r in self.provider.ephemeral_resources.items()
                },
                server_capabilities=self._server_capabilities(),
            )

        return _answer(pb.GetProviderSchema.Response, handle, "schema request")

    def GetResourceIdentitySchemas(
        self, request: pb.GetResourceIdentitySchemas.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.GetResourceIdentitySchemas.Response:
            return pb.GetResourceIdentitySchemas.Response(
                identity_schemas={
                    n: toproto.identity_schema(r.identity_schema) for n, r in self.provider.resources.items()
                }
            )

        return _answer(pb.GetResourceIdentitySchemas.Response, handle, "identity schema request")

    def GetFunctions(self, request: pb.GetFunctions.Request, context: grpc.ServicerContext) -> Any:
        return _answer(pb.GetFunctions.Response, lambda: pb.GetFunctions.Response(), "functions request")

    def CallFunction(self, request: pb.CallFunction.Request, context: grpc.ServicerContext) -> Any:
        return pb.CallFunction.Response(
            error=pb.FunctionError(
                text=f"This provider has no function named {request.name!r}; it offers no functions."
            )
        )

    # -- provider configuration -----------------------------------------------------------------

    def ValidateProviderConfig(
        self, request: pb.ValidateProviderConfig.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.ValidateProviderConfig.Response:
            config = self._decode(request, "config", self.provider.schema.value_type())
            diags = self.provider.validate_config(config) if config is not None else []
            return pb.ValidateProviderConfig.Response(diagnostics=toproto.diagnostics(diags))

        return _answer(pb.ValidateProviderConfig.Response, handle, "provider configuration")

    def ConfigureProvider(self, request: pb.ConfigureProvider.Request, context: grpc.ServicerContext) -> Any:
        def handle() -> pb.ConfigureProvider.Response:
            config = self._decode(request, "config", self.provider.schema.value_type()) or {}
            diags = self.provider.configure(config, request.terraform_version)
            return pb.ConfigureProvider.Response(diagnostics=toproto.diagnostics(diags))

        return _answer(pb.ConfigureProvider.Response, handle, "provider configuration")

    def StopProvider(self, request: pb.StopProvider.Request, context: grpc.ServicerContext) -> Any:
        self.provider.stop()
        return pb.StopProvider.Response()

    # -- managed resources -------------------------------------------------------------------

    def ValidateResourceConfig(
        self, request: pb.ValidateResourceConfig.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.ValidateResourceConfig.Response:
            resource = self._resource(request.type_name)
            config = self._decode(request, "config", resource.schema.value_type())
            diags = resource.validate(config) if config is not None else []
            return pb.ValidateResourceConfig.Response(diagnostics=toproto.diagnostics(diags))

        return _answer(pb.ValidateResourceConfig.Response, handle, "resource configuration")

    def UpgradeResourceState(
        self, request: pb.UpgradeResourceState.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.UpgradeResourceState.Response:
            resource = self._resource(request.type_name)
            if request.version > resource.schema.version:
                raise DiagnosticError(
                    error(
                        "State written by a newer provider",
                        f"The stored state has schema version {request.version}, but this provider "
                        f"knows versions up to {resource.schema.version}. Upgrade "
                        "terraform-provider-pulumiservice.",
                    )
                )
            ty = resource.schema.value_type()
            state = fromproto.raw_state(request.raw_state, ty)
            return pb.UpgradeResourceState.Response(upgraded_state=toproto.dynamic_value(state, ty))

        return _answer(pb.UpgradeResourceState.Response, handle, "stored state")

    def ReadResource(self, request: pb.ReadResource.Request, context: grpc.ServicerContext) -> Any:
        def handle() -> pb.ReadResource.Response:
            resource = self._resource(request.type_name)
            ty = resource.schema.value_type()
            current = self._decode_state(request, "current_state", ty)
            if current is None:
                return pb.ReadResource.Response(new_state=toproto.dynamic_value(None, ty))
            result = resource.read(ReadRequest(current, request.private), self.provider.context())
            return pb.ReadResource.Response(
                new_state=toproto.dynamic_value(result.new_state, ty),
                private=result.private,
                diagnostics=toproto.diagnostics(result.diagnostics),
                new_identity=self._identity(resource, result.new_state),
            )

        return _answer(pb.ReadResource.Response, handle, "resource state")

    def PlanResourceChange(
        self, request: pb.PlanResourceChange.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.PlanResourceChange.Response:
            resource = self._resource(request.type_name)
            ty = resource.schema.value_type()
            plan = resource.plan(
                PlanRequest(
                    prior=self._decode_state(request, "prior_state", ty),
                    proposed=self._decode(request, "proposed_new_state", ty),
                    config=self._decode(request, "config", ty),
                    prior_private=request.prior_private,
                    known_tokens=self.provider.token_lists.cached,
                )
            )
            # An update keeps the token, so its identity; a create or replacement has none until
            # the token exists (token_id is unknown), and Terraform 1.12+ accepts that as null.
            return pb.PlanResourceChange.Response(
                planned_state=toproto.dynamic_value(plan.planned, ty),
                requires_replace=[toproto.attribute_path(p) for p in plan.requires_replace],
                planned_private=plan.planned_private,
                diagnostics=toproto.diagnostics(plan.diagnostics),
                planned_identity=None if plan.requires_replace else self._identity(resource, plan.planned),
            )

        return _answer(pb.PlanResourceChange.Response, handle, "planned change")

    def ApplyResourceChange(
        self, request: pb.ApplyResourceChange.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.ApplyResourceChange.Response:
            resource = self._resource(request.type_name)
            ty = resource.schema.value_type()
            result = resource.apply(
                ApplyRequest(
                    prior=self._decode_state(request, "prior_state", ty),
                    planned=self._decode(request, "planned_state", ty),
                    config=self._decode(request, "config", ty),
                    planned_private=request.planned_private,
                ),
                self.provider.context(),
            )
            if result.new_state is not None and not is_wholly_known(result.new_state):
                raise DiagnosticError(
                    error(
                        "Provider produced an incomplete state",
                        "The new state still holds unknown values. This is a bug in "
                        "terraform-provider-pulumiservice; please report it.",
                    )
                )
            return pb.ApplyResourceChange.Response(
                new_state=toproto.dynamic_value(result.new_state, ty),
                private=result.private,
                diagnostics=toproto.diagnostics(result.diagnostics),
                new_identity=self._identity(resource, result.new_state),
            )

        return _answer(pb.ApplyResourceChange.Response, handle, "applied change")

    def ImportResourceState(
        self, request: pb.ImportResourceState.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.ImportResourceState.Response:
            resource = self._resource(request.type_name)
            ty = resource.schema.value_type()
            identity = self._decode_identity(request, "identity", resource)
            if identity is not None:  # an `import` block with `identity` (Terraform 1.12+); id is empty
                result = resource.import_identity(identity, self.provider.context())
            else:
                result = resource.import_state(request.id, self.provider.context())
            return pb.ImportResourceState.Response(
                imported_resources=[
                    pb.ImportResourceState.ImportedResource(
                        type_name=request.type_name,
                        state=toproto.dynamic_value(state, ty),
                        identity=self._identity(resource, state),
                    )
                    for state in result.states
                ],
                diagnostics=toproto.diagnostics(result.diagnostics),
            )

        return _answer(pb.ImportResourceState.Response, handle, "import request")

    def MoveResourceState(self, request: pb.MoveResourceState.Request, context: grpc.ServicerContext) -> Any:
        def handle() -> pb.MoveResourceState.Response:
            self._resource(request.target_type_name)
            raise DiagnosticError(
                error(
                    "Moving state between resource types is not supported",
                    f"A `moved` block from {request.source_type_name!r} to "
                    f"{request.target_type_name!r} cannot be honoured: this provider has no other "
                    "resource type to move from. Use `terraform import` instead.",
                )
            )

        return _answer(pb.MoveResourceState.Response, handle, "move request")

    # -- data sources (none) -------------------------------------------------------------------

    def ValidateDataResourceConfig(
        self, request: pb.ValidateDataResourceConfig.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.ValidateDataResourceConfig.Response:
            raise self._unsupported("data source", request.type_name)

        return _answer(pb.ValidateDataResourceConfig.Response, handle, "data source configuration")

    def ReadDataSource(self, request: pb.ReadDataSource.Request, context: grpc.ServicerContext) -> Any:
        def handle() -> pb.ReadDataSource.Response:
            raise self._unsupported("data source", request.type_name)

        return _answer(pb.ReadDataSource.Response, handle, "data source request")

    def GenerateResourceConfig(
        self, request: pb.GenerateResourceConfig.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.GenerateResourceConfig.Response:
            resource = self._resource(request.type_name)
            ty = resource.schema.value_type()
            state = self._decode_state(request, "state", ty)
            if state is None:
                raise DiagnosticError(error("No state to generate configuration from", "The state is null."))
            config = resource.generate_config(state)
            return pb.GenerateResourceConfig.Response(config=toproto.dynamic_value(config, ty))

        return _answer(pb.GenerateResourceConfig.Response, handle, "configuration generation request")

    def UpgradeResourceIdentity(
        self, request: pb.UpgradeResourceIdentity.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.UpgradeResourceIdentity.Response:
            resource = self._resource(request.type_name)
            schema = resource.identity_schema
            if request.version != schema.version:
                newer = request.version > schema.version
                raise DiagnosticError(
                    error(
                        "Identity written by a newer provider" if newer else "Unknown identity version",
                        f"The stored identity of this {request.type_name} has version {request.version}, "
                        f"but this provider only knows version {schema.version}. "
                        + (
                            "Upgrade terraform-provider-pulumiservice."
                            if newer
                            else "No release of terraform-provider-pulumiservice wrote it; the state file "
                            "may have been edited by hand."
                        ),
                    )
                )
            ty = schema.value_type()
            identity = fromproto.raw_state(request.raw_identity, ty)
            if identity is None or not is_wholly_known(identity):
                raise DiagnosticError(
                    error(
                        "Invalid stored identity",
                        "The stored identity is empty or incomplete; remove the resource's `identity` from "
                        "the state (or run `terraform apply -refresh-only`) to have it derived again.",
                    )
                )
            return pb.UpgradeResourceIdentity.Response(upgraded_identity=toproto.identity_data(identity, ty))

        return _answer(pb.UpgradeResourceIdentity.Response, handle, "identity upgrade request")

    # -- ephemeral resources -------------------------------------------------------------------

    def ValidateEphemeralResourceConfig(
        self, request: pb.ValidateEphemeralResourceConfig.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.ValidateEphemeralResourceConfig.Response:
            resource = self._ephemeral(request.type_name)
            config = self._decode(request, "config", resource.schema.value_type())
            diags = resource.validate(config) if config is not None else []
            return pb.ValidateEphemeralResourceConfig.Response(diagnostics=toproto.diagnostics(diags))

        what = "ephemeral resource configuration"
        return _answer(pb.ValidateEphemeralResourceConfig.Response, handle, what)

    def OpenEphemeralResource(
        self, request: pb.OpenEphemeralResource.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.OpenEphemeralResource.Response:
            resource = self._ephemeral(request.type_name)
            ty = resource.schema.value_type()
            config = self._decode(request, "config", ty)
            if config is None:
                raise DiagnosticError(
                    error("Invalid ephemeral resource configuration", "Terraform sent no configuration.")
                )
            result = resource.open(config, self.provider.context())
            response = pb.OpenEphemeralResource.Response(diagnostics=toproto.diagnostics(result.diagnostics))
            if result.result is not None:
                if not is_wholly_known(result.result):
                    raise DiagnosticError(
                        error(
                            "Provider produced an incomplete result",
                            "The opened ephemeral resource still holds unknown values. This is a bug in "
                            "terraform-provider-pulumiservice; please report it.",
                        )
                    )
                response.result.CopyFrom(toproto.dynamic_value(result.result, ty))
                response.private = result.private
            return response

        return _answer(pb.OpenEphemeralResource.Response, handle, "ephemeral resource request")

    def RenewEphemeralResource(
        self, request: pb.RenewEphemeralResource.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.RenewEphemeralResource.Response:
            resource = self._ephemeral(request.type_name)
            diags = resource.renew(request.private, self.provider.context())
            return pb.RenewEphemeralResource.Response(diagnostics=toproto.diagnostics(diags))

        return _answer(pb.RenewEphemeralResource.Response, handle, "ephemeral resource request")

    def CloseEphemeralResource(
        self, request: pb.CloseEphemeralResource.Request, context: grpc.ServicerContext
    ) -> Any:
        def handle() -> pb.CloseEphemeralResource.Response:
            resource = self._ephemeral(request.type_name)
            diags = resource.close(request.private, self.provider.context())
            return pb.CloseEphemeralResource.Response(diagnostics=toproto.diagnostics(diags))

        return _answer(pb.CloseEphemeralResource.Response, handle, "ephemeral resource request")

    # -- list resources, actions, state stores (none offered) ------------------------------------

    def ValidateListResourceConfig(
        self, request: pb.ValidateListResourceConfig.Request, context: grpc.ServicerContext
    ) -> Any:
        return _answer(
            pb.ValidateListResourceConfig.Response,
            _raiser(self._unsupported("list resource type", request.type_name)),
            "list resource configuration",
        )

    def ListResource(self, request: pb.ListResource.Request, context: grpc.ServicerContext) -> Iterator[Any]:
        diag = self._unsupported("list resource type", request.type_name).diagnostics
        yield pb.ListResource.Event(diagnostic=toproto.diagnostics(diag))

    def ValidateActionConfig(
        self, request: pb.ValidateActionConfig.Request, context: grpc.ServicerContext
    ) -> Any:
        return _answer(
            pb.ValidateActionConfig.Response,
            _raiser(self._unsupported("action", request.type_name)),
            "action configuration",
        )

    def PlanAction(self, request: pb.PlanAction.Request, context: grpc.ServicerContext) -> Any:
        return _answer(
            pb.PlanAction.Response, _raiser(self._unsupported("action", request.action_type)), "action plan"
        )

    def InvokeAction(self, request: pb.InvokeAction.Request, context: grpc.ServicerContext) -> Iterator[Any]:
        diag = self._unsupported("action", request.action_type).diagnostics
        completed = pb.InvokeAction.Event.Completed(diagnostics=toproto.diagnostics(diag))
        yield pb.InvokeAction.Event(completed=completed)

    def ValidateStateStoreConfig(
        self, request: pb.ValidateStateStore.Request, context: grpc.ServicerContext
    ) -> Any:
        return _answer(
            pb.ValidateStateStore.Response, _raiser(_no_state_store()), "state store configuration"
        )

    def ConfigureStateStore(
        self, request: pb.ConfigureStateStore.Request, context: grpc.ServicerContext
    ) -> Any:
        return _answer(
            pb.ConfigureStateStore.Response, _raiser(_no_state_store()), "state store configuration"
        )

    def ReadStateBytes(
        self, request: pb.ReadStateBytes.Request, context: grpc.ServicerContext
    ) -> Iterator[Any]:
        yield pb.ReadStateBytes.Response(diagnostics=toproto.diagnostics(_no_state_store().diagnostics))

    def WriteStateBytes(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        for _ in request_iterator:  # drain what the client sends before answering
            pass
        return pb.WriteStateBytes.Response(diagnostics=toproto.diagnostics(_no_state_store().diagnostics))

    def LockState(self, request: pb.LockState.Request, context: grpc.ServicerContext) -> Any:
        return _answer(pb.LockState.Response, _raiser(_no_state_store()), "state lock request")

    def UnlockState(self, request: pb.UnlockState.Request, context: grpc.ServicerContext) -> Any:
        return _answer(pb.UnlockState.Response, _raiser(_no_state_store()), "state unlock request")

    def GetStates(self, request: pb.GetStates.Request, context: grpc.ServicerContext) -> Any:
        return _answer(pb.GetStates.Response, _raiser(_no_state_store()), "state listing request")

    def DeleteState(self, request: pb.DeleteState.Request, context: grpc.ServicerContext) -> Any:
        return _answer(pb.DeleteState.Response, _raiser(_no_state_store()), "state deletion request")

    # -- decoding --------------------------------------------------------------------------------

    @staticmethod
    def _decode(message: Any, field: str, ty: CtyType) -> Any:
        what = field.replace("_", " ")
        try:
            value = fromproto.dynamic_value(message, field, ty)
        except CtyError as exc:
            raise DiagnosticError(_cty_diagnostic(exc, what)) from None
        if isinstance(value, Unknown):
            raise DiagnosticError(
                error(
                    f"Invalid {what}", f"The whole {what} is unknown; Terraform always sends a known object."
                )
            )
        return value

    @staticmethod
    def _decode_identity(message: Any, field: str, resource: ManagedResource) -> ObjectValue | None:
        """An identity sent by Terraform: null when absent, else a known object of the identity type."""
        what = "import identity"
        try:
            value = fromproto.identity_data(message, field, resource.identity_schema.value_type())
        except CtyError as exc:
            raise DiagnosticError(_cty_diagnostic(exc, what)) from None
        if value is None:
            return None
        if not is_wholly_known(value):
            raise DiagnosticError(
                error(
                    f"Invalid {what}",
                    "The import identity holds unknown values; every value in an `import` block's "
                    "`identity` must be known when Terraform plans.",
                )
            )
        assert isinstance(value, dict)
        return value

    @classmethod
    def _decode_state(cls, message: Any, field: str, ty: CtyType) -> Any:
        """A stored state: Terraform never stores unknown values, so one here is invalid input."""
        value = cls._decode(message, field, ty)
        if not is_wholly_known(value):
            what = field.replace("_", " ")
            raise DiagnosticError(
                error(f"Invalid {what}", f"The {what} holds unknown values; a stored state never does.")
            )
        return value


_STREAMING_RPCS = frozenset({"ListResource", "InvokeAction", "ReadStateBytes", "WriteStateBytes"})


def _log_every_unary_rpc(cls: type[ProviderServicer]) -> None:
    """Wrap each unary handler so TF_LOG=DEBUG shows the RPC, its resource type and duration.

    Done once for the whole class rather than per method, so a handler added later is logged
    without anyone remembering to; streaming handlers do their work after returning, so a
    wrapper around them would time nothing.
    """
    for name, handler in list(vars(cls).items()):
        if name[:1].isupper() and callable(handler) and name not in _STREAMING_RPCS:
            setattr(cls, name, logged_rpc(handler))


_log_every_unary_rpc(ProviderServicer)


def register(server: grpc.Server) -> None:
    """Add the tfplugin6 Provider service to ``server`` (called by the plugin runtime)."""
    pb_grpc.add_ProviderServicer_to_server(ProviderServicer(), server)  # type: ignore[no-untyped-call]
