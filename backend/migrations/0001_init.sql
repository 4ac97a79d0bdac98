-- One migration set for SQLite and PostgreSQL: portable types only (TEXT, BIGINT, DOUBLE
-- PRECISION), JSON and compressed histograms as TEXT, no autoincrement.

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    suite TEXT NOT NULL,
    profile TEXT NOT NULL,
    state TEXT NOT NULL,
    environment TEXT NOT NULL,
    deploy_phase TEXT NOT NULL,
    version TEXT NOT NULL,
    notes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    passed BIGINT,
    p95_ms DOUBLE PRECISION,
    error TEXT,
    -- What ran: suite, profile and workload as JSON. Targets are referred to by name only, so no
    -- credential is ever stored here.
    plan TEXT NOT NULL,
    -- The finished report as JSON, without its per-second series (see run_seconds).
    report TEXT
);
CREATE INDEX runs_by_target ON runs (target, environment, created_at);
CREATE INDEX runs_by_state ON runs (state);

CREATE TABLE run_seconds (
    run_id TEXT NOT NULL,
    t BIGINT NOT NULL,
    sample TEXT NOT NULL,
    PRIMARY KEY (run_id, t)
);

-- One row per phase and second (a late sample may add a second row for the same pair).
CREATE TABLE run_histograms (
    run_id TEXT NOT NULL,
    t BIGINT NOT NULL,
    phase TEXT NOT NULL,
    -- HdrHistogram V2 + deflate, base64.
    latency_histogram TEXT NOT NULL,
    wait_histogram TEXT NOT NULL
);
CREATE INDEX run_histograms_by_run ON run_histograms (run_id, t);

CREATE TABLE run_blocks (
    run_id TEXT NOT NULL,
    scenario TEXT NOT NULL,
    blocks TEXT NOT NULL,
    PRIMARY KEY (run_id, scenario)
);

CREATE TABLE run_events (
    run_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE baselines (
    name TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    environment TEXT NOT NULL,
    run_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE baseline_history (
    name TEXT NOT NULL,
    run_id TEXT NOT NULL,
    previous_run_id TEXT,
    set_at BIGINT NOT NULL,
    set_by TEXT NOT NULL
);
CREATE INDEX baseline_history_by_name ON baseline_history (name, set_at);
