"""A warm fork-server, so that a provider launch costs about one interpreter start.

Terraform starts the provider 3-5 times per command, and most of a cold start is importing gRPC,
protobuf, the generated services and the provider. Instead, the process Terraform starts (the
*launcher*) asks a per-user daemon, which has imported all of that once, to ``fork()`` a child
that becomes the provider: the child takes over the launcher's stdin/stdout/stderr, working
directory, environment and argv, prints the handshake itself and serves Terraform's one
connection. The launcher stays as Terraform's view of the process: it relays signals and exits
with the child's status. Any failure before the child is released falls back to the ordinary
start-up, silently.

- ``launcher.py``: :func:`launch`, the only entry point (imports only standard-library modules
  the interpreter has mostly loaded already, and no gRPC);
- ``daemon.py``, ``child.py``, ``warm.py``: the daemon, the forked child, what is pre-imported;
- ``settings.py``, ``private_dir.py``, ``identity.py``, ``wire.py``, ``spawn.py``: when it is on,
  where sockets live and why they are trusted, which installation a daemon serves, the protocol,
  and how a daemon is started.
"""

from tfprovider.forkserver.launcher import launch

__all__ = ["launch"]
