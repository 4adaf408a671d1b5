-- DuraGraph schema, version 1. Forward-only: never edit after release, add a new numbered file.

CREATE TABLE assistants (
    assistant_id uuid PRIMARY KEY,
    graph_id     text        NOT NULL,
    name         text        NOT NULL,
    description  text,
    config       jsonb       NOT NULL DEFAULT '{}',
    context      jsonb       NOT NULL DEFAULT '{}',
    metadata     jsonb       NOT NULL DEFAULT '{}',
    version      integer     NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assistants_graph_id ON assistants (graph_id);
CREATE INDEX assistants_metadata ON assistants USING gin (metadata jsonb_path_ops);

CREATE TABLE assistant_versions (
    assistant_id uuid        NOT NULL REFERENCES assistants ON DELETE CASCADE,
    version      integer     NOT NULL,
    graph_id     text        NOT NULL,
    name         text        NOT NULL,
    description  text,
    config       jsonb       NOT NULL DEFAULT '{}',
    context      jsonb       NOT NULL DEFAULT '{}',
    metadata     jsonb       NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (assistant_id, version)
);

CREATE TABLE threads (
    thread_id     uuid PRIMARY KEY,
    metadata      jsonb       NOT NULL DEFAULT '{}',
    status        text        NOT NULL DEFAULT 'idle'
                  CHECK (status IN ('idle', 'busy', 'interrupted', 'error')),
    -- head checkpoint of the root namespace; values/interrupts cached from it for search
    checkpoint_id uuid,
    "values"      jsonb,
    interrupts    jsonb       NOT NULL DEFAULT '{}',
    graph_id      text,
    ttl           jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX threads_metadata ON threads USING gin (metadata jsonb_path_ops);
CREATE INDEX threads_status ON threads (status);
CREATE INDEX threads_created ON threads (created_at);

CREATE TABLE runs (
    run_id             uuid PRIMARY KEY,
    thread_id          uuid        NOT NULL REFERENCES threads ON DELETE CASCADE,
    assistant_id       uuid        NOT NULL,
    graph_id           text        NOT NULL,
    status             text        NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'running', 'error', 'success', 'timeout', 'interrupted')),
    metadata           jsonb       NOT NULL DEFAULT '{}',
    -- everything the run was created with: input, command, config, context, stream modes, interrupt_*...
    kwargs             jsonb       NOT NULL DEFAULT '{}',
    multitask_strategy text        NOT NULL DEFAULT 'reject',
    -- superstep being executed and its checkpoint (the barrier advances these under the row lock)
    step               integer     NOT NULL DEFAULT 0,
    checkpoint_id      uuid,
    -- last event sequence number handed out; bumped under the row lock, so seq is gapless per run
    last_seq           bigint      NOT NULL DEFAULT 0,
    error              jsonb,
    output             jsonb,
    cancel_requested   text CHECK (cancel_requested IN ('interrupt', 'rollback')),
    temporary          boolean     NOT NULL DEFAULT false,
    webhook            text,
    scheduled_at       timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    ended_at           timestamptz
);
CREATE INDEX runs_thread ON runs (thread_id, created_at);
CREATE INDEX runs_status ON runs (status) WHERE status IN ('pending', 'running');
-- one active run per thread; further runs wait as 'pending' (multitask_strategy=enqueue)
CREATE UNIQUE INDEX runs_one_running_per_thread ON runs (thread_id) WHERE status = 'running';

-- one row per task of a superstep: the durable record of a node step and its result.
-- task_id is deterministic (hash of checkpoint, step, node, path); a resume is a new run that re-plans
-- the same checkpoint, hence the key (run_id, task_id).
CREATE TABLE tasks (
    run_id       uuid        NOT NULL REFERENCES runs ON DELETE CASCADE,
    task_id      text        NOT NULL,
    thread_id    uuid        NOT NULL,
    checkpoint_id uuid       NOT NULL,      -- the checkpoint the task was planned from
    step         integer     NOT NULL,
    name         text        NOT NULL,
    spec         jsonb       NOT NULL,      -- the planned task (path, send argument, triggers)
    status       text        NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'success', 'interrupted', 'error', 'cancelled')),
    resume       jsonb,                     -- resume values matched to interrupt() calls, in order
    outcome      jsonb,                     -- writes / interrupts / error, committed once
    attempts     integer     NOT NULL DEFAULT 0,
    job_id       bigint,                    -- procrastinate job currently carrying it
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    PRIMARY KEY (run_id, task_id)
);
CREATE INDEX tasks_run_checkpoint ON tasks (run_id, checkpoint_id);
CREATE INDEX tasks_checkpoint ON tasks (checkpoint_id);

CREATE TABLE checkpoints (
    checkpoint_id        uuid PRIMARY KEY,
    thread_id            uuid        NOT NULL REFERENCES threads ON DELETE CASCADE,
    checkpoint_ns        text        NOT NULL DEFAULT '',
    parent_checkpoint_id uuid,
    run_id               uuid,
    step                 integer     NOT NULL,
    checkpoint           jsonb       NOT NULL,  -- the pure core's checkpoint document
    metadata             jsonb       NOT NULL DEFAULT '{}',
    created_at           timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX checkpoints_thread ON checkpoints (thread_id, checkpoint_ns, created_at DESC);
CREATE INDEX checkpoints_parent ON checkpoints (parent_checkpoint_id);

-- append-only; (run_id, seq) is gapless because seq comes from runs.last_seq under the run row lock
CREATE TABLE events (
    event_id   uuid        NOT NULL PRIMARY KEY,
    run_id     uuid        NOT NULL,
    thread_id  uuid        NOT NULL,
    seq        bigint      NOT NULL,
    event      text        NOT NULL,
    data       jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, seq)
);

-- transactional outbox mirrored to NATS JetStream by the relay
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    run_id       uuid        NOT NULL,
    thread_id    uuid        NOT NULL,
    seq          bigint      NOT NULL,
    subject      text        NOT NULL,
    payload      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE FUNCTION duragraph_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('duragraph_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION duragraph_notify_outbox();

CREATE TABLE store_items (
    namespace   text[]      NOT NULL,
    key         text        NOT NULL,
    value       jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    ttl_minutes double precision,
    expires_at  timestamptz,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX store_items_expires ON store_items (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE crons (
    cron_id          uuid PRIMARY KEY,
    assistant_id     uuid        NOT NULL,
    thread_id        uuid REFERENCES threads ON DELETE CASCADE,
    schedule         text        NOT NULL,
    timezone         text        NOT NULL DEFAULT 'UTC',
    payload          jsonb       NOT NULL DEFAULT '{}',
    metadata         jsonb       NOT NULL DEFAULT '{}',
    enabled          boolean     NOT NULL DEFAULT true,
    on_run_completed text        NOT NULL DEFAULT 'delete',
    end_time         timestamptz,
    next_run_date    timestamptz NOT NULL,
    user_id          text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX crons_due ON crons (next_run_date) WHERE enabled;

-- webhooks to POST once a run ends; delivered with retries by a procrastinate task
CREATE TABLE webhook_deliveries (
    run_id       uuid PRIMARY KEY,
    url          text        NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text,
    delivered_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
