-- Every claim and every completion writes a new version of the job's row, and each of
-- the row's indexes gets an entry for it (status is indexed, so no update is HOT).
-- jobs_by_seq only listed all jobs newest first; jobs_status lists each status newest
-- first, so a listing of every status now merges one walk of it per status.
DROP INDEX jobs_by_seq;
