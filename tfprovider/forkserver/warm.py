"""What the daemon loads before it forks, so a forked provider starts with everything in memory.

Imports only: loading a module is stateless for our purposes, while anything that would create
gRPC objects, threads, keys, clients or connections must happen in the child.

gRPC and fork: ``import grpc`` starts no thread and does not initialise gRPC's C core (measured
with grpcio 1.85: one thread after the import, seven after ``grpc.server()``); the core starts
with the first channel or server, which only ever happens in a child, after the fork. So the
daemon needs none of gRPC's fork support, and ``GRPC_ENABLE_FORK_SUPPORT`` is left alone: that
option makes gRPC shut its threads down around a fork for channels created *before* it (client
side only), which is never our case, and the children, which create the server, never fork. What
keeps this true is checked rather than assumed: the daemon refuses to fork unless
``/proc/self/task`` lists exactly one thread, and the tests check both the warm-up and a
serving daemon.

The list names modules the provider loads lazily during start-up and its first requests. A name
that fails to import is skipped: warming is an optimisation, never a reason not to serve.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterable
from types import ModuleType

import tfprovider

ServeCall = Callable[[], int]

LAZY_MODULES = (
    # gRPC server machinery, loaded by grpc.server() and server.start()
    "grpc",
    "grpc._server",
    "grpc._interceptor",
    "concurrent.futures.thread",
    "queue",
    # the private socket directory and the per-launch TLS certificate
    "tempfile",
    "shutil",
    "cryptography.x509",
    "cryptography.x509.oid",
    "cryptography.hazmat.primitives.hashes",
    "cryptography.hazmat.primitives.serialization",
    "cryptography.hazmat.primitives.asymmetric.ec",
    # the Pulumi Cloud client, built on the first API call
    "httpx",
    "ssl",
    "encodings.idna",
)
# Never imported for warming: entry points that run on import, and code no provider process runs.
_SKIPPED_PREFIXES = ("tfprovider.emulator", "tfprovider.forkserver", "tfprovider.installer")


def warm_up() -> ServeCall:
    """Import the provider and what it loads lazily; return the call a child makes to serve.

    The child registers the provider's servicer directly (``tfprovider.server.register``): the
    ordinary start-up routes it through ``tfprovider.lazy_server`` so that its imports happen
    after the handshake, and here they have already happened, before the fork.
    """
    # Taken before the ``tfprovider.plugin.serve`` submodule is imported, which rebinds the
    # package attribute of the same name to the module.
    from tfprovider.plugin import serve
    from tfprovider.server import register

    for name in LAZY_MODULES:
        _import_quietly(name)
    _import_package_tree(tfprovider.__path__, "tfprovider.")
    plugin = sys.modules["tfprovider.plugin"]
    if getattr(plugin, "serve", None) is not serve:  # as serve() itself does: keep it the function
        setattr(plugin, "serve", serve)  # noqa: B010 - the attribute is rebound, not statically known

    def serve_this_launch() -> int:
        return serve(register)

    return serve_this_launch


def _import_package_tree(path: Iterable[str], prefix: str) -> None:
    for module in pkgutil.iter_modules(path, prefix):
        if module.name.endswith(".__main__") or module.name.startswith(_SKIPPED_PREFIXES):
            continue
        imported = _import_quietly(module.name)
        if module.ispkg and imported is not None:
            _import_package_tree(getattr(imported, "__path__", ()), module.name + ".")


def _import_quietly(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except Exception:
        return None
