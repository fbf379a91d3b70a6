---@mod warden.health `:checkhealth warden`: the Neovim version, the configuration, the
--- `warden` binary and its version, running servers, the database path, the OSV
--- advisory data (per ecosystem: since when it is current and where it comes from;
--- missing data of an ecosystem in use and data older than 7 days flagged, with the
--- fix; how data arrives: offline, downloads off, or from which mirror; see
--- `warden.advisories`), the Docker engine and the LLM settings (the provider and model the
--- editor settings resolve to, whether each provider's API key variable is set (never
--- its value), and whether its base URL accepts a TCP connection), and the trust state of
--- each open repository's `.warden.toml` (which keys it holds back until `:Warden trust`),
--- the Docker engine each open root's runs go to (`run.engine`, else `DOCKER_HOST`), and
--- the LLM gateway of each open workspace (its base URL, the token's first characters
--- only) with the budgets in force and the day's spend, and where each server exports
--- its spans over OTLP (exported, queued, dropped, the last failure).

local M = {}

--- The oldest server this plugin works with.
M.min_server_version = '0.1.0'

local health = vim.health

---@param cmd string[]
---@param env table<string, string>|nil
---@param timeout integer ms
---@return {code: integer, stdout: string, stderr: string}|nil result, string|nil err
local function run(cmd, env, timeout)
  local ok, proc = pcall(vim.system, cmd, { text = true, env = env, timeout = timeout })
  if not ok then
    return nil, tostring(proc)
  end
  local res = proc:wait()
  if res.code == 124 then
    return nil, ('no answer within %d ms'):format(timeout)
  end
  return { code = res.code, stdout = res.stdout or '', stderr = res.stderr or '' }, nil
end

---@param s string
---@return string
local function first_line(s)
  return (vim.trim(s):match('[^\n]*') or '')
end

---@param cfg warden.Config
---@return string|nil value, string source
local function env_var(cfg, name)
  if cfg.cmd_env[name] then
    return cfg.cmd_env[name], 'cmd_env.' .. name
  end
  local v = vim.env[name]
  if v and v ~= '' then
    return v, '$' .. name
  end
  return nil, ''
end

--- Where the server will keep its database, and why there (the server's order:
--- `--db`, `WARDEN_DB`, `settings.database.path`, then the XDG default).
---@param cfg warden.Config
---@return string path, string source
function M.database_path(cfg)
  for i, arg in ipairs(cfg.cmd) do
    if arg == '--db' and cfg.cmd[i + 1] then
      return vim.fs.normalize(cfg.cmd[i + 1]), '--db in cmd'
    end
    local v = arg:match('^%-%-db=(.+)$')
    if v then
      return vim.fs.normalize(v), '--db in cmd'
    end
  end
  local env, source = env_var(cfg, 'WARDEN_DB')
  if env then
    return vim.fs.normalize(env), source
  end
  local setting = cfg.settings.database and cfg.settings.database.path
  if setting then
    return vim.fs.normalize(setting), 'settings.database.path'
  end
  local data = vim.env.XDG_DATA_HOME
  if not data or data == '' then
    data = vim.fs.normalize('~/.local/share')
  end
  return data .. '/warden/warden.db', 'default ($XDG_DATA_HOME/warden/warden.db)'
end

---@param a string
---@param b string
---@return integer -1, 0, 1
local function compare_versions(a, b)
  local pa, pb = vim.split(a, '.', { plain = true }), vim.split(b, '.', { plain = true })
  for i = 1, 3 do
    local x, y = tonumber(pa[i]) or 0, tonumber(pb[i]) or 0
    if x ~= y then
      return x < y and -1 or 1
    end
  end
  return 0
end

---@param cfg warden.Config
---@return boolean binary_ok
local function check_binary(cfg)
  health.start('warden: server binary')
  local exe = cfg.cmd[1]
  local path = vim.fn.exepath(exe)
  if path == '' then
    health.error(('%q is not an executable on PATH'):format(exe), {
      'Build it: cargo build --release -p warden-lsp (target/release/warden), then put it on PATH',
      'or set the full path: vim.g.warden = { cmd = { "/path/to/warden", "lsp" } }',
    })
    return false
  end
  local res, err = run({ path, '--version' }, next(cfg.cmd_env) and cfg.cmd_env or nil, 5000)
  if not res or res.code ~= 0 then
    health.error(('%s --version failed: %s'):format(path, err or first_line(res.stderr)))
    return false
  end
  local version = res.stdout:match('(%d+%.%d+%.%d+)')
  if not version then
    health.error(('%s --version printed %q, not a warden version'):format(path, first_line(res.stdout)))
    return false
  end
  if compare_versions(version, M.min_server_version) < 0 then
    health.error(
      ('warden %s at %s is older than %s, the oldest this plugin supports'):format(version, path, M.min_server_version)
    )
    return false
  end
  health.ok(('warden %s (%s); command: %s'):format(version, path, table.concat(cfg.cmd, ' ')))
  return true
end

local function check_clients()
  local lsp = require('warden.lsp')
  local clients = lsp.clients()
  local orphans = vim.tbl_count(lsp.orphans)
  if orphans > 0 then
    health.error(
      ('a warden server crashed or exited; %d buffer(s) are without warden'):format(orphans),
      { ':Warden restart starts it again', ':Warden log shows why it ended' }
    )
  end
  if #clients == 0 then
    health.info('no warden server is running (open a file in a git repository, or :Warden restart)')
    return
  end
  for _, c in ipairs(clients) do
    local info = c.server_info or {}
    local caps = c.server_capabilities or {}
    local protocol = type(caps.experimental) == 'table' and caps.experimental.wardenProtocol or nil
    local root = c.root_dir or c.config.root_dir or '?'
    local log = (c.config.cmd_env or {}).WARDEN_LOG_FILE or os.getenv('WARDEN_LOG_FILE')
    local msg = ('server %d for %s: %s %s, protocol %s, %d buffer(s)%s'):format(
      c.id,
      root,
      info.name or 'warden',
      info.version or '?',
      tostring(protocol),
      vim.tbl_count(c.attached_buffers or {}),
      log and ('; log %s (:Warden log)'):format(log) or ''
    )
    if protocol == lsp.protocol then
      health.ok(msg)
    else
      health.warn(msg .. (' (this plugin speaks protocol %d)'):format(lsp.protocol))
    end
  end
end

---@param cfg warden.Config
---@return string|nil db path when it exists
local function check_database(cfg)
  health.start('warden: database')
  local path, source = M.database_path(cfg)
  local stat = vim.uv.fs_stat(path)
  local dir = vim.fs.dirname(path)
  if stat then
    local writable = vim.fn.filewritable(path) == 1
    local size = stat.size >= 1048576 and ('%.1f MB'):format(stat.size / 1048576)
      or ('%d KB'):format(math.ceil(stat.size / 1024))
    local msg = ('%s (from %s), %s'):format(path, source, size)
    if writable then
      health.ok(msg)
    else
      health.error(msg .. ': not writable; the server would fall back to a temporary in-memory database', {
        'fix the permissions, or point WARDEN_DB / settings.database.path at a writable file',
      })
    end
    return path
  end
  local parent = dir
  while parent and not vim.uv.fs_stat(parent) do
    local up = vim.fs.dirname(parent)
    if up == parent then
      break
    end
    parent = up
  end
  if parent and vim.fn.filewritable(parent) == 2 then
    health.ok(('%s (from %s) does not exist yet; the server creates it on start'):format(path, source))
  else
    health.error(('%s (from %s) cannot be created: %s is not a writable folder'):format(path, source, parent or dir), {
      'point WARDEN_DB or settings.database.path at a writable location',
    })
  end
  return nil
end

---@param cfg warden.Config
---@param db string|nil
---@param binary_ok boolean
local function check_osv(cfg, db, binary_ok)
  health.start('warden: OSV advisory data')
  local advisories = require('warden.advisories')
  local packages = cfg.settings.packages or {}
  if packages.enabled == false then
    health.info('package checks are off (settings.packages.enabled = false)')
  end
  for _, p in ipairs(packages.osvPaths or {}) do
    local expanded = vim.fs.normalize(p)
    if expanded:sub(1, 1) ~= '/' then
      health.info(('osvPaths: %s is relative: the server resolves it against the first workspace folder'):format(p))
    elseif vim.uv.fs_stat(expanded) then
      health.ok(('osvPaths: %s exists (imported at start-up and when it changes)'):format(p))
    else
      health.warn(('osvPaths: %s does not exist'):format(p), { 'fix settings.packages.osvPaths' })
    end
  end
  local rows = {}
  if db and not binary_ok then
    health.warn('cannot read the advisory data without a working warden binary')
    return
  elseif db then
    local got, err = advisories.stats(cfg)
    if not got then
      health.error(err or 'warden db stats failed')
      return
    end
    rows = got
  end
  local findings = advisories.assess(rows, advisories.used(advisories.roots()), { offline = (advisories.offline(cfg)) })
  for _, f in ipairs(findings) do
    if f.level == 'ok' then
      health.ok(f.text)
    elseif f.level == 'warn' then
      health.warn(f.text, f.advice)
    else
      health.info(f.text)
    end
  end
  health.info(advisories.downloads_note(cfg))
end

--- The images of the configured runners (`settings.run.runners`), else the defaults.
---@param cfg warden.Config
---@return string[]
function M.runner_images(cfg)
  local runners = cfg.settings.run and cfg.settings.run.runners
  local images, seen = {}, {}
  for _, r in ipairs(type(runners) == 'table' and runners or {}) do
    if type(r.image) == 'string' and not seen[r.image] then
      seen[r.image] = true
      images[#images + 1] = r.image
    end
  end
  if #images == 0 then
    images = { 'warden-runner-python:bookworm', 'warden-runner-node:bookworm' }
  end
  return images
end

---@param cfg warden.Config
local function check_docker(cfg)
  health.start('warden: Docker engine (sandboxed runs)')
  local host = vim.env.DOCKER_HOST or 'unix:///var/run/docker.sock'
  if vim.fn.executable('docker') ~= 1 then
    local socket = host:match('^unix://(.*)')
    if socket and vim.uv.fs_stat(socket) then
      health.ok(('engine socket %s exists (the docker command is not installed, so it was not queried)'):format(socket))
    else
      health.warn(('no Docker engine at %s and no docker command'):format(host), {
        'install and start Docker (Debian: apt-get install docker.io; scripts/docker-setup.sh does both)',
      })
    end
    return
  end
  local res, err = run({ 'docker', 'version', '--format', '{{.Server.Version}}' }, nil, 5000)
  if not (res and res.code == 0 and vim.trim(res.stdout) ~= '') then
    local why = err or first_line(res.stderr ~= '' and res.stderr or res.stdout)
    health.warn(('the Docker engine at %s is not reachable: %s'):format(host, why), {
      'start it (dockerd, or systemctl start docker), or set DOCKER_HOST',
      ':Warden run needs it; everything else works without',
    })
    return
  end
  health.ok(('Docker engine %s at %s'):format(vim.trim(res.stdout), host))
  for _, image in ipairs(M.runner_images(cfg)) do
    local inspect = run({ 'docker', 'image', 'inspect', '--format', '{{.Id}}', image }, nil, 5000)
    if inspect and inspect.code == 0 then
      health.ok('runner image ' .. image)
    else
      health.warn(('runner image %s is missing (warden never pulls images)'):format(image), {
        'build the default images with scripts/runner-images.sh, or set settings.run.runners',
      })
    end
  end
end

--- Host and port of an http(s) URL, or nil.
---@param url string
---@return string|nil host, integer|nil port
function M.host_port(url)
  local scheme, authority = url:match('^(%a[%w+.-]*)://([^/?#]+)')
  if not scheme then
    return nil, nil
  end
  authority = authority:gsub('^.*@', '')
  local host, port = authority:match('^%[([^%]]+)%]:?(%d*)$')
  if not host then
    host, port = authority:match('^([^:]+):?(%d*)$')
  end
  if not host then
    return nil, nil
  end
  local default = ({ http = 80, https = 443 })[scheme:lower()]
  return host, tonumber(port) or default
end

--- Whether a TCP connection to host:port succeeds within `timeout` ms.
---@param host string
---@param port integer
---@param timeout integer
---@return boolean ok, string|nil err
function M.tcp_connect(host, port, timeout)
  local addrs, gerr = vim.uv.getaddrinfo(host, tostring(port), { socktype = 'stream' })
  if not addrs or #addrs == 0 then
    return false, 'name lookup failed' .. (gerr and (': ' .. tostring(gerr)) or '')
  end
  local last_err
  for _, a in ipairs(addrs) do
    local tcp = assert(vim.uv.new_tcp())
    local result
    local ok, started, err = pcall(tcp.connect, tcp, a.addr, a.port or port, function(cerr)
      result = cerr or true
    end)
    if ok and started then
      vim.wait(timeout, function()
        return result ~= nil
      end, 10)
    else
      result = tostring(ok and err or started)
    end
    if not tcp:is_closing() then
      tcp:close()
    end
    if result == true then
      return true, nil
    end
    last_err = result == nil and ('no answer within %d ms'):format(timeout) or tostring(result)
  end
  return false, last_err
end

---@param cfg warden.Config
---@param name string
---@return boolean set, string where
local function key_is_set(cfg, name)
  if cfg.cmd_env[name] and cfg.cmd_env[name] ~= '' then
    return true, 'cmd_env'
  end
  local v = vim.env[name]
  return v ~= nil and v ~= '', 'the environment'
end

---@param cfg warden.Config
---@param name string
---@param p warden.LlmProvider
---@param used_by string
local function check_provider(cfg, name, p, used_by)
  local head = ('provider %s (%s API, %s; %s)'):format(name, p.api or '?', p.baseUrl or '?', used_by)
  if p.apiKeyEnv then
    local set, where = key_is_set(cfg, p.apiKeyEnv)
    if set then
      health.ok(('%s: API key variable %s is set (in %s)'):format(head, p.apiKeyEnv, where))
    else
      health.warn(('%s: API key variable %s is not set'):format(head, p.apiKeyEnv), {
        ('export %s=... before starting Neovim, or set cmd_env = { %s = ... }'):format(p.apiKeyEnv, p.apiKeyEnv),
      })
    end
  else
    health.info(head .. ': no apiKeyEnv (no key is sent; fine for local servers)')
  end
  local host, port = M.host_port(p.baseUrl or '')
  if not host then
    health.error(('provider %s: baseUrl %q is not an http(s) URL'):format(name, tostring(p.baseUrl)))
    return
  end
  local ok, err = M.tcp_connect(host, port, 2000)
  if ok then
    health.ok(('provider %s: %s:%d accepts connections'):format(name, host, port))
  else
    local loopback = host == 'localhost' or host:match('^127%.') or host == '::1'
    health.warn(('provider %s: cannot connect to %s:%d: %s'):format(name, host, port, err or '?'), {
      loopback and 'start the server (ollama serve, llama-server ...)' or 'check the network connection',
      'or fix settings.llm.providers.' .. name .. '.baseUrl',
    })
  end
end

---@param cfg warden.Config
local function check_llm(cfg)
  health.start('warden: LLM settings')
  local prompt = cfg.settings.systemPrompt
  if prompt then
    health.ok(
      ('settings.systemPrompt: %d characters (used where no command or .warden.toml sets one)'):format(
        vim.fn.strchars(prompt)
      )
    )
  else
    health.info('settings.systemPrompt is not set (workspaces use .warden.toml or :Warden prompt)')
  end
  local config = require('warden.config')
  local llm = config.resolve_llm(cfg.settings)
  local explicit = cfg.settings.llm and cfg.settings.llm.provider and 'settings.llm.provider' or 'the default'
  if not llm.config then
    local names = vim.tbl_keys(llm.providers)
    table.sort(names)
    health.error(('provider %q (from %s) is not defined'):format(llm.provider, explicit), {
      'use one of: ' .. table.concat(names, ', '),
      'or add it: settings.llm.providers.' .. llm.provider .. ' = { api = "openai", baseUrl = "http://..." }',
    })
  elseif llm.model then
    health.ok(
      ('provider %s, model %s (from the editor settings; a .warden.toml can change them)'):format(
        llm.provider,
        llm.model
      )
    )
  else
    health.warn(('provider %s (from %s), but no model: LLM actions are off'):format(llm.provider, explicit), {
      'set settings.llm.model (e.g. "qwen2.5-coder:7b" for Ollama), or the model of the provider',
    })
  end
  local checked = {}
  if llm.config then
    checked[llm.provider] = true
    check_provider(cfg, llm.provider, llm.config, 'the default')
  end
  for i, rule in ipairs((cfg.settings.llm or {}).mux or {}) do
    local p = llm.providers[rule.provider]
    local label = ('mux rule %d (%s%s)'):format(i, rule.glob, rule.action and (', ' .. rule.action) or '')
    if not p then
      health.error(
        ('%s names provider %q, which is not defined; the server ignores the rule'):format(label, rule.provider)
      )
    elseif not checked[rule.provider] then
      checked[rule.provider] = true
      check_provider(cfg, rule.provider, p, 'used by ' .. label)
    end
  end
end

--- Calls `each` with every open root each running server reports (`warden/configTrust`);
--- `empty` is said when no server runs, `what` names the report when one does not answer.
---@param what string
---@param empty string
---@param each fun(root: table, client: vim.lsp.Client)
local function for_each_root(what, empty, each)
  local lsp = require('warden.lsp')
  local clients = lsp.clients()
  if #clients == 0 then
    health.info(empty)
    return
  end
  for _, c in ipairs(clients) do
    local result, err = lsp.request_sync(c, lsp.requests.config_trust, vim.empty_dict(), 3000)
    if not result then
      health.warn(('server %d did not report %s: %s'):format(c.id, what, tostring(err)))
    else
      for _, r in ipairs(result.roots or {}) do
        each(r, c)
      end
    end
  end
end

--- One line per open root of each running server: is its `.warden.toml` trusted, and
--- which keys does it hold back until it is.
local function check_trust()
  health.start('warden: repository configuration (.warden.toml)')
  for_each_root(
    'configuration trust',
    'no warden server is running; open a file of a repository to see its .warden.toml state',
    function(r)
      local where = r.workspace and ('%s (%s)'):format(r.workspace, r.root) or r.root
      if r.file == vim.NIL or not r.file then
        health.info(where .. ': no .warden.toml')
      elseif #(r.held or {}) == 0 then
        health.ok(
          where .. (r.trusted and ': .warden.toml trusted' or ': .warden.toml sets only keys that apply without trust')
        )
      else
        local keys = {}
        for _, h in ipairs(r.held) do
          keys[#keys + 1] = ('%s (%s)'):format(h.key, h.reason)
        end
        health.warn(
          where .. ': .warden.toml is not trusted; ignored until you trust it: ' .. table.concat(keys, '; '),
          {
            'review ' .. r.file .. ', then run :Warden trust in one of its files (or `warden trust ' .. r.root .. '`)',
          }
        )
      end
    end
  )
end

local ENGINE_SOURCE =
  { setting = 'run.engine', dockerHost = "the server's DOCKER_HOST", default = 'the default socket' }

--- Where a root's runs go, as `:checkhealth warden` says it: the engine's URL, why that
--- one, TLS, and what answered (`nil` when the server did not report an engine).
---@param r warden.ConfigTrustInfo
---@return string|nil line, boolean|nil connected
function M.engine_line(r)
  local e = r.engine
  if type(e) ~= 'table' then
    return nil
  end
  local where = (r.workspace and r.workspace ~= vim.NIL) and ('%s (%s)'):format(r.workspace, r.root) or r.root
  local how = { ENGINE_SOURCE[e.source] or tostring(e.source) }
  if e.tls then
    how[#how + 1] = 'TLS'
  end
  local connected = type(e.connected) == 'string' and e.connected or nil
  local state = connected and ('; %s answered'):format(connected) or '; not contacted yet'
  return ('%s: runs go to %s (%s%s)'):format(where, e.url, table.concat(how, ', '), state), connected ~= nil
end

--- One line per open root: the engine its runs go to under its effective settings.
local function check_engines()
  health.start('warden: engine per workspace (run.engine)')
  for_each_root(
    'its engines',
    'no warden server is running; open a file of a repository to see which engine its runs use',
    function(r)
      local text, connected = M.engine_line(r)
      if text and connected then
        health.ok(text)
      elseif text then
        health.info(text)
      end
    end
  )
end

--- What `:checkhealth warden` says about a workspace's gateway.
---@param where string the workspace (and root)
---@param gw warden.GatewayResult
---@return string
function M.gateway_line(where, gw)
  return ('%s: LLM gateway at %s (OPENAI_BASE_URL %s, ANTHROPIC_BASE_URL %s; token %s); :Warden terminal opens a terminal using it'):format(
    where,
    gw.baseUrl,
    gw.openaiBaseUrl,
    gw.anthropicBaseUrl,
    require('warden.gateway').mask(gw.token)
  )
end

--- The budgets the editor settings set (`llm.budget.*`), as lines.
---@param cfg warden.Config
---@return string[]
function M.budget_lines(cfg)
  local budget = (cfg.settings.llm or {}).budget or {}
  local lines = {}
  if budget.dailyUsd then
    lines[#lines + 1] = ('llm.budget.dailyUsd: $%.2f per workspace per day (UTC), gateway calls and LLM actions together (editor settings; a .warden.toml may lower it)'):format(
      budget.dailyUsd
    )
  else
    lines[#lines + 1] = 'llm.budget.dailyUsd is not set: no daily spending limit (unless a .warden.toml sets one)'
  end
  if budget.requestTokens then
    lines[#lines + 1] = ('llm.budget.requestTokens: %d tokens per gateway request, estimated prompt and output asked for (editor settings; a .warden.toml may lower it)'):format(
      budget.requestTokens
    )
  else
    lines[#lines + 1] =
      'llm.budget.requestTokens is not set: no limit per gateway request (unless a .warden.toml sets one)'
  end
  return lines
end

--- The gateway of every open workspace, the budgets in force and the day's spend.
---@param cfg warden.Config
local function check_gateway(cfg)
  health.start('warden: LLM gateway (AI tools in terminals)')
  local gateway = cfg.settings.gateway or {}
  if gateway.enabled == false then
    health.info('settings.gateway.enabled is off: the servers start no gateway (read when a server starts)')
  end
  if gateway.terminals == false then
    health.info('settings.gateway.terminals is off: :Warden terminal opens nothing (:Warden! terminal does)')
  end
  if gateway.blockMalicious then
    health.info('settings.gateway.blockMalicious: a whole reply bringing in a malicious package is refused')
  end
  local lsp = require('warden.lsp')
  local budget = (cfg.settings.llm or {}).budget or {}
  local day = os.date('!%Y-%m-%d')
  for_each_root(
    'its workspaces',
    'no warden server is running; open a file of a repository to see its gateway',
    function(r, client)
      local name = type(r.workspace) == 'string' and r.workspace or nil
      if not name then
        return
      end
      local where = ('%s (%s)'):format(name, r.root)
      local gw, err = lsp.request_sync(client, lsp.requests.gateway, { workspace = name }, 3000)
      if not gw then
        local hint = gateway.enabled == false and 'settings.gateway.enabled is off'
          or ':Warden log shows why the server has none'
        health.warn(('%s: no LLM gateway: %s'):format(where, tostring(err)), { hint })
        return
      end
      health.ok(M.gateway_line(where, gw))
      if budget.dailyUsd then
        local usage = lsp.request_sync(client, lsp.requests.usage, { workspace = name, since = day }, 3000)
        local spent = usage and usage.total and tonumber(usage.total.costUsd) or nil
        if spent then
          local msg = ('%s: $%.6f of the daily $%.2f spent today (UTC)'):format(name, spent, budget.dailyUsd)
          if spent >= budget.dailyUsd then
            health.warn(msg .. ': further calls are refused until tomorrow', {
              'raise settings.llm.budget.dailyUsd (a .warden.toml can only lower it)',
            })
          else
            health.ok(msg)
          end
        end
      end
    end
  )
  for _, line in ipairs(M.budget_lines(cfg)) do
    health.info(line)
  end
end

--- What `:checkhealth warden` says about a server's span export (`warden/telemetry`):
--- the level (`ok`, `warn` or `info`) and the lines.
---@param t warden.TelemetryResult
---@return 'ok'|'warn'|'info' level, string[] lines
function M.telemetry_lines(t)
  if type(t.endpoint) ~= 'string' then
    return 'info',
      {
        'span export is off: spans stay in the database (settings.trace.otlp.endpoint, or OTEL_EXPORTER_OTLP_ENDPOINT in the server environment, sends them to an OpenTelemetry backend)',
      }
  end
  local counts = ('%d spans exported, %d queued, %d dropped (queue full, oldest first)'):format(
    t.exported,
    t.queued,
    t.dropped
  )
  if type(t.lastError) == 'string' then
    return 'warn',
      {
        ('%s is failing (%d failed %s, retried with backoff): %s'):format(
          t.endpoint,
          t.failures,
          t.failures == 1 and 'attempt' or 'attempts',
          t.lastError
        ),
        counts,
      }
  end
  return t.dropped > 0 and 'warn' or 'ok', { ('%s: %s'):format(t.endpoint, counts) }
end

--- Where each running server exports its spans, and how that goes.
local function check_telemetry()
  health.start('warden: trace export (OpenTelemetry)')
  local lsp = require('warden.lsp')
  local clients = lsp.clients()
  if #clients == 0 then
    health.info('no warden server is running')
    return
  end
  for _, c in ipairs(clients) do
    local t, err = lsp.request_sync(c, lsp.requests.telemetry, vim.empty_dict(), 3000)
    if not t then
      health.warn(('server %d did not report its span export: %s'):format(c.id, tostring(err)))
    else
      local level, lines = M.telemetry_lines(t)
      health[level](lines[1], level == 'warn' and { ':Warden log shows each failure' } or nil)
      for i = 2, #lines do
        health.info(lines[i])
      end
    end
  end
end

function M.check()
  health.start('warden: Neovim')
  local v = vim.version()
  local have = ('%d.%d.%d'):format(v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.10') == 1 then
    health.ok('Neovim ' .. have .. (vim.fn.has('nvim-0.11') == 1 and ' (vim.lsp.enable("warden") available)' or ''))
  else
    health.error('Neovim ' .. have .. ': warden needs 0.10 or newer')
  end
  local config = require('warden.config')
  local cfg, problems = config.resolve()
  if #problems == 0 then
    health.ok('configuration is valid')
  end
  for _, p in ipairs(problems) do
    health.error('configuration: ' .. p)
  end

  local binary_ok = check_binary(cfg)
  check_clients()
  local db = check_database(cfg)
  check_osv(cfg, db, binary_ok)
  check_docker(cfg)
  check_llm(cfg)
  check_engines()
  check_trust()
  check_gateway(cfg)
  check_telemetry()
end

return M
