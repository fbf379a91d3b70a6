---@mod warden.commands The `:Warden <subcommand>` command and its completion.
---
--- Each subcommand is a table entry (`run`, `complete`, `usage`) calling into the
--- feature's module (`warden.runs`, `warden.llm`, `warden.traces`, ...), so a feature
--- adds an entry without changing the dispatcher.

local lsp = require('warden.lsp')

local M = {}

---@param msg string
---@param level? integer
local function say(msg, level)
  vim.notify('warden: ' .. msg, level or vim.log.levels.INFO)
end

---@param what string
---@param err lsp.ResponseError|string
local function fail(what, err)
  local message = type(err) == 'table' and err.message or tostring(err)
  say(('%s failed: %s'):format(what, message), vim.log.levels.ERROR)
end

--- The warden client for the current buffer, else any; reports when none runs.
---@return vim.lsp.Client|nil
local function client_or_complain()
  local client = lsp.client_for(0)
  if not client then
    say('no warden server is running; open a file in a git repository, or run :Warden restart', vim.log.levels.ERROR)
  end
  return client
end

--- Calls `fn(client, name)` with the named workspace, or, when `name` is nil, the
--- workspace owning the current buffer's file (nil for the active one when the buffer is
--- not a file).
---@param name string|nil
---@param fn fun(client: vim.lsp.Client, name: string|nil)
local function with_workspace(name, fn)
  local client = client_or_complain()
  if not client then
    return
  end
  if name then
    return fn(client, name)
  end
  local file = vim.api.nvim_buf_get_name(0)
  if file == '' or vim.bo.buftype ~= '' then
    return fn(client, nil)
  end
  lsp.request(client, lsp.requests.workspace_for, { uri = vim.uri_from_fname(file) }, function(err, ws)
    if err then
      return fail('finding the workspace of this file', err)
    end
    fn(client, ws and ws.name)
  end)
end

---@param client vim.lsp.Client
---@param command string
---@param args table
---@param what string
---@param on_ok fun(result: any)
local function execute(client, command, args, what, on_ok)
  lsp.execute(client, command, args, function(err, result)
    if err then
      return fail(what, err)
    end
    on_ok(result)
  end)
end

--- Runs a command on every running server (each has its own active workspace); `on_ok`
--- gets the first success, and an error is reported only when every server failed.
---@param command string
---@param args table
---@param what string
---@param on_ok fun(result: any)
local function execute_all(command, args, what, on_ok)
  local clients = lsp.clients()
  if #clients == 0 then
    return client_or_complain()
  end
  local pending, succeeded, failures = #clients, false, {}
  for _, client in ipairs(clients) do
    lsp.execute(client, command, args, function(err, result)
      pending = pending - 1
      if err then
        failures[#failures + 1] = { client = client, err = err }
      elseif not succeeded then
        succeeded = true
        on_ok(result)
      end
      if pending > 0 or #failures == 0 then
        return
      end
      if not succeeded then
        return fail(what, failures[1].err)
      end
      for _, f in ipairs(failures) do
        say(
          ('%s failed on the server for %s: %s'):format(what, f.client.root_dir or '?', f.err.message),
          vim.log.levels.WARN
        )
      end
    end)
  end
end

---@param arglead string
---@param items string[]
---@return string[]
local function matching(arglead, items)
  return vim.tbl_filter(function(item)
    return vim.startswith(item, arglead)
  end, items)
end

---@return string[]
local function workspace_names()
  return vim.tbl_map(function(ws)
    return ws.name
  end, lsp.known_workspaces())
end

-- ---------------------------------------------------------------------------------------
-- Workspaces
-- ---------------------------------------------------------------------------------------

--- Lines describing workspaces, the active one starred.
---@param list warden.WorkspaceInfo[]
---@return string[]
function M.format_workspaces(list)
  local width = 4
  for _, ws in ipairs(list) do
    width = math.max(width, vim.fn.strdisplaywidth(ws.name))
  end
  local lines = { 'warden workspaces (* active):' }
  for _, ws in ipairs(list) do
    local flags = {}
    if ws.open then
      flags[#flags + 1] = 'open'
    end
    if ws.archived then
      flags[#flags + 1] = 'archived'
    end
    if ws.branch then
      flags[#flags + 1] = 'branch ' .. ws.branch
    end
    if ws.systemPromptSource then
      flags[#flags + 1] = 'prompt from ' .. ws.systemPromptSource
    end
    lines[#lines + 1] = ('%s %s  %s  %s'):format(
      ws.active and '*' or ' ',
      ws.name .. string.rep(' ', width - vim.fn.strdisplaywidth(ws.name)),
      ws.root or '(files outside every folder)',
      table.concat(flags, ', ')
    )
  end
  return lines
end

---@type table<string, {usage: string, nargs: integer, run: fun(client: vim.lsp.Client, args: string[], bang: boolean)}>
local workspace_actions = {
  list = {
    usage = 'list',
    nargs = 0,
    run = function(client)
      execute(client, lsp.commands.workspace_list, {}, 'listing workspaces', function(list)
        -- Each server knows which of its own folders are open.
        local open = {}
        for _, c in ipairs(lsp.clients()) do
          for _, ws in ipairs(lsp.client_state(c.id).workspaces) do
            open[ws.name] = open[ws.name] or ws.open
          end
        end
        for _, ws in ipairs(list or {}) do
          ws.open = ws.open or open[ws.name] == true
        end
        say(table.concat(M.format_workspaces(list or {}), '\n'))
      end)
    end,
  },
  activate = {
    usage = 'activate NAME',
    nargs = 1,
    run = function(_, args)
      -- Every server: each one files the files outside its folders under its active one.
      execute_all(lsp.commands.workspace_activate, { name = args[1] }, 'activate', function(ws)
        say(('%s is the active workspace'):format(ws.name))
      end)
    end,
  },
  rename = {
    usage = 'rename NAME NEWNAME',
    nargs = 2,
    run = function(client, args)
      execute(client, lsp.commands.workspace_rename, { name = args[1], newName = args[2] }, 'rename', function(ws)
        say(('renamed %s to %s'):format(args[1], ws.name))
      end)
    end,
  },
  archive = {
    usage = 'archive NAME',
    nargs = 1,
    run = function(client, args)
      execute(client, lsp.commands.workspace_archive, { name = args[1] }, 'archive', function(ws)
        say(('archived %s'):format(ws.name))
      end)
    end,
  },
  restore = {
    usage = 'restore NAME',
    nargs = 1,
    run = function(client, args)
      execute(client, lsp.commands.workspace_restore, { name = args[1] }, 'restore', function(ws)
        say(('restored %s'):format(ws.name))
      end)
    end,
  },
  delete = {
    usage = 'delete NAME (asks first; :Warden! does not)',
    nargs = 1,
    run = function(client, args, bang)
      local name = args[1]
      if not bang then
        local answer = vim.fn.confirm(
          ('Delete workspace %s and its whole history (traces, findings)?'):format(name),
          '&Delete\n&Cancel',
          2
        )
        if answer ~= 1 then
          return say('delete cancelled')
        end
      end
      execute(client, lsp.commands.workspace_delete, { name = name, confirm = true }, 'delete', function(res)
        say(('deleted %s'):format(res.deleted or name))
      end)
    end,
  },
}

---@param args string[]
---@param bang boolean
local function workspace(args, bang)
  local action = args[1] or 'list'
  local spec = workspace_actions[action]
  if not spec then
    local names = vim.tbl_keys(workspace_actions)
    table.sort(names)
    return say(
      ('unknown workspace action %q; use one of: %s'):format(action, table.concat(names, ', ')),
      vim.log.levels.ERROR
    )
  end
  local rest = vim.list_slice(args, 2)
  if action == 'rename' and #rest == 1 then
    -- `rename NEWNAME` renames the workspace of the current buffer.
    return with_workspace(nil, function(client, name)
      if not name then
        return say('this buffer is not a file; use :Warden workspace rename NAME NEWNAME', vim.log.levels.ERROR)
      end
      spec.run(client, { name, rest[1] }, bang)
    end)
  end
  if #rest ~= spec.nargs then
    return say('usage: :Warden workspace ' .. spec.usage, vim.log.levels.ERROR)
  end
  local client = client_or_complain()
  if client then
    spec.run(client, rest, bang)
  end
end

-- ---------------------------------------------------------------------------------------
-- System prompt buffer
-- ---------------------------------------------------------------------------------------

local source_names = {
  command = 'set by command (stored in the database)',
  file = "from the repository's .warden.toml",
  settings = 'from the warden.systemPrompt setting',
}

---@param buf integer
---@param prompt string|nil
local function set_prompt_lines(buf, prompt)
  local lines = prompt and vim.split(prompt, '\n', { plain = true }) or {}
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modified = false
end

---@param buf integer
local function save_prompt(buf)
  local info = vim.b[buf].warden_prompt
  local client = info and vim.lsp.get_client_by_id(info.client_id) or lsp.client_for(0)
  if not info or not client then
    return say('no warden server is running; cannot save the prompt', vim.log.levels.ERROR)
  end
  local text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n'):gsub('%s+$', '')
  local prompt = text:match('^%s*$') and vim.NIL or text
  execute(
    client,
    lsp.commands.workspace_set_system_prompt,
    { name = info.name, prompt = prompt },
    'saving the system prompt',
    function(res)
      if not vim.api.nvim_buf_is_valid(buf) then
        return
      end
      if prompt == vim.NIL then
        set_prompt_lines(buf, res.prompt)
        say(('cleared the stored prompt of %s; now %s'):format(info.name, source_names[res.source] or 'no prompt'))
      else
        vim.bo[buf].modified = false
        say(('saved the system prompt of %s'):format(info.name))
      end
      vim.b[buf].warden_prompt_source = res.source
    end
  )
end

--- Opens the system prompt of a workspace (default: the current file's) in a buffer;
--- `:w` stores it (highest precedence), `:w` on an empty buffer clears the stored one.
---@param name string|nil
function M.prompt(name)
  with_workspace(name, function(client, ws_name)
    local target = ws_name or lsp.client_state(client.id).active or 'default'
    execute(client, lsp.commands.workspace_show_system_prompt, { name = target }, 'showing the prompt', function(res)
      local bufname = 'warden://prompt/' .. res.name
      local buf = vim.fn.bufnr(bufname)
      if buf == -1 then
        buf = vim.api.nvim_create_buf(true, false)
        vim.api.nvim_buf_set_name(buf, bufname)
        vim.bo[buf].buftype = 'acwrite'
        vim.bo[buf].swapfile = false
        vim.bo[buf].bufhidden = 'hide'
        vim.bo[buf].filetype = 'markdown'
        vim.api.nvim_create_autocmd('BufWriteCmd', {
          buffer = buf,
          desc = 'warden: store the workspace system prompt',
          callback = function(ev)
            save_prompt(ev.buf)
          end,
        })
      end
      if not vim.bo[buf].modified then
        set_prompt_lines(buf, res.prompt)
      end
      vim.b[buf].warden_prompt = { client_id = client.id, name = res.name }
      vim.b[buf].warden_prompt_source = res.source
      vim.api.nvim_win_set_buf(0, buf)
      say(
        ('system prompt of %s (%s); :w stores it, :w on an empty buffer clears it'):format(
          res.name,
          source_names[res.source] or 'none yet'
        )
      )
    end)
  end)
end

-- ---------------------------------------------------------------------------------------
-- Scans, findings, cancel, restart
-- ---------------------------------------------------------------------------------------

---@type table<string, string> progress token -> workspace, for scans started here
local scans = {}

lsp.on('warden:progressEnd', function(p)
  local ws = scans[tostring(p.token)]
  if ws then
    scans[tostring(p.token)] = nil
    if require('warden.config').get().notify_progress then
      say(('scan of %s: %s'):format(ws, p.message or 'done'))
    end
  end
end)

--- Starts a workspace scan (default: the current file's workspace, else the active one).
---@param name string|nil
function M.scan(name)
  with_workspace(name, function(client, ws)
    local args = ws and { workspace = ws } or {}
    execute(client, lsp.commands.scan_workspace, args, 'scan', function(res)
      scans[tostring(res.progressToken)] = res.workspace
      say(('scanning %s'):format(res.workspace))
    end)
  end)
end

local severities =
  { [1] = 'E', [2] = 'W', [3] = 'I', [4] = 'N', error = 'E', warning = 'W', information = 'I', hint = 'N' }
local kinds = { 'secret', 'shell', 'syntax', 'package' }

--- Puts every current finding (open documents and scanned files) in the quickfix list,
--- from every running server (each knows the roots it serves).
---@param kind string|nil secret, shell, syntax or package
function M.findings(kind)
  local clients = lsp.clients()
  if #clients == 0 then
    client_or_complain()
    return
  end
  local params = kind and { kind = kind } or vim.empty_dict()
  local pending, seen, findings, errors = #clients, {}, {}, {}
  local function done()
    table.sort(findings, function(a, b)
      if a.uri ~= b.uri then
        return a.uri < b.uri
      end
      if a.range.start.line ~= b.range.start.line then
        return a.range.start.line < b.range.start.line
      end
      return a.range.start.character < b.range.start.character
    end)
    local items = {}
    for _, f in ipairs(findings) do
      items[#items + 1] = {
        filename = vim.uri_to_fname(f.uri),
        lnum = f.range.start.line + 1,
        col = f.range.start.character + 1,
        end_lnum = f.range['end'].line + 1,
        end_col = f.range['end'].character + 1,
        type = severities[f.severity] or 'W',
        text = ('[%s] %s'):format(f.rule, f.message),
      }
    end
    local title = 'warden findings' .. (kind and (' (' .. kind .. ')') or '')
    vim.fn.setqflist({}, ' ', { title = title, items = items })
    for _, e in ipairs(errors) do
      fail('findings', e)
    end
    if #items == 0 then
      say('no findings')
    else
      vim.cmd('botright copen')
    end
  end
  for _, client in ipairs(clients) do
    lsp.request(client, lsp.requests.findings, params, function(err, res)
      if err then
        errors[#errors + 1] = err
      else
        for _, f in ipairs(res.findings or {}) do
          local r = f.range or { start = { line = 0, character = 0 }, ['end'] = { line = 0, character = 0 } }
          f.range = r
          local key = table.concat({ f.uri, f.rule, r.start.line, r.start.character }, '\0')
          if not seen[key] then
            seen[key] = true
            findings[#findings + 1] = f
          end
        end
      end
      pending = pending - 1
      if pending == 0 then
        done()
      end
    end)
  end
end

-- ---------------------------------------------------------------------------------------
-- The dispatcher
-- ---------------------------------------------------------------------------------------

---@class warden.Subcommand
---@field usage string
---@field run fun(args: string[], bang: boolean, opts: {range?: {[1]: integer, [2]: integer}})
---@field complete? fun(arglead: string, args: string[]): string[]

local usage_groups = { 'model', 'day', 'action' }

---@type table<string, warden.Subcommand>
M.subcommands = {
  traces = {
    usage = 'traces [WORKSPACE]  span tree with timing bars, live; <CR> expands a span',
    run = function(args)
      require('warden.traces').open({ workspace = args[1] })
    end,
    complete = function(arglead, args)
      return #args <= 1 and matching(arglead, workspace_names()) or {}
    end,
  },
  workspace = {
    usage = 'workspace list|activate|rename|archive|restore|delete ...',
    run = workspace,
    complete = function(arglead, args)
      if #args <= 1 then
        local actions = vim.tbl_keys(workspace_actions)
        table.sort(actions)
        return matching(arglead, actions)
      end
      local spec = workspace_actions[args[1]]
      if spec and spec.nargs >= 1 and #args == 2 then
        return matching(arglead, workspace_names())
      end
      return {}
    end,
  },
  prompt = {
    usage = 'prompt [WORKSPACE]  edit the system prompt; :w saves it',
    run = function(args)
      M.prompt(args[1])
    end,
    complete = function(arglead, args)
      return #args <= 1 and matching(arglead, workspace_names()) or {}
    end,
  },
  scan = {
    usage = 'scan [WORKSPACE]  scan every file of a workspace (progress: LspProgress)',
    run = function(args)
      M.scan(args[1])
    end,
    complete = function(arglead, args)
      return #args <= 1 and matching(arglead, workspace_names()) or {}
    end,
  },
  findings = {
    usage = 'findings [secret|shell|syntax|package]  current findings in the quickfix list',
    run = function(args)
      if args[1] and not vim.tbl_contains(kinds, args[1]) then
        return say(('unknown kind %q; use one of: %s'):format(args[1], table.concat(kinds, ', ')), vim.log.levels.ERROR)
      end
      M.findings(args[1])
    end,
    complete = function(arglead, args)
      return #args <= 1 and matching(arglead, kinds) or {}
    end,
  },
  explain = {
    usage = '[range]explain  explain the selection or the definition at the cursor (streams into a float)',
    run = function(_, _, opts)
      require('warden.llm').explain({ range = opts.range })
    end,
  },
  fix = {
    usage = 'fix  fix the diagnostic under the cursor (any source) with the LLM',
    run = function()
      require('warden.llm').fix()
    end,
  },
  rewrite = {
    usage = '[range]rewrite [INSTRUCTION]  rewrite the selection (or line) as told (asks when not given)',
    run = function(args, _, opts)
      local instruction = #args > 0 and table.concat(args, ' ') or nil
      require('warden.llm').rewrite(instruction, { range = opts.range })
    end,
  },
  docstring = {
    usage = 'docstring  add a docstring to the function or class at the cursor',
    run = function(_, _, opts)
      require('warden.llm').docstring({ range = opts.range })
    end,
  },
  tests = {
    usage = '[range]tests  write tests for the selection or the definition at the cursor',
    run = function(_, _, opts)
      require('warden.llm').tests({ range = opts.range })
    end,
  },
  trust = {
    usage = "trust  review what this repository's .warden.toml holds back, then trust that content (! skips the question)",
    run = function(_, bang)
      require('warden.trust').trust(bang)
    end,
  },
  untrust = {
    usage = "untrust  forget the trust in this repository's .warden.toml (its guarded keys are ignored again)",
    run = function()
      require('warden.trust').untrust()
    end,
  },
  retry = {
    usage = 'retry  run the last LLM action again, asking the model (bypasses the response cache)',
    run = function()
      require('warden.llm').retry()
    end,
  },
  usage = {
    usage = 'usage [model|day|action]  LLM requests, cache hits, tokens and cost as a table',
    run = function(args)
      if args[1] and not vim.tbl_contains(usage_groups, args[1]) then
        return say(
          ('unknown grouping %q; use one of: %s'):format(args[1], table.concat(usage_groups, ', ')),
          vim.log.levels.ERROR
        )
      end
      require('warden.usage').open({ group_by = args[1] })
    end,
    complete = function(arglead, args)
      return #args <= 1 and matching(arglead, usage_groups) or {}
    end,
  },
  run = {
    usage = 'run [INPUT] [-- ARGS...]  run this buffer in the sandbox; output streams into a split',
    run = function(args)
      local input, rest = nil, {}
      local sep = false
      for _, a in ipairs(args) do
        if sep then
          rest[#rest + 1] = a
        elseif a == '--' then
          sep = true
        elseif not input then
          input = a
        else
          rest[#rest + 1] = a
        end
      end
      require('warden.runs').run({ input = input, args = #rest > 0 and rest or nil })
    end,
    complete = function(arglead, args)
      return #args <= 1 and vim.fn.getcompletion(arglead, 'file') or {}
    end,
  },
  runAll = {
    usage = 'runAll [WORKSPACE]  run the workspace scripts in order (:Warden! runAll stops at the first failing group)',
    run = function(args, bang)
      require('warden.runs').run_all({ workspace = args[1], stop_on_failure = bang })
    end,
    complete = function(arglead, args)
      return #args <= 1 and matching(arglead, workspace_names()) or {}
    end,
  },
  runs = {
    usage = 'runs [WORKSPACE]  run history: <CR> log, r re-run, f filter, s search output, S statistics',
    run = function(args)
      require('warden.runs').history({ workspace = args[1] })
    end,
    complete = function(arglead, args)
      return #args <= 1 and matching(arglead, workspace_names()) or {}
    end,
  },
  scripts = {
    usage = 'scripts [WORKSPACE]  the run-all catalog: order, name, version, last run',
    run = function(args)
      require('warden.runs').scripts({ workspace = args[1] })
    end,
    complete = function(arglead, args)
      return #args <= 1 and matching(arglead, workspace_names()) or {}
    end,
  },
  cancel = {
    usage = 'cancel  stop running runs, run-all batches, scans and LLM requests',
    run = function()
      local n_llm, tokens = 0, {}
      if package.loaded['warden.llm'] then
        n_llm, tokens = require('warden.llm').cancel_all()
      end
      if package.loaded['warden.runs'] then
        local n_runs, batch_tokens = require('warden.runs').cancel_all()
        n_llm = n_llm + n_runs
        tokens = vim.tbl_extend('force', tokens, batch_tokens)
      end
      local n = n_llm + lsp.cancel_all(tokens)
      say(n == 0 and 'nothing to cancel' or ('cancelling %d task%s'):format(n, n == 1 and '' or 's'))
    end,
  },
  restart = {
    usage = 'restart  stop the warden servers and start them again',
    run = function()
      local n = #lsp.clients()
      require('warden').restart(function()
        say(n == 0 and 'started' or 'restarted')
      end)
    end,
  },
}

--- Subcommand names, sorted.
---@return string[]
function M.names()
  local names = vim.tbl_keys(M.subcommands)
  table.sort(names)
  return names
end

---@return string
local function usage()
  local lines = { 'usage: :Warden <subcommand>' }
  for _, name in ipairs(M.names()) do
    lines[#lines + 1] = '  ' .. M.subcommands[name].usage
  end
  local clients = lsp.clients()
  if #clients == 0 then
    lines[#lines + 1] = 'no warden server is running'
  end
  for _, c in ipairs(clients) do
    local st = lsp.client_state(c.id)
    lines[#lines + 1] = ('server %d: %s (active workspace: %s)'):format(
      c.id,
      c.root_dir or c.config.root_dir or '?',
      st.active or '?'
    )
  end
  return table.concat(lines, '\n')
end

--- Runs `:Warden` with its parsed arguments (`nvim_create_user_command` opts).
---@param opts {fargs: string[], bang: boolean, range?: integer, line1?: integer, line2?: integer}
function M.run(opts)
  local name = opts.fargs[1]
  if not name then
    return say(usage())
  end
  local sub = M.subcommands[name]
  if not sub then
    return say(('unknown subcommand %q\n%s'):format(name, usage()), vim.log.levels.ERROR)
  end
  local range = (opts.range or 0) > 0 and { opts.line1, opts.line2 } or nil
  sub.run(vim.list_slice(opts.fargs, 2), opts.bang, { range = range })
end

--- Completion for `:Warden`.
---@param arglead string
---@param cmdline string
---@param cursorpos integer
---@return string[]
function M.complete(arglead, cmdline, cursorpos)
  local before = cmdline:sub(1, cursorpos)
  local words = vim.split(vim.trim(before:gsub('^%s*%S+', '', 1)), '%s+', { trimempty = true })
  if arglead ~= '' then
    table.remove(words) -- the word being completed
  end
  if #words == 0 then
    return matching(arglead, M.names())
  end
  local sub = M.subcommands[words[1]]
  if not sub or not sub.complete then
    return {}
  end
  local args = vim.list_slice(words, 2)
  args[#args + 1] = arglead
  return sub.complete(arglead, args)
end

return M
