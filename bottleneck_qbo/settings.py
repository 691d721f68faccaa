"""Typed configuration, read from environment variables (prefix ``BQ_``) and an optional ``.env``.

One place for every knob. Validation happens at start-up so a bad value fails with a clear message
instead of deep inside a worker.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, Self
from urllib.parse import quote, urlencode

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BQ_", env_file=".env", extra="ignore")

    # --- local stack -----------------------------------------------------------------------------
    run_dir: Path = Field(default=PROJECT_ROOT / ".run", description="logs, data and pid files of the local stack")
    pg_host: str = "127.0.0.1"
    pg_port: int = 55432
    pg_database: str = "bottleneck"
    pg_user: str = "bottleneck"
    pg_password: SecretStr = SecretStr("bottleneck")
    pg_os_user: str = Field(default="bottleneck", description="OS user that owns the private cluster (initdb refuses root)")
    kafka_host: str = Field(default="127.0.0.1", description="Kafka host clients use (docker-compose: kafka)")
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    connect_host: str = Field(default="127.0.0.1", description="Kafka Connect REST host (docker-compose: connect)")
    connect_port: int = 18083
    kafka_heap: str = "-Xms256m -Xmx768m"
    connect_heap: str = "-Xms256m -Xmx768m"
    maven_repo: Path | None = Field(default=None, description="Maven local repository (default: ~/.m2/repository)")
    pg_cdc_user: str = Field(default="dbz", description="the role Debezium connects as (`migrate` grants it its rights)")
    pg_cdc_password: SecretStr = Field(default=SecretStr("dbz"), description="password of the `dbz` role Debezium connects as")
    stack_lib_dir: Path = Field(default=PROJECT_ROOT / "infra" / "lib", description="cache of the Kafka/Connect jars (Maven)")
    connect_plugin_dir: Path = Field(default=PROJECT_ROOT / "infra" / "connect-plugins", description="Connect plugin.path (Debezium)")
    connector_name: str = "bottleneck-postgres"
    cdc_topic_partitions: int = Field(default=1, ge=1, description="partitions of Debezium's topics (one connector task writes them)")
    stack_start_timeout_s: float = Field(default=120.0, gt=0, description="how long `stack up` waits for each component")

    # --- topics ------------------------------------------------------------------------------------
    topic_prefix: str = "bottleneck"
    documents_topic: str = "bottleneck.documents"
    webhooks_topic: str = "qbo.webhooks"
    payments_topic: str = "bottleneck.payments"
    deadletter_topic: str = "qbo.deadletter"
    topic_partitions: int = 4
    topic_replication_factor: int = Field(default=1, ge=1, description="replication factor of every topic the product creates (managed: 3)")
    topic_retention_ms: int = Field(
        default=-1, ge=-1, description="retention of the CDC, webhook, payment and dead-letter topics (-1: keep, for replays)"
    )

    # --- managed infrastructure (TLS / SASL) -----------------------------------------------------------
    kafka_bootstrap_servers: str | None = Field(
        default=None, description="comma-separated host:port list of a managed cluster; overrides kafka_host/kafka_port"
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle the brokers' certificates are checked against (default: system CAs)"
    )
    kafka_ssl_certfile: Path | None = Field(default=None, description="client certificate (mutual TLS)")
    kafka_ssl_keyfile: Path | None = Field(default=None, description="client private key (mutual TLS)")
    kafka_ssl_check_hostname: bool = True
    pg_sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = None
    pg_sslrootcert: Path | None = Field(default=None, description="CA the server certificate is checked against (verify-ca, verify-full)")
    pg_sslcert: Path | None = None
    pg_sslkey: Path | None = None

    # --- worker --------------------------------------------------------------------------------------
    worker_id: str = "bottleneck-qbo"
    worker_web_host: str = "127.0.0.1"
    worker_web_port: int = 6066
    # Crash recovery: a SIGKILLed worker's partitions are held by its dead member until the session times
    # out (Faust's default 60 s). Heartbeats run on their own task, so a slow QBO call does not expire it.
    worker_session_timeout_s: float = Field(default=10.0, ge=6.0, description="consumer group session timeout")
    worker_heartbeat_interval_s: float = Field(default=2.0, gt=0, description="consumer group heartbeat interval")
    # Static group membership (KIP-345): a restarted worker with the same id takes its partitions back at
    # once (2 s measured) instead of after the session timeout (10 s). Must be unique per worker and stable
    # across restarts (e.g. the pod name). Off by default: a static member does not leave the group on a
    # graceful stop, so `replay` (which needs an empty group) must wait out the session timeout, and a
    # restarted member with a new subscription (a table added) keeps its old assignment.
    worker_instance_id: str = Field(default="", description="static consumer group member id of this worker")
    # admin listener (streams/admin.py): status page, /metrics, /health/* -- never on the public webhook port
    admin_host: str = Field(default="127.0.0.1", description="interface of the worker's admin listener (status page, metrics)")
    admin_port: int = Field(default=6067, description="port of the worker's admin listener; 0 disables it")
    # local stack (infra/stack/worker.py): workers `stack up` starts, in one consumer group; instance k
    # listens on worker_web_port / admin_port + worker_port_step * (k - 1)
    workers: int = Field(default=1, ge=1, le=16, description="Faust workers the local stack starts (one consumer group)")
    worker_port_step: int = Field(default=2, ge=1, description="port offset between the local stack's worker instances")
    worker_data_dir: Path | None = Field(default=None, description="the worker's Faust data directory (default: run_dir/faust)")
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="worker logs: json lines, text, or auto (text on a TTY)"
    )
    webhook_verifier_token: SecretStr = SecretStr("dev-verifier-token")
    webhook_max_body_bytes: int = 1_048_576
    cdc_poll_interval_s: float = 30.0
    deadletter_max_bytes: int = Field(
        default=900_000,
        ge=4096,
        description="dead letters are cut to this size (with a pointer to the original): keep under message.max.bytes",
    )
    retry_base_delay_s: float = 0.5
    retry_max_delay_s: float = 60.0
    retry_max_attempts: int = 8
    onboarding_batch: int = Field(
        default=500, ge=1, description="an initial load queues this many rows at a time, the next once the worker consumed them"
    )
    # inbound (streams/inbound): CDC gap recovery
    cdc_initial_lookback_s: float = Field(
        default=86_400.0, gt=0, description="how far back the first CDC poll of a newly connected realm looks"
    )
    cdc_overlap_s: float = Field(
        default=120.0, ge=0, description="the CDC checkpoint trails the poll time by this much (clock skew, late commits)"
    )

    # --- QuickBooks Online ---------------------------------------------------------------------------
    # local: the QBO sandbox in infra/ (connect creates the realm there); intuit: real QBO (Intuit's
    # sandbox or production company, chosen by qbo_base_url), connected through OAuth consent.
    qbo_environment: Literal["local", "intuit"] = "local"
    qbo_base_url: str = "http://127.0.0.1:8765"  # real QBO: https://quickbooks.api.intuit.com
    qbo_token_url: str = "http://127.0.0.1:8765/oauth2/v1/tokens/bearer"  # real: https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer
    qbo_auth_url: str = "https://appcenter.intuit.com/connect/oauth2"
    qbo_client_id: str = "sandbox-client"
    qbo_client_secret: SecretStr = SecretStr("sandbox-secret")
    qbo_redirect_uri: str = "http://127.0.0.1:6066/oauth/callback"
    qbo_minor_version: int = 75
    qbo_requests_per_minute: int = 500
    qbo_max_concurrency: int = 10
    qbo_batch_per_minute: int = 40
    qbo_batch_item_weight: int = Field(default=1, ge=1, description="per-minute request units one batch item uses (QBO: 1)")
    # the engine's batch path (streams/engine/batching.py): a company's backlog goes out through /batch
    qbo_batch_enabled: bool = Field(default=True, description="send a company's backlog of creates/updates through QBO's batch API")
    qbo_batch_min_docs: int = Field(
        default=5, ge=1, description="documents of one company ready to write at once before they go through QBO's batch API"
    )
    qbo_batch_max_items: int = Field(default=30, ge=1, le=30, description="operations per QBO batch call (QBO allows 30)")
    qbo_timeout_s: float = 30.0
    qbo_sandbox_port: int = 8765
    # A static bearer token the local sandbox accepts for every realm, for poking at it by hand (curl);
    # the worker itself uses each realm's OAuth tokens from qbo_sync.oauth_tokens.
    qbo_sandbox_access_token: SecretStr = SecretStr("dev")
    # QBO client (sinks/qbo/client.py)
    qbo_access_token: SecretStr | None = Field(
        default=None, description="static bearer token (sandbox --access-token); disables OAuth refresh"
    )
    qbo_rate_window_s: float = Field(default=60.0, gt=0, description="window of qbo_requests_per_minute / qbo_batch_per_minute")
    qbo_rate_limit_wait_s: float = Field(default=60.0, ge=0, description="pause of a realm after a 429 without Retry-After (Intuit: 60 s)")
    qbo_rate_limit_max_retries: int = Field(default=10, ge=0, description="429s absorbed per request before raising QboRateLimited")
    qbo_local_wait_max_s: float | None = Field(
        default=None, ge=0, description="longest wait for a realm's own request budget before raising QboRateLimited (None: wait)"
    )
    # One realm's budget across worker processes (sinks/qbo/budget_ledger.py, README "Scaling out")
    qbo_shared_budget: bool = Field(
        default=True, description="charge QBO calls to the realm's budget ledger in Postgres, shared by every worker"
    )
    qbo_budget_block: int = Field(default=10, ge=1, description="tokens a worker reserves per ledger query")
    qbo_budget_processes: int = Field(
        default=2, ge=1, description="workers expected: each keeps to limit / this while the ledger is unavailable"
    )
    qbo_retry_max_attempts: int = Field(default=4, ge=0, description="resends after 5xx/timeouts (reads, and writes carrying a requestid)")
    qbo_retry_base_delay_s: float = Field(default=0.5, ge=0)
    qbo_retry_max_delay_s: float = Field(default=20.0, ge=0)
    qbo_token_refresh_margin_s: float = Field(default=300.0, ge=0, description="refresh the access token this long before it expires")
    token_encryption_key: SecretStr | None = Field(
        default=None, description="Fernet key: OAuth tokens are stored encrypted at rest (rows written before stay readable)"
    )
    oauth_callback_timeout_s: float = Field(default=15.0, gt=0, description="the /oauth/callback gives up on the token exchange after this")

    @field_validator("topic_partitions", "qbo_requests_per_minute", "qbo_max_concurrency")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL_"):
            for name in ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password"):
                if not getattr(self, name):
                    raise ValueError(f"BQ_{name.upper()} must be set when BQ_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol}")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("BQ_KAFKA_SSL_CERTFILE and BQ_KAFKA_SSL_KEYFILE must be set together")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        """Against real QBO, the development defaults would let anyone sign webhooks or read tokens."""
        if self.qbo_environment != "intuit":
            return self
        dev = Settings.model_fields
        for name in ("webhook_verifier_token", "qbo_client_id", "qbo_client_secret"):
            value, default = getattr(self, name), dev[name].default
            plain = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not plain.strip() or plain == (default.get_secret_value() if isinstance(default, SecretStr) else default):
                raise ValueError(
                    f"BQ_{name.upper()} must be set to your Intuit app's value (it is empty or the development default) "
                    "when BQ_QBO_ENVIRONMENT=intuit"
                )
        for name in ("qbo_base_url", "qbo_token_url", "qbo_auth_url"):
            if not getattr(self, name).startswith("https://"):
                raise ValueError(f"BQ_{name.upper()} must be an https:// URL when BQ_QBO_ENVIRONMENT=intuit (got {getattr(self, name)!r})")
        return self

    @property
    def postgres_dsn(self) -> str:
        user, password = quote(self.pg_user, safe=""), quote(self.pg_password.get_secret_value(), safe="")
        dsn = f"postgresql://{user}:{password}@{self.pg_host}:{self.pg_port}/{self.pg_database}"
        tls = {
            k: str(v)
            for k, v in (
                ("sslmode", self.pg_sslmode),
                ("sslrootcert", self.pg_sslrootcert),
                ("sslcert", self.pg_sslcert),
                ("sslkey", self.pg_sslkey),
            )
            if v is not None
        }
        return f"{dsn}?{urlencode(tls)}" if tls else dsn

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap_servers or f"{self.kafka_host}:{self.kafka_port}"

    @property
    def connect_url(self) -> str:
        return f"http://{self.connect_host}:{self.connect_port}"

    @property
    def webhook_url(self) -> str:
        return f"http://{self.worker_web_host}:{self.worker_web_port}/webhooks/qbo"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
