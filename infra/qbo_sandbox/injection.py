"""Fault injection (``POST /__sandbox/faults``): per realm or for all realms.

- ``error_rate``: share of requests answered 500 or 503 (alternately) before any processing.
- ``timeout_rate``: share of requests held ``hang_s`` seconds (or until the client gives up) and then
  closed without an answer; nothing is processed. With ``timeout_mode: "close"`` the connection is closed
  at once instead (a reset rather than a hang).
- ``lose_response_rate``: share of *write* requests processed normally whose answer is then lost (the
  connection closes) -- what a dropped connection looks like, and what ``requestid`` exists for.
- ``fault_200_next``: the next n requests answer HTTP 200 whose body is a Fault (QBO does this at times,
  reference §5); nothing is processed.
- ``latency_ms``: added to every request.
- ``throttle_next`` / ``error_next`` / ``timeout_next`` / ``lose_response_next``: the next n requests,
  deterministically, take that fault (counted down before the rates are consulted).
- ``stale_synctoken_once_for``: entity names (``"Invoice"``) or ``"Invoice:12"``: the next update/delete/void
  of a match answers 5010 once, as if someone else had saved first.
- ``seed`` makes the rates reproducible.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, Field


class FaultSpec(BaseModel):
    realm: str | None = None
    error_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    lose_response_rate: float = Field(default=0.0, ge=0, le=1)
    latency_ms: int = Field(default=0, ge=0)
    hang_s: float | None = Field(default=None, gt=0)
    timeout_mode: Literal["hang", "close"] = "hang"
    throttle_next: int = Field(default=0, ge=0)
    error_next: int = Field(default=0, ge=0)
    timeout_next: int = Field(default=0, ge=0)
    lose_response_next: int = Field(default=0, ge=0)
    fault_200_next: int = Field(default=0, ge=0)
    stale_synctoken_once_for: list[str] = Field(default_factory=list)
    seed: int | None = None


class FaultPlan:
    def __init__(self, spec: FaultSpec, default_hang_s: float) -> None:
        self.spec = spec.model_copy(deep=True)
        self.hang_s = spec.hang_s or default_hang_s
        self.rng = random.Random(spec.seed)
        self._error_flip = False

    def take(self, name: str) -> bool:
        left = getattr(self.spec, name)
        if left > 0:
            setattr(self.spec, name, left - 1)
            return True
        return False

    def pre_request(self) -> str | None:
        """Which fault, if any, this request gets before processing: throttle | fault200 | error500 | error503 | timeout."""
        if self.take("throttle_next"):
            return "throttle"
        if self.take("fault_200_next"):
            return "fault200"
        if self.take("error_next") or (self.spec.error_rate and self.rng.random() < self.spec.error_rate):
            self._error_flip = not self._error_flip
            return "error500" if self._error_flip else "error503"
        if self.take("timeout_next") or (self.spec.timeout_rate and self.rng.random() < self.spec.timeout_rate):
            return "timeout"
        return None

    def lose_response(self) -> bool:
        return self.take("lose_response_next") or bool(self.spec.lose_response_rate and self.rng.random() < self.spec.lose_response_rate)

    def stale_once(self, entity: str, entity_id: str | None) -> bool:
        for key in (f"{entity}:{entity_id}", entity):
            if key in self.spec.stale_synctoken_once_for:
                self.spec.stale_synctoken_once_for.remove(key)
                return True
        return False


class Injector:
    def __init__(self, defaults: FaultSpec, default_hang_s: float) -> None:
        self.default_hang_s = default_hang_s
        self.defaults = defaults
        self.global_plan = FaultPlan(defaults, default_hang_s)
        self.per_realm: dict[str, FaultPlan] = {}

    def set(self, spec: FaultSpec) -> None:
        plan = FaultPlan(spec, self.default_hang_s)
        if spec.realm is None:
            self.global_plan = plan
        else:
            self.per_realm[spec.realm] = plan

    def clear(self, realm: str | None = None) -> None:
        if realm is None:
            self.global_plan = FaultPlan(FaultSpec(), self.default_hang_s)
            self.per_realm.clear()
        else:
            self.per_realm.pop(realm, None)

    def plan(self, realm_id: str) -> FaultPlan:
        return self.per_realm.get(realm_id, self.global_plan)
