"""`bottleneck-qbo sandbox` runs the local QBO sandbox (owned by the QBO sandbox work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
