"""QboClient keeps the shared QboApi contract the sync engine is written against."""

import inspect

from bottleneck_qbo.settings import Settings
from sinks.qbo.api import QboApi
from sinks.qbo.auth import InMemoryTokenStore
from sinks.qbo.client import QboClient


def test_every_protocol_method_has_the_same_signature() -> None:
    names = [n for n, v in vars(QboApi).items() if inspect.iscoroutinefunction(v)]
    assert set(names) >= {"create", "read", "update", "void", "delete", "query", "batch", "cdc"}
    for name in names:
        expected = inspect.signature(getattr(QboApi, name))
        actual = inspect.signature(getattr(QboClient, name))
        assert [(p.name, p.kind, p.default) for p in actual.parameters.values()] == [
            (p.name, p.kind, p.default) for p in expected.parameters.values()
        ], name
        assert inspect.iscoroutinefunction(getattr(QboClient, name))


def test_clients_built_from_the_same_settings_share_per_realm_limiters() -> None:
    settings = Settings(qbo_requests_per_minute=123, qbo_max_concurrency=4)
    a = QboClient.from_settings(settings, InMemoryTokenStore())
    b = QboClient.from_settings(settings, InMemoryTokenStore())
    assert a.limiters is b.limiters
    assert a.limiters.config.requests_per_window == 123 and a.limiters.config.max_concurrency == 4
    assert a.minor_version == 75 and a.base_url == settings.qbo_base_url.rstrip("/")
    import asyncio

    asyncio.run(a.aclose())
    asyncio.run(b.aclose())
