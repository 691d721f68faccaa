"""`stack up` / `stack status` of the whole running product (CDC infra, QBO sandbox, worker)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from infra import stack as stack_api
from tests.fixtures.pipeline import Pipeline

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "bottleneck_qbo"]


def test_up_twice_is_harmless(pipeline: Pipeline) -> None:
    before = stack_api.status(pipeline.settings)
    again = stack_api.up(pipeline.settings)
    assert before.all_running and again.all_running
    # Nothing was restarted.
    assert {k: v.pid for k, v in again.details.items()} == {k: v.pid for k, v in before.details.items()}


def test_status_json(pipeline: Pipeline) -> None:
    out = subprocess.run([*CLI, "stack", "status", "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    s = pipeline.settings
    assert data["kafka_bootstrap"] == s.kafka_bootstrap
    assert data["connect_url"] == s.connect_url
    assert data["postgres_dsn"].startswith("postgresql://bottleneck:***@")
    assert data["components"] == {
        "postgres": "running",
        "kafka": "running",
        "connect": "running",
        "connector:bottleneck-postgres": "running",
        "qbo-sandbox": "running",
        "worker": "running",
    }
    # What a developer needs to talk to the local QBO and to send the worker a webhook by hand.
    assert data["qbo_base_url"] == s.qbo_base_url
    assert data["qbo_access_token"] == s.qbo_sandbox_access_token.get_secret_value()
    assert data["webhook_url"] == s.webhook_url
    assert data["webhook_verifier_token"] == s.webhook_verifier_token.get_secret_value()
