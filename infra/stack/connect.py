"""Kafka Connect (distributed worker) with the Debezium PostgreSQL plugin, and the connector on it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx

import connectors
from bottleneck_qbo.settings import Settings
from infra.stack import jars, proc
from infra.stack.component import Component
from infra.stack.errors import HealthTimeout, StackError
from infra.stack.jvm import java_argv
from infra.stack.models import ComponentStatus
from infra.stack.postgres import CDC_ROLE


def cdc_env(settings: Settings) -> dict[str, str]:
    """The ``${env:...}`` values the connector JSON refers to (docker-compose sets the same names)."""
    return {
        "CDC_DB_HOSTNAME": settings.pg_host,
        "CDC_DB_PORT": str(settings.pg_port),
        "CDC_DB_NAME": settings.pg_database,
        "CDC_DB_USER": CDC_ROLE,
        "CDC_DB_PASSWORD": settings.pg_cdc_password.get_secret_value(),
        "CDC_DB_SSLMODE": settings.pg_sslmode or "prefer",
        # Topics Debezium creates itself (a table added after `topics` ran) get the product's sizing.
        "CDC_TOPIC_REPLICATION_FACTOR": str(settings.topic_replication_factor),
        "CDC_TOPIC_PARTITIONS": str(settings.cdc_topic_partitions),
        "CDC_TOPIC_RETENTION_MS": str(settings.topic_retention_ms),
    }


class Connect(Component):
    name = "connect"

    @property
    def base(self) -> Path:
        return self.run_dir / "connect"

    @property
    def config_file(self) -> Path:
        return self.base / "worker.properties"

    def ports(self) -> dict[str, int]:
        return {"connect REST": self.settings.connect_port}

    def _write_config(self, plugin_dir: Path) -> None:
        s = self.settings
        self.base.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            "\n".join(
                [
                    f"bootstrap.servers={s.kafka_bootstrap}",
                    "group.id=bottleneck-connect",
                    "key.converter=org.apache.kafka.connect.json.JsonConverter",
                    "value.converter=org.apache.kafka.connect.json.JsonConverter",
                    "key.converter.schemas.enable=false",
                    "value.converter.schemas.enable=false",
                    "config.storage.topic=bottleneck-connect-configs",
                    "offset.storage.topic=bottleneck-connect-offsets",
                    "status.storage.topic=bottleneck-connect-status",
                    "config.storage.replication.factor=1",
                    "offset.storage.replication.factor=1",
                    "status.storage.replication.factor=1",
                    "offset.storage.partitions=1",
                    "status.storage.partitions=1",
                    # Source offsets (the LSN Debezium has reached) flushed often: less replay after a crash.
                    "offset.flush.interval.ms=1000",
                    f"listeners=http://127.0.0.1:{s.connect_port}",
                    "rest.advertised.host.name=127.0.0.1",
                    f"rest.advertised.port={s.connect_port}",
                    f"plugin.path={plugin_dir}",
                    # Every plugin here ships ServiceLoader manifests: skip the slow reflective scan.
                    "plugin.discovery=service_load",
                    # Connector configs say ${env:CDC_DB_...}: one JSON for this stack and docker-compose.
                    "config.providers=env",
                    "config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider",
                    "",
                ]
            )
        )

    def start(self) -> None:
        jars.ensure_lib(self.settings)
        plugin_dir = jars.ensure_plugins(self.settings)
        self._write_config(plugin_dir)
        env = {**os.environ, **cdc_env(self.settings)}
        proc.spawn(
            java_argv(
                self.settings,
                self.settings.connect_heap,
                "org.apache.kafka.connect.cli.ConnectDistributed",
                str(self.config_file),
            ),
            log_file=self.log_file,
            pid_file=self.pid_file,
            env=env,
        )

    def healthy(self) -> bool:
        try:
            r = httpx.get(f"{self.settings.connect_url}/connectors", timeout=2.0)
            return r.status_code == 200
        except httpx.HTTPError:
            return False


class Connector(Component):
    """The Debezium connector (``connectors/<name>.json``) on the Connect worker. No process of its own:
    ``start`` PUTs its config (create-or-update), ``healthy`` means connector and task RUNNING."""

    def __init__(self, settings: Settings, connector_name: str | None = None) -> None:
        super().__init__(settings)
        self.connector = connector_name or settings.connector_name
        self.name = f"connector:{self.connector}"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / "connect.log"

    def _url(self, suffix: str = "") -> str:
        return f"{self.settings.connect_url}/connectors/{self.connector}{suffix}"

    def process_alive(self) -> bool:
        """ "Deployed" stands in for "process alive": `up` deploys it (start) when it is not."""
        try:
            return self.state()[0] != "MISSING"
        except (httpx.HTTPError, KeyError, ValueError):
            return False

    def pid(self) -> int | None:
        return None

    def state(self) -> tuple[str, str | None]:
        """(connector state, first task trace) from the REST API; ("MISSING", None) if not deployed."""
        r = httpx.get(self._url("/status"), timeout=3.0)
        if r.status_code == 404:
            return "MISSING", None
        r.raise_for_status()
        body = r.json()
        tasks = body.get("tasks") or []
        state = body["connector"]["state"]
        if state == "RUNNING" and (not tasks or any(t["state"] != "RUNNING" for t in tasks)):
            bad = [t for t in tasks if t["state"] != "RUNNING"]
            return (bad[0]["state"] if bad else "NO_TASKS"), (bad[0].get("trace") if bad else None)
        return state, body["connector"].get("trace")

    def healthy(self) -> bool:
        try:
            state, trace = self.state()
        except (httpx.HTTPError, KeyError, ValueError):
            return False
        if state == "FAILED":
            first = (trace or "").strip().splitlines()[:3]
            raise StackError(f"connector {self.connector} FAILED: {' | '.join(first)}")
        return state == "RUNNING"

    def start(self) -> None:
        self.apply()

    def apply(self) -> bool:
        """PUT the config if Connect's copy differs (an identical PUT would still restart the task).
        Returns True if it was written."""
        desired = connectors.load(self.connector)
        r = httpx.get(self._url("/config"), timeout=10.0)
        if r.status_code == 200:
            current = {k: v for k, v in r.json().items() if k != "name"}
            if current == desired:
                return False
        r = httpx.put(self._url("/config"), json=desired, timeout=60.0)
        if r.status_code >= 400:
            raise StackError(f"Connect refused the {self.connector} config ({r.status_code}): {r.text[:500]}")
        return True

    def ready(self) -> None:
        # The JSON in connectors/ is the source of truth: re-applied (only if changed) on every `up`.
        if self.apply():
            self.wait_healthy()

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.settings.stack_start_timeout_s
        while True:
            try:
                if self.healthy():
                    return
            except StackError as exc:
                raise HealthTimeout(str(exc)) from None
            if time.monotonic() > deadline:
                raise HealthTimeout(
                    f"connector {self.connector} not RUNNING after {self.settings.stack_start_timeout_s:.0f}s; "
                    f"last lines of {self.log_file}:\n{proc.tail(self.log_file)}"
                )
            time.sleep(0.25)

    def stop(self) -> bool:
        # Stopping the worker stops the connector; its config and offsets stay in Kafka.
        return False

    def status(self) -> ComponentStatus:
        try:
            state, trace = self.state()
        except (httpx.HTTPError, KeyError, ValueError):
            return ComponentStatus(state="stopped", detail="Connect is not reachable")
        if state == "RUNNING":
            return ComponentStatus(state="running")
        if state == "MISSING":
            return ComponentStatus(state="stopped", detail="not deployed")
        first = (trace or "").strip().splitlines()[:1]
        return ComponentStatus(state="unhealthy", detail=f"{state} {' '.join(first)}".strip())
