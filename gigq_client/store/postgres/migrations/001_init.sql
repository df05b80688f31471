-- The job store on PostgreSQL: the same tables and columns as on SQLite, with real types.
-- Times people read are timestamptz (returned as ISO 8601 in UTC); times only the daemon
-- compares (wait_until, leases) are epoch seconds, as on SQLite.
CREATE TABLE jobs (
    -- Submission order (SQLite's rowid): claims take equal priorities oldest first.
    seq bigint GENERATED ALWAYS AS IDENTITY,
    id text PRIMARY KEY,
    name text NOT NULL,
    function_name text NOT NULL,
    function_module text NOT NULL,
    params text,
    priority integer NOT NULL DEFAULT 0,
    dependencies text,
    max_attempts integer NOT NULL DEFAULT 3,
    timeout double precision NOT NULL DEFAULT 300,
    description text,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    result text,
    error text,
    started_at timestamptz,
    completed_at timestamptz,
    worker_id text,
    pass_parent_results boolean,
    retry_delay double precision NOT NULL DEFAULT 0,
    retry_after timestamptz,
    queue text NOT NULL DEFAULT 'default',
    run_at timestamptz,
    -- Epoch seconds before which a pending job must not run (run_at or retry backoff);
    -- NULL once due, so the ready index holds only jobs that can run now.
    wait_until double precision,
    -- Dependencies not yet completed; the job is ready when it reaches 0.
    blockers integer NOT NULL DEFAULT 0,
    cancel_requested boolean NOT NULL DEFAULT false,
    -- The dependency whose end cancelled this job, so requeueing it revives this one.
    cancelled_by text,
    -- Who completed the job: the completed attempt is kept on the job row alone, as on
    -- SQLite, so completing writes one row (execution rows are for attempts that failed).
    completed_by text,
    completed_pid integer
);

-- Ready jobs in claim order, across queues and per queue. A claim walks one from the
-- front and stops after the rows it takes, so its cost does not depend on how many
-- jobs wait. (One index for both would make a claim across queues sort every ready row.)
CREATE INDEX jobs_ready ON jobs (priority DESC, seq)
    WHERE status = 'pending' AND blockers = 0 AND wait_until IS NULL;
CREATE INDEX jobs_ready_by_queue ON jobs (queue, priority DESC, seq)
    WHERE status = 'pending' AND blockers = 0 AND wait_until IS NULL;
CREATE INDEX jobs_waiting ON jobs (wait_until) WHERE status = 'pending' AND wait_until IS NOT NULL;
-- Jobs of one status newest first (list_jobs, running claims), and all jobs newest first.
CREATE INDEX jobs_status ON jobs (status, seq);
CREATE INDEX jobs_by_seq ON jobs (seq);

CREATE TABLE job_dependencies (
    job_id text NOT NULL,
    depends_on text NOT NULL,
    PRIMARY KEY (depends_on, job_id)
);
CREATE INDEX job_dependencies_job ON job_dependencies (job_id);

-- One row per attempt, written when the attempt ends; keyed by the job's seq so the
-- rows of jobs claimed in order land together.
CREATE TABLE job_executions (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL,
    job_id text NOT NULL,
    job_seq bigint NOT NULL,
    worker_id text NOT NULL,
    status text NOT NULL,
    started_at timestamptz,
    completed_at timestamptz,
    result text,
    error text,
    attempt integer,
    pid integer
);
CREATE INDEX job_executions_job ON job_executions (job_seq);

CREATE TABLE queues (
    name text PRIMARY KEY
);

CREATE TABLE paused_queues (
    queue text PRIMARY KEY
);

CREATE TABLE daemons (
    id text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    pid_started double precision NOT NULL,
    started_at double precision NOT NULL,
    heartbeat_at double precision NOT NULL,
    socket_path text NOT NULL DEFAULT '',
    doorbell_path text NOT NULL DEFAULT '',
    queues text NOT NULL DEFAULT '',
    extra text NOT NULL DEFAULT '{}',
    -- Boot id and pid namespace: another daemon judges this one's workers by their pids
    -- only on the same machine, and by the lease (the server's clock) everywhere else.
    machine text NOT NULL DEFAULT '',
    lease_until double precision NOT NULL DEFAULT 0
);

CREATE TABLE workers (
    id text PRIMARY KEY,
    daemon_id text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    pid_started double precision NOT NULL
);
