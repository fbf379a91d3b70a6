---@mod warden.traces The traces buffer: warden's spans as a tree with timing bars.
---
--- `:Warden traces [WORKSPACE]` loads recent spans (`warden/traces`) and keeps them live
--- from `warden/traceStarted`/`warden/traceFinished`: children under their parent, newest
--- roots first, each with a waterfall bar (one scale for the view: the longest root fills
--- it, children sit inside their root's part), latency, outcome, tokens with cached
--- tokens, cost, "response cache hit" for LLM replies from the response cache, and the
--- verdict of each `guard` span of an LLM action (redaction, exclusion, deny-list,
--- packages). Calls through the LLM gateway (`llm` spans with `input.gateway`) carry a
--- `gateway <client>` tag (the caller's User-Agent), which sets them apart from warden's
--- own actions. Each round of *Fix until it runs* (a `fix.round` span) carries its
--- number and outcome (`round 2 · failing`, `round 1 · green · cached`). `<CR>` expands a span's input, output and error; `f` shows one kind of
--- span only (command, llm, run, scan, index, guard); `c` shows the gateway calls of one
--- client only (with their guard spans), or of every client; `r` reloads, `m` loads
--- older spans, `q` closes. The buffer opens in a view window (`warden.ui`).

local lsp = require('warden.lsp')
local config = require('warden.config')
local ui = require('warden.ui')

local M = {}

local ns = vim.api.nvim_create_namespace('warden.traces')

ui.highlights('warden.traces', {
  WardenTraceOk = 'DiagnosticOk',
  WardenTraceError = 'DiagnosticError',
  WardenTraceRunning = 'DiagnosticWarn',
  WardenTraceCancelled = 'DiagnosticHint',
  WardenTraceBar = 'Function',
  WardenTraceBarEmpty = 'NonText',
  WardenTraceDim = 'Comment',
  WardenTraceName = 'Identifier',
  WardenTraceTokens = 'Number',
  WardenTraceCache = 'DiagnosticInfo',
  WardenTraceGateway = 'Special',
  WardenTraceFixRound = 'DiagnosticWarn',
})

--- The client filter value meaning "every gateway call".
M.any_client = '*'

--- The client (User-Agent) of every gateway span seen, by span id: the `llm` span of a
--- call and, once looked up, the spans under it.
---@type table<string, string>
M.span_clients = {}

-- ---------------------------------------------------------------------------------------
-- Pure helpers (time, JSON, one span's line)
-- ---------------------------------------------------------------------------------------

--- Milliseconds since the Unix epoch of an RFC 3339 UTC time, or nil.
---@param s any
---@return number|nil
function M.parse_time(s)
  if type(s) ~= 'string' then
    return nil
  end
  local y, mo, d, h, mi, sec, frac = s:match('^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.?(%d*)')
  if not y then
    return nil
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- Days from the civil date (Howard Hinnant's algorithm).
  y = mo <= 2 and y - 1 or y
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (mo + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  local secs = ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60 + tonumber(sec)
  local ms = frac ~= '' and tonumber((frac .. '000'):sub(1, 3)) or 0
  return secs * 1000 + ms
end

---@return number
local function now_ms()
  local sec, usec = vim.uv.gettimeofday()
  return sec * 1000 + math.floor(usec / 1000)
end

local empty_dict_mt = getmetatable(vim.empty_dict())

--- JSON text of a value, indented, keys sorted (for the expanded details).
---@param value any
---@param indent? string
---@return string
function M.pretty_json(value, indent)
  indent = indent or ''
  if value == nil or value == vim.NIL then
    return 'null'
  end
  if type(value) ~= 'table' then
    return vim.json.encode(value)
  end
  local inner = indent .. '  '
  if getmetatable(value) == empty_dict_mt and next(value) == nil then
    return '{}'
  end
  if vim.islist(value) then
    if #value == 0 then
      return '[]'
    end
    local items = {}
    for _, v in ipairs(value) do
      items[#items + 1] = inner .. M.pretty_json(v, inner)
    end
    return '[\n' .. table.concat(items, ',\n') .. '\n' .. indent .. ']'
  end
  local keys = vim.tbl_keys(value)
  table.sort(keys, function(a, b)
    return tostring(a) < tostring(b)
  end)
  local items = {}
  for _, k in ipairs(keys) do
    items[#items + 1] = ('%s%s: %s'):format(inner, vim.json.encode(tostring(k)), M.pretty_json(value[k], inner))
  end
  return '{\n' .. table.concat(items, ',\n') .. '\n' .. indent .. '}'
end

local format_latency = ui.duration

---@param t warden.Tokens|nil
---@return string|nil
function M.format_tokens(t)
  if type(t) ~= 'table' then
    return nil
  end
  local input, output, cached = t.input or 0, t.output or 0, t.cached or 0
  if input == 0 and output == 0 and cached == 0 and (t.reasoning or 0) == 0 then
    return nil
  end
  local hit = input > 0 and math.floor(100 * cached / input) or 0
  return ('tok %d→%d cached %d (%d%% hit)'):format(input, output, cached, hit)
end

--- A short note about a finished span's output: "response cache hit" when an LLM reply
--- came from the response cache, and a guardrail's verdict ("secretsRedacted 2",
--- "allowed"). Nil when there is nothing to say.
---@param s warden.Span
---@return string|nil
function M.output_note(s)
  local out = s.output
  if type(out) ~= 'table' or vim.islist(out) then
    return nil
  end
  local notes = {}
  -- A fix round's `cached` (replayed) is in its round tag (warden.fix.round_tag).
  if out.cached == true and s.name ~= 'fix.round' then
    notes[#notes + 1] = 'response cache hit'
  end
  if s.kind == 'guard' then
    local keys = vim.tbl_keys(out)
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = out[k]
      if v == true then
        notes[#notes + 1] = k
      elseif type(v) == 'number' or type(v) == 'string' then
        notes[#notes + 1] = ('%s %s'):format(k, tostring(v))
      end
    end
  end
  if #notes == 0 then
    return nil
  end
  return vim.fn.strcharpart(table.concat(notes, ', '), 0, 60)
end

--- The timing bar of a span inside its root's interval: `width` cells, the span's part
--- filled (at least one cell).
---@param span_start number
---@param span_end number
---@param root_start number
---@param root_end number
---@param width integer
---@return string filled_prefix, string filled, string rest
function M.bar(span_start, span_end, root_start, root_end, width)
  local total = math.max(root_end - root_start, 1)
  local from = math.floor((span_start - root_start) / total * width + 0.5)
  from = math.max(0, math.min(from, width - 1))
  local len = math.floor((span_end - span_start) / total * width + 0.5)
  len = math.max(1, math.min(len, width - from))
  return string.rep('░', from), string.rep('█', len), string.rep('░', width - from - len)
end

--- The client (User-Agent) of a call through the LLM gateway, from its `llm` span's
--- input; nil for every other span.
---@param s warden.Span|warden.TraceStartedParams
---@return string|nil
function M.gateway_client(s)
  local input = s.input
  if type(input) ~= 'table' or input.gateway ~= true then
    return nil
  end
  return type(input.client) == 'string' and input.client or 'unknown'
end

--- The gateway client a span belongs to: its own, else its parent's (a `guard` span of
--- a gateway call); remembered in `M.span_clients`.
---@param s warden.Span|warden.TraceStartedParams
---@return string|nil
local function client_of(s)
  local c = M.gateway_client(s) or M.span_clients[s.id]
  local parent = s.parentId
  if not c and type(parent) == 'string' then
    c = M.span_clients[parent]
  end
  if c then
    M.span_clients[s.id] = c
  end
  return c
end

-- ---------------------------------------------------------------------------------------
-- Rendering
-- ---------------------------------------------------------------------------------------

---@class warden.TracesView
---@field buf integer
---@field workspace string|nil only spans of this workspace
---@field kind string|nil only spans of this kind
---@field client string|nil only gateway calls of this client (`M.any_client`: of any)
---@field focus string|nil a span to show expanded, with the cursor on it, once loaded
---@field spans table<string, warden.Span>
---@field expanded table<string, boolean>
---@field line_ids table<integer, string> 1-based line -> span id
---@field next_cursor string|nil
---@field status string what the header says about loading
---@field timer uv.uv_timer_t|nil
---@field render_pending boolean
---@field generation integer|nil counts reloads; answers to older ones are dropped

---@type table<integer, warden.TracesView>
M.views = {}

local outcome_hl = {
  ok = 'WardenTraceOk',
  error = 'WardenTraceError',
  cancelled = 'WardenTraceCancelled',
  interrupted = 'WardenTraceCancelled',
}

--- Builds a line from segments, recording highlights at byte columns.
---@param segments {[1]: string, [2]: string|nil}[]
---@param lnum integer 0-based
---@param hls table
---@return string
local function build(segments, lnum, hls)
  local parts, col = {}, 0
  for _, seg in ipairs(segments) do
    local text, hl = seg[1], seg[2]
    if hl and #text > 0 then
      hls[#hls + 1] = { lnum, col, col + #text, hl }
    end
    parts[#parts + 1] = text
    col = col + #text
  end
  return table.concat(parts)
end

---@param s string
---@param width integer
---@return string
local function pad(s, width)
  local w = vim.api.nvim_strwidth(s)
  if w >= width then
    return s
  end
  return s .. string.rep(' ', width - w)
end

---@param s string
---@param width integer
---@return string
local function lpad(s, width)
  local w = vim.api.nvim_strwidth(s)
  return w >= width and s or (string.rep(' ', width - w) .. s)
end

--- Renders spans as lines (pure apart from the clock; used by the buffer and the specs).
---@param spans table<string, warden.Span>
---@param opts {expanded?: table<string, boolean>, bar_width?: integer, now?: number, header?: string[]}
---@return string[] lines, table highlights, table<integer, string> line_ids, boolean running
function M.render(spans, opts)
  opts = opts or {}
  local expanded = opts.expanded or {}
  local width = opts.bar_width or 20
  local now = opts.now or now_ms()
  local lines, hls, line_ids = {}, {}, {}
  local running = false

  for _, h in ipairs(opts.header or {}) do
    lines[#lines + 1] = build({ { h, 'WardenTraceDim' } }, #lines, hls)
  end

  local children, roots = {}, {}
  for _, s in pairs(spans) do
    local parent = s.parentId
    if parent and parent ~= vim.NIL and spans[parent] then
      children[parent] = children[parent] or {}
      table.insert(children[parent], s)
    else
      roots[#roots + 1] = s
    end
    if not s.finishedAt or s.finishedAt == vim.NIL then
      running = true
    end
  end
  table.sort(roots, function(a, b)
    return a.id > b.id
  end)
  for _, list in pairs(children) do
    table.sort(list, function(a, b)
      return a.id < b.id
    end)
  end
  if #roots == 0 then
    lines[#lines + 1] = build({ { 'no traces yet', 'WardenTraceDim' } }, #lines, hls)
    return lines, hls, line_ids, running
  end

  -- Column width for names (with tree indentation).
  local name_width = 10
  local function measure(s, depth)
    name_width = math.max(name_width, math.min(48, 2 * depth + 2 + vim.api.nvim_strwidth(s.name or '')))
    for _, c in ipairs(children[s.id] or {}) do
      measure(c, depth + 1)
    end
  end
  for _, r in ipairs(roots) do
    measure(r, 0)
  end

  ---@param s warden.Span
  ---@return number start, number finish, boolean done
  local function interval(s)
    local start = M.parse_time(s.startedAt) or now
    local finish = M.parse_time(s.finishedAt)
    if not finish and type(s.latencyMs) == 'number' then
      finish = start + s.latencyMs
    end
    return start, finish or math.max(now, start), finish ~= nil
  end

  local function detail(label, text, depth, id)
    local pad_left = string.rep(' ', 2 * depth + 13)
    local first = true
    for _, l in ipairs(vim.split(text, '\n', { plain = true })) do
      local head = first and pad(label, 9) or string.rep(' ', 9)
      lines[#lines + 1] = build({ { pad_left .. head, 'WardenTraceDim' }, { l } }, #lines, hls)
      line_ids[#lines] = id
      first = false
    end
  end

  local function render(s, depth, root_start, root_end)
    local start, finish, done = interval(s)
    local indent = depth == 0 and '' or (string.rep('  ', depth - 1) .. '└ ')
    local marker = expanded[s.id] and '▾ ' or '▸ '
    local name = pad(indent .. marker .. (s.name or '?'), name_width + 2)
    local clock = depth == 0 and os.date('%H:%M:%S', math.floor(start / 1000)) or '        '
    local pre, fill, rest = M.bar(start, finish, root_start, root_end, width)
    local latency = done and format_latency(s.latencyMs ~= vim.NIL and s.latencyMs or (finish - start))
      or (format_latency(finish - start) .. '…')
    local outcome = done and (s.outcome ~= vim.NIL and s.outcome or 'ok') or 'running'
    local segs = {
      { clock .. ' ', 'WardenTraceDim' },
      { name, 'WardenTraceName' },
      { '  ' },
      { pre, 'WardenTraceBarEmpty' },
      { fill, done and 'WardenTraceBar' or 'WardenTraceRunning' },
      { rest, 'WardenTraceBarEmpty' },
      { '  ' .. lpad(latency, 9) .. '  ' },
      { pad(outcome, 11), outcome_hl[outcome] or 'WardenTraceRunning' },
      { pad(s.kind or '', 9), 'WardenTraceDim' },
    }
    local client = M.gateway_client(s)
    if client then
      segs[#segs + 1] = { ('gateway %s  '):format(vim.fn.strcharpart(client, 0, 40)), 'WardenTraceGateway' }
    end
    local round = require('warden.fix').round_tag(s, done)
    if round then
      local hl = round:find('· green', 1, true) and 'WardenTraceOk' or done and 'WardenTraceFixRound'
      segs[#segs + 1] = { round .. '  ', hl or 'WardenTraceRunning' }
    end
    if s.workspace and s.workspace ~= vim.NIL then
      segs[#segs + 1] = { '[' .. s.workspace .. ']  ' }
    end
    local tokens = M.format_tokens(s.tokens)
    if tokens then
      segs[#segs + 1] = { tokens .. '  ', 'WardenTraceTokens' }
    end
    if type(s.costUsd) == 'number' and s.costUsd > 0 then
      segs[#segs + 1] = { ('$%.6f  '):format(s.costUsd), 'WardenTraceTokens' }
    end
    local note = done and M.output_note(s)
    if note then
      segs[#segs + 1] = { note .. '  ', note:find('^response cache hit') and 'WardenTraceCache' or 'WardenTraceDim' }
    end
    if s.error and s.error ~= vim.NIL then
      local e = tostring(s.error):gsub('\n', ' ')
      segs[#segs + 1] = { '— ' .. vim.fn.strcharpart(e, 0, 80), 'WardenTraceError' }
    end
    lines[#lines + 1] = (build(segs, #lines, hls):gsub('%s+$', ''))
    line_ids[#lines] = s.id

    if expanded[s.id] then
      detail('id', s.id, depth, s.id)
      local times = s.startedAt or '?'
      if done and s.finishedAt and s.finishedAt ~= vim.NIL then
        times = times .. ' → ' .. s.finishedAt
      end
      detail('time', times, depth, s.id)
      if s.uri and s.uri ~= vim.NIL then
        detail('uri', s.uri, depth, s.id)
      end
      detail('input', M.pretty_json(s.input), depth, s.id)
      detail('output', done and M.pretty_json(s.output) or '(running)', depth, s.id)
      if s.error and s.error ~= vim.NIL then
        detail('error', tostring(s.error), depth, s.id)
      end
      local t = type(s.tokens) == 'table' and s.tokens or {}
      detail(
        'tokens',
        ('input %d  output %d  cached %d  reasoning %d  cost $%.6f'):format(
          t.input or 0,
          t.output or 0,
          t.cached or 0,
          t.reasoning or 0,
          type(s.costUsd) == 'number' and s.costUsd or 0
        ),
        depth,
        s.id
      )
    end
    for _, c in ipairs(children[s.id] or {}) do
      render(c, depth + 1, root_start, root_end)
    end
  end

  -- One scale for every tree: the longest root fills the bar, so roots compare, and
  -- children sit inside their root's part like a waterfall.
  local scale = 1
  for _, r in ipairs(roots) do
    local rs, re = interval(r)
    scale = math.max(scale, re - rs)
  end
  for _, r in ipairs(roots) do
    local rs = interval(r)
    render(r, 0, rs, rs + scale)
  end
  return lines, hls, line_ids, running
end

---@param view warden.TracesView
---@return string[]
local function header(view)
  local count = vim.tbl_count(view.spans)
  local live = config.get().traces.live and 'live' or 'not live'
  local client = ''
  if view.client == M.any_client then
    client = ' — gateway calls'
  elseif view.client then
    client = ' — client ' .. view.client
  end
  return {
    ('warden traces — %s%s%s — %d span%s — %s%s'):format(
      view.workspace and ('workspace ' .. view.workspace) or 'all workspaces',
      view.kind and (' — kind ' .. view.kind) or '',
      client,
      count,
      count == 1 and '' or 's',
      live,
      view.status ~= '' and (' — ' .. view.status) or ''
    ),
    '<CR> details   f filter by kind   c filter by gateway client   r reload   m older spans   q close',
    '',
  }
end

local stop_timer = ui.stop_timer

---@param view warden.TracesView
function M.redraw(view)
  view.render_pending = false
  local buf = view.buf
  if not vim.api.nvim_buf_is_valid(buf) then
    stop_timer(view)
    M.views[buf] = nil
    return
  end
  -- Keep the cursor on the span it was on.
  local wins = vim.fn.win_findbuf(buf)
  local keep = {}
  for _, win in ipairs(wins) do
    local cur = vim.api.nvim_win_get_cursor(win)
    keep[win] = { id = view.line_ids[cur[1]], row = cur[1], col = cur[2] }
  end
  local lines, hls, line_ids, running = M.render(view.spans, {
    expanded = view.expanded,
    bar_width = config.get().traces.bar_width,
    header = header(view),
  })
  view.line_ids = line_ids
  ui.set_lines(buf, lines)
  vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  for _, h in ipairs(hls) do
    local len = #lines[h[1] + 1]
    if h[2] < len then
      vim.api.nvim_buf_set_extmark(buf, ns, h[1], h[2], { end_col = math.min(h[3], len), hl_group = h[4] })
    end
  end
  if view.focus then
    for lnum = 1, #lines do
      if line_ids[lnum] == view.focus then
        for _, win in ipairs(wins) do
          keep[win] = { id = view.focus, row = lnum, col = 0 }
        end
        view.focus = nil
        break
      end
    end
  end
  for win, k in pairs(keep) do
    local row = k.row
    if k.id then
      for lnum = 1, #lines do
        if line_ids[lnum] == k.id then
          row = lnum
          break
        end
      end
    end
    pcall(vim.api.nvim_win_set_cursor, win, { math.min(row, #lines), k.col })
  end
  -- While spans run, their bars and latencies grow.
  if running and #wins > 0 then
    if not view.timer then
      view.timer = vim.uv.new_timer()
      view.timer:start(
        250,
        250,
        vim.schedule_wrap(function()
          M.schedule(view)
        end)
      )
    end
  else
    stop_timer(view)
  end
end

--- Redraws soon, coalescing bursts of notifications.
---@param view warden.TracesView
function M.schedule(view)
  if view.render_pending then
    return
  end
  view.render_pending = true
  vim.defer_fn(function()
    M.redraw(view)
  end, 20)
end

---@param view warden.TracesView
---@param s warden.Span|warden.TraceStartedParams
---@return boolean
local function wanted(view, s)
  if view.workspace ~= nil and s.workspace ~= view.workspace then
    return false
  end
  if view.kind ~= nil and s.kind ~= view.kind then
    return false
  end
  if view.client == nil then
    return true
  end
  local c = client_of(s)
  return c ~= nil and (view.client == M.any_client or c == view.client)
end

---@param view warden.TracesView
---@param cursor string|nil
local function load(view, cursor)
  local client = lsp.client_for(0) or lsp.clients()[1]
  if not client then
    view.status = 'no warden server is running'
    return M.schedule(view)
  end
  local params = { limit = config.get().traces.limit, workspace = view.workspace, kind = view.kind, cursor = cursor }
  view.status = 'loading'
  M.schedule(view)
  -- An answer to a request sent before the filter changed or a newer reload is stale.
  if not cursor then
    view.generation = (view.generation or 0) + 1
  end
  local generation = view.generation
  lsp.request(client, lsp.requests.traces, params, function(err, res)
    if view.generation ~= generation then
      return
    end
    if err then
      view.status = 'error: ' .. err.message
      vim.notify('warden: loading traces failed: ' .. err.message, vim.log.levels.ERROR)
      return M.schedule(view)
    end
    if not cursor then
      -- A reload keeps spans that arrived live meanwhile.
      local live = view.spans
      view.spans = {}
      for id, s in pairs(live) do
        if not s.finishedAt then
          view.spans[id] = s
        end
      end
    end
    -- Oldest first (ids are time-ordered), so a parent's client is known before its
    -- children are filtered.
    local traces = vim.deepcopy(res.traces or {})
    table.sort(traces, function(a, b)
      return a.id < b.id
    end)
    for _, s in ipairs(traces) do
      client_of(s)
    end
    for _, s in ipairs(traces) do
      if wanted(view, s) then
        view.spans[s.id] = s
      end
    end
    if view.focus and view.spans[view.focus] then
      view.expanded[view.focus] = true
    end
    view.next_cursor = res.nextCursor
    view.status = res.nextCursor and 'm loads older spans' or ''
    M.schedule(view)
  end)
end

--- Loads the view's spans again from the server.
---@param view warden.TracesView
function M.reload(view)
  load(view, nil)
end

--- Toggles the details of the span under the cursor.
---@param view warden.TracesView
function M.toggle(view)
  local row = vim.api.nvim_win_get_cursor(0)[1]
  local id = view.line_ids[row]
  if not id then
    return
  end
  view.expanded[id] = not view.expanded[id] or nil
  M.redraw(view)
end

--- The span kinds the server records.
M.kinds = { 'command', 'llm', 'run', 'scan', 'index', 'guard' }

--- Shows only spans of `kind` (nil: every kind), loaded again from the server.
---@param view warden.TracesView
---@param kind string|nil
function M.set_kind(view, kind)
  view.kind = kind
  view.spans, view.expanded = {}, {}
  M.reload(view)
end

--- The gateway clients seen (spans and `warden/gatewayCall`), sorted.
---@return string[]
function M.clients()
  local seen = {}
  for _, c in pairs(M.span_clients) do
    seen[c] = true
  end
  for _, call in ipairs(package.loaded['warden.gateway'] and require('warden.gateway').recent or {}) do
    if type(call.client) == 'string' then
      seen[call.client] = true
    end
  end
  local out = vim.tbl_keys(seen)
  table.sort(out)
  return out
end

--- Shows only the gateway calls of `client` (`M.any_client`: of every client; nil:
--- every span), loaded again from the server.
---@param view warden.TracesView
---@param client string|nil
function M.set_client(view, client)
  view.client = client
  view.spans, view.expanded = {}, {}
  M.reload(view)
end

lsp.on(lsp.notifications.gateway_call, function(params)
  if type(params.spanId) == 'string' and type(params.client) == 'string' then
    M.span_clients[params.spanId] = params.client
  end
end)

lsp.on(lsp.notifications.trace_started, function(params)
  client_of(params)
  if not config.get().traces.live then
    return
  end
  for _, view in pairs(M.views) do
    if wanted(view, params) then
      local span = vim.deepcopy(params)
      span.finishedAt, span.latencyMs, span.outcome = nil, nil, nil
      view.spans[span.id] = span
      M.schedule(view)
    end
  end
end)

lsp.on(lsp.notifications.trace_finished, function(params)
  for _, view in pairs(M.views) do
    local span = view.spans[params.id]
    if span then
      for _, key in ipairs({ 'finishedAt', 'latencyMs', 'outcome', 'error', 'output', 'tokens', 'costUsd' }) do
        span[key] = params[key]
      end
      M.schedule(view)
    end
  end
end)

--- Opens (or refreshes) the traces buffer in a view window.
---@param opts? {workspace?: string, kind?: string, client?: string, focus?: string} `focus`: a span id to show expanded; `client`: a gateway client (`M.any_client`: every one)
---@return integer buf
function M.open(opts)
  opts = opts or {}
  local name = 'warden://traces' .. (opts.workspace and ('/' .. opts.workspace) or '')
  local buf = ui.find_buf(name)
  local view = buf and M.views[buf] or nil
  if not view then
    buf = ui.scratch(name, 'wardentraces')
    view = {
      buf = buf,
      workspace = opts.workspace,
      spans = {},
      expanded = {},
      line_ids = {},
      status = '',
      render_pending = false,
    }
    M.views[buf] = view
    ui.map(buf, 'warden traces', {
      {
        '<CR>',
        function()
          M.toggle(view)
        end,
        'expand or collapse the span',
      },
      {
        'f',
        function()
          local items = vim.list_extend({ 'every kind' }, M.kinds)
          vim.ui.select(items, {
            prompt = 'Show spans of kind',
            kind = 'warden.span.kind',
          }, function(choice)
            if choice then
              M.set_kind(view, choice ~= 'every kind' and choice or nil)
            end
          end)
        end,
        'show one kind of span',
      },
      {
        'c',
        function()
          local every, all = 'every span', 'every gateway client'
          local items = vim.list_extend({ every, all }, M.clients())
          vim.ui.select(items, {
            prompt = 'Show the gateway calls of',
            kind = 'warden.gateway.client',
          }, function(choice)
            if choice then
              M.set_client(view, choice == all and M.any_client or choice ~= every and choice or nil)
            end
          end)
        end,
        'show the gateway calls of one client',
      },
      {
        'r',
        function()
          M.reload(view)
        end,
        'reload',
      },
      {
        'm',
        function()
          if view.next_cursor then
            load(view, view.next_cursor)
          else
            vim.notify('warden: no older spans', vim.log.levels.INFO)
          end
        end,
        'load older spans',
      },
      { 'q', ui.close, 'close' },
    })
    vim.api.nvim_create_autocmd('BufWipeout', {
      buffer = buf,
      callback = function()
        stop_timer(view)
        M.views[buf] = nil
      end,
    })
  end
  if opts.kind ~= nil and opts.kind ~= view.kind then
    view.kind = opts.kind
    view.spans, view.expanded = {}, {}
  end
  if opts.client ~= nil and opts.client ~= view.client then
    view.client = opts.client
    view.spans, view.expanded = {}, {}
  end
  view.focus = opts.focus
  ui.open_view(buf, { wrap = false, cursorline = true })
  M.reload(view)
  return buf
end

return M
