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

    from tfprovider import installer

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
    install.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="OS_ARCH",
        dest="platforms",
        help="write the launcher for this platform too, besides this machine's (repeatable), "
        "so that `terraform providers lock -platform=...` can record it",
    )
    return parser


def _command(argv: list[str]) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    if options.command == "install":
        if options.debug:
            parser.error("--debug serves the provider; run `install` without it")
        return _install(options.plugins_dir, options.platforms)
    if options.debug:
        return _serve(debug=True)
    parser.print_help(sys.stderr)
    return 2


def _install(plugins_dir: Path | None, platforms: list[str]) -> int:
    from tfprovider import installer
    from tfprovider.frozen import is_frozen

    if is_frozen():
        print(
            f"{PROGRAM} install: this is a release build, which Terraform and OpenTofu install "
            "themselves from a mirror or registry (see the README's \"For a team\"); `install` is "
            "for a provider installed with pip",
            file=sys.stderr,
        )
        return 2
    try:
        installation = installer.install(plugins_dir, platforms=platforms)
    except (installer.UnsupportedPlatformError, OSError, ValueError) as exc:
        print(f"{PROGRAM} install: {exc}", file=sys.stderr)
        return 1
    for path in installation.launchers:
        print(path)
    print(_report(installation, plugins_dir), file=sys.stderr)
    return 0


def _report(installation: installer.Installation, plugins_dir: Path | None) -> str:
    """What a person needs next: the Python recorded, the lock-file hash, how to use the mirror."""
    from tfprovider import __version__, installer

    mirror = str((plugins_dir or installer.default_plugins_dir()).absolute())
    all_platforms = " ".join(f"-platform={name}" for name in installer.SUPPORTED_PLATFORMS)
    lines = [
        "",
        f"Python for {PROGRAM} {__version__}: {installation.python}",
        f"  recorded in {installation.pointer} (per user; {installer.PYTHON_ENV} overrides it)",
        f"Lock-file hash: {installation.lock_hash}",
        f"  The launcher is the same on every machine and platform, so every install of {__version__}",
        "  has this hash: a committed .terraform.lock.hcl that records it works for the whole team.",
        "  To record it for every platform at once (Terraform asks for this after `init`):",
        f"    {PROGRAM} install --plugins-dir {mirror} "
        + " ".join(f"--platform {name}" for name in installer.SUPPORTED_PLATFORMS),
        f"    terraform providers lock -fs-mirror={mirror} {all_platforms}",
        "",
        "Use it from a configuration with:",
        "  terraform {",
        "    required_providers {",
        '      pulumiservice = { source = "pulumi/pulumiservice" }',
        "    }",
        "  }",
    ]
    if plugins_dir is not None:
        lines += [
            "This directory is not searched by default; name it in your CLI config "
            "(TF_CLI_CONFIG_FILE or ~/.terraformrc):",
            f'  provider_installation {{\n    filesystem_mirror {{ path = "{mirror}" }}\n'
            "    direct {}\n  }",
        ]
    return "\n".join(lines)
