-- Second factors: one TOTP secret per account (sealed with a key derived from the secret key)
-- and its single-use recovery codes (hashes only). Times are Unix seconds (UTC).
CREATE TABLE totp_factors (
    user_id       INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret BLOB    NOT NULL,
    -- 0 while enrolment waits for its first code.
    confirmed     INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
    -- The newest time step a code was accepted for: older and equal steps are replays.
    last_step     INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE recovery_codes (
    code_hash  BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);

CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);
