-- An attempt's execution row is now written once, when the attempt ends (the one in
-- progress is read from the job itself), and indexed by the job's rowid: claimed jobs
-- come in rowid order, so these inserts land at the right edge of every B-tree instead
-- of on random pages keyed by a uuid. idx_jobs_running duplicated the status index.
ALTER TABLE job_executions ADD COLUMN job_rowid INTEGER;
UPDATE job_executions SET job_rowid = (SELECT rowid FROM jobs WHERE jobs.id = job_executions.job_id);
DELETE FROM job_executions WHERE status = 'running';
CREATE INDEX idx_executions_job_rowid ON job_executions (job_rowid);
DROP INDEX idx_executions_job;
DROP INDEX idx_jobs_running;
