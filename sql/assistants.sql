-- Assistants and their versions (engine/durable/assistants.py).

-- name: insert_system
INSERT INTO assistants (assistant_id, graph_id, name, metadata)
VALUES ($1, $2, $2, '{"created_by": "system"}')
ON CONFLICT (assistant_id) DO NOTHING
RETURNING assistant_id

-- name: insert
INSERT INTO assistants (assistant_id, graph_id, name, description, config, context, metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (assistant_id) DO NOTHING
RETURNING assistant_id, graph_id, config, context, metadata, name, description, version, created_at, updated_at

-- name: insert_version
INSERT INTO assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata)
SELECT assistant_id, version, graph_id, name, description, config, context, metadata
FROM assistants WHERE assistant_id = $1

-- name: get
SELECT assistant_id, graph_id, config, context, metadata, name, description, version, created_at, updated_at
FROM assistants WHERE assistant_id = $1

-- name: lock
SELECT assistant_id, graph_id, config, context, metadata, name, description, version, created_at, updated_at
FROM assistants WHERE assistant_id = $1 FOR UPDATE

-- name: max_version
SELECT coalesce(max(version), 0) FROM assistant_versions WHERE assistant_id = $1

-- name: update
UPDATE assistants
SET graph_id = $2, name = $3, description = $4, config = $5, context = $6, metadata = $7, version = $8,
    updated_at = now()
WHERE assistant_id = $1
RETURNING assistant_id, graph_id, config, context, metadata, name, description, version, created_at, updated_at

-- name: set_latest
UPDATE assistants a
SET graph_id = v.graph_id, name = v.name, description = v.description, config = v.config, context = v.context,
    metadata = v.metadata, version = v.version, updated_at = now()
FROM assistant_versions v
WHERE a.assistant_id = $1 AND v.assistant_id = $1 AND v.version = $2
RETURNING a.assistant_id, a.graph_id, a.config, a.context, a.metadata, a.name, a.description, a.version,
          a.created_at, a.updated_at

-- name: delete
DELETE FROM assistants WHERE assistant_id = $1 RETURNING assistant_id

-- name: delete_crons
-- a cron of a deleted assistant could never fire
DELETE FROM crons WHERE assistant_id = $1

-- name: delete_threads
DELETE FROM threads WHERE metadata @> jsonb_build_object('assistant_id', $1::text)

-- name: search
-- $1 metadata containment, $2 graph_id, $3 name substring (case-insensitive), $4 limit, $5 offset,
-- $6 sort_by, $7 sort_order ('asc' | 'desc'), $8 the caller's access scope (metadata containment; NULL: all)
SELECT assistant_id, graph_id, config, context, metadata, name, description, version, created_at, updated_at,
       count(*) OVER () AS total
FROM assistants
WHERE ($1::jsonb IS NULL OR metadata @> $1::jsonb)
  AND ($2::text IS NULL OR graph_id = $2::text)
  AND ($3::text IS NULL OR strpos(lower(name), lower($3::text)) > 0)
  AND ($8::jsonb IS NULL OR metadata @> $8::jsonb)
ORDER BY
    CASE WHEN $7::text = 'asc' THEN CASE $6::text WHEN 'assistant_id' THEN assistant_id::text
        WHEN 'graph_id' THEN graph_id WHEN 'name' THEN name END END ASC,
    CASE WHEN $7::text = 'desc' THEN CASE $6::text WHEN 'assistant_id' THEN assistant_id::text
        WHEN 'graph_id' THEN graph_id WHEN 'name' THEN name END END DESC,
    CASE WHEN $7::text = 'asc' THEN CASE $6::text WHEN 'created_at' THEN created_at
        WHEN 'updated_at' THEN updated_at END END ASC,
    CASE WHEN $7::text = 'desc' THEN CASE $6::text WHEN 'created_at' THEN created_at
        WHEN 'updated_at' THEN updated_at END END DESC,
    created_at DESC, assistant_id
LIMIT $4 OFFSET $5

-- name: count
SELECT count(*)
FROM assistants
WHERE ($1::jsonb IS NULL OR metadata @> $1::jsonb)
  AND ($2::text IS NULL OR graph_id = $2::text)
  AND ($3::text IS NULL OR strpos(lower(name), lower($3::text)) > 0)
  AND ($4::jsonb IS NULL OR metadata @> $4::jsonb)

-- name: versions
SELECT assistant_id, version, graph_id, config, context, metadata, name, description, created_at
FROM assistant_versions
WHERE assistant_id = $1 AND ($2::jsonb IS NULL OR metadata @> $2::jsonb)
ORDER BY version DESC
LIMIT $3 OFFSET $4
