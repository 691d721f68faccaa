"""What ``bottleneck-qbo worker`` loads (the CLI module graph, then every agent and web view) never imports
infra/: the local stack and the QBO sandbox are development tools, not runtime (see the import contract in
pyproject.toml; this checks the lazy imports the contract cannot see, at run time)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from infra.stack import StackStatus

pytestmark = pytest.mark.integration

# The same imports as `bottleneck-qbo worker` before it starts the Faust worker (cli/sync.py: worker).
LOAD_THE_WORKER = """
import json, sys
import bottleneck_qbo.cli
from faust.worker import Worker
from streams.app import register_modules
register_modules()
import streams.agents.outbound, streams.agents.inbound, streams.web
print(json.dumps(sorted(m for m in sys.modules if m == "infra" or m.startswith("infra."))))
"""


def test_worker_path_imports_no_infra_module(stack: StackStatus) -> None:
    # The stack's Kafka (same environment) answers the outbound agent's topic listing at import.
    done = subprocess.run([sys.executable, "-c", LOAD_THE_WORKER], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
