"""The cross-process budget's local side (pure logic over a fake clock and ledger): one ledger query per
block, a block dies with its lifetime, a refusal is remembered, and an unavailable ledger leaves the
process its fair share."""

from __future__ import annotations

from sinks.qbo.budget_ledger import BudgetKind, Grant, LedgerUnavailable
from sinks.qbo.limiter import LimiterConfig, RealmBusy, RealmLimiter
from sinks.qbo.shared_budget import SharedBudgetConfig


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeLedger:
    """A ledger with ``free`` tokens left in the window; ``down`` makes it unavailable."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.down = False
        self.queries = 0

    async def reserve(self, realm_id: str, kind: BudgetKind, *, want: int, need: int, limit: int, window_s: float) -> Grant:
        self.queries += 1
        if self.down:
            raise LedgerUnavailable("down")
        if kind == "batch":
            return Grant(granted=want)
        if self.free < need:
            return Grant(granted=0, wait_s=30.0)
        granted = min(want, self.free)
        self.free -= granted
        return Grant(granted=granted)

    async def cool_down(self, realm_id: str, seconds: float) -> None:
        self.queries += 1


async def _admit(limiter: RealmLimiter, n: int) -> int:
    admitted = 0
    for _ in range(n):
        try:
            async with limiter.slot(max_wait_s=0):
                admitted += 1
        except RealmBusy:
            pass
    return admitted


def _limiter(ledger: FakeLedger, clock: Clock, **shared: float) -> RealmLimiter:
    return RealmLimiter(
        LimiterConfig(requests_per_window=100),
        clock,
        realm_id="r",
        ledger=ledger,
        shared=SharedBudgetConfig(block=10, **shared),  # type: ignore[arg-type]
    )


async def test_one_query_per_block_and_refusals_are_remembered() -> None:
    ledger, clock = FakeLedger(free=35), Clock()
    limiter = _limiter(ledger, clock)
    assert await _admit(limiter, 60) == 35  # what the other processes left, not the local 100
    assert ledger.queries == 5  # 10 + 10 + 10 + 5, then one refusal remembered for its 30 s


async def test_an_unspent_block_expires() -> None:
    ledger, clock = FakeLedger(free=100), Clock()
    limiter = _limiter(ledger, clock, block_ttl_s=2.0)
    assert await _admit(limiter, 3) == 3
    clock.now += 2.5
    assert await _admit(limiter, 1) == 1
    assert ledger.queries == 2  # the first block's 7 tokens were not spent after its life


async def test_ledger_down_means_fair_share() -> None:
    ledger, clock = FakeLedger(free=1000), Clock()
    ledger.down = True
    limiter = _limiter(ledger, clock, processes=4, retry_s=5.0)
    assert await _admit(limiter, 60) == 25  # 100 // 4
    assert ledger.queries == 1  # not asked again before retry_s
    ledger.down = False
    clock.now += 6
    assert await _admit(limiter, 10) == 10
