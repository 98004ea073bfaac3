"""The provider's gRPC service as the launch registers it: routed at once, loaded after the handshake.

``tfprovider.server`` (the tfplugin6 servicer, its generated protobuf code, the provider and its
resources) takes longer to import than the whole plugin server takes to start. Terraform waits
for the handshake line before it sends anything, so :func:`register` only routes the service
name; the plugin runtime loads the servicer in the background right after the handshake, and
the first call waits for that load if it is still running (``tfprovider/plugin/deferred.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import grpc

# The full name of the service in proto/tfplugin6.proto; tests check it against the generated code.
PROVIDER_SERVICE = "tfplugin6.Provider"


def register(server: grpc.Server) -> None:
    """Route ``tfplugin6.Provider`` on ``server`` to the servicer, loaded on first need."""
    from tfprovider.plugin.deferred import DeferredServices

    server.add_generic_rpc_handlers((DeferredServices((PROVIDER_SERVICE,), _register_servicer),))


def _register_servicer(server: grpc.Server) -> None:
    from tfprovider.server import register as register_servicer

    register_servicer(server)
