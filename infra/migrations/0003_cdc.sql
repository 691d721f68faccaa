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

-- Line tables carry their parent's id only in the row; with the default replica identity a delete's
-- `before` holds just the line's own id, and the parent document could not be found. FULL puts the
-- whole old row in the event.
alter table sales_order_lines replica identity full;
alter table invoice_lines replica identity full;
alter table purchase_order_lines replica identity full;
alter table bill_lines replica identity full;
alter table ship_job_lines replica identity full;
alter table receive_job_lines replica identity full;

-- The publication Debezium streams (connector: publication.autocreate.mode=disabled). Listed table by
-- table on purpose: a new Bottleneck table is captured only when a migration adds it here.
create publication bottleneck_cdc for table
    companies, customers, vendors, items, lots,
    sales_orders, sales_order_lines, invoices, invoice_lines,
    purchase_orders, purchase_order_lines, bills, bill_lines,
    ship_jobs, ship_job_lines, receive_jobs, receive_job_lines,
    invoice_payments, bill_payments, qbo_publish_requests,
    cdc.debezium_signal, cdc.heartbeat;

-- Debezium connects as its own role `dbz` (LOGIN REPLICATION, created by infra/stack/bootstrap.sql):
-- it reads Bottleneck's tables for snapshots and writes only the signal and heartbeat tables.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'dbz') then
        grant usage on schema public, cdc to dbz;
        grant select on all tables in schema public to dbz;
        grant select, insert, update, delete on cdc.debezium_signal, cdc.heartbeat to dbz;
    end if;
end $$;
