"""Connect stopped while Bottleneck keeps writing, then started again: every change still arrives."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest

from bottleneck_qbo.settings import Settings
from connectors.debezium import ChangeEvent, decode
from infra import stack as stack_api
from infra.stack import Connect, StackStatus
from tests.fixtures.stack import ConsumerFactory, consume

pytestmark = pytest.mark.integration


class _Writer(threading.Thread):
    """Inserts customers, one transaction each, until told to stop."""

    def __init__(self, dsn: str, company: int) -> None:
        super().__init__(daemon=True)
        self.dsn, self.company = dsn, company
        self.ids: list[int] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                while not self.stop.is_set():
                    n = len(self.ids)
                    self.ids.append(
                        conn.execute(
                            "insert into customers (company_id, name) values (%s, %s) returning id",
                            (self.company, f"restart-{n}"),
                        ).fetchone()[0]
                    )
                    time.sleep(0.01)
        except BaseException as exc:
            self.error = exc

    def wait_for(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.ids) < count:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, f"writer stalled at {len(self.ids)} rows"
            time.sleep(0.02)


def test_connect_restart_loses_nothing(
    stack: StackStatus,
    stack_settings: Settings,
    pg_conn: psycopg.Connection,
    kafka_consumer_factory: ConsumerFactory,
) -> None:
    consumer = kafka_consumer_factory(["bottleneck.public.customers"], from_beginning=False)
    company = pg_conn.execute("insert into companies (name) values (%s) returning id", (f"restart-{uuid.uuid4().hex[:8]}",)).fetchone()[0]
    writer = _Writer(stack.postgres_dsn, company)
    writer.start()
    try:
        writer.wait_for(20)
        assert Connect(stack_settings).stop(), "Connect was not running"
        written_while_down_from = len(writer.ids)
        writer.wait_for(written_while_down_from + 40)
        written_while_down_to = len(writer.ids)
        restarted = stack_api.up(stack_settings)
        assert restarted.components["connect"] == "running"
        writer.wait_for(len(writer.ids) + 20)
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    assert writer.error is None
    assert written_while_down_to - written_while_down_from >= 40
    expected = set(writer.ids)

    def seen(recs: list) -> set[int]:
        out = set()
        for r in recs:
            d = decode(r.topic, r.partition, r.offset, r.key, r.value)
            if isinstance(d, ChangeEvent) and d.op == "c" and d.after and d.after["company_id"] == company:
                out.add(d.after["id"])
        return out

    records = consume(consumer, lambda recs: expected <= seen(recs), timeout=120)
    assert seen(records) == expected
