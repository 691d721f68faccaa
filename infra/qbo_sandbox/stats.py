"""Per-realm counters the control API reports (``GET /__sandbox/stats?realm=``).

``writes`` counts write *requests* per entity and operation as received after authentication (POSTs to
entity endpoints and each batch item's create/update/delete/void; queries excluded), whether they succeeded,
faulted or were requestid replays. ``applied`` counts only writes that changed state.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


def _tree() -> defaultdict[str, Any]:
    return defaultdict(_tree)


@dataclass
class RealmStats:
    requests: defaultdict[str, Any] = field(default_factory=_tree)  # method -> resource -> status -> n
    requests_total: int = 0
    throttled: int = 0
    replays: int = 0
    writes: defaultdict[str, Any] = field(default_factory=_tree)  # entity -> operation -> n
    writes_total: int = 0
    applied: defaultdict[str, Any] = field(default_factory=_tree)
    applied_total: int = 0
    injected: dict[str, int] = field(
        default_factory=lambda: {"error": 0, "timeout": 0, "throttle": 0, "latency": 0, "lost_response": 0, "stale": 0}
    )
    webhooks: dict[str, int] = field(default_factory=lambda: {"events": 0, "attempts": 0, "delivered": 0, "failed": 0})
    oauth: dict[str, int] = field(default_factory=lambda: {"refresh": 0, "authorization_code": 0, "invalid_grant": 0})

    def request(self, method: str, resource: str, status: int) -> None:
        node = self.requests[method][resource]
        node[str(status)] = node.get(str(status), 0) + 1
        self.requests_total += 1
        if status == 429:
            self.throttled += 1

    def write(self, entity: str, operation: str) -> None:
        node = self.writes[entity]
        node[operation] = node.get(operation, 0) + 1
        self.writes_total += 1

    def applied_write(self, entity: str, operation: str) -> None:
        node = self.applied[entity]
        node[operation] = node.get(operation, 0) + 1
        self.applied_total += 1

    def to_json(self) -> dict[str, Any]:
        def plain(d: Any) -> Any:
            return {k: plain(v) for k, v in d.items()} if isinstance(d, dict) else d

        return {
            "requests": plain(self.requests),
            "requests_total": self.requests_total,
            "throttled": self.throttled,
            "replays": self.replays,
            "writes": plain(self.writes),
            "writes_total": self.writes_total,
            "applied": plain(self.applied),
            "applied_total": self.applied_total,
            "injected": dict(self.injected),
            "webhooks": dict(self.webhooks),
            "oauth": dict(self.oauth),
        }


class Stats:
    def __init__(self) -> None:
        self.realms: dict[str, RealmStats] = {}

    def realm(self, realm_id: str) -> RealmStats:
        return self.realms.setdefault(realm_id, RealmStats())

    def clear(self, realm_id: str | None = None) -> None:
        if realm_id is None:
            self.realms.clear()
        else:
            self.realms.pop(realm_id, None)
