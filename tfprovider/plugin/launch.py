"""What Terraform's plugin launcher (hashicorp/go-plugin) tells us through the environment, and the
lines we answer with on stdout.

Everything here is plain text and standard library on purpose: a person who runs the provider by
hand gets the explanation from :func:`read_launch` without the process paying for gRPC or any
cryptography first, and the handshake/reattach lines are easy to test as strings. Modules only
debug mode needs (``json``, ``shlex``) are imported where it uses them.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import NamedTuple

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
PROTOCOL_VERSIONS_KEY = "PLUGIN_PROTOCOL_VERSIONS"
CLIENT_CERT_KEY = "PLUGIN_CLIENT_CERT"
SOCKET_DIR_KEY = "PLUGIN_UNIX_SOCKET_DIR"

# go-plugin's own handshake version (first field) and the only tfplugin protocol we speak.
CORE_PROTOCOL_VERSION = 1
PROTOCOL_VERSION = 6

PROGRAM = "terraform-provider-pulumiservice"


class LaunchRefused(Exception):
    """The environment says we were not started by a compatible Terraform; ``str()`` is the
    message for the person reading stderr."""


class LaunchSettings(NamedTuple):
    """What the launcher asked for, checked.

    ``tls`` is true when the client offered a certificate (``PLUGIN_CLIENT_CERT``): it then pins
    the certificate we send back in the handshake and refuses plaintext. ``socket_parent`` is
    where the private socket directory goes (``None``: the system temporary directory).
    """

    tls: bool
    socket_parent: str | None


def parse_protocol_versions(text: str) -> frozenset[int]:
    """The comma list in ``PLUGIN_PROTOCOL_VERSIONS`` as a set.

    Terraform varies the order between launches (``5,6`` or ``6,5``), so only membership counts.
    Spaces and empty items are tolerated; items that are not integers are skipped, as go-plugin's
    own server does, so a stray entry cannot hide a usable version.
    """
    versions: set[int] = set()
    for item in text.split(","):
        try:
            versions.add(int(item.strip()))
        except ValueError:
            continue
    return frozenset(versions)


def read_launch(environ: Mapping[str, str], *, debug: bool) -> LaunchSettings:
    """Check the launcher's environment; raise :class:`LaunchRefused` with advice if we should not serve.

    In debug mode nobody launches us (Terraform attaches through ``TF_REATTACH_PROVIDERS``), so
    neither the cookie nor the protocol list apply, and the server is always plaintext.
    """
    socket_parent = environ.get(SOCKET_DIR_KEY) or None
    if debug:
        return LaunchSettings(tls=False, socket_parent=socket_parent)
    if environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        raise LaunchRefused(
            f"{PROGRAM} is a Terraform plugin: Terraform (or OpenTofu) starts it, it is not meant "
            "to be run by hand.\n"
            "To use it, make it available with\n"
            f"    {PROGRAM} install\n"
            "then add it to your configuration's required_providers, e.g.\n"
            '    terraform { required_providers { pulumiservice = { source = "pulumi/pulumiservice" } } }\n'
            "and run `terraform init`.\n"
            f"To debug it, run `{PROGRAM} --debug` and export the TF_REATTACH_PROVIDERS line it prints."
        )
    offered = environ.get(PROTOCOL_VERSIONS_KEY)
    if offered is not None and PROTOCOL_VERSION not in parse_protocol_versions(offered):
        raise LaunchRefused(
            f"{PROGRAM} speaks Terraform plugin protocol {PROTOCOL_VERSION} only (Terraform >= 1.0 "
            f"or OpenTofu), but this client offered {PROTOCOL_VERSIONS_KEY}={offered!r}. "
            "Upgrade Terraform to 1.0 or later."
        )
    return LaunchSettings(tls=bool(environ.get(CLIENT_CERT_KEY)), socket_parent=socket_parent)


def handshake_line(socket_path: str, cert_der: bytes | None) -> str:
    """The single line go-plugin's client reads first from our stdout (without the newline).

    Exactly six fields: Terraform 1.0's go-plugin splits into at most six, so a seventh would be
    glued onto the certificate. The certificate is its DER in base64 *without* padding (Go's
    RawStdEncoding), which is what the client decodes and then pins.
    """
    cert_field = "" if cert_der is None else binascii.b2a_base64(cert_der, newline=False).decode().rstrip("=")
    fields = [str(CORE_PROTOCOL_VERSION), str(PROTOCOL_VERSION), "unix", socket_path, "grpc", cert_field]
    return "|".join(fields)


def reattach_line(provider_address: str, pid: int, socket_path: str) -> str:
    """``TF_REATTACH_PROVIDERS='…'`` for debug mode, ready to paste after ``export``.

    ``Test: true`` is what makes Terraform honour ``ProtocolVersion`` 6 on reattach, and it also
    tells go-plugin's client that the process manages its own lifetime (it then never asks it to
    shut down or kills it).
    """
    import json
    import shlex

    config = {
        provider_address: {
            "Protocol": "grpc",
            "ProtocolVersion": PROTOCOL_VERSION,
            "Pid": pid,
            "Test": True,
            "Addr": {"Network": "unix", "String": socket_path},
        }
    }
    return "TF_REATTACH_PROVIDERS=" + shlex.quote(json.dumps(config, separators=(",", ":")))
