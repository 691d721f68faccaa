"""Read and re-drive the dead-letter topic."""

from __future__ import annotations

import base64
from collections.abc import Iterator

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from bottleneck_qbo.kafka_config import kafka_python_kwargs
from bottleneck_qbo.settings import get_settings
from streams.deadletter import DeadLetter
from streams.engine.docref import DocRef
from streams.messages import DocumentTouch, Origin


def read_all(bootstrap: str, topic: str, *, timeout_ms: int = 1500) -> Iterator[tuple[int, int, DeadLetter]]:
    """Every dead letter currently on the topic: (partition, offset, letter). Reads without a group."""
    consumer = KafkaConsumer(**kafka_python_kwargs(get_settings(), bootstrap), enable_auto_commit=False, consumer_timeout_ms=timeout_ms)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not parts:
            return
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        if all(consumer.position(tp) >= ends[tp] for tp in parts):
            return
        for msg in consumer:
            yield msg.partition, msg.offset, DeadLetter.model_validate_json(msg.value)
            if all(consumer.position(tp) >= ends[tp] for tp in parts):
                return
    finally:
        consumer.close()


def redrive(bootstrap: str, documents_topic: str, letters: list[DeadLetter]) -> int:
    """Send letters back: a document that failed to sync goes back as a document touch; a record that
    failed to decode or route is re-produced to its original topic (after the fix is deployed)."""
    producer = KafkaProducer(**kafka_python_kwargs(get_settings(), bootstrap), acks="all")
    n = 0
    try:
        for letter in letters:
            if letter.stage == "sync" and letter.entity_type and letter.local_id:
                touch = DocumentTouch(
                    ref=DocRef(company_id=letter.company_id, entity_type=letter.entity_type, local_id=int(letter.local_id), forced=True),
                    origin=Origin(topic="deadletter-redrive"),
                )
                producer.send(documents_topic, key=touch.key(), value=touch.to_bytes())
            elif letter.original and letter.original.value is not None:
                o = letter.original
                decode = (lambda s: base64.b64decode(s)) if o.encoding == "base64" else (lambda s: s.encode())
                producer.send(o.topic, key=decode(o.key) if o.key is not None else None, value=decode(o.value), partition=o.partition)
            else:
                continue
            n += 1
        producer.flush()
    finally:
        producer.close()
    return n
