-- Crons (engine/durable/crons.py): rows plus the claim that advances next_run_date exactly once.

-- name: insert
INSERT INTO crons (cron_id, assistant_id, thread_id, schedule, timezone, payload, metadata, enabled,
                   on_run_completed, end_time, next_run_date, user_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING cron_id, assistant_id, thread_id, user_id, end_time, schedule, timezone, payload, next_run_date,
          metadata, on_run_completed, enabled, created_at, updated_at

-- name: get
SELECT cron_id, assistant_id, thread_id, user_id, end_time, schedule, timezone, payload, next_run_date,
       metadata, on_run_completed, enabled, created_at, updated_at
FROM crons WHERE cron_id = $1 AND ($2::jsonb IS NULL OR metadata @> $2::jsonb)  -- $2: the caller's access scope

-- name: lock
SELECT cron_id, assistant_id, thread_id, user_id, end_time, schedule, timezone, payload, next_run_date,
       metadata, on_run_completed, enabled, created_at, updated_at
FROM crons WHERE cron_id = $1 AND ($2::jsonb IS NULL OR metadata @> $2::jsonb) FOR UPDATE

-- name: update
UPDATE crons
SET schedule = $2, timezone = $3, payload = $4, metadata = $5, enabled = $6, on_run_completed = $7,
    end_time = $8, next_run_date = $9, updated_at = now()
WHERE cron_id = $1
RETURNING cron_id, assistant_id, thread_id, user_id, end_time, schedule, timezone, payload, next_run_date,
          metadata, on_run_completed, enabled, created_at, updated_at

-- name: delete
DELETE FROM crons WHERE cron_id = $1 AND ($2::jsonb IS NULL OR metadata @> $2::jsonb) RETURNING cron_id

-- name: search
-- $1 assistant_id, $2 thread_id, $3 enabled, $4 metadata containment, $5 limit, $6 offset, $7 sort_by, $8 order,
-- $9 the caller's access scope (metadata containment; NULL: every cron)
SELECT cron_id, assistant_id, thread_id, user_id, end_time, schedule, timezone, payload, next_run_date,
       metadata, on_run_completed, enabled, created_at, updated_at, count(*) OVER () AS total
FROM crons
WHERE ($1::uuid IS NULL OR assistant_id = $1::uuid)
  AND ($2::uuid IS NULL OR thread_id = $2::uuid)
  AND ($3::boolean IS NULL OR enabled = $3::boolean)
  AND ($4::jsonb IS NULL OR metadata @> $4::jsonb)
  AND ($9::jsonb IS NULL OR metadata @> $9::jsonb)
ORDER BY
    CASE WHEN $8::text = 'asc' THEN CASE $7::text WHEN 'cron_id' THEN cron_id::text
        WHEN 'assistant_id' THEN assistant_id::text WHEN 'thread_id' THEN thread_id::text END END ASC,
    CASE WHEN $8::text = 'desc' THEN CASE $7::text WHEN 'cron_id' THEN cron_id::text
        WHEN 'assistant_id' THEN assistant_id::text WHEN 'thread_id' THEN thread_id::text END END DESC,
    CASE WHEN $8::text = 'asc' THEN CASE $7::text WHEN 'created_at' THEN created_at
        WHEN 'updated_at' THEN updated_at WHEN 'next_run_date' THEN next_run_date
        WHEN 'end_time' THEN end_time END END ASC,
    CASE WHEN $8::text = 'desc' THEN CASE $7::text WHEN 'created_at' THEN created_at
        WHEN 'updated_at' THEN updated_at WHEN 'next_run_date' THEN next_run_date
        WHEN 'end_time' THEN end_time END END DESC,
    created_at DESC, cron_id
LIMIT $5 OFFSET $6

-- name: count
SELECT count(*)
FROM crons
WHERE ($1::uuid IS NULL OR assistant_id = $1::uuid)
  AND ($2::uuid IS NULL OR thread_id = $2::uuid)
  AND ($3::boolean IS NULL OR enabled = $3::boolean)
  AND ($4::jsonb IS NULL OR metadata @> $4::jsonb)
  AND ($5::jsonb IS NULL OR metadata @> $5::jsonb)

-- name: lock_due
-- enabled crons due at $1 and not past their end_time; rows other claimers hold are skipped
SELECT cron_id, assistant_id, thread_id, user_id, end_time, schedule, timezone, payload, next_run_date,
       metadata, on_run_completed, enabled, created_at, updated_at
FROM crons
WHERE enabled AND next_run_date <= $1 AND (end_time IS NULL OR next_run_date <= end_time)
ORDER BY next_run_date
LIMIT $2
FOR UPDATE SKIP LOCKED

-- name: advance
UPDATE crons c
SET next_run_date = n.next_run_date, updated_at = now()
FROM unnest($1::uuid[], $2::timestamptz[]) AS n(cron_id, next_run_date)
WHERE c.cron_id = n.cron_id
