//! End-to-end tests: each spawns the real `warden` binary and speaks LSP (or runs the
//! CLI) against temporary git repositories and databases.

mod advisories;
mod bursts;
mod cli;
mod diagnostics;
mod foundation;
mod hostile;
mod inputs;
mod llm;
mod metadata;
mod packages;
mod runs;
mod scan_cli;
mod support;
mod tidy;
mod trust;
