-- One index for a job's state instead of two: every submit, claim and completion wrote
-- an entry in the ready index and another in the status index (a submit wrote four
-- B-tree pages, a bare queue two). This one serves both: a claim walks the ready jobs of
-- one queue (status 'pending', no blockers, no wait) in priority and submission order
-- from its equality prefix, and counts by status and queue read its first two columns.
CREATE INDEX idx_jobs_state ON jobs (status, queue, blockers, wait_until, priority DESC);
DROP INDEX idx_jobs_ready_by_queue;
DROP INDEX idx_jobs_status_queue;
