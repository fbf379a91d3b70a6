---@mod warden.runs Sandboxed runs: `:Warden run`, `runAll`, `runs`, `scripts`.
---
--- Every run the server reports (`warden/runOutput`, `warden/runFinished`) is a record
--- here, whether it was started by `:Warden run`, by a run-all batch or by a code
--- action. A run started here gets a scratch buffer (`warden://run/...`) shown in a
--- split, its output appended in `seq` order as it arrives (ANSI escapes removed,
--- stderr highlighted), its status in the window's winbar. A failed run moves the
--- cursor to the `warden-run` diagnostic the server publishes on the failing line.
--- `:Warden runAll` shows its batch as a list of groups with live statuses; `:Warden
--- runs` pages the stored history of a workspace (re-run, full log, search, statistics
--- of that same workspace, by default the current buffer's); `:Warden scripts` is the
--- run-all catalog. The history, search, statistics and catalog open in view windows
--- (`warden.ui`); run output in its own split below. Window options are set
--- window-locally, and `q` closes only the view.

local config = require('warden.config')
local lsp = require('warden.lsp')
local ui = require('warden.ui')

local M = {}

local ns = vim.api.nvim_create_namespace('warden.runs')

ui.highlights('warden.runs', {
  WardenRunRunning = 'DiagnosticWarn',
  WardenRunOk = 'DiagnosticOk',
  WardenRunFailed = 'DiagnosticError',
  WardenRunCancelled = 'DiagnosticHint',
  WardenRunStderr = 'DiagnosticError',
  WardenRunDim = 'Comment',
})

---@param msg string
---@param level? integer
local function say(msg, level)
  vim.notify('warden: ' .. msg, level or vim.log.levels.INFO)
end

-- ---------------------------------------------------------------------------------------
-- Pure helpers
-- ---------------------------------------------------------------------------------------

--- Status -> icon and highlight group.
M.status_style = {
  running = { '●', 'WardenRunRunning' },
  waiting = { '·', 'WardenRunDim' },
  succeeded = { '✓', 'WardenRunOk' },
  failed = { '✗', 'WardenRunFailed' },
  timedOut = { '⏱', 'WardenRunFailed' },
  oomKilled = { '✗', 'WardenRunFailed' },
  error = { '!', 'WardenRunFailed' },
  cancelled = { '⊘', 'WardenRunCancelled' },
  skipped = { '-', 'WardenRunDim' },
}

--- Removes ANSI escape sequences (colours, cursor movement) a buffer cannot show.
---@param s string
---@return string
function M.strip_ansi(s)
  return (s:gsub('\27%[[%d;?]*[%a@]', ''):gsub('\27%][^\7\27]*\7', ''):gsub('\27[%(%)][%w]', ''))
end

--- Appends a chunk of output to `lines` (whose last entry is the line still being
--- written): `\r\n` ends a line, a lone `\r` starts the line over (progress bars).
--- Returns the 1-based index of the first line that changed.
---@param lines string[]
---@param chunk string
---@return integer first_changed
function M.append(lines, chunk)
  if #lines == 0 then
    lines[1] = ''
  end
  local first = #lines
  chunk = M.strip_ansi(chunk):gsub('\r\n', '\n')
  local pieces = vim.split(chunk, '\n', { plain = true })
  for i, piece in ipairs(pieces) do
    if i > 1 then
      lines[#lines + 1] = ''
    end
    local after_cr = piece:match('.*\r(.*)$')
    if after_cr then
      lines[#lines] = after_cr
    else
      lines[#lines] = lines[#lines] .. piece
    end
  end
  return first
end

--- Output chunks in `seq` order: `push` returns the chunks that are now in order (a
--- chunk arriving early waits for the ones before it).
---@class warden.SeqBuffer
---@field next integer
---@field waiting table<integer, any>

---@return warden.SeqBuffer
function M.seq_buffer()
  return { next = 0, waiting = {} }
end

---@param b warden.SeqBuffer
---@param seq integer
---@param item any
---@return any[]
function M.seq_push(b, seq, item)
  if seq < b.next then
    return {}
  end
  b.waiting[seq] = item
  local ready = {}
  while b.waiting[b.next] ~= nil do
    ready[#ready + 1] = b.waiting[b.next]
    b.waiting[b.next] = nil
    b.next = b.next + 1
  end
  return ready
end

--- The winbar of a run: status, script, exit code or message, duration, flags.
---@param run warden.Run
---@param now_ms integer
---@return string
function M.winbar(run, now_ms)
  local f = run.finished
  local status = f and f.status or 'running'
  local style = M.status_style[status] or M.status_style.failed
  local function esc(s)
    return (tostring(s):gsub('%%', '%%%%'))
  end
  local parts = {}
  if f then
    if status == 'succeeded' then
      parts[#parts + 1] = 'exit 0'
    elseif f.message and f.message ~= vim.NIL then
      parts[#parts + 1] = f.message
    elseif f.exitCode and f.exitCode ~= vim.NIL then
      parts[#parts + 1] = 'exit ' .. f.exitCode
    end
    parts[#parts + 1] = ui.duration(f.durationMs)
    if f.truncated then
      parts[#parts + 1] = 'output truncated'
    end
    if type(f.artifacts) == 'table' and #f.artifacts > 0 then
      parts[#parts + 1] = ('%d artifact%s'):format(#f.artifacts, #f.artifacts == 1 and '' or 's')
    end
  else
    parts[#parts + 1] = ui.duration(math.max(0, now_ms - run.started))
  end
  local keys = f and (status == 'succeeded' and 'r re-runs' or '<CR> error · r re-runs') or '<C-c> cancels'
  return ('%%#%s# %s %s %%* %s · %s %%=%%#WardenRunDim#%s %%*'):format(
    style[2],
    style[1],
    status,
    esc(run.path),
    esc(table.concat(parts, ' · ')),
    keys
  )
end

--- A line of the history list.
---@param r table a stored Run (warden/runs)
---@return string line, string hl the status highlight
function M.history_line(r)
  local style = M.status_style[r.status] or M.status_style.failed
  local version = r.head ~= vim.NIL and r.head and r.head:sub(1, 8) or 'no git'
  if r.dirty then
    version = version .. '*'
  end
  local exit = (r.exitCode ~= vim.NIL and r.exitCode) and ('exit ' .. r.exitCode) or ''
  local when = tostring(r.startedAt or ''):gsub('T', ' '):gsub('%.%d+', ''):gsub('Z$', '')
  return ('%s %-9s %s  %-32s %8s %-8s %-9s %s'):format(
    style[1],
    r.status,
    when,
    r.path,
    ui.duration(r.durationMs),
    exit,
    version,
    r.truncated and 'truncated' or ''
  ),
    style[2]
end

-- ---------------------------------------------------------------------------------------
-- Run records
-- ---------------------------------------------------------------------------------------

---@class warden.Run
---@field id string
---@field client_id integer
---@field uri? string
---@field path string script path (repository-relative when the server said so)
---@field batch? string run-all batch id
---@field input? string
---@field args? string[]
---@field started integer vim.uv.now() when it started (or was first seen)
---@field seqs warden.SeqBuffer
---@field lines string[] output, the last line possibly still being written
---@field stderr table<integer, boolean> output lines with stderr text
---@field finished? table the warden/runFinished params
---@field buf? integer its output buffer, once shown
---@field source_buf? integer the script's buffer when started from one
---@field on_finish? fun(run: warden.Run)

---@type table<string, warden.Run>
M.runs = {}
--- The id of the last run started here.
---@type string|nil
M.last_run_id = nil

local counter = 0

--- A run id unique to this Neovim (the server takes it as given).
---@return string
function M.new_run_id()
  counter = counter + 1
  return ('nvim-%d-%d-%d'):format(vim.fn.getpid(), vim.uv.hrtime() % 1000000000, counter)
end

---@param id string
---@param client_id integer
---@param fields? table
---@return warden.Run
local function record(id, client_id, fields)
  local run = M.runs[id]
  if not run then
    run = {
      id = id,
      client_id = client_id,
      path = id,
      started = vim.uv.now(),
      seqs = M.seq_buffer(),
      lines = {},
      stderr = {},
    }
    M.runs[id] = run
  end
  for k, v in pairs(fields or {}) do
    run[k] = v
  end
  return run
end

--- Runs still going (started here or seen streaming), oldest first.
---@return warden.Run[]
function M.running()
  local out = {}
  for _, run in pairs(M.runs) do
    if not run.finished then
      out[#out + 1] = run
    end
  end
  table.sort(out, function(a, b)
    return a.started < b.started
  end)
  return out
end

-- ---------------------------------------------------------------------------------------
-- The output buffer
-- ---------------------------------------------------------------------------------------

--- Windows showing a buffer.
---@param buf integer
---@return integer[]
local function windows_of(buf)
  return vim.fn.win_findbuf(buf)
end

---@param run warden.Run
local function update_winbar(run)
  if not run.buf or not vim.api.nvim_buf_is_valid(run.buf) then
    return
  end
  local bar = M.winbar(run, vim.uv.now())
  for _, win in ipairs(windows_of(run.buf)) do
    ui.set_local(win, { winbar = bar })
  end
end

local ticker = nil ---@type uv.uv_timer_t|nil

--- Ticks the elapsed time of running runs that are on screen, once a second.
local function tick()
  if ticker then
    return
  end
  ticker = vim.uv.new_timer()
  ticker:start(
    1000,
    1000,
    vim.schedule_wrap(function()
      local any = false
      for _, run in pairs(M.runs) do
        if not run.finished and run.buf and vim.api.nvim_buf_is_valid(run.buf) then
          any = true
          update_winbar(run)
        end
      end
      if not any and ticker then
        ticker:stop()
        ticker:close()
        ticker = nil
      end
    end)
  )
end

--- Redraws lines `first`.. of the run's buffer from its record.
---@param run warden.Run
---@param first integer 1-based
local function render_from(run, first)
  local buf = run.buf
  if not buf or not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local lines = vim.list_slice(run.lines, first)
  local count = vim.api.nvim_buf_line_count(buf)
  -- A fresh buffer has one empty line; output replaces it.
  local last = (first == 1) and -1 or count
  ui.set_lines(buf, lines, first - 1, last)
  for i = first, #run.lines do
    if run.stderr[i] then
      vim.api.nvim_buf_set_extmark(buf, ns, i - 1, 0, { line_hl_group = 'WardenRunStderr', id = i })
    end
  end
  -- Windows whose cursor was on the last line follow the output.
  local total = vim.api.nvim_buf_line_count(buf)
  for _, win in ipairs(windows_of(buf)) do
    local row = vim.api.nvim_win_get_cursor(win)[1]
    if win ~= vim.api.nvim_get_current_win() or row >= count - 1 then
      vim.api.nvim_win_set_cursor(win, { total, 0 })
    end
  end
end

---@param run warden.Run
---@param chunk {stream: string, chunk: string}
local function add_output(run, chunk)
  local first = M.append(run.lines, chunk.chunk)
  if chunk.stream == 'stderr' then
    for i = first, #run.lines do
      if run.lines[i] ~= '' or i < #run.lines then
        run.stderr[i] = true
      end
    end
  end
  render_from(run, first)
end

--- The window output buffers go to: one already showing a run, else a new split below.
---@return integer win
local function run_window()
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    local b = vim.api.nvim_win_get_buf(win)
    if vim.bo[b].filetype == 'wardenrun' then
      return win
    end
  end
  local cfg = config.get().runs
  local cur = vim.api.nvim_get_current_win()
  vim.cmd(('botright %dsplit'):format(cfg.height))
  local win = vim.api.nvim_get_current_win()
  vim.w[win].warden_split = true -- `q` closes it
  vim.api.nvim_set_current_win(cur)
  return win
end

--- Jumps to the `warden-run` diagnostic of a failed run's script.
---@param run warden.Run
---@return boolean jumped
function M.jump_to_failure(run)
  local buf = run.source_buf
  if (not buf or not vim.api.nvim_buf_is_valid(buf)) and run.uri then
    buf = vim.uri_to_bufnr(run.uri)
  end
  if not buf or not vim.api.nvim_buf_is_loaded(buf) then
    return false
  end
  local diags = vim.tbl_filter(function(d)
    return d.source == 'warden-run'
  end, vim.diagnostic.get(buf))
  if #diags == 0 then
    return false
  end
  table.sort(diags, function(a, b)
    return a.lnum < b.lnum
  end)
  -- The deepest frame is the one the server marks (its message is the exception).
  local d = diags[#diags]
  local win = windows_of(buf)[1]
  if not win then
    vim.cmd('wincmd p')
    if vim.bo[vim.api.nvim_get_current_buf()].filetype == 'wardenrun' then
      vim.cmd('aboveleft split')
    end
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, buf)
  end
  vim.api.nvim_set_current_win(win)
  vim.api.nvim_win_set_cursor(win, { d.lnum + 1, d.col })
  say(('%s:%d: %s'):format(run.path, d.lnum + 1, d.message), vim.log.levels.WARN)
  return true
end

--- After a failure, jumps to the diagnostic once the server published it (it may come
--- just before or just after `warden/runFinished`).
---@param run warden.Run
local function jump_when_published(run)
  if M.jump_to_failure(run) then
    return
  end
  local buf = run.source_buf or (run.uri and vim.uri_to_bufnr(run.uri))
  if not buf or not vim.api.nvim_buf_is_loaded(buf) then
    return
  end
  local au
  au = vim.api.nvim_create_autocmd('DiagnosticChanged', {
    buffer = buf,
    desc = 'warden: jump to the failing line of a run',
    callback = function()
      if M.jump_to_failure(run) then
        pcall(vim.api.nvim_del_autocmd, au)
      end
    end,
  })
  vim.defer_fn(function()
    pcall(vim.api.nvim_del_autocmd, au)
  end, 3000)
end

---@param run_id string
local function cancel(run_id)
  local run = M.runs[run_id]
  local client = run and vim.lsp.get_client_by_id(run.client_id)
  if not run or run.finished or not client then
    return say('that run is not going')
  end
  lsp.execute(client, lsp.commands.run_cancel, { runId = run_id }, function(err, res)
    if err then
      say('cancel failed: ' .. tostring(err.message), vim.log.levels.ERROR)
    elseif type(res) == 'table' and not res.cancelled then
      say('that run had already ended')
    end
  end)
end

--- Shows a run's output buffer in the run window (creating it); returns the buffer.
---@param run warden.Run
---@param opts? {focus?: boolean}
---@return integer buf
function M.show(run, opts)
  local buf = run.buf
  if not buf or not vim.api.nvim_buf_is_valid(buf) then
    local created
    -- Wiped when another run takes its window: `M.show` builds it again from the record.
    buf, created = ui.scratch(('warden://run/%s/%s'):format(run.id, run.path), 'wardenrun', { bufhidden = 'wipe' })
    run.buf = buf
    vim.b[buf].warden_run = run.id
    if created then
      ui.map(buf, 'warden run', {
        {
          '<C-c>',
          function()
            cancel(run.id)
          end,
          'cancel the run',
        },
        {
          'r',
          function()
            M.rerun(run)
          end,
          'run the script again',
        },
        {
          '<CR>',
          function()
            if not M.jump_to_failure(run) then
              say('no failing line to jump to')
            end
          end,
          'jump to the failing line',
        },
        { 'q', ui.close, 'close' },
      })
      vim.api.nvim_create_autocmd('BufWinEnter', {
        buffer = buf,
        callback = function()
          update_winbar(run)
        end,
      })
    end
    render_from(run, 1)
  end
  local win = run_window()
  vim.api.nvim_win_set_buf(win, buf)
  ui.set_local(win, { wrap = false, number = false, relativenumber = false, winfixheight = true })
  update_winbar(run)
  if not run.finished then
    tick()
  end
  if opts and opts.focus then
    vim.api.nvim_set_current_win(win)
  end
  return buf
end

-- ---------------------------------------------------------------------------------------
-- Notifications
-- ---------------------------------------------------------------------------------------

lsp.on(lsp.notifications.run_output, function(params, ctx)
  if type(params) ~= 'table' or type(params.runId) ~= 'string' or type(params.chunk) ~= 'string' then
    return
  end
  local run = record(params.runId, ctx.client_id)
  for _, chunk in ipairs(M.seq_push(run.seqs, tonumber(params.seq) or run.seqs.next, params)) do
    add_output(run, chunk)
  end
end)

---@type table<string, warden.Batch>
M.batches = {}

lsp.on(lsp.notifications.run_finished, function(params, ctx)
  if type(params) ~= 'table' or type(params.runId) ~= 'string' then
    return
  end
  local run = record(params.runId, ctx.client_id)
  run.finished = params
  if type(params.path) == 'string' then
    run.path = params.path
  end
  if type(params.uri) == 'string' then
    run.uri = params.uri
  end
  -- Chunks still out of order are written as they are.
  for seq, chunk in vim.spairs(run.seqs.waiting) do
    run.seqs.waiting[seq] = nil
    add_output(run, chunk)
  end
  update_winbar(run)
  if run.on_finish then
    run.on_finish(run)
  end
  local batch = type(params.batchId) == 'string' and M.batches[params.batchId] or nil
  if batch then
    M.render_batch(batch)
  end
end)

-- ---------------------------------------------------------------------------------------
-- :Warden run
-- ---------------------------------------------------------------------------------------

---@class warden.RunOpts
---@field bufnr? integer the script's buffer (default: current)
---@field input? string input file: relative to the workspace root, absolute, or a URI
---@field args? string[] arguments after the input
---@field focus? boolean move the cursor to the output window

--- Runs a script's current text (saved or not) in the sandbox, streaming its output
--- into a split. Returns the run id, or nil when it could not start.
---@param opts? warden.RunOpts
---@return string|nil run_id
function M.run(opts)
  opts = opts or {}
  local bufnr = opts.bufnr or vim.api.nvim_get_current_buf()
  local client = lsp.clients({ bufnr = bufnr })[1]
  if not client then
    say('warden is not attached to this buffer (runs work on files a warden server has open)', vim.log.levels.ERROR)
    return nil
  end
  local uri = vim.uri_from_bufnr(bufnr)
  local id = M.new_run_id()
  local path = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(bufnr), ':.')
  local run = record(id, client.id, {
    uri = uri,
    path = path,
    source_buf = bufnr,
    input = opts.input,
    args = opts.args,
  })
  run.on_finish = function(r)
    local f = r.finished
    if f.status == 'succeeded' then
      return
    end
    say(
      ('%s %s: %s'):format(r.path, f.status, f.message ~= vim.NIL and f.message or ''),
      f.status == 'cancelled' and vim.log.levels.INFO or vim.log.levels.WARN
    )
    if f.status == 'failed' and config.get().runs.jump then
      jump_when_published(r)
    end
  end
  M.last_run_id = id
  M.show(run, { focus = opts.focus })
  local args = { uri = uri, runId = id, input = opts.input, args = opts.args }
  lsp.execute(client, lsp.commands.run, args, function(err)
    if err then
      run.finished = { runId = id, status = 'error', message = err.message }
      update_winbar(run)
      say(('run failed to start: %s'):format(err.message), vim.log.levels.ERROR)
    end
  end)
  return id
end

--- Runs the same script again with the same input and arguments.
---@param run warden.Run|table a record, or a stored run from warden/runs
function M.rerun(run)
  local uri = run.uri ~= vim.NIL and run.uri or nil
  if not uri then
    return say('this run has no file to run again', vim.log.levels.ERROR)
  end
  local bufnr = vim.uri_to_bufnr(uri)
  if not vim.api.nvim_buf_is_loaded(bufnr) then
    vim.fn.bufload(bufnr)
    vim.bo[bufnr].buflisted = true
  end
  -- A buffer loaded just now attaches on its FileType; give it a moment.
  vim.wait(3000, function()
    return lsp.clients({ bufnr = bufnr })[1] ~= nil
  end, 20)
  local input = run.input ~= vim.NIL and run.input or nil
  local args = type(run.args) == 'table' and run.args or nil
  return M.run({ bufnr = bufnr, input = input, args = args })
end

--- Cancels every run and run-all batch started or seen here. Returns how many.
---@return integer count, table<string, boolean> tokens progress tokens of the batches
function M.cancel_all()
  local n, tokens = 0, {}
  for _, batch in pairs(M.batches) do
    if not batch.done then
      tokens[batch.token] = true
      local client = vim.lsp.get_client_by_id(batch.client_id)
      if client then
        lsp.notify(client, 'window/workDoneProgress/cancel', { token = batch.token })
        n = n + 1
      end
    end
  end
  for _, run in ipairs(M.running()) do
    if not (run.batch and M.batches[run.batch]) then
      cancel(run.id)
      n = n + 1
    end
  end
  return n, tokens
end

-- ---------------------------------------------------------------------------------------
-- :Warden runAll
-- ---------------------------------------------------------------------------------------

---@class warden.Batch
---@field id string
---@field client_id integer
---@field workspace string
---@field token string progress token
---@field groups {runId: string, path: string, uri: string, order: number, group: integer}[][]
---@field buf integer
---@field line_runs table<integer, string> buffer line -> run id
---@field done boolean
---@field summary? string the progress end message

--- Lines (and highlights) of a batch view.
---@param batch warden.Batch
---@return string[] lines, {[1]: integer, [2]: string}[] hls, table<integer, string> line_runs
function M.batch_lines(batch)
  local total, finished = 0, 0
  for _, group in ipairs(batch.groups) do
    for _, member in ipairs(group) do
      total = total + 1
      local run = M.runs[member.runId]
      if run and run.finished then
        finished = finished + 1
      end
    end
  end
  local lines = {
    ('run all %s: %d/%d done%s'):format(
      batch.workspace,
      finished,
      total,
      batch.summary and (' · ' .. batch.summary) or ''
    ),
    '<CR> shows a run · <C-c> cancels the batch · r runs all again · q closes',
  }
  local hls = { { 1, 'WardenRunDim' } }
  local line_runs = {}
  for _, group in ipairs(batch.groups) do
    lines[#lines + 1] = ('group %s'):format(group[1] and group[1].group or '?')
    for _, member in ipairs(group) do
      local run = M.runs[member.runId]
      local status = run and run.finished and run.finished.status
        or (run and #run.lines > 0 and 'running')
        or (batch.done and 'skipped')
        or 'waiting'
      local style = M.status_style[status] or M.status_style.failed
      local time = run and run.finished and ui.duration(run.finished.durationMs) or ''
      lines[#lines + 1] = ('  %s %-40s %-10s %s'):format(style[1], member.path, status, time)
      hls[#hls + 1] = { #lines - 1, style[2] }
      line_runs[#lines] = member.runId
    end
  end
  return lines, hls, line_runs
end

---@param batch warden.Batch
function M.render_batch(batch)
  if not vim.api.nvim_buf_is_valid(batch.buf) then
    return
  end
  local lines, hls, line_runs = M.batch_lines(batch)
  batch.line_runs = line_runs
  ui.set_lines(batch.buf, lines)
  vim.api.nvim_buf_clear_namespace(batch.buf, ns, 0, -1)
  for _, hl in ipairs(hls) do
    vim.api.nvim_buf_set_extmark(batch.buf, ns, hl[1], 0, { line_hl_group = hl[2] })
  end
end

lsp.on('warden:progressEnd', function(p)
  for _, batch in pairs(M.batches) do
    if batch.token == tostring(p.token) then
      batch.done = true
      batch.summary = p.message
      M.render_batch(batch)
    end
  end
end)

--- Runs a workspace's scripts in run-all order (groups one after another, scripts of a
--- group concurrently); the batch shows in a split, each run's output one `<CR>` away.
---@param opts? {workspace?: string, stop_on_failure?: boolean}
function M.run_all(opts)
  opts = opts or {}
  local client = lsp.client_for(0)
  if not client then
    return say('no warden server is running; open a file in a git repository', vim.log.levels.ERROR)
  end
  local function start(workspace)
    local args = { workspace = workspace, stopOnFailure = opts.stop_on_failure == true }
    lsp.execute(client, lsp.commands.run_all, args, function(err, res)
      if err then
        return say('run all failed: ' .. tostring(err.message), vim.log.levels.ERROR)
      end
      local buf, created = ui.scratch('warden://runAll/' .. res.workspace, 'wardenrunall')
      ---@type warden.Batch
      local batch = {
        id = res.batchId,
        client_id = client.id,
        workspace = res.workspace,
        token = tostring(res.progressToken),
        groups = res.groups or {},
        buf = buf,
        line_runs = {},
        done = false,
      }
      M.batches[batch.id] = batch
      vim.b[buf].warden_batch = batch.id
      for _, group in ipairs(batch.groups) do
        for _, member in ipairs(group) do
          record(member.runId, client.id, { path = member.path, uri = member.uri, batch = batch.id })
        end
      end
      if created then
        ui.map(buf, 'warden run all', {
          {
            '<CR>',
            function()
              local b = M.batches[vim.b[buf].warden_batch]
              local id = b and b.line_runs[vim.api.nvim_win_get_cursor(0)[1]]
              if id and M.runs[id] then
                M.show(M.runs[id], { focus = true })
              end
            end,
            "show the run's output",
          },
          {
            '<C-c>',
            function()
              local b = M.batches[vim.b[buf].warden_batch]
              local c = b and vim.lsp.get_client_by_id(b.client_id)
              if b and c and not b.done then
                lsp.notify(c, 'window/workDoneProgress/cancel', { token = b.token })
              end
            end,
            'cancel the batch',
          },
          {
            'r',
            function()
              local b = M.batches[vim.b[buf].warden_batch]
              M.run_all({ workspace = b and b.workspace, stop_on_failure = opts.stop_on_failure })
            end,
            'run all again',
          },
          { 'q', ui.close, 'close' },
        })
      end
      local win = run_window()
      vim.api.nvim_win_set_buf(win, buf)
      ui.set_local(win, {
        winbar = ('%%#WardenRunDim# run all %s (progress: LspProgress) %%*'):format(batch.workspace),
        wrap = false,
        number = false,
        relativenumber = false,
        winfixheight = true,
      })
      M.render_batch(batch)
    end)
  end
  lsp.with_workspace(opts.workspace, 0, function(_, workspace)
    start(workspace)
  end)
end

-- ---------------------------------------------------------------------------------------
-- :Warden runs (history) and :Warden scripts (catalog)
-- ---------------------------------------------------------------------------------------

--- Opens a stored run's full output (warden/runLog) in a run buffer.
---@param client vim.lsp.Client
---@param run_id string
---@param line? integer output line to put the cursor on
function M.open_log(client, run_id, line)
  lsp.request(client, lsp.requests.run_log, { runId = run_id }, function(err, stored)
    if err then
      return say('run log failed: ' .. tostring(err.message), vim.log.levels.ERROR)
    end
    local run = record(run_id, client.id, { path = stored.path, uri = stored.uri })
    run.input, run.args = stored.input, nil
    if not run.finished then
      run.finished = stored
    end
    -- The stored log is the whole truth: stdout, then stderr.
    run.lines, run.stderr = {}, {}
    M.append(run.lines, stored.stdout ~= vim.NIL and stored.stdout or '')
    if stored.stderr and stored.stderr ~= vim.NIL and stored.stderr ~= '' then
      if run.lines[#run.lines] ~= '' then
        run.lines[#run.lines + 1] = ''
      end
      local first = #run.lines
      M.append(run.lines, stored.stderr)
      for i = first, #run.lines do
        run.stderr[i] = true
      end
    end
    if run.buf and vim.api.nvim_buf_is_valid(run.buf) then
      render_from(run, 1)
    end
    local buf = M.show(run, { focus = true })
    if line then
      pcall(vim.api.nvim_win_set_cursor, 0, { math.min(line, vim.api.nvim_buf_line_count(buf)), 0 })
    end
  end)
end

---@class warden.HistoryView
---@field buf integer
---@field client_id integer
---@field workspace string
---@field status? string
---@field runs table[]
---@field next_cursor? any

---@type table<integer, warden.HistoryView>
local histories = {}

M.statuses = { 'succeeded', 'failed', 'timedOut', 'oomKilled', 'cancelled', 'error' }

---@param view warden.HistoryView
local function render_history(view)
  local lines = {
    ('runs of %s%s: %d shown%s'):format(
      view.workspace,
      view.status and (' (' .. view.status .. ')') or '',
      #view.runs,
      view.next_cursor and ', m loads more' or ''
    ),
    '<CR> log · r re-run · f filter by status · s search output · S statistics · R reload · q close',
  }
  local hls = { { 1, 'WardenRunDim' } }
  for _, r in ipairs(view.runs) do
    local line, hl = M.history_line(r)
    lines[#lines + 1] = line
    hls[#hls + 1] = { #lines - 1, hl }
  end
  ui.set_lines(view.buf, lines)
  vim.api.nvim_buf_clear_namespace(view.buf, ns, 0, -1)
  for _, hl in ipairs(hls) do
    local icon = (lines[hl[1] + 1] or ''):match('^%S+') or ''
    vim.api.nvim_buf_set_extmark(view.buf, ns, hl[1], 0, { end_col = math.max(1, #icon), hl_group = hl[2] })
  end
  vim.api.nvim_buf_set_extmark(view.buf, ns, 1, 0, { line_hl_group = 'WardenRunDim' })
end

---@param view warden.HistoryView
---@param cursor? any
local function load_history(view, cursor)
  local client = vim.lsp.get_client_by_id(view.client_id)
  if not client then
    return say('the warden server of this list has stopped', vim.log.levels.ERROR)
  end
  local params = { workspace = view.workspace, status = view.status, cursor = cursor, limit = 100 }
  lsp.request(client, lsp.requests.runs, params, function(err, res)
    if err then
      return say('runs failed: ' .. tostring(err.message), vim.log.levels.ERROR)
    end
    if not cursor then
      view.runs = {}
    end
    vim.list_extend(view.runs, res.runs or {})
    view.next_cursor = res.nextCursor ~= vim.NIL and res.nextCursor or nil
    if vim.api.nvim_buf_is_valid(view.buf) then
      render_history(view)
    end
  end)
end

---@param view warden.HistoryView
---@return table|nil
local function history_run_at_cursor(view)
  return view.runs[vim.api.nvim_win_get_cursor(0)[1] - 2]
end

--- Lines of a run search (warden/runSearch hits) and the hit of each line.
---@param pattern string
---@param hits table[]
---@return string[] lines, table<integer, table> hit_at
function M.search_lines(pattern, hits)
  local lines =
    { ('runs matching /%s/: %d hit%s (<CR> opens the log there)'):format(pattern, #hits, #hits == 1 and '' or 's') }
  local hit_at = {}
  for _, hit in ipairs(hits) do
    lines[#lines + 1] = ''
    lines[#lines + 1] = ('%s %s %s:%d'):format(hit.path, hit.status, hit.stream, hit.line)
    hit_at[#lines] = hit
    for _, l in ipairs(hit.before or {}) do
      lines[#lines + 1] = '    ' .. l
      hit_at[#lines] = hit
    end
    lines[#lines + 1] = '  > ' .. hit.text
    hit_at[#lines] = hit
    for _, l in ipairs(hit.after or {}) do
      lines[#lines + 1] = '    ' .. l
      hit_at[#lines] = hit
    end
  end
  return lines, hit_at
end

---@type table<integer, {client_id: integer, hits: table<integer, table>}> search buffer -> hits
local searches = {}

--- Searches the stored run output of a workspace by regular expression into a view.
---@param client vim.lsp.Client
---@param workspace string
---@param pattern string
function M.search(client, workspace, pattern)
  lsp.request(client, lsp.requests.run_search, { workspace = workspace, pattern = pattern }, function(err, res)
    if err then
      return say('run search failed: ' .. tostring(err.message), vim.log.levels.ERROR)
    end
    local buf, created = ui.scratch('warden://runSearch/' .. workspace, 'wardenrunsearch')
    local lines, hit_at = M.search_lines(pattern, res.hits or {})
    lines[1] = lines[1]:gsub('^runs matching', 'runs of ' .. workspace .. ' matching', 1)
    searches[buf] = { client_id = client.id, hits = hit_at }
    if created then
      ui.map(buf, 'warden run search', {
        {
          '<CR>',
          function()
            local search = searches[buf]
            local hit = search.hits[vim.api.nvim_win_get_cursor(0)[1]]
            local c = vim.lsp.get_client_by_id(search.client_id)
            if hit and c then
              M.open_log(c, hit.runId, hit.line)
            end
          end,
          'open the run log at the hit',
        },
        { 'q', ui.close, 'close' },
      })
    end
    ui.set_lines(buf, lines)
    ui.open_view(buf, { wrap = false, cursorline = true })
  end)
end

--- Lines of per-script statistics (warden/runStats).
---@param res {workspace: string, scripts: table[]}
---@return string[]
function M.stats_lines(res)
  local lines = {
    ('run statistics of %s'):format(res.workspace),
    ('%-36s %5s %8s %9s %9s  %s'):format('script', 'runs', 'success', 'p50', 'p95', 'last'),
  }
  for _, s in ipairs(res.scripts or {}) do
    lines[#lines + 1] = ('%-36s %5d %7.0f%% %9s %9s  %s'):format(
      s.path,
      s.runs or 0,
      (s.successRate or 0) * 100,
      ui.duration(s.p50Ms ~= vim.NIL and s.p50Ms or nil),
      ui.duration(s.p95Ms ~= vim.NIL and s.p95Ms or nil),
      s.lastStatus ~= vim.NIL and s.lastStatus or ''
    )
  end
  return lines
end

--- Opens the run history of a workspace (default: the current buffer's), newest first,
--- in a view. Returns the buffer when it opened at once (a workspace was named).
---@param opts? {workspace?: string}
---@return integer|nil buf
function M.history(opts)
  opts = opts or {}
  local opened
  lsp.with_workspace(opts.workspace, 0, function(client, workspace)
    opened = M.open_history(client, workspace)
  end)
  return opened
end

--- The history view of `workspace` on `client`.
---@param client vim.lsp.Client
---@param workspace string
---@return integer buf
function M.open_history(client, workspace)
  local buf, created = ui.scratch('warden://runs/' .. workspace, 'wardenruns')
  local view = histories[buf] or { buf = buf, runs = {} }
  view.client_id, view.workspace = client.id, workspace
  histories[buf] = view
  if created then
    ui.map(buf, 'warden runs', {
      {
        '<CR>',
        function()
          local r = history_run_at_cursor(view)
          local c = vim.lsp.get_client_by_id(view.client_id)
          if r and c then
            M.open_log(c, r.runId)
          end
        end,
        'open the full log',
      },
      {
        'r',
        function()
          local r = history_run_at_cursor(view)
          if r then
            M.rerun(r)
          end
        end,
        'run the script again',
      },
      {
        'f',
        function()
          vim.ui.select(
            vim.list_extend({ 'all' }, M.statuses),
            { prompt = 'Show runs that', kind = 'warden.run.status' },
            function(choice)
              if choice then
                view.status = choice ~= 'all' and choice or nil
                load_history(view)
              end
            end
          )
        end,
        'filter by status',
      },
      {
        'm',
        function()
          if view.next_cursor then
            load_history(view, view.next_cursor)
          else
            say('no older runs')
          end
        end,
        'load older runs',
      },
      {
        's',
        function()
          vim.ui.input({ prompt = ('Search the run output of %s (regex): '):format(view.workspace) }, function(pattern)
            local c = vim.lsp.get_client_by_id(view.client_id)
            if pattern and pattern ~= '' and c then
              M.search(c, view.workspace, pattern)
            end
          end)
        end,
        'search stored output',
      },
      {
        'S',
        function()
          local c = vim.lsp.get_client_by_id(view.client_id)
          if c then
            M.stats(c, view.workspace)
          end
        end,
        'statistics per script',
      },
      {
        'R',
        function()
          load_history(view)
        end,
        'reload',
      },
      { 'q', ui.close, 'close' },
    })
    -- New runs appear as they finish.
    local unsubscribe
    unsubscribe = lsp.on(lsp.notifications.run_finished, function()
      if not vim.api.nvim_buf_is_valid(buf) then
        return unsubscribe()
      end
      if #vim.fn.win_findbuf(buf) > 0 then
        load_history(view)
      end
    end)
  end
  ui.open_view(buf, { wrap = false, cursorline = true })
  load_history(view)
  return buf
end

--- Shows per-script success rate and p50/p95 durations of a workspace in a view.
---@param client vim.lsp.Client
---@param workspace string
function M.stats(client, workspace)
  lsp.request(client, lsp.requests.run_stats, { workspace = workspace }, function(err, res)
    if err then
      return say('run statistics failed: ' .. tostring(err.message), vim.log.levels.ERROR)
    end
    local buf, created = ui.scratch('warden://runStats/' .. res.workspace, 'wardenrunstats')
    if created then
      ui.map(buf, 'warden run stats', { { 'q', ui.close, 'close' } })
    end
    ui.set_lines(buf, M.stats_lines(res))
    ui.open_view(buf, { wrap = false, cursorline = true })
  end)
end

--- Lines of the script catalog (warden/scripts).
---@param res {workspace: string, scripts: table[]}
---@return string[]
function M.catalog_lines(res)
  local lines = {
    ('scripts of %s in run-all order (<CR> opens · r runs · a runs all · q closes)'):format(res.workspace),
  }
  local group
  for _, s in ipairs(res.scripts or {}) do
    if s.group ~= group then
      group = s.group
      lines[#lines + 1] = ('group %s'):format(tostring(group ~= vim.NIL and group or '-'))
    end
    local version = s.commit ~= vim.NIL and s.commit and s.commit:sub(1, 8) or 'new'
    if s.dirty then
      version = version .. '*'
    end
    local last = s.lastStatus ~= vim.NIL and s.lastStatus or 'never run'
    lines[#lines + 1] = ('  %-7s %-32s %-9s %-10s %s'):format(
      tostring(s.order ~= vim.NIL and s.order or '-'),
      s.path,
      version,
      last,
      s.name or ''
    )
  end
  return lines
end

---@type table<integer, table<integer, table>> catalog buffer -> line -> script
local catalogs = {}

--- Opens the run-all catalog of a workspace (default: the current buffer's) in a view.
---@param opts? {workspace?: string}
function M.scripts(opts)
  opts = opts or {}
  lsp.with_workspace(opts.workspace, 0, function(client, workspace)
    M.open_scripts(client, workspace)
  end)
end

--- The catalog view of `workspace` on `client`.
---@param client vim.lsp.Client
---@param workspace string
function M.open_scripts(client, workspace)
  lsp.request(client, lsp.requests.scripts, { workspace = workspace }, function(err, res)
    if err then
      return say('scripts failed: ' .. tostring(err.message), vim.log.levels.ERROR)
    end
    local buf, created = ui.scratch('warden://scripts/' .. res.workspace, 'wardenscripts')
    local lines = M.catalog_lines(res)
    -- Line -> script, skipping the header and group lines.
    local at, i = {}, 1
    for lnum, l in ipairs(lines) do
      if l:match('^  ') then
        at[lnum] = res.scripts[i]
        i = i + 1
      end
    end
    catalogs[buf] = at
    if created then
      local function script()
        return catalogs[buf][vim.api.nvim_win_get_cursor(0)[1]]
      end
      ui.map(buf, 'warden scripts', {
        {
          '<CR>',
          function()
            local s = script()
            if s then
              ui.goto_file(vim.uri_to_fname(s.uri))
            end
          end,
          'open the script',
        },
        {
          'r',
          function()
            local s = script()
            if s then
              M.rerun({ uri = s.uri })
            end
          end,
          'run the script',
        },
        {
          'a',
          function()
            M.run_all({ workspace = res.workspace })
          end,
          'run all',
        },
        { 'q', ui.close, 'close' },
      })
    end
    ui.set_lines(buf, lines)
    ui.open_view(buf, { wrap = false, cursorline = true })
  end)
end

return M
