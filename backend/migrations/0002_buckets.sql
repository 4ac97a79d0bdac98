-- A short run's series at a finer resolution than seconds (100 ms buckets: auth-burst's
-- scenarios last well under a second each), written once when the run ends.
CREATE TABLE run_buckets (
    run_id TEXT PRIMARY KEY,
    resolution_ms BIGINT NOT NULL,
    points TEXT NOT NULL
);
