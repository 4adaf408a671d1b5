-- A task's writes are stored once, in its `task_result` event (README "Long threads"). Its row keeps its
-- status, interrupts and error, and refers to that event (committed in the same transaction), from which
-- the engine reads the writes when it needs a finished task's writes again: the last task of a superstep
-- of several, a resume's pending writes, the dashboard. Rows written before this migration (and a kept
-- outcome with no result event of its run) keep their writes in `outcome` and no reference.
ALTER TABLE tasks ADD COLUMN result_event uuid;
