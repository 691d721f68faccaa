"""Kafka over TLS for real: a private KRaft broker (the stack's jars) with a SASL_SSL listener (SCRAM-SHA-512)
and a mutual-TLS SSL listener, certificates from a CA made here with openssl (PEM keystores, no keytool).
The product's clients (kafka-python through ``kafka_python_kwargs``, the CLI, and aiokafka with exactly what
Faust hands it) work with the right CA and credentials and are refused otherwise."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from pydantic import SecretStr

from bottleneck_qbo.kafka_config import faust_broker_kwargs, kafka_python_kwargs
from bottleneck_qbo.settings import Settings
from infra import stack as stack_api
from infra.stack import Kafka
from infra.stack.errors import StackError
from infra.stack.jvm import java_argv
from streams.topics import ensure_topics

pytestmark = pytest.mark.integration

USER, PASSWORD = "bq-svc", "s3cret-scram"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_certs(d: Path) -> None:
    d.mkdir(parents=True)
    for ca in ("ca", "other-ca"):
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN=bq {ca}",
            "-keyout",
            f"{ca}.key",
            "-out",
            f"{ca}.pem",
            cwd=d,
        )
    for name, san in (("server", "subjectAltName=DNS:localhost\n"), ("client", "extendedKeyUsage=clientAuth\n")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={'localhost' if name == 'server' else 'bq-client'}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)  # fmt: skip
        (d / f"{name}.ext").write_text(san)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                 "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)  # fmt: skip
    # Kafka's PEM keystore: the private key (PKCS#8) and the certificate chain in one file.
    (d / "server-keystore.pem").write_text((d / "server.key").read_text() + (d / "server.pem").read_text())


class TlsKafka(Kafka):
    """The stack's broker plus SASL_SSL and SSL listeners on ``localhost`` (the name the certificate carries)."""

    def __init__(self, settings: Settings, certs: Path, sasl_port: int, ssl_port: int) -> None:
        super().__init__(settings)
        self.certs, self.sasl_port, self.ssl_port = certs, sasl_port, ssl_port

    def _write_config(self) -> None:
        super()._write_config()
        s, c = self.settings, self.certs
        plain, ctl = f"PLAINTEXT://127.0.0.1:{s.kafka_port}", f"CONTROLLER://127.0.0.1:{s.kafka_controller_port}"
        tls = f"SASL_SSL://localhost:{self.sasl_port},SSL://localhost:{self.ssl_port}"
        lines = [
            line
            for line in self.config_file.read_text().splitlines()
            if not line.startswith(("listeners=", "advertised.listeners=", "listener.security.protocol.map="))
        ]
        lines += [
            f"listeners={plain},{tls},{ctl}",
            f"advertised.listeners={plain},{tls},{ctl}",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={c / 'server-keystore.pem'}",
            "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
            # mutual TLS on the SSL listener
            "listener.name.ssl.ssl.client.auth=required",
            "listener.name.ssl.ssl.truststore.type=PEM",
            f"listener.name.ssl.ssl.truststore.location={c / 'ca.pem'}",
            "",
        ]
        self.config_file.write_text("\n".join(lines))

    def _format(self) -> None:
        # As the stack formats its storage, plus the SCRAM user (KRaft keeps credentials in the metadata log).
        r = subprocess.run(
            java_argv(self.settings, "-Xmx256m", "kafka.tools.StorageTool", "format", "--standalone", "-t", self._cluster_id(),
                      "-c", str(self.config_file), "--add-scram", f"SCRAM-SHA-512=[name={USER},password={PASSWORD}]"),
            capture_output=True,
            text=True,
        )  # fmt: skip
        if r.returncode != 0:
            raise StackError(f"formatting Kafka's storage failed: {(r.stderr or r.stdout).strip()[-800:]}")

    def ready(self) -> None:
        pass  # the tests create the topics themselves, over TLS


@dataclass(frozen=True)
class Broker:
    certs: Path
    sasl: str
    ssl: str


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    base = tmp_path_factory.mktemp("kafka-tls")
    certs = base / "certs"
    _make_certs(certs)
    settings = Settings(
        _env_file=None, run_dir=base / "run", kafka_port=_free_port(), kafka_controller_port=_free_port(), kafka_heap="-Xms128m -Xmx384m"
    )
    kafka = TlsKafka(settings, certs, _free_port(), _free_port())
    stack_api.up(settings, [kafka])
    try:
        yield Broker(certs=certs, sasl=f"localhost:{kafka.sasl_port}", ssl=f"localhost:{kafka.ssl_port}")
    finally:
        stack_api.down(settings, [kafka])


def _sasl(b: Broker, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "kafka_bootstrap_servers": b.sasl,
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": USER,
        "kafka_sasl_password": SecretStr(PASSWORD),
        "kafka_ssl_cafile": b.certs / "ca.pem",
        "topic_prefix": f"t{uuid.uuid4().hex[:6]}",
    }
    return Settings(_env_file=None, **(base | kw))


def _roundtrip_kafka_python(s: Settings, topic: str) -> bytes:
    producer = KafkaProducer(**kafka_python_kwargs(s), acks="all")
    producer.send(topic, b"over tls").get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(topic, **kafka_python_kwargs(s), auto_offset_reset="earliest", consumer_timeout_ms=20000)
    try:
        return next(iter(consumer)).value
    finally:
        consumer.close()


def _refused(s: Settings) -> None:
    # Short timeouts: a refused handshake or login is retried by the client until they run out.
    with pytest.raises(KafkaError):
        producer = KafkaProducer(**kafka_python_kwargs(s), bootstrap_timeout_ms=3000, request_timeout_ms=3000, max_block_ms=3000)
        try:
            producer.send("refused", b"x").get(timeout=5)
        finally:
            producer.close()


def test_sasl_ssl_scram_admin_producer_and_consumer(broker: Broker) -> None:
    s = _sasl(broker)
    created = ensure_topics(s)
    assert f"{s.topic_prefix}.public.customers" in created
    assert _roundtrip_kafka_python(s, f"{s.topic_prefix}.public.customers") == b"over tls"


def test_what_faust_hands_aiokafka_works_over_sasl_ssl(broker: Broker) -> None:
    s = _sasl(broker)
    fa = faust_broker_kwargs(s)
    auth = dict(credentials_to_aiokafka_auth(fa["broker_credentials"]))
    servers = [u.removeprefix("kafka://") for u in fa["broker"]]
    topic = f"faust-tls-{uuid.uuid4().hex[:6]}"

    async def roundtrip() -> bytes:
        producer = AIOKafkaProducer(bootstrap_servers=servers, **auth)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"from aiokafka")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=servers, auto_offset_reset="earliest", **auth)
        await consumer.start()
        try:
            msg = await asyncio.wait_for(consumer.getone(), 30)
            return bytes(msg.value or b"")
        finally:
            await consumer.stop()

    assert asyncio.run(roundtrip()) == b"from aiokafka"


def test_another_ca_or_a_wrong_password_is_refused(broker: Broker) -> None:
    _refused(_sasl(broker, kafka_ssl_cafile=broker.certs / "other-ca.pem"))
    _refused(_sasl(broker, kafka_sasl_password=SecretStr("wrong")))


def test_mutual_tls_needs_the_client_certificate(broker: Broker) -> None:
    c = broker.certs
    mtls = Settings(
        _env_file=None,
        kafka_bootstrap_servers=broker.ssl,
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=c / "ca.pem",
        kafka_ssl_certfile=c / "client.pem",
        kafka_ssl_keyfile=c / "client.key",
    )
    assert _roundtrip_kafka_python(mtls, f"mtls-{uuid.uuid4().hex[:6]}") == b"over tls"
    no_cert = Settings(_env_file=None, kafka_bootstrap_servers=broker.ssl, kafka_security_protocol="SSL", kafka_ssl_cafile=c / "ca.pem")
    _refused(no_cert)


def test_the_cli_uses_the_tls_settings(broker: Broker) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BQ_")} | {
        "BQ_KAFKA_BOOTSTRAP_SERVERS": broker.sasl,
        "BQ_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "BQ_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "BQ_KAFKA_SASL_USERNAME": USER,
        "BQ_KAFKA_SASL_PASSWORD": PASSWORD,
        "BQ_KAFKA_SSL_CAFILE": str(broker.certs / "ca.pem"),
        "BQ_TOPIC_PREFIX": "clitls",
        "BQ_DEADLETTER_TOPIC": "clitls.deadletter",
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bottleneck_qbo", *args], env=env, capture_output=True, text=True, timeout=120, cwd="/"
        )

    topics = cli("topics")
    assert topics.returncode == 0, topics.stderr
    assert "clitls.public.customers" in topics.stdout and "clitls.deadletter" in topics.stdout
    listed = cli("deadletters", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("no dead letters open"), listed.stderr
