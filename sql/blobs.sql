-- Channel values of checkpoints (engine/durable/blobs.py).

-- name: insert_blobs
-- the blobs of new checkpoints; a version is written once (a re-delivered step writes the same rows)
INSERT INTO checkpoint_blobs (thread_id, channel, version, base, depth, data)
SELECT $1, c, v, b, d, x
FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::bytea[]) AS u(c, v, b, d, x)
ON CONFLICT DO NOTHING

-- name: blob_chains
-- for each (channel, version): its row and the rows of the versions it extends, down to a full value
WITH RECURSIVE chain AS (
    SELECT b.channel, b.version, b.base, b.depth, b.value, b.data, u.c AS channel0, u.v AS version0
    FROM unnest($2::text[], $3::text[]) AS u(c, v)
    JOIN checkpoint_blobs b ON b.thread_id = $1 AND b.channel = u.c AND b.version = u.v
    UNION ALL
    SELECT b.channel, b.version, b.base, b.depth, b.value, b.data, chain.channel0, chain.version0
    FROM chain JOIN checkpoint_blobs b ON b.thread_id = $1 AND b.channel = chain.channel AND b.version = chain.base
)
SELECT channel0, version0, version, base, depth, value, data FROM chain

-- name: copy_blobs
INSERT INTO checkpoint_blobs (thread_id, channel, version, base, depth, value, data)
SELECT $2, channel, version, base, depth, value, data FROM checkpoint_blobs WHERE thread_id = $1
ON CONFLICT DO NOTHING
