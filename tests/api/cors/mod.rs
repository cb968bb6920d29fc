//! CORS: the allowlist, per-resource policies, the public race results, and hostile origins.

mod attacks;
mod doctor;
mod public;
mod rules;
