"""``python -m tfprovider``: the same entry point as the ``terraform-provider-pulumiservice`` script.

The installed launcher calls :func:`run` through ``python -c`` rather than ``-m``: ``-m`` goes
through ``runpy``, whose imports cost every launch ~5 ms.

Run without arguments (as Terraform does) the process ends with ``os._exit`` as soon as
:func:`~tfprovider.cli.main` returns: by then the server has stopped, the socket directory is gone
and stdout/stderr are flushed, and an ordinary interpreter shutdown (joining idle worker threads,
tearing down gRPC's core and every module) would only add tens of milliseconds to each of the
several launches per Terraform command. Anything else (``install``, ``--version``, ``--debug``)
exits normally.
"""

import os
import sys


def run() -> None:
    from tfprovider.cli import main

    status = main()
    if len(sys.argv) <= 1:
        for stream in (sys.stdout, sys.stderr):
            # Terraform may have closed the pipe; contextlib.suppress would cost a launch ~1 ms.
            try:  # noqa: SIM105
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)
    raise SystemExit(status)


if __name__ == "__main__":
    run()
