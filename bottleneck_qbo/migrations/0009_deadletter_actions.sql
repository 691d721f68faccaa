-- What an operator did to a dead letter (bottleneck-qbo deadletters retry / drop): the topic is never
-- rewritten, so this is how a re-driven letter is not re-sent by the next `retry --all`.
-- letter_id is "<partition>-<offset>" on `topic` (the dead-letter topic).
create table if not exists qbo_sync.deadletter_actions (
    topic      text        not null,
    letter_id  text        not null,
    action     text        not null check (action in ('retried', 'dropped')),
    acted_by   text        not null default 'cli',
    acted_at   timestamptz not null default now(),
    letter     jsonb,
    primary key (topic, letter_id)
);
