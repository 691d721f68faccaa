-- The outbound sync engine's state (bottleneck_qbo/sync): id map columns it relies on, and parking.
-- Written to apply whether or not 0002 already created qbo_sync.id_map (idempotent: if not exists).

create schema if not exists qbo_sync;

create table if not exists qbo_sync.id_map (
    company_id    bigint      not null,
    entity_type   text        not null,
    local_id      bigint      not null,
    realm_id      text        not null,
    qbo_entity    text        not null,
    qbo_id        text,
    sync_token    text,
    payload_hash  text,
    status        text        not null default 'synced',
    last_error    text,
    synced_at     timestamptz,
    primary key (company_id, entity_type, local_id)
);

alter table qbo_sync.id_map add column if not exists sync_token text;
alter table qbo_sync.id_map add column if not exists payload_hash text;
alter table qbo_sync.id_map add column if not exists last_error text;
alter table qbo_sync.id_map add column if not exists synced_at timestamptz;
-- QBO line Id of each Bottleneck line ({"<local line id>": "<QBO Line.Id>"}): Bill lines link to PO lines.
alter table qbo_sync.id_map add column if not exists line_ids jsonb not null default '{}'::jsonb;

create unique index if not exists id_map_document on qbo_sync.id_map (company_id, entity_type, local_id);
create index if not exists id_map_qbo_object on qbo_sync.id_map (realm_id, qbo_entity, qbo_id);

-- Documents that could not sync yet: waiting on a dependency, retrying after a transient error or 429,
-- in conflict, or dead. One row per document; re-driven by SyncEngine.redrive_due().
create table if not exists qbo_sync.sync_parking (
    entity_type       text        not null,
    local_id          bigint      not null,
    company_id        bigint,
    forced            boolean     not null default false,
    state             text        not null check (state in ('waiting', 'retry', 'conflict', 'dead')),
    reason            text        not null,
    fault             jsonb,
    waiting_on_type   text,
    waiting_on_id     bigint,
    attempts          integer     not null default 1,
    next_attempt_at   timestamptz,
    parked_at         timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    primary key (entity_type, local_id)
);
create index if not exists sync_parking_due on qbo_sync.sync_parking (next_attempt_at) where next_attempt_at is not null;
create index if not exists sync_parking_waiting on qbo_sync.sync_parking (waiting_on_type, waiting_on_id) where state = 'waiting';
