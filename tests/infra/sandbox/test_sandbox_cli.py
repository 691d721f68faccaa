"""`bottleneck-qbo sandbox` serves the API as a process of its own."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.sandbox import free_port

pytestmark = pytest.mark.integration


def test_cli_serves_api_with_static_token_and_seeded_realm(tmp_path: Path) -> None:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "bottleneck_qbo",
        "sandbox",
        "--port",
        str(port),
        "--access-token",
        "tok-5f3a9c",
        "--realm",
        "4620816365",
        "--sqlite",
        str(tmp_path / "s.sqlite"),
        "--webhook-format",
        "cloudevents",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/__sandbox/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            pytest.fail("sandbox did not come up")
        api = httpx.Client(base_url=f"{base}/v3/company/4620816365", headers={"Authorization": "Bearer tok-5f3a9c"})
        created = api.post("/customer", params={"minorversion": "75"}, json={"DisplayName": "From CLI"})
        assert created.status_code == 200 and created.json()["Customer"]["Id"]
        assert api.get("/query", params={"query": "select count(*) from Account"}).json()["QueryResponse"]["totalCount"] == 9
        assert httpx.get(f"{base}/v3/company/4620816365/customer/1", headers={"Authorization": "Bearer nope"}).status_code == 401
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert b"tok-5f3a9c" not in out  # the token never reaches the log
    assert (tmp_path / "s.sqlite").exists()
