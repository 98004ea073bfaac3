"""``python -m tfprovider``: the same entry point as the ``terraform-provider-pulumiservice`` script.

This is also how the installed launcher runs the provider for Terraform (no arguments). Then the
process ends with ``os._exit`` as soon as :func:`~tfprovider.cli.main` returns: by that time the
server has stopped, the socket directory is gone and stdout/stderr are flushed, and an ordinary
interpreter shutdown (joining the idle worker threads, tearing down gRPC's core and every module)
would only add tens of milliseconds to each of the several launches per Terraform command.
Anything else (``install``, ``--version``, ``--debug``) exits normally.
"""

import contextlib
import os
import sys

from tfprovider.cli import main

status = main()
if len(sys.argv) <= 1:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # Terraform may have closed the pipe
            stream.flush()
    os._exit(status)
raise SystemExit(status)
