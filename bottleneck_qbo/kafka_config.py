"""Kafka client configuration from the settings, for both client libraries the product uses.

kafka-python (admin calls, the CLI's producers and consumers) and Faust (aiokafka, the worker) spell TLS and
SASL differently. Both take their options from ``kafka_security`` below and are handed an
``ssl.SSLContext`` built by ``ssl_context`` (kafka-python's own ``ssl_*`` options are not used), so a CA,
client certificate or hostname check cannot differ between them.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from bottleneck_qbo.settings import Settings


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str
    mechanism: str | None
    username: str | None
    password: str | None
    ssl_context: ssl.SSLContext | None


def ssl_context(settings: Settings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None)
    ctx.check_hostname = settings.kafka_ssl_check_hostname
    if settings.kafka_ssl_certfile and settings.kafka_ssl_keyfile:
        ctx.load_cert_chain(str(settings.kafka_ssl_certfile), str(settings.kafka_ssl_keyfile))
    return ctx


def kafka_security(settings: Settings) -> KafkaSecurity:
    protocol = settings.kafka_security_protocol
    sasl = protocol.startswith("SASL_")
    return KafkaSecurity(
        protocol=protocol,
        mechanism=settings.kafka_sasl_mechanism if sasl else None,
        username=settings.kafka_sasl_username if sasl else None,
        password=settings.kafka_sasl_password.get_secret_value() if sasl and settings.kafka_sasl_password else None,
        ssl_context=ssl_context(settings) if protocol in ("SSL", "SASL_SSL") else None,
    )


def kafka_python_kwargs(settings: Settings, bootstrap: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``KafkaAdminClient``/``KafkaConsumer``/``KafkaProducer`` (bootstrap servers
    included; ``bootstrap`` overrides the settings' for callers that were given one)."""
    sec = kafka_security(settings)
    kwargs: dict[str, Any] = {"bootstrap_servers": (bootstrap or settings.kafka_bootstrap).split(","), "security_protocol": sec.protocol}
    if sec.ssl_context is not None:
        kwargs["ssl_context"] = sec.ssl_context  # kafka-python ignores its other ssl_* options then
    if sec.mechanism:
        kwargs |= {"sasl_mechanism": sec.mechanism, "sasl_plain_username": sec.username, "sasl_plain_password": sec.password}
    return kwargs


def faust_broker_kwargs(settings: Settings) -> dict[str, Any]:
    """``broker`` and ``broker_credentials`` for ``faust.App``."""
    from faust.auth import SASLCredentials, SSLCredentials

    sec = kafka_security(settings)
    credentials: Any = None
    if sec.mechanism:
        # SASLCredentials picks SASL_SSL when given a context, SASL_PLAINTEXT otherwise.
        credentials = SASLCredentials(username=sec.username, password=sec.password, ssl_context=sec.ssl_context, mechanism=sec.mechanism)
    elif sec.ssl_context is not None:
        credentials = SSLCredentials(sec.ssl_context)
    return {"broker": [f"kafka://{hp.strip()}" for hp in settings.kafka_bootstrap.split(",")], "broker_credentials": credentials}
