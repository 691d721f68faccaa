"""Debezium connector configs, one JSON object per file, applied with ``PUT /connectors/{name}/config``.

The file name (without ``.json``) is the connector's name. Database coordinates are ``${env:CDC_DB_*}``
references resolved by the Connect worker's EnvVarConfigProvider, so the same JSON serves the local stack
and docker-compose.
"""

from __future__ import annotations

import json
from pathlib import Path

CONNECTORS_DIR = Path(__file__).resolve().parent


def names() -> list[str]:
    return sorted(p.stem for p in CONNECTORS_DIR.glob("*.json"))


def path(name: str) -> Path:
    return CONNECTORS_DIR / f"{name}.json"


def load(name: str) -> dict[str, str]:
    """The connector's config map. Every value must be a string (Connect's REST API expects strings)."""
    p = path(name)
    if not p.exists():
        raise FileNotFoundError(f"no connector config {p} (have: {', '.join(names()) or 'none'})")
    config = json.loads(p.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ValueError(f"{p}: expected a JSON object of config keys")
    bad = [k for k, v in config.items() if not isinstance(v, str)]
    if bad:
        raise ValueError(f"{p}: values must be strings; not: {', '.join(bad)}")
    return config
