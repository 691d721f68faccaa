"""The CLI commands that drive the local stack and the QBO sandbox need ``infra/``, the development tools
installed from the source checkout (``make install``: ``pip install -e ./infra``). The product's wheel does not
ship them, and the worker never imports them, so those commands import ``infra`` only when they run."""

from __future__ import annotations

import importlib.util

import typer


def require_infra(command: str) -> None:
    """Exit with a sentence, not a traceback, where the development tools are not installed."""
    if importlib.util.find_spec("infra") is None:
        typer.secho(
            f"`bottleneck-qbo {command}` needs the development tools in infra/ (the local stack and the QBO sandbox),"
            " which the product's package does not ship: run it from a source checkout after `make install`.",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
