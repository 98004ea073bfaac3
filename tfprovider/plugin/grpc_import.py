"""Import grpc without the asyncio machinery that a synchronous server never uses.

grpcio's package imports ``grpc.aio`` and its Cython core imports ``asyncio`` (which pulls in
``ssl``, ``subprocess``, ``inspect`` and some forty modules): about 40% of ``import grpc``, paid
on every launch, several times per Terraform command, for code this provider never runs. Neither
import touches an attribute at import time; only ``grpc.aio``'s class bodies do, and nothing in
the synchronous server does later.

So while ``import grpc`` runs, ``sys.modules`` holds *stand-ins* for ``asyncio`` and ``grpc.aio``.
Afterwards the stand-ins are taken out of ``sys.modules`` again, so any later import of either
is an ordinary import. They stay referenced only where grpc's own import bound them (the Cython
core's global ``asyncio``, the package attribute ``grpc.aio``). The first attribute read through
a stand-in imports the real module, points those references at it, and from then on every
access behaves as if nothing had been deferred.

If a future grpcio needs either module during its import, the stand-in simply loads it then (a
slower start, never a failure); the runtime's tests notice because they check what a launch
imports before its handshake.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import sys
import threading
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.abc import Loader
else:
    Loader = object  # importlib.abc is not worth importing for a base class with no behaviour

DEFERRED_MODULES = ("asyncio", "grpc.aio")

_swap_lock = threading.Lock()
# Per deferred name: (module, attribute) pairs that were bound to the stand-in during the import.
_holders: dict[str, list[tuple[ModuleType, str]]] = {}


def import_grpc() -> ModuleType:
    """``import grpc`` with :data:`DEFERRED_MODULES` deferred until first used.

    Nothing is deferred when grpc or any of those modules is already loaded: deferring is only
    possible for the import that first loads grpc.
    """
    if not any(name in sys.modules for name in ("grpc", *DEFERRED_MODULES)):
        with deferring(DEFERRED_MODULES):
            import grpc  # noqa: F401
    return importlib.import_module("grpc")


@contextlib.contextmanager
def deferring(names: Iterable[str]) -> Iterator[None]:
    """Inside the block, importing one of ``names`` yields a stand-in that loads the real module
    on first attribute access (see the module docstring)."""
    stand_ins = [_StandIn(name) for name in names]
    for stand_in in stand_ins:
        sys.modules[stand_in.__name__] = stand_in
    finder = _AlreadyImportedFinder(stand_in.__name__ for stand_in in stand_ins)
    sys.meta_path.insert(0, finder)
    loaded_before = set(sys.modules)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        with _swap_lock:
            for stand_in in stand_ins:
                if sys.modules.get(stand_in.__name__) is stand_in:
                    del sys.modules[stand_in.__name__]
        new_modules = [module for name, module in list(sys.modules.items()) if name not in loaded_before]
        for stand_in in stand_ins:
            _record_holders(stand_in, new_modules)


class _StandIn(ModuleType):
    """Takes a module's place until an attribute is read from it, then forwards to the real one."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__spec__ = importlib.machinery.ModuleSpec(name, None)

    def __getattr__(self, attribute: str) -> object:
        return getattr(_resolve(self), attribute)

    def __dir__(self) -> list[str]:
        return dir(_resolve(self))


def _resolve(stand_in: _StandIn) -> ModuleType:
    """The real module behind ``stand_in``, imported now if need be, with every recorded reference
    to the stand-in pointed at it.

    Only the swap in ``sys.modules`` takes our lock; the import itself is an ordinary one, so
    concurrent first uses are serialised by the import system's own per-module locks.
    """
    name = stand_in.__name__
    with _swap_lock:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
    real = importlib.import_module(name)
    for holder, attribute in _holders.pop(name, ()):
        if getattr(holder, attribute, None) is stand_in:
            setattr(holder, attribute, real)
    return real


def _record_holders(stand_in: _StandIn, modules: Iterable[ModuleType]) -> None:
    """Remember which of ``modules`` bound ``stand_in`` to a global, so resolving it can rebind
    them; rebind at once if it has already been resolved (something used it during the block)."""
    holders = [
        (module, attribute)
        for module in modules
        if module is not stand_in and isinstance(module, ModuleType)
        for attribute, value in list(vars(module).items())
        if value is stand_in
    ]
    resolved = sys.modules.get(stand_in.__name__)
    if resolved is None:
        _holders.setdefault(stand_in.__name__, []).extend(holders)
        return
    for module, attribute in holders:
        setattr(module, attribute, resolved)


class _AlreadyImportedFinder:
    """Keeps a submodule from being loaded twice when it is the first thing imported from a stand-in.

    ``import asyncio.events`` checks ``sys.modules`` for ``asyncio.events`` *before* reading the
    parent's ``__path__``; reading it resolves the stand-in, whose real import loads
    ``asyncio.events`` too. The import system would then load it a second time; this finder,
    first on ``sys.meta_path`` while stand-ins are in place, answers with the module just loaded.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self._prefixes = tuple(f"{name}." for name in names)

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        existing = sys.modules.get(fullname)
        if existing is None or not fullname.startswith(self._prefixes):
            return None
        return importlib.machinery.ModuleSpec(fullname, _ReuseLoader(existing))


class _ReuseLoader(Loader):
    """A loader whose module is one that is already fully imported."""

    def __init__(self, module: ModuleType) -> None:
        self._module = module
        self._spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self._module

    def exec_module(self, module: ModuleType) -> None:
        # The import system has just set __spec__ to the one this finder made up: put it back.
        module.__spec__ = self._spec
