-- A root checkpoint's document no longer repeats its row's columns (id, parent, step, namespace): the
-- queries that read a document put them back in front of what is stored (engine/core/saver.py
-- `storable`). Documents written before hold them (the same values, kept in step by copy and prune):
-- they read the same.
CREATE FUNCTION duragraph_checkpoint_doc(checkpoint jsonb, checkpoint_id uuid, parent_checkpoint_id uuid,
                                         step integer, checkpoint_ns text)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object('id', checkpoint_id, 'parent_id', parent_checkpoint_id, 'step', step,
                              'ns', checkpoint_ns) || checkpoint
$$;
