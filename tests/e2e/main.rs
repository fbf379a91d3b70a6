//! End-to-end tests: each spawns the real `warden` binary and speaks LSP (or runs the
//! CLI) against temporary git repositories and databases.

mod advisories;
mod bursts;
mod cli;
mod diagnostics;
mod engines;
mod fix;
mod foundation;
mod gateway;
mod hostile;
mod inputs;
mod llm;
mod metadata;
mod otel;
mod packages;
mod runs;
mod scan_cli;
mod search;
mod support;
mod tidy;
mod trust;
mod worktrees;
