-- Monitors: each sample as read (kept raw for `retention.raw_hours`), the same as one-minute
-- min/mean/max per metric once older (kept `retention.minutes_days`), and the alert history.
CREATE TABLE monitor_samples (
    target TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    sample TEXT NOT NULL,
    PRIMARY KEY (target, at_ms)
);

CREATE TABLE monitor_minutes (
    target TEXT NOT NULL,
    minute_ms BIGINT NOT NULL,
    metric TEXT NOT NULL,
    samples BIGINT NOT NULL,
    min DOUBLE PRECISION NOT NULL,
    mean DOUBLE PRECISION NOT NULL,
    max DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (target, minute_ms, metric)
);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    metric TEXT NOT NULL,
    level TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
    fired_at BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE INDEX alerts_by_target ON alerts (target, fired_at);

-- Deployments marked on a target: the window after each is compared with the window before.
CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    version TEXT NOT NULL,
    notes TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX deployments_by_target ON deployments (target, at_ms);
