"""Per-realm client-side limits, shared by every caller in the process.

QBO allows ~500 requests/minute and 10 concurrent requests per realm, and 40 batch calls/minute.
Each realm gets a rolling-window request counter, a concurrency semaphore, and a batch window.
A rolling window (not a token bucket with burst) because a bucket of capacity N refilling at N/min can
let 2N requests into one minute, which is exactly what QBO's per-minute counter punishes.
On 429 only that realm is paused; other realms keep going.

Across processes (several workers): the registry may carry a shared ledger (``attach_ledger``); each
realm's windows are then also charged to blocks of the realm's cross-process budget
(``sinks.qbo.shared_budget``), so the sum over processes stays within QBO's limits, and a 429 pauses
the realm in every process. The local windows stay the fast path: most calls make no query.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from sinks.qbo.budget_ledger import BudgetLedger
from sinks.qbo.shared_budget import SharedBudget, SharedBudgetConfig

__all__ = ["LimiterConfig", "LimiterRegistry", "RealmLimiter", "shared_limiter_registry"]


@dataclass(frozen=True)
class LimiterConfig:
    requests_per_window: int = 500
    max_concurrency: int = 10
    batch_per_window: int = 40
    # Units of the per-minute request budget one batch *item* uses (QBO, and the sandbox's limits.py,
    # meter each item of a batch call as one request).
    batch_item_weight: int = 1
    window_s: float = 60.0
    # Client and server clocks/arrival times differ slightly; keep a margin so the server never counts N+1.
    safety_margin_s: float = 0.25

    def __post_init__(self) -> None:
        if self.requests_per_window < 1 or self.max_concurrency < 1 or self.batch_per_window < 1 or self.batch_item_weight < 1:
            raise ValueError("limits must be at least 1")
        if self.window_s <= 0:
            raise ValueError("window_s must be positive")


class _RollingWindow:
    def __init__(self, limit: int, window_s: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._sent: deque[float] = deque()

    def wait_time(self, weight: int = 1) -> float:
        """0 when ``weight`` units may start now (and records them), else seconds until enough free up."""
        weight = min(max(1, weight), self.limit)  # a call heavier than the whole budget waits for an empty window
        now = self._clock()
        while self._sent and self._sent[0] <= now - self.window_s:
            self._sent.popleft()
        if len(self._sent) + weight <= self.limit:
            self._sent.extend([now] * weight)
            return 0.0
        return self._sent[len(self._sent) + weight - self.limit - 1] + self.window_s - now

    def give_back(self, weight: int = 1) -> None:
        """Forget the last ``weight`` units recorded (a call admitted here that did not go out after all)."""
        for _ in range(min(max(1, weight), self.limit, len(self._sent))):
            self._sent.pop()

    def in_window(self) -> int:
        now = self._clock()
        return sum(1 for t in self._sent if t > now - self.window_s)


class RealmBusy(Exception):
    """The realm's budget (or a pause after a 429) frees up only in ``wait_s`` seconds."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"realm budget frees up in {wait_s:.1f} s")
        self.wait_s = wait_s


class RealmLimiter:
    """Limits for one realm. Use ``async with limiter.slot(batch=False): ...`` around each HTTP call."""

    def __init__(
        self,
        config: LimiterConfig,
        clock: Callable[[], float] = time.monotonic,
        *,
        realm_id: str = "",
        ledger: BudgetLedger | None = None,
        shared: SharedBudgetConfig | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        window = config.window_s + config.safety_margin_s
        self._requests = _RollingWindow(config.requests_per_window, window, clock)
        self._batches = _RollingWindow(config.batch_per_window, window, clock)
        self._shared_requests: SharedBudget | None = None
        self._shared_batches: SharedBudget | None = None
        if ledger is not None:
            share = shared or SharedBudgetConfig()

            def budget(kind: Literal["request", "batch"], limit: int) -> SharedBudget:
                fallback = _RollingWindow(max(1, limit // share.processes), window, clock)
                return SharedBudget(ledger, realm_id, kind, limit=limit, window_s=window, config=share, fallback=fallback, clock=clock)

            self._shared_requests = budget("request", config.requests_per_window)
            self._shared_batches = budget("batch", config.batch_per_window)
        self._semaphore = asyncio.Semaphore(config.max_concurrency)
        self._paused_until = 0.0
        self.in_flight = 0

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    def pause(self, seconds: float) -> None:
        """Stop this realm's new requests for ``seconds`` (after a 429); never shortens an existing pause."""
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))

    async def rate_limited(self, seconds: float) -> None:
        """QBO answered 429: pause here and, with a shared ledger, in every process."""
        self.pause(seconds)
        if self._shared_requests is not None:
            await self._shared_requests.cool_down(seconds)

    async def _shared_wait(self, batch: bool, weight: int) -> float:
        """0 when the cross-process budget admits the call (tokens taken), else seconds to wait."""
        if self._shared_requests is None or self._shared_batches is None:
            return 0.0
        if batch:
            verdict = await self._shared_batches.take(1)
            if verdict.wait_s > 0:
                if verdict.cooldown:
                    self.pause(verdict.wait_s)
                return verdict.wait_s
        verdict = await self._shared_requests.take(weight)
        if verdict.wait_s > 0:
            if batch:
                self._shared_batches.put_back(1)
            if verdict.cooldown:
                self.pause(verdict.wait_s)
            return verdict.wait_s
        return 0.0

    async def _admit(self, batch: bool, weight: int, max_wait_s: float | None) -> None:
        def wait_for(seconds: float) -> float:
            if max_wait_s is not None and seconds > max_wait_s:
                raise RealmBusy(seconds)
            return seconds

        while True:
            if (paused := self.paused_for) > 0:
                await asyncio.sleep(wait_for(paused))
                continue
            # Check the batch window first so a refused batch does not consume a request slot.
            if batch and (wait := self._batches.wait_time()) > 0:
                await asyncio.sleep(wait_for(wait))
                continue
            if (wait := self._requests.wait_time(weight)) > 0:
                if batch:
                    self._batches.give_back()  # give the batch slot back; we retry both together
                await asyncio.sleep(wait_for(wait))
                continue
            # The cross-process budget last: a call the local windows refuse costs no ledger query.
            if (wait := await self._shared_wait(batch, weight)) > 0:
                self._requests.give_back(weight)
                if batch:
                    self._batches.give_back()
                await asyncio.sleep(wait_for(wait))
                continue
            return

    @asynccontextmanager
    async def slot(self, *, batch: bool = False, weight: int = 1, max_wait_s: float | None = None) -> AsyncIterator[None]:
        """``weight``: units of the per-minute budget this call uses (QBO meters each batch item as a request).
        ``max_wait_s``: raise ``RealmBusy`` instead of waiting longer than this for the realm's budget (a
        caller that parks work rather than sleeping on it; None waits as long as needed)."""
        if batch:
            weight *= self.config.batch_item_weight  # ``weight`` is the batch's item count
        async with self._semaphore:
            await self._admit(batch, weight, max_wait_s)
            self.in_flight += 1
            try:
                yield
            finally:
                self.in_flight -= 1


class LimiterRegistry:
    """One RealmLimiter per realm. asyncio primitives belong to one event loop, so limiters are kept per loop."""

    def __init__(self, config: LimiterConfig | None = None) -> None:
        self.config = config or LimiterConfig()
        self._overrides: dict[str, LimiterConfig] = {}
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, RealmLimiter]] = weakref.WeakKeyDictionary()
        # A ledger holds a connection pool, which belongs to one event loop too.
        self._ledgers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[BudgetLedger, SharedBudgetConfig]] = (
            weakref.WeakKeyDictionary()
        )

    def attach_ledger(self, ledger: BudgetLedger, shared: SharedBudgetConfig | None = None) -> None:
        """Charge every realm's calls made in the running loop to the cross-process ledger as well."""
        loop = asyncio.get_running_loop()
        self._ledgers[loop] = (ledger, shared or SharedBudgetConfig())
        self._by_loop.pop(loop, None)  # limiters built before would not see it

    def configure_realm(self, realm_id: str, config: LimiterConfig) -> None:
        """Give one realm its own limits (applies to limiters created afterwards)."""
        self._overrides[realm_id] = config
        for limiters in self._by_loop.values():
            limiters.pop(realm_id, None)

    def usage(self) -> dict[str, tuple[int, int]]:
        """Realm -> (requests in the current window, the window's limit), for the running loop's limiters
        (the worker's /metrics: QBO budget used per realm)."""
        limiters = self._by_loop.get(asyncio.get_running_loop(), {})
        return {realm: (lim._requests.in_window(), lim.config.requests_per_window) for realm, lim in limiters.items()}

    def for_realm(self, realm_id: str) -> RealmLimiter:
        loop = asyncio.get_running_loop()
        limiters = self._by_loop.setdefault(loop, {})
        limiter = limiters.get(realm_id)
        if limiter is None:
            ledger, shared = self._ledgers.get(loop) or (None, None)
            limiter = limiters[realm_id] = RealmLimiter(
                self._overrides.get(realm_id, self.config), realm_id=realm_id, ledger=ledger, shared=shared
            )
        return limiter


_shared: dict[LimiterConfig, LimiterRegistry] = {}


def shared_limiter_registry(config: LimiterConfig) -> LimiterRegistry:
    """The process-wide registry for these limits: every QboClient built with the same limits shares it."""
    registry = _shared.get(config)
    if registry is None:
        registry = _shared[config] = LimiterRegistry(config)
    return registry
