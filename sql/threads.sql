-- Thread rows (engine/durable/threads.py). State, history and runs live elsewhere.

-- name: insert
-- a new thread as `get` shows it (no checkpoint, no run yet); nothing if the id is taken
INSERT INTO threads (thread_id, metadata, graph_id, ttl)
VALUES ($1, $2, $3, $4)
ON CONFLICT (thread_id) DO NOTHING
RETURNING thread_id, created_at, updated_at, created_at AS state_updated_at, metadata, status, checkpoint_id,
          graph_id, interrupts, ttl, NULL::jsonb AS error

-- name: get
-- the API view of a thread: error comes from the latest run when the thread is in error
SELECT t.thread_id, t.created_at, t.updated_at, coalesce(c.created_at, t.created_at) AS state_updated_at,
       t.metadata, t.status, t.checkpoint_id, t.graph_id, t.interrupts, t.ttl,
       CASE WHEN t.status = 'error' THEN
           (SELECT r.error FROM runs r WHERE r.thread_id = t.thread_id ORDER BY r.created_at DESC LIMIT 1)
       END AS error
FROM threads t LEFT JOIN checkpoints c ON c.checkpoint_id = t.checkpoint_id
WHERE t.thread_id = $1 AND ($2::jsonb IS NULL OR t.metadata @> $2::jsonb)  -- $2: the caller's access scope

-- name: update
UPDATE threads
SET metadata = metadata || $2::jsonb, ttl = coalesce($3::jsonb, ttl), updated_at = now()
WHERE thread_id = $1 AND ($4::jsonb IS NULL OR metadata @> $4::jsonb)  -- $4: the caller's access scope
RETURNING thread_id

-- name: lock_runs_of_threads
-- Deleting threads, first step: every run of them (the cascade deletes them all), in a stable order.
SELECT run_id FROM runs WHERE thread_id = ANY($1::uuid[]) ORDER BY created_at, run_id FOR UPDATE

-- name: lock_threads
SELECT thread_id FROM threads
WHERE thread_id = ANY($1::uuid[]) AND ($2::jsonb IS NULL OR metadata @> $2::jsonb)  -- $2: the caller's access scope
ORDER BY thread_id FOR UPDATE

-- name: active_runs_of_threads
-- `lock_run`'s columns, for the active runs of threads about to be deleted.
SELECT run_id, thread_id, assistant_id, graph_id, status, kwargs, metadata, checkpoint_id, step,
       multitask_strategy, temporary, webhook, cancel_requested, created_at
FROM runs WHERE thread_id = ANY($1::uuid[]) AND status IN ('pending', 'running')
ORDER BY created_at, run_id FOR UPDATE

-- name: delete_locked
DELETE FROM threads WHERE thread_id = ANY($1::uuid[])

-- name: search
-- $1 metadata containment, $2 ids, $3 status, $4 limit, $5 offset, $6 sort_by, $7 sort_order,
-- $8 the caller's access scope (metadata containment from the auth handlers; NULL: every thread)
WITH v AS (
    SELECT t.thread_id, t.created_at, t.updated_at, coalesce(c.created_at, t.created_at) AS state_updated_at,
           t.metadata, t.status, t.checkpoint_id, t.graph_id, t.interrupts, t.ttl,
           CASE WHEN t.status = 'error' THEN
               (SELECT r.error FROM runs r WHERE r.thread_id = t.thread_id ORDER BY r.created_at DESC LIMIT 1)
           END AS error
    FROM threads t LEFT JOIN checkpoints c ON c.checkpoint_id = t.checkpoint_id
    WHERE ($1::jsonb IS NULL OR t.metadata @> $1::jsonb)
      AND ($2::uuid[] IS NULL OR t.thread_id = ANY($2::uuid[]))
      AND ($3::text IS NULL OR t.status = $3::text)
      AND ($8::jsonb IS NULL OR t.metadata @> $8::jsonb)
)
SELECT *, count(*) OVER () AS total
FROM v
ORDER BY
    CASE WHEN $7::text = 'asc' THEN CASE $6::text WHEN 'thread_id' THEN thread_id::text
        WHEN 'status' THEN status END END ASC,
    CASE WHEN $7::text = 'desc' THEN CASE $6::text WHEN 'thread_id' THEN thread_id::text
        WHEN 'status' THEN status END END DESC,
    CASE WHEN $7::text = 'asc' THEN CASE $6::text WHEN 'created_at' THEN created_at
        WHEN 'updated_at' THEN updated_at WHEN 'state_updated_at' THEN state_updated_at END END ASC,
    CASE WHEN $7::text = 'desc' THEN CASE $6::text WHEN 'created_at' THEN created_at
        WHEN 'updated_at' THEN updated_at WHEN 'state_updated_at' THEN state_updated_at END END DESC,
    created_at DESC, thread_id
LIMIT $4 OFFSET $5

-- name: count
SELECT count(*)
FROM threads t
WHERE ($1::jsonb IS NULL OR t.metadata @> $1::jsonb)
  AND ($2::text IS NULL OR t.status = $2::text)
  AND ($3::uuid[] IS NULL OR t.thread_id = ANY($3::uuid[]))
  AND ($4::jsonb IS NULL OR t.metadata @> $4::jsonb)

-- name: copy_thread
INSERT INTO threads (thread_id, metadata, status, interrupts, graph_id, ttl)
SELECT $2, metadata, CASE WHEN status = 'busy' THEN 'idle' ELSE status END, interrupts, graph_id, ttl
FROM threads WHERE thread_id = $1 AND ($3::jsonb IS NULL OR metadata @> $3::jsonb)  -- $3: access scope
RETURNING thread_id

-- name: copy_checkpoints
-- new ids for every checkpoint of $1, parent pointers (column and document) remapped; head moved along
WITH m AS MATERIALIZED (
    SELECT checkpoint_id AS old, gen_random_uuid() AS new FROM checkpoints WHERE thread_id = $1::uuid
), ins AS (
    INSERT INTO checkpoints (checkpoint_id, thread_id, checkpoint_ns, parent_checkpoint_id, run_id, step,
                             checkpoint, metadata, created_at)
    SELECT m.new, $2::uuid, c.checkpoint_ns, p.new, c.run_id, c.step,
           c.checkpoint
               || CASE WHEN c.checkpoint ? 'id' THEN jsonb_build_object('id', m.new::text) ELSE '{}' END
               || CASE WHEN c.checkpoint ? 'parent_id' THEN jsonb_build_object('parent_id', p.new::text)
                       ELSE '{}' END,
           c.metadata
               || CASE WHEN c.metadata ? 'thread_id' THEN jsonb_build_object('thread_id', $2::uuid::text) ELSE '{}' END,
           c.created_at
    FROM checkpoints c JOIN m ON m.old = c.checkpoint_id LEFT JOIN m p ON p.old = c.parent_checkpoint_id
    RETURNING checkpoint_id
)
UPDATE threads
SET checkpoint_id = (SELECT m.new FROM m JOIN threads s ON s.checkpoint_id = m.old WHERE s.thread_id = $1::uuid)
WHERE thread_id = $2::uuid

-- name: prune_keep_latest
-- keep each thread's head (root namespace) and the newest checkpoint of every other namespace
WITH keep AS (
    SELECT checkpoint_id FROM threads WHERE thread_id = ANY($1::uuid[]) AND checkpoint_id IS NOT NULL
    UNION
    (SELECT DISTINCT ON (thread_id, checkpoint_ns) checkpoint_id
     FROM checkpoints
     WHERE thread_id = ANY($1::uuid[]) AND checkpoint_ns <> ''
     ORDER BY thread_id, checkpoint_ns, created_at DESC)
), gone AS (
    DELETE FROM checkpoints c
    WHERE c.thread_id = ANY($1::uuid[]) AND c.checkpoint_id NOT IN (SELECT checkpoint_id FROM keep)
    RETURNING c.checkpoint_id
)
UPDATE checkpoints c
SET parent_checkpoint_id = NULL,
    checkpoint = CASE WHEN c.checkpoint ? 'parent_id' THEN c.checkpoint || '{"parent_id": null}' ELSE c.checkpoint END
WHERE c.checkpoint_id IN (SELECT checkpoint_id FROM keep)
  AND c.parent_checkpoint_id IN (SELECT checkpoint_id FROM gone)

-- name: existing
SELECT thread_id FROM threads WHERE thread_id = ANY($1::uuid[])

-- name: delete_expired
-- threads whose ttl ran out since their last update (and that are not running anything)
DELETE FROM threads
WHERE ttl IS NOT NULL AND status <> 'busy'
  AND updated_at + (ttl->>'ttl_minutes')::double precision * interval '1 minute' < now()
RETURNING thread_id

-- name: delete_events_of_threads
-- A deleted thread's events (no foreign key: events are append-only and written without one), through
-- `events_thread_pos`. Those the relay has not published yet (the `end` events of the runs the deletion
-- interrupted, for the streams still watching them) move into their outbox rows first, in the bytes the
-- relay would have built from them (relay/queries.sql): this reads the unpublished backlog, not the
-- thread's history. A row the relay holds locked is one JetStream has acknowledged and the relay is
-- deleting: skipped, never waited for (no lock order to keep with the relay). Both parts read the
-- statement's one snapshot, in which the events still exist.
WITH kept AS (
    UPDATE outbox o
    SET payload = (SELECT convert_to(jsonb_build_object('event_id', e.event_id, 'run_id', e.run_id,
                                                        'thread_id', e.thread_id, 'seq', e.seq,
                                                        'event', e.event, 'data', e.data)::text, 'UTF8')
                   FROM events e WHERE e.event_id = o.event_id)
    WHERE o.id IN (SELECT id FROM outbox WHERE thread_id = ANY($1::uuid[]) AND payload IS NULL
                   AND published_at IS NULL FOR UPDATE SKIP LOCKED)
)
DELETE FROM events WHERE thread_id = ANY($1::uuid[])
