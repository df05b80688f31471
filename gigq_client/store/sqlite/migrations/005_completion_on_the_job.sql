-- A completed attempt is now recorded on the job row alone (who ran it, and its pid),
-- not in an execution row as well: completing a job writes one row instead of a row
-- and three index entries, which is most of the cost of committing each outcome on
-- its own. Executions rows remain for every attempt that did not complete.
ALTER TABLE jobs ADD COLUMN completed_by TEXT;
ALTER TABLE jobs ADD COLUMN completed_pid INTEGER;
UPDATE jobs SET
    completed_by = (SELECT e.worker_id FROM job_executions AS e
                    WHERE e.job_rowid = jobs.rowid AND e.status = 'completed' ORDER BY e.rowid DESC LIMIT 1),
    completed_pid = (SELECT e.pid FROM job_executions AS e
                     WHERE e.job_rowid = jobs.rowid AND e.status = 'completed' ORDER BY e.rowid DESC LIMIT 1)
WHERE status = 'completed';
DELETE FROM job_executions WHERE status = 'completed'
    AND job_rowid IN (SELECT rowid FROM jobs WHERE status = 'completed');
