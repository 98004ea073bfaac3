"""grpc imported without asyncio (tfprovider/plugin/grpc_import.py), and nothing broken by it.

Each test runs in a fresh interpreter: deferring only applies to the import that first loads grpc.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_fresh(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-P", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_grpc_loads_without_asyncio_and_serves_synchronously() -> None:
    out = run_fresh(
        """
        import sys, tempfile
        from concurrent import futures
        from tfprovider.plugin.grpc_import import import_grpc
        grpc = import_grpc()
        print("after import:", sorted(m for m in sys.modules if m.startswith(("asyncio", "grpc.aio"))))
        server = grpc.server(futures.ThreadPoolExecutor(2))
        echo = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.E", {"E": echo}),))
        address = "unix:" + tempfile.mkdtemp() + "/s"
        server.add_insecure_port(address)
        server.start()
        with grpc.insecure_channel(address) as channel:
            print(channel.unary_unary("/t.E/E")(b"hi", timeout=10))
        server.stop(None).wait()
        print("after serving:", sorted(m for m in sys.modules if m.startswith(("asyncio", "grpc.aio"))))
        """
    )
    assert out.splitlines() == ["after import: []", "b'hi'", "after serving: []"]


def test_grpc_aio_works_afterwards_with_one_copy_of_every_module() -> None:
    out = run_fresh(
        """
        import sys, tempfile
        from tfprovider.plugin.grpc_import import import_grpc
        grpc = import_grpc()
        cygrpc = sys.modules["grpc._cython.cygrpc"]
        stand_in = grpc.aio
        import asyncio
        import grpc.aio

        async def roundtrip():
            server = grpc.aio.server()
            async def echo(request, context):
                return request
            handler = grpc.unary_unary_rpc_method_handler(echo)
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.E", {"E": handler}),))
            address = "unix:" + tempfile.mkdtemp() + "/s"
            server.add_insecure_port(address)
            await server.start()
            async with grpc.aio.insecure_channel(address) as channel:
                answer = await channel.unary_unary("/t.E/E")(b"hi", timeout=10)
            await server.stop(None)
            return answer

        print(asyncio.run(roundtrip()))
        print(stand_in.insecure_channel is grpc.aio.insecure_channel)  # an early reference still works
        print(cygrpc.asyncio is asyncio, grpc.aio is sys.modules["grpc.aio"], type(grpc.aio).__name__)
        import asyncio.events
        events = sys.modules["asyncio.events"]
        print(asyncio.AbstractEventLoop is asyncio.events.AbstractEventLoop is events.AbstractEventLoop)
        """
    )
    assert out.splitlines() == ["b'hi'", "True", "True True module", "True"]


def test_nothing_is_deferred_once_grpc_or_asyncio_is_loaded() -> None:
    out = run_fresh(
        """
        import asyncio, sys
        from tfprovider.plugin.grpc_import import import_grpc
        grpc = import_grpc()
        print(type(grpc.aio).__name__, sys.modules["grpc._cython.cygrpc"].asyncio is asyncio)
        """
    )
    assert out.split() == ["module", "True"]


def test_a_submodule_imported_first_through_a_stand_in_is_loaded_once() -> None:
    # `import asyncio.events` while asyncio is a stand-in: reading the stand-in's __path__ loads
    # asyncio, which loads asyncio.events; the import system must not then load it again.
    out = run_fresh(
        """
        import sys
        from tfprovider.plugin.grpc_import import deferring
        with deferring(["asyncio"]):
            import asyncio.events
            inside = sys.modules["asyncio.events"]
        import asyncio
        print(asyncio.events is inside, asyncio.AbstractEventLoop is inside.AbstractEventLoop)
        print(inside.__spec__.name, type(inside.__spec__.loader).__name__)
        asyncio.run(asyncio.sleep(0))
        """
    )
    assert out.split() == ["True", "True", "asyncio.events", "SourceFileLoader"]


def test_a_stand_in_used_inside_the_block_resolves_and_its_holders_are_rebound() -> None:
    out = run_fresh(
        """
        import sys, types
        from tfprovider.plugin.grpc_import import deferring
        holder = types.ModuleType("holder")
        with deferring(["json"]):
            import json
            sys.modules["holder"] = holder
            holder.json = json
            print(json.dumps([1]))  # used while deferred: loads the real module
        import json as real
        print(holder.json is real, type(sys.modules["json"]).__name__)
        """
    )
    assert out.split() == ["[1]", "True", "module"]


def test_stand_ins_that_nobody_used_are_gone_from_sys_modules() -> None:
    out = run_fresh(
        """
        import sys, types
        from tfprovider.plugin.grpc_import import deferring
        with deferring(["json"]):
            import json
            holder = types.ModuleType("holder")
            holder.json = json
            sys.modules["holder"] = holder
        print("json" in sys.modules, type(holder.json).__name__)
        print(dir(holder.json) == dir(__import__("json")), holder.json is sys.modules["json"])
        """
    )
    assert out.split() == ["False", "_StandIn", "True", "True"]
