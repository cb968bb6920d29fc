//! The edge: JSON errors, limits, headers, request ids, deny-by-default access, malformed HTTP,
//! and https.

mod access;
mod attacks;
mod edge;
mod tls;
