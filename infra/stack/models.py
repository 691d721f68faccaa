"""What `stack status` reports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ComponentState = Literal["running", "stopped", "starting", "unhealthy", "port-taken"]


class ComponentStatus(BaseModel):
    state: ComponentState
    pid: int | None = None
    detail: str | None = None


class StackStatus(BaseModel):
    # Holds the (development) password: kept out of repr; the CLI masks it.
    postgres_dsn: str = Field(repr=False)
    kafka_bootstrap: str
    connect_url: str
    qbo_base_url: str | None = None
    # Development credentials of the local QBO sandbox, shown only when qbo_environment is "local".
    qbo_access_token: str | None = Field(default=None, repr=False)
    webhook_url: str | None = None
    webhook_verifier_token: str | None = Field(default=None, repr=False)
    run_dir: str
    components: dict[str, ComponentState]
    details: dict[str, ComponentStatus] = {}

    @property
    def all_running(self) -> bool:
        return all(s == "running" for s in self.components.values())
