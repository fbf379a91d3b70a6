//! Package intelligence from OSV data: ecosystem version semantics (`version`) and OSV
//! record evaluation (`osv`). Pure: the store imports records; this decides what they
//! mean for a given version.

pub mod check;
pub mod manifest;
pub mod osv;
pub mod requirement;
pub mod version;

pub use version::{Ecosystem, Version};
