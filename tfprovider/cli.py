"""Command line of ``terraform-provider-pulumiservice`` (also ``python -m tfprovider``).

Run with no arguments it is the provider itself: that is how Terraform execs it, several times per
command, so that path imports only the plugin server and nothing for argument parsing (the
provider's own code loads after the handshake, see ``lazy_server.py``). Anything else is a human
at a shell: ``install`` puts the launcher into a filesystem mirror, ``--debug``
serves for Terraform to attach to, and ``--version`` says which version this is.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs ~4 ms per launch; mypy still treats this as True

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

PROGRAM = "terraform-provider-pulumiservice"


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        # A warm fork-server, when one is enabled and answering, serves this launch from a process
        # that has everything imported already; otherwise (None) the ordinary cold path runs.
        from tfprovider.forkserver import launch

        served = launch()
        if served is not None:
            return served
        return _serve(debug=False)
    return _command(args)


def _serve(*, debug: bool) -> int:
    # Imported here so `install` and `--version` work without the server's dependencies loaded.
    from tfprovider.lazy_server import register
    from tfprovider.plugin import serve

    if debug:
        return serve(register, debug=True)
    return serve(register)


def _parser() -> argparse.ArgumentParser:
    import argparse
    from pathlib import Path

    from tfprovider import __version__

    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Terraform/OpenTofu provider for Pulumi Cloud organization access tokens. "
        "Terraform runs it without arguments; the options below are for people.",
    )
    parser.add_argument("--version", action="version", version=f"{PROGRAM} {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="serve without Terraform starting us: prints a TF_REATTACH_PROVIDERS value to export",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    install = commands.add_parser(
        "install",
        help="make the provider available to Terraform and OpenTofu",
        description="Write the provider launcher into a filesystem mirror for Terraform and OpenTofu.",
    )
    install.add_argument(
        "--plugins-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="mirror directory (default: ~/.terraform.d/plugins, which both tools search on their own)",
    )
    return parser


def _command(argv: list[str]) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    if options.command == "install":
        if options.debug:
            parser.error("--debug serves the provider; run `install` without it")
        return _install(options.plugins_dir)
    if options.debug:
        return _serve(debug=True)
    parser.print_help(sys.stderr)
    return 2


def _install(plugins_dir: Path | None) -> int:
    from tfprovider import installer

    try:
        paths = installer.install(plugins_dir)
    except (installer.UnsupportedPlatformError, OSError) as exc:
        print(f"{PROGRAM} install: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    print(_usage_hint(plugins_dir), file=sys.stderr)
    return 0


def _usage_hint(plugins_dir: Path | None) -> str:
    hint = (
        "\nUse it from a configuration with:\n"
        "  terraform {\n"
        "    required_providers {\n"
        '      pulumiservice = { source = "pulumi/pulumiservice" }\n'
        "    }\n"
        "  }\n"
    )
    if plugins_dir is not None:
        hint += (
            "This directory is not searched by default; name it in your CLI config "
            "(TF_CLI_CONFIG_FILE or ~/.terraformrc):\n"
            f'  provider_installation {{\n    filesystem_mirror {{ path = "{plugins_dir.absolute()}" }}\n'
            "    direct {}\n  }\n"
        )
    return hint
