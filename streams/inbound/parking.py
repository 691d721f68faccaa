"""Notifications waiting for a retry (a payment whose invoice is not yet in the id map, QBO down, 429).

Held in memory and re-published to ``qbo.webhooks`` by a timer when due, so the agent never sleeps and the
notifications behind a parked one keep flowing. What memory loses on a crash the CDC poll recovers: its
checkpoint is never moved past the oldest parked notification (``oldest_occurred_at``).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from streams.inbound.notifications import Notification


class Envelope(BaseModel):
    """A ``qbo.webhooks`` message: the notification and how many times it has been tried."""

    model_config = ConfigDict(frozen=True)

    notification: Notification
    attempt: int = 0
    last_reason: str | None = None


def retry_delay(attempt: int, base_s: float, max_s: float) -> float:
    """Exponential backoff: base, 2*base, 4*base, ... capped at ``max_s`` (``attempt`` counts from 0)."""
    factor: int = 2 ** min(attempt, 30)  # int ** int is typed Any
    return min(max_s, base_s * factor)


@dataclass(order=True)
class _Parked:
    due: float
    seq: int
    envelope: Envelope = field(compare=False)


class ParkingLot:
    """Due-time ordered parked envelopes. Times are plain floats (``time.monotonic()`` in the worker)."""

    def __init__(self) -> None:
        self._heap: list[_Parked] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def park(self, envelope: Envelope, due: float) -> None:
        heapq.heappush(self._heap, _Parked(due, next(self._seq), envelope))

    def pop_due(self, now: float) -> list[Envelope]:
        out: list[Envelope] = []
        while self._heap and self._heap[0].due <= now:
            out.append(heapq.heappop(self._heap).envelope)
        return out

    def oldest_occurred_at(self, realm_id: str | None = None) -> datetime | None:
        """When the oldest parked change (of ``realm_id``, or of any realm) happened."""
        times = [
            n.occurred_at
            for n in (p.envelope.notification for p in self._heap)
            if n.occurred_at and (realm_id is None or n.realm_id == realm_id)
        ]
        return min(times) if times else None
