-- Deployments that applied the first 0005 have a foreign key from qbo_sync.oauth_pending into
-- public.companies: it put triggers on Bottleneck's table and blocked deleting a company with a
-- pending consent. The product never constrains Bottleneck's tables; the company is checked when the
-- consent is issued (bottleneck_qbo/ops/oauth_state.py).
alter table qbo_sync.oauth_pending drop constraint if exists oauth_pending_company_id_fkey;
