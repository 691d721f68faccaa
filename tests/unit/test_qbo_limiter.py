"""The per-realm limiter never lets more than N requests into any window, caps concurrency, and a
paused realm does not hold up the others."""

import asyncio
import time

import pytest

from sinks.qbo.limiter import LimiterConfig, LimiterRegistry, RealmLimiter


def _max_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


async def test_rolling_window_is_never_exceeded() -> None:
    cfg = LimiterConfig(requests_per_window=3, max_concurrency=10, window_s=0.3, safety_margin_s=0.0)
    limiter = RealmLimiter(cfg)
    admitted: list[float] = []

    async def one() -> None:
        async with limiter.slot():
            admitted.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(10)))
    assert len(admitted) == 10
    assert _max_in_any_window(admitted, 0.3) <= 3


async def test_concurrency_is_capped() -> None:
    limiter = RealmLimiter(LimiterConfig(requests_per_window=1000, max_concurrency=2))
    peak = 0

    async def one() -> None:
        nonlocal peak
        async with limiter.slot():
            peak = max(peak, limiter.in_flight)
            await asyncio.sleep(0.01)

    await asyncio.gather(*(one() for _ in range(8)))
    assert peak == 2


async def test_batch_calls_have_their_own_window() -> None:
    cfg = LimiterConfig(requests_per_window=100, batch_per_window=2, window_s=0.3, safety_margin_s=0.0)
    limiter = RealmLimiter(cfg)
    batches: list[float] = []

    async def batch() -> None:
        async with limiter.slot(batch=True):
            batches.append(time.monotonic())

    await asyncio.gather(*(batch() for _ in range(5)))
    assert _max_in_any_window(batches, 0.3) <= 2
    # plain requests are not held back by the batch window
    async with limiter.slot():
        pass


async def test_pause_blocks_only_that_realm() -> None:
    registry = LimiterRegistry(LimiterConfig())
    throttled, other = registry.for_realm("A"), registry.for_realm("B")
    throttled.pause(30)
    entered_a = asyncio.Event()

    async def call_a() -> None:
        async with throttled.slot():
            entered_a.set()

    task_a = asyncio.create_task(call_a())
    async with other.slot():
        pass  # realm B goes straight through while A is paused
    await asyncio.sleep(0)
    assert not entered_a.is_set() and not task_a.done()
    task_a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task_a


async def test_pause_never_shortens_and_expires() -> None:
    limiter = RealmLimiter(LimiterConfig())
    limiter.pause(10)
    limiter.pause(1)
    assert limiter.paused_for > 5
    limiter2 = RealmLimiter(LimiterConfig())
    limiter2.pause(0.01)
    async with limiter2.slot():
        assert limiter2.paused_for == 0


async def test_registry_shares_one_limiter_per_realm_and_allows_overrides() -> None:
    registry = LimiterRegistry(LimiterConfig(requests_per_window=500))
    assert registry.for_realm("r1") is registry.for_realm("r1")
    assert registry.for_realm("r1") is not registry.for_realm("r2")
    registry.configure_realm("r2", LimiterConfig(requests_per_window=5))
    assert registry.for_realm("r2").config.requests_per_window == 5


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError):
        LimiterConfig(requests_per_window=0)
    with pytest.raises(ValueError):
        LimiterConfig(window_s=0)


async def test_batch_weight_counts_each_item_against_the_request_window() -> None:
    cfg = LimiterConfig(requests_per_window=5, batch_per_window=10, window_s=0.3, safety_margin_s=0.0)
    limiter = RealmLimiter(cfg)
    units: list[tuple[float, int]] = []

    async def call(weight: int, batch: bool) -> None:
        async with limiter.slot(batch=batch, weight=weight):
            # a call heavier than the budget (9 > 5) is admitted alone into an otherwise empty window
            units.append((time.monotonic(), min(weight, 5)))

    await asyncio.gather(call(3, True), call(3, True), call(1, False), call(9, True))
    assert sorted(w for _, w in units) == [1, 3, 3, 5]
    for start, _ in units:
        assert sum(w for t, w in units if start <= t < start + 0.3) <= 5


async def test_a_caller_that_will_not_wait_is_told_when_the_budget_frees_up() -> None:
    from sinks.qbo.limiter import RealmBusy

    limiter = RealmLimiter(LimiterConfig(requests_per_window=2, max_concurrency=10, window_s=30.0, safety_margin_s=0.0))
    for _ in range(2):
        async with limiter.slot(max_wait_s=1.0):
            pass
    with pytest.raises(RealmBusy) as busy:
        async with limiter.slot(max_wait_s=1.0):
            raise AssertionError("admitted past the budget")
    assert 29.0 < busy.value.wait_s <= 30.0
    # a caller willing to wait for a short gap is paced, not refused
    short = RealmLimiter(LimiterConfig(requests_per_window=1, max_concurrency=10, window_s=0.2, safety_margin_s=0.0))
    async with short.slot(max_wait_s=1.0):
        pass
    async with short.slot(max_wait_s=1.0):
        pass


async def test_a_batch_item_weighs_what_the_setting_says() -> None:
    from sinks.qbo.limiter import RealmBusy

    # 2 units per item: a batch of 3 items uses 6 of the 10 units; a second one does not fit the window
    limiter = RealmLimiter(
        LimiterConfig(requests_per_window=10, batch_per_window=40, batch_item_weight=2, window_s=30.0, safety_margin_s=0.0)
    )
    async with limiter.slot(batch=True, weight=3, max_wait_s=0.0):
        pass
    with pytest.raises(RealmBusy):
        async with limiter.slot(batch=True, weight=3, max_wait_s=0.0):
            raise AssertionError("admitted past the budget")
    async with limiter.slot(weight=4, max_wait_s=0.0):  # single calls are not weighted by it
        pass
    with pytest.raises(ValueError):
        LimiterConfig(batch_item_weight=0)
