"""The go-plugin runtime: how Terraform starts, talks to and stops this provider process.

Import-light on purpose (no grpc, no cryptography here): ``serve`` loads the server only when
called, after the launch checks, so running the binary by hand explains itself at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import grpc

__all__ = ["serve"]


def serve(
    register: Callable[[grpc.Server], None],
    *,
    debug: bool = False,
    environ: Mapping[str, str] | None = None,
    provider_address: str = "registry.terraform.io/pulumi/pulumiservice",
) -> int:
    """Run the provider process: check the launch, serve gRPC on a private unix socket, print the
    handshake, and return the exit code once Terraform shuts us down (or SIGTERM; Ctrl-C in
    debug mode). ``register`` adds the provider's services to the server.

    ``environ`` defaults to ``os.environ``. In debug mode no launcher is needed: the server is
    plaintext and prints ``TF_REATTACH_PROVIDERS`` for ``provider_address`` instead of a handshake.
    """
    from tfprovider.plugin.serve import serve_plugin

    # Importing the submodule ``serve`` rebinds this package's attribute ``serve`` to it, which
    # would make a later ``from tfprovider.plugin import serve`` get the module: put this back.
    globals()["serve"] = _serve_function
    return serve_plugin(register, debug=debug, environ=environ, provider_address=provider_address)


_serve_function = serve
