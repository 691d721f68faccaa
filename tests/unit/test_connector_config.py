"""The connector captures exactly the tables the product reads, which are the ones the publication lists, and
sizes the topics it creates from the settings (one JSON for the local stack, docker-compose and production)."""

from __future__ import annotations

import re

import connectors
from bottleneck_qbo import migrations
from bottleneck_qbo.settings import Settings
from infra.stack.connect import cdc_env


def _published_tables() -> set[str]:
    sql = (migrations.MIGRATIONS_DIR / "0003_cdc.sql").read_text()
    body = re.search(r"create publication bottleneck_cdc for table(.*?);", sql, flags=re.S | re.I)
    assert body
    return {t.strip() for t in body.group(1).split(",")}


def test_include_list_equals_the_publication_and_the_decoder_tables() -> None:
    config = connectors.load("bottleneck-postgres")
    include = set(config["table.include.list"].split(","))
    assert include == set(migrations.CAPTURED_TABLES)
    assert _published_tables() == include | set(migrations.CDC_TABLES)
    # Debezium follows include lists for snapshots; a schema-wide list would snapshot tables the product does not read.
    assert "schema.include.list" not in config


def test_topics_debezium_creates_get_the_configured_sizing() -> None:
    config = connectors.load("bottleneck-postgres")
    env = cdc_env(Settings(_env_file=None, topic_replication_factor=3, cdc_topic_partitions=2, topic_retention_ms=604800000))
    resolved = {k: re.sub(r"\$\{env:([A-Z0-9_]+)\}", lambda m: env[m.group(1)], v) for k, v in config.items()}
    assert resolved["topic.creation.default.replication.factor"] == "3"
    assert resolved["topic.creation.default.partitions"] == "2"
    assert resolved["topic.creation.default.retention.ms"] == "604800000"


def test_topic_specs_follow_the_settings() -> None:
    from streams.topics import topic_specs

    specs = {s.name: s for s in topic_specs(Settings(_env_file=None, topic_retention_ms=86400000))}
    assert specs["bottleneck.public.customers"].config == {"retention.ms": "86400000"}
    assert specs["qbo.deadletter"].config == {"retention.ms": "86400000"}
