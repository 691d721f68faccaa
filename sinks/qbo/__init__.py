"""The QBO client layer: HTTP client, OAuth, limits, error classification, exact JSON, webhook signatures."""

from sinks.qbo.api import JsonObj, QboApi
from sinks.qbo.auth import (
    InMemoryTokenStore,
    OAuthClientConfig,
    PostgresTokenStore,
    QboOAuth,
    TokenManager,
    TokenSet,
    TokenStore,
)
from sinks.qbo.client import MAX_BATCH_ITEMS, QboClient, RetryPolicy, batch_item_error
from sinks.qbo.error_table import ERROR_TABLE, ErrorResolution, ResponseAction, build_error, resolve
from sinks.qbo.errors import (
    FailureType,
    QboAuthError,
    QboConfigError,
    QboDuplicateDocNumber,
    QboDuplicateName,
    QboError,
    QboFault,
    QboLocalValidationError,
    QboNotFound,
    QboRateLimited,
    QboStaleSyncToken,
    QboTransientError,
    QboValidationError,
)
from sinks.qbo.limiter import LimiterConfig, LimiterRegistry, RealmLimiter, shared_limiter_registry
from sinks.qbo.stats import QboStats
from sinks.qbo.webhook_signature import sign_intuit_payload, verify_intuit_signature

__all__ = [
    "ERROR_TABLE",
    "MAX_BATCH_ITEMS",
    "ErrorResolution",
    "FailureType",
    "InMemoryTokenStore",
    "JsonObj",
    "LimiterConfig",
    "LimiterRegistry",
    "OAuthClientConfig",
    "PostgresTokenStore",
    "QboApi",
    "QboAuthError",
    "QboClient",
    "QboConfigError",
    "QboDuplicateDocNumber",
    "QboDuplicateName",
    "QboError",
    "QboFault",
    "QboLocalValidationError",
    "QboNotFound",
    "QboOAuth",
    "QboRateLimited",
    "QboStaleSyncToken",
    "QboStats",
    "QboTransientError",
    "QboValidationError",
    "RealmLimiter",
    "ResponseAction",
    "RetryPolicy",
    "TokenManager",
    "TokenSet",
    "TokenStore",
    "batch_item_error",
    "build_error",
    "resolve",
    "shared_limiter_registry",
    "sign_intuit_payload",
    "verify_intuit_signature",
]
