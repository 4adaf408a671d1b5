-- Named queries of engine/durable/events.py: the append-only event log and its outbox.

-- name: append_events
-- One round trip: hand out gapless sequence numbers for run $1 (the caller holds its row lock), insert
-- the events and their outbox rows. An outbox row refers to its event (the relay builds the message from
-- the `events` row) and holds the subject's prefix $6.
WITH seq AS (
    UPDATE runs SET last_seq = last_seq + cardinality($3::uuid[]), updated_at = now()
    WHERE run_id = $1 RETURNING last_seq - cardinality($3::uuid[]) AS first
), ev AS (
    INSERT INTO events (event_id, run_id, thread_id, seq, event, data)
    SELECT e, $1, $2, seq.first + o, k, d::jsonb
    FROM seq, unnest($3::uuid[], $4::text[], $5::text[]) WITH ORDINALITY AS u(e, k, d, o)
    RETURNING event_id, seq
)
INSERT INTO outbox (event_id, run_id, thread_id, seq, subject_prefix)
SELECT event_id, $1, $2, seq, $6 FROM ev ORDER BY seq
RETURNING seq

-- name: thread_events_after
SELECT run_id, seq, event, data, created_at FROM events
WHERE thread_id = $1 AND created_at >= $2 ORDER BY created_at, run_id, seq LIMIT $3
