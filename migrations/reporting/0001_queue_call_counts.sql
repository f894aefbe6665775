-- Calls offered to, answered in and abandoned from each queue, per tenant.
CREATE TABLE IF NOT EXISTS reporting_queue_call_counts (
    tenant_id TEXT NOT NULL,
    queue_id TEXT NOT NULL,
    offered BIGINT NOT NULL DEFAULT 0,
    answered BIGINT NOT NULL DEFAULT 0,
    abandoned BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, queue_id)
);
