"""Provider block: validation, resolution order (config, environment, default) and the client
it lends operations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tfprovider.cty import UNKNOWN
from tfprovider.diagnostics import DiagnosticError
from tfprovider.provider import DEFAULT_API_URL, Provider


def config(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(("access_token", "api_url", "max_retries", "retry_timeout"))
    base.update(values)
    return base


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"max_retries": Decimal(-1)}, ("max_retries",)),
        ({"max_retries": Decimal("1.5")}, ("max_retries",)),
        ({"retry_timeout": Decimal(99999)}, ("retry_timeout",)),
        ({"api_url": "ftp://example.com"}, ("api_url",)),
        ({"access_token": "  "}, ("access_token",)),
    ],
)
def test_bad_settings_name_the_attribute(values: dict[str, Any], path: tuple[str]) -> None:
    (diag,) = Provider(environ={}).validate_config(config(**values))
    assert diag.path == path


def test_unknown_settings_pass_validation() -> None:
    assert Provider(environ={}).validate_config(config(api_url=UNKNOWN, max_retries=UNKNOWN)) == []


def test_config_wins_over_environment_and_environment_over_default() -> None:
    env = {"PULUMI_ACCESS_TOKEN": "pul-env\n", "PULUMI_BACKEND_URL": "http://127.0.0.1:9/"}
    provider = Provider(environ=env)
    assert provider.configure(config(max_retries=Decimal(2), retry_timeout=Decimal(7)), "1.15.5") == []
    client = provider.client()
    assert client.base_url.rstrip("/") == "http://127.0.0.1:9"
    assert client.retry_policy.max_attempts == 3 and client.retry_policy.max_elapsed == 7
    provider.close()

    provider = Provider(environ={})
    provider.configure(config(access_token="pul-config"), "1.15.5")
    assert provider.client().base_url.rstrip("/") == DEFAULT_API_URL
    provider.close()


def test_missing_token_is_an_error_only_when_the_api_is_needed() -> None:
    provider = Provider(environ={})
    assert provider.configure(config(), "1.15.5") == []
    with pytest.raises(DiagnosticError) as info:
        provider.client()
    assert "PULUMI_ACCESS_TOKEN" in info.value.diagnostics[0].detail


def test_stop_reaches_the_client() -> None:
    provider = Provider(environ={"PULUMI_ACCESS_TOKEN": "pul-x"})
    provider.configure(config(), "")
    provider.stop()
    from tfprovider.cloud import CloudError

    with pytest.raises(CloudError) as info:
        provider.client().list_tokens("acme")
    assert "stop" in str(info.value)
    provider.close()
