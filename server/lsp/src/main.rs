//! The `warden` binary: `warden lsp` serves the Language Server Protocol on stdio;
//! `warden workspaces` and `warden traces` do the same jobs headless for terminals and
//! CI. Exit codes: 0 success, 2 usage or IO error; `warden lsp` exits 0 after `shutdown`
//! and `exit`, and 1 when the session ends any other way (`exit` without `shutdown`, stdin
//! closed, the editor process gone), as the LSP specification asks.

mod cli;
mod committed;
mod diagnostics;
mod documents;
mod fix_loop;
mod gateway;
mod handlers;
mod judge;
mod logging;
mod lsp_ext;
mod mcp;
mod memory;
mod metadata;
mod middleware;
mod osv_import;
mod osv_update;
mod packages;
mod progress;
mod registry;
mod root_config;
mod runs;
mod scanner;
mod search;
mod server;
mod shared;
mod snapshot;
mod tasks;
mod telemetry;
mod transport;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "warden",
    version,
    about = "A safe, observable workbench for AI-assisted scripting"
)]
struct Cli {
    /// Database file (default: $XDG_DATA_HOME/warden/warden.db).
    #[arg(long, global = true, env = "WARDEN_DB", value_name = "PATH")]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Speak LSP over stdin/stdout (what editors run).
    Lsp {
        /// Accepted for clients that pass it; stdio is the only transport.
        #[arg(long, hide = true)]
        stdio: bool,
    },
    /// List workspaces; with PATHs, register those folders first (as an editor would).
    Workspaces {
        paths: Vec<PathBuf>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Scan files for leaked secrets, risky shell patterns and syntax errors.
    Scan {
        /// Files or directories (default: the current directory).
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: cli::scan::Format,
        /// Exit 1 when a finding at or above this severity is reported.
        #[arg(long, value_enum, default_value = "error")]
        fail_on: cli::scan::FailOn,
        /// Accepted findings (default: .warden-baseline.json at the repository root).
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Analyses to run (comma-separated; default: all).
        #[arg(long, value_enum, value_delimiter = ',')]
        checks: Vec<cli::scan::Check>,
        /// Apply the repository's `.warden.toml` in full for this run, as if trusted
        /// (for CI on your own repository).
        #[arg(long)]
        trust_config: bool,
    },
    /// Run the local LLM gateway for the AI tools of a workspace (OpenAI Chat
    /// Completions and Responses, Anthropic Messages), printing its base URL and token.
    Gateway {
        /// Port on 127.0.0.1 (default: one the OS picks).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// The workspace calls without a `/w/<name>` prefix belong to (default: the
        /// current directory's repository).
        #[arg(long, value_name = "NAME")]
        workspace: Option<String>,
        /// Print one JSON object (baseUrl, token, apis, env) instead of shell lines.
        #[arg(long)]
        json: bool,
    },
    /// Serve the Model Context Protocol over stdio: warden's checks (scan, packages,
    /// sandboxed runs, findings, traces) as tools for agents.
    Mcp {
        /// The workspace the tools work in (default: the current directory's repository).
        #[arg(long, value_name = "NAME")]
        workspace: Option<String>,
    },
    /// The package-advisory database (OSV records).
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Run a script in the hardened sandbox, streaming its output (stored like the
    /// editor's runs).
    Run {
        path: PathBuf,
        /// A file handed to the script as its first argument.
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// Print the stored run as JSON after the output.
        #[arg(long)]
        json: bool,
        /// Arguments for the script (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Trust the current content of a repository's `.warden.toml`: its keys that change
    /// where data goes or what is guarded apply only once trusted (see README).
    Trust {
        /// The repository (or any path in it); default: the current directory.
        path: Option<PathBuf>,
        /// Forget the decision: the guarded keys are ignored again.
        #[arg(long, conflicts_with = "show")]
        revoke: bool,
        /// Show what the file holds back and whether it is trusted; change nothing.
        #[arg(long)]
        show: bool,
    },
    /// Search the workspace's files (the index the editor keeps, brought up to date
    /// first): `path:line:column: text`, like ripgrep. Exit 1 when nothing matches.
    Search(cli::search::Options),
    /// List stored runs, newest first.
    Runs {
        #[arg(long, value_name = "NAME")]
        workspace: Option<String>,
        /// Only runs with this status: succeeded, failed, timedOut, oomKilled, cancelled, error.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 30)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show recent spans as a tree with latency bars, or as JSON lines.
    Traces {
        #[command(subcommand)]
        export: Option<TracesCommand>,
        #[arg(long, value_name = "NAME")]
        workspace: Option<String>,
        /// Only spans of this kind: command, llm, run, scan, index, guard.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TracesCommand {
    /// Send stored spans to the OpenTelemetry endpoint the `OTEL_EXPORTER_OTLP_*`
    /// variables name (a backfill: a span exported twice keeps its ids).
    Export {
        /// Only spans started at or after this time: RFC 3339 (`2026-12-01T00:00:00Z`),
        /// a date, or an age (`30m`, `12h`, `7d`).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, value_name = "NAME")]
        workspace: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Import OSV records: `<Ecosystem>/all.zip` folders, zips, folders of JSON, JSON files.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Download advisories from an OSV mirror: the whole `<Ecosystem>/all.zip` the
    /// first time, then only the records changed since (`modified_id.csv`).
    Update {
        /// Ecosystems (`PyPI`, `npm`, `crates.io`, `Go`); default: those already
        /// downloaded, else those whose manifests the current repository contains.
        ecosystems: Vec<String>,
        /// The mirror's base URL (a folder with the OSV export's layout); default: the
        /// OSV project's public export.
        #[arg(
            long,
            env = "WARDEN_OSV_MIRROR",
            hide_env_values = true,
            value_name = "URL"
        )]
        mirror: Option<String>,
        /// Download the whole archive again.
        #[arg(long)]
        full: bool,
        /// Seconds to wait for the next bytes of a response.
        #[arg(long, default_value_t = 30, value_name = "SECS")]
        timeout: u64,
        /// The largest archive downloaded, in MiB.
        #[arg(long, default_value_t = 2048, value_name = "MIB")]
        max_mb: u64,
        #[arg(long)]
        json: bool,
    },
    /// What is loaded, per ecosystem.
    Stats {
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let lsp_mode = matches!(cli.command, Command::Lsp { .. });
    logging::init(lsp_mode);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("warden: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(async move {
        let code = run(cli).await;
        // Spans still queued for an OpenTelemetry backend get a bounded chance to leave.
        telemetry::global().shutdown(EXPORT_FLUSH).await;
        code
    });
    // tokio's stdin reader may still be blocked in read(2) on a pool thread; do not wait
    // for the client to close its end of the pipe before exiting.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}

/// How long a command waits at exit for queued spans to reach the OTLP endpoint.
const EXPORT_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Lsp { .. } => server::serve_stdio(cli.db).await,
        Command::Workspaces { paths, json } => cli::workspaces::run(cli.db, &paths, json).await,
        Command::Scan {
            paths,
            format,
            fail_on,
            baseline,
            checks,
            trust_config,
        } => cli::scan::run(
            &paths,
            cli::scan::Options {
                format,
                fail_on,
                baseline: baseline.as_deref(),
                checks: cli::scan::checks(&checks),
                trust_config,
            },
            cli.db,
        ),
        Command::Trust { path, revoke, show } => {
            cli::trust::run(cli.db, path.as_deref(), revoke, show).await
        }
        Command::Db { command } => cli::db::run(cli.db, command).await,
        Command::Mcp { workspace } => cli::mcp(cli.db, workspace).await,
        Command::Gateway {
            port,
            workspace,
            json,
        } => cli::gateway::run(cli.db, port, workspace, json).await,
        Command::Run {
            path,
            input,
            json,
            args,
        } => cli::run::run(cli.db, &path, input.as_deref(), args, json).await,
        Command::Search(opts) => cli::search::run(cli.db, opts).await,
        Command::Runs {
            workspace,
            status,
            limit,
            json,
        } => cli::run::list(cli.db, workspace, status, limit, json).await,
        Command::Traces {
            export:
                Some(TracesCommand::Export {
                    since,
                    workspace,
                    json,
                }),
            ..
        } => cli::traces::export(cli.db, since, workspace, json).await,
        Command::Traces {
            workspace,
            kind,
            limit,
            json,
            export: None,
        } => cli::traces::run(cli.db, workspace, kind, limit, json).await,
    }
}
