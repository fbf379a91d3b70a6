//! One LLM call path, shared by the editor's actions (`warden.llm.*`) and the gateway:
//! the guards every call passes (deny-list, budgets; exclusion and redaction for the
//! actions), routing, the response cache, the stream with secrets restored, and the
//! record (the `llm` span, the interaction row, written before the caller answers, or
//! as `cancelled` when the caller's future is dropped). No LSP here: what differs
//! between hosts (how chunks are shown, how a risky reply is confirmed, how an edit is
//! applied, which packages are risky) is the [`action::Surface`] trait.

pub mod action;
pub mod guards;
pub mod record;

pub use action::{Action, ActionError, ActionResult, Surface};
