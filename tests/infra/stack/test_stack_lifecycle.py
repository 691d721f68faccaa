"""`stack up` errors a user relies on: a taken port, a missing prerequisite, a crashing component.
(Idempotent `up` and the status JSON of the whole running product: tests/infra/stack/test_stack_status.py.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bottleneck_qbo.settings import Settings
from infra import stack as stack_api
from infra.stack import Kafka, PortTaken

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-c", "from bottleneck_qbo.cli import main; main()"]


def test_a_port_held_by_another_process_is_reported(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        settings = Settings(run_dir=tmp_path, kafka_port=port, kafka_controller_port=port + 1 if port < 65535 else port - 1)
        kafka = Kafka(settings)
        assert kafka.status().state == "port-taken"
        with pytest.raises(PortTaken, match=f"port {port} \\(kafka\\) is already in use"):
            stack_api.up(settings, [kafka])
    assert not any(tmp_path.glob("pids/*.pid"))


def test_missing_java_is_one_line_naming_the_package(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "BQ_RUN_DIR": str(tmp_path)}
    out = subprocess.run([*CLI, "stack", "up"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "java not found" in lines[0] and "default-jdk-headless" in lines[0]
