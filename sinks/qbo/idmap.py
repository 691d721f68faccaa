"""The id map (qbo_sync.id_map): Bottleneck document -> QBO object, SyncToken and last payload hash.

Written as soon as QBO answers, so a crash right after a create is caught by the next attempt (the id
map, then the natural-key lookup, then the deterministic requestid all point at the same object).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb

from sinks.postgres import Database


@dataclass(frozen=True)
class IdMapEntry:
    company_id: int
    entity_type: str
    local_id: int
    realm_id: str
    qbo_entity: str
    qbo_id: str | None
    sync_token: str | None
    payload_hash: str | None
    status: str  # synced / voided / deleted / inactive / error
    last_error: str | None = None
    synced_at: datetime | None = None
    line_ids: Mapping[str, str] = field(default_factory=dict)
    generation: int = 0  # bumped when QBO lost the object and it must be created again
    # set before a create is sent, cleared when QBO's answer is recorded: {"request_id", "key", "match"}
    create_intent: Mapping[str, Any] | None = None
    # the follow-ups (e.g. lot quantities) of the last synced state: [[entity_type, local_id], ...]
    follow_ups: list[list[Any]] = field(default_factory=list)


_COLUMNS = (
    "company_id, entity_type, local_id, realm_id, qbo_entity, qbo_id, sync_token, payload_hash, status, last_error, synced_at, "
    "line_ids, generation, create_intent, follow_ups"
)
ENTRY_COLUMNS = _COLUMNS  # for readers that select entries their own way (the drift check)


class IdentityTaken(Exception):
    """Recording this row would map a second Bottleneck row to a QBO object another row stands for."""

    def __init__(self, qbo_entity: str, qbo_id: str, owner: tuple[str, int] | None) -> None:
        held = f"{owner[0]} {owner[1]}" if owner else "another Bottleneck row"
        super().__init__(
            f"QuickBooks {qbo_entity} {qbo_id} already stands for {held}; one QuickBooks object never stands for two "
            "Bottleneck rows. Rename one of them in Bottleneck (or clear the other's id map entry) and re-drive it"
        )
        self.owner = owner


class IdMap:
    def __init__(self, db: Database, *, owns_db: bool = False) -> None:
        # autocommit connections: each write is durable when the call returns
        self._db = db
        self._owns_db = owns_db

    @classmethod
    async def connect(cls, dsn: str) -> IdMap:
        """An IdMap on a pool of its own (tests, tools); the worker shares one ``Database``."""
        return cls(await Database.open(dsn, name="idmap"), owns_db=True)

    async def close(self) -> None:
        if self._owns_db:
            await self._db.close()

    async def _rows(self, sql: str, params: Iterable[Any]) -> list[dict[str, Any]]:
        return await self._db.fetchall(sql, list(params))

    async def get(self, company_id: int, entity_type: str, local_id: int) -> IdMapEntry | None:
        rows = await self._rows(
            f"select {_COLUMNS} from qbo_sync.id_map where company_id = %s and entity_type = %s and local_id = %s",
            (company_id, entity_type, local_id),
        )
        return IdMapEntry(**rows[0]) if rows else None

    async def find(self, entity_type: str, local_id: int) -> IdMapEntry | None:
        """The entry of a document whose company is unknown (its rows are gone)."""
        rows = await self._rows(
            f"select {_COLUMNS} from qbo_sync.id_map where entity_type = %s and local_id = %s limit 1", (entity_type, local_id)
        )
        return IdMapEntry(**rows[0]) if rows else None

    async def many(self, company_id: int, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], IdMapEntry]:
        keys = list(keys)
        if not keys:
            return {}
        rows = await self._rows(
            f"select {_COLUMNS} from qbo_sync.id_map where company_id = %s and (entity_type, local_id) in "
            f"(select * from unnest(%s::text[], %s::bigint[]))",
            (company_id, [k[0] for k in keys], [k[1] for k in keys]),
        )
        return {(r["entity_type"], r["local_id"]): IdMapEntry(**r) for r in rows}

    async def intend(
        self, *, company_id: int, entity_type: str, local_id: int, realm_id: str, qbo_entity: str, intent: Mapping[str, Any]
    ) -> None:
        """Remember that a create is about to be sent (durable before the request leaves): a later attempt
        whose answer never arrived looks the object up instead of trusting the requestid alone."""
        await self._db.execute(
            """
            insert into qbo_sync.id_map (company_id, entity_type, local_id, realm_id, qbo_entity, qbo_id, status, create_intent)
            values (%s, %s, %s, %s, %s, null, 'creating', %s)
            on conflict (company_id, entity_type, local_id) do update set create_intent = excluded.create_intent
            """,
            (company_id, entity_type, local_id, realm_id, qbo_entity, Jsonb(dict(intent))),
        )

    async def abandon_intent(self, company_id: int, entity_type: str, local_id: int) -> None:
        """The create was refused before QBO processed it (rate limited): forget the intent."""
        await self._db.execute(
            "update qbo_sync.id_map set create_intent = null "
            "where company_id = %s and entity_type = %s and local_id = %s and qbo_id is null",
            (company_id, entity_type, local_id),
        )

    async def remember_follow_ups(self, company_id: int, entity_type: str, local_id: int, follow_ups: list[tuple[str, int]]) -> None:
        """The follow-ups of the state just synced (re-checked too when the next state no longer has them)."""
        await self._db.execute(
            "update qbo_sync.id_map set follow_ups = %s where company_id = %s and entity_type = %s and local_id = %s",
            (Jsonb([list(f) for f in follow_ups]), company_id, entity_type, local_id),
        )

    async def owner(self, realm_id: str, qbo_entity: str, qbo_id: str) -> tuple[int, str, int] | None:
        """(company, entity type, local id) of the live row mapped to this QBO object, if any."""
        rows = await self._rows(
            "select company_id, entity_type, local_id from qbo_sync.id_map where realm_id = %s and qbo_entity = %s and qbo_id = %s "
            "and status not in ('voided', 'deleted', 'inactive', 'gone') and entity_type not in ('lot_quantity', 'item_quantity') limit 1",
            (realm_id, qbo_entity, qbo_id),
        )
        return (int(rows[0]["company_id"]), str(rows[0]["entity_type"]), int(rows[0]["local_id"])) if rows else None

    async def record(
        self,
        *,
        company_id: int,
        entity_type: str,
        local_id: int,
        realm_id: str,
        qbo_entity: str,
        qbo_id: str | None,
        sync_token: str | None,
        payload_hash: str | None,
        status: str = "synced",
        line_ids: Mapping[str, str] | None = None,
    ) -> None:
        try:
            await self._record(company_id, entity_type, local_id, realm_id, qbo_entity, qbo_id, sync_token, payload_hash, status, line_ids)
        except UniqueViolation as exc:
            assert qbo_id is not None  # only a mapped row can clash
            found = await self.owner(realm_id, qbo_entity, qbo_id)
            raise IdentityTaken(qbo_entity, qbo_id, (found[1], found[2]) if found else None) from exc

    async def _record(
        self,
        company_id: int,
        entity_type: str,
        local_id: int,
        realm_id: str,
        qbo_entity: str,
        qbo_id: str | None,
        sync_token: str | None,
        payload_hash: str | None,
        status: str,
        line_ids: Mapping[str, str] | None,
    ) -> None:
        # Writing the document is what resolves a drift recorded for it (qbo_sync.drift, migration 0014):
        # QBO now holds what Bottleneck says. Same statement, so it costs no extra round trip.
        await self._db.execute(
            """
            with resolved as (
                update qbo_sync.drift set resolved_at = now(), resolution = 'written'
                where company_id = %s and entity_type = %s and local_id = %s and resolved_at is null
            )
            insert into qbo_sync.id_map (company_id, entity_type, local_id, realm_id, qbo_entity, qbo_id, sync_token,
                                         payload_hash, status, last_error, synced_at, line_ids)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, null, now(), coalesce(%s, '{}'::jsonb))
            on conflict (company_id, entity_type, local_id) do update set
                realm_id = excluded.realm_id, qbo_entity = excluded.qbo_entity, qbo_id = excluded.qbo_id,
                sync_token = excluded.sync_token, payload_hash = excluded.payload_hash, status = excluded.status,
                last_error = null, synced_at = now(), create_intent = null,
                line_ids = case when %s::jsonb is null then qbo_sync.id_map.line_ids else excluded.line_ids end
            """,
            (
                company_id,
                entity_type,
                local_id,
                company_id,
                entity_type,
                local_id,
                realm_id,
                qbo_entity,
                qbo_id,
                sync_token,
                payload_hash,
                status,
                Jsonb(dict(line_ids)) if line_ids is not None else None,
                Jsonb(dict(line_ids)) if line_ids is not None else None,
            ),
        )

    async def mark_error(self, company_id: int, entity_type: str, local_id: int, error: str) -> None:
        """Remember the last failure of a document that is already in the map (status stays visible)."""
        await self._db.execute(
            "update qbo_sync.id_map set last_error = %s where company_id = %s and entity_type = %s and local_id = %s",
            (error, company_id, entity_type, local_id),
        )

    async def local_for_qbo(self, realm_id: str, qbo_entity: str, qbo_id: str) -> tuple[int, int] | None:
        """(company_id, local_id) of the Bottleneck document a QBO object stands for (inbound payments)."""
        rows = await self._rows(
            "select company_id, local_id from qbo_sync.id_map where realm_id = %s and qbo_entity = %s and qbo_id = %s "
            "and entity_type not in ('lot_quantity', 'item_quantity', 'item_category') limit 1",
            (realm_id, qbo_entity, qbo_id),
        )
        return (int(rows[0]["company_id"]), int(rows[0]["local_id"])) if rows else None
