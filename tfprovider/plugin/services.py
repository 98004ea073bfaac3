"""The gRPC services go-plugin clients expect beside the provider itself.

- ``grpc.health.v1.Health``: go-plugin documents a health check on service ``plugin``.
- ``plugin.GRPCController``: ``Shutdown`` is how Terraform says it is done with us; answering and
  exiting promptly spares every launch a two-second wait and a SIGKILL.
- ``plugin.GRPCStdio``: go-plugin's way to forward a plugin's stdout/stderr. We write our logs to
  stderr directly (Terraform reads that pipe itself), so the stream carries nothing.

``plugin.GRPCBroker`` stays unimplemented: Terraform starts its stream but ignores the
UNIMPLEMENTED answer without logging anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc

from tfprovider.plugin.stream_gate import StreamGate
from tfprovider.protocol import go_plugin_pb2, go_plugin_pb2_grpc, grpc_health_pb2, grpc_health_pb2_grpc

# go-plugin's client checks "plugin"; "" is the gRPC convention for "the server as a whole".
HEALTH_SERVICE_NAMES = frozenset({"", "plugin"})
_MAX_NAME_IN_MESSAGE = 80

Status = grpc_health_pb2.HealthCheckResponse.ServingStatus
_AddServicer = Callable[[object, grpc.Server], None]


class HealthServicer(grpc_health_pb2_grpc.HealthServicer):
    """Reports SERVING for the names in :data:`HEALTH_SERVICE_NAMES` for as long as we serve."""

    def __init__(self, gate: StreamGate) -> None:
        self._gate = gate

    def Check(
        self, request: grpc_health_pb2.HealthCheckRequest, context: grpc.ServicerContext
    ) -> grpc_health_pb2.HealthCheckResponse:
        if request.service not in HEALTH_SERVICE_NAMES:
            shown = request.service[:_MAX_NAME_IN_MESSAGE]
            context.abort(grpc.StatusCode.NOT_FOUND, f"no health status for service {shown!r}")
        return grpc_health_pb2.HealthCheckResponse(status=Status.SERVING)

    def Watch(
        self, request: grpc_health_pb2.HealthCheckRequest, context: grpc.ServicerContext
    ) -> Iterator[grpc_health_pb2.HealthCheckResponse]:
        # Our status never changes while we serve: send it once, then hold the stream as the
        # health protocol expects, ending it when the server stops.
        known = request.service in HEALTH_SERVICE_NAMES
        yield grpc_health_pb2.HealthCheckResponse(status=Status.SERVING if known else Status.SERVICE_UNKNOWN)
        self._gate.hold(context)


class ControllerServicer(go_plugin_pb2_grpc.GRPCControllerServicer):
    """Answers ``Shutdown`` and then calls ``on_shutdown``, which must return at once (the actual
    stopping happens on the main thread, after this answer is on its way)."""

    def __init__(self, on_shutdown: Callable[[], None]) -> None:
        self._on_shutdown = on_shutdown

    def Shutdown(self, request: go_plugin_pb2.Empty, context: grpc.ServicerContext) -> go_plugin_pb2.Empty:
        self._on_shutdown()
        return go_plugin_pb2.Empty()


class StdioServicer(go_plugin_pb2_grpc.GRPCStdioServicer):
    """Ends the stream at once, with no data.

    go-plugin's client treats a cleanly ended stream exactly like the end of a held one (a
    debug-level "received EOF" in its log, nothing at the user's levels), so holding it open
    would only park a worker thread for the life of the process.
    """

    def StreamStdio(
        self, request: go_plugin_pb2.Empty, context: grpc.ServicerContext
    ) -> Iterator[go_plugin_pb2.StdioData]:
        return iter(())


def add_plugin_services(server: grpc.Server, gate: StreamGate, on_shutdown: Callable[[], None]) -> None:
    """Register health, controller and stdio on ``server``."""
    # The generated registration functions are untyped; naming their type here keeps the calls checked.
    add_health: _AddServicer = grpc_health_pb2_grpc.add_HealthServicer_to_server
    add_controller: _AddServicer = go_plugin_pb2_grpc.add_GRPCControllerServicer_to_server
    add_stdio: _AddServicer = go_plugin_pb2_grpc.add_GRPCStdioServicer_to_server
    add_health(HealthServicer(gate), server)
    add_controller(ControllerServicer(on_shutdown), server)
    add_stdio(StdioServicer(), server)
