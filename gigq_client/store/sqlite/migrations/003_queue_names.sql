-- One ready index instead of two: each submit and each claim wrote both. A claim
-- across all queues now walks the per-queue index once for each queue name listed
-- here (a handful), so its cost still does not depend on how many jobs wait.
CREATE TABLE queues (
    name TEXT PRIMARY KEY
) WITHOUT ROWID;
INSERT OR IGNORE INTO queues (name) SELECT DISTINCT queue FROM jobs;
DROP INDEX idx_jobs_ready;
