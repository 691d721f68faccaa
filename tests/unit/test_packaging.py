"""The product's wheel ships the product only: infra/ (local stack, QBO sandbox, migrations) is the separate
development package in infra/pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _build(source: Path, out: Path) -> list[str]:
    # No build isolation: the dev extra brings setuptools and wheel, so this needs no package index.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    [wheel] = out.glob("*.whl")
    return zipfile.ZipFile(wheel).namelist()


def test_product_wheel_has_no_infra(tmp_path: Path) -> None:
    names = _build(REPO, tmp_path)
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"bottleneck_qbo", "connectors", "streams", "mappers", "sinks"}
    assert not [n for n in names if n.startswith("infra/")]
    assert "connectors/bottleneck-postgres.json" in names  # package data still ships
    assert "streams/agents/outbound.py" in names and "sinks/qbo/client.py" in names


def test_infra_package_carries_its_data_files(tmp_path: Path) -> None:
    names = _build(REPO / "infra", tmp_path)
    assert {"infra/pom.xml", "infra/migrations/0002_qbo_sync.sql", "infra/stack/log4j2.properties"} <= set(names)
    assert {n.split("/")[0] for n in names if not n.endswith((".dist-info", "RECORD", "WHEEL", "METADATA", "top_level.txt"))} <= {
        "infra",
        "bottleneck_qbo_infra-0.1.0.dist-info",
    }
