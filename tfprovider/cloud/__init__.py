"""Pulumi Cloud organization-token API: client, typed answers and errors.

Names are loaded on first use so that importing ``tfprovider.cloud.errors`` or
``tfprovider.cloud.models`` (cheap) does not pull in httpx, which only the client needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tfprovider.cloud.client import PulumiCloudClient, build_user_agent
    from tfprovider.cloud.errors import ApiError, CloudError, ResponseFormatError, TransportError
    from tfprovider.cloud.models import CreatedToken, OrgToken, TokenPage, TokenSpec

__all__ = [
    "ApiError",
    "CloudError",
    "CreatedToken",
    "OrgToken",
    "PulumiCloudClient",
    "ResponseFormatError",
    "TokenPage",
    "TokenSpec",
    "TransportError",
    "build_user_agent",
]

_HOME = {
    "PulumiCloudClient": "client",
    "build_user_agent": "client",
    "ApiError": "errors",
    "CloudError": "errors",
    "ResponseFormatError": "errors",
    "TransportError": "errors",
    "CreatedToken": "models",
    "OrgToken": "models",
    "TokenPage": "models",
    "TokenSpec": "models",
}


def __getattr__(name: str) -> object:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
