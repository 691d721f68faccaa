"""With BQ_QBO_ENVIRONMENT=intuit the settings refuse the development defaults, and every command (the worker
too) stops before it starts, with one sentence naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from bottleneck_qbo.settings import Settings

SAFE: dict[str, Any] = {
    "qbo_environment": "intuit",
    "webhook_verifier_token": SecretStr("a-real-verifier-token"),
    "qbo_client_id": "ABcd1234",
    "qbo_client_secret": SecretStr("s3cr3t-from-intuit"),
    "qbo_base_url": "https://sandbox-quickbooks.api.intuit.com",
    "qbo_token_url": "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
}


def _settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **(SAFE | overrides))


def test_a_complete_intuit_configuration_is_accepted() -> None:
    assert _settings().qbo_environment == "intuit"


def test_local_mode_keeps_its_development_defaults() -> None:
    assert Settings(_env_file=None).webhook_verifier_token.get_secret_value() == "dev-verifier-token"


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("webhook_verifier_token", SecretStr("dev-verifier-token"), "BQ_WEBHOOK_VERIFIER_TOKEN"),
        ("webhook_verifier_token", SecretStr(""), "BQ_WEBHOOK_VERIFIER_TOKEN"),
        ("qbo_client_id", "sandbox-client", "BQ_QBO_CLIENT_ID"),
        ("qbo_client_id", " ", "BQ_QBO_CLIENT_ID"),
        ("qbo_client_secret", SecretStr("sandbox-secret"), "BQ_QBO_CLIENT_SECRET"),
        ("qbo_client_secret", SecretStr(""), "BQ_QBO_CLIENT_SECRET"),
        ("qbo_base_url", "http://quickbooks.api.intuit.com", "BQ_QBO_BASE_URL"),
        ("qbo_token_url", "http://127.0.0.1:8765/oauth2/v1/tokens/bearer", "BQ_QBO_TOKEN_URL"),
        ("qbo_auth_url", "http://appcenter.intuit.com/connect/oauth2", "BQ_QBO_AUTH_URL"),
    ],
)
def test_unsafe_production_settings_are_refused_naming_the_setting(field: str, value: Any, named: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _settings(**{field: value})
    (error,) = caught.value.errors()
    assert named in error["msg"] and "BQ_QBO_ENVIRONMENT=intuit" in error["msg"]
    assert "s3cr3t" not in str(caught.value)  # the secrets given are not echoed


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BQ_")}
    return subprocess.run(
        [sys.executable, "-m", "bottleneck_qbo", *args], env=clean | env, capture_output=True, text=True, timeout=60, cwd="/"
    )


@pytest.mark.parametrize(
    "command", [["worker"], ["migrate"], ["topics"], ["connect", "--company", "1", "--realm", "1"], ["stack", "status"]]
)
def test_every_command_refuses_to_start_with_the_defaults_in_intuit_mode(command: list[str]) -> None:
    result = _cli(*command, BQ_QBO_ENVIRONMENT="intuit")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: BQ_WEBHOOK_VERIFIER_TOKEN must be set to your Intuit app's value (it is empty or the development default) "
        "when BQ_QBO_ENVIRONMENT=intuit"
    )


def test_the_worker_names_a_plain_http_token_url() -> None:
    env = {f"BQ_{k.upper()}": v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in SAFE.items()}
    result = _cli("worker", **(env | {"BQ_QBO_TOKEN_URL": "http://oauth.example/token"}))
    assert result.returncode == 2 and "BQ_QBO_TOKEN_URL must be an https:// URL" in result.stderr and "Traceback" not in result.stderr


def test_sasl_needs_its_credentials() -> None:
    with pytest.raises(ValidationError, match="BQ_KAFKA_SASL_MECHANISM must be set when BQ_KAFKA_SECURITY_PROTOCOL=SASL_SSL"):
        Settings(_env_file=None, kafka_security_protocol="SASL_SSL")
