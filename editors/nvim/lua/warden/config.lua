---@mod warden.config Configuration: defaults, validation, and the merged view of
--- `vim.g.warden` and `require('warden').setup{}`.
---
--- Every option is checked; a bad value is reported by name (one `vim.notify` listing
--- every problem, and `:checkhealth warden`) and its default used, so one typo never
--- costs the rest. `settings` is the server's `warden` section (see
--- `server/docs/protocol.md`), checked against the same schema the server uses.

local M = {}

---@class warden.Settings The server's `warden` settings section.
---@field systemPrompt? string workspace system prompt when no command or `.warden.toml` sets one
---@field database? {path?: string} database file (`--db`/`WARDEN_DB` win)
---@field trace? {live?: boolean} publish live trace notifications
---@field secrets? {rules?: table[], disable?: string[], allowlistPaths?: string[]}
---@field scan? {onStartup?: boolean, maxFileSize?: integer, maxLineLength?: integer}
---@field packages? warden.PackagesSettings advisory data and package metadata
---@field llm? warden.LlmSettings LLM actions: providers, model, budgets, guardrails
---@field run? warden.RunSettings sandboxed runs: runners, limits, run-all scripts
---@field gateway? warden.GatewaySettings the local LLM gateway for the AI tools in terminals

---@class warden.PackagesSettings
---@field enabled? boolean check manifests and imports against the advisory database
---@field osvPaths? string[] OSV files to import (besides what is downloaded)
---@field osvPollSeconds? integer how often osvPaths are checked for changes (0: never)
---@field update? boolean keep advisory data current in the background (default true)
---@field updateHours? integer data younger than this is not downloaded again (24)
---@field osvMirror? string OSV mirror base URL (`https://user:token@host/...` works); default $WARDEN_OSV_MIRROR, else the OSV export
---@field ecosystems? string[] kept current besides those of the manifests seen (PyPI, npm, crates.io, Go)
---@field maxDownloadMb? integer largest archive downloaded (2048)
---@field downloadTimeoutSeconds? integer longest wait to connect and for the next bytes (30)
---@field metadata? boolean ask the package metadata API: unknown, deprecated, new releases (default true)
---@field metadataUrl? string metadata API base URL (deps.dev v3 shapes); default $WARDEN_METADATA_URL, else deps.dev
---@field metadataTtlHours? integer answers younger than this are not asked again (24)
---@field cooldownDays? integer pinned versions younger than this get package-new-release (3)

---@class warden.RunSettings
---@field runners? {glob: string, image: string, command: string[]}[] first match runs a script
---@field limits? table memoryMb, cpus, pids, timeoutSeconds, tmpMb, nofile, fileSizeMb, stdoutBytes, stderrBytes, artifactsMb, inputMb, network, user
---@field scripts? string[] globs of the scripts run-all and the catalog consider
---@field concurrency? integer scripts of one run-all group at once
---@field warmPool? integer started containers kept ready per image
---@field engine? string the Docker engine runs go to (unix:///PATH.sock, tcp://HOST:PORT); default DOCKER_HOST

---@class warden.GatewaySettings
---@field enabled? boolean start the gateway with the server (default true; read at start-up)
---@field blockMalicious? boolean refuse a reply bringing in a malicious package (default false)
---@field terminals? boolean `:Warden terminal` gives terminals the gateway variables (default true; editor only)

---@class warden.LlmBudget
---@field dailyUsd? number most a workspace may spend per UTC day, gateway calls and actions together
---@field requestTokens? integer most tokens one gateway request may use (estimated prompt + output asked for)

---@class warden.LlmProvider
---@field api "openai"|"anthropic"
---@field baseUrl string
---@field apiKeyEnv? string name of the environment variable holding the key (never the key)
---@field model? string the provider's default model

---@class warden.LlmSettings
---@field provider? string key of `providers` used when no mux rule matches (default "ollama")
---@field model? string model used when no mux rule matches
---@field providers? table<string, warden.LlmProvider> over the built-in ones
---@field mux? {glob: string, action?: string, provider: string, model?: string}[]
---@field maxTokens? integer
---@field temperature? number
---@field timeoutSeconds? integer
---@field maxRetries? integer
---@field contextTokens? integer
---@field includeSnapshot? boolean
---@field exclude? string[] globs never sent
---@field denyList? string[] regular expressions refusing a prompt
---@field cache? boolean answer identical requests from the response cache
---@field prices? table<string, {input: number, output: number, cached?: number}> USD per million tokens
---@field budget? warden.LlmBudget spending limits per workspace

---@class warden.TracesConfig
---@field limit integer spans loaded when the traces buffer opens (1-500)
---@field bar_width integer width of the timing bars, in cells
---@field live boolean update the buffer from live trace notifications

---@class warden.RunsConfig
---@field height integer height of the split showing run output
---@field jump boolean after a failed run, move the cursor to the failing line

---@class warden.ViewsConfig
---@field position "below"|"above"|"right"|"left"|"tab"|"float"|"current" where views open
---@field size integer|nil lines (below/above), columns (right/left) or percent (float); nil: Neovim's default

---@class warden.Config
---@field cmd string[] command starting the server
---@field cmd_env table<string, string> extra environment for the server
---@field autostart boolean attach to file buffers as they are opened
---@field filetypes string[]|nil only these filetypes (nil: every file)
---@field root_markers string[] files or folders marking a root (one server per root)
---@field settings warden.Settings sent as `init_options` and `workspace/configuration`
---@field on_attach fun(client: vim.lsp.Client, bufnr: integer)|nil
---@field capabilities table|nil client capabilities (default: Neovim's)
---@field notify_progress boolean notify when a scan started by `:Warden scan` ends
---@field traces warden.TracesConfig
---@field runs warden.RunsConfig
---@field views warden.ViewsConfig

---@class (partial) warden.UserConfig: warden.Config

---@return warden.Config
local function defaults()
  return {
    cmd = { 'warden', 'lsp' },
    cmd_env = {},
    autostart = true,
    filetypes = nil,
    root_markers = { '.git', '.warden.toml' },
    settings = {},
    on_attach = nil,
    capabilities = nil,
    notify_progress = true,
    traces = { limit = 200, bar_width = 20, live = true },
    runs = { height = 12, jump = true },
    views = { position = 'below', size = nil },
  }
end

-- ---------------------------------------------------------------------------------------
-- Checks: each returns nil when the value is fine, else what was expected.
-- ---------------------------------------------------------------------------------------

---@alias warden.Check fun(v: any): string|nil

---@param t string
---@return warden.Check
local function is(t)
  return function(v)
    if type(v) ~= t then
      return 'a ' .. t
    end
  end
end

---@param t string
---@param min_len? integer
---@return warden.Check
local function list_of(t, min_len)
  return function(v)
    local expected = ('a list of %ss'):format(t)
    if min_len and min_len > 0 then
      expected = ('a list of %ss with at least %d item%s'):format(t, min_len, min_len > 1 and 's' or '')
    end
    if type(v) ~= 'table' or (next(v) ~= nil and not vim.islist(v)) then
      return expected
    end
    if min_len and #v < min_len then
      return expected
    end
    for _, item in ipairs(v) do
      if type(item) ~= t then
        return expected
      end
    end
  end
end

---@param min integer
---@param max? integer
---@return warden.Check
local function int(min, max)
  return function(v)
    local expected = max and ('an integer from %d to %d'):format(min, max) or ('an integer >= %d'):format(min)
    if type(v) ~= 'number' or v % 1 ~= 0 or v < min or (max and v > max) then
      return expected
    end
  end
end

---@type warden.Check
local function prompt(v)
  if type(v) ~= 'string' then
    return 'a string'
  end
  local n = vim.fn.strchars(v)
  if n < 1 or n > 16000 then
    return 'a string of 1 to 16000 characters'
  end
end

---@type warden.Check
local function string_map(v)
  if type(v) ~= 'table' or (next(v) ~= nil and vim.islist(v)) then
    return 'a table of strings by name'
  end
  for k, val in pairs(v) do
    if type(k) ~= 'string' or type(val) ~= 'string' then
      return 'a table of strings by name'
    end
  end
end

---@param v any
---@return boolean
local function is_dict(v)
  return type(v) == 'table' and (next(v) == nil or not vim.islist(v))
end

--- A table of values by name, each checked by `check` (which gets the name too).
---@param what string
---@param check fun(name: string, v: any): string|nil
---@return warden.Check
local function map_of(what, check)
  return function(v)
    if not is_dict(v) then
      return 'a table of ' .. what .. ' by name'
    end
    local names = vim.tbl_keys(v)
    table.sort(names, function(a, b)
      return tostring(a) < tostring(b)
    end)
    for _, name in ipairs(names) do
      if type(name) ~= 'string' then
        return 'a table of ' .. what .. ' by name'
      end
      local problem = check(name, v[name])
      if problem then
        return problem
      end
    end
  end
end

--- Checks an object's fields: `fields` maps each known key to {check, required}.
---@param label string
---@param v any
---@param fields table<string, {[1]: warden.Check, [2]: boolean|nil}>
---@return string|nil
local function object(label, v, fields)
  if not is_dict(v) then
    return ('%s to be a table'):format(label)
  end
  local keys = vim.tbl_keys(fields)
  table.sort(keys)
  for _, key in ipairs(keys) do
    local check, required = fields[key][1], fields[key][2]
    if v[key] == nil then
      if required then
        return ('%s to have %s'):format(label, key)
      end
    else
      local expected = check(v[key])
      if expected then
        return ('%s.%s to be %s'):format(label, key, expected)
      end
    end
  end
  for key in pairs(v) do
    if not fields[key] then
      return ('%s to have only %s (not %s)'):format(label, table.concat(keys, ', '), tostring(key))
    end
  end
end

---@param choices string[]
---@return warden.Check
local function one_of(choices)
  return function(v)
    if not vim.tbl_contains(choices, v) then
      return 'one of "' .. table.concat(choices, '", "') .. '"'
    end
  end
end

---@type warden.Check
local function non_negative(v)
  if type(v) ~= 'number' or v < 0 then
    return 'a number >= 0'
  end
end

-- `gateway`: the rule routes the LLM gateway's calls by requested model name.
local llm_actions = { 'explain', 'fix', 'rewrite', 'docstring', 'tests', 'gateway' }

local provider_check = map_of('providers', function(name, p)
  return object('providers.' .. name, p, {
    api = { one_of({ 'openai', 'anthropic' }), true },
    baseUrl = { is('string'), true },
    apiKeyEnv = { is('string') },
    model = { is('string') },
  })
end)

local price_check = map_of('prices', function(name, p)
  return object('prices.' .. name, p, {
    input = { non_negative, true },
    output = { non_negative, true },
    cached = { non_negative },
  })
end)

---@type warden.Check
local function mux_check(v)
  local expected = list_of('table')(v)
  if expected then
    return 'a list of rules {glob, action?, provider, model?}'
  end
  for i, rule in ipairs(v) do
    local problem = object(('rule %d'):format(i), rule, {
      glob = { is('string'), true },
      action = { one_of(llm_actions) },
      provider = { is('string'), true },
      model = { is('string') },
    })
    if problem then
      return problem
    end
  end
end

---@type warden.Check
local function runners_check(v)
  if list_of('table')(v) then
    return 'a list of runners {glob, image, command}'
  end
  for i, r in ipairs(v) do
    local problem = object(('runner %d'):format(i), r, {
      glob = { is('string'), true },
      image = { is('string'), true },
      command = { list_of('string', 1), true },
    })
    if problem then
      return problem
    end
  end
end

---@type warden.Check
local function ecosystems_check(v)
  local known = { pypi = true, npm = true, ['crates.io'] = true, go = true }
  local expected = 'a list of ecosystems (PyPI, npm, crates.io, Go)'
  if list_of('string')(v) then
    return expected
  end
  for _, e in ipairs(v) do
    if not known[e:lower()] then
      return expected
    end
  end
end

---@type warden.Check
local function user_check(v)
  if type(v) ~= 'string' or not v:match('^%d+:%d+$') then
    return 'a string "uid:gid"'
  end
end

---@type warden.Check
local function temperature(v)
  if v ~= vim.NIL and (type(v) ~= 'number' or v < 0 or v > 2) then
    return 'a number from 0 to 2 (or vim.NIL to leave it to the provider)'
  end
end

--- Settings whose values are tables keyed by names the user chooses (JSON objects even
--- when empty).
local map_settings = { providers = true, prices = true, headers = true }

--- The server's settings schema (server/config/src/lib.rs): leaves are checks, tables
--- are nested sections.
local settings_schema = {
  systemPrompt = prompt,
  database = { path = is('string') },
  trace = {
    live = is('boolean'),
    otlp = {
      endpoint = is('string'),
      headers = map_of('strings', function(_, v)
        if type(v) ~= 'string' then
          return 'a table of header values (strings) by name'
        end
      end),
      includeContent = is('boolean'),
    },
  },
  secrets = {
    rules = list_of('table'),
    disable = list_of('string'),
    allowlistPaths = list_of('string'),
  },
  scan = {
    onStartup = is('boolean'),
    maxFileSize = int(0),
    maxLineLength = int(0),
  },
  packages = {
    enabled = is('boolean'),
    osvPaths = list_of('string'),
    osvPollSeconds = int(0),
    update = is('boolean'),
    updateHours = int(0),
    osvMirror = is('string'),
    ecosystems = ecosystems_check,
    maxDownloadMb = int(0),
    downloadTimeoutSeconds = int(1),
    metadata = is('boolean'),
    metadataUrl = is('string'),
    metadataTtlHours = int(0),
    cooldownDays = int(0),
  },
  llm = {
    provider = is('string'),
    model = is('string'),
    providers = provider_check,
    mux = mux_check,
    maxTokens = int(1),
    temperature = temperature,
    timeoutSeconds = int(1),
    maxRetries = int(0),
    contextTokens = int(1),
    includeSnapshot = is('boolean'),
    exclude = list_of('string'),
    denyList = list_of('string'),
    cache = is('boolean'),
    prices = price_check,
    budget = {
      dailyUsd = non_negative,
      requestTokens = int(0),
    },
  },
  gateway = {
    enabled = is('boolean'),
    blockMalicious = is('boolean'),
    terminals = is('boolean'),
  },
  run = {
    runners = runners_check,
    limits = {
      memoryMb = int(1),
      cpus = non_negative,
      pids = int(1),
      timeoutSeconds = int(1),
      tmpMb = int(1),
      nofile = int(1),
      fileSizeMb = int(1),
      stdoutBytes = int(0),
      stderrBytes = int(0),
      artifactsMb = int(0),
      inputMb = int(1),
      network = is('boolean'),
      user = user_check,
    },
    scripts = list_of('string'),
    concurrency = int(1),
    warmPool = int(0),
    engine = is('string'),
  },
}

--- The settings schema, for the spec keeping it in sync with protocol.md.
M.settings_schema = settings_schema

local option_schema = {
  cmd = list_of('string', 1),
  cmd_env = string_map,
  autostart = is('boolean'),
  filetypes = list_of('string'),
  root_markers = list_of('string', 1),
  settings = settings_schema,
  on_attach = is('function'),
  capabilities = is('table'),
  notify_progress = is('boolean'),
  traces = {
    limit = int(1, 500),
    bar_width = int(4, 200),
    live = is('boolean'),
  },
  runs = {
    height = int(3, 200),
    jump = is('boolean'),
  },
  views = {
    position = one_of({ 'below', 'above', 'right', 'left', 'tab', 'float', 'current' }),
    size = int(1, 1000),
  },
}

---@param v any
---@return string
local function show(v)
  local s = type(v) == 'string' and ('%q'):format(v) or vim.inspect(v, { newline = ' ', indent = '' })
  if #s > 60 then
    s = s:sub(1, 57) .. '...'
  end
  return ('%s %s'):format(type(v), s)
end

---@param schema table
---@return string
local function key_list(schema)
  local keys = vim.tbl_keys(schema)
  table.sort(keys)
  return table.concat(keys, ', ')
end

--- Validates `user` against `schema` into `out` (which holds the defaults); a bad value
--- keeps the default and adds a problem.
---@param out table
---@param user table
---@param schema table
---@param prefix string
---@param problems string[]
local function apply(out, user, schema, prefix, problems)
  local keys = vim.tbl_keys(user)
  table.sort(keys, function(a, b)
    return tostring(a) < tostring(b)
  end)
  for _, key in ipairs(keys) do
    local value = user[key]
    local name = prefix .. tostring(key)
    local check = schema[key]
    if check == nil then
      problems[#problems + 1] = ('%s: unknown option (known here: %s); ignored'):format(name, key_list(schema))
    elseif type(check) == 'table' then
      if type(value) ~= 'table' or (next(value) ~= nil and vim.islist(value)) then
        problems[#problems + 1] = ('%s: expected a table, got %s; using the default'):format(name, show(value))
      else
        out[key] = type(out[key]) == 'table' and out[key] or {}
        apply(out[key], value, check, name .. '.', problems)
      end
    else
      local expected = check(value)
      if expected then
        problems[#problems + 1] = ('%s: expected %s, got %s; using the default'):format(name, expected, show(value))
      else
        out[key] = value
      end
    end
  end
end

--- Merges `b` over `a`: tables of options merge key by key, anything else (lists
--- included) replaces.
---@param a any
---@param b any
---@return any
local function merge(a, b)
  local function is_dict(t)
    return type(t) == 'table' and next(t) ~= nil and not vim.islist(t)
  end
  if is_dict(a) and type(b) == 'table' and next(b) == nil then
    return a -- an empty table adds nothing to a table of options
  end
  if not (is_dict(a) and is_dict(b)) then
    return b
  end
  local out = {}
  for k, v in pairs(a) do
    out[k] = v
  end
  for k, v in pairs(b) do
    out[k] = merge(a[k], v)
  end
  return out
end

---@type table|nil options given to setup{}
local setup_opts = nil
---@type table<string, boolean>
local reported = {}

--- Validates one options table (as `vim.g.warden` or `setup{}` take).
---@param user any
---@param source string where it came from, for messages
---@return warden.Config config, string[] problems
function M.validate(user, source)
  local out, problems = defaults(), {}
  if user == nil then
    return out, problems
  end
  if type(user) ~= 'table' then
    return out, { ('%s: expected a table, got %s; using the defaults'):format(source, show(user)) }
  end
  apply(out, user, option_schema, source .. '.', problems)
  return out, problems
end

--- The configuration in force: `vim.g.warden` with `setup{}` options over it, validated.
---@return warden.Config config, string[] problems
function M.resolve()
  local merged = {}
  local problems = {}
  local g = vim.g.warden
  if g ~= nil and type(g) ~= 'table' then
    problems[#problems + 1] = ('vim.g.warden: expected a table, got %s; ignored'):format(show(g))
    g = nil
  end
  for _, layer in ipairs({ { g, 'vim.g.warden' }, { setup_opts, 'setup' } }) do
    local user, source = layer[1], layer[2]
    if user then
      local _, layer_problems = M.validate(user, source)
      vim.list_extend(problems, layer_problems)
      merged = merge(merged, user)
    end
  end
  local cfg = M.validate(merged, 'warden')
  return cfg, problems
end

--- The configuration in force; reports new problems once through `vim.notify`.
---@return warden.Config
function M.get()
  local cfg, problems = M.resolve()
  local fresh = {}
  for _, p in ipairs(problems) do
    if not reported[p] then
      reported[p] = true
      fresh[#fresh + 1] = '  ' .. p
    end
  end
  if #fresh > 0 then
    vim.notify('warden: bad configuration, defaults used for:\n' .. table.concat(fresh, '\n'), vim.log.levels.WARN)
  end
  return cfg
end

--- Stores `setup{}` options (replacing earlier ones).
---@param opts table|nil
function M.set(opts)
  setup_opts = opts
end

-- Settings keys whose values are JSON objects (an empty Lua table must not become `[]`).
---@param value any
---@param schema table
---@return any
local function to_json(value, schema)
  if type(value) ~= 'table' then
    return value
  end
  local out = {}
  for k, v in pairs(value) do
    if type(schema[k]) == 'table' then
      out[k] = to_json(v, schema[k])
    elseif map_settings[k] and type(v) == 'table' and next(v) == nil then
      out[k] = vim.empty_dict()
    else
      out[k] = v
    end
  end
  if next(out) == nil then
    return vim.empty_dict()
  end
  return out
end

--- The server settings in JSON shape (objects stay objects when empty).
---@return table
function M.json_settings()
  return to_json(vim.deepcopy(M.get().settings), settings_schema)
end

--- The providers the server has built in (server/config/src/lib.rs), which
--- `settings.llm.providers` changes or adds to.
---@return table<string, warden.LlmProvider>
function M.builtin_providers()
  return {
    ollama = { api = 'openai', baseUrl = 'http://localhost:11434/v1' },
    llamacpp = { api = 'openai', baseUrl = 'http://localhost:8080/v1' },
    openrouter = { api = 'openai', baseUrl = 'https://openrouter.ai/api/v1', apiKeyEnv = 'OPENROUTER_API_KEY' },
    openai = { api = 'openai', baseUrl = 'https://api.openai.com/v1', apiKeyEnv = 'OPENAI_API_KEY' },
    anthropic = { api = 'anthropic', baseUrl = 'https://api.anthropic.com/v1', apiKeyEnv = 'ANTHROPIC_API_KEY' },
  }
end

--- The LLM provider and model the editor settings resolve to when no mux rule matches
--- (a repository's `.warden.toml` can still change them).
---@param settings warden.Settings
---@return {provider: string, model: string|nil, config: warden.LlmProvider|nil, providers: table<string, warden.LlmProvider>}
function M.resolve_llm(settings)
  local llm = settings.llm or {}
  local providers = M.builtin_providers()
  for name, p in pairs(llm.providers or {}) do
    providers[name] = vim.tbl_extend('force', providers[name] or {}, p)
  end
  local provider = llm.provider or 'ollama'
  local cfg = providers[provider]
  return {
    provider = provider,
    model = llm.model or (cfg and cfg.model) or nil,
    config = cfg,
    providers = providers,
  }
end

--- Every option name with its default, for the docs and health.
---@return warden.Config
function M.defaults()
  return defaults()
end

return M
