-- One job submitted, and the daemons woken, in one round trip instead of two. (With no
-- daemon registered there is nothing to wake, and the plain INSERT is cheaper: the store
-- calls this only while some daemon is registered.)
--
-- The INSERT commits on its own first, durably (the session's synchronous_commit), so
-- the job is stored exactly as before. Only then does the procedure start a second
-- transaction for the NOTIFY, committed without waiting for the flush: NOTIFY holds a
-- lock for the whole server from its transaction's commit until the commit is flushed,
-- and a lost hint only costs a poll. A procedure may commit only when CALLed outside a
-- transaction block (the store's connections are in autocommit); where the server or a
-- pooler refuses that (SQLSTATE 2D000), the store goes back to two statements.
CREATE PROCEDURE gigq_submit_one(
    p_id text, p_name text, p_function_name text, p_function_module text, p_params text,
    p_priority integer, p_dependencies text, p_max_attempts integer, p_timeout double precision,
    p_description text, p_created_at timestamptz, p_pass_parent_results boolean,
    p_retry_delay double precision, p_queue text, p_run_at timestamptz, p_wait_until double precision,
    p_blockers integer, p_updated_at timestamptz, p_new_queue boolean)
LANGUAGE plpgsql AS $$
BEGIN
    IF p_new_queue THEN  -- the first submit of this process to this queue: record its name
        INSERT INTO queues (name) VALUES (p_queue) ON CONFLICT DO NOTHING;
    END IF;
    INSERT INTO jobs (
        id, name, function_name, function_module, params, priority, dependencies, max_attempts, timeout,
        description, created_at, pass_parent_results, retry_delay, queue, run_at, wait_until, blockers,
        status, updated_at, attempts
    ) VALUES (
        p_id, p_name, p_function_name, p_function_module, p_params, p_priority, p_dependencies, p_max_attempts,
        p_timeout, p_description, p_created_at, p_pass_parent_results, p_retry_delay, p_queue, p_run_at,
        p_wait_until, p_blockers, 'pending', p_updated_at, 0);
    COMMIT;
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_notify('gigq_jobs', '');
END $$;
