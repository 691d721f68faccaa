-- A realm's QBO budget shared by every worker process (sinks/qbo/budget_ledger.py): blocks of tokens
-- granted to processes, counted for one window after the grant, and a cool-down after a 429.
create table if not exists qbo_sync.qbo_budget (
    realm_id text not null,
    kind text not null check (kind in ('request', 'batch')),
    cooldown_until timestamptz not null default '-infinity',
    primary key (realm_id, kind)
);

create table if not exists qbo_sync.qbo_budget_grant (
    realm_id text not null,
    kind text not null,
    granted_at timestamptz not null,
    tokens integer not null check (tokens > 0),
    holder text not null
);
create index if not exists qbo_budget_grant_window on qbo_sync.qbo_budget_grant (realm_id, kind, granted_at);

-- One round trip per block: lock the realm's row (grants of one realm are serialized; other realms are
-- not), drop grants older than the window, grant up to p_want tokens if at least p_need are free.
-- Each statement of a plpgsql function takes a fresh snapshot, so the sum sees every grant committed
-- before the row lock was ours. Time is the database's clock: one clock for every process.
create or replace function qbo_sync.reserve_qbo_budget(
    p_realm text, p_kind text, p_want integer, p_need integer, p_limit integer, p_window_s double precision, p_holder text
) returns table (granted integer, wait_s double precision, cooldown_s double precision)
language plpgsql as $$
declare
    v_now timestamptz;
    v_cool timestamptz;
    v_used integer;
    v_oldest timestamptz;
    v_free integer;
    v_window interval := make_interval(secs => p_window_s);
begin
    insert into qbo_sync.qbo_budget (realm_id, kind) values (p_realm, p_kind) on conflict do nothing;
    select b.cooldown_until into v_cool from qbo_sync.qbo_budget b
     where b.realm_id = p_realm and b.kind = p_kind for update;
    v_now := clock_timestamp();
    if v_cool > v_now then
        return query select 0, 0.0::double precision, extract(epoch from v_cool - v_now)::double precision;
        return;
    end if;
    delete from qbo_sync.qbo_budget_grant g
     where g.realm_id = p_realm and g.kind = p_kind and g.granted_at <= v_now - v_window;
    select coalesce(sum(g.tokens), 0)::integer, min(g.granted_at) into v_used, v_oldest
      from qbo_sync.qbo_budget_grant g where g.realm_id = p_realm and g.kind = p_kind;
    v_free := p_limit - v_used;
    if v_free >= greatest(p_need, 1) then
        insert into qbo_sync.qbo_budget_grant (realm_id, kind, granted_at, tokens, holder)
        values (p_realm, p_kind, v_now, least(p_want, v_free), p_holder);
        return query select least(p_want, v_free), 0.0::double precision, 0.0::double precision;
    else
        return query select 0, greatest(0.05, extract(epoch from v_oldest + v_window - v_now))::double precision, 0.0::double precision;
    end if;
end
$$;

-- After a 429 seen by any process: every process's next reservation for the realm waits until then.
create or replace function qbo_sync.cool_down_qbo_budget(p_realm text, p_seconds double precision) returns void
language sql as $$
    insert into qbo_sync.qbo_budget (realm_id, kind, cooldown_until)
    select p_realm, k, clock_timestamp() + make_interval(secs => p_seconds) from unnest(array['request', 'batch']) k
    on conflict (realm_id, kind) do update
       set cooldown_until = greatest(qbo_sync.qbo_budget.cooldown_until, excluded.cooldown_until);
$$;
