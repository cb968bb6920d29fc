//! Accounts: sign-up, profile, roles, admin changes, throttling, the CLI's account commands, and attacks on them.

mod attacks;
mod cli;
mod hashing;
mod throttle;
mod users;
