// The warden protocol extensions, typed: every `warden.*` command id with its argument
// and result, every `warden/*` request and notification. Mirrors
// `server/lsp/src/lsp_ext.rs` (a unit test fails when a name there is missing here) and
// is documented in `server/docs/protocol.md`.
//
// Only method-name strings and types live here, so pure modules and tests can import it
// without VS Code; `client.ts` turns them into typed requests.

// ---- Commands (`workspace/executeCommand`, one JSON object argument) ----

export const CMD_WORKSPACE_LIST = 'warden.workspace.list';
export const CMD_WORKSPACE_ACTIVATE = 'warden.workspace.activate';
export const CMD_WORKSPACE_RENAME = 'warden.workspace.rename';
export const CMD_WORKSPACE_ARCHIVE = 'warden.workspace.archive';
export const CMD_WORKSPACE_RESTORE = 'warden.workspace.restore';
export const CMD_WORKSPACE_DELETE = 'warden.workspace.delete';
export const CMD_WORKSPACE_SET_SYSTEM_PROMPT = 'warden.workspace.setSystemPrompt';
export const CMD_WORKSPACE_SHOW_SYSTEM_PROMPT = 'warden.workspace.showSystemPrompt';
export const CMD_SCAN_WORKSPACE = 'warden.scan.workspace';
export const CMD_SECRETS_ADD_TO_BASELINE = 'warden.secrets.addToBaseline';
export const CMD_LLM_EXPLAIN = 'warden.llm.explain';
export const CMD_LLM_FIX = 'warden.llm.fix';
export const CMD_LLM_REWRITE = 'warden.llm.rewrite';
export const CMD_LLM_DOCSTRING = 'warden.llm.docstring';
export const CMD_LLM_TESTS = 'warden.llm.tests';
export const CMD_LLM_CANCEL = 'warden.llm.cancel';
/** Fix until green: LLM fix, sandboxed run of a scratch copy, repeat (see `FixUntilGreenArgs`). */
export const CMD_LLM_FIX_UNTIL_GREEN = 'warden.llm.fixUntilGreen';
/** Applies a finished fix-until-green loop's fix (`workspace/applyEdit`). */
export const CMD_LLM_FIX_ACCEPT = 'warden.llm.fixAccept';
/** Forgets a finished fix-until-green loop's fix. */
export const CMD_LLM_FIX_DISCARD = 'warden.llm.fixDiscard';
export const CMD_RUN = 'warden.run';
export const CMD_RUN_CANCEL = 'warden.run.cancel';
export const CMD_RUN_ALL = 'warden.runAll';
export const CMD_CONFIG_TRUST = 'warden.config.trust';
export const CMD_CONFIG_UNTRUST = 'warden.config.untrust';
export const CMD_PACKAGES_UPDATE_ADVISORIES = 'warden.packages.updateAdvisories';

// ---- Client commands: put in code actions by the server, run by the editor itself ----
// (not in `executeCommandProvider`, not in `COMMANDS`; commands.ts registers a handler)

/**
 * `warden.worktrees.compare`: opens a diff of the other worktree's copy (`otherUri`,
 * left) against this document (`uri`, right); the *Compare with the copy in worktree*
 * quick fix of a `worktree-collision` diagnostic.
 */
export const CLIENT_CMD_WORKTREE_COMPARE = 'warden.worktrees.compare';

/** The argument of `warden.worktrees.compare`. */
export interface WorktreeCompareArgs {
  /** This document. */
  uri: string;
  /** The same file in the other worktree. */
  otherUri: string;
  /** The other worktree's folder. */
  worktree: string;
  /** Its branch; null when its HEAD is detached. */
  branch: string | null;
}

/** One other worktree changing the same file: an entry of a `worktree-collision`'s data. */
export interface WorktreeCollision {
  worktree: string;
  branch: string | null;
  /** The other copy. */
  uri: string;
}

/** `data` of a `worktree-collision` diagnostic. */
export interface WorktreeCollisionData {
  worktrees: WorktreeCollision[];
}

/** Argument and result of each server command. */
export interface ServerCommands {
  [CMD_WORKSPACE_LIST]: { args: Record<string, never>; result: WorkspaceInfo[] };
  [CMD_WORKSPACE_ACTIVATE]: { args: { name: string }; result: WorkspaceInfo };
  [CMD_WORKSPACE_RENAME]: { args: { name: string; newName: string }; result: WorkspaceInfo };
  [CMD_WORKSPACE_ARCHIVE]: { args: { name: string }; result: WorkspaceInfo };
  [CMD_WORKSPACE_RESTORE]: { args: { name: string }; result: WorkspaceInfo };
  [CMD_WORKSPACE_DELETE]: { args: { name: string; confirm: true }; result: { deleted: string } };
  [CMD_WORKSPACE_SET_SYSTEM_PROMPT]: {
    args: { name: string; prompt: string | null };
    result: SystemPromptResult;
  };
  [CMD_WORKSPACE_SHOW_SYSTEM_PROMPT]: { args: { name: string }; result: SystemPromptResult };
  [CMD_SCAN_WORKSPACE]: { args: { workspace?: string }; result: ScanStarted };
  [CMD_SECRETS_ADD_TO_BASELINE]: {
    args: { uri: string; rule: string; fingerprint: string };
    result: { baseline: string; added: boolean; rule: string };
  };
  [CMD_LLM_EXPLAIN]: { args: LlmArgs; result: LlmResult };
  [CMD_LLM_FIX]: { args: LlmArgs; result: LlmResult };
  [CMD_LLM_REWRITE]: { args: LlmArgs; result: LlmResult };
  [CMD_LLM_DOCSTRING]: { args: LlmArgs; result: LlmResult };
  [CMD_LLM_TESTS]: { args: LlmArgs; result: LlmResult };
  [CMD_LLM_CANCEL]: { args: { requestId: string }; result: { cancelled: boolean } };
  [CMD_LLM_FIX_UNTIL_GREEN]: { args: FixUntilGreenArgs; result: { requestId: string } };
  [CMD_LLM_FIX_ACCEPT]: { args: { requestId: string }; result: { applied: boolean; message: string | null } };
  [CMD_LLM_FIX_DISCARD]: { args: { requestId: string }; result: { discarded: boolean } };
  [CMD_RUN]: { args: RunArgs; result: { runId: string } };
  [CMD_RUN_CANCEL]: { args: { runId: string }; result: { cancelled: boolean } };
  [CMD_RUN_ALL]: { args: RunAllArgs; result: RunAllResult };
  [CMD_CONFIG_TRUST]: { args: ConfigTrustArgs; result: ConfigTrustInfo };
  [CMD_CONFIG_UNTRUST]: { args: ConfigTrustArgs; result: ConfigTrustInfo };
  [CMD_PACKAGES_UPDATE_ADVISORIES]: { args: UpdateAdvisoriesArgs; result: { progressToken: string | number } };
}

/**
 * `warden.packages.updateAdvisories`: download advisories from the OSV mirror now, in the
 * background, whatever `packages.update` says (refused with `WARDEN_OFFLINE=1`).
 * `ecosystems` (`PyPI`, `npm`, `crates.io`, `Go`; empty: those of the manifests the
 * server has seen); `full` downloads whole archives again. The outcome arrives as a
 * `window/showMessage` ("warden: advisories updated: ...", or a warning per failure).
 */
export interface UpdateAdvisoriesArgs {
  ecosystems?: string[];
  full?: boolean;
}

/**
 * Which root's `.warden.toml` a trust command is about: its path, a file `uri` under it,
 * or an open `workspace`; `sha256` (trust only) is the content the user reviewed.
 */
export interface ConfigTrustArgs {
  root?: string;
  uri?: string;
  workspace?: string;
  sha256?: string;
}

/** A key of `.warden.toml` held back until the file is trusted. */
export interface HeldKey {
  key: string;
  /** What it would change ("where LLM requests go and which key they carry"). */
  reason: string;
}

/** The trust state of one root's `.warden.toml`. */
export interface ConfigTrustInfo {
  root: string;
  workspace: string | null;
  /** The file; null when the root has none. */
  file: string | null;
  sha256: string | null;
  trusted: boolean;
  /** Keys ignored until the file is trusted (empty when trusted or harmless). */
  held: HeldKey[];
  /** The Docker engine the root's runs go to (its effective `run.engine`). */
  engine: EngineInfo;
}

/** The Docker engine of a root's runs. */
export interface EngineInfo {
  /** `unix:///var/run/docker.sock`, `tcp://HOST:PORT`, ... */
  url: string;
  /** `setting` (`run.engine`), `dockerHost` (the server's `DOCKER_HOST`) or `default`. */
  source: 'setting' | 'dockerHost' | 'default';
  /** The connection uses TLS (`DOCKER_TLS_VERIFY` / `DOCKER_CERT_PATH`, or `https://`). */
  tls: boolean;
  /** What answered (`Docker Engine 20.10.24 (API 1.41)`), once connected; null before. */
  connected: string | null;
}

export type ServerCommand = keyof ServerCommands;

/** Every command the server executes (its `executeCommandProvider.commands`). */
export const COMMANDS: readonly ServerCommand[] = [
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
  CMD_LLM_FIX_UNTIL_GREEN,
  CMD_LLM_FIX_ACCEPT,
  CMD_LLM_FIX_DISCARD,
  CMD_RUN,
  CMD_RUN_CANCEL,
  CMD_RUN_ALL,
  CMD_CONFIG_TRUST,
  CMD_CONFIG_UNTRUST,
  CMD_PACKAGES_UPDATE_ADVISORIES,
];

/** The LLM actions (every `warden.llm.*` command but cancel). */
export type LlmCommand =
  | typeof CMD_LLM_EXPLAIN
  | typeof CMD_LLM_FIX
  | typeof CMD_LLM_REWRITE
  | typeof CMD_LLM_DOCSTRING
  | typeof CMD_LLM_TESTS;

export const LLM_COMMANDS: readonly LlmCommand[] = [
  CMD_LLM_EXPLAIN,
  CMD_LLM_FIX,
  CMD_LLM_REWRITE,
  CMD_LLM_DOCSTRING,
  CMD_LLM_TESTS,
];

/**
 * Arguments of the LLM actions; which fields each needs is in protocol.md's *LLM
 * actions*: `range` (explain, rewrite: required and non-empty, tests), `position`
 * (docstring), `diagnostic` (fix, any source), `instruction` (rewrite).
 */
export interface LlmArgs {
  uri: string;
  range?: Range;
  position?: Position;
  /** An LSP `Diagnostic`, as the client has it. */
  diagnostic?: unknown;
  instruction?: string;
  /** Chosen by the client to match `warden/llmChunk` and for `warden.llm.cancel`. */
  requestId?: string;
  /** Ask the model even when the response cache holds a reply (a retry). */
  noCache?: boolean;
}

/** Result of an LLM action. */
export interface LlmResult {
  requestId: string;
  /** The whole reply as Markdown, secrets restored. */
  text: string;
  /** Answered from the response cache (nothing was sent). */
  cached: boolean;
  provider: string;
  model: string;
  tokens: Tokens;
  costUsd: number;
  /** For edits: whether the editor applied the edit; null for explain. */
  applied: boolean | null;
  /** Why an edit was not applied, or what the user was warned about. */
  message: string | null;
  /** Context the token budget left out. */
  dropped: string[];
}

export type PromptSource = 'command' | 'file' | 'settings';

export interface SystemPromptResult {
  name: string;
  prompt: string | null;
  source: PromptSource | null;
}

/**
 * `warden.llm.fixUntilGreen`: runs the open document's text in the sandbox; while it
 * fails, asks the model for a fix given the file and the failure, runs the fixed copy
 * (never the file), and repeats until a copy runs, `maxRounds` (default 3, 1 to 10) or
 * `budgetUsd` is spent, or `warden.llm.cancel {requestId}`. Answers `{requestId}` at
 * once; rounds arrive as `warden/fixRound`, the end as `warden/fixFinished`.
 */
export interface FixUntilGreenArgs {
  uri: string;
  maxRounds?: number;
  budgetUsd?: number;
  /** Chosen by the client, for `warden.llm.cancel` and to match the notifications. */
  requestId?: string;
}

/** How a fix-until-green round ended. */
export type FixOutcome = 'green' | 'failing' | 'noFix' | 'refused' | 'error' | 'cancelled';

/** One round of a fix-until-green loop. */
export interface FixRound {
  /** 1-based. */
  n: number;
  outcome: FixOutcome;
  /** Replayed from the database: neither the model nor the sandbox was asked. */
  cached: boolean;
  /** For `failing`, the line the traceback blames; else why it stopped. */
  message: string | null;
  runId: string | null;
  runStatus: RunStatus | null;
  exitCode: number | null;
  tokens: Tokens;
  costUsd: number;
  /** The round's `fix.round` span. */
  spanId: string;
}

/** `warden/fixRound`: a round ended. */
export interface FixRoundParams {
  requestId: string;
  uri: string;
  round: FixRound;
}

/** `warden/fixFinished`: the loop ended. */
export interface FixFinishedParams {
  requestId: string;
  uri: string;
  /** The last fixed copy ran. */
  green: boolean;
  /** Why it stopped ("the fixed script runs (round 2)", "still failing after 3 rounds"). */
  stopped: string;
  rounds: FixRound[];
  costUsd: number;
  /** The document's text when the loop started; with `fixed`, when a round changed it. */
  original?: string | null;
  /** The last fixed copy (green or not): answer with fixAccept or fixDiscard. */
  fixed?: string | null;
}

/** `warden.run`: runs the document's current text (the editor's, saved or not). */
export interface RunArgs {
  uri: string;
  /** Passed to the script as its first argument: a workspace-relative or absolute path, or a `file://` URI. */
  input?: string;
  /** After the input. */
  args?: string[];
  /** Chosen by the client (unique); generated when absent. */
  runId?: string;
}

export interface RunAllArgs {
  /** Default: the active workspace. */
  workspace?: string;
  stopOnFailure?: boolean;
}

/** One script of a `warden.runAll` plan. */
export interface PlannedRun {
  runId: string;
  path: string;
  uri: string;
  order: string | null;
  /** The integer part of `order`; null for unnumbered scripts (they run last, alone). */
  group: number | null;
}

export interface RunAllResult {
  batchId: string;
  workspace: string;
  progressToken: string;
  /** The groups in the order they run. */
  groups: PlannedRun[][];
}

export interface ScanStarted {
  workspace: string;
  progressToken: string | number;
}

// ---- Requests ----

export const REQ_WORKSPACES = 'warden/workspaces';
export const REQ_WORKSPACE_FOR = 'warden/workspaceFor';
export const REQ_FINDINGS = 'warden/findings';
export const REQ_TRACES = 'warden/traces';
export const REQ_SNAPSHOT = 'warden/snapshot';
export const REQ_USAGE = 'warden/usage';
export const REQ_INTERACTIONS = 'warden/interactions';
export const REQ_RUNS = 'warden/runs';
export const REQ_RUN_LOG = 'warden/runLog';
export const REQ_RUN_SEARCH = 'warden/runSearch';
export const REQ_RUN_STATS = 'warden/runStats';
export const REQ_SCRIPTS = 'warden/scripts';
export const REQ_CONFIG_TRUST = 'warden/configTrust';
/** Where spans are exported over OTLP and how that goes. */
export const REQ_TELEMETRY = 'warden/telemetry';
export const REQ_GATEWAY = 'warden/gateway';
/** Full-text search over the workspaces' indexed (secret-masked) files. */
export const REQ_SEARCH = 'warden/search';
/** Test hooks, registered by the server only when `WARDEN_DEBUG_HOOKS=1`. */
export const REQ_DEBUG_PANIC = 'warden/debug/panic';
export const REQ_DEBUG_DOCUMENT = 'warden/debug/document';
export const REQ_DEBUG_HOLD = 'warden/debug/hold';

/** `warden/telemetry`: counts since the exporter started (a `trace.otlp` change starts a new one). */
export interface TelemetryResult {
  /** The OTLP/HTTP traces URL without credentials; null when export is off. */
  endpoint: string | null;
  exported: number;
  /** Dropped because the queue was full, oldest first. */
  dropped: number;
  /** Failed attempts (each batch retried with backoff). */
  failures: number;
  queued: number;
  /** The last failure while the collector keeps failing; null after a success. */
  lastError: string | null;
}

/** Params and result of each request. */
export interface ServerRequests {
  [REQ_WORKSPACES]: { params: Record<string, never>; result: WorkspaceInfo[] };
  [REQ_WORKSPACE_FOR]: { params: { uri: string }; result: WorkspaceInfo };
  [REQ_FINDINGS]: { params: FindingsParams; result: { findings: FindingInfo[] } };
  [REQ_TRACES]: { params: TracesParams; result: TracesResult };
  [REQ_SNAPSHOT]: { params: { workspace?: string; maxTokens?: number }; result: SnapshotResult };
  [REQ_USAGE]: { params: UsageParams; result: UsageResult };
  [REQ_INTERACTIONS]: { params: InteractionsParams; result: InteractionsResult };
  [REQ_RUNS]: { params: RunsParams; result: RunsResult };
  [REQ_RUN_LOG]: { params: { runId: string }; result: Run };
  [REQ_RUN_SEARCH]: { params: RunSearchParams; result: { hits: RunSearchHit[] } };
  [REQ_RUN_STATS]: { params: { workspace?: string }; result: RunStatsResult };
  [REQ_SCRIPTS]: { params: { workspace?: string }; result: ScriptsResult };
  [REQ_CONFIG_TRUST]: { params: Record<string, never>; result: { roots: ConfigTrustInfo[] } };
  [REQ_TELEMETRY]: { params: Record<string, never>; result: TelemetryResult };
  [REQ_GATEWAY]: { params: GatewayParams; result: GatewayResult };
  [REQ_SEARCH]: { params: SearchParams; result: SearchResult };
  [REQ_DEBUG_PANIC]: { params: Record<string, never>; result: null };
  [REQ_DEBUG_DOCUMENT]: {
    params: { uri: string };
    result: { version: number; languageId: string; text: string };
  };
  [REQ_DEBUG_HOLD]: { params: { ms: number }; result: null };
}

export type ServerRequest = keyof ServerRequests;

/**
 * `warden/search`: full-text search over the indexed files of the open workspaces (a
 * trigram index, SQLite FTS5), line by line, smart case (case-insensitive unless the
 * query has an upper-case letter). An invalid expression or glob is `InvalidParams`
 * with the parser's message.
 */
export interface SearchParams {
  /** An open workspace's name (default: every open workspace). */
  workspace?: string;
  /** A literal, or (with `regex`) a Rust `regex` expression. */
  query: string;
  regex?: boolean;
  /** Only files whose workspace-relative path matches this glob (`*` crosses `/`: `src*.py`). */
  glob?: string;
  /** At most this many matching lines (default 200, at most 5000). */
  limit?: number;
  /** Lines of context before and after each match (default 1, at most 10). */
  context?: number;
}

/** One matching line. */
export interface SearchMatch {
  workspace: string;
  uri: string;
  /** Relative to the workspace root. */
  path: string;
  /** The first match on the line (in the negotiated position encoding). */
  range: Range;
  /** Every match on the line. */
  ranges: Range[];
  /** The line, secrets masked with `*`. */
  text: string;
  /** Context lines before and after. */
  before: string[];
  after: string[];
}

export interface SearchResult {
  /** Files best first (BM25), lines in file order. */
  results: SearchMatch[];
  /** More lines matched than `limit`. */
  truncated: boolean;
  /** Files whose text was matched against the query. */
  filesSearched: number;
  /** The trigram index narrowed the files (else every indexed file was read). */
  indexed: boolean;
  elapsedMs: number;
}

/** `warden/gateway`: how the terminals of a workspace reach the LLM gateway. */
export interface GatewayParams {
  /** An open workspace's name (default: the active workspace). */
  workspace?: string;
}

export interface GatewayResult {
  workspace: string;
  /** `http://127.0.0.1:PORT/w/<workspace>`. */
  baseUrl: string;
  /** `OPENAI_BASE_URL` for the workspace (the base URL and `/v1`). */
  openaiBaseUrl: string;
  /** `ANTHROPIC_BASE_URL` for the workspace (the base URL). */
  anthropicBaseUrl: string;
  /** The API key the tools send; valid while this server runs. */
  token: string;
  /** The endpoints served, under the base URL. */
  apis: string[];
  /** The environment for a terminal: `OPENAI_BASE_URL`, `OPENAI_API_KEY`, `ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY`. */
  env: Record<string, string>;
}

export interface WorkspaceInfo {
  /** Unique; the repository directory name, "-2", "-3"... on collision. */
  name: string;
  /** Repository root (or plain folder); null for "default". */
  root: string | null;
  remote: string | null;
  branch: string | null;
  head: string | null;
  /** Files outside every folder belong here (one per server). */
  active: boolean;
  archived: boolean;
  /** A folder of it is open in this editor session. */
  open: boolean;
  systemPrompt: string | null;
  systemPromptSource: PromptSource | null;
  createdAt: string;
}

export type FindingKind = 'secret' | 'shell' | 'syntax' | 'package';

export interface FindingsParams {
  workspace?: string;
  kind?: FindingKind;
}

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export interface FindingInfo {
  uri: string;
  path: string | null;
  workspace: string;
  kind: FindingKind;
  rule: string;
  severity: string;
  message: string;
  range: Range;
  fingerprint: string | null;
}

/** `data` of a warden diagnostic. */
export interface DiagnosticData {
  kind: FindingKind;
  fingerprint: string | null;
  envName: string | null;
}

export type SpanKind = 'command' | 'llm' | 'run' | 'scan' | 'index' | 'guard';
export const SPAN_KINDS: readonly SpanKind[] = ['command', 'llm', 'guard', 'run', 'scan', 'index'];

export type Outcome = 'ok' | 'error' | 'cancelled' | 'interrupted';

export interface Tokens {
  input: number;
  output: number;
  cached: number;
  reasoning: number;
}

export interface Span {
  /** Time-ordered (UUIDv7). */
  id: string;
  parentId: string | null;
  /** W3C trace id (32 hex digits): the root span's id, or a TRACEPARENT's trace. */
  traceId?: string;
  /** A root continuing a trace begun outside warden (TRACEPARENT): that span's id. */
  remoteParent?: string;
  workspace: string | null;
  kind: SpanKind;
  name: string;
  uri: string | null;
  input: unknown;
  output: unknown | null;
  startedAt: string;
  /** null while running. */
  finishedAt: string | null;
  latencyMs: number | null;
  outcome: Outcome | null;
  error: string | null;
  tokens: Tokens;
  costUsd: number;
}

export interface TracesParams {
  workspace?: string;
  kind?: SpanKind;
  uri?: string;
  parentId?: string;
  cursor?: string;
  /** Default 100, capped at 500. */
  limit?: number;
}

export interface TracesResult {
  /** Newest first. */
  traces: Span[];
  /** Pass back as `cursor` for the next page; null when there are no more. */
  nextCursor: string | null;
}

export interface SnapshotResult {
  workspace: string;
  /** File tree, then file contents while the budget allows; secrets are placeholders. */
  markdown: string;
  tokens: number;
  head: string | null;
  dirty: boolean;
  files: number;
  included: number;
  secretsRedacted: number;
  /** Served from the snapshot cache. */
  cached: boolean;
}

export type UsageGroup = 'model' | 'day' | 'action';

export interface UsageParams {
  workspace?: string;
  /** RFC 3339 time or a date (`2026-11-21`). */
  since?: string;
  groupBy?: UsageGroup;
}

export interface UsageRow {
  /** `provider/model`, `YYYY-MM-DD`, the action, or `total`. */
  key: string;
  requests: number;
  cacheHits: number;
  /** Cache hits over requests (0..1). */
  cacheHitRate: number;
  tokensInput: number;
  tokensOutput: number;
  tokensCached: number;
  tokensReasoning: number;
  costUsd: number;
  errors: number;
}

export interface UsageResult {
  rows: UsageRow[];
  total: UsageRow;
}

export interface InteractionsParams {
  workspace?: string;
  cursor?: string;
  /** 1–500, default 50. */
  limit?: number;
}

export interface Interaction {
  id: number;
  workspace: string;
  requestId: string;
  spanId: string | null;
  action: string;
  uri: string | null;
  provider: string;
  model: string;
  /** The redacted request (JSON text). */
  prompt: string;
  /** The redacted reply. */
  response: string | null;
  tokensInput: number;
  tokensOutput: number;
  tokensCached: number;
  tokensReasoning: number;
  costUsd: number;
  latencyMs: number | null;
  ttftMs: number | null;
  cacheHit: boolean;
  outcome: 'ok' | 'error' | 'cancelled';
  error: string | null;
  head: string | null;
  fileHash: string | null;
  createdAt: string;
}

export interface InteractionsResult {
  /** Newest first. */
  interactions: Interaction[];
  nextCursor: string | null;
}

/** How a run ended (`running` is the extension's own, for runs not finished yet). */
export type RunStatus = 'succeeded' | 'failed' | 'timedOut' | 'oomKilled' | 'cancelled' | 'error';
export const RUN_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'timedOut', 'oomKilled', 'cancelled', 'error'];

export interface ArtifactInfo {
  path: string;
  size: number;
}

/** A stored run (`warden/runs`, newest first; `warden/runLog` adds the output). */
export interface Run {
  runId: string;
  workspace: string;
  workspaceId: number;
  spanId: string | null;
  /** The `warden.runAll` batch it belonged to. */
  batchId: string | null;
  /** Repository-relative script path (absolute outside a repository). */
  path: string;
  uri: string | null;
  /** git HEAD when it ran. */
  head: string | null;
  /** The work tree differed from HEAD. */
  dirty: boolean;
  /** SHA-256 of the text that ran (unsaved edits included). */
  contentHash: string;
  image: string;
  command: string[];
  limits: Record<string, unknown>;
  /** The input file's name, when one was given. */
  input: string | null;
  status: RunStatus;
  exitCode: number | null;
  message: string | null;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  firstOutputMs: number | null;
  /** Bytes written, kept or not. */
  stdoutBytes: number;
  stderrBytes: number;
  truncated: boolean;
  artifacts: ArtifactInfo[];
  /** Only in `warden/runLog` (as stored: capped). */
  stdout?: string;
  stderr?: string;
}

export interface RunsParams {
  workspace?: string;
  uri?: string;
  status?: RunStatus;
  cursor?: string;
  /** 1–500, default 50. */
  limit?: number;
}

export interface RunsResult {
  /** Newest first, without output. */
  runs: Run[];
  nextCursor: string | null;
}

export interface RunSearchParams {
  /** Default: the active workspace. */
  workspace?: string;
  /** A regular expression. */
  pattern: string;
  /** Default 100. */
  limit?: number;
  /** Context lines, default 2. */
  context?: number;
}

export type RunStream = 'stdout' | 'stderr';

export interface RunSearchHit {
  runId: string;
  path: string;
  status: RunStatus;
  startedAt: string;
  stream: RunStream;
  /** 1-based line in that stream's output. */
  line: number;
  text: string;
  before: string[];
  after: string[];
}

export interface ScriptStats {
  path: string;
  runs: number;
  succeeded: number;
  /** Succeeded over runs (0..1). */
  successRate: number;
  p50Ms: number;
  p95Ms: number;
  lastStatus: RunStatus;
  lastRunAt: string;
}

export interface RunStatsResult {
  workspace: string;
  scripts: ScriptStats[];
}

/** A script of the catalog (`warden/scripts`), in run-all order. */
export interface ScriptInfo {
  path: string;
  uri: string;
  order: string | null;
  group: number | null;
  /** First line of the docstring or header comment, else the file name. */
  name: string;
  image: string;
  command: string[];
  /** The last commit that changed the file (null: never committed). */
  commit: string | null;
  /** The work tree (or the editor's unsaved text) differs from that commit. */
  dirty: boolean;
  lastStatus: RunStatus | null;
  lastRunAt: string | null;
}

export interface ScriptsResult {
  workspace: string;
  scripts: ScriptInfo[];
}

// ---- Notifications (server → client) ----

export const NOTIF_WORKSPACES_CHANGED = 'warden/workspacesChanged';
export const NOTIF_TRACE_STARTED = 'warden/traceStarted';
export const NOTIF_TRACE_FINISHED = 'warden/traceFinished';
export const NOTIF_LLM_CHUNK = 'warden/llmChunk';
export const NOTIF_RUN_OUTPUT = 'warden/runOutput';
export const NOTIF_RUN_FINISHED = 'warden/runFinished';
export const NOTIF_GATEWAY_CALL = 'warden/gatewayCall';
export const NOTIF_FIX_ROUND = 'warden/fixRound';
export const NOTIF_FIX_FINISHED = 'warden/fixFinished';

/** The API a gateway call used. */
export type GatewayApi = 'openai.chat' | 'openai.responses' | 'anthropic.messages';

/** A call through the LLM gateway finished. */
export interface GatewayCallParams {
  workspace: string;
  /** The caller's User-Agent (`curl/8.5.0`, `OpenAI/Python 3.63.0`, `claude-cli/...`). */
  client: string;
  api: GatewayApi;
  model: string;
  /** `cancelled`: the client hung up; `blocked`: a guard refused it. */
  outcome: 'ok' | 'error' | 'cancelled' | 'blocked';
  secretsRedacted: number;
  /** The malicious packages the reply brings in, when it does. */
  warning: string | null;
  /** The call's `llm` span. */
  spanId: string;
}

/** The next piece of a run's output; `seq` counts from 0 across both streams. */
export interface RunOutputParams {
  runId: string;
  seq: number;
  stream: RunStream;
  /** Never splits a UTF-8 character. */
  chunk: string;
}

/** How a run ended, after its last `warden/runOutput`. */
export interface RunFinishedParams {
  runId: string;
  uri: string | null;
  path: string;
  batchId: string | null;
  status: RunStatus;
  exitCode: number | null;
  durationMs: number;
  truncated: boolean;
  artifacts: ArtifactInfo[];
  /** A sentence for every status but `succeeded`. */
  message: string | null;
}

/** The next piece of an LLM reply, secrets restored, in order. */
export interface LlmChunkParams {
  requestId: string;
  text: string;
}

export interface WorkspacesChangedParams {
  workspaces: WorkspaceInfo[];
  active: string;
}

/** A span without its end fields. */
export type TraceStartedParams = Pick<
  Span,
  'id' | 'parentId' | 'workspace' | 'kind' | 'name' | 'uri' | 'input' | 'startedAt' | 'tokens'
>;

/** The span id plus its end fields. */
export interface TraceFinishedParams {
  id: string;
  finishedAt: string;
  latencyMs: number;
  outcome: Outcome;
  error: string | null;
  output: unknown | null;
  tokens: Tokens;
  costUsd: number;
}

/** Params of each notification. */
export interface ServerNotifications {
  [NOTIF_WORKSPACES_CHANGED]: WorkspacesChangedParams;
  [NOTIF_TRACE_STARTED]: TraceStartedParams;
  [NOTIF_TRACE_FINISHED]: TraceFinishedParams;
  [NOTIF_LLM_CHUNK]: LlmChunkParams;
  [NOTIF_RUN_OUTPUT]: RunOutputParams;
  [NOTIF_RUN_FINISHED]: RunFinishedParams;
  [NOTIF_GATEWAY_CALL]: GatewayCallParams;
  [NOTIF_FIX_ROUND]: FixRoundParams;
  [NOTIF_FIX_FINISHED]: FixFinishedParams;
}

export type ServerNotification = keyof ServerNotifications;

/** Every custom method name, for the sync test and logging. */
export const METHODS: readonly string[] = [
  REQ_WORKSPACES,
  REQ_WORKSPACE_FOR,
  REQ_FINDINGS,
  REQ_TRACES,
  REQ_SNAPSHOT,
  REQ_USAGE,
  REQ_INTERACTIONS,
  REQ_RUNS,
  REQ_RUN_LOG,
  REQ_RUN_SEARCH,
  REQ_RUN_STATS,
  REQ_SCRIPTS,
  REQ_CONFIG_TRUST,
  REQ_TELEMETRY,
  REQ_GATEWAY,
  REQ_SEARCH,
  REQ_DEBUG_PANIC,
  REQ_DEBUG_DOCUMENT,
  REQ_DEBUG_HOLD,
  NOTIF_WORKSPACES_CHANGED,
  NOTIF_TRACE_STARTED,
  NOTIF_TRACE_FINISHED,
  NOTIF_LLM_CHUNK,
  NOTIF_RUN_OUTPUT,
  NOTIF_RUN_FINISHED,
  NOTIF_GATEWAY_CALL,
  NOTIF_FIX_ROUND,
  NOTIF_FIX_FINISHED,
];
