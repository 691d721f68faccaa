"""Configuration of the local QBO sandbox (one pydantic model, also built by the CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class SandboxConfig(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8765
    # A static development bearer token accepted for every realm (never expires). None = OAuth tokens only.
    access_token: SecretStr | None = None
    client_id: str = "sandbox-client"
    client_secret: SecretStr = SecretStr("sandbox-secret")
    access_token_ttl_s: int = 3600
    refresh_token_ttl_s: int = 8_726_400  # 101 days, what QBO reports in x_refresh_token_expires_in
    realms: list[str] = Field(default_factory=list, description="realm ids created at start-up")

    webhook_url: str | None = None
    webhook_verifier_token: SecretStr = SecretStr("dev-verifier-token")
    webhook_format: Literal["legacy", "cloudevents"] = "legacy"
    # Short by default for development; QBO's own is 10 s, 20 s, 30 s, 5 min, 20 min, 2 h, ...
    webhook_retry_schedule_s: list[float] = Field(default_factory=lambda: [1.0, 2.0, 5.0])
    webhook_timeout_s: float = 3.0

    requests_per_minute: int = 500
    concurrent_requests: int = 10
    batch_per_minute: int = 40
    max_batch_items: int = 30
    # QBO does not document Retry-After on 429 (reference §10, UNCONFIRMED): none unless set here.
    retry_after_s: int | None = None
    # QBO has been seen answering throttles in XML even to JSON clients (reference §10): "xml" emulates that.
    throttle_body: Literal["json", "xml"] = "json"

    sqlite_path: Path | None = None

    # Fault-injection defaults (the control API changes them at run time).
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    latency_ms: int = 0
    hang_s: float = 150.0  # an injected timeout holds the request this long (QBO times out at 120 s)
    # Company-local offset used in MetaData timestamps (QBO sandboxes are US Pacific); fixed, no DST.
    utc_offset_minutes: int = -420

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"
