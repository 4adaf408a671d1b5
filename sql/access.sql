-- Access checks for the auth handlers' filters (engine/durable/access.py). A scope is a jsonb
-- containment the resource's metadata must satisfy; NULL means unrestricted.

-- name: thread_in_scope
-- NULL: no such thread; false: it exists but is outside the caller's scope
SELECT ($2::jsonb IS NULL OR metadata @> $2::jsonb) FROM threads WHERE thread_id = $1

-- name: threads_in_scope
SELECT thread_id FROM threads
WHERE thread_id = ANY($1::uuid[]) AND ($2::jsonb IS NULL OR metadata @> $2::jsonb)

-- name: runs_in_scope
-- the given runs whose thread is in scope
SELECT r.run_id FROM runs r JOIN threads t ON t.thread_id = r.thread_id
WHERE r.run_id = ANY($1::uuid[]) AND ($2::jsonb IS NULL OR t.metadata @> $2::jsonb)

-- name: assistant_in_scope
SELECT ($2::jsonb IS NULL OR metadata @> $2::jsonb) FROM assistants WHERE assistant_id = $1
