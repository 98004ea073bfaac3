"""Pulumi Cloud organization-token API: client, typed answers and errors.

Names are loaded on first use so that importing ``tfprovider.cloud.errors`` or
``tfprovider.cloud.models`` (cheap) does not pull in httpx, which only the client needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tfprovider.cloud.cancel import Cancellation
    from tfprovider.cloud.client import PulumiCloudClient, build_user_agent
    from tfprovider.cloud.errors import (
        ApiError,
        CancelledError,
        CloudError,
        LostTokenError,
        NameConflictError,
        ResponseFormatError,
        TransportError,
    )
    from tfprovider.cloud.models import CreatedToken, OrgToken, TokenPage, TokenSpec
    from tfprovider.cloud.retry import RetryPolicy
    from tfprovider.cloud.stats import ClientStats

__all__ = [
    "ApiError",
    "Cancellation",
    "CancelledError",
    "ClientStats",
    "CloudError",
    "CreatedToken",
    "LostTokenError",
    "NameConflictError",
    "OrgToken",
    "PulumiCloudClient",
    "ResponseFormatError",
    "RetryPolicy",
    "TokenPage",
    "TokenSpec",
    "TransportError",
    "build_user_agent",
]

_HOME = {
    "PulumiCloudClient": "client",
    "build_user_agent": "client",
    "Cancellation": "cancel",
    "RetryPolicy": "retry",
    "ClientStats": "stats",
    "ApiError": "errors",
    "CancelledError": "errors",
    "CloudError": "errors",
    "LostTokenError": "errors",
    "NameConflictError": "errors",
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
