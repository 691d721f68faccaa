-- Bottleneck's tables, exactly as in its schema contract (tests/fixtures/bottleneck-schema.sql; a test
-- compares the live database with that file). Added here: an updated_at trigger, and indexes on the
-- foreign keys the pipeline reads documents by.

create table companies (
    id              bigserial primary key,
    name            text        not null,
    qbo_realm_id    text        unique,              -- null: not connected to QuickBooks
    qbo_sync_mode   text        not null default 'live'
                                check (qbo_sync_mode in ('manual', 'live')),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

create table customers (
    id                 bigserial primary key,
    company_id         bigint      not null references companies (id),
    name               text        not null,         -- the name shown everywhere (QBO DisplayName)
    company_name       text,
    email              text,
    phone              text,
    billing_address    jsonb,                        -- {"line1","line2","city","region","postal_code","country"}
    shipping_address   jsonb,
    payment_terms_days integer,
    is_active          boolean     not null default true,
    notes              text,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now()
);

create table vendors (
    id                 bigserial primary key,
    company_id         bigint      not null references companies (id),
    name               text        not null,
    company_name       text,
    email              text,
    phone              text,
    billing_address    jsonb,
    payment_terms_days integer,
    is_active          boolean     not null default true,
    notes              text,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now()
);

-- kind: 'inventory'    tracked by lot (QBO: canonical Inventory item + one Inventory item per lot)
--       'non_tracking' stocked without lots, e.g. water or packaging (QBO: NonInventory)
--       'service'      labour, packaging, discounts; a negative sales_price is a discount (QBO: Service)
create table items (
    id               bigserial primary key,
    company_id       bigint        not null references companies (id),
    sku              text          not null,
    name             text          not null,
    description      text,
    kind             text          not null check (kind in ('inventory', 'non_tracking', 'service')),
    unit_of_measure  text          not null default 'each',
    sales_price      numeric(14,4),
    purchase_cost    numeric(14,4),
    is_active        boolean       not null default true,
    created_at       timestamptz   not null default now(),
    updated_at       timestamptz   not null default now(),
    unique (company_id, sku)
);

create table lots (
    id                bigserial primary key,
    company_id        bigint        not null references companies (id),
    item_id           bigint        not null references items (id),
    lot_code          text          not null,
    quantity_on_hand  numeric(14,4) not null default 0,
    unit_cost         numeric(14,4) not null default 0,
    expires_on        date,
    created_at        timestamptz   not null default now(),
    updated_at        timestamptz   not null default now(),
    unique (item_id, lot_code)
);

-- Documents: 'draft' is never synced; anything else is published.
create table sales_orders (
    id           bigserial primary key,
    company_id   bigint      not null references companies (id),
    number       text        not null,
    customer_id  bigint      not null references customers (id),
    status       text        not null default 'draft'
                             check (status in ('draft', 'open', 'closed', 'cancelled')),
    order_date   date        not null,
    ship_by      date,
    memo         text,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    unique (company_id, number)
);

create table sales_order_lines (
    id              bigserial primary key,
    sales_order_id  bigint        not null references sales_orders (id) on delete cascade,
    line_no         integer       not null,
    item_id         bigint        not null references items (id),
    lot_id          bigint        references lots (id),
    description     text,
    quantity        numeric(14,4) not null,
    unit_price      numeric(14,4) not null,
    created_at      timestamptz   not null default now(),
    updated_at      timestamptz   not null default now(),
    unique (sales_order_id, line_no)
);

create table invoices (
    id              bigserial primary key,
    company_id      bigint      not null references companies (id),
    number          text        not null,
    customer_id     bigint      not null references customers (id),
    sales_order_id  bigint      references sales_orders (id),
    status          text        not null default 'draft'
                                check (status in ('draft', 'open', 'paid', 'void')),
    issue_date      date        not null,
    due_date        date,
    memo            text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (company_id, number)
);

create table invoice_lines (
    id           bigserial primary key,
    invoice_id   bigint        not null references invoices (id) on delete cascade,
    line_no      integer       not null,
    item_id      bigint        not null references items (id),
    lot_id       bigint        references lots (id),
    description  text,
    quantity     numeric(14,4) not null,
    unit_price   numeric(14,4) not null,
    created_at   timestamptz   not null default now(),
    updated_at   timestamptz   not null default now(),
    unique (invoice_id, line_no)
);

create table purchase_orders (
    id           bigserial primary key,
    company_id   bigint      not null references companies (id),
    number       text        not null,
    vendor_id    bigint      not null references vendors (id),
    status       text        not null default 'draft'
                             check (status in ('draft', 'open', 'closed', 'cancelled')),
    order_date   date        not null,
    expected_on  date,
    memo         text,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    unique (company_id, number)
);

create table purchase_order_lines (
    id                 bigserial primary key,
    purchase_order_id  bigint        not null references purchase_orders (id) on delete cascade,
    line_no            integer       not null,
    item_id            bigint        not null references items (id),
    description        text,
    quantity           numeric(14,4) not null,
    unit_cost          numeric(14,4) not null,
    created_at         timestamptz   not null default now(),
    updated_at         timestamptz   not null default now(),
    unique (purchase_order_id, line_no)
);

create table bills (
    id                 bigserial primary key,
    company_id         bigint      not null references companies (id),
    number             text        not null,         -- the vendor's bill number
    vendor_id          bigint      not null references vendors (id),
    purchase_order_id  bigint      references purchase_orders (id),
    status             text        not null default 'draft'
                                   check (status in ('draft', 'open', 'paid', 'void')),
    bill_date          date        not null,
    due_date           date,
    memo               text,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    unique (company_id, vendor_id, number)
);

create table bill_lines (
    id                      bigserial primary key,
    bill_id                 bigint        not null references bills (id) on delete cascade,
    line_no                 integer       not null,
    item_id                 bigint        not null references items (id),
    lot_id                  bigint        references lots (id),
    purchase_order_line_id  bigint        references purchase_order_lines (id),
    description             text,
    quantity                numeric(14,4) not null,
    unit_cost               numeric(14,4) not null,
    created_at              timestamptz   not null default now(),
    updated_at              timestamptz   not null default now(),
    unique (bill_id, line_no)
);

create table ship_jobs (
    id              bigserial primary key,
    company_id      bigint      not null references companies (id),
    sales_order_id  bigint      not null references sales_orders (id),
    status          text        not null default 'pending'
                                check (status in ('pending', 'in_progress', 'completed', 'cancelled')),
    completed_at    timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

create table ship_job_lines (
    id           bigserial primary key,
    ship_job_id  bigint        not null references ship_jobs (id) on delete cascade,
    lot_id       bigint        not null references lots (id),
    quantity     numeric(14,4) not null
);

create table receive_jobs (
    id                 bigserial primary key,
    company_id         bigint      not null references companies (id),
    purchase_order_id  bigint      not null references purchase_orders (id),
    status             text        not null default 'pending'
                                   check (status in ('pending', 'in_progress', 'completed', 'cancelled')),
    completed_at       timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now()
);

create table receive_job_lines (
    id              bigserial primary key,
    receive_job_id  bigint        not null references receive_jobs (id) on delete cascade,
    lot_id          bigint        not null references lots (id),
    quantity        numeric(14,4) not null
);

-- Written by the pipeline from QuickBooks; never synced back. One QBO payment may pay several
-- invoices (bills): one row per (payment, document) with the amount applied to that document.
create table invoice_payments (
    id               bigserial primary key,
    company_id       bigint        not null references companies (id),
    invoice_id       bigint        not null references invoices (id),
    qbo_payment_id   text          not null,
    amount           numeric(14,2) not null,
    paid_on          date          not null,
    method           text,
    reference        text,
    voided_at        timestamptz,
    created_at       timestamptz   not null default now(),
    updated_at       timestamptz   not null default now(),
    unique (company_id, qbo_payment_id, invoice_id)
);

create table bill_payments (
    id                    bigserial primary key,
    company_id            bigint        not null references companies (id),
    bill_id               bigint        not null references bills (id),
    qbo_bill_payment_id   text          not null,
    amount                numeric(14,2) not null,
    paid_on               date          not null,
    method                text,                      -- 'check' or 'credit_card'
    reference             text,
    voided_at             timestamptz,
    created_at            timestamptz   not null default now(),
    updated_at            timestamptz   not null default now(),
    unique (company_id, qbo_bill_payment_id, bill_id)
);

-- "Publish to QuickBooks": the button inserts a row; in manual mode this is the only way an entity
-- reaches QBO, in live mode it forces a sync now.
create table qbo_publish_requests (
    id            bigserial primary key,
    company_id    bigint      not null references companies (id),
    entity_type   text        not null check (entity_type in
                     ('customer', 'vendor', 'item', 'lot', 'sales_order', 'invoice',
                      'purchase_order', 'bill')),
    entity_id     bigint      not null,
    requested_by  text,
    requested_at  timestamptz not null default now()
);

-- Keep updated_at honest when a writer forgets it; an explicit new value is left alone.
create function touch_updated_at() returns trigger language plpgsql as $$
begin
    if new.updated_at is not distinct from old.updated_at then
        new.updated_at := now();
    end if;
    return new;
end $$;

create trigger companies_touch_updated_at before update on companies
    for each row execute function touch_updated_at();
create trigger customers_touch_updated_at before update on customers
    for each row execute function touch_updated_at();
create trigger vendors_touch_updated_at before update on vendors
    for each row execute function touch_updated_at();
create trigger items_touch_updated_at before update on items
    for each row execute function touch_updated_at();
create trigger lots_touch_updated_at before update on lots
    for each row execute function touch_updated_at();
create trigger sales_orders_touch_updated_at before update on sales_orders
    for each row execute function touch_updated_at();
create trigger sales_order_lines_touch_updated_at before update on sales_order_lines
    for each row execute function touch_updated_at();
create trigger invoices_touch_updated_at before update on invoices
    for each row execute function touch_updated_at();
create trigger invoice_lines_touch_updated_at before update on invoice_lines
    for each row execute function touch_updated_at();
create trigger purchase_orders_touch_updated_at before update on purchase_orders
    for each row execute function touch_updated_at();
create trigger purchase_order_lines_touch_updated_at before update on purchase_order_lines
    for each row execute function touch_updated_at();
create trigger bills_touch_updated_at before update on bills
    for each row execute function touch_updated_at();
create trigger bill_lines_touch_updated_at before update on bill_lines
    for each row execute function touch_updated_at();
create trigger ship_jobs_touch_updated_at before update on ship_jobs
    for each row execute function touch_updated_at();
create trigger receive_jobs_touch_updated_at before update on receive_jobs
    for each row execute function touch_updated_at();
create trigger invoice_payments_touch_updated_at before update on invoice_payments
    for each row execute function touch_updated_at();
create trigger bill_payments_touch_updated_at before update on bill_payments
    for each row execute function touch_updated_at();

create index customers_company_idx on customers (company_id);
create index vendors_company_idx on vendors (company_id);
create index lots_item_idx on lots (item_id);
create index invoices_sales_order_idx on invoices (sales_order_id);
create index bills_purchase_order_idx on bills (purchase_order_id);
create index bill_lines_po_line_idx on bill_lines (purchase_order_line_id);
create index ship_jobs_sales_order_idx on ship_jobs (sales_order_id);
create index ship_job_lines_job_idx on ship_job_lines (ship_job_id);
create index receive_jobs_purchase_order_idx on receive_jobs (purchase_order_id);
create index receive_job_lines_job_idx on receive_job_lines (receive_job_id);
create index invoice_payments_invoice_idx on invoice_payments (invoice_id);
create index bill_payments_bill_idx on bill_payments (bill_id);
create index qbo_publish_requests_entity_idx on qbo_publish_requests (company_id, entity_type, entity_id);
