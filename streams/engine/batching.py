"""What one ``SyncEngine.sync_many`` call reads up front, and the writes it holds for QBO's batch API.

Reads: the companies, their tax settings and every document of the call come from ONE snapshot (each
processor type's documents by one ``load_many``); the id map entries of the documents and of their
dependencies, and their parking rows, from one query each. A document synced while the call runs
(as another's dependency, or its own turn) is marked *stale*: what was read of it before is read again.

Writes: a document whose write is one create or one sparse update (``Writer.plan``) waits in
``pending``; they go out together, up to ``max_items`` per ``/batch`` call, when enough of them wait
(``min_docs``), else one by one. A document whose dependency still waits is preceded by a flush, so a
dependant's map always sees its dependency's QBO id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mappers.bottleneck import Company
from mappers.tax import TaxSettings
from sinks.qbo.idmap import IdMapEntry
from sinks.qbo.requestid import MAX_LEN
from sinks.qbo.writer import BatchOp, Writer
from streams.engine.parking import Parked

T = TypeVar("T")
Key = tuple[str, int]


@dataclass
class Pending:
    """A document whose write waits for the batch call (its steps 1-4 are done)."""

    index: int  # its place in the sync_many call's outcomes
    doc_state: Any  # the engine's per-document record (engine._Doc)
    doc: Any
    writer: Writer
    op: BatchOp
    was_parked: bool

    @property
    def realm(self) -> str:
        return self.writer.realm_id

    @property
    def key(self) -> Key:
        return (self.writer.processor.entity_type, self.writer.local_id)


@dataclass
class BatchReads:
    companies: dict[int, Company | None] = field(default_factory=dict)
    tax: dict[int, TaxSettings] = field(default_factory=dict)
    docs: dict[Key, Any] = field(default_factory=dict)  # every key read; None: the row is gone
    entries: dict[tuple[int, str, int], IdMapEntry | None] = field(default_factory=dict)
    parked: dict[Key, Parked | None] = field(default_factory=dict)
    stale: set[Key] = field(default_factory=set)  # synced since read: its document is read again
    refreshed: set[Key] = field(default_factory=set)  # stale, but its id map entry was read again since
    pending: list[Pending] = field(default_factory=list)
    done: dict[int, Any] = field(default_factory=dict)  # outcomes of writes sent before sync_many's end
    batching: bool = True

    def touched(self, key: Key) -> None:
        """``key`` was (or is being) synced: what was read of it before no longer stands."""
        self.stale.add(key)
        self.refreshed.discard(key)

    def fresh(self, key: Key) -> bool:
        """The document was read up front and nothing synced it since (a document synced meanwhile is
        read again: the state it was synced with may be newer than the batch's snapshot)."""
        return key in self.docs and key not in self.stale

    def entry(self, company_id: int, key: Key) -> tuple[bool, IdMapEntry | None]:
        """(known, entry): known when read and nothing synced it since it was read."""
        k = (company_id, *key)
        if k not in self.entries or (key in self.stale and key not in self.refreshed):
            return False, None
        return True, self.entries[k]

    def remember(self, company_id: int, found: dict[Key, IdMapEntry], keys: Iterable[Key]) -> None:
        for key in keys:
            self.entries[(company_id, *key)] = found.get(key)
            if key in self.stale:
                self.refreshed.add(key)

    def outdated(self, company_id: int) -> list[Key]:
        """Entries of this company read before something synced them (worth re-reading in one go)."""
        return [k for k in self.stale - self.refreshed if (company_id, *k) in self.entries]

    def pending_keys(self) -> set[Key]:
        return {p.key for p in self.pending}


def needs_flush(pending: Iterable[Key], touched: Iterable[Key]) -> bool:
    """A document about to read (or sync) ``touched`` must wait until the pending writes of those are done."""
    waiting = set(pending)
    return any(k in waiting for k in touched)


def calls(items: Sequence[T], realm_of: Any, max_items: int) -> list[list[T]]:
    """The batch calls for ``items``: per realm, in order, at most ``max_items`` each."""
    if max_items < 1:
        raise ValueError("max_items must be at least 1")
    by_realm: dict[str, list[T]] = {}
    for it in items:
        by_realm.setdefault(str(realm_of(it)), []).append(it)
    out: list[list[T]] = []
    for group in by_realm.values():
        out.extend(list(group[i : i + max_items]) for i in range(0, len(group), max_items))
    return out


def batch_request_id(realm_id: str, item_ids: Sequence[str]) -> str:
    """The batch call's requestid: derived from its items' own requestids, so the same batch sent again
    (a transport retry, a crash before the answer was recorded) is answered by QBO with its first
    answer. The client appends ``-n`` per call, hence 3 characters less than a requestid."""
    digest = hashlib.sha256("\x1f".join([realm_id, *item_ids]).encode()).hexdigest()
    return ("bqb-" + digest)[: MAX_LEN - 3]


def batch_item(bid: str, entity: str, op: BatchOp) -> dict[str, Any]:
    return {"bId": bid, "operation": op.operation, entity: dict(op.body)}
