-- :checkhealth warden against the real binary, database and OSV data; and what it says
-- when things are wrong.

local h = require('helpers')

---@return string
local function checkhealth()
  vim.cmd('checkhealth warden')
  local buf = vim.api.nvim_get_current_buf()
  local text = h.text(buf)
  vim.cmd('bwipeout!')
  return text
end

describe(':checkhealth warden', function()
  local ws

  setup(function()
    ws = h.fixtures()
    h.start()
    local _, client = h.open(ws .. '/alpha/scripts/1.00_fetch.py')
    -- Wait until the OSV data from settings is in the database.
    h.wait(20000, function()
      local res = h.request(client, 'warden/traces', { kind = 'index' })
      for _, s in ipairs(res.traces) do
        if s.name == 'osv.import' and s.outcome == 'ok' then
          return true
        end
      end
    end, 'the OSV import')
  end)

  teardown(h.stop_all)

  it('reports the binary, servers, database, OSV data, Docker and LLM settings', function()
    local text = checkhealth()
    local version = h.system({ h.bin, '--version' }):match('(%d+%.%d+%.%d+)')
    local function has(s)
      assert.is_truthy(text:find(s, 1, true), ('missing %q in:\n%s'):format(s, text))
    end
    has('OK Neovim ' .. vim.version().major .. '.' .. vim.version().minor)
    has('OK configuration is valid')
    has(('OK warden %s (%s); command: %s lsp'):format(version, h.bin, h.bin))
    has(('OK server 1 for %s/alpha: warden %s, protocol 1, 1 buffer(s)'):format(ws, version))
    has(('OK %s (from $WARDEN_DB)'):format(os.getenv('WARDEN_DB')))
    has(('OK osvPaths: %s exists'):format(h.osv))
    -- Per ecosystem, with since when it is current and where it came from (imported:
    -- these servers are offline).
    assert.is_truthy(
      text:find('OK PyPI: 5 advisories %(2 malicious%) on 4 packages, current as of [%w ]+ %(imported files%)'),
      text
    )
    has('OK npm: 7 advisories (3 malicious) on 9 packages, current as of ')
    has('OK Go: 2 advisories (0 malicious) on ')
    has('WARDEN_OFFLINE is set ($WARDEN_OFFLINE): nothing is downloaded')
    assert.is_nil(text:find('no advisory data', 1, true), text)
    has('warden: Docker engine (sandboxed runs)')
    if h.docker() then
      assert.is_truthy(text:find('OK Docker engine %d'), text)
      has('OK runner image warden-runner-python:bookworm')
      has('OK runner image warden-runner-node:bookworm')
    else
      has('WARNING the Docker engine at')
    end
    has('warden: LLM settings')
    has('settings.systemPrompt is not set')
    assert.is_nil(text:find('ERROR', 1, true), text)
  end)

  it('names the engine each workspace runs on, as the server reports it', function()
    local text = checkhealth()
    assert.is_truthy(text:find('warden: engine per workspace (run.engine)', 1, true), text)
    -- The fixture servers have no run.engine: DOCKER_HOST, else the default socket.
    local host = vim.env.DOCKER_HOST
    local want = host and host ~= '' and (host .. " (the server's DOCKER_HOST")
      or 'unix:///var/run/docker.sock (the default socket'
    assert.is_truthy(text:find('/alpha): runs go to ' .. want, 1, true), text)
    -- The line itself, from what warden/configTrust returns.
    local health = require('warden.health')
    local line, connected = health.engine_line({
      root = '/r',
      workspace = 'r',
      engine = {
        url = 'tcp://127.0.0.1:2376',
        source = 'setting',
        tls = true,
        connected = 'Docker Engine 20.10.24 (API 1.41)',
      },
    })
    assert.are.equal(
      'r (/r): runs go to tcp://127.0.0.1:2376 (run.engine, TLS; Docker Engine 20.10.24 (API 1.41) answered)',
      line
    )
    assert.is_true(connected)
    line, connected = health.engine_line({
      root = '/p',
      workspace = vim.NIL,
      engine = { url = 'unix:///run/podman/podman.sock', source = 'default', tls = false, connected = vim.NIL },
    })
    assert.are.equal('/p: runs go to unix:///run/podman/podman.sock (the default socket; not contacted yet)', line)
    assert.is_false(connected)
    assert.is_nil(health.engine_line({ root = '/old' }))
  end)

  it('says where each server exports its spans and how that goes', function()
    local text = checkhealth()
    -- The fixture servers export nothing.
    assert.is_truthy(text:find('warden: trace export (OpenTelemetry)', 1, true), text)
    assert.is_truthy(text:find('span export is off: spans stay in the database', 1, true), text)
    -- The lines, from what warden/telemetry returns.
    local health = require('warden.health')
    local level, lines = health.telemetry_lines({
      endpoint = 'http://127.0.0.1:6006/v1/traces',
      exported = 42,
      dropped = 0,
      failures = 0,
      queued = 0,
      lastError = vim.NIL,
    })
    assert.are.equal('ok', level)
    assert.are.same(
      { 'http://127.0.0.1:6006/v1/traces: 42 spans exported, 0 queued, 0 dropped (queue full, oldest first)' },
      lines
    )
    level, lines = health.telemetry_lines({
      endpoint = 'http://c:4318/v1/traces',
      exported = 3,
      dropped = 17,
      failures = 1,
      queued = 2048,
      lastError = 'connection refused',
    })
    assert.are.equal('warn', level)
    assert.are.same({
      'http://c:4318/v1/traces is failing (1 failed attempt, retried with backoff): connection refused',
      '3 spans exported, 2048 queued, 17 dropped (queue full, oldest first)',
    }, lines)
    level = health.telemetry_lines({
      endpoint = 'http://c/v1/traces',
      exported = 5,
      dropped = 2,
      failures = 0,
      queued = 0,
      lastError = vim.NIL,
    })
    assert.are.equal('warn', level, 'drops are a warning even once it works')
  end)

  it('reports bad configuration, a missing binary and an unwritable database', function()
    local not_a_folder = h.tmp .. '/plain-file'
    assert(io.open(not_a_folder, 'w')):close()
    vim.g.warden = {
      cmd = { h.tmp .. '/missing/warden', 'lsp' },
      cmd_env = { WARDEN_DB = not_a_folder .. '/warden.db' },
      settings = { trace = { live = 'sometimes' }, packages = { osvPaths = { h.tmp .. '/no-osv' } } },
    }
    local text = checkhealth()
    local function has(s)
      assert.is_truthy(text:find(s, 1, true), ('missing %q in:\n%s'):format(s, text))
    end
    has('ERROR configuration: vim.g.warden.settings.trace.live: expected a boolean, got string "sometimes"')
    has(('ERROR "%s/missing/warden" is not an executable on PATH'):format(h.tmp))
    has(
      ('ERROR %s/warden.db (from cmd_env.WARDEN_DB) cannot be created: %s is not a writable folder'):format(
        not_a_folder,
        not_a_folder
      )
    )
    has(('WARNING osvPaths: %s/no-osv does not exist'):format(h.tmp))
  end)

  it('warns when an ecosystem in use has no advisory data, and says how to get it', function()
    local empty = h.tmp .. '/empty.db'
    h.system({ h.bin, '--db', empty, 'db', 'stats' })
    -- alpha (the running server's root) has a requirements.txt.
    vim.g.warden = { cmd = { h.bin, 'lsp' }, cmd_env = { WARDEN_DB = empty } }
    local text = checkhealth()
    assert.is_truthy(
      text:find('WARNING PyPI: no advisory data, but PyPI manifests are open or in a workspace', 1, true),
      text
    )
    -- Offline (WARDEN_OFFLINE=1 here): importing files is the fix.
    assert.is_truthy(text:find('warden db import PATH', 1, true), text)
    -- Online, downloading is.
    vim.g.warden = { cmd = { h.bin, 'lsp' }, cmd_env = { WARDEN_DB = empty, WARDEN_OFFLINE = '0' } }
    text = checkhealth()
    assert.is_truthy(text:find(':Warden advisories update PyPI (or in a shell: warden db update PyPI)', 1, true), text)
    assert.is_truthy(
      text:find(
        "kept current in the background from https://osv-vulnerabilities.storage.googleapis.com (the OSV project's export)",
        1,
        true
      ),
      text
    )
  end)

  it('reports the LLM provider and model, the API key variable (never its value) and the base URL', function()
    local mock = h.mock_llm()
    local secret = 'sk-health-do-not-print-7'
    vim.env.WARDEN_HEALTH_LLM_KEY = secret
    local ok, err = pcall(function()
      vim.g.warden = {
        cmd = { h.bin, 'lsp' },
        settings = {
          llm = h.llm_settings(mock, {
            providers = { ['local'] = { apiKeyEnv = 'WARDEN_HEALTH_LLM_KEY' } },
            mux = { { glob = '**/*.sh', provider = 'nowhere' }, { glob = '**/*.py', provider = 'ollama', model = 'm' } },
          }),
        },
      }
      local port = mock.port
      local text = checkhealth()
      local function has(s)
        assert.is_truthy(text:find(s, 1, true), ('missing %q in:\n%s'):format(s, text))
      end
      has('OK provider local, model gpt-4o-mini (from the editor settings')
      has(
        ('OK provider local (openai API, %s; the default): API key variable WARDEN_HEALTH_LLM_KEY is set (in the environment)'):format(
          mock.url
        )
      )
      has(('OK provider local: 127.0.0.1:%d accepts connections'):format(port))
      has('ERROR mux rule 1 (**/*.sh) names provider "nowhere", which is not defined')
      has('provider ollama (openai API, http://localhost:11434/v1; used by mux rule 2 (**/*.py)): no apiKeyEnv')
      assert.is_nil(text:find(secret, 1, true), 'the key value was printed')

      -- The key unset, the provider gone.
      vim.env.WARDEN_HEALTH_LLM_KEY = nil
      mock.stop()
      vim.g.warden = {
        cmd = { h.bin, 'lsp' },
        settings = {
          llm = h.llm_settings(mock, { providers = { ['local'] = { apiKeyEnv = 'WARDEN_HEALTH_LLM_KEY' } } }),
        },
      }
      text = checkhealth()
      has(
        'WARNING provider local (openai API, '
          .. mock.url
          .. '; the default): API key variable WARDEN_HEALTH_LLM_KEY is not set'
      )
      has(('WARNING provider local: cannot connect to 127.0.0.1:%d: ECONNREFUSED'):format(port))

      -- No model: LLM actions are off.
      vim.g.warden = { cmd = { h.bin, 'lsp' } }
      text = checkhealth()
      has('WARNING provider ollama (from the default), but no model: LLM actions are off')
    end)
    vim.env.WARDEN_HEALTH_LLM_KEY = nil
    mock.stop()
    assert(ok, err)
  end)
end)
