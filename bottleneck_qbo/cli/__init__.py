"""The ``bottleneck-qbo`` command: one CLI for the stack, the sandbox, the worker and the sync.

Each concern lives in its own module and registers a Typer sub-app here (one line each).
"""

from __future__ import annotations

import typer
from pydantic import ValidationError

from bottleneck_qbo.cli import demo as _demo
from bottleneck_qbo.cli import install as _install
from bottleneck_qbo.cli import reconcile as _reconcile
from bottleneck_qbo.cli import sandbox as _sandbox
from bottleneck_qbo.cli import stack as _stack
from bottleneck_qbo.cli import sync as _sync
from bottleneck_qbo.cli import tax as _tax
from bottleneck_qbo.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.add_typer(_stack.app, name="stack", help="Start, stop and inspect the local stack.")
_sandbox.register(app)
_sync.register(app)
_demo.register(app)
_reconcile.register(app)
_tax.register(app)
_install.register(app)


@app.callback()
def _settings_are_safe() -> None:
    # Every command (the worker too) validates the settings before it starts: an unsafe production
    # setting (Settings._refuse_unsafe_production) stops it with one sentence naming the setting.
    try:
        get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"error: {str(error['msg']).removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    app()
