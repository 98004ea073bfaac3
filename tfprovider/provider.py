"""The provider itself: its configuration block, and the resources and ephemeral resources it serves.

Configuration is resolved in Terraform's usual order — provider block, then environment
(``PULUMI_ACCESS_TOKEN``, ``PULUMI_BACKEND_URL``), then the default — and a missing access token
is reported only when an operation first needs the API, so ``validate`` and ``plan`` of a
configuration with nothing to refresh work without credentials.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tfprovider.cty import NUMBER, STRING, is_known
from tfprovider.diagnostics import Diagnostic, DiagnosticError, error
from tfprovider.resources.base import EphemeralResource, ManagedResource, ObjectValue, OperationContext
from tfprovider.resources.ephemeral_orgtoken import EphemeralOrgTokenResource
from tfprovider.resources.orgtoken import OrgTokenResource
from tfprovider.resources.token_lists import TokenLists
from tfprovider.schema import Attribute, Block, Schema

if TYPE_CHECKING:
    from tfprovider.cloud import PulumiCloudClient
    from tfprovider.secret import Secret

DEFAULT_API_URL = "https://api.pulumi.com"
DEFAULT_MAX_RETRIES = 5
DEFAULT_RETRY_TIMEOUT = 120
MAX_RETRIES_LIMIT = 20
RETRY_TIMEOUT_LIMIT = 3600
ACCESS_TOKEN_ENV = "PULUMI_ACCESS_TOKEN"
API_URL_ENV = "PULUMI_BACKEND_URL"

PROVIDER_SCHEMA = Schema(
    block=Block(
        description="Manages Pulumi Cloud organization access tokens.",
        attributes=(
            Attribute(
                "access_token",
                STRING,
                "A Pulumi Cloud access token allowed to manage the organization's tokens. "
                f"Defaults to the `{ACCESS_TOKEN_ENV}` environment variable.",
                optional=True,
                sensitive=True,
            ),
            Attribute(
                "api_url",
                STRING,
                "The Pulumi Cloud API URL, for self-hosted Pulumi Cloud. Defaults to the "
                f"`{API_URL_ENV}` environment variable, then `{DEFAULT_API_URL}`.",
                optional=True,
            ),
            Attribute(
                "max_retries",
                NUMBER,
                "How many times a request is repeated after throttling (429), a transient server "
                "error (5xx) or a dropped connection, with exponential backoff that honours "
                f"`Retry-After`. Defaults to {DEFAULT_MAX_RETRIES}; `0` turns retries off. A create "
                "is never repeated blindly: after an ambiguous failure the provider first checks "
                "whether the token exists.",
                optional=True,
            ),
            Attribute(
                "retry_timeout",
                NUMBER,
                "The most seconds one operation may spend on retries before it fails with the last "
                f"error. Defaults to {DEFAULT_RETRY_TIMEOUT}.",
                optional=True,
            ),
        ),
    )
)


def _whole_number_problem(value: object, name: str, limit: int) -> Diagnostic | None:
    if not isinstance(value, Decimal) or not is_known(value):
        return None
    if value < 0 or value != value.to_integral_value() or value > limit:
        return error(
            f"Invalid {name}",
            f"`{name}` is {value}; it must be a whole number from 0 to {limit}.",
            name,
        )
    return None


def validate_api_url(url: str) -> str | None:
    """Why ``url`` is not a usable API base URL, or None when it is."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{url!r} is not an http(s) URL; use e.g. {DEFAULT_API_URL}"
    if parts.query or parts.fragment:
        return f"{url!r} must not have a query or fragment"
    return None


@dataclass(frozen=True)
class ProviderSettings:
    api_url: str
    access_token: Secret | None
    terraform_version: str
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_timeout: float = DEFAULT_RETRY_TIMEOUT


class Provider:
    """Holds the configured settings and lends each operation an API client and stop signal."""

    schema = PROVIDER_SCHEMA

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self.resources: dict[str, ManagedResource] = {OrgTokenResource.type_name: OrgTokenResource()}
        self.ephemeral_resources: dict[str, EphemeralResource] = {
            EphemeralOrgTokenResource.type_name: EphemeralOrgTokenResource()
        }
        self._settings: ProviderSettings | None = None
        self._client: PulumiCloudClient | None = None
        self._lock = threading.Lock()
        self.stopped = threading.Event()
        self.token_lists = TokenLists(lambda org: self.client().list_tokens(org, filter="all"))

    def validate_config(self, config: ObjectValue) -> list[Diagnostic]:
        for name, limit in (("max_retries", MAX_RETRIES_LIMIT), ("retry_timeout", RETRY_TIMEOUT_LIMIT)):
            number_problem = _whole_number_problem(config.get(name), name, limit)
            if number_problem:
                return [number_problem]
        url = config.get("api_url")
        if isinstance(url, str) and is_known(url):
            problem = validate_api_url(url)
            if problem:
                return [error("Invalid Pulumi Cloud API URL", problem, "api_url")]
        token = config.get("access_token")
        if isinstance(token, str) and not token.strip():
            return [
                error(
                    "Empty access token",
                    "`access_token` is set but empty. Set it to a Pulumi Cloud access token, or "
                    f"remove it to use {ACCESS_TOKEN_ENV}.",
                    "access_token",
                )
            ]
        return []

    def configure(self, config: ObjectValue, terraform_version: str) -> list[Diagnostic]:
        from tfprovider.secret import Secret

        diagnostics = self.validate_config(config)
        url = config.get("api_url") or self._environ.get(API_URL_ENV) or DEFAULT_API_URL
        if not isinstance(url, str) or not is_known(url):
            diagnostics.append(
                error("Unknown Pulumi Cloud API URL", "`api_url` must be known at plan time.", "api_url")
            )
            return diagnostics
        problem = validate_api_url(url)
        if problem and not config.get("api_url"):
            diagnostics.append(error("Invalid Pulumi Cloud API URL", f"{API_URL_ENV}: {problem}"))
        token = config.get("access_token")
        if token is None:  # a token read from a file often ends in a newline: not part of it
            token = self._environ.get(ACCESS_TOKEN_ENV, "").strip() or None
        secret = Secret(token) if isinstance(token, str) and is_known(token) and token else None
        retries, timeout = config.get("max_retries"), config.get("retry_timeout")
        settings = ProviderSettings(
            url.rstrip("/"),
            secret,
            terraform_version,
            max_retries=int(retries) if isinstance(retries, Decimal) else DEFAULT_MAX_RETRIES,
            retry_timeout=float(timeout) if isinstance(timeout, Decimal) else DEFAULT_RETRY_TIMEOUT,
        )
        with self._lock:
            self._settings = settings
        return diagnostics

    def context(self) -> OperationContext:
        return OperationContext(client=self.client, tokens=self.token_lists, stopped=self.stopped)

    def client(self) -> PulumiCloudClient:
        """The provider's one pooled API client, made when first needed."""
        with self._lock:
            if self._client is not None:
                return self._client
            settings = self._settings
            if settings is None:
                raise DiagnosticError(
                    error(
                        "Provider not configured",
                        "Terraform did not configure the provider before using it. This is a bug "
                        "in the calling tool; run the command again.",
                    )
                )
            if settings.access_token is None:
                raise DiagnosticError(
                    error(
                        "Missing Pulumi Cloud access token",
                        "Set `access_token` in the provider block or the "
                        f"{ACCESS_TOKEN_ENV} environment variable to a Pulumi Cloud access token "
                        "that may manage the organization's tokens.",
                        "access_token",
                    )
                )
            from tfprovider.cloud import CloudError, PulumiCloudClient, RetryPolicy
            from tfprovider.cloud.client import build_user_agent

            try:
                self._client = PulumiCloudClient(
                    settings.api_url,
                    settings.access_token,
                    user_agent=build_user_agent(settings.terraform_version or None),
                    retry=RetryPolicy(
                        max_attempts=settings.max_retries + 1, max_elapsed=settings.retry_timeout
                    ),
                    cancel=self.stopped,  # StopProvider aborts waits and in-flight calls
                )
            except CloudError as exc:
                raise DiagnosticError(error(exc.summary, exc.detail)) from None
            return self._client

    def stop(self) -> None:
        """StopProvider: cancel in-flight work; the process keeps serving."""
        self.stopped.set()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
