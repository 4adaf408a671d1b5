-- The key-value store (engine/durable/kv.py). Expired items are invisible and purged periodically.

-- name: put
INSERT INTO store_items (namespace, key, value, ttl_minutes, expires_at)
VALUES ($1, $2, $3, $4, now() + $4 * interval '1 minute')
ON CONFLICT (namespace, key) DO UPDATE
SET value = excluded.value, ttl_minutes = excluded.ttl_minutes, expires_at = excluded.expires_at,
    updated_at = now(),
    -- an item that had expired (but was not purged yet) is new again
    created_at = CASE WHEN store_items.expires_at <= now() THEN now() ELSE store_items.created_at END

-- name: get
-- $3: refresh the ttl of the item on read
WITH touched AS (
    UPDATE store_items
    SET expires_at = now() + ttl_minutes * interval '1 minute'
    WHERE $3::boolean AND namespace = $1 AND key = $2 AND ttl_minutes IS NOT NULL AND expires_at > now()
    RETURNING namespace, key, value, created_at, updated_at
)
SELECT namespace, key, value, created_at, updated_at FROM touched
UNION ALL
SELECT namespace, key, value, created_at, updated_at FROM store_items
WHERE namespace = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > now())
  AND NOT EXISTS (SELECT 1 FROM touched)

-- name: delete
DELETE FROM store_items WHERE namespace = $1 AND key = $2

-- name: search
-- $1 namespace prefix, $2 value containment, $3 jsonb array of objects the value must NOT contain,
-- $4 limit, $5 offset, $6 refresh ttl of the returned items
WITH found AS (
    SELECT namespace, key, value, created_at, updated_at, ttl_minutes
    FROM store_items
    WHERE namespace[1:cardinality($1::text[])] = $1::text[]
      AND (expires_at IS NULL OR expires_at > now())
      AND value @> $2::jsonb
      AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements($3::jsonb) AS n(obj) WHERE value @> n.obj)
    ORDER BY updated_at DESC, namespace, key
    LIMIT $4 OFFSET $5
), touched AS (
    UPDATE store_items s
    SET expires_at = now() + s.ttl_minutes * interval '1 minute'
    FROM found f
    WHERE $6::boolean AND f.ttl_minutes IS NOT NULL AND s.namespace = f.namespace AND s.key = f.key
)
SELECT namespace, key, value, created_at, updated_at FROM found
ORDER BY updated_at DESC, namespace, key

-- name: list_namespaces
-- $1 prefix, $2 suffix (both may hold '*' wildcards), $3 max_depth (null: whole namespace), $4 limit, $5 offset
SELECT DISTINCT CASE WHEN $3::int IS NULL THEN namespace ELSE namespace[1:$3::int] END AS ns
FROM store_items s
WHERE (expires_at IS NULL OR expires_at > now())
  AND cardinality(namespace) >= cardinality($1::text[])
  AND cardinality(namespace) >= cardinality($2::text[])
  AND NOT EXISTS (
      SELECT 1 FROM unnest($1::text[]) WITH ORDINALITY AS p(label, i)
      WHERE p.label <> '*' AND s.namespace[p.i] IS DISTINCT FROM p.label)
  AND NOT EXISTS (
      SELECT 1 FROM unnest($2::text[]) WITH ORDINALITY AS x(label, i)
      WHERE x.label <> '*'
        AND s.namespace[cardinality(s.namespace) - cardinality($2::text[]) + x.i] IS DISTINCT FROM x.label)
ORDER BY ns
LIMIT $4 OFFSET $5

-- name: purge_expired
DELETE FROM store_items WHERE expires_at <= now()
