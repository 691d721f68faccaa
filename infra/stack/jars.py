"""The JVM side of the stack, fetched once by Maven (``infra/pom.xml``) into a cache and reused.

- ``settings.stack_lib_dir``: Kafka broker + Connect runtime + logging jars (``dependency:copy-dependencies``).
- ``settings.connect_plugin_dir``/debezium-connector-postgres: the Debezium plugin archive
  (``dependency:unpack`` of the ``tar.gz:plugin`` classifier).

A stamp file holds a hash of the pom, so editing versions refetches; otherwise nothing touches the network.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from bottleneck_qbo.settings import Settings
from infra.stack import prereqs
from infra.stack.errors import StackError

POM = Path(__file__).resolve().parent.parent / "pom.xml"
PLUGIN_NAME = "debezium-connector-postgres"
_STAMP = ".fetched"
_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def pom_property(name: str, pom: Path = POM) -> str:
    value = ET.parse(pom).getroot().findtext(f"m:properties/m:{name}", namespaces=_NS)
    if not value:
        raise StackError(f"{pom} has no <{name}> property")
    return value.strip()


def _pom_hash() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def _fresh(directory: Path) -> bool:
    stamp = directory / _STAMP
    return stamp.exists() and stamp.read_text().strip() == _pom_hash()


def _mvn(settings: Settings, *args: str, cwd: Path) -> None:
    # Run on a copy of the pom in the temp dir: Maven's target/ (with "already unpacked" markers that
    # would make a later re-fetch skip the unpack) then disappears with it.
    pom = cwd / "pom.xml"
    shutil.copyfile(POM, pom)
    argv = [prereqs.mvn(), "-B", "-q", "-f", str(pom), *args]
    if settings.maven_repo is not None:
        argv.append(f"-Dmaven.repo.local={settings.maven_repo}")
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise StackError("Maven could not fetch the stack's jars:\n" + "\n".join(out))


def _replace_dir(src: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), str(dest))


def ensure_lib(settings: Settings) -> Path:
    lib = settings.stack_lib_dir.resolve()
    if _fresh(lib):
        return lib
    with tempfile.TemporaryDirectory(prefix="bq-lib-", dir=lib.parent if lib.parent.exists() else None) as tmp:
        out = Path(tmp) / "lib"
        _mvn(settings, "dependency:copy-dependencies", f"-DoutputDirectory={out}", cwd=Path(tmp))
        if not any(out.glob("kafka_2.13-*.jar")):
            raise StackError(f"Maven finished but no kafka_2.13 jar is in {out}")
        (out / _STAMP).write_text(_pom_hash())
        _replace_dir(out, lib)
    return lib


def ensure_plugins(settings: Settings) -> Path:
    plugins = settings.connect_plugin_dir.resolve()
    if _fresh(plugins) and (plugins / PLUGIN_NAME).is_dir():
        return plugins
    version = pom_property("debezium.version")
    parent = plugins.parent if plugins.parent.exists() else None
    with tempfile.TemporaryDirectory(prefix="bq-plugins-", dir=parent) as tmp:
        out = Path(tmp) / "plugins"
        _mvn(
            settings,
            "dependency:unpack",
            f"-Dartifact=io.debezium:{PLUGIN_NAME}:{version}:tar.gz:plugin",
            f"-DoutputDirectory={out}",
            cwd=Path(tmp),
        )
        if not (out / PLUGIN_NAME).is_dir():
            raise StackError(f"the Debezium plugin archive did not contain {PLUGIN_NAME}/")
        # Keep only the plugin directory: the tar's pax headers unpack as a stray folder.
        for extra in out.iterdir():
            if extra.name != PLUGIN_NAME:
                shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
        (out / _STAMP).write_text(_pom_hash())
        _replace_dir(out, plugins)
    return plugins


def ensure_jars(settings: Settings) -> tuple[Path, Path]:
    """Fetch (once) and return (lib dir, plugin dir)."""
    return ensure_lib(settings), ensure_plugins(settings)


def classpath(settings: Settings) -> str:
    return str(settings.stack_lib_dir.resolve() / "*")
