//! The edge: JSON errors, limits, headers, request ids, deny-by-default access, and malformed HTTP.

mod access;
mod attacks;
mod edge;
