-- One shape for the sync state that 0002 and 0003 both describe: the engine keys documents by their
-- bigint Bottleneck id, records a document before QBO has an id for it (parked dependencies), and parks
-- in qbo_sync.sync_parking (0003), which replaces 0002's qbo_sync.parked.
alter table qbo_sync.id_map alter column local_id type bigint using local_id::bigint;
alter table qbo_sync.id_map alter column qbo_id drop not null;
alter table qbo_sync.id_map alter column synced_at drop not null;
drop table if exists qbo_sync.parked;
