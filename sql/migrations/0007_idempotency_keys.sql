-- `Idempotency-Key` of the POSTs that create something (api/idempotency.py): the key, committed in the
-- transaction that creates the resource, with a fingerprint of the request it came with (method, path,
-- body) and what that request created; a repeat within the retention window gets that resource back.
CREATE TABLE idempotency_keys (
    idempotency_key text PRIMARY KEY,
    fingerprint     text NOT NULL,
    resource        jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
