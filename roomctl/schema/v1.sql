-- Session record, schema version 1.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,   -- room + start time; never a patient identifier
    room         TEXT NOT NULL,
    started_at   TEXT NOT NULL,      -- ISO-8601 UTC
    ended_at     TEXT,
    route        TEXT NOT NULL,
    infusion_min REAL NOT NULL
);

CREATE TABLE readings (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    ts         REAL NOT NULL,        -- UTC, seconds since the Unix epoch
    device     TEXT NOT NULL,
    metric     TEXT NOT NULL,
    value      REAL,                 -- NULL whenever status is not 'ok'
    status     TEXT NOT NULL
);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    ts         REAL NOT NULL,
    type       TEXT NOT NULL,        -- contracts.md section 3 type: alarm, phase, link, command ...
    code       TEXT,                 -- alarm code or command verb, where there is one
    payload    TEXT NOT NULL         -- the whole event as JSON
);
