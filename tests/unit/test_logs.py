"""The worker's log lines: JSON with the call's context, readable text on a terminal, never a secret."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
from pydantic import SecretStr

from bottleneck_qbo.logs import log_context, logging_config, register_secret


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def capture() -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    logging.config.dictConfig(logging_config("info", "auto", out))
    return logging.getLogger("bq.test"), out


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_carry_the_extra_context_and_the_task_context(capture: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = capture
    with log_context(company_id=3, realm_id="9130", topic="bottleneck.documents", partition=1, offset=42):
        log.warning("dead-letter %s/%s", "sync", "mapping", extra={"entity_type": "customer", "local_id": "17", "qbo_id": "58"})
    (line,) = _lines(out)
    assert line["message"] == "dead-letter sync/mapping" and line["level"] == "WARNING" and line["logger"] == "bq.test"
    assert {k: line[k] for k in ("company_id", "realm_id", "entity_type", "local_id", "qbo_id", "topic", "partition", "offset")} == {
        "company_id": 3,
        "realm_id": "9130",
        "entity_type": "customer",
        "local_id": "17",
        "qbo_id": "58",
        "topic": "bottleneck.documents",
        "partition": 1,
        "offset": 42,
    }
    log.info("outside the block")
    assert "company_id" not in _lines(out)[1]


def test_a_token_in_a_log_call_does_not_appear(capture: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = capture
    access = "eyJhbGciOiJIUzI1NiJ9.access-token-value-123"
    refresh = "AB11-refresh-token-value-456"
    register_secret(SecretStr("verifier-secret-789"))
    log.info("refreshed tokens: %s", {"access_token": access, "refresh_token": refresh})
    log.info("calling QBO with Authorization: Bearer %s", access)
    log.info("token response access_token=%s&refresh_token=%s", access, refresh)
    log.info("connecting to postgresql://bottleneck:hunter2pw@db:5432/bottleneck")
    log.info("webhook signed with %s", "verifier-secret-789")
    log.info("stored", extra={"refresh_token": refresh, "client_secret": "cs-0000"})
    try:
        raise RuntimeError(f"refresh failed for refresh_token={refresh}")
    except RuntimeError:
        log.exception("oauth")
    text = out.getvalue()
    for secret in (access, refresh, "hunter2pw", "verifier-secret-789", "cs-0000", "access-token-value"):
        assert secret not in text
    assert len(text.splitlines()) >= 7 and "***" in text


def test_text_on_a_terminal_with_context_after_the_message() -> None:
    out = _Tty()
    logging.config.dictConfig(logging_config("info", "auto", out))
    with log_context(company_id=5):
        logging.getLogger("bq.test").info("synced %s", "invoice 9", extra={"qbo_id": "130"})
    line = out.getvalue().strip()
    assert not line.startswith("{")
    assert "INFO" in line and "bq.test: synced invoice 9" in line and "company_id=5" in line and "qbo_id=130" in line
