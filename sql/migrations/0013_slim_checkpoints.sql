-- Fewer bytes per step for the same checkpoints (README "Long threads").
--
-- A channel value is LangGraph's serializer's msgpack in `data` (bytea), as LangGraph's own Postgres saver
-- stores it: no base64 (a third more bytes) and no JSON around it. Rows written before keep their JSON
-- `value` and read as they did (engine/durable/blobs.py); a row has one or the other.
ALTER TABLE checkpoint_blobs ALTER COLUMN value DROP NOT NULL, ADD COLUMN data bytea;

-- A checkpoint row's metadata as the API shows it: what its columns say (step, thread, run, a root
-- checkpoint's empty `parents`), then what is stored, which keeps only the rest (engine/durable/
-- checkpoint_meta.py). Rows written before hold every key: they read the same.
CREATE FUNCTION duragraph_checkpoint_metadata(metadata jsonb, step integer, thread_id uuid, run_id uuid)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object('step', step, 'thread_id', thread_id, 'parents', '{}'::jsonb)
           || jsonb_strip_nulls(jsonb_build_object('run_id', run_id)) || metadata
$$;
