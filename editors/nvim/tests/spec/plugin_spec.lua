-- The plugin without a server: the version gate, configuration checks, the protocol
-- mirror of lsp_ext.rs, :Warden completion, the traces renderer and the help file.

local h = require('helpers')

describe('plugin/warden.lua', function()
  it('refuses Neovim older than 0.10 with a clear message and defines nothing', function()
    local echoed = {}
    local has, echo = vim.fn.has, vim.api.nvim_echo
    vim.fn.has = function(feature)
      if feature == 'nvim-0.10' then
        return 0
      end
      return has(feature)
    end
    vim.api.nvim_echo = function(chunks)
      echoed[#echoed + 1] = chunks[1][1]
    end
    local ok, err = pcall(dofile, h.repo .. '/editors/nvim/plugin/warden.lua')
    vim.fn.has, vim.api.nvim_echo = has, echo
    assert.is_true(ok, err)
    assert.are.equal(1, #echoed)
    assert.matches('requires Neovim 0.10 or newer', echoed[1])
    assert.is_nil(vim.g.loaded_warden)
    assert.are.equal(0, vim.fn.exists(':Warden'))
  end)

  it('defines :Warden on Neovim 0.10+', function()
    vim.cmd.runtime('plugin/warden.lua')
    assert.is_true(vim.g.loaded_warden)
    assert.are.equal(2, vim.fn.exists(':Warden'))
  end)
end)

describe('configuration', function()
  local config = require('warden.config')

  after_each(function()
    vim.g.warden = nil
    config.set(nil)
  end)

  it('has working defaults', function()
    local cfg, problems = config.resolve()
    assert.are.same({}, problems)
    assert.are.same({ 'warden', 'lsp' }, cfg.cmd)
    assert.are.same({ '.git', '.warden.toml' }, cfg.root_markers)
    assert.is_true(cfg.autostart)
    assert.are.equal(200, cfg.traces.limit)
  end)

  it('reads vim.g.warden, with setup{} over it and lists replaced whole', function()
    vim.g.warden = {
      cmd = { '/opt/warden', 'lsp', '--extra' },
      settings = { trace = { live = false }, packages = { osvPaths = { '/a', '/b' } } },
    }
    config.set({ root_markers = { '.hg' }, settings = { packages = { osvPaths = { '/c' } } } })
    local cfg, problems = config.resolve()
    assert.are.same({}, problems)
    assert.are.same({ '/opt/warden', 'lsp', '--extra' }, cfg.cmd)
    assert.are.same({ '.hg' }, cfg.root_markers)
    assert.are.same({ '/c' }, cfg.settings.packages.osvPaths)
    assert.is_false(cfg.settings.trace.live)
  end)

  it('reports every bad value by name and keeps its default', function()
    config.set({
      autostart = 'yes',
      cmd = {},
      traces = { limit = 0 },
      settings = { trace = { live = 'no' }, scan = { maxFileSize = -1 }, bogus = 1, systemPrompt = '' },
      colour = 'red',
    })
    local messages, restore = h.capture_notify()
    local cfg = config.get()
    config.get() -- reported once, not on every use
    restore()
    assert.is_true(cfg.autostart)
    assert.are.same({ 'warden', 'lsp' }, cfg.cmd)
    assert.are.equal(200, cfg.traces.limit)
    assert.is_nil(cfg.settings.trace.live)
    assert.are.equal(1, #messages)
    local msg = messages[1].msg
    assert.are.equal(vim.log.levels.WARN, messages[1].level)
    for _, expected in ipairs({
      'setup.autostart: expected a boolean, got string "yes"; using the default',
      'setup.cmd: expected a list of strings with at least 1 item',
      'setup.traces.limit: expected an integer from 1 to 500, got number 0',
      'setup.settings.trace.live: expected a boolean, got string "no"',
      'setup.settings.scan.maxFileSize: expected an integer >= 0, got number -1',
      'setup.settings.bogus: unknown option',
      'setup.settings.systemPrompt: expected a string of 1 to 16000 characters',
      'setup.colour: unknown option (known here: autostart, capabilities, cmd',
    }) do
      assert.is_truthy(msg:find(expected, 1, true), ('missing %q in:\n%s'):format(expected, msg))
    end
  end)

  it('checks the package data settings', function()
    config.set({
      settings = {
        packages = {
          update = false,
          updateHours = 12,
          osvMirror = 'https://user:token@mirror.example/osv',
          ecosystems = { 'PyPI', 'crates.io', 'go' },
          maxDownloadMb = 512,
          downloadTimeoutSeconds = 10,
          metadata = false,
          metadataUrl = 'https://deps.example',
          metadataTtlHours = 6,
          cooldownDays = 7,
        },
      },
    })
    local cfg, problems = config.resolve()
    assert.are.same({}, problems)
    assert.are.same({ 'PyPI', 'crates.io', 'go' }, cfg.settings.packages.ecosystems)
    config.set({
      settings = { packages = { ecosystems = { 'cobol' }, update = 'daily', downloadTimeoutSeconds = 0 } },
    })
    local _
    _, problems = config.resolve()
    local all = table.concat(problems, '\n')
    for _, expected in ipairs({
      'setup.settings.packages.ecosystems: expected a list of ecosystems (PyPI, npm, crates.io, Go), got table',
      'setup.settings.packages.update: expected a boolean, got string "daily"',
      'setup.settings.packages.downloadTimeoutSeconds: expected an integer >= 1, got number 0',
    }) do
      assert.is_truthy(all:find(expected, 1, true), ('missing %q in:\n%s'):format(expected, all))
    end
  end)

  it('checks the llm settings, providers, mux rules and prices', function()
    config.set({
      settings = {
        llm = {
          provider = 'local',
          model = 'm',
          providers = {
            ['local'] = { api = 'openai', baseUrl = 'http://127.0.0.1:1/v1', apiKeyEnv = 'K' },
          },
          mux = { { glob = '**/*.py', action = 'tests', provider = 'local' } },
          temperature = vim.NIL,
          prices = { m = { input = 1, output = 2 } },
          exclude = { '*.pem' },
        },
      },
    })
    local cfg, problems = config.resolve()
    assert.are.same({}, problems)
    assert.are.equal('http://127.0.0.1:1/v1', cfg.settings.llm.providers['local'].baseUrl)
    local llm = config.resolve_llm(cfg.settings)
    assert.are.same({ 'local', 'm', 'K' }, { llm.provider, llm.model, llm.config.apiKeyEnv })
    assert.are.equal('http://localhost:11434/v1', llm.providers.ollama.baseUrl, 'built-ins stay')
    local json = vim.json.encode(config.json_settings())
    assert.is_truthy(json:find('"temperature":null', 1, true), json)

    config.set({
      settings = {
        llm = {
          providers = { bad = { api = 'grpc', baseUrl = 'x' } },
          mux = { { glob = '*', action = 'dance', provider = 'x' } },
          maxTokens = 0,
          temperature = 5,
          prices = { m = { input = -1, output = 1 } },
        },
      },
    })
    local _
    _, problems = config.resolve()
    local all = table.concat(problems, '\n')
    for _, expected in ipairs({
      'setup.settings.llm.providers: expected providers.bad.api to be one of "openai", "anthropic"',
      'setup.settings.llm.mux: expected rule 1.action to be one of "explain", "fix", "rewrite", "docstring", "tests"',
      'setup.settings.llm.maxTokens: expected an integer >= 1, got number 0',
      'setup.settings.llm.temperature: expected a number from 0 to 2',
      'setup.settings.llm.prices: expected prices.m.input to be a number >= 0',
    }) do
      assert.is_truthy(all:find(expected, 1, true), ('missing %q in:\n%s'):format(expected, all))
    end
    -- An empty providers table is still a JSON object.
    config.set({ settings = { llm = { providers = {} } } })
    assert.is_truthy(vim.json.encode(config.json_settings()):find('"providers":{}', 1, true))
  end)

  it('checks the gateway and budget settings', function()
    config.set({
      settings = {
        gateway = { enabled = false, blockMalicious = true, terminals = false },
        llm = {
          budget = { dailyUsd = 2.5, requestTokens = 8000 },
          mux = { { glob = 'claude-*', action = 'gateway', provider = 'anthropic' } },
        },
      },
    })
    local cfg, problems = config.resolve()
    assert.are.same({}, problems)
    assert.are.same({ enabled = false, blockMalicious = true, terminals = false }, cfg.settings.gateway)
    assert.are.same({ dailyUsd = 2.5, requestTokens = 8000 }, cfg.settings.llm.budget)
    local json = vim.json.encode(config.json_settings())
    assert.is_truthy(json:find('"budget":{', 1, true), json)
    config.set({
      settings = {
        gateway = { terminals = 'ask', port = 1 },
        llm = { budget = { dailyUsd = -1, requestTokens = 1.5, monthlyUsd = 3 } },
      },
    })
    local _
    _, problems = config.resolve()
    local all = table.concat(problems, '\n')
    for _, expected in ipairs({
      'setup.settings.gateway.terminals: expected a boolean, got string "ask"',
      'setup.settings.gateway.port: unknown option',
      'setup.settings.llm.budget.dailyUsd: expected a number >= 0, got number -1',
      'setup.settings.llm.budget.requestTokens: expected an integer >= 0, got number 1.5',
      'setup.settings.llm.budget.monthlyUsd: unknown option',
    }) do
      assert.is_truthy(all:find(expected, 1, true), ('missing %q in:\n%s'):format(expected, all))
    end
    -- The usage buffer's budget line.
    local usage = require('warden.usage')
    assert.are.equal(
      "budgets: $2.50 a day per workspace, 8000 tokens per gateway request (editor settings; :checkhealth warden shows the day's spend)",
      usage.budget_line({ llm = { budget = { dailyUsd = 2.5, requestTokens = 8000 } } })
    )
    assert.matches('^budgets: none set', usage.budget_line({}))
  end)

  it('sends empty settings objects as JSON objects, not arrays', function()
    assert.are.equal('{}', vim.json.encode(config.json_settings()))
    config.set({ settings = { database = {}, secrets = { disable = {} } } })
    local json = vim.json.encode(config.json_settings())
    assert.is_truthy(json:find('"database":{}', 1, true), json)
    assert.is_truthy(json:find('"secrets":{"disable":[]}', 1, true), json)
  end)
end)

describe('lua/warden/config.lua', function()
  it("checks every server setting of protocol.md's settings table, and no other", function()
    local schema = require('warden.config').settings_schema
    local doc = assert(h.read(h.repo .. '/server/docs/protocol.md'))
    -- The table under "## Settings", up to the first line that is not a table row.
    local table_text = assert(doc:match('\n## Settings[^\n]*\n\n(|.-)\n[^|]'), 'no settings table')
    local documented = {}
    for row in ('\n' .. table_text):gmatch('\n(| `[%w.]+`[^\n]*)') do
      -- The first cell names the key (or two: `a` / `b`).
      local cell = row:match('^| ([^|]+) |')
      for key in cell:gmatch('`([%w.]+)`') do
        documented[#documented + 1] = key
      end
    end
    assert.is_true(#documented >= 40, 'found only ' .. #documented .. ' settings in protocol.md')
    local missing = vim.tbl_filter(function(key)
      local node = schema
      for part in key:gmatch('[^.]+') do
        node = type(node) == 'table' and node[part] or nil
      end
      return node == nil
    end, documented)
    assert.are.same({}, missing)
    -- Every leaf of the schema is documented.
    local known, extra = {}, {}
    for _, k in ipairs(documented) do
      known[k] = true
    end
    local function walk(node, prefix)
      for k, v in pairs(node) do
        local key = prefix .. k
        if type(v) == 'table' then
          walk(v, key .. '.')
        elseif not known[key] then
          extra[#extra + 1] = key
        end
      end
    end
    walk(schema, '')
    assert.are.same({}, extra)
  end)
end)

describe('lua/warden/lsp.lua', function()
  it('mirrors every name in server/lsp/src/lsp_ext.rs', function()
    local lsp = require('warden.lsp')
    local src = assert(h.read(h.repo .. '/server/lsp/src/lsp_ext.rs'))
    local mirrored = {}
    for _, tbl in ipairs({ lsp.commands, lsp.client_commands, lsp.requests, lsp.notifications }) do
      for _, name in pairs(tbl) do
        mirrored[name] = true
      end
    end
    local names = {}
    for name in src:gmatch('pub const [%u_]+: &str = "([^"]+)"') do
      names[#names + 1] = name
    end
    for name in src:gmatch('const METHOD: &\'static str = "([^"]+)"') do
      names[#names + 1] = name
    end
    assert.is_true(#names >= 30, 'found only ' .. #names .. ' names in lsp_ext.rs')
    local missing = vim.tbl_filter(function(n)
      return not mirrored[n]
    end, names)
    assert.are.same({}, missing)
    -- And nothing here that the server does not have.
    local known = {}
    for _, n in ipairs(names) do
      known[n] = true
    end
    local extra = vim.tbl_filter(function(n)
      return not known[n]
    end, vim.tbl_keys(mirrored))
    assert.are.same({}, extra)
  end)
end)

describe('client-side commands', function()
  it('every CLIENT_CMD_ of lsp_ext.rs has a handler in the client config, and is no server command', function()
    local lsp = require('warden.lsp')
    local src = assert(h.read(h.repo .. '/server/lsp/src/lsp_ext.rs'))
    local handlers = lsp.base_config().commands
    local server = {}
    for _, name in pairs(lsp.commands) do
      server[name] = true
    end
    local n = 0
    for name in src:gmatch('pub const CLIENT_CMD_[%u_]+: &str = "([^"]+)"') do
      n = n + 1
      assert.is_function(handlers[name], 'no handler for ' .. name)
      assert.is_nil(server[name], name .. ' is in M.commands, which the server runs')
      assert.is_true(vim.tbl_contains(vim.tbl_values(lsp.client_commands), name), name)
    end
    assert.is_true(n >= 1, 'no CLIENT_CMD_ in lsp_ext.rs')
  end)
end)

describe(':Warden completion', function()
  it('offers exactly the subcommands the server backs', function()
    assert.are.same({
      'accept',
      'advisories',
      'cancel',
      'discard',
      'docstring',
      'explain',
      'findings',
      'fix',
      'fixUntilGreen',
      'lfindings',
      'log',
      'pick',
      'prompt',
      'restart',
      'retry',
      'rewrite',
      'run',
      'runAll',
      'runs',
      'scan',
      'scripts',
      'search',
      'terminal',
      'tests',
      'traces',
      'trust',
      'untrust',
      'usage',
      'workspace',
      'worktrees',
    }, vim.fn.getcompletion('Warden ', 'cmdline'))
    assert.are.same({ 'traces', 'trust' }, vim.fn.getcompletion('Warden tr', 'cmdline'))
    assert.are.same({ 'run', 'runAll', 'runs' }, vim.fn.getcompletion('Warden ru', 'cmdline'))
    assert.are.same({ 'day' }, vim.fn.getcompletion('Warden usage d', 'cmdline'))
    assert.are.same({ 'findings', 'runs', 'traces', 'workspaces' }, vim.fn.getcompletion('Warden pick ', 'cmdline'))
    assert.are.same({ 'scan' }, vim.fn.getcompletion('Warden traces sc', 'cmdline'))
    assert.are.same({ 'scan', 'scripts', 'search' }, vim.fn.getcompletion('Warden s', 'cmdline'))
    assert.are.same({ 'glob=' }, vim.fn.getcompletion('Warden search gl', 'cmdline'))
    assert.are.same({ 'syntax' }, vim.fn.getcompletion('Warden lfindings sy', 'cmdline'))
    assert.are.same(
      { 'update', 'PyPI', 'npm', 'crates.io', 'Go' },
      vim.fn.getcompletion('Warden advisories ', 'cmdline')
    )
    assert.are.same({ 'PyPI' }, vim.fn.getcompletion('Warden advisories update P', 'cmdline'))
    assert.are.same({ 'npm', 'crates.io', 'Go' }, vim.fn.getcompletion('Warden advisories update PyPI ', 'cmdline'))
  end)

  it('completes workspace actions and finding kinds', function()
    assert.are.same(
      { 'activate', 'archive', 'delete', 'list', 'rename', 'restore' },
      vim.fn.getcompletion('Warden workspace ', 'cmdline')
    )
    assert.are.same({ 'secret', 'shell', 'syntax' }, vim.fn.getcompletion('Warden findings s', 'cmdline'))
  end)

  it('reports an unknown subcommand with the usage', function()
    local messages, restore = h.capture_notify()
    vim.cmd('Warden frobnicate')
    restore()
    assert.are.equal(1, #messages)
    assert.are.equal(vim.log.levels.ERROR, messages[1].level)
    assert.matches('unknown subcommand "frobnicate"', messages[1].msg)
    assert.matches('workspace list|activate|rename|archive|restore|delete', messages[1].msg, 1, true)
  end)
end)

describe('traces renderer', function()
  local traces = require('warden.traces')
  local t0 = '2026-11-21T10:00:00.000Z'

  it('parses RFC 3339 times', function()
    assert.are.equal(1795255200000, traces.parse_time(t0))
    assert.are.equal(1795255200123, traces.parse_time('2026-11-21T10:00:00.123Z'))
    assert.are.equal(951782400000, traces.parse_time('2000-02-29T00:00:00Z'))
    assert.is_nil(traces.parse_time('yesterday'))
  end)

  it('draws a tree with waterfall bars, latency, outcome, tokens and cache hits', function()
    local spans = {
      root = {
        id = 'a1',
        name = 'warden.llm.explain',
        kind = 'command',
        workspace = 'alpha',
        startedAt = t0,
        finishedAt = '2026-11-21T10:00:01.000Z',
        latencyMs = 1000,
        outcome = 'ok',
        tokens = { input = 0, output = 0, cached = 0, reasoning = 0 },
        costUsd = 0,
        input = {},
      },
      child = {
        id = 'a2',
        parentId = 'a1',
        name = 'llm.request',
        kind = 'llm',
        startedAt = '2026-11-21T10:00:00.500Z',
        finishedAt = '2026-11-21T10:00:01.000Z',
        latencyMs = 500,
        outcome = 'error',
        error = 'provider said no',
        tokens = { input = 1200, output = 300, cached = 900, reasoning = 0 },
        costUsd = 0.0123,
        input = { chars = 10 },
      },
    }
    local by_id = { a1 = spans.root, a2 = spans.child }
    local lines, _, ids = traces.render(by_id, { bar_width = 10, now = traces.parse_time(t0) + 5000 })
    assert.are.equal(2, #lines)
    assert.matches(
      '^%d%d:%d%d:%d%d ▸ warden%.llm%.explain +██████████  +1000 ms  ok +command  %[alpha%]$',
      lines[1]
    )
    assert.is_truthy(lines[2]:find('└ ▸ llm.request', 1, true), lines[2])
    assert.is_truthy(lines[2]:find('░░░░░█████     500 ms  error', 1, true), lines[2])
    assert.is_truthy(lines[2]:find('tok 1200→300 cached 900 (75% hit)', 1, true), lines[2])
    assert.is_truthy(lines[2]:find('$0.0123', 1, true), lines[2])
    assert.is_truthy(lines[2]:find('— provider said no', 1, true), lines[2])
    assert.are.same({ 'a1', 'a2' }, { ids[1], ids[2] })

    local expanded = traces.render(by_id, { bar_width = 10, expanded = { a2 = true } })
    local text = table.concat(expanded, '\n')
    assert.is_truthy(text:find('input    {\n +"chars": 10\n +}'), text)
    assert.is_truthy(text:find('error    provider said no', 1, true), text)
  end)

  it('notes response-cache hits and guard verdicts', function()
    local base = {
      startedAt = t0,
      finishedAt = '2026-11-21T10:00:00.010Z',
      latencyMs = 10,
      outcome = 'ok',
      tokens = { input = 0, output = 0, cached = 0, reasoning = 0 },
      costUsd = 0,
    }
    local spans = {
      c = vim.tbl_extend('force', base, { id = 'c', name = 'warden.llm.explain', kind = 'command' }),
      l = vim.tbl_extend('force', base, {
        id = 'l',
        parentId = 'c',
        name = 'local/gpt-4o-mini',
        kind = 'llm',
        output = { cached = true, chars = 10 },
      }),
      g = vim.tbl_extend('force', base, {
        id = 'g',
        parentId = 'c',
        name = 'guard.redact',
        kind = 'guard',
        output = { secretsRedacted = 2 },
      }),
    }
    local lines = traces.render(spans, { bar_width = 4, now = traces.parse_time(t0) })
    local text = table.concat(lines, '\n')
    local function has_line(pattern)
      for _, l in ipairs(lines) do
        if l:find(pattern) then
          return true
        end
      end
      error(('no line matching %q in:\n%s'):format(pattern, text))
    end
    has_line('local/gpt%-4o%-mini .* ok +llm +response cache hit$')
    has_line('guard%.redact .* ok +guard +secretsRedacted 2$')
    assert.are.equal('allowed', traces.output_note({ kind = 'guard', output = { allowed = true } }))
    assert.is_nil(traces.output_note({ kind = 'llm', output = { cached = false } }))
  end)

  it('shows a running span growing until now', function()
    local running = {
      r = {
        id = 'r',
        name = 'debug.hold',
        kind = 'command',
        startedAt = t0,
        tokens = { input = 0, output = 0, cached = 0, reasoning = 0 },
        costUsd = 0,
      },
    }
    local lines, _, _, is_running = traces.render(running, { bar_width = 10, now = traces.parse_time(t0) + 1500 })
    assert.is_true(is_running)
    assert.is_truthy(lines[1]:find('1500 ms…  running', 1, true), lines[1])
  end)
end)

describe('usage table', function()
  it('lines up rows and totals, with hit rates and costs', function()
    local usage = require('warden.usage')
    local row = function(key, requests, hits, cost)
      return {
        key = key,
        requests = requests,
        cacheHits = hits,
        cacheHitRate = hits / requests,
        tokensInput = 1200,
        tokensOutput = 300,
        tokensCached = 0,
        tokensReasoning = 0,
        costUsd = cost,
        errors = 0,
      }
    end
    local lines = usage.format({
      rows = { row('local/gpt-4o-mini', 3, 1, 0.00036), row('anthropic/claude-sonnet-4', 1, 0, 0.0081) },
      total = row('total', 4, 1, 0.00846),
    }, 'model')
    assert.are.equal('warden LLM usage by model — every workspace, all time', lines[1])
    assert.matches('^provider/model +requests  cache hits  hit rate  input tok  output tok  cached tok', lines[4])
    assert.matches('^local/gpt%-4o%-mini +3 +1 +33%% +1200 +300 +0 +0 +%$0%.000360 +0$', lines[6])
    assert.matches('^total +4 +1 +25%% .* %$0%.008460 +0$', lines[#lines])
    -- Columns line up: every row as wide as the header.
    assert.are.equal(vim.api.nvim_strwidth(lines[4]), vim.api.nvim_strwidth(lines[6]))
    assert.are.equal(vim.api.nvim_strwidth(lines[4]), vim.api.nvim_strwidth(lines[#lines]))
    local empty = usage.format({ rows = {}, total = row('total', 1, 0, 0) }, 'day')
    assert.is_truthy(vim.tbl_contains(empty, 'no LLM requests yet'))
  end)
end)

describe('doc/warden.txt', function()
  it('builds help tags, and every |link| in it resolves', function()
    local doc = h.tmp .. '/doc'
    vim.fn.mkdir(doc, 'p')
    h.system({ 'cp', h.repo .. '/editors/nvim/doc/warden.txt', doc .. '/warden.txt' })
    vim.cmd('helptags ' .. vim.fn.fnameescape(doc))
    local tags = {}
    for line in assert(h.read(doc .. '/tags')):gmatch('[^\n]+') do
      tags[line:match('^[^\t]+')] = true
    end
    for _, tag in ipairs({
      'warden',
      ':Warden',
      'warden-commands',
      'warden-config',
      'warden-traces',
      'warden-health',
      'warden-llm',
      'warden-usage',
      ':Warden-explain',
      ':Warden-rewrite',
      ':Warden-usage',
      ':Warden-pick',
      ':Warden-lfindings',
      ':Warden-advisories',
      'warden-advisories',
      ':Warden-log',
      'warden-mappings',
      'warden-views',
      'warden-lualine',
      'WardenLlmDone',
      'warden-gateway',
      ':Warden-terminal',
      'WardenGatewayCall',
      'warden-worktrees',
      ':Warden-worktrees',
      'warden-search',
      ':Warden-search',
      'warden-fix',
      ':Warden-fixUntilGreen',
      ':Warden-accept',
      ':Warden-discard',
      'WardenFixDiff',
    }) do
      assert.is_true(tags[tag] == true, 'missing tag ' .. tag)
    end
    -- Every <Plug> mapping the plugin defines is documented with a tag of its own.
    local plugs = {}
    for _, mode in ipairs({ 'n', 'x' }) do
      for _, m in ipairs(vim.api.nvim_get_keymap(mode)) do
        if m.lhs:find('^<Plug>%(warden%-') then
          plugs[m.lhs] = true
        end
      end
    end
    assert.is_true(vim.tbl_count(plugs) >= 20, vim.inspect(plugs))
    for lhs in pairs(plugs) do
      assert.is_true(tags[lhs] == true, 'no help tag for ' .. lhs)
    end
    local text = assert(h.read(doc .. '/warden.txt'))
    for link in text:gmatch('|([^|%s]+)|') do
      local ok = tags[link] or pcall(vim.cmd.help, link)
      assert.is_truthy(ok, 'unresolved link |' .. link .. '|')
    end
    pcall(vim.cmd.helpclose)
  end)
end)
