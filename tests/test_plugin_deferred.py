"""Services routed at once and loaded later (tfprovider/plugin/deferred.py), and the names they route."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from types import SimpleNamespace

import grpc
import pytest

from tfprovider import lazy_server
from tfprovider.plugin import deferred
from tfprovider.plugin.deferred import DeferredServices, preload_deferred_services
from tfprovider.plugin.serve import PLUGIN_SERVICES
from tfprovider.protocol import go_plugin_pb2, grpc_health_pb2, tfplugin6_pb2


def call(method: str) -> SimpleNamespace:
    return SimpleNamespace(method=method, invocation_metadata=())


class EchoRegistration:
    """A registration function that counts its runs and can be made slow or failing."""

    def __init__(self, service: str = "test.Echo", *, delay: float = 0.0, failures: int = 0) -> None:
        self.service = service
        self.delay = delay
        self.failures = failures
        self.runs = 0

    def __call__(self, server: grpc.Server) -> None:
        self.runs += 1
        time.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the provider code failed to import")
        echo = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
        handlers = {"Echo": echo}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(self.service, handlers),))
        server.add_registered_method_handlers(self.service, handlers)


def test_other_services_are_declined_without_loading() -> None:
    registration = EchoRegistration()
    services = DeferredServices(["test.Echo"], registration)
    assert services.service(call("/test.EchoMore/Echo")) is None
    assert services.service(call("/other.Service/Echo")) is None
    assert registration.runs == 0 and not services.loaded


def test_first_call_loads_and_later_calls_reuse_the_handlers() -> None:
    registration = EchoRegistration()
    services = DeferredServices(["test.Echo"], registration)
    handler = services.service(call("/test.Echo/Echo"))
    assert handler is not None and handler.unary_unary is not None
    assert services.service(call("/test.Echo/Missing")) is None  # the service is known, the method not
    assert services.service(call("/test.Echo/Echo")) is not None
    assert registration.runs == 1 and services.loaded


def test_concurrent_first_calls_load_once() -> None:
    registration = EchoRegistration(delay=0.2)
    services = DeferredServices(["test.Echo"], registration)
    with futures.ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda _: services.service(call("/test.Echo/Echo")), range(8)))
    assert all(handler is not None for handler in found)
    assert registration.runs == 1


def test_a_failed_load_fails_that_call_and_the_next_call_retries() -> None:
    registration = EchoRegistration(failures=1)
    services = DeferredServices(["test.Echo"], registration)
    with pytest.raises(RuntimeError, match="failed to import"):
        services.service(call("/test.Echo/Echo"))
    assert not services.loaded
    assert services.service(call("/test.Echo/Echo")) is not None
    assert registration.runs == 2


def test_preload_loads_pending_services_in_a_daemon_thread(capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = EchoRegistration(delay=0.1), EchoRegistration("test.Bad", failures=1)
    loaded_early = DeferredServices(["test.Early"], EchoRegistration("test.Early"))
    loaded_early.load()
    pending = [DeferredServices(["test.Echo"], good), DeferredServices(["test.Bad"], bad)]
    thread = preload_deferred_services()
    assert thread is not None and thread.daemon and thread.name == "tfprovider-preload"
    thread.join(timeout=10)
    assert pending[0].loaded and not pending[1].loaded
    assert (good.runs, bad.runs) == (1, 1)
    assert "loading the provider's services failed" in capsys.readouterr().err
    assert pending[1].service(call("/test.Bad/Echo")) is not None  # retried on first use


def test_preload_with_nothing_pending_starts_no_thread() -> None:
    for services in list(deferred._instances):
        if not services.loaded:
            services.load()
    assert preload_deferred_services() is None


@pytest.fixture
def echo_server() -> Iterator[tuple[grpc.Channel, EchoRegistration]]:
    registration = EchoRegistration(delay=0.3)
    executor = futures.ThreadPoolExecutor(max_workers=4)
    server = grpc.server(executor)
    server.add_generic_rpc_handlers((DeferredServices(["test.Echo"], registration),))
    with tempfile.TemporaryDirectory() as directory:
        address = f"unix:{directory}/deferred.sock"
        server.add_insecure_port(address)
        server.start()
        try:
            with grpc.insecure_channel(address) as channel:
                yield channel, registration
        finally:
            server.stop(None).wait()
            executor.shutdown()


def test_a_real_server_answers_calls_that_arrive_before_and_during_the_load(
    echo_server: tuple[grpc.Channel, EchoRegistration],
) -> None:
    channel, registration = echo_server
    echo = channel.unary_unary("/test.Echo/Echo")
    answers: list[bytes] = []
    callers = [threading.Thread(target=lambda: answers.append(echo(b"hi", timeout=10))) for _ in range(4)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=15)
    assert answers == [b"hi"] * 4
    assert registration.runs == 1
    with pytest.raises(grpc.RpcError) as info:
        channel.unary_unary("/test.Other/Echo")(b"", timeout=5)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


def _service_names(*modules: object) -> set[str]:
    names: set[str] = set()
    for module in modules:
        names.update(service.full_name for service in module.DESCRIPTOR.services_by_name.values())  # type: ignore[attr-defined]
    return names


def test_routed_names_are_the_generated_services() -> None:
    assert set(PLUGIN_SERVICES) == _service_names(go_plugin_pb2, grpc_health_pb2) - {"plugin.GRPCBroker"}
    assert {lazy_server.PROVIDER_SERVICE} == _service_names(tfplugin6_pb2)
