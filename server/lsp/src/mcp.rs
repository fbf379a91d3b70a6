//! `warden mcp`: a Model Context Protocol server over stdio (the official Rust SDK,
//! `rmcp`), so agents can use warden's checks on the workspace they work in: `scan`
//! (paths → findings), `check_packages` (a manifest, or packages by name and version →
//! advisories, and what the registry says: unknown, deprecated, just published),
//! `run_script` (a sandboxed run with its output, status and the failing
//! line), `findings` (the last workspace scan's) and `recent_traces`. Every tool call is
//! a `command` span named `mcp.<tool>`. What goes back to the agent (and so to its
//! model) never holds a secret: findings carry rule ids and positions, never values, and
//! run output is redacted with the workspace's rules.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{
    ErrorData as McpError, ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use warden_analysis::packages::Ecosystem;
use warden_analysis::packages::check;
use warden_analysis::packages::requirement::Requirement;
use warden_analysis::secrets::redact::{Redactions, redact};
use warden_store::Store;
use warden_store::workspaces::WorkspaceRow;
use warden_trace::{SpanKind, Tracer};

use crate::metadata::{Metadata, Miss};
use crate::root_config::{Extras, RootConfig, Trust};
use crate::scanner::FileResult;

/// Most findings one answer lists (the rest are counted).
const MAX_FINDINGS: usize = 500;

/// How long one tool call waits for the package metadata API (no answer is no finding).
const METADATA_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Clone)]
pub struct Warden {
    inner: Arc<Inner>,
    tool_router: ToolRouter<Self>,
}

struct Inner {
    store: Store,
    tracer: Tracer,
    row: WorkspaceRow,
    root: PathBuf,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ScanArgs {
    /// Files or directories, relative to the workspace root (default: the whole root).
    #[serde(default)]
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct PackageRef {
    /// `PyPI`, `npm`, `crates.io` or `Go`.
    pub ecosystem: String,
    pub name: String,
    /// A version or a requirement (`2.30.0`, `>=1.2,<2`, `^4.17.0`); none: any version.
    pub version: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PackagesArgs {
    /// A manifest or lockfile relative to the workspace root (`requirements.txt`,
    /// `package.json`, `Cargo.toml`, `go.mod`, `pyproject.toml`, ...).
    pub manifest: Option<String>,
    /// Packages to check by name.
    #[serde(default)]
    pub packages: Vec<PackageRef>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RunArgs {
    /// The script, relative to the workspace root.
    pub path: String,
    /// An input file relative to the workspace root (mounted read-only at /work/input/).
    pub input: Option<String>,
    /// Arguments for the script.
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct FindingsArgs {
    /// Only findings in files under this path (relative to the root).
    pub path: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TracesArgs {
    /// `command`, `llm`, `run`, `scan`, `index` or `guard`.
    pub kind: Option<String>,
    /// How many spans (default 20, at most 200).
    pub limit: Option<usize>,
}

fn text(v: &Value) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(
        serde_json::to_string_pretty(v).unwrap_or_default(),
    )])
}

fn refused(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

/// A finding as the agent sees it: where, which rule, what to do; never the matched text.
fn finding_json(rel: &str, text: &str, f: &warden_analysis::Finding) -> Value {
    use warden_analysis::lines::{Unit, column_at};
    json!({
        "path": rel,
        "line": f.range.start.line + 1,
        "column": column_at(text, f.start, f.range.start.col, Unit::Char) + 1,
        "endLine": f.range.end.line + 1,
        "rule": f.rule,
        "severity": f.severity.as_str(),
        "message": f.message,
    })
}

impl Warden {
    /// A path the agent named, inside the workspace root.
    fn resolve(&self, rel: &str) -> Result<PathBuf, String> {
        let abs =
            std::fs::canonicalize(self.inner.root.join(rel)).map_err(|e| format!("{rel}: {e}"))?;
        if !abs.starts_with(&self.inner.root) {
            return Err(format!(
                "{rel} is outside the workspace {}",
                self.inner.root.display()
            ));
        }
        Ok(abs)
    }

    fn rel(&self, abs: &Path) -> String {
        abs.strip_prefix(&self.inner.root)
            .unwrap_or(abs)
            .display()
            .to_string()
    }

    /// A package metadata lookup for one tool call (so every call reads the store
    /// afresh), and the packages it had no answer for: the call asks the API about
    /// them and checks again.
    fn lookup(&self) -> (Metadata, tokio::sync::mpsc::UnboundedReceiver<Miss>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let cell: crate::metadata::MissCell = Arc::default();
        let _ = cell.set(tx);
        let settings = crate::cli::user_settings();
        let meta = Metadata::new(
            self.inner.store.clone(),
            settings.settings.packages.metadata_ttl_hours,
            cell,
        );
        (meta, rx)
    }

    /// The root's configuration (user configuration file, the repository's trusted
    /// `.warden.toml`) with the advisory database and `metadata`.
    fn config(&self, metadata: Option<Metadata>) -> Arc<RootConfig> {
        let key = self.inner.root.display().to_string();
        let stored = self
            .inner
            .store
            .call_blocking(move |c| warden_store::trust::get(c, &key))
            .ok()
            .flatten();
        let extras = Extras {
            advisories: Some(crate::packages::store_advisories(self.inner.store.clone())),
            metadata,
            ..Extras::default()
        };
        Arc::new(crate::cli::load_root(
            &self.inner.root,
            Trust::Stored(stored.as_deref()),
            extras,
        ))
    }

    /// Runs a tool as a `command` span named `mcp.<tool>`.
    async fn traced<F>(&self, tool: &str, input: Value, work: F) -> Result<CallToolResult, McpError>
    where
        F: Future<Output = Result<Value, String>>,
    {
        let mut span = self
            .inner
            .tracer
            .start(SpanKind::Command, format!("mcp.{tool}"))
            .workspace(Some(self.inner.row.as_ref()))
            .input(input)
            .begin();
        match work.await {
            Ok(v) => {
                span.set_output(json!({ "ok": true }));
                span.ok();
                Ok(text(&v))
            }
            Err(e) => {
                span.fail(e.clone());
                Ok(refused(e))
            }
        }
    }

    /// Packages by name: advisories, then what the registry says (asked now when the
    /// store has no answer). `verdict` is the worst of both: `malicious`, `vulnerable`,
    /// `unknown`, `deprecated`, else `ok`.
    async fn check_list(&self, list: &[PackageRef]) -> Result<Vec<Value>, String> {
        let (meta, _) = self.lookup();
        let this = self.clone();
        let packages =
            tokio::task::spawn_blocking(move || this.config(None).settings.packages.clone())
                .await
                .map_err(|e| e.to_string())?;
        let parsed: Vec<(Option<Ecosystem>, &PackageRef)> = list
            .iter()
            .map(|p| (Ecosystem::parse(&p.ecosystem), p))
            .collect();
        let wanted = parsed
            .iter()
            .filter_map(|(e, p)| e.map(|e| (e, e.normalize_name(&p.name))))
            .collect();
        meta.answer_now(&packages, wanted, METADATA_WAIT).await;
        let store = self.inner.store.clone();
        let policy = warden_analysis::packages::metadata::Policy {
            now: time::OffsetDateTime::now_utc().unix_timestamp(),
            cooldown_days: packages.cooldown_days,
        };
        let on = packages.metadata;
        let list: Vec<(Option<Ecosystem>, PackageRef)> =
            parsed.into_iter().map(|(e, p)| (e, p.clone())).collect();
        tokio::task::spawn_blocking(move || {
            let adv = crate::packages::store_advisories(store);
            list.into_iter()
                .map(|(e, p)| {
                    let PackageRef { ecosystem: eco, name, version } = p;
                    let Some(e) = e else {
                        return json!({"ecosystem": eco, "name": name, "error": "unknown ecosystem; use PyPI, npm, crates.io or Go"});
                    };
                    let normalized = e.normalize_name(&name);
                    // A bare version is that version; anything else is a requirement.
                    let exact = version.as_deref().filter(|v| e.parse_version(v).is_some());
                    let req = match (exact, version.as_deref()) {
                        (Some(v), _) => Requirement::locked(e, v),
                        (None, Some(v)) => Requirement::parse(e, v),
                        (None, None) => Requirement::any(),
                    };
                    let records = adv(e, &normalized);
                    let issue = check::check(e, &name, &req, &records);
                    let registry = on.then(|| meta.get(e, &normalized)).flatten();
                    let found = registry
                        .as_deref()
                        .map(|m| {
                            warden_analysis::packages::metadata::check_package(e, &name, exact, m, policy)
                        })
                        .unwrap_or_default();
                    let verdict = match (&issue, found.first()) {
                        (Some(i), _) => format!("{:?}", i.verdict).to_lowercase(),
                        (None, Some(v)) if v.rule == warden_analysis::packages::metadata::UNKNOWN => "unknown".to_owned(),
                        (None, _) if found.iter().any(|v| v.rule == warden_analysis::packages::metadata::DEPRECATED) => "deprecated".to_owned(),
                        _ => "ok".to_owned(),
                    };
                    let mut entry = json!({
                        "ecosystem": eco, "name": name, "version": version,
                        "verdict": verdict,
                        "advisoriesKnown": !records.is_empty(),
                        // Whether the registry answered (offline, metadata off or no
                        // answer in time: nothing is said about it).
                        "registryAnswered": registry.is_some(),
                        "registry": found.iter().map(|v| json!({
                            "rule": v.rule,
                            "severity": v.severity.as_str(),
                            "message": v.message,
                        })).collect::<Vec<_>>(),
                    });
                    if let Some(i) = issue {
                        entry["severity"] = i.severity.as_str().into();
                        entry["advisories"] = json!(i.advisories.iter().map(|a| &a.id).collect::<Vec<_>>());
                        entry["safeVersion"] = json!(i.safe_version);
                        entry["message"] = i.message.into();
                    }
                    entry
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| e.to_string())
    }

    /// Scans files with the workspace's configuration; `only_packages` limits the checks.
    /// A file whose packages had no metadata answer is scanned again once the API was
    /// asked about them (all of them at once, within [`METADATA_WAIT`]).
    async fn scan_paths(&self, paths: Vec<PathBuf>, only_packages: bool) -> Result<Value, String> {
        let (meta, mut misses) = self.lookup();
        let (this, m) = (self.clone(), meta.clone());
        let (cfg, packages, mut found, again, asked) = tokio::task::spawn_blocking(move || {
            let root = this.config(Some(m));
            let mut cfg = (*root.scan()).clone();
            cfg.committed = None;
            if only_packages {
                cfg.checks = warden_analysis::Checks {
                    secrets: false,
                    shell: false,
                    syntax: false,
                    packages: true,
                };
            }
            let mut files = Vec::new();
            for p in paths {
                if p.is_dir() {
                    files.extend(warden_workspace::list_files(&p).map_err(|e| e.to_string())?);
                } else {
                    files.push(p);
                }
            }
            let (mut found, mut again, mut asked) = (Found::default(), Vec::new(), Vec::new());
            for f in files {
                let r = cfg.scan_file(&f);
                let before = asked.len();
                while let Ok(m) = misses.try_recv() {
                    asked.push(m);
                }
                if asked.len() > before {
                    again.push(f);
                } else {
                    found.add(&this.rel(&f), &r);
                }
            }
            let packages = root.settings.packages.clone();
            Ok::<_, String>((Arc::new(cfg), packages, found, again, asked))
        })
        .await
        .map_err(|e| e.to_string())??;
        if !asked.is_empty() {
            meta.answer_now(&packages, asked, METADATA_WAIT).await;
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            for f in again {
                found.add(&this.rel(&f), &cfg.scan_file(&f));
            }
            json!({
                "filesScanned": found.scanned,
                "findings": found.out,
                "total": found.total,
                "truncated": found.total > found.out.len(),
            })
        })
        .await
        .map_err(|e| e.to_string())
    }
}

/// What a scan answers: findings up to [`MAX_FINDINGS`], the rest counted.
#[derive(Default)]
struct Found {
    out: Vec<Value>,
    scanned: usize,
    total: usize,
}

impl Found {
    fn add(&mut self, rel: &str, r: &FileResult) {
        if let FileResult::Scanned { findings, text, .. } = r {
            self.scanned += 1;
            self.total += findings.len();
            let room = MAX_FINDINGS.saturating_sub(self.out.len());
            for finding in findings.iter().take(room) {
                self.out.push(finding_json(rel, text, finding));
            }
        }
    }
}

#[tool_router]
impl Warden {
    #[tool(
        description = "Scan files or directories of the workspace for leaked secrets, malicious, vulnerable, deprecated and nonexistent packages, syntax errors and risky shell patterns. Returns findings with path, line, rule, severity and message (never a secret's value)."
    )]
    async fn scan(
        &self,
        Parameters(args): Parameters<ScanArgs>,
    ) -> Result<CallToolResult, McpError> {
        let input = json!({ "paths": args.paths });
        self.traced("scan", input, async {
            let paths = if args.paths.is_empty() {
                vec![self.inner.root.clone()]
            } else {
                args.paths
                    .iter()
                    .map(|p| self.resolve(p))
                    .collect::<Result<_, _>>()?
            };
            self.scan_paths(paths, false).await
        })
        .await
    }

    #[tool(
        description = "Check packages against the advisory database and their registry: a manifest or lockfile of the workspace, or packages given by ecosystem (PyPI, npm, crates.io, Go), name and version. Returns malicious and vulnerable packages with advisory ids and the version to upgrade to, packages the registry does not have (misspelt or made-up names), deprecated packages and releases younger than the cool-down."
    )]
    async fn check_packages(
        &self,
        Parameters(args): Parameters<PackagesArgs>,
    ) -> Result<CallToolResult, McpError> {
        let input = json!({ "manifest": args.manifest, "packages": args.packages.len() });
        self.traced("check_packages", input, async {
            let mut out = json!({});
            if let Some(m) = &args.manifest {
                out["manifest"] = self.scan_paths(vec![self.resolve(m)?], true).await?;
            }
            if !args.packages.is_empty() {
                out["packages"] = self.check_list(&args.packages).await?.into();
            }
            if args.manifest.is_none() && args.packages.is_empty() {
                return Err("give a manifest or a list of packages".into());
            }
            Ok(out)
        })
        .await
    }

    #[tool(
        description = "Run a script of the workspace in warden's hardened sandbox (no network, read-only root, memory, CPU and time limits). Returns status, exit code, output (secrets redacted) and, on failure, the line the traceback blames."
    )]
    async fn run_script(
        &self,
        Parameters(args): Parameters<RunArgs>,
    ) -> Result<CallToolResult, McpError> {
        let input = json!({ "path": args.path, "input": args.input, "args": args.args.len() });
        self.traced("run_script", input, async {
            let path = self.resolve(&args.path)?;
            let input = args.input.as_deref().map(|i| self.resolve(i)).transpose()?;
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
            let done = crate::cli::run::execute(
                &self.inner.store,
                &self.inner.tracer,
                &path,
                input.as_deref(),
                args.args.clone(),
                tx,
                CancellationToken::new(),
            )
            .await?;
            let _ = drain.await;
            let o = &done.finished.outcome;
            let rules = self.config(None).scan().rules.clone();
            let mut red = Redactions::default();
            let mut clean = |s: &str| redact(s, &Default::default(), &rules, &mut red).0;
            let failing: Vec<Value> = crate::runs::findings(&done.spec, o)
                .iter()
                .map(|f| json!({"line": f.line, "column": f.column, "message": clean(&f.message)}))
                .collect();
            Ok(json!({
                "path": done.rel,
                "runId": done.finished.record.run_id,
                "status": o.status.as_str(),
                "exitCode": o.exit_code,
                "durationMs": o.duration.as_millis() as u64,
                "message": o.message,
                "stdout": clean(&o.stdout),
                "stderr": clean(&o.stderr),
                "truncated": o.stdout_truncated || o.stderr_truncated,
                "artifacts": o.artifacts.iter().map(|a| json!({"path": a.path, "size": a.size})).collect::<Vec<_>>(),
                "failingLines": failing,
            }))
        })
        .await
    }

    #[tool(
        description = "The findings of the workspace's last full scan (the editor's or `warden scan`'s), optionally under one path."
    )]
    async fn findings(
        &self,
        Parameters(args): Parameters<FindingsArgs>,
    ) -> Result<CallToolResult, McpError> {
        let input = json!({ "path": args.path });
        self.traced("findings", input, async {
            let id = self.inner.row.id;
            let rows = self
                .inner
                .store
                .call(move |c| warden_store::findings::list(c, id))
                .await
                .map_err(|e| e.to_string())?;
            let prefix = args.path.clone().unwrap_or_default();
            let list: Vec<Value> = rows
                .into_iter()
                .filter(|r| r.path.starts_with(&prefix))
                .take(MAX_FINDINGS)
                .map(|r| {
                    json!({
                        "path": r.path, "line": r.start_line + 1, "column": r.start_col + 1,
                        "rule": r.rule, "severity": r.severity, "message": r.message,
                    })
                })
                .collect();
            Ok(json!({ "workspace": self.inner.row.name, "findings": list }))
        })
        .await
    }

    #[tool(
        description = "The workspace's most recent traced spans (LLM calls with tokens and cost, runs, scans, commands, guard verdicts), newest first."
    )]
    async fn recent_traces(
        &self,
        Parameters(args): Parameters<TracesArgs>,
    ) -> Result<CallToolResult, McpError> {
        let input = json!({ "kind": args.kind, "limit": args.limit });
        self.traced("recent_traces", input, async {
            let kind = match args.kind.as_deref() {
                None => None,
                Some(k) => Some(SpanKind::parse(k).ok_or_else(|| format!("unknown kind {k:?}"))?),
            };
            let query = warden_store::spans::SpanQuery {
                workspace_id: Some(self.inner.row.id),
                kind,
                limit: args.limit.unwrap_or(20).clamp(1, 200),
                ..Default::default()
            };
            let page = self
                .inner
                .store
                .call(move |c| warden_store::spans::query(c, &query))
                .await
                .map_err(|e| e.to_string())?;
            Ok(json!({ "spans": page.traces }))
        })
        .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Warden {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("warden", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "warden's checks for the workspace {} ({}): scan files, check packages, run scripts in a sandbox, read findings and traces.",
                self.inner.row.name,
                self.inner.root.display()
            ))
    }
}

/// Serves MCP on stdin/stdout for the workspace of the current directory (or `name`)
/// until the client closes the connection.
pub async fn serve(store: Store, tracer: Tracer, workspace: Option<String>) -> Result<(), String> {
    let row = crate::cli::command_workspace(&store, workspace).await?;
    let root = row
        .root
        .clone()
        .map(PathBuf::from)
        .ok_or_else(|| format!("workspace {:?} has no folder", row.name))?;
    let root = std::fs::canonicalize(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let server = Warden {
        inner: Arc::new(Inner {
            store,
            tracer,
            row,
            root,
        }),
        tool_router: Warden::tool_router(),
    };
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("MCP: {e}"))?;
    running.waiting().await.map_err(|e| format!("MCP: {e}"))?;
    Ok(())
}
