//! Stores and scale-out: the conformance suite on every backend, several nodes, outages, crash safety.

mod conformance;
mod crash;
pub mod nodes;
mod outage;
