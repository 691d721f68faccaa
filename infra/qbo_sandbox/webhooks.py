"""Webhook notifications: signed like Intuit's, legacy or CloudEvents format, retried, delivered in order.

One notification per API request that changed notifying entities (all its changes together), queued and
sent by one background task in order (QBO holds later events until the first is acknowledged). A non-200
answer or a timeout is retried on ``webhook_retry_schedule_s``; after the last retry it is dropped and
counted as failed. The API response never waits for delivery.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp

from infra.qbo_sandbox import jsonio
from infra.qbo_sandbox.rules.common import Change
from infra.qbo_sandbox.schema import WEBHOOK_ENTITIES
from infra.qbo_sandbox.stats import Stats

log = logging.getLogger("qbo_sandbox.webhooks")

Format = Literal["legacy", "cloudevents"]
_CE_OPS = {"Create": "created", "Update": "updated", "Delete": "deleted", "Void": "voided", "Merge": "merged"}


def sign(verifier_token: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()).decode()


def _legacy_ts(meta_ts: str) -> str:
    # "2015-10-05T14:42:19-07:00" -> "2015-10-05T14:42:19-0700", as in Intuit's samples.
    return meta_ts[:-3] + meta_ts[-2:] if len(meta_ts) > 6 and meta_ts[-3] == ":" else meta_ts


def legacy_body(realm_id: str, changes: list[Change]) -> dict[str, Any]:
    return {
        "eventNotifications": [
            {
                "realmId": realm_id,
                "dataChangeEvent": {
                    "entities": [
                        {"name": c.entity, "id": c.entity_id, "operation": c.operation, "lastUpdated": _legacy_ts(c.last_updated)}
                        for c in changes
                    ]
                },
            }
        ]
    }


def cloudevents_body(realm_id: str, changes: list[Change]) -> list[dict[str, Any]]:
    out = []
    for c in changes:
        when = datetime.fromisoformat(c.last_updated).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        out.append(
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "intuit.sandbox",
                "type": f"qbo.{c.entity.lower()}.{_CE_OPS.get(c.operation, c.operation.lower())}.v1",
                "datacontenttype": "application/json",
                "time": when,
                "intuitentityid": c.entity_id,
                "intuitaccountid": realm_id,
                "data": {},
            }
        )
    return out


@dataclass
class Target:
    url: str | None
    verifier_token: str
    format: Format


@dataclass
class Delivery:
    realm_id: str
    url: str
    body: str
    signature: str
    attempts: list[dict[str, Any]] = field(default_factory=list)
    state: str = "pending"  # pending | delivered | failed

    def to_json(self) -> dict[str, Any]:
        return {
            "realm_id": self.realm_id,
            "url": self.url,
            "body": self.body,
            "signature": self.signature,
            "attempts": self.attempts,
            "state": self.state,
        }


class Webhooks:
    def __init__(self, default: Target, retry_schedule_s: list[float], timeout_s: float, stats: Stats) -> None:
        self.default = default
        self.per_realm: dict[str, Target] = {}
        self.retry_schedule_s = list(retry_schedule_s)
        self.timeout_s = timeout_s
        self.stats = stats
        self.log: deque[Delivery] = deque(maxlen=500)
        self._queue: asyncio.Queue[Delivery] | None = None
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def target(self, realm_id: str) -> Target:
        return self.per_realm.get(realm_id, self.default)

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(), name="qbo-sandbox-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    def notify(self, realm_id: str, changes: list[Change]) -> None:
        changes = [c for c in changes if c.entity in WEBHOOK_ENTITIES]
        target = self.target(realm_id)
        if not changes or not target.url or self._queue is None:
            return
        payload: Any = legacy_body(realm_id, changes) if target.format == "legacy" else cloudevents_body(realm_id, changes)
        body = jsonio.dumps(payload)
        delivery = Delivery(realm_id, target.url, body, sign(target.verifier_token, body.encode()))
        self.stats.realm(realm_id).webhooks["events"] += len(changes)
        self.log.append(delivery)
        self._queue.put_nowait(delivery)

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            delivery = await self._queue.get()
            try:
                await self._deliver(delivery)
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken receiver must never stop later deliveries
                log.exception("webhook delivery crashed")
                delivery.state = "failed"

    async def _deliver(self, d: Delivery) -> None:
        assert self._session is not None
        counters = self.stats.realm(d.realm_id).webhooks
        delays = [0.0, *self.retry_schedule_s]
        for delay in delays:
            if delay:
                await asyncio.sleep(delay)
            counters["attempts"] += 1
            headers = {
                "intuit-signature": d.signature,
                "intuit-t-id": str(uuid.uuid4()),
                "intuit-created-time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "intuit-notification-schema-version": "0.1",
                "content-type": "application/json; charset=utf-8",
                "user-agent": "intuit_notification_server/0.1",
            }
            try:
                async with self._session.post(
                    d.url, data=d.body.encode(), headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout_s)
                ) as resp:
                    status = resp.status
                    await resp.read()
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                d.attempts.append({"status": None, "error": type(exc).__name__})
                continue
            d.attempts.append({"status": status})
            if status == 200:
                d.state = "delivered"
                counters["delivered"] += 1
                return
        d.state = "failed"
        counters["failed"] += 1
        log.warning("webhook for realm %s to %s dropped after %d attempts: %s", d.realm_id, d.url, len(d.attempts), d.attempts[-1])
