-- Named queries of engine/durable/migrate.py (the migration runner's own bookkeeping).

-- name: lock
SELECT pg_advisory_lock($1)

-- name: unlock
SELECT pg_advisory_unlock($1)

-- name: procrastinate_installed
SELECT to_regclass('procrastinate_jobs')

-- name: applied_versions
SELECT version FROM duragraph_migrations

-- name: record_version
INSERT INTO duragraph_migrations (version, name) VALUES ($1, $2)
