"""System programs the local stack needs, with the package that provides each (one-line messages)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from infra.stack.errors import PrerequisiteMissing

MIN_PG = 15
MIN_JAVA = 17


def pg_bin_dir() -> Path:
    """Directory of initdb/pg_ctl/postgres: the newest Debian cluster binaries, else PATH."""
    versions = [d for d in Path("/usr/lib/postgresql").glob("*/bin") if d.parent.name.isdigit()]
    for d in sorted(versions, key=lambda p: int(p.parent.name), reverse=True):
        if int(d.parent.name) >= MIN_PG and (d / "initdb").exists():
            return d
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PrerequisiteMissing(
        f"PostgreSQL {MIN_PG}+ server binaries (initdb, pg_ctl) not found: install the `postgresql` package "
        "(Debian: apt-get install postgresql; elsewhere put initdb on PATH)"
    )


def java() -> str:
    path = shutil.which("java")
    if not path:
        raise PrerequisiteMissing(f"java not found: install a JDK {MIN_JAVA}+ (Debian: apt-get install default-jdk-headless)")
    out = subprocess.run([path, "-version"], capture_output=True, text=True).stderr
    m = re.search(r'version "(\d+)', out)
    if m and int(m.group(1)) < MIN_JAVA:
        raise PrerequisiteMissing(
            f"java {m.group(1)} is too old: Kafka 4 needs Java {MIN_JAVA}+ (Debian: apt-get install default-jdk-headless)"
        )
    return path


def mvn() -> str:
    path = shutil.which("mvn")
    if not path:
        raise PrerequisiteMissing("mvn not found: install Maven (Debian: apt-get install maven)")
    return path


def check_all() -> None:
    pg_bin_dir()
    java()
    mvn()
