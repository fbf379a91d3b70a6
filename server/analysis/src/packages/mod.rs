//! Package intelligence from OSV data: ecosystem version semantics (`version`), OSV
//! record evaluation (`osv`), requirements as version intervals (`requirement`), the
//! per-dependency verdict (`check`), manifests and lockfiles (`manifest`, `lock`), the
//! upgrade edit (`upgrade`), imports in code (`imports`) and what package registries
//! say about packages (`metadata`: unknown, deprecated, new releases). Pure: the store imports
//! records; this decides what they mean for a given text.

pub mod check;
pub mod imports;
pub mod lock;
pub mod manifest;
pub mod mentions;
pub mod metadata;
pub mod osv;
pub mod requirement;
pub mod upgrade;
pub mod version;

pub use version::{Ecosystem, Version};

/// The advisory records of one package, shared between a lookup's cache and checks.
pub type Records = std::sync::Arc<[osv::Record]>;
