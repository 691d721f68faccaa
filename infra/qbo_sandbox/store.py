"""Sandbox state: realms with their entities, and OAuth tokens. In memory, optionally mirrored to SQLite.

Mutating code is synchronous (no ``await`` between read and write), so one asyncio loop gives each request
an atomic view without locks.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.qbo_sandbox import jsonio

JsonObj = dict[str, Any]


@dataclass
class Realm:
    realm_id: str
    name: str
    entities: dict[str, dict[str, JsonObj]] = field(default_factory=dict)
    # Deleted objects for CDC: entity -> id -> LastUpdatedTime of the delete.
    tombstones: dict[str, dict[str, str]] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)
    doc_seq: dict[str, int] = field(default_factory=dict)
    # requestid -> the first response (status, JSON text); reference §8.
    request_ids: dict[str, JsonObj] = field(default_factory=dict)
    # What changed since the last save (persistence writes only these rows).
    dirty: set[tuple[str, str]] = field(default_factory=set)
    dirty_request_ids: set[str] = field(default_factory=set)
    # The company's region and sales-tax setup (infra/qbo_sandbox/tax.py): country, automated_sales_tax, tax_rate.
    settings: JsonObj = field(default_factory=dict)

    def table(self, entity: str) -> dict[str, JsonObj]:
        return self.entities.setdefault(entity, {})

    def new_id(self, entity: str) -> str:
        n = self.next_ids.get(entity, 1)
        self.next_ids[entity] = n + 1
        return str(n)

    def get(self, entity: str, entity_id: str) -> JsonObj | None:
        return self.entities.get(entity, {}).get(str(entity_id))

    def mark(self, entity: str, entity_id: str) -> None:
        self.dirty.add((entity, str(entity_id)))

    def remember(self, request_id: str, status: int, body: str) -> None:
        self.request_ids[request_id] = {"status": status, "body": body}
        self.dirty_request_ids.add(request_id)


@dataclass
class OAuthState:
    access_tokens: dict[str, JsonObj] = field(default_factory=dict)  # token -> {realm, expires_at}
    refresh_tokens: dict[str, JsonObj] = field(default_factory=dict)  # token -> {realm, expires_at, superseded}
    codes: dict[str, JsonObj] = field(default_factory=dict)  # code -> {realm, expires_at}

    def to_json(self) -> JsonObj:
        return {"access_tokens": self.access_tokens, "refresh_tokens": self.refresh_tokens, "codes": self.codes}

    @classmethod
    def from_json(cls, d: JsonObj) -> OAuthState:
        def fix(m: dict[str, JsonObj]) -> dict[str, JsonObj]:
            return {k: {kk: (float(vv) if kk == "expires_at" else vv) for kk, vv in v.items()} for k, v in m.items()}

        return cls(fix(d["access_tokens"]), fix(d["refresh_tokens"]), fix(d["codes"]))


class Store:
    """Realms and OAuth state; with a SQLite path every change is written through, row by row."""

    def __init__(self, sqlite_path: Path | None = None) -> None:
        self.realms: dict[str, Realm] = {}
        self.oauth = OAuthState()
        self._db: sqlite3.Connection | None = None
        if sqlite_path is not None:
            sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(sqlite_path))
            self._db.execute("pragma journal_mode=wal")
            self._db.execute("pragma synchronous=normal")
            self._db.executescript(_SCHEMA)
            self._db.commit()
            self._load()

    def _load(self) -> None:
        db = self._db
        assert db is not None
        for realm_id, name, next_ids, doc_seq in db.execute("select realm_id, name, next_ids, doc_seq from realms"):
            self.realms[realm_id] = Realm(
                realm_id,
                name,
                next_ids={k: int(v) for k, v in jsonio.loads(next_ids).items()},
                doc_seq={k: int(v) for k, v in jsonio.loads(doc_seq).items()},
            )
        for realm_id, entity, oid, body in db.execute("select realm_id, entity, id, body from objects"):
            self.realms[realm_id].table(entity)[oid] = jsonio.loads(body)
        for realm_id, entity, oid, ts in db.execute("select realm_id, entity, id, ts from tombstones"):
            self.realms[realm_id].tombstones.setdefault(entity, {})[oid] = ts
        for realm_id, body in db.execute("select realm_id, body from realm_settings"):
            if realm_id in self.realms:
                self.realms[realm_id].settings = jsonio.loads(body)
        for realm_id, rid, status, body in db.execute("select realm_id, rid, status, body from request_ids"):
            self.realms[realm_id].request_ids[rid] = {"status": int(status), "body": body}
        row = db.execute("select value from oauth where key = 'state'").fetchone()
        if row is not None:
            self.oauth = OAuthState.from_json(jsonio.loads(row[0]))

    def save_realm(self, realm: Realm, *, everything: bool = False) -> None:
        """Write what changed in ``realm`` (or all of it); clears its dirty sets."""
        if self._db is None:
            realm.dirty.clear()
            realm.dirty_request_ids.clear()
            return
        db = self._db
        db.execute(
            "insert or replace into realms values (?, ?, ?, ?)",
            (realm.realm_id, realm.name, jsonio.dumps(realm.next_ids), jsonio.dumps(realm.doc_seq)),
        )
        db.execute("insert or replace into realm_settings values (?, ?)", (realm.realm_id, jsonio.dumps(realm.settings)))
        keys = {(e, i) for e, table in realm.entities.items() for i in table} if everything else realm.dirty
        for entity, oid in keys:
            obj = realm.get(entity, oid)
            if obj is None:
                db.execute("delete from objects where realm_id = ? and entity = ? and id = ?", (realm.realm_id, entity, oid))
                ts = realm.tombstones.get(entity, {}).get(oid)
                if ts is not None:
                    db.execute("insert or replace into tombstones values (?, ?, ?, ?)", (realm.realm_id, entity, oid, ts))
            else:
                db.execute("insert or replace into objects values (?, ?, ?, ?)", (realm.realm_id, entity, oid, jsonio.dumps(obj)))
        for rid in realm.dirty_request_ids:
            entry = realm.request_ids[rid]
            db.execute("insert or replace into request_ids values (?, ?, ?, ?)", (realm.realm_id, rid, entry["status"], entry["body"]))
        db.commit()
        realm.dirty.clear()
        realm.dirty_request_ids.clear()

    def save_oauth(self) -> None:
        if self._db is not None:
            self._db.execute("insert or replace into oauth values ('state', ?)", (jsonio.dumps(self.oauth.to_json()),))
            self._db.commit()

    def clear(self) -> None:
        self.realms.clear()
        self.oauth = OAuthState()
        if self._db is not None:
            for table in ("realms", "realm_settings", "objects", "tombstones", "request_ids", "oauth"):
                self._db.execute(f"delete from {table}")
            self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


_SCHEMA = """
create table if not exists realms (realm_id text primary key, name text not null, next_ids text not null, doc_seq text not null);
create table if not exists objects (realm_id text, entity text, id text, body text not null, primary key (realm_id, entity, id));
create table if not exists tombstones (realm_id text, entity text, id text, ts text not null, primary key (realm_id, entity, id));
create table if not exists request_ids (realm_id text, rid text, status integer not null, body text not null, primary key (realm_id, rid));
create table if not exists realm_settings (realm_id text primary key, body text not null);
create table if not exists oauth (key text primary key, value text not null);
"""
