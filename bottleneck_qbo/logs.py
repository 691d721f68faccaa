"""The worker's logging: JSON lines (python-json-logger) off a terminal, readable text on one, and never a secret.

Faust's default formatter prints only the message, so the context passed with ``extra={...}`` was lost.
Here every record carries it: what the call passed in ``extra`` plus what ``log_context(...)`` set for
the current task (company, realm, entity, local id, QBO id, topic/partition/offset). ``Redact`` masks
secrets in the message, its arguments and the extras: registered values (settings' SecretStrs),
bearer tokens, ``token=``/``"access_token": ...`` pairs and DSN passwords.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from typing import IO, Any

from pydantic import SecretStr
from pythonjsonlogger.json import JsonFormatter

CONTEXT_FIELDS = ("company_id", "realm_id", "entity_type", "local_id", "qbo_id", "topic", "partition", "offset", "letter_id")
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("bq_log_context", default={})  # noqa: B039 (never mutated)

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "color_message"}
_SECRET_KEYS = re.compile(r"(?i)(token|secret|password|passwd|authorization|api[_-]?key|credential|signature)")
_MASK = "***"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + _MASK),
    (
        re.compile(
            r"""(?i)(['"]?\b(?:access_token|refresh_token|id_token|client_secret|password|verifier_token|authorization|code)['"]?\s*[:=]\s*['"]?)"""
            r"""([^'"&\s,;}]+)"""
        ),
        r"\1" + _MASK,
    ),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1" + _MASK + "@"),
]
_secrets: set[str] = set()


def register_secret(value: str | SecretStr | None) -> None:
    """A value that must never be printed (masked wherever it appears)."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if text and len(text) >= 4:  # shorter ones would mask ordinary words
        _secrets.add(text)


def redact(text: str) -> str:
    for s in sorted(_secrets, key=len, reverse=True):
        if s in text:
            text = text.replace(s, _MASK)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class log_context:
    """Attach fields (company_id=..., topic=...) to every record logged in this block (this task only).
    Reusable: the same instance may be entered again."""

    def __init__(self, **fields: Any) -> None:
        self.fields = {k: v for k, v in fields.items() if v is not None}
        self._tokens: list[contextvars.Token[dict[str, Any]]] = []

    def __enter__(self) -> None:
        self._tokens.append(_context.set({**_context.get(), **self.fields}))

    def __exit__(self, *exc: object) -> None:
        _context.reset(self._tokens.pop())


class Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for k, v in _context.get().items():
            if not hasattr(record, k):
                setattr(record, k, v)
        return True


class Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        for k, v in list(record.__dict__.items()):
            if k in _STANDARD:
                continue
            if _SECRET_KEYS.search(k) and v is not None:
                setattr(record, k, _MASK)
            elif isinstance(v, str | SecretStr):
                setattr(record, k, redact(v.get_secret_value() if isinstance(v, SecretStr) else v))
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class Json(JsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
            json_ensure_ascii=False,
        )

    def formatException(self, ei: Any) -> str:
        return redact(str(super().formatException(ei)))


class Text(logging.Formatter):
    """``time LEVEL logger: message  key=value ...`` (the context after the message)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def formatException(self, ei: Any) -> str:
        return redact(str(super().formatException(ei)))

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ctx = extras(record)
        if ctx:
            line += "  " + " ".join(f"{k}={v}" for k, v in ctx.items())
        return line


def use_json(fmt: str, stream: IO[str]) -> bool:
    if fmt == "json":
        return True
    if fmt == "text":
        return False
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


def logging_config(loglevel: str | int, fmt: str = "auto", stream: IO[str] | None = None) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the worker (``faust.Worker(logging_config=...)``)."""
    stream = stream or sys.stdout
    level = loglevel.upper() if isinstance(loglevel, str) else loglevel
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": Context}, "redact": {"()": Redact}},
        "formatters": {"main": {"()": Json if use_json(fmt, stream) else Text}},
        "handlers": {
            "main": {
                "class": "logging.StreamHandler",
                "stream": stream,
                "formatter": "main",
                "filters": ["context", "redact"],
                "level": level,
            }
        },
        "root": {"level": level, "handlers": ["main"]},
        # kafka-python (the status page's readers) logs every connection at INFO
        "loggers": {"kafka": {"level": "WARNING"}},
    }


def register_settings_secrets(settings: Any) -> None:
    """Every SecretStr setting that is not its published development default (masking "bottleneck", the
    local stack's password, would mask every logger name)."""
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and value != field.default:
            register_secret(value)
