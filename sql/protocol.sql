-- Named queries of api/protocol: the thread-centric streaming protocol.

-- name: active_run_start
-- Where a subscription without `since` starts: just before the first event of the thread's running run
-- (a pending run has none yet), or of its last run when that one stopped at an interrupt (a client
-- reattaching learns the pending interrupts), else after the thread's last event.
SELECT coalesce(
    (SELECT min(e.pos) - 1 FROM events e JOIN runs r ON r.run_id = e.run_id
     WHERE r.thread_id = $1 AND r.status = 'running' AND e.thread_id = $1),
    (SELECT min(e.pos) - 1 FROM events e
     WHERE e.thread_id = $1 AND (SELECT status FROM threads WHERE thread_id = $1) = 'interrupted'
       AND e.run_id = (SELECT run_id FROM runs WHERE thread_id = $1 ORDER BY created_at DESC LIMIT 1)),
    (SELECT max(pos) FROM events WHERE thread_id = $1),
    0)

-- name: run_first_pos
SELECT coalesce(min(pos) - 1, (SELECT max(pos) FROM events WHERE thread_id = $2), 0)
FROM events WHERE run_id = $1

-- name: last_run_of_thread
SELECT run_id, assistant_id, thread_id FROM runs WHERE thread_id = $1 ORDER BY created_at DESC LIMIT 1

-- name: run_of_thread
SELECT run_id FROM runs WHERE run_id = $1 AND thread_id = $2

-- name: pending_interrupt_ids
SELECT i->>'id' FROM threads t, jsonb_each(t.interrupts) AS e(task, list), jsonb_array_elements(e.list) AS i
WHERE t.thread_id = $1
