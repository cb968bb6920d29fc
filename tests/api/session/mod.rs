//! Sessions: the session resource, lifecycle (expiry, remember-me, revocation), the two-step
//! login with second factors, and cookie attacks.

mod cookie_attacks;
mod lifecycle;
mod mfa;
mod passkeys;
mod resource;
