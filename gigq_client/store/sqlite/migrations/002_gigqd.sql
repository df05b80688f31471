-- gigqd: named queues, delayed jobs, dependency counters, claim ownership, and the
-- indexes that keep a claim's cost flat however many jobs are pending.
ALTER TABLE jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
ALTER TABLE jobs ADD COLUMN run_at TEXT;
-- Epoch seconds before which a pending job must not run (run_at or retry backoff);
-- NULL once due, so the ready index holds only jobs that can run now.
ALTER TABLE jobs ADD COLUMN wait_until REAL;
-- Dependencies not yet completed; the job is ready when it reaches 0.
ALTER TABLE jobs ADD COLUMN blockers INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
-- The dependency whose failure cancelled this job, so requeueing it revives this one.
ALTER TABLE jobs ADD COLUMN cancelled_by TEXT;
ALTER TABLE job_executions ADD COLUMN attempt INTEGER;
ALTER TABLE job_executions ADD COLUMN pid INTEGER;

CREATE TABLE job_dependencies (
    job_id TEXT NOT NULL,
    depends_on TEXT NOT NULL,
    PRIMARY KEY (depends_on, job_id)
) WITHOUT ROWID;
CREATE INDEX idx_dependencies_job ON job_dependencies (job_id);

CREATE TABLE daemons (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_started REAL NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    socket_path TEXT NOT NULL DEFAULT '',
    doorbell_path TEXT NOT NULL DEFAULT '',
    queues TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    daemon_id TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_started REAL NOT NULL
);

CREATE TABLE paused_queues (
    queue TEXT PRIMARY KEY
);

DROP INDEX IF EXISTS idx_jobs_status;
DROP INDEX IF EXISTS idx_jobs_priority;
-- Ready jobs in claim order (priority, then submission order: the rowid).
CREATE INDEX idx_jobs_ready ON jobs (priority DESC)
    WHERE status = 'pending' AND blockers = 0 AND wait_until IS NULL;
CREATE INDEX idx_jobs_ready_by_queue ON jobs (queue, priority DESC)
    WHERE status = 'pending' AND blockers = 0 AND wait_until IS NULL;
CREATE INDEX idx_jobs_waiting ON jobs (wait_until)
    WHERE status = 'pending' AND wait_until IS NOT NULL;
CREATE INDEX idx_jobs_running ON jobs (worker_id) WHERE status = 'running';
CREATE INDEX idx_jobs_status_queue ON jobs (status, queue);
CREATE INDEX idx_executions_job ON job_executions (job_id);

-- Bring rows written by GigQ 0.5.1 (local-time stamps, JSON dependencies) up to date.
INSERT OR IGNORE INTO job_dependencies (job_id, depends_on)
    SELECT jobs.id, deps.value FROM jobs, json_each(jobs.dependencies) AS deps
    WHERE json_valid(jobs.dependencies);
UPDATE jobs SET blockers = (
        SELECT count(*) FROM job_dependencies AS d LEFT JOIN jobs AS parent ON parent.id = d.depends_on
        WHERE d.job_id = jobs.id AND (parent.status IS NULL OR parent.status != 'completed'))
    WHERE status = 'pending' AND dependencies IS NOT NULL AND dependencies != '[]';
UPDATE jobs SET wait_until = (julianday(retry_after, 'utc') - 2440587.5) * 86400.0
    WHERE status = 'pending' AND retry_after IS NOT NULL;
