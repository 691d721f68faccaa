"""In-process request counters of the QBO client (exported by the worker as Prometheus text)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["QboStats"]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class QboStats:
    # (realm, entity, status) -> count; status is the HTTP status or "error" for transport failures.
    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    rate_limited: Counter[str] = field(default_factory=Counter)  # realm -> 429s received
    retries: Counter[str] = field(default_factory=Counter)  # realm -> resent requests
    token_refreshes: Counter[str] = field(default_factory=Counter)  # realm -> refreshes on 401

    def record(self, realm_id: str, entity: str, status: int | str) -> None:
        self.requests[(realm_id, entity, str(status))] += 1
        if str(status) == "429":
            self.rate_limited[realm_id] += 1

    def total(self, *, realm_id: str | None = None, status: int | str | None = None) -> int:
        return sum(
            n
            for (realm, _entity, st), n in self.requests.items()
            if (realm_id is None or realm == realm_id) and (status is None or st == str(status))
        )

    def prometheus_text(self) -> str:
        lines = [
            "# HELP qbo_requests_total HTTP requests sent to QBO",
            "# TYPE qbo_requests_total counter",
        ]
        for (realm, entity, status), n in sorted(self.requests.items()):
            lines.append(f'qbo_requests_total{{realm="{_label(realm)}",entity="{_label(entity)}",status="{_label(status)}"}} {n}')
        for name, help_text, counter in (
            ("qbo_rate_limited_total", "429 responses from QBO", self.rate_limited),
            ("qbo_retries_total", "requests resent after a transient failure or 429", self.retries),
            ("qbo_token_refreshes_total", "OAuth refreshes after a 401", self.token_refreshes),
        ):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
            lines += [f'{name}{{realm="{_label(realm)}"}} {n}' for realm, n in sorted(counter.items())]
        return "\n".join(lines) + "\n"
