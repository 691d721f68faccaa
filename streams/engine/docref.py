"""DocRef: which Bottleneck document an event touches (what the router emits and the engine syncs)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DocRef(BaseModel):
    """One document of one company. ``company_id`` is None when the event row lacks it (a line row):
    the engine resolves it from Postgres. ``forced`` marks a "Publish to QuickBooks" request (manual mode)."""

    model_config = ConfigDict(frozen=True)

    company_id: int | None
    entity_type: str
    local_id: int
    forced: bool = False

    @property
    def key(self) -> str:
        """Coalescing / partition key: one document regardless of how the event reached us."""
        return f"{self.entity_type}:{self.local_id}"

    def __str__(self) -> str:
        return f"{self.entity_type} {self.local_id} (company {self.company_id if self.company_id is not None else '?'})"
