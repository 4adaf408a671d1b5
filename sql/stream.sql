-- Named queries of api/live.py and api/stream.py: replay and gap-fill of SSE streams from `events`.

-- name: run_events_after
SELECT seq, event, data, created_at FROM events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3

-- name: run_stream_info
SELECT run_id, thread_id, status, last_seq, kwargs, graph_id FROM runs WHERE run_id = $1

-- name: thread_events_after
SELECT pos, run_id, seq, event, data, created_at FROM events
WHERE thread_id = $1 AND pos > $2 ORDER BY pos LIMIT $3

-- name: thread_last_pos
SELECT coalesce(max(pos), 0) FROM events WHERE thread_id = $1

-- name: run_events_before_pos
SELECT seq, event, data, created_at FROM events WHERE run_id = $1 AND pos < $2 ORDER BY seq

-- name: run_base_checkpoint
-- The checkpoint a run started from: the parent of its first own checkpoint (none on a new thread), or
-- (no checkpoint of its own yet) its current one.
WITH first AS (
    SELECT (data->>'parent_checkpoint_id')::uuid AS parent FROM events
    WHERE run_id = $1 AND event = 'checkpoint' ORDER BY seq LIMIT 1
)
SELECT duragraph_checkpoint_doc(checkpoint, checkpoint_id, parent_checkpoint_id, step, checkpoint_ns) AS checkpoint
FROM checkpoints WHERE checkpoint_id = CASE
    WHEN EXISTS (SELECT 1 FROM first) THEN (SELECT parent FROM first)
    ELSE (SELECT checkpoint_id FROM runs WHERE run_id = $1) END

-- name: thread_exists
SELECT 1 FROM threads WHERE thread_id = $1
