//! CSRF: the origin, content-type and token rules, and attacks on every unsafe route.

mod attacks;
mod rules;
