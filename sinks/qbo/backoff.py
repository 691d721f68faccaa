"""The one backoff policy: exponential delays, capped, optionally jittered.

Used by the QBO client (retries inside a call), the sync engine (parked documents: transient failures
and realm-wide configuration problems) and the inbound flow (parked notifications, CDC polls of a failing
realm). ``attempt`` counts from 0: the first retry waits ``base_s``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base_s: float
    max_s: float
    # 2**exponent stops growing here (keeps the float finite for absurd attempt counts)
    max_exponent: int = 30
    # Half fixed, half random: callers retrying the same realm at once spread out.
    jitter: bool = False

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based): base, 2*base, 4*base, ... <= max."""
        delay = min(self.max_s, self.base_s * 2.0 ** min(max(attempt, 0), self.max_exponent))
        return delay / 2 + random.uniform(0, delay / 2) if self.jitter else delay
