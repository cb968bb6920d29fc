//! Sessions: the session resource, lifecycle (expiry, remember-me, revocation) and cookie attacks.

mod cookie_attacks;
mod lifecycle;
mod resource;
