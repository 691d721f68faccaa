-- What Debezium needs. The signal and heartbeat tables live in their own schema `cdc`, not in
-- qbo_sync: both must be in the publication (Debezium reads signals from the WAL stream, and heartbeat
-- writes must reach the slot so it can advance while Bottleneck is quiet), and qbo_sync must never be.
create schema if not exists cdc;

-- Debezium's signal table (source channel): INSERT a row to trigger an ad-hoc incremental snapshot.
create table cdc.debezium_signal (
    id    varchar(42) primary key,
    type  varchar(32) not null,
    data  varchar(2048)
);

-- Written by the connector's heartbeat.action.query.
create table cdc.heartbeat (
    id       int primary key,
    beat_at  timestamptz not null default now()
);

-- The publication Debezium streams (connector: publication.autocreate.mode=disabled). Listed table by
-- table on purpose: a new Bottleneck table is captured only when a migration adds it here.
-- Keep this list equal to the connector's table.include.list (a unit test compares them).
create publication bottleneck_cdc for table
    public.companies, public.customers, public.vendors, public.items, public.lots,
    public.sales_orders, public.sales_order_lines, public.invoices, public.invoice_lines,
    public.purchase_orders, public.purchase_order_lines, public.bills, public.bill_lines,
    public.ship_jobs, public.ship_job_lines, public.receive_jobs, public.receive_job_lines,
    public.invoice_payments, public.bill_payments, public.qbo_publish_requests,
    cdc.debezium_signal, cdc.heartbeat;

-- Replica identity of the line tables and the CDC role's grants are not here: the first alters
-- Bottleneck's tables (an explicit step, `bottleneck-qbo migrate --set-replica-identity`), the second
-- depends on the role's name (settings.pg_cdc_user); see bottleneck_qbo/migrations/__init__.py.
