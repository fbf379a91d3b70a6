---@mod warden.gateway The LLM gateway in the editor: `:Warden terminal`, the calls it
--- passes on, and what status lines say about them.
---
--- Each `warden lsp` runs a loopback LLM gateway (OpenAI Chat/Responses, Anthropic
--- Messages) that redacts secrets, enforces budgets and traces every call; see
--- `server/docs/protocol.md`, *LLM gateway*. `:Warden terminal [WORKSPACE]` asks the
--- server for the workspace's gateway (`warden/gateway`) and opens a terminal whose job
--- alone gets `OPENAI_BASE_URL`, `OPENAI_API_KEY`, `ANTHROPIC_BASE_URL` and
--- `ANTHROPIC_API_KEY` (`vim.env` is never changed), in the workspace's folder. With
--- `settings.gateway.terminals = false` it opens nothing and says so (`:Warden! terminal`
--- opens one anyway). Every `warden/gatewayCall` is counted (the day's calls of every
--- workspace, from `warden/usage`, for `calls_today()` and `status()`) and a call whose
--- reply brings in a malicious package, or was blocked, is a warning (`vim.notify`).

local config = require('warden.config')
local lsp = require('warden.lsp')

local M = {}

--- The variables a gateway terminal gets, in the order they are shown.
M.variables = { 'OPENAI_BASE_URL', 'OPENAI_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY' }

---@param msg string
---@param level? integer
local function say(msg, level)
  vim.notify('warden: ' .. msg, level or vim.log.levels.INFO)
end

--- The token as it may be shown: its first 8 characters, never the whole key.
---@param token string|nil
---@return string
function M.mask(token)
  if type(token) ~= 'string' or token == '' then
    return '(none)'
  end
  return token:sub(1, 8) .. '…'
end

--- Today's date in UTC (budgets and the call count are per UTC day).
---@return string
local function today()
  return os.date('!%Y-%m-%d') --[[@as string]]
end

-- ---------------------------------------------------------------------------------------
-- The gateway of a workspace
-- ---------------------------------------------------------------------------------------

--- Asks `client` for the gateway of workspace `name` (nil: the server's active one).
---@param client vim.lsp.Client
---@param name string|nil
---@param cb fun(err: string|nil, result: warden.GatewayResult|nil)
function M.fetch(client, name, cb)
  lsp.request(client, lsp.requests.gateway, { workspace = name }, function(err, result)
    if err then
      return cb(err.message or tostring(err), nil)
    end
    if type(result) ~= 'table' or type(result.env) ~= 'table' then
      return cb('the server sent no gateway', nil)
    end
    cb(nil, result)
  end)
end

--- Calls `fn(client, name)` with the workspace a terminal is for: `name` when given;
--- else the one owning the buffer's file, or the one of the gateway terminal it is;
--- else nil (the server's active workspace).
---@param name string|nil
---@param bufnr integer
---@param fn fun(client: vim.lsp.Client, name: string|nil)
local function with_workspace(name, bufnr, fn)
  local from_terminal = vim.b[bufnr].warden_gateway
  name = name or (type(from_terminal) == 'table' and from_terminal.workspace or nil)
  local file = vim.api.nvim_buf_get_name(bufnr)
  local is_file = file ~= '' and vim.bo[bufnr].buftype == '' and not file:match('^%a[%w+.-]*://')
  if name or is_file then
    return lsp.with_workspace(name, bufnr, fn)
  end
  local client = lsp.client_for(bufnr)
  if not client then
    return say(
      'no warden server is running; open a file in a git repository, or run :Warden restart',
      vim.log.levels.ERROR
    )
  end
  fn(client, nil)
end

--- The folder a workspace's terminal starts in: its root, else the buffer's root, else
--- the current directory.
---@param workspace string
---@param bufnr integer
---@return string
local function folder_of(workspace, bufnr)
  for _, ws in ipairs(lsp.known_workspaces()) do
    if ws.name == workspace and type(ws.root) == 'string' and vim.fn.isdirectory(ws.root) == 1 then
      return ws.root
    end
  end
  return lsp.find_root(bufnr) or vim.fn.getcwd()
end

--- Opens a window for a terminal, placed as `views.position` says (a float becomes a
--- split below: a terminal outlives a glance).
local function new_window()
  local views = config.get().views
  local size = views.size and tostring(views.size) or ''
  local cmd = ({
    below = 'botright ' .. size .. 'new',
    above = 'topleft ' .. size .. 'new',
    right = 'botright ' .. size .. 'vnew',
    left = 'topleft ' .. size .. 'vnew',
    tab = 'tabnew',
    current = 'enew',
  })[views.position] or ('botright ' .. size .. 'new')
  vim.cmd(cmd)
end

--- Starts `cmd` as a terminal job in the current (empty) buffer with `env` added to
--- Neovim's environment for this job only.
---@param cmd string|string[]
---@param env table<string, string>
---@param cwd string
---@return integer job (<= 0: failed)
local function start_terminal(cmd, env, cwd)
  if vim.fn.has('nvim-0.11') == 1 then
    return vim.fn.jobstart(cmd, { term = true, env = env, cwd = cwd })
  end
  return vim.fn.termopen(cmd, { env = env, cwd = cwd })
end

---@class warden.TerminalOpts
---@field workspace? string the workspace (default: the current file's, else the active one)
---@field bang? boolean open even when `settings.gateway.terminals` is off
---@field cmd? string|string[] what runs in the terminal (default: 'shell')
---@field on_open? fun(buf: integer, job: integer, gateway: warden.GatewayResult)

--- Opens a terminal whose job has the workspace's gateway variables (`:Warden terminal`).
---@param opts? warden.TerminalOpts
function M.terminal(opts)
  opts = opts or {}
  local settings = config.get().settings.gateway or {}
  if settings.terminals == false and not opts.bang then
    return say(
      'settings.gateway.terminals is off, so terminals do not get the LLM gateway variables; '
        .. ':Warden! terminal opens one with them anyway (:terminal opens a plain one)',
      vim.log.levels.WARN
    )
  end
  local bufnr = vim.api.nvim_get_current_buf()
  with_workspace(opts.workspace, bufnr, function(client, name)
    M.fetch(client, name, function(err, gw)
      if err or not gw then
        return say('the LLM gateway is not available: ' .. tostring(err), vim.log.levels.ERROR)
      end
      local env = {}
      for _, var in ipairs(M.variables) do
        if type(gw.env[var]) == 'string' then
          env[var] = gw.env[var]
        end
      end
      local cwd = folder_of(gw.workspace, bufnr)
      new_window()
      local buf = vim.api.nvim_get_current_buf()
      local job = start_terminal(opts.cmd or vim.o.shell, env, cwd)
      if job <= 0 then
        pcall(vim.api.nvim_buf_delete, buf, { force = true })
        return say(
          ('starting a terminal (%s) failed'):format(vim.inspect(opts.cmd or vim.o.shell)),
          vim.log.levels.ERROR
        )
      end
      -- What the terminal is for, without the token.
      vim.b[buf].warden_gateway = {
        workspace = gw.workspace,
        baseUrl = gw.baseUrl,
        openaiBaseUrl = gw.openaiBaseUrl,
        anthropicBaseUrl = gw.anthropicBaseUrl,
      }
      say(
        ('terminal for %s: OPENAI_BASE_URL=%s, ANTHROPIC_BASE_URL=%s, both API keys the gateway token %s (this terminal only)'):format(
          gw.workspace,
          env.OPENAI_BASE_URL or '?',
          env.ANTHROPIC_BASE_URL or '?',
          M.mask(gw.token)
        )
      )
      if opts.on_open then
        opts.on_open(buf, job, gw)
      end
      vim.api.nvim_exec_autocmds('User', {
        pattern = 'WardenTerminalOpen',
        modeline = false,
        data = { buf = buf, job = job, workspace = gw.workspace, baseUrl = gw.baseUrl },
      })
    end)
  end)
end

-- ---------------------------------------------------------------------------------------
-- Calls: the day's count and warnings
-- ---------------------------------------------------------------------------------------

---@type {day: string|nil, count: integer, inflight: boolean, again: boolean}
local count = { day = nil, count = 0, inflight = false, again = false }

--- Reads the day's gateway calls (every workspace; the database is shared) from
--- `warden/usage`; calls made meanwhile read it again once the answer is in.
function M.refresh()
  if count.inflight then
    count.again = true
    return
  end
  local client = lsp.client_for(0) or lsp.clients()[1]
  if not client then
    return
  end
  local day = today()
  count.inflight = true
  local sent = lsp.request(client, lsp.requests.usage, { groupBy = 'action', since = day }, function(err, result)
    count.inflight = false
    if err or type(result) ~= 'table' then
      -- Not asked again at every status line redraw: the next call or day asks.
      count.day = day
    else
      local n = 0
      for _, row in ipairs(result.rows or {}) do
        if row.key == 'gateway' then
          n = tonumber(row.requests) or 0
        end
      end
      count.day, count.count = day, n
      pcall(vim.cmd, 'redrawstatus!')
      vim.api.nvim_exec_autocmds('User', {
        pattern = 'WardenGatewayCount',
        modeline = false,
        data = { day = day, count = n },
      })
    end
    if count.again then
      count.again = false
      M.refresh()
    end
  end)
  if not sent then
    count.inflight = false
  end
end

--- How many calls went through the gateway today (UTC), in every workspace. The first
--- call (and the first after midnight) starts reading it and answers 0 until then.
---@return integer
function M.calls_today()
  if count.day ~= today() then
    if count.day ~= nil then
      count.day, count.count = nil, 0
    end
    M.refresh()
    return 0
  end
  return count.count
end

--- A short status for status lines: "" before the first gateway call of the day, else
--- "gateway: 3 calls" (`%{v:lua.require'warden.gateway'.status()}`, or the lualine
--- component `'warden_gateway'`).
---@return string
function M.status()
  local n = M.calls_today()
  if n == 0 then
    return ''
  end
  return ('gateway: %d call%s'):format(n, n == 1 and '' or 's')
end

--- The last calls seen, newest last (at most 50), for the trace viewer's client filter.
---@type warden.GatewayCall[]
M.recent = {}

--- Handles `warden/gatewayCall`: counts the call and warns about a risky or blocked one.
---@param params warden.GatewayCall
---@param _ctx? lsp.HandlerContext
function M.on_call(params, _ctx)
  M.recent[#M.recent + 1] = params
  if #M.recent > 50 then
    table.remove(M.recent, 1)
  end
  if count.day == today() then
    count.count = count.count + 1 -- at once; the database's count follows
  end
  M.refresh()
  local warning = params.warning
  if params.outcome == 'blocked' or (type(warning) == 'string' and warning ~= '') then
    vim.notify(
      ('warden: gateway call from %s (%s, %s in %s) %s%s'):format(
        params.client or '?',
        params.api or '?',
        params.model or '?',
        params.workspace or '?',
        params.outcome == 'blocked' and 'was blocked' or 'passed with a warning',
        warning and (': ' .. warning) or ''
      ),
      vim.log.levels.WARN
    )
  end
end

return M
