-- Named queries of api/live.py and api/stream.py: replay and gap-fill of SSE streams from `events`.

-- name: run_events_after
SELECT seq, event, data, created_at FROM events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3

-- name: run_events_upto
SELECT seq, event, data, created_at FROM events WHERE run_id = $1 AND seq <= $2 ORDER BY seq

-- name: run_last_seq
SELECT status, last_seq, kwargs, graph_id FROM runs WHERE run_id = $1

-- name: thread_events_after
SELECT pos, run_id, seq, event, data, created_at FROM events
WHERE thread_id = $1 AND pos > $2 ORDER BY pos LIMIT $3

-- name: thread_last_pos
SELECT coalesce(max(pos), 0) FROM events WHERE thread_id = $1

-- name: event_at_pos
SELECT run_id, seq FROM events WHERE thread_id = $1 AND pos = $2

-- name: runs_stream_kwargs
SELECT run_id, kwargs, graph_id FROM runs WHERE run_id = ANY($1::uuid[])
