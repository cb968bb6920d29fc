//! The employee directory of seed 002: its records and field rules ([`records`]), the service
//! that reads and writes them ([`Directory`]), and the demo company (`seed`).
//!
//! JSON field names are the tutorial's camelCase ones (`firstName`, `blogURL`, ...) so its
//! Backbone Directory client works unchanged; ids and `managerId` are numbers and every
//! documented key is present in a detail reply, `null` when empty.

pub mod records;
mod seed;
mod service;

pub use records::{Employee, EmployeeId, EmployeeInput, EmployeeSummary, parse_timestamp};
pub use seed::seed_if_empty;
pub use service::Directory;
