-- Create intent: the writer records the requestid (and the natural key it sends) before a create goes out,
-- so only a document with an unconfirmed earlier attempt pays for a natural-key lookup, and the remove path
-- can find (and void) an object whose create reached QBO while its answer was lost.
alter table qbo_sync.id_map add column if not exists create_intent jsonb;

-- Identity: one QBO object stands for at most one live Bottleneck row. Rows mapped to an object another
-- (lower) row already holds, the result of adopting by name before this rule, lose the mapping: the next
-- sync (or `reconcile --fix`) creates their own object under a disambiguated name.
with ranked as (
    select company_id, entity_type, local_id,
           row_number() over (partition by realm_id, qbo_entity, qbo_id order by local_id, entity_type) as n
    from qbo_sync.id_map
    where qbo_id is not null and status not in ('voided', 'deleted', 'inactive', 'gone')
      and entity_type not in ('lot_quantity', 'item_quantity')
)
update qbo_sync.id_map m set qbo_id = null, sync_token = null, payload_hash = null, status = 'gone',
       line_ids = '{}'::jsonb, generation = m.generation + 1,
       last_error = 'shared one QuickBooks object with another Bottleneck row; gets its own on the next sync'
from ranked r
where r.n > 1 and (m.company_id, m.entity_type, m.local_id) = (r.company_id, r.entity_type, r.local_id);

create unique index if not exists id_map_one_row_per_qbo_object on qbo_sync.id_map (realm_id, qbo_entity, qbo_id)
    where qbo_id is not null and status not in ('voided', 'deleted', 'inactive', 'gone')
      and entity_type not in ('lot_quantity', 'item_quantity');
