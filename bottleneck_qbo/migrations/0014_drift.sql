-- Drift: a change QBO reports (CDC) that this product did not make, to a field Bottleneck owns.
-- Bottleneck's schema is a contract, so the per-company policy lives here, not on `companies`.
create table if not exists qbo_sync.drift_policy (
    company_id bigint      primary key,
    policy     text        not null check (policy in ('bottleneck_wins', 'report')),
    updated_at timestamptz not null default now()
);

-- One row per drift seen; an open one (resolved_at null) per document at most. It is resolved when the
-- document is written to QBO again (the id map's record, sinks/qbo/idmap.py), whoever re-drove it.
create table if not exists qbo_sync.drift (
    id             bigserial   primary key,
    company_id     bigint      not null,
    entity_type    text        not null,
    local_id       bigint      not null,
    realm_id       text        not null,
    qbo_entity     text        not null,
    qbo_id         text        not null,
    qbo_sync_token text,
    qbo_updated_at timestamptz,
    fields         jsonb       not null default '[]'::jsonb,  -- [{"field", "bottleneck", "qbo"}]
    policy         text        not null,
    action         text        not null,                      -- "re-pushed" or "reported"
    detected_at    timestamptz not null default now(),
    last_seen_at   timestamptz not null default now(),
    resolved_at    timestamptz,
    resolution     text
);
create unique index if not exists drift_open_per_document on qbo_sync.drift (company_id, entity_type, local_id) where resolved_at is null;
create index if not exists drift_open_by_company on qbo_sync.drift (company_id) where resolved_at is null;
