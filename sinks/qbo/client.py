"""QboClient: the QBO Accounting API v3 over async httpx (implements ``sinks.qbo.api.QboApi``).

Layers, httpx style: one transport seam (``transport=``), auth as an httpx flow (``QboOAuth``), the
per-realm limiter around every HTTP call, and every failure turned into the typed error tree by the one
table in ``error_table``. Retries: 429 always (QBO did not execute the request) after pausing the realm;
5xx / timeouts / connection errors for reads and for writes carrying a ``requestid`` (QBO promises to
answer a repeated requestid with the first response), with jittered exponential backoff, a bounded
number of times. Then the typed error is raised and the sync engine decides.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from sinks.qbo.api import JsonObj
from sinks.qbo.auth import REALM_EXTENSION, OAuthClientConfig, QboOAuth, TokenManager, TokenStore
from sinks.qbo.backoff import Backoff
from sinks.qbo.error_table import build_error
from sinks.qbo.errors import (
    QboAuthError,
    QboConfigError,
    QboError,
    QboFault,
    QboLocalValidationError,
    QboRateLimited,
    QboTransientError,
)
from sinks.qbo.fault_parser import faults_from_json, parse_error_body
from sinks.qbo.jsonutil import JsonEncodeError, dumps, loads
from sinks.qbo.limiter import LimiterConfig, LimiterRegistry, RealmBusy, shared_limiter_registry
from sinks.qbo.stats import QboStats
from sinks.qbo.validation import validate_body

if TYPE_CHECKING:
    from bottleneck_qbo.settings import Settings

__all__ = ["MAX_BATCH_ITEMS", "QboClient", "RetryPolicy", "batch_item_error"]

log = logging.getLogger(__name__)

MAX_BATCH_ITEMS = 30  # reference §7: 30 per the API reference and the limits page
MAX_REQUEST_ID = 50
MAX_BATCH_REQUEST_ID = 36
MAX_PAGE_SIZE = 1000
_PAGING = re.compile(r"\b(STARTPOSITION|MAXRESULTS)\b", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[^\s\"',;]+", re.IGNORECASE)
_JWT = re.compile(r"eyJ[\w-]{8,}\.[\w-]+\.[\w-]*")
_RESERVED_RESPONSE_KEYS = {"time", "startPosition", "maxResults", "totalCount"}


class RetryPolicy:
    """Bounded retries with jittered exponential backoff (half fixed, half random)."""

    def __init__(
        self,
        *,
        max_attempts: int = 4,
        base_delay_s: float = 0.5,
        max_delay_s: float = 20.0,
        rate_limit_wait_s: float = 60.0,
        rate_limit_max_retries: int = 10,
        local_wait_max_s: float | None = None,
    ) -> None:
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.rate_limit_wait_s = rate_limit_wait_s
        self.rate_limit_max_retries = rate_limit_max_retries
        # Longest wait for the realm's own request budget before raising QboRateLimited (None: wait).
        self.local_wait_max_s = local_wait_max_s

    def backoff(self, attempt: int) -> float:
        """Wait before retry ``attempt`` (1-based: the first retry is attempt 1)."""
        return Backoff(self.base_delay_s, self.max_delay_s, jitter=True).delay(attempt - 1)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _redact(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "***")
    return _JWT.sub("***", _BEARER.sub(r"\1***", text))


def _redact_faults(faults: list[QboFault], secret: str | None) -> list[QboFault]:
    return [QboFault(f.code, _redact(f.message, secret), _redact(f.detail, secret), f.element) for f in faults]


def _entity_of(data: Any, entity: str) -> JsonObj:
    """The entity object out of ``{"<Entity>": {...}, "time": ...}``."""
    if isinstance(data, Mapping):
        if isinstance(data.get(entity), Mapping):
            return dict(data[entity])
        for key, value in data.items():
            if key not in _RESERVED_RESPONSE_KEYS and isinstance(value, Mapping):
                return dict(value)
    raise QboTransientError(message=f"QBO answered without a {entity} object")


def _query_rows(query_response: Any) -> list[JsonObj]:
    if not isinstance(query_response, Mapping):
        return []
    for key, value in query_response.items():
        if key not in _RESERVED_RESPONSE_KEYS and isinstance(value, list):
            return [dict(v) for v in value]
    return []


def batch_item_error(item: Mapping[str, Any], *, request: str | None = None) -> QboError | None:
    """The typed error of one BatchItemResponse carrying a Fault, else None."""
    faults = faults_from_json(item)
    if not faults:
        return None
    return build_error(400, faults, request=request or f"batch item {item.get('bId', '?')}")


def _local_error(entity: str, exc: JsonEncodeError) -> QboLocalValidationError:
    return QboLocalValidationError(
        message=f"{entity}.{exc.path}: {exc.reason}",
        faults=[QboFault(code="2080", message=exc.reason, element=exc.path)],
        request=f"local validation of {entity}",
    )


def _encode(entity: str, body: Any) -> bytes:
    try:
        return dumps(body)
    except JsonEncodeError as exc:
        raise _local_error(entity, exc) from None


def _check_request_id(request_id: str | None, limit: int = MAX_REQUEST_ID) -> None:
    if request_id is not None and not (0 < len(request_id) <= limit):
        raise QboLocalValidationError(
            message=f"requestid must be 1..{limit} characters (got {len(request_id)})",
            faults=[QboFault(code="2050", message="requestid length", element="requestid")],
        )


class QboClient:
    """Async QBO client. One instance per process is enough; it serves every realm."""

    def __init__(
        self,
        *,
        base_url: str,
        token_manager: TokenManager,
        minor_version: int = 75,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        limiters: LimiterRegistry | None = None,
        retry: RetryPolicy | None = None,
        stats: QboStats | None = None,
        local_validation: bool = True,
    ) -> None:
        self.local_validation = local_validation  # off only to let QBO itself judge (conformance tests)
        self.base_url = base_url.rstrip("/")
        self.minor_version = minor_version
        self.tokens = token_manager
        self.limiters = limiters or shared_limiter_registry(LimiterConfig())
        self.retry = retry or RetryPolicy()
        self.stats = stats or QboStats()
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            auth=QboOAuth(token_manager),
            timeout=timeout_s,
            headers={"Accept": "application/json", "User-Agent": "bottleneck-qbo"},
            follow_redirects=False,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        token_store: TokenStore,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        stats: QboStats | None = None,
    ) -> QboClient:
        oauth = OAuthClientConfig(
            token_url=settings.qbo_token_url,
            client_id=settings.qbo_client_id,
            client_secret=settings.qbo_client_secret,
            timeout_s=settings.qbo_timeout_s,
        )
        manager = TokenManager(
            token_store,
            oauth,
            refresh_margin=timedelta(seconds=settings.qbo_token_refresh_margin_s),
            static_access_token=settings.qbo_access_token,
            transport=transport,
        )
        limits = LimiterConfig(
            requests_per_window=settings.qbo_requests_per_minute,
            max_concurrency=settings.qbo_max_concurrency,
            batch_per_window=settings.qbo_batch_per_minute,
            batch_item_weight=settings.qbo_batch_item_weight,
            window_s=settings.qbo_rate_window_s,
        )
        retry = RetryPolicy(
            max_attempts=settings.qbo_retry_max_attempts,
            base_delay_s=settings.qbo_retry_base_delay_s,
            max_delay_s=settings.qbo_retry_max_delay_s,
            rate_limit_wait_s=settings.qbo_rate_limit_wait_s,
            rate_limit_max_retries=settings.qbo_rate_limit_max_retries,
            local_wait_max_s=settings.qbo_local_wait_max_s,
        )
        return cls(
            base_url=settings.qbo_base_url,
            token_manager=manager,
            minor_version=settings.qbo_minor_version,
            timeout_s=settings.qbo_timeout_s,
            transport=transport,
            limiters=shared_limiter_registry(limits),
            retry=retry,
            stats=stats,
        )

    def paused_for(self, realm_id: str) -> float:
        """Seconds this realm stays paused after a 429 (0 = may call now); lets callers park, not sleep."""
        return self.limiters.for_realm(realm_id).paused_for

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> QboClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- the one request path -------------------------------------------------------------------------

    async def _request(
        self,
        realm_id: str,
        method: str,
        path: str,
        *,
        entity: str,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        retry_transient: bool,
        batch: bool = False,
        weight: int = 1,
    ) -> Any:
        _check_id("realm id", realm_id)
        url = f"/v3/company/{realm_id}/{path}"
        label = f"{method} {url}"  # what errors and logs show: never the query string or headers
        query = {**(params or {}), "minorversion": str(self.minor_version)}
        headers = {"Content-Type": "application/json"} if content is not None else {}
        transient_attempts = 0
        rate_attempts = 0
        while True:
            limiter = self.limiters.for_realm(realm_id)
            if self.retry.rate_limit_max_retries == 0 and (paused := limiter.paused_for) > 0:
                # A caller that does not wait out 429s (the worker parks instead) must not sleep here either.
                raise QboRateLimited(message="QBO realm is paused after a 429; not sent", status=429, request=label, retry_after_s=paused)
            try:
                async with limiter.slot(batch=batch, weight=weight, max_wait_s=self.retry.local_wait_max_s):
                    response = await self._http.request(
                        method,
                        url,
                        params=query,
                        content=content,
                        headers=headers,
                        extensions={REALM_EXTENSION: realm_id},
                    )
            except RealmBusy as busy:
                # Our own limiter says the realm's budget is spent for longer than this caller will wait.
                raise QboRateLimited(
                    message="QBO realm at its request budget; not sent", status=None, request=label, retry_after_s=busy.wait_s
                ) from None
            except QboError:
                raise  # from the auth flow: missing tokens, refresh refused (invalid_grant -> config)
            except httpx.TransportError as exc:
                self.stats.record(realm_id, entity, "error")
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
                error: QboError = QboTransientError(message=f"QBO request {kind} ({type(exc).__name__})", request=label)
                if retry_transient and transient_attempts < self.retry.max_attempts:
                    transient_attempts += 1
                    self.stats.retries[realm_id] += 1
                    log.warning("qbo.retry", extra={"realm_id": realm_id, "request": label, "reason": kind})
                    await asyncio.sleep(self.retry.backoff(transient_attempts))
                    continue
                raise error from None

            for earlier in response.history:  # a 401 the auth flow answered with a refresh
                self.stats.record(realm_id, entity, earlier.status_code)
                if earlier.status_code == 401:
                    self.stats.token_refreshes[realm_id] += 1
            self.stats.record(realm_id, entity, response.status_code)
            status = response.status_code
            data: Any = None
            faults: list[QboFault]
            if 200 <= status < 300:
                try:
                    data = loads(response.content)
                    faults = faults_from_json(data)
                except ValueError:
                    faults = parse_error_body(response.content, response.headers.get("Content-Type", ""))
                    if not faults:
                        raise QboTransientError(
                            message="QBO answered 2xx with a body that is not JSON", status=status, request=label
                        ) from None
                if not faults:
                    return data
            else:
                faults = parse_error_body(response.content, response.headers.get("Content-Type", ""))
            auth_header = response.request.headers.get("Authorization", "")
            secret = auth_header.split(" ", 1)[1] if " " in auth_header else None
            error = build_error(
                status,
                _redact_faults(faults, secret),
                intuit_tid=response.headers.get("intuit_tid"),
                request=label,
                retry_after_s=_retry_after(response) if status == 429 or any(f.code == "3001" for f in faults) else None,
            )
            if isinstance(error, QboRateLimited):
                wait = _retry_after(response)
                error.retry_after_s = self.retry.rate_limit_wait_s if wait is None else wait
                await limiter.rate_limited(error.retry_after_s)
                if rate_attempts < self.retry.rate_limit_max_retries:
                    rate_attempts += 1
                    self.stats.retries[realm_id] += 1
                    log.info("qbo.rate_limited", extra={"realm_id": realm_id, "request": label, "wait_s": error.retry_after_s})
                    continue
                raise error
            if isinstance(error, QboAuthError):
                # The auth flow already refreshed once (or a static token is configured): a human must act.
                raise QboConfigError(
                    message=f"{error.message} (after refreshing the token): reconnect the QBO company",
                    status=error.status,
                    faults=error.faults,
                    intuit_tid=error.intuit_tid,
                    request=label,
                )
            if isinstance(error, QboTransientError) and retry_transient and transient_attempts < self.retry.max_attempts:
                transient_attempts += 1
                self.stats.retries[realm_id] += 1
                log.warning("qbo.retry", extra={"realm_id": realm_id, "request": label, "status": status})
                await asyncio.sleep(self.retry.backoff(transient_attempts))
                continue
            raise error

    # --- QboApi ---------------------------------------------------------------------------------------

    async def create(self, realm_id: str, entity: str, body: Mapping[str, Any], *, request_id: str) -> JsonObj:
        _check_request_id(request_id)
        if self.local_validation:
            validate_body(entity, body, creating=True)
        data = await self._request(
            realm_id,
            "POST",
            entity.lower(),
            entity=entity,
            params={"requestid": request_id},
            content=_encode(entity, body),
            retry_transient=True,
        )
        return _entity_of(data, entity)

    async def read(self, realm_id: str, entity: str, entity_id: str) -> JsonObj:
        _check_id(f"{entity} id", entity_id)
        data = await self._request(realm_id, "GET", f"{entity.lower()}/{entity_id}", entity=entity, retry_transient=True)
        return _entity_of(data, entity)

    async def update(
        self, realm_id: str, entity: str, body: Mapping[str, Any], *, sparse: bool = True, request_id: str | None = None
    ) -> JsonObj:
        _check_request_id(request_id)
        for key in ("Id", "SyncToken"):
            if not body.get(key) and body.get(key) != 0:
                raise QboLocalValidationError(
                    message=f"{entity}.{key}: is required for an update",
                    faults=[QboFault(code="2020", message="required for update", element=key)],
                    request=f"local validation of {entity}",
                )
        payload = {**body, "sparse": sparse}
        if self.local_validation:
            validate_body(entity, payload, creating=False, sparse=sparse)
        data = await self._request(
            realm_id,
            "POST",
            entity.lower(),
            entity=entity,
            params={"requestid": request_id} if request_id else None,
            content=_encode(entity, payload),
            retry_transient=request_id is not None,
        )
        return _entity_of(data, entity)

    async def _operation(
        self, operation: str, realm_id: str, entity: str, entity_id: str, sync_token: str, request_id: str | None
    ) -> JsonObj:
        _check_request_id(request_id)
        params = {"operation": operation}
        if request_id:
            params["requestid"] = request_id
        data = await self._request(
            realm_id,
            "POST",
            entity.lower(),
            entity=entity,
            params=params,
            content=_encode(entity, {"Id": str(entity_id), "SyncToken": str(sync_token)}),
            retry_transient=request_id is not None,
        )
        return _entity_of(data, entity)

    async def void(self, realm_id: str, entity: str, entity_id: str, sync_token: str, *, request_id: str | None = None) -> JsonObj:
        return await self._operation("void", realm_id, entity, entity_id, sync_token, request_id)

    async def delete(self, realm_id: str, entity: str, entity_id: str, sync_token: str, *, request_id: str | None = None) -> JsonObj:
        return await self._operation("delete", realm_id, entity, entity_id, sync_token, request_id)

    async def deactivate(self, realm_id: str, entity: str, entity_id: str, sync_token: str, *, request_id: str | None = None) -> JsonObj:
        """Name lists cannot be deleted in QBO: a sparse update to ``Active: false``."""
        return await self.update(
            realm_id, entity, {"Id": str(entity_id), "SyncToken": str(sync_token), "Active": False}, request_id=request_id
        )

    async def query(self, realm_id: str, statement: str, *, page_size: int = 1000) -> list[JsonObj]:
        if _PAGING.search(statement):
            raise QboLocalValidationError(
                message="query: leave STARTPOSITION/MAXRESULTS out, the client pages itself",
                faults=[QboFault(code="4001", message="paging clause in statement", element="query")],
            )
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise QboLocalValidationError(
                message=f"query: page_size must be 1..{MAX_PAGE_SIZE}",
                faults=[QboFault(code="4001", message="page size out of range", element="MAXRESULTS")],
            )
        match = re.search(r"\bfrom\s+(\w+)", statement, re.IGNORECASE)
        entity = match.group(1) if match else "query"
        rows: list[JsonObj] = []
        start = 1
        while True:
            paged = f"{statement.strip()} STARTPOSITION {start} MAXRESULTS {page_size}"
            data = await self._request(realm_id, "GET", "query", entity=entity, params={"query": paged}, retry_transient=True)
            page = _query_rows(data.get("QueryResponse") if isinstance(data, Mapping) else None)
            rows.extend(page)
            if len(page) < page_size:
                return rows
            start += page_size

    async def batch(self, realm_id: str, items: Sequence[Mapping[str, Any]], *, request_id: str | None = None) -> list[JsonObj]:
        """Send BatchItemRequests (split into calls of <= 30); returns one BatchItemResponse per item, in order.

        Items that fail local validation are not sent: they come back with a ``Fault`` like QBO's
        (``"local": true``), so one bad item never blocks the others.
        """
        _check_request_id(request_id, MAX_BATCH_REQUEST_ID - 3)
        seen: set[str] = set()
        responses: dict[str, JsonObj] = {}
        to_send: list[Mapping[str, Any]] = []
        for index, item in enumerate(items):
            bid = str(item.get("bId") or "")
            if not bid or bid in seen or (request_id and len(bid) > 10):
                raise QboLocalValidationError(
                    message=f"batch item {index}: bId must be present, unique{' and <= 10 chars' if request_id else ''}",
                    faults=[QboFault(code="2020", message="bad bId", element=f"BatchItemRequest[{index}].bId")],
                )
            seen.add(bid)
            if self.local_validation and (local := self._validate_batch_item(item)) is not None:
                responses[bid] = {
                    "bId": bid,
                    "Fault": {
                        "Error": [
                            {
                                "Message": local.message,
                                "Detail": local.message,
                                "code": local.codes[0] if local.codes else "2020",
                                "element": local.faults[0].element if local.faults else "",
                            }
                        ],
                        "type": "ValidationFault",
                        "local": True,
                    },
                }
                continue
            to_send.append(item)
        for n, start in enumerate(range(0, len(to_send), MAX_BATCH_ITEMS)):
            chunk = to_send[start : start + MAX_BATCH_ITEMS]
            params = {"requestid": f"{request_id}-{n}"} if request_id else None
            data = await self._request(
                realm_id,
                "POST",
                "batch",
                entity="batch",
                params=params,
                content=_encode("batch", {"BatchItemRequest": list(chunk)}),
                retry_transient=request_id is not None,
                batch=True,
                weight=len(chunk),
            )
            for answer in data.get("BatchItemResponse", []) if isinstance(data, Mapping) else []:
                if isinstance(answer, Mapping) and "bId" in answer:
                    responses[str(answer["bId"])] = dict(answer)
        out: list[JsonObj] = []
        for item in items:
            bid = str(item["bId"])
            missing = {
                "bId": bid,
                "Fault": {
                    "Error": [{"Message": "QBO returned no response for this item", "Detail": "", "code": "10000", "element": ""}],
                    "type": "SystemFault",
                    "local": True,
                },
            }
            out.append(responses.get(bid, missing))
        return out

    @staticmethod
    def _validate_batch_item(item: Mapping[str, Any]) -> QboLocalValidationError | None:
        operation = str(item.get("operation", "")).lower()
        for key, value in item.items():
            if key in ("bId", "operation", "Query", "CDCQuery", "ReportQuery", "optionsData") or not isinstance(value, Mapping):
                continue
            try:
                if operation == "create":
                    validate_body(key, value, creating=True)
                elif operation == "update":
                    validate_body(key, value, creating=False, sparse=bool(value.get("sparse")))
                dumps(value)
            except QboLocalValidationError as exc:
                return exc
            except JsonEncodeError as exc:
                return _local_error(key, exc)
        return None

    async def cdc(self, realm_id: str, entities: Sequence[str], changed_since: datetime) -> dict[str, list[JsonObj]]:
        if not entities:
            raise QboLocalValidationError(
                message="cdc: at least one entity is required", faults=[QboFault(code="2020", message="entities", element="entities")]
            )
        if changed_since.tzinfo is None:
            changed_since = changed_since.replace(tzinfo=UTC)
        data = await self._request(
            realm_id,
            "GET",
            "cdc",
            entity="cdc",
            params={"entities": ",".join(entities), "changedSince": changed_since.isoformat(timespec="seconds")},
            retry_transient=True,
        )
        out: dict[str, list[JsonObj]] = {name: [] for name in entities}
        blocks = data.get("CDCResponse", []) if isinstance(data, Mapping) else []
        for block in blocks:
            for query_response in block.get("QueryResponse", []) if isinstance(block, Mapping) else []:
                if not isinstance(query_response, Mapping):
                    continue
                for key, value in query_response.items():
                    if key not in _RESERVED_RESPONSE_KEYS and isinstance(value, list):
                        out.setdefault(key, []).extend(dict(v) for v in value)
        return out


_QBO_ID = re.compile(r"[0-9]{1,32}")


def _check_id(what: str, value: str) -> None:
    """Ids go into URL paths: QBO's are decimal digits, so anything else (``1/../../999``) is refused here."""
    if not isinstance(value, str) or not _QBO_ID.fullmatch(value):
        raise QboLocalValidationError(
            message=f"{what} {str(value)[:40]!r} is not a QBO id (digits only, at most 32)",
            faults=[QboFault(code="2020", message="not a QBO id", element=what)],
            request="local validation of the request path",
        )
