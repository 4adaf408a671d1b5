-- Named queries of engine/durable/events.py: the append-only event log and its outbox.

-- name: reserve_seq
-- Hand out $2 sequence numbers for run $1; the caller holds the run row lock, so seq is gapless.
UPDATE runs SET last_seq = last_seq + $2, updated_at = now() WHERE run_id = $1 RETURNING last_seq - $2 AS first_seq

-- name: insert_events
INSERT INTO events (event_id, run_id, thread_id, seq, event, data)
SELECT e, r, t, s, k, d::jsonb FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::text[])
     AS u(e, r, t, s, k, d)

-- name: insert_outbox
INSERT INTO outbox (event_id, run_id, thread_id, seq, subject, payload)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::bytea[])

-- name: events_after
SELECT seq, event, data FROM events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3

-- name: thread_events_after
SELECT run_id, seq, event, data, created_at FROM events
WHERE thread_id = $1 AND created_at >= $2 ORDER BY created_at, run_id, seq LIMIT $3
