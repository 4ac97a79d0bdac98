-- Scheduled runs: one row per firing of a configured schedule. The key claims a firing: a
-- console that finds the row already there (another console on the same store) does not fire.
CREATE TABLE schedule_runs (
    name TEXT NOT NULL,
    -- When the schedule was due (unix ms); a catch-up firing carries the latest missed time.
    due_at BIGINT NOT NULL,
    fired_at BIGINT NOT NULL,
    -- NULL when the firing could not queue a run (its note says why).
    run_id TEXT,
    -- The comparison with the schedule's baseline: regressed, improved, ...; NULL until compared
    -- or when there is nothing to compare with.
    verdict TEXT,
    note TEXT,
    PRIMARY KEY (name, due_at)
);
