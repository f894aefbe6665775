-- The real-time queue view: queues and their centers, calls waiting now, agents' states, and
-- per 15-minute interval what happened to each queue's calls.
CREATE TABLE IF NOT EXISTS reporting_queues (
    tenant_id TEXT NOT NULL,
    queue_id TEXT NOT NULL,
    center_id TEXT NOT NULL,
    service_level_percent BIGINT NOT NULL DEFAULT 80,
    service_level_seconds BIGINT NOT NULL DEFAULT 20,
    PRIMARY KEY (tenant_id, queue_id)
);
CREATE TABLE IF NOT EXISTS reporting_waiting_calls (
    tenant_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    queue_id TEXT NOT NULL,
    queued_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, call_id)
);
CREATE TABLE IF NOT EXISTS reporting_answered_calls (
    tenant_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    queue_id TEXT NOT NULL,
    answered_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, call_id)
);
CREATE TABLE IF NOT EXISTS reporting_agent_states (
    tenant_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    center_id TEXT NOT NULL,
    -- The queues the agent serves, as ",a,b," so that one LIKE finds a member.
    queue_ids TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (tenant_id, agent_id)
);
CREATE TABLE IF NOT EXISTS reporting_queue_intervals (
    tenant_id TEXT NOT NULL,
    queue_id TEXT NOT NULL,
    -- Milliseconds since the Unix epoch, a multiple of 15 minutes.
    interval_start BIGINT NOT NULL,
    offered BIGINT NOT NULL DEFAULT 0,
    answered BIGINT NOT NULL DEFAULT 0,
    abandoned BIGINT NOT NULL DEFAULT 0,
    answered_in_service_level BIGINT NOT NULL DEFAULT 0,
    answer_wait_ms BIGINT NOT NULL DEFAULT 0,
    handled BIGINT NOT NULL DEFAULT 0,
    handle_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, queue_id, interval_start)
);
