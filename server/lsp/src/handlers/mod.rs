//! LSP handlers, one file per method family. Each is a plain function taking the
//! [`crate::server::Backend`]; errors are mapped to JSON-RPC errors here, at the edge.

pub mod advisories;
pub mod analysis;
pub mod code_actions;
pub mod commands;
pub mod debug;
pub mod documents;
pub mod fix;
pub mod gateway;
pub mod lifecycle;
pub mod llm;
pub mod metadata;
pub mod packages;
pub mod runs;
pub mod search;
pub mod traces;
pub mod trust;
pub mod usage;
pub mod workspace;
pub mod worktrees;

use tower_lsp_server::jsonrpc::{Error, ErrorCode};
use warden_store::StoreError;

/// InvalidParams with a message a person can act on.
pub fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_params(message.into())
}

pub fn internal(message: impl Into<String>) -> Error {
    Error {
        code: ErrorCode::InternalError,
        message: message.into().into(),
        data: None,
    }
}

/// User mistakes (unknown name, conflict, refused) are InvalidParams; the rest internal.
pub fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::NotFound(m) | StoreError::Conflict(m) | StoreError::Invalid(m) => invalid(m),
        other => internal(other.to_string()),
    }
}
