"""One process's share of a realm's cross-process budget: a local block of tokens from the ledger.

``take(weight)`` spends from the block (no query); an empty or expired block is refilled with one
ledger round trip (one at a time per realm and kind, so concurrent callers do not each take a block).
When the ledger is unavailable the process limits itself to its fair share for ``retry_s`` and then
tries the ledger again (see ``sinks.qbo.budget_ledger``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sinks.qbo.budget_ledger import BudgetKind, BudgetLedger, LedgerUnavailable

__all__ = ["FairShare", "SharedBudget", "SharedBudgetConfig", "Verdict"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SharedBudgetConfig:
    block: int = 10  # tokens per round trip: the ledger costs one query per `block` requests
    block_ttl_s: float = 2.0  # a block not spent within this is dropped (bounds how stale a cool-down can be)
    processes: int = 2  # fair share while the ledger is unavailable: limit // processes
    retry_s: float = 5.0  # after the ledger failed, use the fair share this long before asking it again

    def __post_init__(self) -> None:
        if self.block < 1 or self.processes < 1 or self.block_ttl_s <= 0 or self.retry_s < 0:
            raise ValueError("block and processes must be at least 1; block_ttl_s positive")


@dataclass(frozen=True)
class Verdict:
    """0 wait: the tokens are taken. Else wait ``wait_s``; ``cooldown`` when it is a realm-wide pause."""

    wait_s: float = 0.0
    cooldown: bool = False


class FairShare(Protocol):
    """The local window used while the ledger is unavailable (the limiter's rolling window)."""

    limit: int

    def wait_time(self, weight: int = 1) -> float: ...


class SharedBudget:
    def __init__(
        self,
        ledger: BudgetLedger,
        realm_id: str,
        kind: BudgetKind,
        *,
        limit: int,
        window_s: float,
        config: SharedBudgetConfig,
        fallback: FairShare,
        clock: Callable[[], float],
    ) -> None:
        self._ledger = ledger
        self.realm_id = realm_id
        self.kind = kind
        self.limit = limit
        self.config = config
        self._clock = clock
        # The ledger counts a block for window + block lifetime, so a block spent at the end of its life
        # is still inside the span the ledger counts.
        self.ledger_window_s = window_s + config.block_ttl_s
        self._tokens = 0
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self._down_until = 0.0
        self._refused_until = 0.0  # the ledger said the budget frees up only then: do not ask before
        self._fallback = fallback  # limit // config.processes units per window

    def _spend(self, weight: int) -> bool:
        if self._tokens >= weight and self._clock() < self._expires:
            self._tokens -= weight
            return True
        return False

    def put_back(self, weight: int) -> None:
        """Return tokens taken for a call that did not go out after all (still within the block's life)."""
        if self._clock() < self._expires:
            self._tokens += weight

    async def take(self, weight: int = 1) -> Verdict:
        weight = min(max(1, weight), self.limit)
        if self._spend(weight):
            return Verdict()
        async with self._lock:
            if self._spend(weight):  # another caller refilled the block while we waited for the lock
                return Verdict()
            started = self._clock()
            if started < self._refused_until:
                return Verdict(self._refused_until - started)
            if started < self._down_until:
                return Verdict(self._fallback.wait_time(weight))
            # Tokens left of the old block are dropped, not merged: each block must be spent within its
            # own life (a heavy call that does not fit the rest takes a fresh block).
            need = weight
            try:
                grant = await self._ledger.reserve(
                    self.realm_id, self.kind, want=max(self.config.block, need), need=need, limit=self.limit, window_s=self.ledger_window_s
                )
            except LedgerUnavailable as exc:
                self._down_until = started + self.config.retry_s
                log.warning(
                    "qbo.budget.ledger_unavailable",
                    extra={"realm_id": self.realm_id, "error": str(exc), "fair_share": self._fallback.limit},
                )
                return Verdict(self._fallback.wait_time(weight))
            if grant.cooldown_s > 0:
                self._refused_until = started + grant.cooldown_s
                return Verdict(grant.cooldown_s, cooldown=True)
            if grant.granted <= 0:
                self._refused_until = started + max(grant.wait_s, 0.01)
                return Verdict(max(grant.wait_s, 0.01))
            # The block's life counts from before the round trip: the ledger stamped it no earlier.
            self._tokens = grant.granted - weight
            self._expires = started + self.config.block_ttl_s
            return Verdict()

    async def cool_down(self, seconds: float) -> None:
        """Tell every process the realm is paused (after a 429); best effort."""
        self._tokens = 0  # the block was taken before the 429: do not spend it into the pause
        try:
            await self._ledger.cool_down(self.realm_id, seconds)
        except LedgerUnavailable as exc:
            log.warning("qbo.budget.cool_down_not_shared", extra={"realm_id": self.realm_id, "error": str(exc)})
