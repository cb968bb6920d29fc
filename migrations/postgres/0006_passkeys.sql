-- Passkeys (WebAuthn credentials) and the state of ceremonies under way. Times are Unix seconds.
-- One random user handle per account, shared by its passkeys (WebAuthn L3 §14.6.1: not the
-- username, nothing personal); the login ceremony finds the account through it.
CREATE TABLE passkey_handles (
    user_id BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    handle  BYTEA   NOT NULL UNIQUE
);

CREATE TABLE passkeys (
    id            TEXT    PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Unique across accounts (WebAuthn L3 §7.1 step 26: a credential belongs to one account).
    credential_id BYTEA   NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    -- The public key, counter and flags as webauthn-rs serialises them (no secret).
    credential    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_used_at  BIGINT
);

CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- A challenge handed out and not yet answered, keyed by a hash of the browser (pre-)session it
-- is bound to and its purpose; taken once.
CREATE TABLE webauthn_ceremonies (
    key        BYTEA   PRIMARY KEY,
    state      TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL
);
