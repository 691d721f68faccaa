"""Shared JVM command line for the broker and the Connect worker."""

from __future__ import annotations

import shlex
from pathlib import Path

from bottleneck_qbo.settings import Settings
from infra.stack import jars, prereqs

LOG4J2 = Path(__file__).resolve().parent / "log4j2.properties"


def java_argv(settings: Settings, heap: str, main: str, *args: str) -> list[str]:
    return [
        prereqs.java(),
        *shlex.split(heap),
        # kafka-run-class.sh's defaults.
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile=file:{LOG4J2}",
        f"-Dkafka.logs.dir={settings.run_dir.resolve() / 'logs'}",
        "-cp",
        jars.classpath(settings),
        main,
        *args,
    ]
