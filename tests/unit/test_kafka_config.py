"""kafka-python and Faust get their TLS/SASL options from one place and cannot disagree."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr

from bottleneck_qbo.kafka_config import faust_broker_kwargs, kafka_python_kwargs
from bottleneck_qbo.settings import Settings

CA = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


def _settings(**kw: Any) -> Settings:
    return Settings(_env_file=None, **kw)


CASES: dict[str, dict[str, Any]] = {
    "plaintext": {},
    "ssl": {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": CA},
    "sasl_plaintext": {
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_mechanism": "PLAIN",
        "kafka_sasl_username": "u",
        "kafka_sasl_password": SecretStr("p"),
    },
    "sasl_ssl_scram": {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "svc-bq",
        "kafka_sasl_password": SecretStr("pw"),
        "kafka_ssl_cafile": CA,
        "kafka_bootstrap_servers": "b-1.example:9096,b-2.example:9096",
    },
}


@pytest.mark.parametrize("case", list(CASES))
def test_faust_and_kafka_python_agree(case: str) -> None:
    s = _settings(**CASES[case])
    kp = kafka_python_kwargs(s)
    fa = faust_broker_kwargs(s)
    # What Faust hands aiokafka, next to what kafka-python gets.
    auth = dict(credentials_to_aiokafka_auth(fa["broker_credentials"]))
    assert auth["security_protocol"] == kp["security_protocol"] == s.kafka_security_protocol
    for key in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password"):
        assert auth.get(key) == kp.get(key)
    assert (auth.get("ssl_context") is None) == (kp.get("ssl_context") is None)
    if kp.get("ssl_context") is not None:
        for ctx in (auth["ssl_context"], kp["ssl_context"]):
            assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert [u.removeprefix("kafka://") for u in fa["broker"]] == kp["bootstrap_servers"] == s.kafka_bootstrap.split(",")


def test_scram_over_tls_reaches_both_clients() -> None:
    kp = kafka_python_kwargs(_settings(**CASES["sasl_ssl_scram"]))
    assert kp["sasl_mechanism"] == "SCRAM-SHA-512" and kp["security_protocol"] == "SASL_SSL"
    assert kp["bootstrap_servers"] == ["b-1.example:9096", "b-2.example:9096"]


def test_a_client_certificate_needs_its_key() -> None:
    with pytest.raises(ValueError, match="BQ_KAFKA_SSL_CERTFILE and BQ_KAFKA_SSL_KEYFILE must be set together"):
        _settings(kafka_security_protocol="SSL", kafka_ssl_certfile=CA)


def test_postgres_tls_goes_into_the_dsn() -> None:
    s = _settings(
        pg_host="127.0.0.1",
        pg_port=55432,
        pg_sslmode="verify-full",
        pg_sslrootcert=Path("/etc/bq/ca.pem"),
        pg_password=SecretStr("p@ss/w:rd"),
    )
    assert (
        s.postgres_dsn
        == "postgresql://bottleneck:p%40ss%2Fw%3Ard@127.0.0.1:55432/bottleneck?sslmode=verify-full&sslrootcert=%2Fetc%2Fbq%2Fca.pem"
    )
