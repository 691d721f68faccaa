-- Stock: the follow-ups (lot / item quantities) of a document's last synced state, so a change that drops a
-- lot (a removed line, a swapped lot, a deleted document) re-checks it too: [[entity_type, local_id], ...].
alter table qbo_sync.id_map add column if not exists follow_ups jsonb not null default '[]'::jsonb;
