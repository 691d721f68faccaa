"""What the sync engine needs from a QBO client (shared contract).

``sinks.qbo.client.QboClient`` implements it over HTTP. Bodies are plain JSON-ready mappings whose
money and quantities are ``Decimal`` (the client encodes them as exact JSON numbers and decodes numbers
back to ``Decimal``). Entity names are QBO's (``"Invoice"``, ``"Item"``, ...). Every method raises a
``sinks.qbo.errors.QboError`` subclass on failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

JsonObj = dict[str, Any]


class QboApi(Protocol):
    async def create(self, realm_id: str, entity: str, body: Mapping[str, Any], *, request_id: str) -> JsonObj:
        """POST /{entity} with ?requestid=; returns the stored entity."""

    async def read(self, realm_id: str, entity: str, entity_id: str) -> JsonObj:
        """GET /{entity}/{id}; raises QboNotFound."""

    async def update(
        self, realm_id: str, entity: str, body: Mapping[str, Any], *, sparse: bool = True, request_id: str | None = None
    ) -> JsonObj:
        """POST /{entity} with Id + SyncToken (+ "sparse": true); raises QboStaleSyncToken on 5010."""

    async def void(self, realm_id: str, entity: str, entity_id: str, sync_token: str, *, request_id: str | None = None) -> JsonObj:
        """POST /{entity}?operation=void."""

    async def delete(self, realm_id: str, entity: str, entity_id: str, sync_token: str, *, request_id: str | None = None) -> JsonObj:
        """POST /{entity}?operation=delete."""

    async def query(self, realm_id: str, statement: str, *, page_size: int = 1000) -> list[JsonObj]:
        """Run ``select * from X where ...`` across all pages (STARTPOSITION/MAXRESULTS)."""

    async def batch(self, realm_id: str, items: Sequence[Mapping[str, Any]], *, request_id: str | None = None) -> list[JsonObj]:
        """POST /batch with up to 30 BatchItemRequest items; returns BatchItemResponse (faults per item)."""

    async def cdc(self, realm_id: str, entities: Sequence[str], changed_since: datetime) -> dict[str, list[JsonObj]]:
        """GET /cdc; returns {entity name: [objects, deleted ones with status "Deleted"]}."""
