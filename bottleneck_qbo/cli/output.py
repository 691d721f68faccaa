"""Plain-text output helpers of the CLI: aligned tables and relative times."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: int = 0) -> str:
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    pad = " " * indent
    lines = [pad + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, pad + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _span(seconds: float) -> str:
    s = abs(seconds)
    if s < 90:
        return f"{s:.0f}s"
    if s < 5400:
        return f"{s / 60:.0f}m"
    if s < 172800:
        return f"{s / 3600:.0f}h"
    return f"{s / 86400:.0f}d"


def ago(when: datetime | None, now: datetime) -> str:
    return "never" if when is None else f"{_span((now - when).total_seconds())} ago"


def until_text(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "unknown"
    left = (when - now).total_seconds()
    return f"in {_span(left)} ({when:%Y-%m-%d %H:%M} UTC)" if left > 0 else f"EXPIRED {_span(left)} ago"
