"""gRPC services that are routed from the start but whose code loads after the handshake.

go-plugin's client waits for our handshake line before it does anything else, and the services'
code (generated protobuf modules, the provider and its resources) costs several times what the
server itself does to start. So the runtime registers each group of services as a
:class:`DeferredServices` handler, which knows only the service names; the handshake goes out;
then :func:`preload_deferred_services` loads the code in the background while the client
connects. A call that arrives first simply waits for the load to finish.

The code is loaded by calling an ordinary registration function (the kind that takes a
``grpc.Server`` and adds handlers to it) with a collector in the server's place, so the same
function also registers the services eagerly wherever that is wanted.
"""

from __future__ import annotations

import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Collection

import grpc

Registration = Callable[[grpc.Server], None]

_instances: weakref.WeakSet[DeferredServices] = weakref.WeakSet()


class DeferredServices(grpc.GenericRpcHandler):  # type: ignore[misc]  # grpc is untyped
    """Routes calls for ``service_names`` (full names, e.g. ``tfplugin6.Provider``) to the
    handlers that ``registration`` adds, running ``registration`` once, on first need.

    Thread-safe: concurrent first calls and the background preload wait for one load. If the
    load fails, the calls that needed it fail with the error (gRPC answers them UNKNOWN and logs
    it) and the next call tries again.
    """

    def __init__(self, service_names: Collection[str], registration: Registration) -> None:
        self._prefixes = tuple(f"/{name}/" for name in service_names)
        self._registration = registration
        self._handlers: tuple[grpc.GenericRpcHandler, ...] | None = None
        self._lock = threading.Lock()
        _instances.add(self)

    @property
    def loaded(self) -> bool:
        return self._handlers is not None

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method
        if not method.startswith(self._prefixes):
            return None
        for handler in self.load():
            found = handler.service(handler_call_details)
            if found is not None:
                return found
        return None

    def load(self) -> tuple[grpc.GenericRpcHandler, ...]:
        """Run the registration if it has not run yet; the handlers it added."""
        handlers = self._handlers
        if handlers is not None:
            return handlers
        with self._lock:
            if self._handlers is None:
                collector = _HandlerCollector()
                self._registration(collector)
                self._handlers = tuple(collector.handlers)
            return self._handlers


def preload_deferred_services() -> threading.Thread | None:
    """Load every :class:`DeferredServices` not loaded yet, in a background (daemon) thread;
    returns the thread, or ``None`` when there is nothing to load.

    A failure is reported on stderr (which Terraform logs) and left for the first call to retry.
    """
    pending = [services for services in list(_instances) if not services.loaded]
    if not pending:
        return None

    def load_all() -> None:
        for services in pending:
            try:
                services.load()
            except Exception:
                sys.stderr.write(f"[ERROR] loading the provider's services failed:\n{traceback.format_exc()}")
                sys.stderr.flush()

    thread = threading.Thread(target=load_all, name="tfprovider-preload", daemon=True)
    thread.start()
    return thread


class _HandlerCollector:
    """Takes a server's place for a registration function and keeps the handlers it adds.

    Generated ``add_*Servicer_to_server`` functions add a generic handler and also the same
    methods as "registered" handlers (a faster lookup the server offers); both describe the same
    methods, so the registered ones become one more generic handler, consulted in order.
    """

    def __init__(self) -> None:
        self.handlers: list[grpc.GenericRpcHandler] = []

    def add_generic_rpc_handlers(self, handlers: Collection[grpc.GenericRpcHandler]) -> None:
        self.handlers.extend(handlers)

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        self.handlers.append(grpc.method_handlers_generic_handler(service_name, method_handlers))
