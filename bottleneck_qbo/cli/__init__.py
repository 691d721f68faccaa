"""The ``bottleneck-qbo`` command: one CLI for the stack, the sandbox, the worker and the sync.

Each concern lives in its own module and registers a Typer sub-app here (one line each).
"""

from __future__ import annotations

import typer

from bottleneck_qbo.cli import demo as _demo
from bottleneck_qbo.cli import install as _install
from bottleneck_qbo.cli import sandbox as _sandbox
from bottleneck_qbo.cli import stack as _stack
from bottleneck_qbo.cli import sync as _sync

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.add_typer(_stack.app, name="stack", help="Start, stop and inspect the local stack.")
_sandbox.register(app)
_sync.register(app)
_demo.register(app)
_install.register(app)


def main() -> None:
    app()
