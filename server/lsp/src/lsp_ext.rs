//! Every warden protocol extension in one place: custom request and notification
//! method names with their params and results, and every `warden.*` command id.
//! Mirrored by `editors/vscode/src/lsp_ext.ts` and `editors/nvim/lua/warden/lsp.lua`,
//! documented in `server/docs/protocol.md`.

use serde::{Deserialize, Serialize};
use tower_lsp_server::ls_types::notification::Notification;
use warden_trace::{Span, SpanEnd, SpanKind, Tokens};

// ---- Commands (`workspace/executeCommand`, one JSON object argument) ----

pub const CMD_WORKSPACE_LIST: &str = "warden.workspace.list";
pub const CMD_WORKSPACE_ACTIVATE: &str = "warden.workspace.activate";
pub const CMD_WORKSPACE_RENAME: &str = "warden.workspace.rename";
pub const CMD_WORKSPACE_ARCHIVE: &str = "warden.workspace.archive";
pub const CMD_WORKSPACE_RESTORE: &str = "warden.workspace.restore";
pub const CMD_WORKSPACE_DELETE: &str = "warden.workspace.delete";
pub const CMD_WORKSPACE_SET_SYSTEM_PROMPT: &str = "warden.workspace.setSystemPrompt";
pub const CMD_WORKSPACE_SHOW_SYSTEM_PROMPT: &str = "warden.workspace.showSystemPrompt";
pub const CMD_SCAN_WORKSPACE: &str = "warden.scan.workspace";
pub const CMD_SECRETS_ADD_TO_BASELINE: &str = "warden.secrets.addToBaseline";
pub const CMD_LLM_EXPLAIN: &str = "warden.llm.explain";
pub const CMD_LLM_FIX: &str = "warden.llm.fix";
pub const CMD_LLM_REWRITE: &str = "warden.llm.rewrite";
pub const CMD_LLM_DOCSTRING: &str = "warden.llm.docstring";
pub const CMD_LLM_TESTS: &str = "warden.llm.tests";
pub const CMD_LLM_CANCEL: &str = "warden.llm.cancel";
pub const CMD_RUN: &str = "warden.run";
pub const CMD_RUN_CANCEL: &str = "warden.run.cancel";
pub const CMD_RUN_ALL: &str = "warden.runAll";
pub const CMD_CONFIG_TRUST: &str = "warden.config.trust";
pub const CMD_CONFIG_UNTRUST: &str = "warden.config.untrust";
pub const CMD_PACKAGES_UPDATE_ADVISORIES: &str = "warden.packages.updateAdvisories";
pub const CMD_LLM_FIX_UNTIL_GREEN: &str = "warden.llm.fixUntilGreen";
pub const CMD_LLM_FIX_ACCEPT: &str = "warden.llm.fixAccept";
pub const CMD_LLM_FIX_DISCARD: &str = "warden.llm.fixDiscard";

/// Commands the server puts in code actions for the editor to run itself (they are not
/// in `executeCommandProvider`): each editor registers a handler under this name.
/// `warden.worktrees.compare {uri, otherUri, worktree, branch}` opens a diff of the
/// document against the same file in another worktree.
pub const CLIENT_CMD_WORKTREE_COMPARE: &str = "warden.worktrees.compare";

/// Every command the server executes, advertised in `executeCommandProvider`.
pub const COMMANDS: &[&str] = &[
    CMD_WORKSPACE_LIST,
    CMD_WORKSPACE_ACTIVATE,
    CMD_WORKSPACE_RENAME,
    CMD_WORKSPACE_ARCHIVE,
    CMD_WORKSPACE_RESTORE,
    CMD_WORKSPACE_DELETE,
    CMD_WORKSPACE_SET_SYSTEM_PROMPT,
    CMD_WORKSPACE_SHOW_SYSTEM_PROMPT,
    CMD_SCAN_WORKSPACE,
    CMD_SECRETS_ADD_TO_BASELINE,
    CMD_LLM_EXPLAIN,
    CMD_LLM_FIX,
    CMD_LLM_REWRITE,
    CMD_LLM_DOCSTRING,
    CMD_LLM_TESTS,
    CMD_LLM_CANCEL,
    CMD_RUN,
    CMD_RUN_CANCEL,
    CMD_RUN_ALL,
    CMD_CONFIG_TRUST,
    CMD_CONFIG_UNTRUST,
    CMD_PACKAGES_UPDATE_ADVISORIES,
    CMD_LLM_FIX_UNTIL_GREEN,
    CMD_LLM_FIX_ACCEPT,
    CMD_LLM_FIX_DISCARD,
];

/// `warden.config.trust` / `warden.config.untrust`: which root's `.warden.toml` (one of
/// `root`, `uri` of any file under it, or `workspace`; default: the only open root whose
/// file holds keys back). `sha256` (trust only) names the content the user reviewed: a
/// file changed since is refused.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigTrustArgs {
    pub root: Option<String>,
    pub uri: Option<String>,
    pub workspace: Option<String>,
    pub sha256: Option<String>,
}

/// A key of `.warden.toml` held back until the file is trusted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HeldKey {
    pub key: String,
    pub reason: String,
}

/// The trust state of one root's `.warden.toml` (`warden/configTrust`, and the result
/// of the trust commands).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConfigTrustInfo {
    pub root: String,
    /// The workspace of the root, when a folder of it is open.
    pub workspace: Option<String>,
    /// The file's path; null when the root has none.
    pub file: Option<String>,
    pub sha256: Option<String>,
    pub trusted: bool,
    /// Keys ignored until the file is trusted (empty when trusted or harmless).
    pub held: Vec<HeldKey>,
    /// The Docker engine the root's runs go to (its effective `run.engine`).
    pub engine: EngineInfo,
}

/// The Docker engine of a root's runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EngineInfo {
    /// `unix:///var/run/docker.sock`, `tcp://HOST:PORT`, ...
    pub url: String,
    /// `setting` (`run.engine`), `dockerHost` (the server's `DOCKER_HOST`) or `default`.
    pub source: String,
    /// The connection uses TLS (`DOCKER_TLS_VERIFY` / `DOCKER_CERT_PATH`, or `https://`).
    pub tls: bool,
    /// What answered (`Docker Engine 20.10.24 (API 1.41)`, `Podman Engine 4.3.1 (API
    /// 1.41)`), once a run or the start-up check connected; null before.
    pub connected: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigTrustResult {
    pub roots: Vec<ConfigTrustInfo>,
}

/// The answer to `warden/telemetry`. Counts are since the exporter started (a change of
/// the `trace.otlp` settings starts a new one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryResult {
    /// The OTLP/HTTP traces URL, without credentials; null when export is off.
    pub endpoint: Option<String>,
    pub exported: u64,
    /// Spans dropped because the queue was full, oldest first.
    pub dropped: u64,
    /// Failed export attempts (each batch is retried with backoff).
    pub failures: u64,
    /// Spans waiting to be sent.
    pub queued: u64,
    /// The last failure, while the collector keeps failing (null after a success).
    pub last_error: Option<String>,
}

/// `warden.run`: runs the document's current text (saved or not).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunArgs {
    pub uri: String,
    /// A file passed to the script as its first argument: a path (absolute, or
    /// relative to the workspace root) or a `file://` URI.
    pub input: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// Chosen by the client (unique); generated when absent.
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunCancelArgs {
    pub run_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunAllArgs {
    /// Default: the active workspace.
    pub workspace: Option<String>,
    #[serde(default)]
    pub stop_on_failure: bool,
}

/// One script of a `warden.runAll` plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedRun {
    pub run_id: String,
    pub path: String,
    pub uri: String,
    pub order: Option<String>,
    /// The integer part of `order`; null for unnumbered scripts (they run last, alone).
    pub group: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunAllResult {
    pub batch_id: String,
    pub workspace: String,
    pub progress_token: String,
    /// The groups in the order they run.
    pub groups: Vec<Vec<PlannedRun>>,
}

/// Arguments of every `warden.llm.*` action; which fields are required depends on the
/// action (see protocol.md).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LlmArgs {
    pub uri: String,
    pub range: Option<tower_lsp_server::ls_types::Range>,
    pub position: Option<tower_lsp_server::ls_types::Position>,
    pub diagnostic: Option<tower_lsp_server::ls_types::Diagnostic>,
    pub instruction: Option<String>,
    /// Chosen by the client to match `warden/llmChunk` notifications and to cancel;
    /// generated when absent.
    pub request_id: Option<String>,
    /// Ask the provider even when the response cache holds a reply (a retry); a reply
    /// that is used still refreshes the cache.
    #[serde(default)]
    pub no_cache: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LlmCancelArgs {
    pub request_id: String,
}

/// `warden.llm.fixUntilGreen`: the script (an open document), at most `maxRounds`
/// rounds (default 3, 1 to 10) and `budgetUsd` spent. Answers `{requestId}` at once;
/// `warden.llm.cancel {requestId}` stops it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixUntilGreenArgs {
    pub uri: String,
    pub max_rounds: Option<u32>,
    pub budget_usd: Option<f64>,
    pub request_id: Option<String>,
}

/// `warden.llm.fixAccept` / `warden.llm.fixDiscard`: a finished loop's fix.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixAnswerArgs {
    pub request_id: String,
}

/// `warden/fixRound`: a round of a fix-until-green loop ended.
pub enum FixRound {}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixRoundParams {
    pub request_id: String,
    pub uri: String,
    pub round: crate::fix_loop::Round,
}

impl Notification for FixRound {
    type Params = FixRoundParams;
    const METHOD: &'static str = "warden/fixRound";
}

/// `warden/fixFinished`: a fix-until-green loop ended. `original` and `fixed` (the
/// document's text when the loop started, and the last fixed copy) are there when a
/// round changed the script: the editor shows their diff and answers with
/// `warden.llm.fixAccept` or `warden.llm.fixDiscard`.
pub enum FixFinished {}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixFinishedParams {
    pub request_id: String,
    pub uri: String,
    /// The last fixed copy ran.
    pub green: bool,
    /// Why it stopped.
    pub stopped: String,
    pub rounds: Vec<crate::fix_loop::Round>,
    pub cost_usd: f64,
    pub original: Option<String>,
    pub fixed: Option<String>,
}

impl Notification for FixFinished {
    type Params = FixFinishedParams;
    const METHOD: &'static str = "warden/fixFinished";
}

/// Result of a `warden.llm.*` action.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LlmResult {
    pub request_id: String,
    /// The reply as Markdown, secrets restored.
    pub text: String,
    /// Answered from the response cache (nothing was sent).
    pub cached: bool,
    pub provider: String,
    pub model: String,
    pub tokens: Tokens,
    pub cost_usd: f64,
    /// For edit actions: whether the client applied the edit.
    pub applied: Option<bool>,
    /// Why an edit was not applied, or what the user was warned about.
    pub message: Option<String>,
    /// Context the token budget left out, in the documented order.
    pub dropped: Vec<String>,
}

/// `warden.packages.updateAdvisories`: download advisories from the OSV mirror now, in
/// the background. `ecosystems` (`PyPI`, `npm`, `crates.io`, `Go`; default: those of
/// the manifests seen); `full` downloads whole archives again. Result:
/// `{progressToken}`; the outcome is shown as a message.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAdvisoriesArgs {
    #[serde(default)]
    pub ecosystems: Vec<String>,
    #[serde(default)]
    pub full: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanWorkspaceArgs {
    /// Default: the active workspace.
    pub workspace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameArgs {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenameArgs {
    pub name: String,
    pub new_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    pub name: String,
    #[serde(default)]
    pub confirm: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSystemPromptArgs {
    pub name: String,
    /// `null` clears the command-set prompt, falling back to `.warden.toml`/settings.
    pub prompt: Option<String>,
}

/// Result of `warden.workspace.showSystemPrompt`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SystemPromptResult {
    pub name: String,
    pub prompt: Option<String>,
    /// Where the effective prompt comes from: `command`, `file`, `settings`, or null.
    pub source: Option<PromptSource>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PromptSource {
    Command,
    File,
    Settings,
}

// ---- Requests ----

/// `warden/workspaces` → `Vec<WorkspaceInfo>`.
pub const REQ_WORKSPACES: &str = "warden/workspaces";
/// `warden/workspaceFor {uri}` → `WorkspaceInfo` of the workspace owning a file.
pub const REQ_WORKSPACE_FOR: &str = "warden/workspaceFor";
/// `warden/findings {workspace?, kind?}` → `{findings: FindingInfo[]}`.
pub const REQ_FINDINGS: &str = "warden/findings";
/// `warden/traces {workspace?, kind?, uri?, parentId?, cursor?, limit?}` → `TracesResult`.
pub const REQ_TRACES: &str = "warden/traces";
/// Test hooks, registered only when `WARDEN_DEBUG_HOOKS=1`: a handler that panics, the
/// server's view of an open document (`{uri}` → `{version, languageId, text}`), and a
/// `command` span held open for `{ms}`.
/// `warden/snapshot {workspace?, maxTokens?}` → `SnapshotResult`.
pub const REQ_SNAPSHOT: &str = "warden/snapshot";
/// `warden/usage {workspace?, since?, groupBy?}` → `{rows: UsageRow[]}`.
pub const REQ_USAGE: &str = "warden/usage";
/// `warden/interactions {workspace?, cursor?, limit?}` → `{interactions, nextCursor}`.
pub const REQ_INTERACTIONS: &str = "warden/interactions";
/// `warden/gateway {workspace?}` → `{baseUrl, openaiBaseUrl, anthropicBaseUrl, token,
/// apis, env}`: how a terminal of the workspace reaches the LLM gateway.
pub const REQ_GATEWAY: &str = "warden/gateway";
/// `warden/search {workspace?, query, regex?, glob?, limit?, context?}` →
/// `SearchResult`: full-text search over the workspace's indexed (secret-masked) files.
pub const REQ_SEARCH: &str = "warden/search";
/// `warden/runs {workspace?, uri?, status?, cursor?, limit?}` → `{runs, nextCursor}`.
pub const REQ_RUNS: &str = "warden/runs";
/// `warden/runLog {runId}` → the run with its full stored output.
pub const REQ_RUN_LOG: &str = "warden/runLog";
/// `warden/runSearch {workspace, pattern, limit?, context?}` → `{hits}`.
pub const REQ_RUN_SEARCH: &str = "warden/runSearch";
/// `warden/runStats {workspace}` → `{scripts}`.
pub const REQ_RUN_STATS: &str = "warden/runStats";
/// `warden/scripts {workspace}` → `{scripts}`: the script catalog.
pub const REQ_SCRIPTS: &str = "warden/scripts";
/// `warden/configTrust {}` → `ConfigTrustResult`: each open root's `.warden.toml` trust.
pub const REQ_CONFIG_TRUST: &str = "warden/configTrust";
/// `warden/telemetry {}` → `TelemetryResult`: where spans are exported over OTLP and how
/// that goes (exported, dropped, failing).
pub const REQ_TELEMETRY: &str = "warden/telemetry";
pub const REQ_DEBUG_PANIC: &str = "warden/debug/panic";
pub const REQ_DEBUG_DOCUMENT: &str = "warden/debug/document";
pub const REQ_DEBUG_HOLD: &str = "warden/debug/hold";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceInfo {
    pub name: String,
    pub root: Option<String>,
    pub remote: Option<String>,
    pub branch: Option<String>,
    pub head: Option<String>,
    /// The workspace files outside every folder belong to (one per server).
    pub active: bool,
    pub archived: bool,
    /// A folder of this workspace is open in this editor session.
    pub open: bool,
    /// The effective system prompt (command > `.warden.toml` > settings).
    pub system_prompt: Option<String>,
    pub system_prompt_source: Option<PromptSource>,
    pub created_at: String,
}

#[derive(Debug, Deserialize)]
pub struct UriParams {
    pub uri: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TracesParams {
    pub workspace: Option<String>,
    pub kind: Option<SpanKind>,
    pub uri: Option<String>,
    pub parent_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

pub const TRACES_DEFAULT_LIMIT: usize = 100;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TracesResult {
    pub traces: Vec<Span>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotParams {
    pub workspace: Option<String>,
    pub max_tokens: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotResult {
    pub workspace: String,
    #[serde(flatten)]
    pub snapshot: crate::snapshot::Snapshot,
    /// Served from the snapshot cache (HEAD and work tree unchanged).
    pub cached: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageParams {
    pub workspace: Option<String>,
    /// RFC 3339 time or date (`2026-11-21`).
    pub since: Option<String>,
    pub group_by: Option<warden_store::llm::GroupBy>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageResult {
    pub rows: Vec<warden_store::llm::UsageRow>,
    pub total: warden_store::llm::UsageRow,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InteractionsParams {
    pub workspace: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionsResult {
    pub interactions: Vec<warden_store::llm::Interaction>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunsParams {
    pub workspace: Option<String>,
    pub uri: Option<String>,
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunsResult {
    pub runs: Vec<warden_store::runs::Run>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunLogParams {
    pub run_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunSearchParams {
    pub workspace: Option<String>,
    pub pattern: String,
    pub limit: Option<usize>,
    pub context: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSearchResult {
    pub hits: Vec<warden_store::runs::SearchHit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspaceParams {
    pub workspace: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStatsResult {
    pub workspace: String,
    pub scripts: Vec<warden_store::runs::ScriptStats>,
}

/// A script of the catalog (`warden/scripts`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScriptInfo {
    pub path: String,
    pub uri: String,
    pub order: Option<String>,
    pub group: Option<u64>,
    /// First line of the docstring or header comment, else the file name.
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    /// The last commit that changed the file (null: never committed).
    pub commit: Option<String>,
    /// The work tree (or the editor's unsaved text) differs from that commit.
    pub dirty: bool,
    pub last_status: Option<String>,
    pub last_run_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScriptsResult {
    pub workspace: String,
    pub scripts: Vec<ScriptInfo>,
}

// ---- Notifications (server → client) ----

/// `warden/runOutput`: the next piece of a run's output, in order.
pub enum RunOutput {}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOutputParams {
    pub run_id: String,
    pub seq: u64,
    pub stream: warden_sandbox::Stream,
    pub chunk: String,
}

impl Notification for RunOutput {
    type Params = RunOutputParams;
    const METHOD: &'static str = "warden/runOutput";
}

/// `warden/runFinished`: how a run ended (after its last `warden/runOutput`).
pub enum RunFinished {}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunFinishedParams {
    pub run_id: String,
    pub uri: Option<String>,
    pub path: String,
    pub batch_id: Option<String>,
    pub status: String,
    pub exit_code: Option<i64>,
    pub duration_ms: u64,
    pub truncated: bool,
    pub artifacts: Vec<warden_store::runs::ArtifactInfo>,
    /// A sentence for every status but `succeeded`.
    pub message: Option<String>,
}

impl Notification for RunFinished {
    type Params = RunFinishedParams;
    const METHOD: &'static str = "warden/runFinished";
}

/// `warden/llmChunk`: a piece of an LLM reply as it streams (secrets restored).
pub enum LlmChunk {}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LlmChunkParams {
    pub request_id: String,
    pub text: String,
}

impl Notification for LlmChunk {
    type Params = LlmChunkParams;
    const METHOD: &'static str = "warden/llmChunk";
}

/// `warden/workspacesChanged`: the set of workspaces, the active one, or a workspace's
/// name/state/prompt changed.
pub enum WorkspacesChanged {}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspacesChangedParams {
    pub workspaces: Vec<WorkspaceInfo>,
    pub active: String,
}

impl Notification for WorkspacesChanged {
    type Params = WorkspacesChangedParams;
    const METHOD: &'static str = "warden/workspacesChanged";
}

/// `warden/traceStarted`: a span without its end fields.
pub enum TraceStarted {}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceStartedParams {
    pub id: String,
    pub parent_id: Option<String>,
    pub workspace: Option<String>,
    pub kind: SpanKind,
    pub name: String,
    pub uri: Option<String>,
    pub input: serde_json::Value,
    pub started_at: String,
    pub tokens: Tokens,
}

impl From<&Span> for TraceStartedParams {
    fn from(s: &Span) -> Self {
        TraceStartedParams {
            id: s.id.clone(),
            parent_id: s.parent_id.clone(),
            workspace: s.workspace.clone(),
            kind: s.kind,
            name: s.name.clone(),
            uri: s.uri.clone(),
            input: s.input.clone(),
            started_at: s.started_at.clone(),
            tokens: s.tokens,
        }
    }
}

impl Notification for TraceStarted {
    type Params = TraceStartedParams;
    const METHOD: &'static str = "warden/traceStarted";
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayParams {
    /// The workspace whose terminals the answer is for (default: the active one).
    pub workspace: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayResult {
    pub workspace: String,
    /// `http://127.0.0.1:PORT/w/<workspace>`.
    pub base_url: String,
    /// `OPENAI_BASE_URL` for the workspace (the base URL and `/v1`).
    pub openai_base_url: String,
    /// `ANTHROPIC_BASE_URL` for the workspace (the base URL).
    pub anthropic_base_url: String,
    /// The API key the tools send; valid while this server runs.
    pub token: String,
    /// The endpoints served, under the base URL.
    pub apis: Vec<String>,
    /// The environment for a terminal: the four variables above, by name.
    pub env: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchParams {
    /// An open workspace's name (default: every open workspace).
    pub workspace: Option<String>,
    pub query: String,
    /// `query` is a regular expression (Rust `regex` syntax); else a literal.
    #[serde(default)]
    pub regex: bool,
    /// Only files whose workspace-relative path matches this glob (`src/**/*.py`).
    pub glob: Option<String>,
    /// At most this many matching lines (default 200, at most 5000).
    pub limit: Option<usize>,
    /// Lines of context before and after each match (default 1, at most 10).
    pub context: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
    pub results: Vec<SearchMatch>,
    /// More lines matched than `limit`.
    pub truncated: bool,
    /// Files whose text was matched against the query.
    pub files_searched: usize,
    /// The trigram index narrowed the files (else every indexed file was read: queries
    /// under three characters, expressions without a required literal).
    pub indexed: bool,
    pub elapsed_ms: f64,
}

/// One matching line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchMatch {
    pub workspace: String,
    pub uri: String,
    /// Relative to the workspace root.
    pub path: String,
    /// The first match on the line (in the negotiated position encoding).
    pub range: tower_lsp_server::ls_types::Range,
    /// Every match on the line.
    pub ranges: Vec<tower_lsp_server::ls_types::Range>,
    /// The line, secrets masked with `*`.
    pub text: String,
    /// Context lines before and after.
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// `warden/gatewayCall`: a call through the gateway finished.
pub enum GatewayCall {}

impl Notification for GatewayCall {
    type Params = warden_gateway::CallEvent;
    const METHOD: &'static str = "warden/gatewayCall";
}

/// `warden/traceFinished`: the span id plus its end fields.
pub enum TraceFinished {}

impl Notification for TraceFinished {
    type Params = SpanEnd;
    const METHOD: &'static str = "warden/traceFinished";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_ids_are_unique_and_namespaced() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS {
            assert!(c.starts_with("warden."), "{c}");
            assert!(seen.insert(c), "duplicate {c}");
        }
    }

    #[test]
    fn protocol_doc_lists_every_name() {
        let doc = include_str!("../../docs/protocol.md");
        let methods = [
            REQ_WORKSPACES,
            REQ_WORKSPACE_FOR,
            REQ_TRACES,
            REQ_FINDINGS,
            REQ_SNAPSHOT,
            REQ_USAGE,
            REQ_INTERACTIONS,
            REQ_RUNS,
            REQ_RUN_LOG,
            REQ_RUN_SEARCH,
            REQ_RUN_STATS,
            REQ_SCRIPTS,
            REQ_GATEWAY,
            REQ_SEARCH,
            REQ_CONFIG_TRUST,
            REQ_TELEMETRY,
            GatewayCall::METHOD,
            FixRound::METHOD,
            FixFinished::METHOD,
            RunOutput::METHOD,
            RunFinished::METHOD,
            LlmChunk::METHOD,
            WorkspacesChanged::METHOD,
            TraceStarted::METHOD,
            TraceFinished::METHOD,
            CLIENT_CMD_WORKTREE_COMPARE,
        ];
        for name in COMMANDS.iter().chain(methods.iter()) {
            assert!(
                doc.contains(&format!("`{name}`")),
                "protocol.md does not document {name}"
            );
        }
    }
}
