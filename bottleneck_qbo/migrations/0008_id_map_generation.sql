-- How many times the product has had to create a document's QBO object anew because QBO no longer had
-- it (reconcile --fix after a deletion in QBO). Part of the create requestid: QBO answers a repeated
-- requestid with its first response, which would name the deleted object again.
alter table qbo_sync.id_map add column if not exists generation integer not null default 0;
