-- Per-company sales-tax settings (issue 13), set with `bottleneck-qbo tax set`; read by the engine and
-- handed to the mappers (mappers/tax.py). No row = a US company whose lines carry no tax code.
-- US: a line tax code (TAX/NON) per item kind, overridden per item, and whether QBO's automated sales tax
-- is on. Non-US (CA, GB, AU...): the TaxCode Ids every sales and purchase line gets.
-- No foreign keys into Bottleneck's tables: a setting must never block a delete in Bottleneck.
create table if not exists qbo_sync.tax_settings (
    company_id           bigint      primary key,
    country              text        not null default 'US' check (country ~ '^[A-Z]{2}$'),
    automated_sales_tax  boolean     not null default false,
    code_by_kind         jsonb       not null default '{}'::jsonb,
    sales_tax_code       text,
    purchase_tax_code    text,
    updated_at           timestamptz not null default now(),
    check (country = 'US' or not automated_sales_tax)
);

create table if not exists qbo_sync.tax_item_codes (
    company_id  bigint not null,
    item_id     bigint not null,
    tax_code    text   not null check (tax_code in ('TAX', 'NON')),
    primary key (company_id, item_id)
);
