"""The ``bottleneck-qbo`` command: one CLI for the stack, the sandbox, the worker and the sync.

Each concern lives in its own module and registers a Typer sub-app here (one line each).
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from pydantic import ValidationError

from bottleneck_qbo.cli import demo as _demo
from bottleneck_qbo.cli import drift as _drift
from bottleneck_qbo.cli import install as _install
from bottleneck_qbo.cli import ops as _ops
from bottleneck_qbo.cli import reconcile as _reconcile
from bottleneck_qbo.cli import sandbox as _sandbox
from bottleneck_qbo.cli import stack as _stack
from bottleneck_qbo.cli import sync as _sync
from bottleneck_qbo.cli import tax as _tax
from bottleneck_qbo.settings import get_settings

ENV_HELP = (
    "Settings come from BQ_* environment variables (or a .env file): BQ_PG_HOST, BQ_PG_PORT, BQ_PG_PASSWORD (Postgres); "
    "BQ_KAFKA_HOST, BQ_KAFKA_PORT (Kafka); BQ_CONNECT_PORT (Kafka Connect); BQ_QBO_ENVIRONMENT, BQ_QBO_BASE_URL, "
    "BQ_QBO_CLIENT_ID, BQ_QBO_CLIENT_SECRET (QuickBooks); BQ_WORKER_ID, BQ_WORKER_WEB_PORT, BQ_ADMIN_HOST, BQ_ADMIN_PORT (worker); "
    "BQ_LOG_FORMAT (json|text|auto). `bottleneck-qbo config show` lists every one with its value."
)

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__, epilog=ENV_HELP, pretty_exceptions_enable=False)
app.add_typer(_stack.app, name="stack", help="Start, stop and inspect the local stack.")
_sandbox.register(app)
_sync.register(app)
_ops.register(app)
_demo.register(app)
_reconcile.register(app)
_tax.register(app)
_install.register(app)
_drift.register(app)


_debug = False


def _version() -> str:
    try:
        return version("bottleneck-qbo")
    except PackageNotFoundError:
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"bottleneck-qbo {_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="print the version and exit")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks of failures")] = False,
) -> None:
    global _debug
    _debug = debug
    # Every command (the worker too) validates the settings before it starts: an unsafe production
    # setting (Settings._refuse_unsafe_production) stops it with one sentence naming the setting.
    try:
        get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"error: {str(error['msg']).removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None


def _one_line(exc: BaseException) -> str:
    """A failure as one line that says what to do."""
    from bottleneck_qbo.ops.deadletters import DeadLetterError
    from bottleneck_qbo.ops.reach import Unreachable

    if isinstance(exc, Unreachable | DeadLetterError):
        return str(exc)
    try:
        import psycopg

        if isinstance(exc, psycopg.OperationalError):
            return f"Postgres: {str(exc).strip().splitlines()[0]}; is the stack up? (bottleneck-qbo stack up)"
        if isinstance(exc, psycopg.errors.UndefinedTable):
            return f"Postgres: {str(exc).strip().splitlines()[0]}; apply the migrations (bottleneck-qbo stack migrate)"
    except ImportError:
        pass
    from kafka.errors import KafkaError

    if type(exc).__name__ in ("NoBrokersAvailable", "KafkaTimeoutError", "KafkaConnectionError"):
        return "cannot reach Kafka; is the stack up? (bottleneck-qbo stack up, or check BQ_KAFKA_HOST / BQ_KAFKA_PORT)"
    if isinstance(exc, KafkaError):
        return f"Kafka: {exc}; check `bottleneck-qbo stack status`"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first} (run again with --debug for the traceback)"


def main() -> None:
    # Typer may vendor click (typer._click): take the exception classes from where Typer's come from.
    click = sys.modules[typer.BadParameter.__module__]

    try:
        code = app(standalone_mode=False)
    except click.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(0)
    except click.ClickException as exc:
        # usage errors too: one line saying what to fix, exit code 1
        where = f" (see `{exc.ctx.command_path} --help`)" if isinstance(exc, click.UsageError) and exc.ctx else ""
        typer.secho(f"error: {exc.format_message()}{where}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if _debug or "--debug" in sys.argv[1:]:
            raise
        typer.secho(f"error: {_one_line(exc)}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
