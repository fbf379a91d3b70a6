---@mod warden.commands The `:Warden <subcommand>` command and its completion.
---
--- Each subcommand is a table entry (`run`, `complete`, `usage`) calling into the
--- feature's module (`warden.runs`, `warden.llm`, `warden.traces`, `warden.findings`,
--- `warden.pickers`, `warden.log`, `warden.advisories`, `warden.gateway`,
--- `warden.worktrees`, `warden.search`, `warden.fix`, ...), so a feature adds an entry without changing the dispatcher. A workspace a command needs and was not given is the current buffer's;
--- a workspace action without its NAME picks one (`vim.ui.select`).

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
    local flags = require('warden.pickers').workspace_flags(ws)
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

--- Which workspaces a picker offers for an action.
---@type table<string, fun(ws: warden.WorkspaceInfo): boolean>
local pickable = {
  activate = function(ws)
    return not ws.archived and not ws.active
  end,
  rename = function(ws)
    return ws.name ~= 'default'
  end,
  archive = function(ws)
    return not ws.archived and ws.name ~= 'default'
  end,
  restore = function(ws)
    return ws.archived
  end,
  delete = function(ws)
    return ws.name ~= 'default' and not ws.open
  end,
}

--- Asks for the new name of workspace `name` (`vim.ui.input`), then renames it.
---@param name string
function M.rename_ask(name)
  local client = client_or_complain()
  if not client then
    return
  end
  vim.ui.input({ prompt = ('Rename workspace %s to: '):format(name), default = name }, function(new)
    if new and vim.trim(new) ~= '' and new ~= name then
      workspace_actions.rename.run(client, { name, new }, false)
    end
  end)
end

--- Runs `:Warden workspace ACTION ARGS...`: without NAME, the workspace is picked
--- (`vim.ui.select`; rename then asks for the new name); `rename NEWNAME` renames the
--- current file's workspace.
---@param action string
---@param args string[]
---@param bang? boolean
function M.workspace_action(action, args, bang)
  local spec = workspace_actions[action]
  if not spec then
    local names = vim.tbl_keys(workspace_actions)
    table.sort(names)
    return say(
      ('unknown workspace action %q; use one of: %s'):format(action, table.concat(names, ', ')),
      vim.log.levels.ERROR
    )
  end
  if action == 'rename' and #args == 1 then
    -- `rename NEWNAME` renames the workspace of the current buffer.
    local file = vim.api.nvim_buf_get_name(0)
    if file == '' or vim.bo.buftype ~= '' then
      return say('this buffer is not a file; use :Warden workspace rename NAME NEWNAME', vim.log.levels.ERROR)
    end
    return lsp.with_workspace(nil, 0, function(client, name)
      spec.run(client, { name, args[1] }, bang)
    end)
  end
  if #args == 0 and spec.nargs >= 1 then
    return require('warden.pickers').pick_workspace({
      prompt = ('%s which workspace?'):format(action:sub(1, 1):upper() .. action:sub(2)),
      filter = pickable[action],
    }, function(client, ws)
      if action == 'rename' then
        M.rename_ask(ws.name)
      else
        spec.run(client, { ws.name }, bang)
      end
    end)
  end
  if #args ~= spec.nargs then
    return say('usage: :Warden workspace ' .. spec.usage, vim.log.levels.ERROR)
  end
  local client = client_or_complain()
  if client then
    spec.run(client, args, bang)
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
  lsp.with_workspace(name, 0, function(client, target)
    execute(client, lsp.commands.workspace_show_system_prompt, { name = target }, 'showing the prompt', function(res)
      local bufname = 'warden://prompt/' .. res.name
      local ui = require('warden.ui')
      local buf = ui.find_buf(bufname)
      if not buf then
        buf = vim.api.nvim_create_buf(false, false)
        vim.api.nvim_buf_set_name(buf, bufname)
        vim.bo[buf].buftype = 'acwrite'
        vim.bo[buf].swapfile = false
        vim.bo[buf].bufhidden = 'hide'
        vim.bo[buf].filetype = 'markdown'
        vim.b[buf].warden_view = 'wardenprompt'
        vim.api.nvim_create_autocmd('BufWriteCmd', {
          buffer = buf,
          desc = 'warden: store the workspace system prompt',
          callback = function(ev)
            save_prompt(ev.buf)
          end,
        })
        ui.map(buf, 'warden prompt', { { 'q', ui.close, 'close (the prompt stays unsaved until :w)' } })
      end
      if not vim.bo[buf].modified then
        set_prompt_lines(buf, res.prompt)
      end
      vim.b[buf].warden_prompt = { client_id = client.id, name = res.name }
      vim.b[buf].warden_prompt_source = res.source
      ui.open_view(buf, {})
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
  lsp.with_workspace(name, 0, function(client, ws)
    execute(client, lsp.commands.scan_workspace, { workspace = ws }, 'scan', function(res)
      scans[tostring(res.progressToken)] = res.workspace
      say(('scanning %s'):format(res.workspace))
    end)
  end)
end

--- Every current finding in the quickfix list (`warden.findings`).
---@param kind string|nil secret, shell, syntax or package
function M.findings(kind)
  require('warden.findings').quickfix(kind)
end

-- ---------------------------------------------------------------------------------------
-- The dispatcher
-- ---------------------------------------------------------------------------------------

---@class warden.Subcommand
---@field usage string
---@field run fun(args: string[], bang: boolean, opts: {range?: {[1]: integer, [2]: integer}})
---@field complete? fun(arglead: string, args: string[]): string[]

local usage_groups = { 'model', 'day', 'action' }
local kinds = { 'secret', 'shell', 'syntax', 'package' }
local span_kinds = { 'command', 'llm', 'run', 'scan', 'index', 'guard' }

--- Checks an optional finding kind; reports a bad one.
---@param kind string|nil
---@return boolean ok
local function valid_kind(kind)
  if kind and not vim.tbl_contains(kinds, kind) then
    say(('unknown kind %q; use one of: %s'):format(kind, table.concat(kinds, ', ')), vim.log.levels.ERROR)
    return false
  end
  return true
end

---@type table<string, warden.Subcommand>
M.subcommands = {
  advisories = {
    usage = 'advisories [update] [ECOSYSTEM...]  advisory data per ecosystem (age, source, what is missing); update downloads it now (:Warden! advisories update: whole archives)',
    run = function(args, bang)
      local advisories = require('warden.advisories')
      if #args == 0 then
        local lines, level = advisories.report(require('warden.config').get())
        return vim.notify(table.concat(lines, '\n'), level)
      end
      local ecosystems = args[1] == 'update' and vim.list_slice(args, 2) or args
      advisories.update(ecosystems, bang)
    end,
    complete = function(arglead, args)
      local ecosystems = require('warden.advisories').ecosystems
      local given = {}
      for i = 1, #args - 1 do
        given[args[i]] = true
      end
      local out = #args <= 1 and { 'update' } or {}
      for _, e in ipairs(ecosystems) do
        if not given[e] then
          out[#out + 1] = e
        end
      end
      return matching(arglead, out)
    end,
  },
  traces = {
    usage = 'traces [WORKSPACE] [KIND] [gateway|client=NAME]  span tree with timing bars, live; <CR> expands a span, f filters by kind, c by gateway client',
    run = function(args)
      local opts = {}
      for _, a in ipairs(args) do
        if vim.tbl_contains(span_kinds, a) then
          opts.kind = a
        elseif a == 'gateway' then
          opts.client = require('warden.traces').any_client
        elseif a:match('^client=.') then
          opts.client = a:sub(8)
        else
          opts.workspace = a
        end
      end
      require('warden.traces').open(opts)
    end,
    complete = function(arglead, args)
      if #args > 3 then
        return {}
      end
      local items = vim.list_extend(workspace_names(), span_kinds)
      items[#items + 1] = 'gateway'
      for _, c in ipairs(package.loaded['warden.traces'] and require('warden.traces').clients() or {}) do
        if not c:find('%s') then
          items[#items + 1] = 'client=' .. c
        end
      end
      return matching(arglead, items)
    end,
  },
  terminal = {
    usage = "terminal [WORKSPACE] [-- CMD...]  a terminal whose AI tools go through warden's LLM gateway (OPENAI_/ANTHROPIC_ variables in this terminal only; :Warden! terminal even when gateway.terminals is off)",
    run = function(args, bang)
      local workspace, cmd = nil, nil
      for i, a in ipairs(args) do
        if a == '--' then
          cmd = vim.list_slice(args, i + 1)
          break
        elseif not workspace then
          workspace = a
        else
          return say('usage: :Warden terminal [WORKSPACE] [-- CMD...]', vim.log.levels.ERROR)
        end
      end
      if cmd and #cmd == 0 then
        cmd = nil
      end
      require('warden.gateway').terminal({ workspace = workspace, bang = bang, cmd = cmd })
    end,
    complete = function(arglead, args)
      return #args <= 1 and matching(arglead, workspace_names()) or {}
    end,
  },
  workspace = {
    usage = 'workspace list|activate|rename|archive|restore|delete [NAME]  (no NAME: pick one)',
    run = function(args, bang)
      M.workspace_action(args[1] or 'list', vim.list_slice(args, 2), bang)
    end,
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
      if valid_kind(args[1]) then
        M.findings(args[1])
      end
    end,
    complete = function(arglead, args)
      return #args <= 1 and matching(arglead, kinds) or {}
    end,
  },
  lfindings = {
    usage = "lfindings [secret|shell|syntax|package]  this workspace's findings in the location list",
    run = function(args)
      if valid_kind(args[1]) then
        require('warden.findings').loclist(args[1])
      end
    end,
    complete = function(arglead, args)
      return #args <= 1 and matching(arglead, kinds) or {}
    end,
  },
  search = {
    usage = 'search [glob=PATTERN] [workspace=NAME] QUERY|/REGEX/  full-text search of the workspaces: pick a matching line (vim.ui.select); :Warden! search fills the quickfix list',
    run = function(args, bang)
      require('warden.search').command(args, bang)
    end,
    complete = function(arglead)
      local items = { 'glob=' }
      for _, name in ipairs(workspace_names()) do
        items[#items + 1] = 'workspace=' .. name
      end
      return matching(arglead, items)
    end,
  },
  pick = {
    usage = 'pick workspaces|runs|traces|findings  choose one through vim.ui.select (your picker)',
    run = function(args)
      local what = args[1]
      local pickers = require('warden.pickers')
      if not vim.tbl_contains(pickers.names, what or '') then
        return say(
          ('pick what? use one of: %s'):format(table.concat(pickers.names, ', ')),
          what and vim.log.levels.ERROR or vim.log.levels.WARN
        )
      end
      if what == 'findings' then
        if valid_kind(args[2]) then
          pickers.findings({ kind = args[2] })
        end
      elseif what == 'workspaces' then
        pickers.workspaces()
      else
        pickers[what]({ workspace = args[2] })
      end
    end,
    complete = function(arglead, args)
      if #args <= 1 then
        return matching(arglead, require('warden.pickers').names)
      end
      if #args == 2 then
        if args[1] == 'findings' then
          return matching(arglead, kinds)
        elseif args[1] == 'runs' or args[1] == 'traces' then
          return matching(arglead, workspace_names())
        end
      end
      return {}
    end,
  },
  log = {
    usage = "log  the server's log (of the current buffer's root), following new lines",
    run = function()
      require('warden.log').open()
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
  fixUntilGreen = {
    usage = 'fixUntilGreen [rounds=N] [budget=USD]  run this buffer in the sandbox; while it fails, ask the LLM for a fix and run the fixed copy (3 rounds); then a diff split: :Warden accept or :Warden discard',
    run = function(args)
      local opts, err = require('warden.fix').parse_args(args)
      if not opts then
        return say(err --[[@as string]], vim.log.levels.ERROR)
      end
      require('warden.fix').start(opts)
    end,
    complete = function(arglead)
      return matching(arglead, { 'rounds=', 'budget=' })
    end,
  },
  accept = {
    usage = "accept  apply the fix of :Warden fixUntilGreen shown in the diff split (this buffer's, else the newest)",
    run = function()
      require('warden.fix').answer(true)
    end,
  },
  discard = {
    usage = "discard  drop the fix of :Warden fixUntilGreen shown in the diff split (this buffer's, else the newest)",
    run = function()
      require('warden.fix').answer(false)
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
  worktrees = {
    usage = 'worktrees [NAME]  other worktrees with uncommitted changes to this file: pick one (or NAME) to diff its copy against this buffer',
    run = function(args)
      require('warden.worktrees').pick(args[1])
    end,
    complete = function(arglead, args)
      return #args <= 1 and matching(arglead, require('warden.worktrees').names()) or {}
    end,
  },
  cancel = {
    usage = 'cancel  stop running runs, run-all batches, scans, LLM requests and fix-until-green loops',
    run = function()
      local n_llm, tokens = 0, {}
      if package.loaded['warden.llm'] then
        n_llm, tokens = require('warden.llm').cancel_all()
      end
      if package.loaded['warden.fix'] then
        local n_fix, fix_tokens = require('warden.fix').cancel_all()
        n_llm = n_llm + n_fix
        tokens = vim.tbl_extend('force', tokens, fix_tokens)
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
    usage = 'restart  stop the warden servers and start them again (crashed ones too)',
    run = function()
      local n, crashed = #lsp.clients(), not vim.tbl_isempty(lsp.orphans)
      require('warden').restart(function(attached)
        say(
          ('%s (%d buffer%s attached)'):format(
            (n == 0 and not crashed) and 'started' or 'restarted',
            attached,
            attached == 1 and '' or 's'
          )
        )
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
