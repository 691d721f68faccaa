"""The replay baseline: a bare Faust agent on the same CDC topics doing what routing needs and no more
(decode the Debezium record, drop drafts), no Postgres, no QBO, no producing. Run as a subprocess by
``bench`` (``python -m bottleneck_qbo.bench.bare_faust BOOTSTRAP TOTAL OUT WEB_PORT DATADIR``); it writes
the events/s of its first ``TOTAL`` events to ``OUT`` and the bench then stops it."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import faust

from bottleneck_qbo.settings import get_settings
from connectors.debezium import ChangeEvent, DecodeError, decode
from streams.topics import existing_cdc_topics


def main() -> None:
    bootstrap, total, out, web_port, datadir = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    app = faust.App(
        f"bench-bare-faust-{uuid.uuid4().hex[:8]}",  # a group of its own, from offset zero
        broker=f"kafka://{bootstrap}",
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        store="memory://",
        web_port=web_port,
        web_host="127.0.0.1",
        web_bind="127.0.0.1",
        datadir=datadir,
    )
    # the worker's own subscription (every CDC topic that exists), not a pattern
    topic = app.topic(*existing_cdc_topics(get_settings()), key_type=bytes, value_type=bytes)
    state: dict[str, Any] = {"n": 0, "t0": None, "drafts": 0}

    @app.agent(topic)
    async def bare(stream: Any) -> None:
        async for event in stream.events():
            if state["t0"] is None:
                state["t0"] = time.perf_counter()
            msg = event.message
            try:
                change = decode(msg.topic, msg.partition, msg.offset, msg.key, msg.value)
            except DecodeError:
                change = None
            if isinstance(change, ChangeEvent) and (change.after or {}).get("status") == "draft":
                state["drafts"] += 1
            state["n"] += 1
            if state["n"] == total:
                elapsed = time.perf_counter() - state["t0"]
                out.write_text(json.dumps({"events": total, "seconds": elapsed, "events_per_s": total / elapsed}))

    sys.argv = [sys.argv[0], "worker", "-l", "warn"]  # what Faust's command line parses
    app.main()


if __name__ == "__main__":
    main()
