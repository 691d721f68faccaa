"""`bottleneck-qbo stack up|down|status` (owned by the local-stack work)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
