-- Onboarding (initial load): a company that becomes live and connected (manual -> live, or a realm set
-- while live) gets every publishable row queued once, dependencies first.
--
-- companies has the default replica identity (the product does not alter Bottleneck's tables), so an
-- update event has no `before`: the last state the pipeline saw of each company is kept here instead.
-- Seeded from Bottleneck's current rows, so installing or upgrading does not start a load by itself.
create table if not exists qbo_sync.company_state (
    company_id  bigint primary key,
    realm_id    text,
    sync_mode   text        not null,
    -- the companies row's updated_at this state is from: an older change event (read late) is stale
    row_updated_at  timestamptz,
    updated_at  timestamptz not null default now()
);
insert into qbo_sync.company_state (company_id, realm_id, sync_mode, row_updated_at)
    select id, qbo_realm_id, qbo_sync_mode, updated_at from public.companies
on conflict (company_id) do nothing;

-- One row per initial load. The rows to queue are listed when it starts (onboarding_items, in
-- dependency order); a worker timer drains them to the documents topic batch by batch and advances
-- `queued` only after the broker acknowledged the batch, so a crash re-sends a batch, never skips one.
create table if not exists qbo_sync.onboarding (
    id              bigserial primary key,
    company_id      bigint      not null,
    realm_id        text        not null,
    reason          text        not null,
    started_at      timestamptz not null default now(),
    total           integer     not null default 0,
    queued          integer     not null default 0,
    last_partition  integer,
    last_offset     bigint,
    lease_until     timestamptz,
    finished_at     timestamptz,
    summary         jsonb
);
create unique index if not exists onboarding_one_active on qbo_sync.onboarding (company_id) where finished_at is null;

create table if not exists qbo_sync.onboarding_items (
    job_id          bigint  not null references qbo_sync.onboarding (id) on delete cascade,
    seq             integer not null,
    entity_type     text    not null,
    local_id        bigint  not null,
    kafka_partition integer,
    kafka_offset    bigint,
    primary key (job_id, seq)
);
