"""Dead letters as a person sees them: listed with a stable id, shown, re-driven once, dropped.

A letter's id is ``<partition>-<offset>`` on the dead-letter topic (stable: Kafka never renumbers).
What was done to a letter (re-driven, dropped) is kept in ``qbo_sync.deadletter_actions``; the topic
itself is never rewritten. A letter whose bytes are not a valid ``DeadLetter`` is listed as
``malformed`` with its raw text, never a crash.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from bottleneck_qbo.ops import reach
from bottleneck_qbo.settings import Settings
from streams.deadletter import DeadLetter
from streams.engine.docref import DocRef
from streams.messages import DocumentTouch, Origin

_ID = re.compile(r"^(\d+)-(\d+)$")
REDRIVE_ORIGIN = "deadletter-redrive"


class DeadLetterError(RuntimeError):
    pass


@dataclass
class Letter:
    id: str
    partition: int
    offset: int
    timestamp: datetime
    letter: DeadLetter | None  # None: malformed (see ``problem`` and ``raw``)
    raw: str = ""
    problem: str | None = None
    action: str | None = None  # retried | dropped (qbo_sync.deadletter_actions)
    action_at: datetime | None = None
    synced_since: bool = False  # its document has synced after the letter was written

    @property
    def state(self) -> str:
        if self.letter is None:
            return "malformed" if self.action is None else self.action
        if self.synced_since:
            return "synced"
        return self.action or "open"

    @property
    def at(self) -> datetime:
        return self.letter.at if self.letter is not None else self.timestamp

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "partition": self.partition, "offset": self.offset, "state": self.state}
        out["at"] = self.at.isoformat()
        if self.letter is not None:
            out.update(self.letter.model_dump(mode="json", exclude={"at"}))
        else:
            out.update({"stage": None, "failure_type": "malformed", "reason": self.problem, "raw": self.raw[:2000]})
        out["action"] = self.action
        out["action_at"] = self.action_at.isoformat() if self.action_at else None
        return out

    def summary(self) -> str:
        if self.letter is None:
            return f"malformed letter: {self.problem}"
        d = self.letter
        what = f"{d.entity_type} {d.local_id}" if d.entity_type else (d.original.topic if d.original else "?")
        company = f"company {d.company_id} " if d.company_id is not None else (f"realm {d.realm_id} " if d.realm_id else "")
        reason = d.reason.removeprefix(f"{what}: ")  # mappers already name the document
        return f"{d.stage}/{d.failure_type} {company}{what}: {reason}"


def letter_id(partition: int, offset: int) -> str:
    return f"{partition}-{offset}"


def parse_id(text: str) -> tuple[int, int]:
    m = _ID.match(text.strip())
    if not m:
        raise DeadLetterError(f"{text!r} is not a dead-letter id; ids look like 2-17 (partition-offset), see `deadletters list`")
    return int(m.group(1)), int(m.group(2))


def _decode(partition: int, offset: int, ts_ms: int, value: bytes | None) -> Letter:
    ts = datetime.fromtimestamp(ts_ms / 1000, UTC)
    raw = value.decode(errors="replace") if value is not None else ""
    if value is None:
        return Letter(letter_id(partition, offset), partition, offset, ts, None, raw, "empty record (no value)")
    try:
        return Letter(letter_id(partition, offset), partition, offset, ts, DeadLetter.model_validate_json(value), raw)
    except (ValidationError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        return Letter(letter_id(partition, offset), partition, offset, ts, None, raw, f"not a dead letter ({first})")


@dataclass
class LetterReader:
    """Reads the dead-letter topic incrementally: the first call reads it all, later ones only what is new
    (the status page polls every few seconds)."""

    settings: Settings
    letters: dict[str, Letter] = field(default_factory=dict)
    _next: dict[int, int] = field(default_factory=dict)

    def refresh(self) -> list[Letter]:
        s = self.settings
        for rec in reach.read_topic(
            s, s.deadletter_topic, lambda tp, begin, end: self._next.get(tp.partition, 0), consumer_timeout_ms=1000
        ):
            letter = _decode(rec.partition, rec.offset, rec.timestamp, rec.value)
            self.letters[letter.id] = letter
            self._next[rec.partition] = rec.offset + 1
        return sorted(self.letters.values(), key=lambda lt: (lt.timestamp, lt.partition, lt.offset))


def annotate(settings: Settings, letters: Sequence[Letter]) -> None:
    """Fill in what was done to each letter and whether its document has synced since."""
    if not letters:
        return
    with reach.pg(settings) as conn:
        actions = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "select letter_id, action, acted_at from qbo_sync.deadletter_actions where topic = %s", (settings.deadletter_topic,)
            )
        }
        docs = [_doc_key(lt) for lt in letters if _is_doc(lt)]
        synced: dict[tuple[int, str, int], datetime] = {}
        if docs:
            rows = conn.execute(
                "select m.company_id, m.entity_type, m.local_id, m.synced_at from qbo_sync.id_map m"
                " join unnest(%s::bigint[], %s::text[], %s::bigint[]) as d(c, e, i)"
                " on (m.company_id, m.entity_type, m.local_id) = (d.c, d.e, d.i)"
                " where m.qbo_id is not null and m.synced_at is not null"
                " and not exists (select 1 from qbo_sync.sync_parking p where (p.entity_type, p.local_id) = (m.entity_type, m.local_id))",
                ([d[0] for d in docs], [d[1] for d in docs], [d[2] for d in docs]),
            )
            synced = {(r[0], r[1], r[2]): r[3] for r in rows}
    for lt in letters:
        lt.action, lt.action_at = actions.get(lt.id, (None, None))
        if _is_doc(lt):
            at = synced.get(_doc_key(lt))
            lt.synced_since = at is not None and lt.letter is not None and at > lt.letter.at


def _doc_key(lt: Letter) -> tuple[int, str, int]:
    d = lt.letter
    assert d is not None and d.company_id is not None and d.entity_type and d.local_id
    return d.company_id, d.entity_type, int(d.local_id)


def _is_doc(lt: Letter) -> bool:
    d = lt.letter
    return d is not None and d.company_id is not None and bool(d.entity_type) and bool(d.local_id) and str(d.local_id).isdigit()


def read_letters(settings: Settings) -> list[Letter]:
    letters = LetterReader(settings).refresh()
    annotate(settings, letters)
    return letters


def select(
    letters: Iterable[Letter],
    *,
    company: int | None = None,
    entity: str | None = None,
    stage: str | None = None,
    since: datetime | None = None,
    states: Iterable[str] | None = None,
) -> list[Letter]:
    wanted = set(states) if states is not None else None
    out = []
    for lt in letters:
        d = lt.letter
        if company is not None and (d is None or d.company_id != company):
            continue
        if entity is not None and (d is None or d.entity_type != entity):
            continue
        if stage is not None and (d is None or d.stage != stage):
            continue
        if since is not None and lt.at < since:
            continue
        if wanted is not None and lt.state not in wanted:
            continue
        out.append(lt)
    return out


def find(letters: Sequence[Letter], ids: Iterable[str]) -> list[Letter]:
    by_id = {lt.id: lt for lt in letters}
    out: list[Letter] = []
    missing: list[str] = []
    for text in ids:
        p, o = parse_id(text)
        lt = by_id.get(letter_id(p, o))
        if lt is None:
            missing.append(text)
        else:
            out.append(lt)
    if missing:
        raise DeadLetterError(f"no dead letter with id {', '.join(missing)}; see `bottleneck-qbo deadletters list`")
    return out


def can_redrive(lt: Letter) -> str | None:
    """None when the letter can be re-driven, else why not."""
    d = lt.letter
    if d is None:
        return "malformed: nothing to re-send (drop it once understood)"
    if d.stage == "sync" and d.entity_type and d.local_id and str(d.local_id).isdigit():
        return None
    if d.original is not None and d.original.value is not None:
        return None
    return "carries neither a document nor the original record"


def redrive(settings: Settings, letters: Sequence[Letter], *, by: str = "cli") -> list[Letter]:
    """Send letters back and mark them re-driven: a document that failed to sync goes back as a forced
    document touch; a record that failed to decode or route is re-produced to its original topic."""
    sendable = [lt for lt in letters if can_redrive(lt) is None]
    if not sendable:
        return []
    producer = reach.kafka_producer(settings, acks="all")
    try:
        for lt in sendable:
            d = lt.letter
            assert d is not None
            if d.stage == "sync" and d.entity_type and d.local_id and str(d.local_id).isdigit():
                touch = DocumentTouch(
                    ref=DocRef(company_id=d.company_id, entity_type=d.entity_type, local_id=int(d.local_id), forced=True),
                    origin=Origin(topic=REDRIVE_ORIGIN, partition=lt.partition, offset=lt.offset),
                )
                producer.send(settings.documents_topic, key=touch.key(), value=touch.to_bytes())
            else:
                o = d.original
                assert o is not None and o.value is not None

                def raw(s: str, enc: str = o.encoding) -> bytes:
                    return base64.b64decode(s) if enc == "base64" else s.encode()

                producer.send(o.topic, key=raw(o.key) if o.key is not None else None, value=raw(o.value), partition=o.partition)
        producer.flush(timeout=10)
    finally:
        producer.close(timeout=5)
    _mark(settings, sendable, "retried", by)
    return sendable


def drop(settings: Settings, letters: Sequence[Letter], *, by: str = "cli") -> None:
    _mark(settings, letters, "dropped", by)


def _mark(settings: Settings, letters: Sequence[Letter], action: str, by: str) -> None:
    with reach.pg(settings, autocommit=True) as conn:
        for lt in letters:
            # jsonb refuses \u0000 (a malformed letter may hold NULs): keep it as the text "\u0000"
            conn.execute(
                "insert into qbo_sync.deadletter_actions (topic, letter_id, action, acted_by, letter) values (%s, %s, %s, %s, %s)"
                " on conflict (topic, letter_id) do update set action = excluded.action, acted_by = excluded.acted_by, acted_at = now()",
                (settings.deadletter_topic, lt.id, action, by, json.dumps(lt.to_dict(), default=str).replace("\\u0000", "\\\\u0000")),
            )
            lt.action = action
