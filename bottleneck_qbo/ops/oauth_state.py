"""Pending OAuth consents: the CSRF ``state`` sent to Intuit, bound to the company (and realm) it connects.

The state reads ``<company>.<realm or empty>.<random>``: the company it was issued for and, when that
company is already connected (a reconnect), the only realm its callback may name. The whole string is the
row's key in ``qbo_sync.oauth_pending``, so neither part can be edited without the state becoming unknown;
the callback checks both before it spends the authorization code or stores any token
(``check_callback``), so a consent completed for another realm cannot overwrite that realm's tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

from bottleneck_qbo.ops import onboarding
from sinks.qbo.oauth_connect import new_state

# States older than this are refused: a consent link is for now, not for later.
STATE_TTL = "30 minutes"
_STATE = re.compile(r"(?P<company>[0-9]{1,19})\.(?P<realm>[0-9]{0,32})\.(?P<nonce>[A-Za-z0-9_-]{16,64})")
_REALM = re.compile(r"[0-9]{1,32}")


class CallbackRefused(ValueError):
    """The redirect does not belong to a pending consent, or names a realm it was not issued for."""


@dataclass(frozen=True)
class StateBinding:
    company_id: int
    realm_id: str | None  # None: a first connection (any realm not connected elsewhere)


def make_state(company_id: int, realm_id: str | None) -> str:
    return f"{company_id}.{realm_id or ''}.{new_state()}"


def parse_state(state: str) -> StateBinding:
    m = _STATE.fullmatch(state or "")
    if m is None:
        raise CallbackRefused("malformed state")
    return StateBinding(company_id=int(m["company"]), realm_id=m["realm"] or None)


def check_callback(binding: StateBinding, realm_id: str) -> None:
    """Pure: the callback's ``realmId`` is well formed and the one the state was issued for (if any)."""
    if not _REALM.fullmatch(realm_id or ""):
        raise CallbackRefused("realmId is missing or not a QBO realm id")
    if binding.realm_id is not None and binding.realm_id != realm_id:
        raise CallbackRefused(f"this consent was started for realm {binding.realm_id}, not {realm_id}")


def remember_state(dsn: str, company_id: int) -> str:
    """A new state for ``company_id``, bound to its current realm if it is connected already."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Checked here rather than by a foreign key into Bottleneck's table (see migration 0006).
        if not conn.execute("select 1 from public.companies where id = %s", (company_id,)).fetchone():
            raise ValueError(f"no Bottleneck company {company_id}")
        row = conn.execute("select qbo_realm_id from companies where id = %s", (company_id,)).fetchone()
        state = make_state(company_id, row[0] if row else None)
        conn.execute("insert into qbo_sync.oauth_pending (state, company_id) values (%s, %s)", (state, company_id))
    return state


async def take_state(conn: psycopg.AsyncConnection, state: str) -> StateBinding:
    """Consume a pending state (it works once) and return what it is bound to; raises ``CallbackRefused``
    when it is unknown, expired or was issued for another company than it names."""
    binding = parse_state(state)
    cur = await conn.execute(
        f"delete from qbo_sync.oauth_pending where state = %s and created_at > now() - interval '{STATE_TTL}' returning company_id",
        (state,),
    )
    row = await cur.fetchone()
    if row is None:
        raise CallbackRefused("unknown or expired connect attempt")
    if int(row[0]) != binding.company_id:
        raise CallbackRefused("the state was issued for another company")
    return binding


async def check_link(conn: psycopg.AsyncConnection, company_id: int, realm_id: str) -> None:
    """Before any token is stored: the company exists, is not connected to another realm, and the realm
    is not connected to another company."""
    cur = await conn.execute("select qbo_realm_id from companies where id = %s", (company_id,))
    row = await cur.fetchone()
    if row is None:
        raise CallbackRefused(f"company {company_id} does not exist in Bottleneck")
    if row[0] not in (None, realm_id):
        raise CallbackRefused(f"company {company_id} is already connected to realm {row[0]}; disconnect it first")
    cur = await conn.execute("select id from companies where qbo_realm_id = %s and id <> %s", (realm_id, company_id))
    other = await cur.fetchone()
    if other:
        raise CallbackRefused(f"realm {realm_id} is already connected to company {other[0]}")


async def link(conn: psycopg.AsyncConnection, company_id: int, realm_id: str) -> None:
    """Set ``companies.qbo_realm_id`` (re-checked in the same statement: a race loses, it does not steal)
    and, in the same transaction, start the company's initial load when it is live (``onboarding``)."""
    async with conn.transaction():
        await _link(conn, company_id, realm_id)
        await onboarding.observe_row(conn, company_id, reason="connect", force=True)


async def _link(conn: psycopg.AsyncConnection, company_id: int, realm_id: str) -> None:
    cur = await conn.execute(
        "update companies set qbo_realm_id = %s, updated_at = now() where id = %s and (qbo_realm_id is null or qbo_realm_id = %s)"
        " and not exists (select 1 from companies o where o.qbo_realm_id = %s and o.id <> %s)",
        (realm_id, company_id, realm_id, realm_id, company_id),
    )
    if cur.rowcount != 1:
        raise CallbackRefused(f"company {company_id} could not be linked to realm {realm_id} (connected meanwhile)")
