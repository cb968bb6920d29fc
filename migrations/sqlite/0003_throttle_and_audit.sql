-- Failed-login counters (fixed windows) and the audit trail. Times are Unix seconds (UTC).
CREATE TABLE throttle_counters (
    key          TEXT    PRIMARY KEY,
    count        INTEGER NOT NULL,
    window_start INTEGER NOT NULL
);

CREATE TABLE audit_events (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    user_id  INTEGER,
    username TEXT,
    ip       TEXT,
    detail   TEXT
);

CREATE INDEX audit_events_by_time ON audit_events (at);
CREATE INDEX audit_events_by_username ON audit_events (username, at);
