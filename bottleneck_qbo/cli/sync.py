"""`bottleneck-qbo worker|connect|publish|replay|resnapshot|deadletters|state` (owned by the sync work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
