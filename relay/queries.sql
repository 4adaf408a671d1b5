-- Named queries of relay/outbox.py. The relay's whole contract with the engine is the outbox table.

-- name: try_lock
SELECT pg_try_advisory_lock($1::bigint)

-- name: mark_and_fetch
-- Mark the rows $1 published, then fetch the oldest $2 unpublished rows: one statement, one round trip.
-- Never a high-water mark: ids of different runs commit out of order. Within a run, id order is seq order.
-- The SELECT reads the snapshot from before the UPDATE, in which the rows just marked are still
-- unpublished: hence `<> ALL($1)`. The uuids come as text: they only ever go into message headers.
WITH marked AS (
    UPDATE outbox SET published_at = now()
    WHERE id = ANY($1::bigint[]) AND published_at IS NULL
)
SELECT id, event_id::text, run_id::text, thread_id::text, seq, subject, payload,
       extract(epoch FROM clock_timestamp() - created_at)::float8 AS age
FROM outbox
WHERE published_at IS NULL AND id <> ALL($1::bigint[])
ORDER BY id
LIMIT $2

-- name: count_unpublished
SELECT count(*) FROM outbox WHERE published_at IS NULL

-- name: mark_published
UPDATE outbox SET published_at = now()
WHERE id = ANY($1::bigint[]) AND published_at IS NULL

-- name: delete_expired
WITH doomed AS (
    SELECT id FROM outbox
    WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1::double precision)
    ORDER BY published_at
    LIMIT $2
)
DELETE FROM outbox o USING doomed WHERE o.id = doomed.id
