-- Pending OAuth consents for `bottleneck-qbo connect` against real QBO: the CSRF state sent to Intuit
-- and the company it connects. Consumed by the worker's /oauth/callback. No foreign key into
-- public.companies: it would add triggers to Bottleneck's table and block deleting a company.
create table if not exists qbo_sync.oauth_pending (
    state       text        primary key,
    company_id  bigint      not null,
    created_at  timestamptz not null default now()
);
