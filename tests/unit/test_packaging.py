"""The product's wheel ships the product only: infra/ (local stack, QBO sandbox, migrations) is the separate
development package in infra/pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Build from the sources alone, as in a fresh clone (no jars, caches or earlier build output).
_NOT_SOURCE = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "lib", "connect-plugins")


def _copy(tmp: Path, files: list[str], folders: list[str], base: Path = REPO) -> Path:
    tree = tmp / "src"
    tree.mkdir()
    for name in files:
        shutil.copy2(base / name, tree / name)
    for name in folders:
        shutil.copytree(base / name, tree / name, ignore=_NOT_SOURCE)
    return tree


def _wheel_files(tree: Path, tmp: Path) -> list[str]:
    # A copy because pip builds in place (it would leave build/ in the checkout); no build isolation
    # because the dev extra brings setuptools and wheel, so this needs no package index.
    out = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(tree)],
        check=True,
        capture_output=True,
    )
    [wheel] = out.glob("*.whl")
    return zipfile.ZipFile(wheel).namelist()


def test_product_wheel_has_no_infra(tmp_path: Path) -> None:
    # infra/ is in the tree being built, as in a checkout: the package list must leave it out.
    tree = _copy(tmp_path, ["pyproject.toml", "README.md"], ["bottleneck_qbo", "connectors", "streams", "mappers", "sinks", "infra"])
    names = _wheel_files(tree, tmp_path)
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"bottleneck_qbo", "connectors", "streams", "mappers", "sinks"}
    assert not [n for n in names if n.startswith("infra/")]
    assert "connectors/bottleneck-postgres.json" in names  # package data still ships
    assert "streams/agents/outbound.py" in names and "sinks/qbo/client.py" in names


def test_infra_package_carries_its_data_files(tmp_path: Path) -> None:
    infra = REPO / "infra"
    tree = _copy(tmp_path, [p.name for p in infra.iterdir() if p.is_file()], ["bottleneck", "qbo_sandbox", "stack"], base=infra)
    names = _wheel_files(tree, tmp_path)
    assert {"infra/pom.xml", "infra/bottleneck/schema.sql", "infra/stack/log4j2.properties"} <= set(names)
    assert {n.split("/")[0] for n in names} == {"infra", "bottleneck_qbo_infra-0.1.0.dist-info"}
