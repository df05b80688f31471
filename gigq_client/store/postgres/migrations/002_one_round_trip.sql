-- A worker's hot operations in one round trip each: the server runs, inside one function
-- call, the statements the store used to send one by one (six round trips for a
-- finish_and_claim). A call is one statement, so in autocommit one transaction.
--
-- Every function here is VOLATILE, so under READ COMMITTED each statement in it takes a
-- fresh snapshot, exactly as separate statements did: dependents are still unblocked by
-- a statement of its own, after the completions locked their rows (see graph.py).
--
-- Times come as integer microseconds since the epoch (values.micros, the same cut as
-- values.moment), `now` also as epoch seconds for the comparisons SQLite makes too.

-- A cached plan knows no values, so it estimates "depends_on = $1" by the number of
-- distinct parents; where most dependencies hang on one job that number is tiny, and
-- the generic plan for gigq_complete_one()'s probe below becomes a scan of every
-- dependency (on each completion, of any job). Declared as good as unique, the probe
-- stays an index lookup; plans made for actual values still see each parent's share.
ALTER TABLE job_dependencies ALTER COLUMN depends_on SET (n_distinct = -1);

CREATE FUNCTION gigq_time(us bigint) RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT to_timestamp(us::double precision / 1000000) $$;

-- Complete one attempt if its claim still holds; true if it did. The UPDATE finds the row
-- by primary key equality, so whatever the statistics (a table just filled has none) no
-- plan can walk the running jobs instead. One outcome is what a worker sends after each
-- job (record_outcomes = "per_job"), so this is the hot path: scalar arguments, two
-- statements.
CREATE FUNCTION gigq_complete_one(p_job text, p_attempt integer, p_worker text, p_result text, p_started_us bigint,
                                  p_finished_us bigint, p_pid integer, p_now_us bigint)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    UPDATE jobs SET status = 'completed', result = p_result, error = NULL, started_at = gigq_time(p_started_us),
        completed_at = gigq_time(p_finished_us), updated_at = gigq_time(p_now_us), worker_id = NULL,
        cancel_requested = false, completed_by = p_worker, completed_pid = p_pid
    WHERE id = p_job AND status = 'running' AND attempts = p_attempt AND worker_id = p_worker;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- Nearly always nothing depends on it: one index probe, and the unblocking is skipped.
    -- The probe is planned once (see the n_distinct of job_dependencies above); the unblocking,
    -- rare, runs by EXECUTE so that it is planned for its values, as graph.py's statements
    -- are: where one job has thousands of dependents a generic plan would scan them all.
    IF EXISTS (SELECT 1 FROM job_dependencies WHERE depends_on = p_job) THEN
        EXECUTE $unblock$
            UPDATE jobs SET blockers = greatest(blockers - (
                SELECT count(*) FROM job_dependencies AS d WHERE d.job_id = jobs.id AND d.depends_on = $1), 0)
            WHERE id = ANY(ARRAY(SELECT job_id FROM job_dependencies WHERE depends_on = $1))
              AND status = 'pending' AND blockers > 0
        $unblock$ USING p_job;
    END IF;
    RETURN true;
END $$;

-- Several outcomes, as one JSON array of [job id, attempt, worker id, result, started us,
-- finished us, pid]: one parameter to send, not seven arrays to build. Returns the ids
-- completed.
CREATE FUNCTION gigq_complete(outcomes json, now_us bigint) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    o json;
BEGIN
    FOR o IN SELECT * FROM json_array_elements(outcomes) LOOP
        IF gigq_complete_one(o->>0, (o->>1)::integer, o->>2, o->>3, (o->>4)::bigint, (o->>5)::bigint,
                             (o->>6)::integer, now_us) THEN
            RETURN NEXT o->>0;
        END IF;
    END LOOP;
END $$;

-- Hand out up to `wanted` ready jobs (claims.py's docstring), best first: due delayed jobs
-- promoted, paused queues left out, at most 1/share of the ready jobs when share > 1.
CREATE FUNCTION gigq_claim(p_worker text, p_queues text[], p_wanted integer, p_share integer,
                           p_now double precision, p_now_us bigint)
RETURNS TABLE (id text, attempts integer, name text, function_module text, function_name text, params text,
               timeout double precision, max_attempts integer, retry_delay double precision, dependencies text,
               pass_parent_results boolean, queue text, priority integer, seq bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    paused text[];
    names text[];  -- NULL: every queue, by the ready index; else each named queue by its own
    take integer := p_wanted;
    ready bigint;
BEGIN
    -- SKIP LOCKED: two claimers never wait on each other to promote the same rows.
    UPDATE jobs SET wait_until = NULL
    WHERE id = ANY(ARRAY(SELECT j.id FROM jobs AS j WHERE j.status = 'pending' AND j.wait_until <= p_now
                         FOR UPDATE SKIP LOCKED));
    paused := ARRAY(SELECT p.queue FROM paused_queues AS p);
    IF '*' = ANY(paused) THEN
        RETURN;
    END IF;
    IF p_queues IS NOT NULL OR cardinality(paused) > 0 THEN
        names := ARRAY(SELECT DISTINCT n FROM unnest(coalesce(p_queues, ARRAY(SELECT q.name FROM queues AS q))) AS n
                       WHERE n <> ALL(paused));
        IF cardinality(names) = 0 THEN
            RETURN;
        END IF;
    END IF;
    IF p_share > 1 AND take > 1 THEN
        -- Counting stops at wanted x share rows, so the cost stays flat in a deep queue.
        IF names IS NULL THEN
            SELECT count(*) INTO ready FROM (
                SELECT 1 FROM jobs AS j WHERE j.status = 'pending' AND j.blockers = 0 AND j.wait_until IS NULL
                ORDER BY j.priority DESC, j.seq LIMIT take * p_share) AS r;
        ELSE
            SELECT count(*) INTO ready FROM (
                SELECT 1 FROM unnest(names) AS q(name) CROSS JOIN LATERAL (
                    SELECT j.priority, j.seq FROM jobs AS j
                    WHERE j.status = 'pending' AND j.blockers = 0 AND j.wait_until IS NULL AND j.queue = q.name
                    ORDER BY j.priority DESC, j.seq LIMIT take * p_share) AS r
                ORDER BY r.priority DESC, r.seq LIMIT take * p_share) AS c;
        END IF;
        take := greatest(1, least(take, (ready + p_share - 1) / p_share));
    END IF;
    IF names IS NULL THEN
        RETURN QUERY
        WITH picked AS MATERIALIZED (
            SELECT j.id FROM jobs AS j WHERE j.status = 'pending' AND j.blockers = 0 AND j.wait_until IS NULL
            ORDER BY j.priority DESC, j.seq LIMIT take FOR UPDATE SKIP LOCKED
        ), claimed AS (
            UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, worker_id = p_worker,
                started_at = gigq_time(p_now_us), updated_at = gigq_time(p_now_us)
            WHERE jobs.id = ANY(ARRAY(SELECT picked.id FROM picked))
            RETURNING jobs.id, jobs.attempts, jobs.name, jobs.function_module, jobs.function_name, jobs.params,
                jobs.timeout, jobs.max_attempts, jobs.retry_delay, jobs.dependencies, jobs.pass_parent_results,
                jobs.queue, jobs.priority, jobs.seq
        )
        SELECT * FROM claimed ORDER BY claimed.priority DESC, claimed.seq;
    ELSIF cardinality(names) = 1 THEN
        -- One queue: its part of the per-queue ready index, walked from the front.
        RETURN QUERY
        WITH picked AS MATERIALIZED (
            SELECT j.id FROM jobs AS j
            WHERE j.status = 'pending' AND j.blockers = 0 AND j.wait_until IS NULL AND j.queue = names[1]
            ORDER BY j.priority DESC, j.seq LIMIT take FOR UPDATE SKIP LOCKED
        ), claimed AS (
            UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, worker_id = p_worker,
                started_at = gigq_time(p_now_us), updated_at = gigq_time(p_now_us)
            WHERE jobs.id = ANY(ARRAY(SELECT picked.id FROM picked))
            RETURNING jobs.id, jobs.attempts, jobs.name, jobs.function_module, jobs.function_name, jobs.params,
                jobs.timeout, jobs.max_attempts, jobs.retry_delay, jobs.dependencies, jobs.pass_parent_results,
                jobs.queue, jobs.priority, jobs.seq
        )
        SELECT * FROM claimed ORDER BY claimed.priority DESC, claimed.seq;
    ELSE
        -- Several queues: the first rows of each, merged. It may lock up to `take` rows per
        -- queue for the statement's few milliseconds; a claimer meanwhile skips them.
        RETURN QUERY
        WITH picked AS MATERIALIZED (
            SELECT r.id FROM unnest(names) AS q(name) CROSS JOIN LATERAL (
                SELECT j.id, j.priority, j.seq FROM jobs AS j
                WHERE j.status = 'pending' AND j.blockers = 0 AND j.wait_until IS NULL AND j.queue = q.name
                ORDER BY j.priority DESC, j.seq LIMIT take FOR UPDATE SKIP LOCKED) AS r
            ORDER BY r.priority DESC, r.seq LIMIT take
        ), claimed AS (
            UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, worker_id = p_worker,
                started_at = gigq_time(p_now_us), updated_at = gigq_time(p_now_us)
            WHERE jobs.id = ANY(ARRAY(SELECT picked.id FROM picked))
            RETURNING jobs.id, jobs.attempts, jobs.name, jobs.function_module, jobs.function_name, jobs.params,
                jobs.timeout, jobs.max_attempts, jobs.retry_delay, jobs.dependencies, jobs.pass_parent_results,
                jobs.queue, jobs.priority, jobs.seq
        )
        SELECT * FROM claimed ORDER BY claimed.priority DESC, claimed.seq;
    END IF;
END $$;

-- gigq_complete then gigq_claim in one call: first a row per job completed (done true,
-- only its id), then the jobs claimed (done false).
CREATE FUNCTION gigq_finish_and_claim(outcomes json, p_worker text, p_queues text[], p_wanted integer,
                                      p_share integer, p_now double precision, p_now_us bigint)
RETURNS TABLE (done boolean, id text, attempts integer, name text, function_module text, function_name text,
               params text, timeout double precision, max_attempts integer, retry_delay double precision,
               dependencies text, pass_parent_results boolean, queue text, priority integer, seq bigint)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT true, c, NULL::integer, NULL, NULL, NULL, NULL, NULL::double precision,
        NULL::integer, NULL::double precision, NULL, NULL::boolean, NULL, NULL::integer, NULL::bigint
        FROM gigq_complete(outcomes, p_now_us) AS c;
    RETURN QUERY SELECT false, c.* FROM gigq_claim(p_worker, p_queues, p_wanted, p_share, p_now, p_now_us) AS c;
END $$;
