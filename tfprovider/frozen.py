"""Running as a release build: one self-contained executable made by a freezer (PyInstaller).

A release build is its own interpreter: there is no ``python`` to hand ``-m`` to, so the
fork-server starts its daemon through the executable with :data:`DAEMON_FLAG`, and keys on the
executable itself besides the module files beside it. Read on every launch: standard library
only.
"""

from __future__ import annotations

import sys

DAEMON_FLAG = "--fork-server-daemon"
"""How a release build starts its fork-server daemon (an unfrozen one runs ``-m``)."""


def is_frozen() -> bool:
    """True in a release build."""
    return bool(getattr(sys, "frozen", False))
