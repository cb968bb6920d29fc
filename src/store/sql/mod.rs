//! The SQL both relational backends share: each capability is a macro that implements its
//! store traits for a concrete pool type, so SQLite and PostgreSQL run the very same statements
//! (numbered `$n` parameters, which both understand) and cannot drift apart. Each backend file
//! only opens its pool, runs its own migrations and classifies its own errors (`db_error`).

mod accounts;
mod directory;
mod factors;
mod passkeys;
mod security;
mod tokens;

pub(super) use accounts::account_stores;
pub(super) use directory::directory_store;
pub(super) use factors::factor_store;
pub(super) use passkeys::passkey_stores;
pub(super) use security::security_stores;
pub(super) use tokens::token_store;

/// `%needle%` for LIKE, with LIKE's own wildcards escaped.
pub(super) fn like_pattern(needle: &str) -> String {
    let escaped = needle
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
