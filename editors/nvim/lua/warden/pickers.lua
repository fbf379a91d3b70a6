---@mod warden.pickers Pickers for workspaces, runs, traces and findings.
---
--- Every picker goes through `vim.ui.select`, so whatever picker the user installed
--- (telescope-ui-select, fzf-lua's `register_ui_select`, snacks.picker, dressing, mini.pick)
--- answers with its own UI; plain Neovim shows a numbered list. Items carry `kind`
--- (`warden.workspace`, `warden.run`, `warden.span`, `warden.finding`) for pickers that
--- preview by kind. `:Warden pick workspaces|runs|traces|findings`.

local lsp = require('warden.lsp')

local M = {}

---@param msg string
---@param level? integer
local function say(msg, level)
  vim.notify('warden: ' .. msg, level or vim.log.levels.INFO)
end

--- What the pickers are, for `:Warden pick` and its completion.
M.names = { 'findings', 'runs', 'traces', 'workspaces' }

-- ---------------------------------------------------------------------------------------
-- Workspaces
-- ---------------------------------------------------------------------------------------

--- What sets a workspace apart, as short words: open, archived, its branch.
---@param ws warden.WorkspaceInfo
---@return string[]
function M.workspace_flags(ws)
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
  return flags
end

--- One workspace as a picker line.
---@param ws warden.WorkspaceInfo
---@return string
function M.workspace_item(ws)
  local flags = M.workspace_flags(ws)
  if ws.active then
    table.insert(flags, 1, 'active')
  end
  local root = ws.root and vim.fn.fnamemodify(ws.root, ':~') or '(files outside every folder)'
  return ('%s%s  %s%s'):format(
    ws.active and '* ' or '  ',
    ws.name,
    root,
    #flags > 0 and ('  (' .. table.concat(flags, ', ') .. ')') or ''
  )
end

--- Picks a workspace; `on_choice(client, ws)` gets the choice.
---@param opts {prompt?: string, filter?: fun(ws: warden.WorkspaceInfo): boolean}
---@param on_choice fun(client: vim.lsp.Client, ws: warden.WorkspaceInfo)
function M.pick_workspace(opts, on_choice)
  local client = lsp.client_for(0)
  if not client then
    return say('no warden server is running; open a file in a git repository', vim.log.levels.ERROR)
  end
  lsp.request(client, lsp.requests.workspaces, {}, function(err, list)
    if err then
      return say('listing workspaces failed: ' .. tostring(err.message), vim.log.levels.ERROR)
    end
    -- Each server knows which of its own folders are open.
    local open = {}
    for _, ws in ipairs(lsp.known_workspaces()) do
      open[ws.name] = ws.open
    end
    local items = {}
    for _, ws in ipairs(list or {}) do
      ws.open = ws.open or open[ws.name] == true
      if not opts.filter or opts.filter(ws) then
        items[#items + 1] = ws
      end
    end
    if #items == 0 then
      return say('no workspace to pick')
    end
    vim.ui.select(items, {
      prompt = opts.prompt or 'warden workspace',
      kind = 'warden.workspace',
      format_item = M.workspace_item,
    }, function(ws)
      if ws then
        on_choice(client, ws)
      end
    end)
  end)
end

--- Picks a workspace, then what to do with it (activate, traces, runs, scripts, scan,
--- run all, system prompt, rename, archive or restore, delete).
function M.workspaces()
  M.pick_workspace({}, function(_, ws)
    local commands = require('warden.commands')
    local actions = {
      {
        'Activate',
        'files outside every folder belong to it',
        function()
          commands.workspace_action('activate', { ws.name })
        end,
      },
      {
        'Traces',
        'its span tree',
        function()
          require('warden.traces').open({ workspace = ws.name })
        end,
      },
      {
        'Runs',
        'its run history',
        function()
          require('warden.runs').history({ workspace = ws.name })
        end,
      },
      {
        'Scripts',
        'its run-all catalog',
        function()
          require('warden.runs').scripts({ workspace = ws.name })
        end,
      },
      {
        'Scan',
        'scan every file',
        function()
          commands.scan(ws.name)
        end,
      },
      {
        'Run all',
        'run its scripts in order',
        function()
          require('warden.runs').run_all({ workspace = ws.name })
        end,
      },
      {
        'System prompt',
        'edit it in a buffer',
        function()
          commands.prompt(ws.name)
        end,
      },
      {
        'Rename',
        'give it another name',
        function()
          commands.rename_ask(ws.name)
        end,
      },
      ws.archived and {
        'Restore',
        'bring it back',
        function()
          commands.workspace_action('restore', { ws.name })
        end,
      } or {
        'Archive',
        'hide it (history kept)',
        function()
          commands.workspace_action('archive', { ws.name })
        end,
      },
      {
        'Delete',
        'remove it and its whole history (asks first)',
        function()
          commands.workspace_action('delete', { ws.name })
        end,
      },
    }
    vim.ui.select(actions, {
      prompt = 'warden workspace ' .. ws.name,
      kind = 'warden.workspace.action',
      format_item = function(a)
        return ('%-14s %s'):format(a[1], a[2])
      end,
    }, function(a)
      if a then
        a[3]()
      end
    end)
  end)
end

-- ---------------------------------------------------------------------------------------
-- Runs, traces, findings
-- ---------------------------------------------------------------------------------------

--- Picks one of the last 100 stored runs of a workspace (default: the current buffer's)
--- and opens its log.
---@param opts? {workspace?: string}
function M.runs(opts)
  opts = opts or {}
  lsp.with_workspace(opts.workspace, 0, function(client, workspace)
    lsp.request(client, lsp.requests.runs, { workspace = workspace, limit = 100 }, function(err, res)
      if err then
        return say('runs failed: ' .. tostring(err.message), vim.log.levels.ERROR)
      end
      local runs = res and res.runs or {}
      if #runs == 0 then
        return say(('no stored runs in %s'):format(workspace))
      end
      local runs_mod = require('warden.runs')
      vim.ui.select(runs, {
        prompt = 'warden runs of ' .. workspace,
        kind = 'warden.run',
        format_item = function(r)
          return (runs_mod.history_line(r))
        end,
      }, function(r)
        if r then
          runs_mod.open_log(client, r.runId)
        end
      end)
    end)
  end)
end

--- One root span as a picker line.
---@param s warden.Span
---@return string
function M.span_item(s)
  local traces = require('warden.traces')
  local started = traces.parse_time(s.startedAt)
  local clock = started and os.date('%Y-%m-%d %H:%M:%S', math.floor(started / 1000)) or '?'
  local outcome = s.finishedAt and (s.outcome or 'ok') or 'running'
  local ws = s.workspace and ('  [' .. s.workspace .. ']') or ''
  return ('%s  %-32s %-8s %9s  %s%s'):format(
    clock,
    s.name or '?',
    s.kind or '',
    require('warden.ui').duration(s.latencyMs),
    outcome,
    ws
  )
end

--- Picks one of the recent top-level spans (of a workspace, or every one) and shows it
--- expanded in the traces buffer.
---@param opts? {workspace?: string, kind?: string}
function M.traces(opts)
  opts = opts or {}
  local client = lsp.client_for(0)
  if not client then
    return say('no warden server is running; open a file in a git repository', vim.log.levels.ERROR)
  end
  local params = { workspace = opts.workspace, kind = opts.kind, limit = 200 }
  lsp.request(client, lsp.requests.traces, params, function(err, res)
    if err then
      return say('traces failed: ' .. tostring(err.message), vim.log.levels.ERROR)
    end
    local spans, ids = res and res.traces or {}, {}
    for _, s in ipairs(spans) do
      ids[s.id] = true
    end
    local roots = vim.tbl_filter(function(s)
      return not (s.parentId and ids[s.parentId])
    end, spans)
    if #roots == 0 then
      return say('no traces yet')
    end
    vim.ui.select(roots, {
      prompt = 'warden traces',
      kind = 'warden.span',
      format_item = M.span_item,
    }, function(s)
      if s then
        require('warden.traces').open({ workspace = opts.workspace, kind = opts.kind, focus = s.id })
      end
    end)
  end)
end

--- One finding as a picker line.
---@param f warden.FindingInfo
---@return string
function M.finding_item(f)
  return ('%s:%d:%d  [%s] %s'):format(
    vim.fn.fnamemodify(vim.uri_to_fname(f.uri), ':~:.'),
    f.range.start.line + 1,
    f.range.start.character + 1,
    f.rule,
    f.message
  )
end

--- Picks one of the current findings (every running server) and jumps to it.
---@param opts? {kind?: string}
function M.findings(opts)
  opts = opts or {}
  local findings = require('warden.findings')
  findings.collect({ kind = opts.kind }, function(list, errors)
    for _, e in ipairs(errors) do
      say('findings failed: ' .. (type(e) == 'table' and tostring(e.message) or tostring(e)), vim.log.levels.ERROR)
    end
    if #list == 0 then
      return #errors == 0 and say('no findings') or nil
    end
    vim.ui.select(list, {
      prompt = 'warden findings',
      kind = 'warden.finding',
      format_item = M.finding_item,
    }, function(f)
      if not f then
        return
      end
      require('warden.ui').goto_file(vim.uri_to_fname(f.uri), f.range.start.line + 1, f.range.start.character)
    end)
  end)
end

return M
