-- docker-compose only (mounted into /docker-entrypoint-initdb.d): the role Debezium connects as.
-- The local stack creates the same role in infra/stack/postgres.py; `bottleneck-qbo migrate` grants it its rights.
create role dbz login replication password 'dbz';
