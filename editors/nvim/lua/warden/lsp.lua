---@mod warden.lsp The warden protocol and its clients.
---
--- Mirrors `server/lsp/src/lsp_ext.rs` (every `warden/*` request and notification and
--- every `warden.*` command, with their params and results as LuaCATS types; a spec
--- fails when a name there is missing here) and owns the `warden lsp` clients: one per
--- root (the nearest folder with a root marker), started with `vim.lsp.start`, given the
--- settings as `init_options` and answering `workspace/configuration`. Notifications are
--- fanned out to listeners (`M.on`) and to `User` autocommands, so feature modules
--- (traces, LLM streams; sandboxed runs later) plug in without touching the client.

local config = require('warden.config')

local M = {}

--- The `experimental.wardenProtocol` version this plugin speaks.
M.protocol = 1

--- The client name every warden client has (`vim.lsp.get_clients({ name = 'warden' })`).
M.name = 'warden'

-- ---------------------------------------------------------------------------------------
-- Protocol mirror (server/lsp/src/lsp_ext.rs)
-- ---------------------------------------------------------------------------------------

--- Commands run through `workspace/executeCommand`, each with one JSON object argument.
M.commands = {
  workspace_list = 'warden.workspace.list', -- {} -> warden.WorkspaceInfo[]
  workspace_activate = 'warden.workspace.activate', -- {name} -> warden.WorkspaceInfo
  workspace_rename = 'warden.workspace.rename', -- {name, newName} -> warden.WorkspaceInfo
  workspace_archive = 'warden.workspace.archive', -- {name} -> warden.WorkspaceInfo
  workspace_restore = 'warden.workspace.restore', -- {name} -> warden.WorkspaceInfo
  workspace_delete = 'warden.workspace.delete', -- {name, confirm: true} -> {deleted}
  workspace_set_system_prompt = 'warden.workspace.setSystemPrompt', -- {name, prompt|nil} -> warden.SystemPromptResult
  workspace_show_system_prompt = 'warden.workspace.showSystemPrompt', -- {name} -> warden.SystemPromptResult
  scan_workspace = 'warden.scan.workspace', -- {workspace?} -> warden.ScanStarted
  secrets_add_to_baseline = 'warden.secrets.addToBaseline', -- {uri, rule, fingerprint} -> {baseline, added, rule}
  llm_explain = 'warden.llm.explain', -- warden.LlmArgs {uri, range?, requestId?} -> warden.LlmResult
  llm_fix = 'warden.llm.fix', -- warden.LlmArgs {uri, diagnostic, requestId?} -> warden.LlmResult
  llm_rewrite = 'warden.llm.rewrite', -- warden.LlmArgs {uri, range, instruction, requestId?} -> warden.LlmResult
  llm_docstring = 'warden.llm.docstring', -- warden.LlmArgs {uri, position, requestId?} -> warden.LlmResult
  llm_tests = 'warden.llm.tests', -- warden.LlmArgs {uri, range?, requestId?} -> warden.LlmResult
  llm_cancel = 'warden.llm.cancel', -- {requestId} -> {cancelled: boolean}
  llm_fix_until_green = 'warden.llm.fixUntilGreen', -- {uri, maxRounds?, budgetUsd?, requestId?} -> {requestId} (warden.fix)
  llm_fix_accept = 'warden.llm.fixAccept', -- {requestId} -> {applied, message}
  llm_fix_discard = 'warden.llm.fixDiscard', -- {requestId} -> {discarded}
  run = 'warden.run', -- {uri, input?, args?, runId?} -> {runId}
  run_cancel = 'warden.run.cancel', -- {runId} -> {cancelled: boolean}
  run_all = 'warden.runAll', -- {workspace?, stopOnFailure?} -> {batchId, workspace, progressToken, groups}
  config_trust = 'warden.config.trust', -- {root?, uri?, workspace?, sha256?} -> warden.ConfigTrustInfo
  config_untrust = 'warden.config.untrust', -- {root?, uri?, workspace?} -> warden.ConfigTrustInfo
  packages_update_advisories = 'warden.packages.updateAdvisories', -- {ecosystems?, full?} -> {progressToken}
}

--- Commands the server puts in code actions for the editor to run itself (not in its
--- `executeCommandProvider`; each has a handler in the clients' `commands`).
M.client_commands = {
  worktrees_compare = 'warden.worktrees.compare', -- warden.WorktreeCompareArgs {uri, otherUri, worktree, branch} (warden.worktrees)
}

--- Custom requests (client -> server).
M.requests = {
  workspaces = 'warden/workspaces', -- {} -> warden.WorkspaceInfo[]
  workspace_for = 'warden/workspaceFor', -- {uri} -> warden.WorkspaceInfo
  findings = 'warden/findings', -- warden.FindingsParams -> {findings: warden.FindingInfo[]}
  traces = 'warden/traces', -- warden.TracesParams -> warden.TracesResult
  snapshot = 'warden/snapshot', -- {workspace?, maxTokens?} -> warden.SnapshotResult
  usage = 'warden/usage', -- warden.UsageParams -> warden.UsageResult
  interactions = 'warden/interactions', -- {workspace?, cursor?, limit?} -> warden.InteractionsResult
  runs = 'warden/runs', -- {workspace?, uri?, status?, cursor?, limit?} -> {runs, nextCursor}
  run_log = 'warden/runLog', -- {runId} -> run with stdout and stderr
  run_search = 'warden/runSearch', -- {workspace?, pattern, limit?, context?} -> {hits}
  run_stats = 'warden/runStats', -- {workspace?} -> {workspace, scripts}
  scripts = 'warden/scripts', -- {workspace?} -> {workspace, scripts}
  config_trust = 'warden/configTrust', -- {} -> {roots: warden.ConfigTrustInfo[]}
  telemetry = 'warden/telemetry', -- {} -> warden.TelemetryResult
  gateway = 'warden/gateway', -- {workspace?} -> warden.GatewayResult
  search = 'warden/search', -- warden.SearchParams -> warden.SearchResult (warden.search)
  -- Test hooks, registered by the server only when WARDEN_DEBUG_HOOKS=1.
  debug_panic = 'warden/debug/panic', -- {} -> error
  debug_document = 'warden/debug/document', -- {uri} -> {version, languageId, text}
  debug_hold = 'warden/debug/hold', -- {ms} -> null
}

--- Custom notifications (server -> client).
M.notifications = {
  workspaces_changed = 'warden/workspacesChanged', -- warden.WorkspacesChangedParams
  trace_started = 'warden/traceStarted', -- warden.TraceStartedParams
  trace_finished = 'warden/traceFinished', -- warden.SpanEnd
  llm_chunk = 'warden/llmChunk', -- warden.LlmChunkParams
  run_output = 'warden/runOutput', -- {runId, seq, stream, chunk}
  run_finished = 'warden/runFinished', -- {runId, uri, path, batchId, status, exitCode, durationMs, truncated, artifacts, message}
  gateway_call = 'warden/gatewayCall', -- warden.GatewayCall
  fix_round = 'warden/fixRound', -- {requestId, uri, round: warden.FixRound} (warden.fix)
  fix_finished = 'warden/fixFinished', -- {requestId, uri, green, stopped, rounds, costUsd, original?, fixed?}
}

--- `User` autocommand pattern fired for each notification, with the params as `data`.
M.events = {
  ['warden/workspacesChanged'] = 'WardenWorkspacesChanged',
  ['warden/traceStarted'] = 'WardenTraceStarted',
  ['warden/traceFinished'] = 'WardenTraceFinished',
  ['warden/llmChunk'] = 'WardenLlmChunk',
  ['warden/runOutput'] = 'WardenRunOutput',
  ['warden/runFinished'] = 'WardenRunFinished',
  ['warden/gatewayCall'] = 'WardenGatewayCall',
  ['warden/fixRound'] = 'WardenFixRound',
  ['warden/fixFinished'] = 'WardenFixFinished',
}

---@alias warden.PromptSource "command"|"file"|"settings"
---@alias warden.SpanKind "command"|"llm"|"run"|"scan"|"index"|"guard"
---@alias warden.Outcome "ok"|"error"|"cancelled"|"interrupted"
---@alias warden.FindingKind "secret"|"shell"|"syntax"|"package"

---@class warden.ConfigTrustInfo
---@field root string the repository root
---@field workspace? string its workspace, when a folder of it is open
---@field file? string the .warden.toml path (vim.NIL when there is none)
---@field sha256? string SHA-256 of the file's content
---@field trusted boolean
---@field held {key: string, reason: string}[] keys ignored until the file is trusted
---@field engine warden.EngineInfo the Docker engine the root's runs go to

---@class warden.EngineInfo
---@field url string unix:///var/run/docker.sock, tcp://HOST:PORT, ...
---@field source "setting"|"dockerHost"|"default" run.engine, the server's DOCKER_HOST, or the default socket
---@field tls boolean the connection uses TLS (DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, or https://)
---@field connected? string what answered ("Docker Engine 20.10.24 (API 1.41)"), once connected (vim.NIL before)

---@class warden.GatewayResult The LLM gateway as a workspace's terminals reach it.
---@field workspace string
---@field baseUrl string `http://127.0.0.1:PORT/w/<workspace>`
---@field openaiBaseUrl string what OPENAI_BASE_URL holds (the base URL and `/v1`)
---@field anthropicBaseUrl string what ANTHROPIC_BASE_URL holds
---@field token string the API key the tools send; valid while this server runs
---@field apis string[] the endpoints served under the base URL
---@field env table<string, string> the four variables for a terminal, by name

---@class warden.TelemetryResult Span export over OTLP, since the exporter started.
---@field endpoint? string the traces URL without credentials (vim.NIL when export is off)
---@field exported integer
---@field dropped integer spans dropped because the queue was full, oldest first
---@field failures integer failed attempts (each batch is retried with backoff)
---@field queued integer
---@field lastError? string the last failure while the collector keeps failing (vim.NIL after a success)

---@class warden.GatewayCall A call through the LLM gateway finished.
---@field workspace string
---@field client string the caller's User-Agent
---@field api "openai.chat"|"openai.responses"|"anthropic.messages"
---@field model string
---@field outcome "ok"|"error"|"cancelled"|"blocked"
---@field secretsRedacted integer
---@field warning? string the malicious packages the reply brings in
---@field spanId string its `llm` span

---@class warden.WorkspaceInfo
---@field name string unique; the repository directory name, "-2", "-3"... on collision
---@field root? string repository root (or plain folder); nil for "default"
---@field remote? string URL of the "origin" remote
---@field branch? string current branch; nil when detached or not git
---@field head? string HEAD commit id
---@field active boolean files outside every folder belong here
---@field archived boolean
---@field open boolean a folder of it is open in this editor session
---@field systemPrompt? string the effective prompt
---@field systemPromptSource? warden.PromptSource
---@field createdAt string RFC 3339 UTC

---@class warden.SystemPromptResult
---@field name string
---@field prompt? string
---@field source? warden.PromptSource

---@class warden.ScanStarted
---@field workspace string
---@field progressToken string|integer

---@class warden.FindingsParams
---@field workspace? string
---@field kind? warden.FindingKind

---@class warden.FindingInfo
---@field uri string
---@field path string repository-relative
---@field workspace string
---@field kind warden.FindingKind
---@field rule string
---@field severity string
---@field message string
---@field range lsp.Range
---@field fingerprint? string

---@class warden.Tokens
---@field input integer
---@field output integer
---@field cached integer
---@field reasoning integer

---@class warden.Span
---@field id string time-ordered (UUIDv7)
---@field parentId? string
---@field traceId string W3C trace id (32 hex digits)
---@field remoteParent? string the span outside warden a root continues (TRACEPARENT)
---@field workspace? string
---@field kind warden.SpanKind
---@field name string
---@field uri? string
---@field input any small JSON summary
---@field output? any
---@field startedAt string
---@field finishedAt? string nil while running
---@field latencyMs? integer
---@field outcome? warden.Outcome
---@field error? string
---@field tokens warden.Tokens
---@field costUsd number

---@class warden.TracesParams
---@field workspace? string
---@field kind? warden.SpanKind
---@field uri? string
---@field parentId? string
---@field cursor? string
---@field limit? integer default 100, at most 500

---@class warden.TracesResult
---@field traces warden.Span[] newest first
---@field nextCursor? string

---@class warden.LlmArgs Arguments of every `warden.llm.*` action (which are required
--- depends on the action; see server/docs/protocol.md, *LLM actions*).
---@field uri string an open document
---@field range? lsp.Range explain, rewrite (required, non-empty), tests; empty: the enclosing definition
---@field position? lsp.Position docstring: inside the function or class to document
---@field diagnostic? lsp.Diagnostic fix: a diagnostic from any source
---@field instruction? string rewrite: what to change
---@field requestId? string chosen by the client, matches warden/llmChunk and warden.llm.cancel
---@field noCache? boolean ask the model even when the response cache holds a reply (a retry)

---@class warden.LlmResult
---@field requestId string
---@field text string the whole reply (Markdown, secrets restored)
---@field cached boolean answered from the response cache (nothing was sent)
---@field provider string
---@field model string
---@field tokens warden.Tokens
---@field costUsd number
---@field applied? boolean edit actions: whether the edit was applied (nil for explain)
---@field message? string why an edit was not applied, or what the user was warned about
---@field dropped string[] context the token budget left out

---@class warden.LlmChunkParams
---@field requestId string
---@field text string the next piece of the reply, secrets restored

---@class warden.SnapshotResult
---@field workspace string
---@field markdown string
---@field tokens integer
---@field head? string
---@field dirty boolean
---@field files integer
---@field included integer
---@field secretsRedacted integer
---@field cached boolean

---@alias warden.UsageGroup "model"|"day"|"action"

---@class warden.UsageParams
---@field workspace? string default: every workspace
---@field since? string RFC 3339 time or date
---@field groupBy? warden.UsageGroup default "model"

---@class warden.UsageRow
---@field key string provider/model, YYYY-MM-DD or the action
---@field requests integer
---@field cacheHits integer
---@field cacheHitRate number 0..1
---@field tokensInput integer
---@field tokensOutput integer
---@field tokensCached integer
---@field tokensReasoning integer
---@field costUsd number
---@field errors integer

---@class warden.UsageResult
---@field rows warden.UsageRow[]
---@field total warden.UsageRow

---@class warden.Interaction
---@field id integer
---@field workspace string
---@field requestId string
---@field spanId? string
---@field action string
---@field uri? string
---@field provider string
---@field model string
---@field prompt string redacted request JSON
---@field response? string redacted reply
---@field tokensInput integer
---@field tokensOutput integer
---@field tokensCached integer
---@field tokensReasoning integer
---@field costUsd number
---@field latencyMs? integer
---@field ttftMs? integer
---@field cacheHit boolean
---@field outcome "ok"|"error"|"cancelled"
---@field error? string
---@field head? string
---@field fileHash? string
---@field createdAt string

---@class warden.InteractionsResult
---@field interactions warden.Interaction[] newest first
---@field nextCursor? string

---@class warden.WorkspacesChangedParams
---@field workspaces warden.WorkspaceInfo[]
---@field active string

---@class warden.TraceStartedParams
---@field id string
---@field parentId? string
---@field workspace? string
---@field kind warden.SpanKind
---@field name string
---@field uri? string
---@field input any
---@field startedAt string
---@field tokens warden.Tokens

---@class warden.SearchParams Full-text search over the indexed files (`warden/search`).
---@field workspace? string an open workspace's name (default: every open workspace)
---@field query string a literal, or (with `regex`) a Rust `regex` expression; smart case
---@field regex? boolean
---@field glob? string only files whose workspace-relative path matches (`*` crosses `/`)
---@field limit? integer at most this many matching lines (default 200, at most 5000)
---@field context? integer context lines before and after (default 1, at most 10)

---@class warden.SearchMatch One matching line.
---@field workspace string
---@field uri string
---@field path string relative to the workspace root
---@field range lsp.Range the first match on the line (in the client's offset encoding)
---@field ranges lsp.Range[] every match on the line
---@field text string the line, secrets masked with `*`
---@field before string[] context lines before
---@field after string[] context lines after

---@class warden.SearchResult
---@field results warden.SearchMatch[] best files first (BM25), lines in file order
---@field truncated boolean more lines matched than `limit`
---@field filesSearched integer
---@field indexed boolean the trigram index narrowed the files
---@field elapsedMs number

---@class warden.SpanEnd
---@field id string
---@field finishedAt string
---@field latencyMs integer
---@field outcome warden.Outcome
---@field error? string
---@field output? any
---@field tokens warden.Tokens
---@field costUsd number

-- ---------------------------------------------------------------------------------------
-- Compatibility: Neovim 0.11 made client functions methods (`client:request`).
-- ---------------------------------------------------------------------------------------

local methods = vim.fn.has('nvim-0.11') == 1

--- JSON `null` arrives as `vim.NIL`; warden's objects use it for "absent", so it becomes
--- nil in object fields (the free-form span `input`/`output` keep their nulls).
---@param value any
---@return any
function M.denull(value)
  if value == vim.NIL then
    return nil
  end
  if type(value) ~= 'table' then
    return value
  end
  if vim.islist(value) then
    for i, v in ipairs(value) do
      if type(v) == 'table' then
        value[i] = M.denull(v)
      end
    end
    return value
  end
  for k, v in pairs(value) do
    if v == vim.NIL then
      value[k] = nil
    elseif type(v) == 'table' and k ~= 'input' and k ~= 'output' then
      value[k] = M.denull(v)
    end
  end
  return value
end

--- Params as a JSON object: a Lua table with no keys (`{ workspace = nil }`) would be
--- encoded as the array `[]`, which the server refuses ("invalid length 0, expected
--- struct ..."); it becomes `{}`.
---@param params any
---@return any
function M.object(params)
  if type(params) == 'table' and next(params) == nil then
    return vim.empty_dict()
  end
  return params
end

--- Sends a request; the handler gets the result with nulls removed (`M.denull`). Empty
--- params are sent as `{}` (`M.object`).
---@param client vim.lsp.Client
---@param method string
---@param params table|nil
---@param handler fun(err: lsp.ResponseError|nil, result: any, ctx: lsp.HandlerContext)
---@param bufnr? integer
---@return boolean ok
function M.request(client, method, params, handler, bufnr)
  params = M.object(params)
  local function wrapped(err, result, ctx)
    handler(err, M.denull(result), ctx)
  end
  if methods then
    return (client:request(method, params, wrapped, bufnr))
  end
  return (client.request(method, params, wrapped, bufnr))
end

---@param client vim.lsp.Client
---@param method string
---@param params table|nil
---@param timeout_ms? integer
---@param bufnr? integer
---@return any result, string|nil err
function M.request_sync(client, method, params, timeout_ms, bufnr)
  params = M.object(params)
  local response, err
  if methods then
    response, err = client:request_sync(method, params, timeout_ms, bufnr)
  else
    response, err = client.request_sync(method, params, timeout_ms, bufnr)
  end
  if not response then
    return nil, err or 'no answer'
  end
  if response.err then
    return nil, response.err.message
  end
  return M.denull(response.result), nil
end

---@param client vim.lsp.Client
---@param method string
---@param params table|nil
function M.notify(client, method, params)
  if methods then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

---@param client vim.lsp.Client
local function is_stopped(client)
  if methods then
    return client:is_stopped()
  end
  return client.is_stopped()
end

---@param client vim.lsp.Client
---@param force? boolean
local function stop(client, force)
  if methods then
    return client:stop(force)
  end
  return client.stop(force)
end

--- Runs a `warden.*` command with its one JSON object argument.
---@param client vim.lsp.Client
---@param command string one of `M.commands`
---@param args table|nil
---@param handler fun(err: lsp.ResponseError|nil, result: any)
function M.execute(client, command, args, handler)
  return M.request(client, 'workspace/executeCommand', {
    command = command,
    arguments = { M.object(args or {}) },
  }, function(err, result)
    handler(err, result)
  end)
end

-- ---------------------------------------------------------------------------------------
-- Listeners and state
-- ---------------------------------------------------------------------------------------

---@type table<string, table<integer, fun(params: any, ctx: lsp.HandlerContext)>>
local listeners = {}
local next_listener = 0

--- Calls `fn(params, ctx)` for every `method` notification from any warden client.
---@param method string a value of `M.notifications` (or a later feature's)
---@param fn fun(params: any, ctx: lsp.HandlerContext)
---@return fun() unsubscribe
function M.on(method, fn)
  next_listener = next_listener + 1
  local id = next_listener
  listeners[method] = listeners[method] or {}
  listeners[method][id] = fn
  return function()
    if listeners[method] then
      listeners[method][id] = nil
    end
  end
end

---@param method string
---@param params any
---@param ctx lsp.HandlerContext
function M.emit(method, params, ctx)
  for _, fn in pairs(listeners[method] or {}) do
    local ok, err = pcall(fn, params, ctx)
    if not ok then
      vim.notify(('warden: %s listener failed: %s'):format(method, err), vim.log.levels.ERROR)
    end
  end
  local pattern = M.events[method]
  if pattern then
    vim.api.nvim_exec_autocmds('User', {
      pattern = pattern,
      modeline = false,
      data = { client_id = ctx.client_id, params = params },
    })
  end
end

---@class warden.ClientState
---@field workspaces warden.WorkspaceInfo[]
---@field active? string
---@field progress table<string|integer, {title: string, message?: string, percentage?: integer, cancellable: boolean}>

---@type table<integer, warden.ClientState>
M.state = {}

---@param client_id integer
---@return warden.ClientState
function M.client_state(client_id)
  local st = M.state[client_id]
  if not st then
    st = { workspaces = {}, progress = {} }
    M.state[client_id] = st
  end
  return st
end

M.on(M.notifications.workspaces_changed, function(params, ctx)
  local st = M.client_state(ctx.client_id)
  st.workspaces = params.workspaces or {}
  st.active = params.active
end)

--- Every workspace any running client knows, by name (the database is shared).
---@return warden.WorkspaceInfo[]
function M.known_workspaces()
  local seen, out = {}, {}
  for _, client in ipairs(M.clients()) do
    for _, ws in ipairs(M.client_state(client.id).workspaces) do
      if not seen[ws.name] then
        seen[ws.name] = true
        out[#out + 1] = ws
      end
    end
  end
  table.sort(out, function(a, b)
    return a.name < b.name
  end)
  return out
end

-- ---------------------------------------------------------------------------------------
-- Progress (`$/progress` arrives through Neovim's handler as `LspProgress` autocommands)
-- ---------------------------------------------------------------------------------------

local group = vim.api.nvim_create_augroup('warden.lsp', { clear = true })

local redraw_pending = false

--- Redraws status lines and winbars, so a status line showing
--- `require('warden').status()` follows progress (Neovim does not redraw them on its
--- own when a server reports): at once when a task begins or ends, at most every 100 ms
--- for reports in between.
---@param now boolean
local function redraw_status(now)
  if now then
    pcall(vim.cmd, 'redrawstatus!')
    return
  end
  if redraw_pending then
    return
  end
  redraw_pending = true
  vim.defer_fn(function()
    redraw_pending = false
    pcall(vim.cmd, 'redrawstatus!')
  end, 100)
end

vim.api.nvim_create_autocmd('LspProgress', {
  group = group,
  desc = 'warden: track progress tokens (for :Warden cancel and the status line)',
  callback = function(ev)
    local data = ev.data or {}
    local client = vim.lsp.get_client_by_id(data.client_id)
    if not client or client.name ~= M.name or not data.params then
      return
    end
    local token, value = data.params.token, data.params.value
    if type(value) ~= 'table' then
      return
    end
    local st = M.client_state(client.id)
    if value.kind == 'begin' then
      st.progress[token] = {
        title = value.title or '',
        message = value.message,
        percentage = value.percentage,
        cancellable = value.cancellable == true,
      }
    elseif value.kind == 'report' and st.progress[token] then
      local p = st.progress[token]
      p.message = value.message or p.message
      p.percentage = value.percentage or p.percentage
      if value.cancellable ~= nil then
        p.cancellable = value.cancellable
      end
    elseif value.kind == 'end' then
      local p = st.progress[token]
      st.progress[token] = nil
      M.emit('warden:progressEnd', {
        token = token,
        title = p and p.title or '',
        message = value.message,
      }, { client_id = client.id, method = '$/progress' })
    end
    redraw_status(value.kind ~= 'report')
  end,
})

--- Asks the server to cancel every cancellable task in progress (scans, LLM requests
--- started elsewhere), except the progress tokens in `skip`. Returns how many were asked.
---@param skip? table<string, boolean>
---@return integer
function M.cancel_all(skip)
  local n = 0
  for _, client in ipairs(M.clients()) do
    for token, p in pairs(M.client_state(client.id).progress) do
      if p.cancellable and not (skip and skip[tostring(token)]) then
        M.notify(client, 'window/workDoneProgress/cancel', { token = token })
        n = n + 1
      end
    end
  end
  return n
end

-- ---------------------------------------------------------------------------------------
-- Clients
-- ---------------------------------------------------------------------------------------

--- Running warden clients (all roots), oldest first.
---@param filter? {bufnr?: integer}
---@return vim.lsp.Client[]
function M.clients(filter)
  -- A client being stopped (`:Warden restart`) is neither used nor reused.
  local clients = vim.tbl_filter(function(c)
    return not is_stopped(c)
  end, vim.lsp.get_clients({ name = M.name, bufnr = filter and filter.bufnr }))
  table.sort(clients, function(a, b)
    return a.id < b.id
  end)
  return clients
end

--- The client for a buffer, else the first running one.
---@param bufnr? integer
---@return vim.lsp.Client|nil
function M.client_for(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return M.clients({ bufnr = bufnr })[1] or M.clients()[1]
end

--- Calls `fn(client, name)` with the workspace a command is about: `name` when given;
--- else the one owning the buffer's file (`warden/workspaceFor`); else (the buffer is
--- no file) the server's active one. The client is the buffer's, else any running one;
--- when none runs, or the server cannot say, the user is told and `fn` is not called.
---@param name string|nil
---@param bufnr integer|nil default: the current buffer
---@param fn fun(client: vim.lsp.Client, name: string)
function M.with_workspace(name, bufnr, fn)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = M.client_for(bufnr)
  if not client then
    return vim.notify(
      'warden: no warden server is running; open a file in a git repository, or run :Warden restart',
      vim.log.levels.ERROR
    )
  end
  if name then
    return fn(client, name)
  end
  local file = vim.api.nvim_buf_get_name(bufnr)
  if file == '' or vim.bo[bufnr].buftype ~= '' or file:match('^%a[%w+.-]*://') then
    return fn(client, M.client_state(client.id).active or 'default')
  end
  M.request(client, M.requests.workspace_for, { uri = vim.uri_from_fname(file) }, function(err, ws)
    if err or type(ws) ~= 'table' or type(ws.name) ~= 'string' then
      local why = err and err.message or 'no answer'
      return vim.notify('warden: finding the workspace of this file failed: ' .. why, vim.log.levels.ERROR)
    end
    fn(client, ws.name)
  end)
end

--- Answers `workspace/configuration` from the current configuration: the `warden`
--- section (what `init_options` carried), a sub-section, or everything.
---@param params lsp.ConfigurationParams
---@return any[]
function M.configuration(params)
  local settings = config.json_settings()
  local out = {}
  for i, item in ipairs(params and params.items or {}) do
    local section = item.section
    local value
    if section == nil or section == '' then
      value = { warden = settings }
    elseif section == 'warden' then
      value = settings
    elseif section:sub(1, 7) == 'warden.' then
      value = settings
      for key in section:sub(8):gmatch('[^.]+') do
        value = type(value) == 'table' and value[key] or nil
      end
    end
    out[i] = value == nil and vim.NIL or value
  end
  return out
end

--- Creates the files a workspace edit creates with `ignoreIfExists` that do not exist
--- yet: Neovim's `apply_workspace_edit` skips creating those (it only opens a buffer),
--- so the parent folder would be missing when the buffer is written.
---@param edit lsp.WorkspaceEdit|nil
function M.create_missing_files(edit)
  for _, change in ipairs(type(edit) == 'table' and edit.documentChanges or {}) do
    local opts = type(change.options) == 'table' and change.options or {}
    if change.kind == 'create' and opts.ignoreIfExists and not opts.overwrite then
      local fname = vim.uri_to_fname(change.uri)
      if not vim.uv.fs_stat(fname) then
        vim.fn.mkdir(vim.fs.dirname(fname), 'p')
        local f = io.open(fname, 'w')
        if f then
          f:close()
        end
      end
    end
  end
end

---@type table<string, lsp.Handler>
M.handlers = {
  ['workspace/configuration'] = function(_, params)
    return M.configuration(params)
  end,
  -- Neovim's own handler applies the edit (one undo step per buffer); files to create
  -- are created first (see M.create_missing_files); files it changed that no window
  -- shows are shown, or written when they are the git-ignored .env (warden.edits).
  ['workspace/applyEdit'] = function(err, params, ctx, config)
    if type(params) == 'table' then
      pcall(M.create_missing_files, params.edit)
    end
    local result = vim.lsp.handlers['workspace/applyEdit'](err, params, ctx, config)
    if type(result) == 'table' and result.applied and type(params) == 'table' then
      local ok, e = pcall(require('warden.edits').settle, params.edit)
      if not ok then
        vim.notify('warden: after the edit: ' .. tostring(e), vim.log.levels.WARN)
      end
    end
    return result
  end,
}
-- Its autocommand writes the .env of an environment-variable fix (a code action, which
-- Neovim applies without a hook).
require('warden.edits')
for _, method in pairs(M.notifications) do
  M.handlers[method] = function(_, params, ctx)
    M.emit(method, M.denull(params) or {}, ctx)
  end
end
-- Gateway calls are counted and warned about (warden.gateway) even before any gateway
-- feature was used in this session; the module loads with the first call.
M.on(M.notifications.gateway_call, function(params, ctx)
  require('warden.gateway').on_call(params, ctx)
end)
-- Fix-until-green loops are followed (progress, the diff split) however they started:
-- :Warden fixUntilGreen, or the server's *Fix until it runs* code action.
M.on(M.notifications.fix_round, function(params, ctx)
  require('warden.fix').on_round(params, ctx)
end)
M.on(M.notifications.fix_finished, function(params, ctx)
  require('warden.fix').on_finished(params, ctx)
end)

--- Sends the current settings to every running client (`workspace/didChangeConfiguration`;
--- the server then pulls them through `workspace/configuration`).
function M.push_settings()
  local settings = config.json_settings()
  for _, client in ipairs(M.clients()) do
    if client.settings then
      client.settings = { warden = settings }
    end
    client.config.settings = { warden = settings }
    M.notify(client, 'workspace/didChangeConfiguration', { settings = { warden = settings } })
  end
end

---@param client vim.lsp.Client
local function on_init(client)
  local caps = client.server_capabilities or {}
  local protocol = type(caps.experimental) == 'table' and caps.experimental.wardenProtocol
  if protocol ~= M.protocol then
    vim.notify(
      ('warden: the server speaks warden protocol %s, this plugin speaks %d; update one of them'):format(
        tostring(protocol),
        M.protocol
      ),
      vim.log.levels.WARN
    )
  end
  M.request(client, M.requests.workspaces, vim.empty_dict(), function(err, result)
    if not err and type(result) == 'table' then
      local st = M.client_state(client.id)
      st.workspaces = result
      for _, ws in ipairs(result) do
        if ws.active then
          st.active = ws.name
        end
      end
    end
  end)
end

--- Clients stopped on purpose (`:Warden restart`, `M.stop_all`), by id.
---@type table<integer, boolean>
local stopping = {}

--- Buffers whose server ended without being asked to (crash, signal, exit), with the
--- root it served; `:Warden restart` attaches them again.
---@type table<integer, string>
M.orphans = {}

local signal_names = {
  [1] = 'SIGHUP',
  [2] = 'SIGINT',
  [3] = 'SIGQUIT',
  [4] = 'SIGILL',
  [6] = 'SIGABRT',
  [7] = 'SIGBUS',
  [8] = 'SIGFPE',
  [9] = 'SIGKILL',
  [11] = 'SIGSEGV',
  [13] = 'SIGPIPE',
  [15] = 'SIGTERM',
}

--- What to tell the user when a server ended without being asked to.
---@param root string
---@param code integer
---@param signal integer
---@param buffers integer how many buffers it served
---@return string
function M.exit_message(root, code, signal, buffers)
  local what
  if signal and signal ~= 0 then
    what = ('was killed by signal %d (%s)'):format(signal, signal_names[signal] or 'unknown')
  elseif code == 0 then
    what = 'exited (code 0) without being asked to'
  else
    what = ('exited with code %d'):format(code)
  end
  local detached = buffers == 1 and '1 buffer is' or ('%d buffers are'):format(buffers)
  return ('warden: the server for %s %s; %s without warden now. :Warden restart starts it again (:Warden log shows its log)'):format(
    vim.fn.fnamemodify(root, ':~'),
    what,
    detached
  )
end

---@param code integer
---@param signal integer
---@param client_id integer
local function on_exit(code, signal, client_id)
  M.state[client_id] = nil
  local asked = stopping[client_id]
  stopping[client_id] = nil
  local client = vim.lsp.get_client_by_id(client_id)
  if asked or (client and client._is_stopping) or vim.v.exiting ~= vim.NIL or M.leaving then
    return
  end
  local root = client and (client.root_dir or client.config.root_dir) or '?'
  local buffers = 0
  for buf in pairs(client and client.attached_buffers or {}) do
    M.orphans[buf] = root
    buffers = buffers + 1
  end
  local msg = M.exit_message(root, code, signal, buffers)
  vim.schedule(function()
    vim.notify(msg, vim.log.levels.ERROR)
  end)
end

vim.api.nvim_create_autocmd('VimLeavePre', {
  group = group,
  desc = 'warden: servers stopping with Neovim are no crash',
  callback = function()
    M.leaving = true
  end,
})

--- The nearest ancestor of the buffer's file holding a root marker, or nil.
---@param bufnr integer
---@return string|nil
function M.find_root(bufnr)
  return vim.fs.root(bufnr, config.get().root_markers)
end

--- Whether warden should look at this buffer: a real file, of an allowed filetype.
---@param bufnr integer
---@return boolean
function M.wants(bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= '' then
    return false
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' or name:match('^%a[%w+.-]*://') then
    return false
  end
  local fts = config.get().filetypes
  if fts then
    return vim.tbl_contains(fts, vim.bo[bufnr].filetype)
  end
  return true
end

--- Client-side handlers for the commands of the server's code actions: the
--- `warden.llm.*` ones, so the reply streams into Neovim (`warden.llm` loads on first
--- use), and `warden.worktrees.compare`, which only the editor runs (a diff of the
--- other worktree's copy, `warden.worktrees`).
---@return table<string, fun(command: lsp.Command, ctx: table)>
local function code_action_commands()
  local out = {}
  for _, key in ipairs({ 'llm_explain', 'llm_fix', 'llm_rewrite', 'llm_docstring', 'llm_tests' }) do
    local name = M.commands[key]
    out[name] = function(command, ctx)
      return require('warden.llm').client_commands()[name](command, ctx)
    end
  end
  out[M.client_commands.worktrees_compare] = function(command, ctx)
    return require('warden.worktrees').command(command, ctx)
  end
  return out
end

---@type table<string, boolean> commands reported missing (once each)
local missing_reported = {}

--- The log file the plugin gives a server (`WARDEN_LOG_FILE`) unless the user names
--- one: one per root under `stdpath('log')/warden/`, or a shared one (`root` nil, the
--- `vim.lsp.enable` path, whose configuration is the same for every root).
---@param root string|nil
---@return string
function M.log_file(root)
  local dir = vim.fs.joinpath(vim.fn.stdpath('log') --[[@as string]], 'warden')
  if not root then
    return vim.fs.joinpath(dir, 'warden.log')
  end
  local name = vim.fs.basename(root):gsub('[^%w._-]', '_')
  return vim.fs.joinpath(dir, ('%s-%s.log'):format(name, vim.fn.sha256(root):sub(1, 8)))
end

--- The log file a server writes: the user's `WARDEN_LOG_FILE` (`cmd_env`, else the
--- environment), else the plugin's (`M.log_file`).
---@param root string|nil
---@param cmd_env? table<string, string>
---@return string
function M.log_path(root, cmd_env)
  local env = cmd_env or config.get().cmd_env
  return env.WARDEN_LOG_FILE or os.getenv('WARDEN_LOG_FILE') or M.log_file(root)
end

--- The environment of a server: `cmd_env`, with `WARDEN_LOG_FILE` when the user names
--- none. The file is created, and moved to `*.1` once it is over 4 MiB (when no running
--- server writes it).
---@param root string|nil
---@return table<string, string>
local function server_env(root)
  local env = vim.deepcopy(config.get().cmd_env)
  if env.WARDEN_LOG_FILE or os.getenv('WARDEN_LOG_FILE') then
    return env
  end
  local path = M.log_file(root)
  env.WARDEN_LOG_FILE = path
  pcall(vim.fn.mkdir, vim.fs.dirname(path), 'p')
  local stat = vim.uv.fs_stat(path)
  if stat and stat.size > 4 * 1024 * 1024 then
    local busy = false
    for _, c in ipairs(M.clients()) do
      busy = busy or (c.config.cmd_env or {}).WARDEN_LOG_FILE == path
    end
    if not busy then
      vim.uv.fs_rename(path, path .. '.1')
    end
  end
  return env
end

--- The base client configuration shared by `vim.lsp.start` and `lsp/warden.lua`.
---@return vim.lsp.ClientConfig
function M.base_config()
  local cfg = config.get()
  local settings = config.json_settings()
  return {
    name = M.name,
    cmd = vim.deepcopy(cfg.cmd),
    cmd_env = next(cfg.cmd_env) and vim.deepcopy(cfg.cmd_env) or nil,
    init_options = settings,
    settings = { warden = settings },
    handlers = M.handlers,
    commands = code_action_commands(),
    capabilities = cfg.capabilities or (vim.lsp.protocol and vim.lsp.protocol.make_client_capabilities()),
    on_init = on_init,
    on_exit = on_exit,
    on_attach = function(client, bufnr)
      M.orphans[bufnr] = nil
      local user = config.get().on_attach
      if user then
        user(client, bufnr)
      end
    end,
  }
end

--- A `vim.lsp.Config` for Neovim 0.11+ `vim.lsp.config`/`vim.lsp.enable('warden')`: the
--- same client, rooted like `start` (files without a root marker are left alone).
---@return table
function M.lsp_config()
  local c = M.base_config()
  c.name = nil -- vim.lsp.config names it after the file
  c.cmd_env = server_env(nil)
  c.root_dir = function(bufnr, on_dir)
    if M.wants(bufnr) then
      local root = M.find_root(bufnr)
      if root then
        on_dir(root)
      end
    end
  end
  return c
end

--- Attaches warden to a buffer: starts (or reuses) the client of the buffer's root; a
--- file outside every root joins a running client, whose server files it under the
--- active workspace. Returns the client id, or nil when warden leaves the buffer alone.
---@param bufnr? integer
---@return integer|nil
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if not M.wants(bufnr) then
    return nil
  end
  local existing = M.clients({ bufnr = bufnr })[1]
  if existing then
    return existing.id
  end
  local root = M.find_root(bufnr)
  if not root then
    local any = M.clients()[1]
    if any and vim.lsp.buf_attach_client(bufnr, any.id) then
      return any.id
    end
    return nil
  end
  local cfg = config.get()
  if vim.fn.executable(cfg.cmd[1]) ~= 1 then
    if not missing_reported[cfg.cmd[1]] then
      missing_reported[cfg.cmd[1]] = true
      local msg = ('warden: cannot run %q (not an executable on PATH); install warden or set `cmd` in vim.g.warden or require("warden").setup{}; see :checkhealth warden'):format(
        cfg.cmd[1]
      )
      -- Scheduled: this runs in FileType/BufReadPost autocommands, where an error
      -- message would abort the :edit with a Lua stack trace.
      vim.schedule(function()
        vim.notify(msg, vim.log.levels.ERROR)
      end)
    end
    return nil
  end
  local c = M.base_config()
  c.root_dir = root
  c.workspace_folders = {
    { uri = vim.uri_from_fname(root), name = vim.fs.basename(root) },
  }
  c.cmd_env = server_env(root)
  local ok, id = pcall(vim.lsp.start, c, { bufnr = bufnr })
  if not ok then
    vim.schedule(function()
      vim.notify(('warden: starting %s failed: %s'):format(table.concat(cfg.cmd, ' '), id), vim.log.levels.ERROR)
    end)
    return nil
  end
  return id
end

--- Stops every warden client; `on_stopped` runs once they have all exited (a server
--- that has not exited after 2 s is terminated).
---@param on_stopped? fun()
function M.stop_all(on_stopped)
  local clients = M.clients()
  for _, client in ipairs(clients) do
    stopping[client.id] = true
    stop(client)
  end
  if not on_stopped then
    return
  end
  local timer = assert(vim.uv.new_timer())
  local waited = 0
  timer:start(
    50,
    50,
    vim.schedule_wrap(function()
      waited = waited + 50
      -- A stopping client reports is_stopped() at once; it is gone once it has exited.
      local running = vim.tbl_filter(function(c)
        return vim.lsp.get_client_by_id(c.id) ~= nil
      end, clients)
      if #running > 0 and waited == 2000 then
        for _, c in ipairs(running) do
          if type(c.rpc) == 'table' and c.rpc.terminate then
            pcall(c.rpc.terminate)
          else
            stop(c, true)
          end
        end
      end
      if #running == 0 or waited >= 10000 then
        timer:stop()
        timer:close()
        on_stopped()
      end
    end)
  )
end

return M
