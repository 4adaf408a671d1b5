-- Channel values by version (as LangGraph's own Postgres saver keeps them): a checkpoint document keeps the
-- versions of its channels, and a step writes only the channels it changed. A list that a step only
-- appended to is stored as the appended items (`base` names the version they extend); every
-- `depth` deltas a full value is written again, so a read walks at most that many rows.
CREATE TABLE checkpoint_blobs (
    thread_id  uuid    NOT NULL REFERENCES threads ON DELETE CASCADE,
    channel    text    NOT NULL,
    version    text    NOT NULL,
    base       text,
    depth      integer NOT NULL DEFAULT 0,
    value      jsonb   NOT NULL,
    PRIMARY KEY (thread_id, channel, version)
);
