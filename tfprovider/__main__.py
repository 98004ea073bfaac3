"""``python -m tfprovider``: the same entry point as the ``terraform-provider-pulumiservice`` script.

The installed launcher calls :func:`launch` through ``python -c`` rather than ``-m``: ``-m`` goes
through ``runpy``, whose imports cost every launch ~5 ms. :func:`launch` first checks that this
package is the version the launcher was written for: the lock file pins the launcher, so a
package upgraded (or downgraded) under it must not serve in its name.

Run without arguments (as Terraform does) the process ends with ``os._exit`` as soon as
:func:`~tfprovider.cli.main` returns: by then the server has stopped, the socket directory is gone
and stdout/stderr are flushed, and an ordinary interpreter shutdown (joining idle worker threads,
tearing down gRPC's core and every module) would only add tens of milliseconds to each of the
several launches per Terraform command. Anything else (``install``, ``--version``, ``--debug``)
exits normally.
"""

import os
import sys

EXIT_VERSION_SKEW = 1

TYPE_CHECKING = False  # typing costs a launch ~4 ms; mypy still treats this as True
if TYPE_CHECKING:
    from typing import NoReturn


def launch(launcher_version: str) -> None:
    """The launcher's entry point: :func:`run`, unless the package is not ``launcher_version``."""
    from tfprovider import __version__

    if launcher_version != __version__:
        refuse(version_skew_message(launcher_version, __version__, sys.executable))
    run()


def version_skew_message(launcher_version: str, package_version: str, python: str) -> str:
    """One line: both versions, and the commands that put them back in step."""
    from tfprovider.plugin.launch import PROGRAM

    return (
        f"{PROGRAM}: the launcher is version {launcher_version} but {python} has "
        f"{PROGRAM} {package_version} installed; install {launcher_version} there "
        f"(`{python} -m pip install {PROGRAM}=={launcher_version}`), or move to "
        f"{package_version} with `{PROGRAM} install` and `terraform init -upgrade`"
    )


def refuse(message: str) -> "NoReturn":
    """Exit 1 with ``message`` on stderr, and on stdout too when Terraform started us: Terraform
    shows a plugin's first stdout line in its error, never its stderr."""
    from tfprovider.plugin.launch import MAGIC_COOKIE_KEY

    line = message + "\n"
    if os.environ.get(MAGIC_COOKIE_KEY):
        _write_quietly(1, line)
    _write_quietly(2, line)
    os._exit(EXIT_VERSION_SKEW)


def _write_quietly(fd: int, text: str) -> None:
    try:  # noqa: SIM105 - contextlib costs a launch ~1 ms
        os.write(fd, text.encode("utf-8", "backslashreplace"))
    except OSError:
        pass


def frozen_main() -> None:
    """A release build's entry point: the provider, or (started by a launch) its fork-server daemon."""
    from tfprovider.frozen import DAEMON_FLAG

    if sys.argv[1:2] == [DAEMON_FLAG]:
        from tfprovider.forkserver.daemon import main as daemon_main

        raise SystemExit(daemon_main(sys.argv[2:]))
    run()


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
