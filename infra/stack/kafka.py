"""Apache Kafka, one KRaft node (broker + controller), from the Maven jars."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kafka import KafkaAdminClient

from infra.stack import jars, proc
from infra.stack.component import Component
from infra.stack.errors import StackError
from infra.stack.jvm import java_argv
from streams.topics import ensure_topics


class Kafka(Component):
    name = "kafka"

    @property
    def base(self) -> Path:
        return self.run_dir / "kafka"

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def config_file(self) -> Path:
        return self.base / "server.properties"

    def ports(self) -> dict[str, int]:
        return {"kafka": self.settings.kafka_port, "kafka controller": self.settings.kafka_controller_port}

    def _write_config(self) -> None:
        s = self.settings
        self.base.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    # Dynamic quorum (KIP-853): pairs with `format --standalone`.
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{s.kafka_controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
                    "inter.broker.listener.name=PLAINTEXT",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.data_dir}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=4",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "transaction.state.log.num.partitions=4",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    # Single node, dev/test: no 3 s wait before the first consumer-group rebalance.
                    "group.initial.rebalance.delay.ms=0",
                    "",
                ]
            )
        )

    def _cluster_id(self) -> str:
        f = self.base / "cluster-id"
        if f.exists():
            return f.read_text().strip()
        r = subprocess.run(
            java_argv(self.settings, "-Xmx128m", "kafka.tools.StorageTool", "random-uuid"),
            capture_output=True,
            text=True,
        )
        cid = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else ""
        if not cid:
            raise StackError(f"kafka-storage random-uuid failed: {r.stderr.strip()[-500:]}")
        f.write_text(cid + "\n")
        return cid

    def _format(self) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        r = subprocess.run(
            java_argv(
                self.settings,
                "-Xmx256m",
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-g",
                "-t",
                self._cluster_id(),
                "-c",
                str(self.config_file),
            ),
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            raise StackError(f"formatting Kafka's storage failed: {(r.stderr or r.stdout).strip()[-800:]}")

    def start(self) -> None:
        jars.ensure_lib(self.settings)
        self._write_config()
        self._format()
        proc.spawn(
            java_argv(self.settings, self.settings.kafka_heap, "kafka.Kafka", str(self.config_file)),
            log_file=self.log_file,
            pid_file=self.pid_file,
        )

    def healthy(self) -> bool:
        if not proc.port_open(self.settings.kafka_port):
            return False
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.settings.kafka_bootstrap,
                client_id="bq-stack-health",
                request_timeout_ms=3000,
            )
        except Exception:
            return False
        try:
            admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            admin.close()

    def ready(self) -> None:
        ensure_topics(self.settings)
