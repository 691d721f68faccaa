"""Per-realm throttles: requests per minute (sliding 60 s window), requests in flight, batch calls per minute.

Past any of them the API answers 429 with fault 3001. QBO does not document Retry-After (reference §10,
UNCONFIRMED), so none is sent unless ``SandboxConfig.retry_after_s`` is set. Each batch item is metered as
one request against the per-minute window (Intuit's batch tutorial, reference §7); the batch call itself
counts once against the batch window.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Limits:
    requests_per_minute: int
    concurrent: int
    batch_per_minute: int


@dataclass
class _Window:
    stamps: deque[float] = field(default_factory=deque)

    def count(self, now: float) -> int:
        while self.stamps and now - self.stamps[0] >= 60.0:
            self.stamps.popleft()
        return len(self.stamps)


@dataclass
class _RealmState:
    requests: _Window = field(default_factory=_Window)
    batches: _Window = field(default_factory=_Window)
    in_flight: int = 0


class Limiter:
    def __init__(self, defaults: Limits) -> None:
        self.defaults = defaults
        self.overrides: dict[str, Limits] = {}
        self._state: dict[str, _RealmState] = {}

    def limits(self, realm_id: str) -> Limits:
        return self.overrides.get(realm_id, self.defaults)

    def admit(self, realm_id: str, *, weight: int = 1, batch: bool = False) -> bool:
        """Take an in-flight slot and ``weight`` units of the per-minute budget; False = throttle."""
        lim, st, now = self.limits(realm_id), self._state.setdefault(realm_id, _RealmState()), time.monotonic()
        if st.in_flight >= lim.concurrent:
            return False
        if st.requests.count(now) + weight > lim.requests_per_minute:
            return False
        if batch and st.batches.count(now) + 1 > lim.batch_per_minute:
            return False
        st.in_flight += 1
        st.requests.stamps.extend([now] * weight)
        if batch:
            st.batches.stamps.append(now)
        return True

    def admit_batch(self, realm_id: str, extra_items: int) -> bool:
        """Charge a batch call against the batch window and its items beyond the first against the
        per-minute window (the call itself was admitted as one request); False = throttle."""
        lim, st, now = self.limits(realm_id), self._state.setdefault(realm_id, _RealmState()), time.monotonic()
        if st.batches.count(now) + 1 > lim.batch_per_minute:
            return False
        if st.requests.count(now) + extra_items > lim.requests_per_minute:
            return False
        st.batches.stamps.append(now)
        st.requests.stamps.extend([now] * extra_items)
        return True

    def release(self, realm_id: str) -> None:
        st = self._state.get(realm_id)
        if st is not None and st.in_flight > 0:
            st.in_flight -= 1

    def reset(self) -> None:
        self._state.clear()
        self.overrides.clear()
