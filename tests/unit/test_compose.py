"""docker-compose.yml cannot run here (no Docker engine): parse it and check it agrees with the local stack."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import connectors
from bottleneck_qbo.settings import Settings
from infra.stack.connect import cdc_env
from infra.stack.jars import pom_property
from infra.stack.postgres import CDC_ROLE
from tests.fixtures.schema_sql import fixture_tables

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def defaults() -> Settings:
    # The declared defaults, not whatever BQ_* environment or .env the developer has.
    return Settings.model_construct()


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    return {k: str(v) for k, v in env.items()}


def _host_ports(service: dict[str, Any]) -> set[int]:
    return {int(p.split(":")[-2]) for p in service.get("ports", [])}


def test_services_and_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "kafka", "setup", "connect", "connector-init", "worker"} <= set(services)
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
    assert services["connect"]["depends_on"]["setup"]["condition"] == "service_completed_successfully"


def test_versions_match_the_maven_pom(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{pom_property('kafka.version')}"
    assert services["connect"]["image"] == f"quay.io/debezium/connect:{pom_property('debezium.version')}"
    assert services["postgres"]["image"].startswith("postgres:15")


def test_postgres_is_logical_with_the_same_credentials(compose: dict[str, Any], defaults: Settings) -> None:
    pg = compose["services"]["postgres"]
    assert "wal_level=logical" in pg["command"]
    env = _env(pg)
    assert env["POSTGRES_USER"] == defaults.pg_user
    assert env["POSTGRES_PASSWORD"] == defaults.pg_password.get_secret_value()
    assert env["POSTGRES_DB"] == defaults.pg_database
    init = next(v for v in pg["volumes"] if "docker-entrypoint-initdb.d" in v).split(":")[0]
    init_sql = (ROOT / init).read_text()
    assert re.search(rf"create role {CDC_ROLE} login replication password '{defaults.pg_cdc_password.get_secret_value()}'", init_sql)
    assert _host_ports(pg) == {defaults.pg_port}


def test_host_ports_match_the_local_stack(compose: dict[str, Any], defaults: Settings) -> None:
    services = compose["services"]
    assert _host_ports(services["kafka"]) == {defaults.kafka_port}
    assert _host_ports(services["connect"]) == {defaults.connect_port}
    assert f"127.0.0.1:{defaults.kafka_port}" in _env(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]


def test_connect_resolves_every_env_reference_of_the_connector_json(compose: dict[str, Any], defaults: Settings) -> None:
    connect = _env(compose["services"]["connect"])
    assert connect["CONNECT_CONFIG_PROVIDERS"] == "env"
    assert connect["CONNECT_CONFIG_PROVIDERS_ENV_CLASS"].endswith("EnvVarConfigProvider")
    refs: set[str] = set()
    for name in connectors.names():
        for value in connectors.load(name).values():
            refs |= set(re.findall(r"\$\{env:([A-Z0-9_]+)\}", value))
    assert refs, "the connector JSON should take its database coordinates from the environment"
    assert refs <= set(connect)
    # The local stack provides the same names (with its own host/port).
    assert refs <= set(cdc_env(defaults))
    assert connect["CDC_DB_HOSTNAME"] == "postgres" and connect["CDC_DB_USER"] == CDC_ROLE
    assert connect["CDC_DB_NAME"] == defaults.pg_database


def test_connector_init_puts_the_same_json(compose: dict[str, Any], defaults: Settings) -> None:
    init = compose["services"]["connector-init"]
    assert any(v.startswith("./connectors:") for v in init["volumes"])
    command = " ".join(init["command"])
    assert f"/connectors/{defaults.connector_name}.json" in command
    assert f"/connectors/{defaults.connector_name}/config" in command and "-X PUT" in command


def test_app_services_point_at_compose_hosts(compose: dict[str, Any]) -> None:
    for name in ("setup", "worker"):
        env = _env(compose["services"][name])
        fields: dict[str, Any] = {k[3:].lower(): v for k, v in env.items() if k.startswith("BQ_")}  # strings, validated by Settings
        s = Settings(_env_file=None, **fields)
        assert s.kafka_bootstrap == "kafka:9092"
        assert s.postgres_dsn.endswith("@postgres:5432/bottleneck")
        assert s.connect_url == "http://connect:8083"
    # The product's own commands, as an operator runs them against a managed Postgres and Kafka.
    assert "bottleneck-qbo migrate" in " ".join(compose["services"]["setup"]["command"])
    assert "bottleneck-qbo topics" in " ".join(compose["services"]["setup"]["command"])


def test_the_worker_scales(compose: dict[str, Any], defaults: Settings) -> None:
    """`docker compose up --scale worker=3` needs a service without a fixed host port or container name."""
    worker = compose["services"]["worker"]
    assert "ports" not in worker and "container_name" not in worker
    assert str(defaults.worker_web_port) in [str(p) for p in worker.get("expose", [])]
    # Every replica is the same consumer group: nothing per-replica in its environment.
    assert "BQ_WORKER_ID" not in _env(worker)
    assert "http://worker:6066/webhooks/qbo" in compose["services"]["qbo-sandbox"]["command"]


LONG_RUNNING = ("postgres", "kafka", "connect", "qbo-sandbox", "worker")
ONE_SHOT = ("setup", "connector-init")


def test_long_running_services_restart_and_have_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in LONG_RUNNING:
        assert services[name].get("restart") == "unless-stopped", name
        check = services[name].get("healthcheck") or {}
        assert check.get("test"), f"{name} has no healthcheck"
    for name in ONE_SHOT:
        assert services[name].get("restart") == "on-failure", name
    assert "/health" in " ".join(services["worker"]["healthcheck"]["test"])
    assert services["worker"]["depends_on"]["qbo-sandbox"]["condition"] == "service_healthy"


def test_postgres_has_bottlenecks_schema_before_migrate(compose: dict[str, Any]) -> None:
    """Compose's Postgres stands in for an existing Bottleneck: its tables are there before `migrate`."""
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["postgres"]["volumes"] if "initdb.d" in v}
    ordered = [mounts[k] for k in sorted(mounts)]
    assert ordered == ["./infra/stack/compose-initdb.sql", "./infra/bottleneck/schema.sql"]
    assert (ROOT / "infra/bottleneck/schema.sql").read_text().count("create table") == len(fixture_tables())


def test_connector_json_is_what_the_issue_asks_for() -> None:
    config = connectors.load("bottleneck-postgres")
    assert config["plugin.name"] == "pgoutput"
    assert config["publication.name"] == "bottleneck_cdc" and config["publication.autocreate.mode"] == "disabled"
    assert config["decimal.handling.mode"] == "string"
    assert config["provide.transaction.metadata"] == "true"
    assert int(config["heartbeat.interval.ms"]) > 0 and "cdc.heartbeat" in config["heartbeat.action.query"]
    assert config["signal.data.collection"] == "cdc.debezium_signal"
    assert config["topic.prefix"] == "bottleneck" and config["snapshot.mode"] == "initial"
    assert config["value.converter.schemas.enable"] == "false" and config["key.converter.schemas.enable"] == "false"
    assert config["tombstones.on.delete"] == "true"
    assert int(config["poll.interval.ms"]) <= 100
