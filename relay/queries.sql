-- Named queries of relay/outbox.py. The relay's whole contract with the engine is the outbox table (and
-- the `events` rows its rows refer to).

-- name: try_lock
SELECT pg_try_advisory_lock($1::bigint)

-- name: delete_and_fetch
-- Delete the rows $1 (published), then fetch the oldest $2 unpublished rows: one statement, one round trip.
-- Never a high-water mark: ids of different runs commit out of order. Within a run, id order is seq order.
-- The SELECT reads the snapshot from before the DELETE, in which the rows just deleted still exist: hence
-- `<> ALL($1)`. The rows are chosen first (`next`: its LIMIT keeps the join below from building a message
-- for every row of the backlog, whatever the planner thinks of the table's size), then each message is
-- built from the row's event: the bytes the engine used to store in the row (`payload`, which rows
-- written before migration 0014, and a deleted thread's unpublished rows, still carry); the subject from
-- the row's prefix (or its stored `subject`, likewise). `payload` is NULL for a row whose event is gone:
-- the relay skips it. The uuids come as text: they only ever go into message headers.
WITH done AS (
    DELETE FROM outbox WHERE id = ANY($1::bigint[])
), next AS (
    SELECT id, event_id, run_id, thread_id, seq, subject, subject_prefix, payload, created_at FROM outbox
    WHERE published_at IS NULL AND id <> ALL($1::bigint[])
    ORDER BY id
    LIMIT $2
)
SELECT o.id, o.event_id::text, o.run_id::text, o.thread_id::text, o.seq,
       COALESCE(o.subject, o.subject_prefix || '.events.' || o.thread_id::text || '.' || o.run_id::text),
       COALESCE(o.payload, CASE WHEN e.event_id IS NOT NULL THEN
           convert_to(jsonb_build_object('event_id', e.event_id, 'run_id', e.run_id, 'thread_id', e.thread_id,
                                         'seq', e.seq, 'event', e.event, 'data', e.data)::text, 'UTF8') END),
       extract(epoch FROM clock_timestamp() - o.created_at)::float8 AS age
FROM next o LEFT JOIN events e ON o.payload IS NULL AND e.event_id = o.event_id
ORDER BY o.id

-- name: count_unpublished
SELECT count(*) FROM outbox WHERE published_at IS NULL

-- name: delete_published
DELETE FROM outbox WHERE id = ANY($1::bigint[])

-- name: delete_marked
-- Rows a relay of the version before migration 0014 marked published instead of deleting them (a rolling
-- deploy), a bounded batch at a time.
WITH doomed AS (
    SELECT id FROM outbox WHERE published_at IS NOT NULL ORDER BY published_at LIMIT $1
)
DELETE FROM outbox o USING doomed WHERE o.id = doomed.id
