//! The employee directory API.

mod resource;
