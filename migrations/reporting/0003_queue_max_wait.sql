-- The longest a caller should wait in each queue (0: no limit), for the queue view.
ALTER TABLE reporting_queues ADD COLUMN max_wait_seconds BIGINT NOT NULL DEFAULT 0;
