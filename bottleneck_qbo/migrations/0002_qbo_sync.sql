-- The pipeline's own state. Schema qbo_sync is never in the Debezium publication (see 0003), so
-- nothing written here is captured or echoed back.
create schema if not exists qbo_sync;

-- Bottleneck id -> QBO id, with what was last sent (payload_hash) so an unchanged replay costs no call.
create table qbo_sync.id_map (
    company_id    bigint      not null,
    entity_type   text        not null,
    local_id      text        not null,
    realm_id      text        not null,
    qbo_entity    text        not null,
    qbo_id        text        not null,
    sync_token    text,
    payload_hash  text,
    status        text        not null default 'synced',
    last_error    text,
    synced_at     timestamptz not null default now(),
    primary key (company_id, entity_type, local_id)
);
create index id_map_qbo_idx on qbo_sync.id_map (realm_id, qbo_entity, qbo_id);

create table qbo_sync.oauth_tokens (
    realm_id            text primary key,
    access_token        text,
    access_expires_at   timestamptz,
    refresh_token       text,
    refresh_expires_at  timestamptz,
    updated_at          timestamptz not null default now()
);

-- QBO CDC endpoint checkpoint per realm (inbound payments catch-up).
create table qbo_sync.cdc_checkpoints (
    realm_id       text primary key,
    changed_since  timestamptz not null,
    updated_at     timestamptz default now()
);

-- Records that could not be synced yet: waiting on a dependency, in conflict, or dead.
create table qbo_sync.parked (
    company_id       bigint  not null,
    entity_type      text    not null,
    local_id         text    not null,
    kind             text    not null check (kind in ('waiting', 'conflict', 'dead')),
    reason           text    not null,
    attempts         int     not null default 0,
    next_attempt_at  timestamptz,
    event            jsonb,
    created_at       timestamptz default now(),
    updated_at       timestamptz default now(),
    primary key (company_id, entity_type, local_id)
);
create index parked_due_idx on qbo_sync.parked (next_attempt_at) where next_attempt_at is not null;
