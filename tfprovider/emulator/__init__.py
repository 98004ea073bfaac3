"""A local stand-in for the Pulumi Cloud organization-token API.

Users try the provider against it, the demo runs on it and the test suite drives it, so it follows
the real service's paths, status codes and rules (see ``store`` for the rules and ``app`` for the
HTTP surface). Start it with the ``pulumi-cloud-emulator`` console command.

Kept import-free, like the top-level package: the command must start fast, and tests import the
defaults below without paying for the HTTP server.
"""

DEFAULT_HOST = "127.0.0.1"
"""Loopback only unless asked otherwise: the emulator has a well-known access token."""

DEFAULT_ACCESS_TOKEN = "pul-emulator-access-token"
"""What clients send as ``Authorization: token <value>`` when ``--access-token`` is not given."""

DEFAULT_ORG = "acme"
"""The organization served when no ``--org`` is given."""

DEFAULT_USER = "emulator-user"
"""The user the access token belongs to; shown as ``createdBy`` on every token."""
