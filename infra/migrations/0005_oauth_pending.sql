-- Pending OAuth consents for `bottleneck-qbo connect` against real QBO: the CSRF state sent to Intuit
-- and the company it connects. Consumed by the worker's /oauth/callback.
create table if not exists qbo_sync.oauth_pending (
    state       text        primary key,
    company_id  bigint      not null references public.companies (id),
    created_at  timestamptz not null default now()
);
