---@mod warden.fix Fix until it runs: LLM fixes tried in the sandbox, then a diff to accept.
---
--- `:Warden fixUntilGreen [rounds=N] [budget=USD]` runs `warden.llm.fixUntilGreen` on the
--- current buffer: the server runs the script in the sandbox; while it fails it asks the
--- model for a fix (given the file and the traceback), runs the fixed copy (never the
--- file), and repeats until a copy runs, the rounds (default 3) or the budget are spent,
--- or `:Warden cancel`. The server's *Fix until it runs* code action on a failed run's
--- diagnostic starts the same loop; either way each round is reported (`vim.notify`) as
--- `warden/fixRound` arrives, and when `warden/fixFinished` carries a fix a diff split
--- opens: a scratch buffer `warden-fix://<path>` (`buftype=nofile`, the file's filetype)
--- with the fixed text to the right of the file, `:diffthis` in both. `:Warden accept`
--- sends `warden.llm.fixAccept` (the server applies the change through
--- `workspace/applyEdit`: unsaved, one undo step), `:Warden discard` sends
--- `warden.llm.fixDiscard`; either closes the scratch window and turns diff off. They
--- answer the fix of the current buffer (the file or its scratch buffer), else the newest.
---
--- `User` autocommands: `WardenFixRound` and `WardenFixFinished` (the notifications'
--- params as `data.params`, see `warden-api`), and `WardenFixDiff` once the diff split is
--- open (`data = {requestId, buf, win}`).

local lsp = require('warden.lsp')

local M = {}

---@param msg string
---@param level? integer
local function say(msg, level)
  vim.notify('warden: ' .. msg, level or vim.log.levels.INFO)
end

M.default_rounds = 3

---@class warden.FixRound
---@field n integer 1-based
---@field outcome "green"|"failing"|"noFix"|"refused"|"error"|"cancelled"
---@field cached boolean replayed from the database (no model call, no run)
---@field message? string the blamed line for `failing`, else why it stopped
---@field runId? string
---@field runStatus? string
---@field exitCode? integer
---@field tokens warden.Tokens
---@field costUsd number
---@field spanId string the round's `fix.round` span

---@class warden.FixLoop
---@field id string the request id
---@field uri string
---@field client_id integer
---@field max_rounds integer
---@field rounds warden.FixRound[]
---@field finished? table the `warden/fixFinished` params
---@field diff? {buf: integer, win: integer|nil}

--- Loops followed here (running, or finished with a fix waiting for an answer), by id.
---@type table<string, warden.FixLoop>
M.loops = {}

--- The id of the loop started (or first heard of) last.
---@type string|nil
M.last_request_id = nil

local outcome_label = {
  green = 'green',
  failing = 'failing',
  noFix = 'no fix',
  refused = 'refused',
  error = 'error',
  cancelled = 'cancelled',
}

--- `round 2/3: failing — line 7: NameError…` (the message cut at 80 characters).
---@param round warden.FixRound
---@param max_rounds integer
---@return string
function M.round_line(round, max_rounds)
  local msg = vim.trim((type(round.message) == 'string' and round.message or ''):gsub('%s+', ' '))
  if vim.fn.strchars(msg) > 80 then
    msg = vim.fn.strcharpart(msg, 0, 79) .. '…'
  end
  return ('round %d/%d: %s%s%s'):format(
    round.n,
    math.max(max_rounds, round.n),
    outcome_label[round.outcome] or tostring(round.outcome),
    round.cached and ' (replayed)' or '',
    msg ~= '' and (' — ' .. msg) or ''
  )
end

---@param n integer
---@return string
local function rounds(n)
  return ('%d round%s'):format(n, n == 1 and '' or 's')
end

--- How a loop with a fix ended: `green after 2 rounds`, `still failing after 3 rounds`,
--- or why it stopped.
---@param fin table the `warden/fixFinished` params
---@return string
function M.verdict(fin)
  local list = fin.rounds or {}
  local last = list[#list]
  if fin.green then
    return 'green after ' .. rounds(#list)
  elseif last and last.outcome == 'failing' then
    return 'still failing after ' .. rounds(#list)
  end
  return 'not green: ' .. tostring(fin.stopped)
end

--- The tag the traces buffer shows on a `fix.round` span: `round 2 · failing`,
--- `round 1 · green · cached`, `round 3 …` while it runs; nil for other spans.
---@param s warden.Span|warden.TraceStartedParams
---@param done boolean
---@return string|nil
function M.round_tag(s, done)
  if s.kind ~= 'command' or s.name ~= 'fix.round' then
    return nil
  end
  local input = type(s.input) == 'table' and s.input or {}
  local round = type(input.round) == 'number' and ('round %d'):format(input.round) or 'round'
  if not done then
    return round .. ' …'
  end
  local out = type(s.output) == 'table' and s.output or {}
  local parts = { round, type(out.outcome) == 'string' and out.outcome or 'ended' }
  if out.cached == true then
    parts[#parts + 1] = 'cached'
  end
  return table.concat(parts, ' · ')
end

--- The loop `id`, created when first heard of (a code action the server ran).
---@param id string
---@param uri string
---@param client_id integer
---@param max_rounds? integer
---@return warden.FixLoop
local function loop_for(id, uri, client_id, max_rounds)
  local loop = M.loops[id]
  if not loop then
    loop = { id = id, uri = uri, client_id = client_id, max_rounds = max_rounds or M.default_rounds, rounds = {} }
    M.loops[id] = loop
    M.last_request_id = id
  end
  return loop
end

---@param uri string
---@return string
local function name_of(uri)
  return vim.fn.fnamemodify(vim.uri_to_fname(uri), ':t')
end

--- Parses `rounds=N` and `budget=USD`; nil and a message when an argument is wrong.
---@param args string[]
---@return {rounds?: integer, budget?: number}|nil, string|nil
function M.parse_args(args)
  local out = {}
  for _, a in ipairs(args) do
    local key, value = a:match('^(%a+)=(.+)$')
    local n = value and tonumber(value)
    if key == 'rounds' and n and n >= 1 and n == math.floor(n) then
      out.rounds = n
    elseif key == 'budget' and n and n > 0 then
      out.budget = n
    else
      return nil, ('bad argument %q: use rounds=N (1 to 10) and budget=USD'):format(a)
    end
  end
  return out
end

--- Starts a loop on a buffer (default: the current one).
---@param opts? {bufnr?: integer, rounds?: integer, budget?: number}
---@return string|nil request_id
function M.start(opts)
  opts = opts or {}
  local bufnr = opts.bufnr or vim.api.nvim_get_current_buf()
  if bufnr == 0 then
    bufnr = vim.api.nvim_get_current_buf()
  end
  local client = lsp.clients({ bufnr = bufnr })[1]
  if not client then
    say(
      'warden is not attached to this buffer (fix until it runs works on scripts a warden server has open)',
      vim.log.levels.ERROR
    )
    return nil
  end
  local id = require('warden.llm').new_request_id()
  local uri = vim.uri_from_bufnr(bufnr)
  local loop = loop_for(id, uri, client.id, opts.rounds)
  M.last_request_id = id
  local args = { uri = uri, requestId = id, maxRounds = opts.rounds, budgetUsd = opts.budget }
  lsp.execute(client, lsp.commands.llm_fix_until_green, args, function(err)
    if err then
      M.loops[id] = nil
      say(
        ('fix until it runs failed: %s'):format(type(err) == 'table' and err.message or tostring(err)),
        vim.log.levels.ERROR
      )
    end
  end)
  say(('fixing %s until it runs (at most %s; :Warden cancel stops it)'):format(name_of(uri), rounds(loop.max_rounds)))
  return id
end

--- `warden/fixRound`.
---@param params table
---@param ctx lsp.HandlerContext
function M.on_round(params, ctx)
  if type(params.round) ~= 'table' or not params.requestId then
    return
  end
  local loop = loop_for(params.requestId, params.uri, ctx.client_id)
  loop.rounds[#loop.rounds + 1] = params.round
  local quiet = { green = true, failing = true, cancelled = true }
  local level = quiet[params.round.outcome] and vim.log.levels.INFO or vim.log.levels.WARN
  say(('fix %s: %s'):format(name_of(params.uri), M.round_line(params.round, loop.max_rounds)), level)
end

--- `warden/fixFinished`.
---@param params table
---@param ctx lsp.HandlerContext
function M.on_finished(params, ctx)
  if not params.requestId then
    return
  end
  local loop = loop_for(params.requestId, params.uri, ctx.client_id)
  loop.finished = params
  loop.rounds = params.rounds or loop.rounds
  local name = name_of(params.uri)
  if type(params.fixed) ~= 'string' or type(params.original) ~= 'string' then
    M.loops[params.requestId] = nil
    local cancelled = params.stopped == 'cancelled'
    say(
      cancelled and ('fix until it runs of %s cancelled'):format(name)
        or params.green and ('%s: %s'):format(name, params.stopped ~= '' and params.stopped or 'already runs')
        or ('could not fix %s: %s'):format(name, tostring(params.stopped)),
      (params.green or cancelled) and vim.log.levels.INFO or vim.log.levels.WARN
    )
    return
  end
  local ok, err = pcall(M.show_diff, loop)
  if not ok then
    say(('could not open the diff of the fix: %s'):format(err), vim.log.levels.ERROR)
  end
end

--- The window showing `buf` in the current tab page, or nil.
---@param buf integer
---@return integer|nil
local function win_of(buf)
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_buf(win) == buf then
      return win
    end
  end
end

--- Opens the diff split of a finished loop's fix.
---@param loop warden.FixLoop
function M.show_diff(loop)
  local fin = assert(loop.finished)
  local src = vim.uri_to_bufnr(loop.uri)
  vim.fn.bufload(src)
  local src_win = win_of(src)
  if not src_win then
    src_win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(src_win, src)
  end
  local buf = vim.api.nvim_create_buf(false, true)
  local path = vim.uri_to_fname(loop.uri)
  local name = 'warden-fix://' .. path
  if vim.fn.bufexists(name) == 1 then
    name = name .. ' (' .. loop.id .. ')'
  end
  vim.api.nvim_buf_set_name(buf, name)
  local lines = vim.split(fin.fixed, '\n', { plain = true })
  if lines[#lines] == '' then
    table.remove(lines)
  end
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].swapfile = false
  vim.bo[buf].modifiable = false
  vim.bo[buf].filetype = vim.bo[src].filetype
  vim.b[buf].warden_fix = loop.id
  local win = vim.api.nvim_open_win(buf, false, { split = 'right', win = src_win })
  local verdict = M.verdict(fin)
  vim.wo[win].winbar = ('warden fix (%s)  :Warden accept  :Warden discard'):format(verdict)
  vim.api.nvim_win_call(src_win, function()
    vim.cmd('diffthis')
  end)
  vim.api.nvim_win_call(win, function()
    vim.cmd('diffthis')
  end)
  loop.diff = { buf = buf, win = win }
  -- Closing the scratch buffer by hand turns diff off in the file's window; the fix
  -- still waits for :Warden accept or :Warden discard.
  vim.api.nvim_create_autocmd('BufWipeout', {
    buffer = buf,
    once = true,
    callback = function()
      vim.schedule(function()
        local w = win_of(src)
        if w then
          vim.api.nvim_win_call(w, function()
            vim.cmd('diffoff')
          end)
        end
      end)
    end,
  })
  say(
    ('%s: fix until it runs (%s); :Warden accept applies it, :Warden discard drops it'):format(
      name_of(loop.uri),
      verdict
    )
  )
  vim.api.nvim_exec_autocmds('User', {
    pattern = 'WardenFixDiff',
    modeline = false,
    data = { requestId = loop.id, buf = buf, win = win },
  })
end

--- Finished loops with a fix waiting for an answer, oldest first.
---@return warden.FixLoop[]
function M.pending()
  local out = {}
  for _, loop in pairs(M.loops) do
    if loop.finished then
      out[#out + 1] = loop
    end
  end
  table.sort(out, function(a, b)
    return a.id < b.id
  end)
  return out
end

--- The pending fix of `bufnr` (its scratch buffer, or the file), else the newest.
---@param bufnr integer
---@return warden.FixLoop|nil
function M.pending_for(bufnr)
  local id = vim.b[bufnr].warden_fix
  if id and M.loops[id] and M.loops[id].finished then
    return M.loops[id]
  end
  local uri = vim.uri_from_bufnr(bufnr)
  local newest
  for _, loop in ipairs(M.pending()) do
    if loop.uri == uri then
      return loop
    end
    if not newest or loop.id == M.last_request_id then
      newest = loop
    end
  end
  return newest
end

--- Closes a loop's diff split: the scratch window and buffer, diff off in the file's.
---@param loop warden.FixLoop
local function close_diff(loop)
  local d = loop.diff
  loop.diff = nil
  if d and vim.api.nvim_buf_is_valid(d.buf) then
    vim.api.nvim_buf_delete(d.buf, { force = true })
  end
  local src = vim.uri_to_bufnr(loop.uri)
  for _, win in ipairs(vim.fn.win_findbuf(src)) do
    vim.api.nvim_win_call(win, function()
      vim.cmd('diffoff')
    end)
  end
end

--- Answers the pending fix of `bufnr` (default: the current buffer).
---@param accept boolean
---@param bufnr? integer
---@return string|nil request_id
function M.answer(accept, bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local loop = M.pending_for(bufnr)
  if not loop then
    say('no fix is waiting for an answer; :Warden fixUntilGreen first', vim.log.levels.WARN)
    return nil
  end
  M.loops[loop.id] = nil
  local src = vim.uri_to_bufnr(loop.uri)
  -- Back to the file, then close the scratch side.
  local src_win = win_of(src)
  if src_win then
    vim.api.nvim_set_current_win(src_win)
  end
  close_diff(loop)
  local client = vim.lsp.get_client_by_id(loop.client_id)
  if not client then
    say('the warden server of this fix has stopped', vim.log.levels.ERROR)
    return nil
  end
  local name = name_of(loop.uri)
  local command = accept and lsp.commands.llm_fix_accept or lsp.commands.llm_fix_discard
  lsp.execute(client, command, { requestId = loop.id }, function(err, res)
    if err then
      return say(
        ('%s the fix failed: %s'):format(accept and 'applying' or 'discarding', err.message),
        vim.log.levels.ERROR
      )
    end
    if not accept then
      say(('fix of %s discarded'):format(name))
    elseif res and res.applied then
      say(('fix applied to %s (unsaved; u undoes it)'):format(name))
    else
      say(
        ('the fix of %s was not applied%s'):format(name, res and res.message and (': ' .. res.message) or ''),
        vim.log.levels.WARN
      )
    end
    vim.api.nvim_exec_autocmds('User', {
      pattern = 'WardenFixAnswered',
      modeline = false,
      data = { requestId = loop.id, accepted = accept, result = res },
    })
  end)
  return loop.id
end

--- Cancels every running loop (`warden.llm.cancel`); returns how many and their
--- progress tokens (so `:Warden cancel` does not cancel them twice).
---@return integer, table<string, boolean>
function M.cancel_all()
  local n, tokens = 0, {}
  for id, loop in pairs(M.loops) do
    local client = not loop.finished and vim.lsp.get_client_by_id(loop.client_id)
    if client then
      n = n + 1
      tokens['warden/fix/' .. id] = true
      lsp.execute(client, lsp.commands.llm_cancel, { requestId = id }, function() end)
    end
  end
  return n, tokens
end

return M
