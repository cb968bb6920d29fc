-- Second factors: one TOTP secret per account (sealed with a key derived from the secret key)
-- and its single-use recovery codes (hashes only). Times are Unix seconds (UTC).
CREATE TABLE totp_factors (
    user_id       BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret BYTEA   NOT NULL,
    -- FALSE while enrolment waits for its first code.
    confirmed     BOOLEAN NOT NULL DEFAULT FALSE,
    -- The newest time step a code was accepted for: older and equal steps are replays.
    last_step     BIGINT  NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL
);

CREATE TABLE recovery_codes (
    code_hash  BYTEA  PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);

CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);
