-- Named queries of idempotent creation (engine/durable/idempotency.py).

-- name: drop_expired_key
DELETE FROM idempotency_keys WHERE idempotency_key = $1 AND created_at < now() - make_interval(secs => $2)

-- name: claim_key
-- A new key is held by this transaction from here on: a concurrent request with the same key waits
-- here for it to commit (then finds the row) or roll back (then claims the key itself).
INSERT INTO idempotency_keys (idempotency_key, fingerprint) VALUES ($1, $2)
ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key

-- name: get_key
SELECT fingerprint, resource FROM idempotency_keys WHERE idempotency_key = $1

-- name: record_key
UPDATE idempotency_keys SET resource = $2 WHERE idempotency_key = $1

-- name: delete_expired_keys
DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)
