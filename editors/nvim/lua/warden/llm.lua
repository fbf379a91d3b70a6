---@mod warden.llm LLM actions: explain, fix, rewrite, docstring, tests, cancel, retry.
---
--- Each action runs the server command `warden.llm.<action>` with a request id chosen
--- here, so the reply's `warden/llmChunk` notifications can be matched and the request
--- cancelled (`warden.llm.cancel`). `explain` streams the reply into a floating window;
--- the edit actions are applied by the server through `workspace/applyEdit`, which
--- Neovim's own handler applies (one undo step); this module reports the outcome, and
--- the result's `message` when the edit was not applied. Progress arrives through the
--- standard `$/progress` (`LspProgress`, see `require('warden').status()`).
---
--- `retry()` (`:Warden retry`) runs the last action again with `noCache = true`, so the
--- server asks the model instead of answering from its response cache; the messages
--- after a failed or unapplied action say so.
---
--- When an action ends, a `User WardenLlmDone` autocommand fires with
--- `data = {requestId, action, result?, error?, cancelled}`.

local lsp = require('warden.lsp')

local M = {}

--- The actions and their server commands.
M.actions = {
  explain = lsp.commands.llm_explain,
  fix = lsp.commands.llm_fix,
  rewrite = lsp.commands.llm_rewrite,
  docstring = lsp.commands.llm_docstring,
  tests = lsp.commands.llm_tests,
}

---@type table<string, string> command -> action
local action_of = {}
for action, command in pairs(M.actions) do
  action_of[command] = action
end

--- The JSON-RPC code of a cancelled request.
local REQUEST_CANCELLED = -32800

---@class warden.LlmRequest
---@field id string
---@field action string
---@field client_id integer
---@field bufnr integer
---@field started integer ms (uv.now)
---@field text string what has streamed so far
---@field chunks integer
---@field cancelling boolean
---@field finished? boolean
---@field float? {buf: integer, win: integer}

--- LLM requests started here and not answered yet, by request id.
---@type table<string, warden.LlmRequest>
M.running = {}

--- The id of the request started last.
---@type string|nil
M.last_request_id = nil

---@class warden.LlmLast
---@field action string
---@field args table the arguments sent, without `requestId` and `noCache`
---@field bufnr integer
---@field client_id integer
---@field float boolean

--- The action started last, for `retry()`.
---@type warden.LlmLast|nil
M.last = nil

--- Appended to messages about an action that did not give a usable result.
M.retry_hint = ':Warden retry asks the model again'

---@param msg string
---@param level? integer
local function say(msg, level)
  vim.notify('warden: ' .. msg, level or vim.log.levels.INFO)
end

local counter = 0

--- A request id unique to this Neovim.
---@return string
function M.new_request_id()
  counter = counter + 1
  return ('nvim-%d-%d-%d'):format(vim.fn.getpid(), counter, vim.uv.hrtime() % 1000000000)
end

-- ---------------------------------------------------------------------------------------
-- Targets: ranges, positions and diagnostics in the client's position encoding
-- ---------------------------------------------------------------------------------------

--- Whole lines `line1`..`line2` (1-based, inclusive) as an LSP range.
---@param line1 integer
---@param line2 integer
---@return lsp.Range
function M.line_range(line1, line2)
  if line2 < line1 then
    line1, line2 = line2, line1
  end
  return { start = { line = line1 - 1, character = 0 }, ['end'] = { line = line2, character = 0 } }
end

--- The cursor as an LSP position in the client's encoding.
---@param client vim.lsp.Client
---@return lsp.Position
local function cursor_position(client)
  local win = vim.api.nvim_get_current_win()
  return vim.lsp.util.make_position_params(win, client.offset_encoding or 'utf-16').position
end

---@param bufnr integer
---@param lnum integer 0-based
---@param col integer byte column
---@param encoding string
---@return integer
local function to_character(bufnr, lnum, col, encoding)
  if encoding == 'utf-8' then
    return col
  end
  local line = vim.api.nvim_buf_get_lines(bufnr, lnum, lnum + 1, false)[1] or ''
  col = math.min(col, #line)
  local ok, idx = pcall(vim.str_utfindex, line, encoding, col, false)
  if ok and idx then
    return idx
  end
  return col
end

--- An LSP `Diagnostic` for a Neovim diagnostic of any source: the original when an LSP
--- server published it, else built from its fields.
---@param d vim.Diagnostic
---@param client vim.lsp.Client
---@return lsp.Diagnostic
function M.to_lsp_diagnostic(d, client)
  local original = type(d.user_data) == 'table' and type(d.user_data.lsp) == 'table' and d.user_data.lsp
  if original and original.range and original.message then
    return original
  end
  local enc = client.offset_encoding or 'utf-16'
  local end_lnum = d.end_lnum or d.lnum
  local end_col = d.end_col or d.col
  local out = {
    range = {
      start = { line = d.lnum, character = to_character(d.bufnr, d.lnum, d.col, enc) },
      ['end'] = { line = end_lnum, character = to_character(d.bufnr, end_lnum, end_col, enc) },
    },
    message = d.message,
    severity = d.severity,
  }
  if d.source then
    out.source = d.source
  end
  if d.code then
    out.code = d.code
  end
  return out
end

--- The diagnostic under the cursor (any source): one whose range holds the cursor,
--- else the first on the cursor's line, most severe first.
---@param bufnr integer
---@return vim.Diagnostic|nil
function M.diagnostic_at_cursor(bufnr)
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  local lnum = row - 1
  local on_line = vim.diagnostic.get(bufnr, { lnum = lnum })
  table.sort(on_line, function(a, b)
    if a.severity ~= b.severity then
      return a.severity < b.severity
    end
    return a.col < b.col
  end)
  for _, d in ipairs(on_line) do
    local end_lnum, end_col = d.end_lnum or d.lnum, d.end_col or d.col
    local after_start = lnum > d.lnum or col >= d.col
    local before_end = lnum < end_lnum or col <= end_col
    if after_start and before_end then
      return d
    end
  end
  if on_line[1] then
    return on_line[1]
  end
  -- A diagnostic spanning several lines that covers the cursor's line.
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.lnum <= lnum and (d.end_lnum or d.lnum) >= lnum then
      return d
    end
  end
end

-- ---------------------------------------------------------------------------------------
-- The explanation float
-- ---------------------------------------------------------------------------------------

local float_ns = vim.api.nvim_create_namespace('warden.llm')

---@param buf integer
---@param width integer
---@return integer
local function wrapped_height(buf, width)
  local h = 0
  for _, l in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    h = h + math.max(1, math.ceil(vim.api.nvim_strwidth(l) / math.max(width, 1)))
  end
  return h
end

---@param req warden.LlmRequest
local function resize_float(req)
  local f = req.float
  if not f or not vim.api.nvim_win_is_valid(f.win) then
    return
  end
  local width = vim.api.nvim_win_get_width(f.win)
  local max = math.max(3, math.floor(vim.o.lines * 0.6))
  local height = math.min(max, math.max(1, wrapped_height(f.buf, width)))
  vim.api.nvim_win_set_config(f.win, { height = height })
end

---@param req warden.LlmRequest
---@param lines string[]
local function set_float_lines(req, lines)
  local f = req.float
  if not f or not vim.api.nvim_buf_is_valid(f.buf) then
    return
  end
  vim.bo[f.buf].modifiable = true
  vim.api.nvim_buf_set_lines(f.buf, 0, -1, false, lines)
  vim.bo[f.buf].modifiable = false
  vim.bo[f.buf].modified = false
  resize_float(req)
end

---@param req warden.LlmRequest
---@param title string
local function open_float(req, title)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].filetype = 'markdown'
  vim.bo[buf].swapfile = false
  vim.api.nvim_buf_set_name(buf, 'warden://explain/' .. req.id)
  local width = math.max(20, math.min(84, vim.o.columns - 4))
  local win = vim.api.nvim_open_win(buf, true, {
    relative = 'cursor',
    row = 1,
    col = 0,
    width = width,
    height = 1,
    style = 'minimal',
    border = 'rounded',
    title = ' ' .. title .. ' ',
    title_pos = 'left',
  })
  require('warden.ui').set_local(win, { wrap = true, linebreak = true, conceallevel = 2 })
  req.float = { buf = buf, win = win }
  set_float_lines(req, { '_waiting for the model… (q closes and cancels)_' })
  vim.b[buf].warden_llm_request = req.id
  vim.keymap.set('n', 'q', function()
    if vim.api.nvim_win_is_valid(win) then
      vim.api.nvim_win_close(win, true)
    end
  end, { buffer = buf, nowait = true, silent = true, desc = 'warden: close (cancels a running explanation)' })
  vim.api.nvim_create_autocmd('WinClosed', {
    pattern = tostring(win),
    once = true,
    desc = 'warden: closing the explanation cancels its request',
    callback = function()
      if M.running[req.id] then
        M.cancel(req.id)
      end
    end,
  })
end

---@param req warden.LlmRequest
---@param result warden.LlmResult
---@return string
local function summary(req, result)
  local t = result.tokens or {}
  local parts = {
    ('%s/%s'):format(result.provider or '?', result.model or '?'),
    ('%d→%d tokens'):format(t.input or 0, t.output or 0),
    ('$%.6f'):format(result.costUsd or 0),
  }
  if result.cached then
    parts[#parts + 1] = 'response cache hit'
  end
  parts[#parts + 1] = ('%d ms'):format(vim.uv.now() - req.started)
  return table.concat(parts, ' · ')
end

-- Chunks of the requests started here, appended as they stream.
lsp.on(lsp.notifications.llm_chunk, function(params)
  local req = M.running[params.requestId]
  if not req or type(params.text) ~= 'string' then
    return
  end
  req.chunks = req.chunks + 1
  req.text = req.text .. params.text
  if req.float then
    set_float_lines(req, vim.split(req.text, '\n', { plain = true }))
  end
end)

-- ---------------------------------------------------------------------------------------
-- Running actions
-- ---------------------------------------------------------------------------------------

---@param req warden.LlmRequest
---@param data table
local function done(req, data)
  M.running[req.id] = nil
  data.requestId = req.id
  data.action = req.action
  vim.api.nvim_exec_autocmds('User', { pattern = 'WardenLlmDone', modeline = false, data = data })
end

---@param req warden.LlmRequest
---@param err lsp.ResponseError|nil
---@param result warden.LlmResult|nil
local function finish(req, err, result)
  if req.finished then
    return
  end
  req.finished = true
  if err then
    local cancelled = err.code == REQUEST_CANCELLED
    if req.float then
      local lines = req.text ~= '' and vim.split(req.text, '\n', { plain = true }) or {}
      lines[#lines + 1] = ''
      lines[#lines + 1] = cancelled and '— cancelled' or ('— failed: ' .. tostring(err.message))
      set_float_lines(req, lines)
    end
    if cancelled then
      say(('%s cancelled'):format(req.action))
    else
      say(('%s failed: %s (%s)'):format(req.action, tostring(err.message), M.retry_hint), vim.log.levels.ERROR)
    end
    return done(req, { error = err.message, code = err.code, cancelled = cancelled })
  end
  result = result or {}
  if req.float then
    local lines = vim.split(result.text or req.text, '\n', { plain = true })
    lines[#lines + 1] = ''
    lines[#lines + 1] = '— ' .. summary(req, result)
    set_float_lines(req, lines)
    if vim.api.nvim_buf_is_valid(req.float.buf) then
      vim.api.nvim_buf_clear_namespace(req.float.buf, float_ns, 0, -1)
      vim.api.nvim_buf_set_extmark(req.float.buf, float_ns, #lines - 1, 0, { line_hl_group = 'Comment' })
    end
  elseif req.action ~= 'explain' then
    if result.applied == false then
      say(
        ('%s: nothing applied: %s (%s)'):format(
          req.action,
          result.message or 'the editor refused the edit',
          M.retry_hint
        ),
        vim.log.levels.WARN
      )
    else
      local msg = ('%s applied (%s; u undoes it)'):format(req.action, summary(req, result))
      if result.message then
        msg = msg .. '\n' .. result.message
      end
      say(msg, result.message and vim.log.levels.WARN or vim.log.levels.INFO)
    end
  end
  done(req, { result = result, cancelled = false })
end

---@class warden.LlmRunOpts
---@field bufnr? integer
---@field client? vim.lsp.Client
---@field float? boolean stream into a floating window (explain)

--- Runs `warden.llm.<action>` with `args` (the uri and request id are filled in).
--- Returns the request id, or nil when it could not start.
---@param action string explain, fix, rewrite, docstring or tests
---@param args warden.LlmArgs|table
---@param opts? warden.LlmRunOpts
---@return string|nil request_id
function M.run(action, args, opts)
  opts = opts or {}
  local command = M.actions[action]
  if not command then
    say(('unknown LLM action %q'):format(action), vim.log.levels.ERROR)
    return nil
  end
  local bufnr = opts.bufnr or vim.api.nvim_get_current_buf()
  local client = opts.client or lsp.clients({ bufnr = bufnr })[1]
  if not client then
    say(
      'warden is not attached to this buffer (LLM actions work on files a warden server has open)',
      vim.log.levels.ERROR
    )
    return nil
  end
  args = vim.deepcopy(args)
  args.uri = args.uri or vim.uri_from_bufnr(bufnr)
  local again = vim.deepcopy(args)
  again.requestId, again.noCache = nil, nil
  M.last = { action = action, args = again, bufnr = bufnr, client_id = client.id, float = opts.float == true }
  args.requestId = args.requestId or M.new_request_id()
  ---@type warden.LlmRequest
  local req = {
    id = args.requestId,
    action = action,
    client_id = client.id,
    bufnr = bufnr,
    started = vim.uv.now(),
    text = '',
    chunks = 0,
    cancelling = false,
  }
  M.running[req.id] = req
  M.last_request_id = req.id
  if opts.float then
    open_float(req, 'warden ' .. action)
  end
  lsp.execute(client, command, args, function(err, result)
    finish(req, err, result)
  end)
  return req.id
end

--- Runs the last action started here again, with the same arguments and
--- `noCache = true`: the server asks the model even when its response cache holds a
--- reply. Returns the new request id, or nil when there is nothing to retry.
---@return string|nil request_id
function M.retry()
  local last = M.last
  if not last then
    say('no LLM action to retry yet', vim.log.levels.WARN)
    return nil
  end
  -- The same server, else (after `:Warden restart`) the one serving the buffer now.
  local client
  if vim.api.nvim_buf_is_valid(last.bufnr) then
    local serving = lsp.clients({ bufnr = last.bufnr })
    for _, c in ipairs(serving) do
      if c.id == last.client_id then
        client = c
      end
    end
    client = client or serving[1]
  end
  if not client then
    say(('cannot retry %s: warden no longer serves that buffer'):format(last.action), vim.log.levels.ERROR)
    return nil
  end
  local args = vim.deepcopy(last.args)
  args.noCache = true
  return M.run(last.action, args, { bufnr = last.bufnr, client = client, float = last.float })
end

--- Asks the server to cancel one of the requests started here.
---@param request_id string
---@return boolean asked
function M.cancel(request_id)
  local req = M.running[request_id]
  if not req then
    return false
  end
  local client = vim.lsp.get_client_by_id(req.client_id)
  if not client then
    M.running[request_id] = nil
    return false
  end
  req.cancelling = true
  lsp.execute(client, lsp.commands.llm_cancel, { requestId = request_id }, function(err, res)
    -- The request itself answers RequestCancelled, which Neovim's RPC client swallows
    -- (no handler runs), so the cancel's answer ends it here. When the server no longer
    -- had it running, its real answer is on the way (or already here).
    if not err and type(res) == 'table' and res.cancelled then
      finish(req, { code = REQUEST_CANCELLED, message = 'cancelled' }, nil)
    end
  end)
  return true
end

--- Cancels every LLM request started here. Returns how many were asked, and their
--- progress tokens (so `:Warden cancel` does not cancel them twice).
---@return integer count, table<string, boolean> tokens
function M.cancel_all()
  local n, tokens = 0, {}
  for id in pairs(M.running) do
    if M.cancel(id) then
      n = n + 1
      tokens['warden/llm/' .. id] = true
    end
  end
  return n, tokens
end

-- ---------------------------------------------------------------------------------------
-- The actions as the :Warden subcommands call them
-- ---------------------------------------------------------------------------------------

---@class warden.LlmCommandOpts
---@field range? {[1]: integer, [2]: integer} lines (1-based, inclusive) from a command range
---@field bufnr? integer

---@param opts warden.LlmCommandOpts|nil
---@return integer bufnr, vim.lsp.Client|nil
local function target(opts)
  local bufnr = (opts and opts.bufnr) or vim.api.nvim_get_current_buf()
  local client = lsp.clients({ bufnr = bufnr })[1]
  if not client then
    say(
      'warden is not attached to this buffer (LLM actions work on files a warden server has open)',
      vim.log.levels.ERROR
    )
  end
  return bufnr, client
end

--- The selection, else an empty range at the cursor (the server takes the enclosing
--- function or class, else the line).
---@param client vim.lsp.Client
---@param opts warden.LlmCommandOpts|nil
---@return lsp.Range
local function range_or_cursor(client, opts)
  if opts and opts.range then
    return M.line_range(opts.range[1], opts.range[2])
  end
  local pos = cursor_position(client)
  return { start = pos, ['end'] = pos }
end

--- Explains the selected lines, else the definition (or line) at the cursor, streaming
--- into a floating window.
---@param opts? warden.LlmCommandOpts
---@return string|nil request_id
function M.explain(opts)
  local bufnr, client = target(opts)
  if not client then
    return nil
  end
  return M.run('explain', { range = range_or_cursor(client, opts) }, { bufnr = bufnr, client = client, float = true })
end

--- Fixes the diagnostic under the cursor (from any source).
---@param opts? warden.LlmCommandOpts
---@return string|nil request_id
function M.fix(opts)
  local bufnr, client = target(opts)
  if not client then
    return nil
  end
  local d = M.diagnostic_at_cursor(bufnr)
  if not d then
    say('no diagnostic under the cursor', vim.log.levels.WARN)
    return nil
  end
  return M.run('fix', { diagnostic = M.to_lsp_diagnostic(d, client) }, { bufnr = bufnr, client = client })
end

--- Rewrites the selected lines (else the cursor's line) by an instruction, asked for
--- when not given.
---@param instruction string|nil
---@param opts? warden.LlmCommandOpts
---@return string|nil request_id (nil when asking, or when it could not start)
function M.rewrite(instruction, opts)
  local bufnr, client = target(opts)
  if not client then
    return nil
  end
  local lines
  if opts and opts.range then
    lines = { opts.range[1], opts.range[2] }
  else
    local row = vim.api.nvim_win_get_cursor(0)[1]
    lines = { row, row }
  end
  local function go(text)
    if not text or vim.trim(text) == '' then
      say('rewrite cancelled (no instruction)')
      return nil
    end
    return M.run(
      'rewrite',
      { range = M.line_range(lines[1], lines[2]), instruction = text },
      { bufnr = bufnr, client = client }
    )
  end
  if instruction and vim.trim(instruction) ~= '' then
    return go(instruction)
  end
  vim.ui.input({ prompt = ('Rewrite lines %d-%d: '):format(lines[1], lines[2]) }, function(text)
    go(text)
  end)
  return nil
end

--- Adds a docstring to the function or class at the cursor.
---@param opts? warden.LlmCommandOpts
---@return string|nil request_id
function M.docstring(opts)
  local bufnr, client = target(opts)
  if not client then
    return nil
  end
  local pos
  if opts and opts.range then
    pos = { line = opts.range[1] - 1, character = 0 }
  else
    pos = cursor_position(client)
  end
  return M.run('docstring', { position = pos }, { bufnr = bufnr, client = client })
end

--- Writes tests for the selected lines, else the definition at the cursor, in the
--- language's test location.
---@param opts? warden.LlmCommandOpts
---@return string|nil request_id
function M.tests(opts)
  local bufnr, client = target(opts)
  if not client then
    return nil
  end
  return M.run('tests', { range = range_or_cursor(client, opts) }, { bufnr = bufnr, client = client })
end

--- Client-side handlers for the LLM commands of the server's code actions (*Explain
--- with LLM*, *Fix with LLM: ...*): they run here so the reply streams into the float
--- and the request can be cancelled (`vim.lsp.ClientConfig.commands`).
---@return table<string, fun(command: lsp.Command, ctx: table)>
function M.client_commands()
  local out = {}
  for command, action in pairs(action_of) do
    out[command] = function(cmd, ctx)
      local args = type(cmd.arguments) == 'table' and cmd.arguments[1] or {}
      local client = ctx and ctx.client_id and vim.lsp.get_client_by_id(ctx.client_id) or nil
      local bufnr = ctx and ctx.bufnr
      if type(args.uri) == 'string' then
        local b = vim.fn.bufnr(vim.uri_to_fname(args.uri))
        if b ~= -1 and vim.api.nvim_buf_is_loaded(b) then
          bufnr = b
        end
      end
      M.run(action, args, { bufnr = bufnr, client = client, float = action == 'explain' })
    end
  end
  return out
end

return M
