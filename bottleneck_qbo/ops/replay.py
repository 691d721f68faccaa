"""Replay: move a consumer group's committed offsets back (to the beginning or to a time).

The worker must be stopped (Kafka refuses to move offsets of a group with live members). Replaying is
safe by construction: the engine re-reads each document and skips it when the payload hash is unchanged,
so a replay against an up-to-date QBO makes zero writes.
"""

from __future__ import annotations

import re
from datetime import datetime

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from bottleneck_qbo.ops import reach
from bottleneck_qbo.settings import Settings


class ReplayError(RuntimeError):
    pass


def matching_topics(consumer: KafkaConsumer, patterns: list[str]) -> list[str]:
    topics = sorted(consumer.topics())
    regexes = [re.compile(p) for p in patterns]
    return [t for t in topics if any(r.fullmatch(t) for r in regexes)]


def reset_offsets(
    settings: Settings, group_id: str, topic_patterns: list[str], *, to_time: datetime | None = None, dry_run: bool = False
) -> dict[str, tuple[int | None, int]]:
    """Commit new offsets for ``group_id`` on every partition of the matching topics.

    ``to_time=None`` means the beginning; otherwise the first offset at or after that time (the end
    when nothing is that new). Returns {"topic[partition]": (committed before, new offset)}; with
    ``dry_run`` nothing is committed.
    """
    consumer = reach.kafka_consumer(settings, group_id=group_id, enable_auto_commit=False)
    try:
        topics = matching_topics(consumer, topic_patterns)
        if not topics:
            raise ReplayError(f"no topic matches {topic_patterns}; list them with `bottleneck-qbo status` or kafka-topics")
        parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(parts)
        if to_time is None:
            targets = consumer.beginning_offsets(parts)
        else:
            ts = int(to_time.timestamp() * 1000)
            found = consumer.offsets_for_times(dict.fromkeys(parts, ts))
            ends = consumer.end_offsets(parts)
            targets = {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in parts}
        before = {tp: consumer.committed(tp) for tp in parts}
        if not dry_run:
            try:
                consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in targets.items()})
            except Exception as exc:  # kafka-python raises CommitFailedError / UnknownMemberId variants
                raise ReplayError(
                    f"could not move offsets of group {group_id!r} ({exc}); stop the worker first (bottleneck-qbo stack down --only worker)"
                ) from exc
        return {f"{tp.topic}[{tp.partition}]": (before[tp], off) for tp, off in sorted(targets.items())}
    finally:
        consumer.close()
