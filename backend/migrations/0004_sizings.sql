-- Sizing sweeps (`POST /api/sizings`): the request, and the sizing as far as it got, rewritten
-- after every point (each point is also a stored run). A console that stops mid-sweep finds its
-- `running` rows at the next start and marks them `interrupted`.
CREATE TABLE sizings (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    request TEXT NOT NULL,
    sizing TEXT NOT NULL,
    error TEXT
);
