//! Accounts: sign-up, profile, roles, admin changes, throttling, the CLI's account commands,
//! password reset and e-mail verification by mail, and attacks on them.

mod attacks;
mod cli;
mod hashing;
mod recovery;
mod throttle;
mod users;
