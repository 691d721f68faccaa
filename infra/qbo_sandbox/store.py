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

    def table(self, entity: str) -> dict[str, JsonObj]:
        return self.entities.setdefault(entity, {})

    def new_id(self, entity: str) -> str:
        n = self.next_ids.get(entity, 1)
        self.next_ids[entity] = n + 1
        return str(n)

    def get(self, entity: str, entity_id: str) -> JsonObj | None:
        return self.entities.get(entity, {}).get(str(entity_id))

    def to_json(self) -> JsonObj:
        return {
            "realm_id": self.realm_id,
            "name": self.name,
            "entities": self.entities,
            "tombstones": self.tombstones,
            "next_ids": self.next_ids,
            "doc_seq": self.doc_seq,
            "request_ids": self.request_ids,
        }

    @classmethod
    def from_json(cls, d: JsonObj) -> "Realm":
        return cls(
            realm_id=d["realm_id"],
            name=d["name"],
            entities=d["entities"],
            tombstones=d["tombstones"],
            next_ids={k: int(v) for k, v in d["next_ids"].items()},
            doc_seq={k: int(v) for k, v in d["doc_seq"].items()},
            request_ids={k: {"status": int(v["status"]), "body": v["body"]} for k, v in d["request_ids"].items()},
        )


@dataclass
class OAuthState:
    access_tokens: dict[str, JsonObj] = field(default_factory=dict)  # token -> {realm, expires_at}
    refresh_tokens: dict[str, JsonObj] = field(default_factory=dict)  # token -> {realm, expires_at, superseded}
    codes: dict[str, JsonObj] = field(default_factory=dict)  # code -> {realm, expires_at}

    def to_json(self) -> JsonObj:
        return {"access_tokens": self.access_tokens, "refresh_tokens": self.refresh_tokens, "codes": self.codes}

    @classmethod
    def from_json(cls, d: JsonObj) -> "OAuthState":
        def fix(m: dict[str, JsonObj]) -> dict[str, JsonObj]:
            return {k: {kk: (float(vv) if kk == "expires_at" else vv) for kk, vv in v.items()} for k, v in m.items()}

        return cls(fix(d["access_tokens"]), fix(d["refresh_tokens"]), fix(d["codes"]))


class Store:
    def __init__(self, sqlite_path: Path | None = None) -> None:
        self.realms: dict[str, Realm] = {}
        self.oauth = OAuthState()
        self._db: sqlite3.Connection | None = None
        if sqlite_path is not None:
            sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(sqlite_path))
            self._db.execute("create table if not exists state (key text primary key, value text not null)")
            self._db.commit()
            self._load()

    def _load(self) -> None:
        assert self._db is not None
        for key, value in self._db.execute("select key, value from state"):
            data = jsonio.loads(value)
            if key == "oauth":
                self.oauth = OAuthState.from_json(data)
            elif key.startswith("realm:"):
                realm = Realm.from_json(data)
                self.realms[realm.realm_id] = realm

    def save_realm(self, realm: Realm) -> None:
        if self._db is not None:
            self._db.execute("insert or replace into state values (?, ?)", (f"realm:{realm.realm_id}", jsonio.dumps(realm.to_json())))
            self._db.commit()

    def save_oauth(self) -> None:
        if self._db is not None:
            self._db.execute("insert or replace into state values (?, ?)", ("oauth", jsonio.dumps(self.oauth.to_json())))
            self._db.commit()

    def clear(self) -> None:
        self.realms.clear()
        self.oauth = OAuthState()
        if self._db is not None:
            self._db.execute("delete from state")
            self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
