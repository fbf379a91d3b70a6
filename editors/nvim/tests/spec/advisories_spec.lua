-- Package data (issue 19, "Packages II") with the real server online, but only against
-- the loopback registry (warden-mock-registry: fixtures/osv as an OSV mirror,
-- fixtures/metadata as the package metadata API; its URLs in the settings and in
-- WARDEN_OSV_MIRROR / WARDEN_METADATA_URL through cmd_env, which also sets
-- WARDEN_OFFLINE=0 for these servers only), each scenario with a fresh database of its
-- own: a requirements.txt's advisories appear with no manual step; :checkhealth and
-- :Warden advisories say per ecosystem since when the data is current and where it came
-- from; with updates off, `advisories-missing` on line 1 and its code action
-- downloading the data; :Warden advisories update; unknown and deprecated packages. And
-- the judging of the data (stale after 7 days, missing for an ecosystem in use), pure.

local h = require('helpers')

---@return string
local function checkhealth()
  vim.cmd('checkhealth warden')
  local buf = vim.api.nvim_get_current_buf()
  local text = h.text(buf)
  vim.cmd('bwipeout!')
  return text
end

---@param text string
---@param s string
local function has(text, s)
  assert.is_truthy(text:find(s, 1, true), ('missing %q in:\n%s'):format(s, text))
end

--- A folder with these files, made a git repository (a warden root of its own).
---@param name string
---@param files table<string, string>
---@return string
local function project(name, files)
  local dir = h.tmp .. '/' .. name
  vim.fn.mkdir(dir, 'p')
  for file, text in pairs(files) do
    local f = assert(io.open(dir .. '/' .. file, 'w'))
    f:write(text)
    f:close()
  end
  h.system({ 'git', 'init', '-q', dir })
  return dir
end

--- `warden db stats --json` rows of a database.
---@param db string
---@return table[]
local function stats(db)
  local rows = {}
  for line in h.system({ h.bin, '--db', db, 'db', 'stats', '--json' }):gmatch('[^\n]+') do
    rows[#rows + 1] = vim.json.decode(line)
  end
  return rows
end

--- Applies the code action titled `title` at the diagnostic `d`; returns the titles offered.
---@param buf integer
---@param d vim.Diagnostic
---@param title string
---@return string[]
local function apply_action(buf, d, title)
  vim.api.nvim_win_set_buf(0, buf)
  vim.api.nvim_win_set_cursor(0, { d.lnum + 1, d.col })
  local titles = {}
  vim.lsp.buf.code_action({
    apply = true,
    filter = function(action)
      titles[#titles + 1] = action.title
      return action.title == title
    end,
  })
  return titles
end

describe('package data from the loopback registry', function()
  local reg
  ---@type string[] titles of the warden progress begun
  local progress = {}

  setup(function()
    reg = h.mock_registry()
    vim.api.nvim_create_autocmd('LspProgress', {
      callback = function(ev)
        local value = ev.data and ev.data.params and ev.data.params.value
        if type(value) == 'table' and value.kind == 'begin' then
          progress[#progress + 1] = value.title
        end
      end,
    })
  end)

  teardown(function()
    h.stop_all()
    reg.stop()
  end)

  --- The plugin configured for a server online against the registry only, with the
  --- database `db` and these `packages` settings over the defaults here.
  ---@param db string
  ---@param packages? table
  local function start(db, packages)
    vim.g.warden = {
      cmd = { h.bin, 'lsp' },
      cmd_env = {
        WARDEN_OFFLINE = '0',
        WARDEN_DB = db,
        WARDEN_OSV_MIRROR = reg.osv,
        WARDEN_METADATA_URL = reg.metadata,
      },
      settings = {
        scan = { onStartup = false },
        packages = vim.tbl_extend('force', {
          osvMirror = reg.osv,
          metadataUrl = reg.metadata,
          -- Off but where asked for: `pilllow` has no recorded answer (unknown).
          metadata = false,
          osvPollSeconds = 0,
        }, packages or {}),
      },
    }
    vim.cmd.runtime('plugin/warden.lua')
  end

  local fresh_db = h.tmp .. '/fresh.db'

  it('a fresh database: the advisories of requirements.txt appear with no manual step', function()
    local dir = project('fresh', { ['requirements.txt'] = 'requests==2.30.0\npilllow\n' })
    start(fresh_db)
    local buf, client = h.open(dir .. '/requirements.txt')
    local malicious = h.wait_diagnostic(buf, 'MAL-2023-1941', 30000)
    local vulnerable = h.wait_diagnostic(buf, 'PYSEC-2023-74', 30000)
    assert.are.equal(vim.diagnostic.severity.ERROR, malicious.severity)
    assert.are.equal(1, malicious.lnum)
    assert.are.equal(vim.diagnostic.severity.WARN, vulnerable.severity)
    assert.are.same({}, h.diagnostics(buf, 'advisories-missing'))
    assert.is_true(vim.tbl_contains(progress, 'warden: downloading PyPI advisories'), vim.inspect(progress))
    local spans = h.request(client, 'warden/traces', { kind = 'index' }).traces
    local update = vim.tbl_filter(function(s)
      return s.name == 'osv.update'
    end, spans)[1]
    assert.is_truthy(update, vim.inspect(spans))
    assert.are.equal('ok', update.outcome)
    -- Only the manifest's ecosystem, stored with its mirror and without the token.
    local rows = stats(fresh_db)
    assert.are.equal(1, #rows, vim.inspect(rows))
    assert.are.equal('PyPI', rows[1].ecosystem)
    assert.are.equal(5, rows[1].advisories)
    assert.are.equal(reg.osv_plain, rows[1].mirror)
  end)

  it(':checkhealth and :Warden advisories say since when the data is current and where it came from', function()
    local text = checkhealth()
    has(text, 'warden: OSV advisory data')
    -- `just now`, `1 minute ago`, ...
    local line = 'OK PyPI: 5 advisories %(2 malicious%) on 4 packages, current as of [%w ]+ %(downloaded from '
      .. vim.pesc(reg.osv_plain)
      .. '%)'
    assert.is_truthy(text:find(line), text)
    has(text, ('kept current in the background from %s (settings.packages.osvMirror)'):format(reg.osv_plain))
    assert.is_nil(text:find('WARNING PyPI', 1, true), text)
    assert.is_nil(text:find(reg.token, 1, true), 'the mirror token is never shown')

    local messages, restore = h.capture_notify()
    vim.cmd('Warden advisories')
    restore()
    assert.are.equal(1, #messages)
    assert.are.equal(vim.log.levels.INFO, messages[1].level)
    has(messages[1].msg, ('warden advisory data (%s):'):format(fresh_db))
    has(messages[1].msg, '✓ PyPI: 5 advisories (2 malicious) on 4 packages, current as of ')
    has(messages[1].msg, 'ℹ kept current in the background from ' .. reg.osv_plain)
    assert.is_nil(messages[1].msg:find(reg.token, 1, true))
  end)

  it('with updates off: advisories-missing on line 1, and its code action downloads the data', function()
    h.stop_all()
    local db = h.tmp .. '/manual.db'
    local dir = project('manual', { ['requirements.txt'] = 'requests==2.30.0\npilllow\n' })
    start(db, { update = false })
    local buf = h.open(dir .. '/requirements.txt')
    local d = h.wait_diagnostic(buf, 'advisories-missing')
    assert.are.equal(0, d.lnum)
    assert.are.equal(vim.diagnostic.severity.INFO, d.severity)
    assert.matches('No PyPI advisory data', d.message, 1, true)
    assert.are.same({}, h.diagnostics(buf, 'MAL-2023-1941'))
    assert.are.same({}, stats(db), 'nothing downloaded with updates off')

    -- Health flags the ecosystem in use without data, with the fix.
    local text = checkhealth()
    has(text, 'WARNING PyPI: no advisory data, but PyPI manifests are open or in a workspace')
    has(text, ':Warden advisories update PyPI (or in a shell: warden db update PyPI)')
    has(text, 'background downloads are off (settings.packages.update = false)')

    local messages, restore = h.capture_notify()
    local titles = apply_action(buf, d, 'Download PyPI advisories now')
    local ok, err = pcall(function()
      h.wait_diagnostic(buf, 'MAL-2023-1941', 30000)
      h.wait_diagnostic(buf, 'PYSEC-2023-74', 30000)
      h.wait(10000, function()
        return #h.diagnostics(buf, 'advisories-missing') == 0
      end, 'the note to go')
      h.wait_message(messages, 'warden: advisories updated: ', 10000)
    end)
    restore()
    assert(ok, tostring(err) .. '; actions offered: ' .. vim.inspect(titles))
    assert.are.equal(reg.osv_plain, stats(db)[1].mirror)
  end)

  it(':Warden advisories update downloads now; an unknown ecosystem is refused', function()
    local before = stats(h.tmp .. '/manual.db')[1].currentAsOf
    local messages, restore = h.capture_notify()
    local ok, err = pcall(function()
      vim.cmd('Warden advisories update pypi')
      h.wait_message(messages, '^warden: downloading PyPI advisories')
      h.wait_message(messages, 'warden: advisories updated: .*PyPI', 15000)
      vim.cmd('Warden advisories update cobol')
      h.wait_message(messages, 'unknown ecosystem "cobol"; use one of: PyPI, npm, crates.io, Go')
    end)
    restore()
    assert(ok, err)
    assert.is_true(stats(h.tmp .. '/manual.db')[1].currentAsOf > before)
  end)

  it('package metadata: an unknown package is an error, a deprecated one a warning with the reason', function()
    h.stop_all()
    local dir = project('meta', {
      ['requirements.txt'] = 'huggingface-cli-tools\n',
      ['package.json'] = '{\n  "name": "meta",\n  "dependencies": {\n    "request": "^2.88.0"\n  }\n}\n',
    })
    -- Current advisory data imported, so no freshness notes in the way.
    start(h.tmp .. '/meta.db', { metadata = true, update = false, osvPaths = { h.osv } })
    local req = h.open(dir .. '/requirements.txt')
    local unknown = h.wait_diagnostic(req, 'package-unknown', 30000)
    assert.are.equal(vim.diagnostic.severity.ERROR, unknown.severity)
    assert.are.equal(0, unknown.lnum)
    assert.matches('PyPI has no package named "huggingface-cli-tools"', unknown.message, 1, true)
    local pkg = h.open(dir .. '/package.json')
    local deprecated = h.wait_diagnostic(pkg, 'package-deprecated', 30000)
    assert.are.equal(vim.diagnostic.severity.WARN, deprecated.severity)
    assert.are.equal(3, deprecated.lnum)
    assert.are.equal(
      'request is deprecated: request has been deprecated, see https://github.com/request/request/issues/3142',
      deprecated.message
    )
  end)
end)

describe('advisory data judged (warden.advisories)', function()
  local advisories = require('warden.advisories')
  local parse = require('warden.traces').parse_time
  local now = parse('2026-11-21T12:00:00Z')

  it('names manifests and ecosystems as the server does; shows mirrors without credentials', function()
    assert.are.equal('PyPI', advisories.of_manifest('/w/requirements-dev.txt'))
    assert.are.equal('PyPI', advisories.of_manifest('/w/ci-requirements.txt'))
    assert.are.equal('PyPI', advisories.of_manifest('/w/pyproject.toml'))
    assert.are.equal('npm', advisories.of_manifest('/w/package.json'))
    assert.are.equal('crates.io', advisories.of_manifest('/w/Cargo.toml'))
    assert.are.equal('Go', advisories.of_manifest('/w/go.mod'))
    assert.is_nil(advisories.of_manifest('/w/package-lock.json'))
    assert.are.equal('crates.io', advisories.named('CRATES.IO'))
    assert.is_nil(advisories.named('cobol'))
    assert.are.equal('https://m.example/osv', advisories.without_credentials('https://u:t0k@m.example/osv'))
    local cfg = require('warden.config').validate({
      cmd_env = { WARDEN_OFFLINE = '0', WARDEN_OSV_MIRROR = 'http://a:b@env.example/osv/' },
    }, 't')
    assert.is_false((advisories.offline(cfg)))
    assert.are.same({ 'http://env.example/osv', 'WARDEN_OSV_MIRROR' }, { advisories.mirror(cfg) })
    cfg.settings.packages = { osvMirror = 'https://team.example/osv' }
    assert.are.same({ 'https://team.example/osv', 'settings.packages.osvMirror' }, { advisories.mirror(cfg) })
    cfg.cmd_env.WARDEN_OFFLINE = '1'
    assert.is_true((advisories.offline(cfg)))
    assert.matches('^WARDEN_OFFLINE is set %(cmd_env.WARDEN_OFFLINE%)', advisories.downloads_note(cfg))
  end)

  it('flags data older than 7 days and ecosystems in use without data, with the fix', function()
    local rows = {
      {
        ecosystem = 'PyPI',
        advisories = 5,
        malicious = 2,
        packages = 4,
        currentAsOf = '2026-11-21T09:00:00Z',
        mirror = 'http://127.0.0.1:1/osv',
      },
      { ecosystem = 'npm', advisories = 7, malicious = 3, packages = 9, currentAsOf = '2026-11-12T12:00:00.000Z' },
      { ecosystem = 'Go', advisories = 2, malicious = 0, packages = 2 },
    }
    local f = advisories.assess(rows, { PyPI = true, ['crates.io'] = true }, { now = now })
    assert.are.same(
      { 'ok', 'warn', 'info', 'warn' },
      vim.tbl_map(function(x)
        return x.level
      end, f)
    )
    assert.are.equal(
      'PyPI: 5 advisories (2 malicious) on 4 packages, current as of 3 hours ago (downloaded from http://127.0.0.1:1/osv)',
      f[1].text
    )
    assert.are.equal(
      'npm: 7 advisories (3 malicious) on 9 packages, last made current 9 days ago (imported files): older than 7 days, so packages flagged since then are not known here',
      f[2].text
    )
    assert.are.same({ ':Warden advisories update npm (or in a shell: warden db update npm)' }, f[2].advice)
    assert.matches('when it was last made current is unknown', f[3].text, 1, true)
    assert.are.equal(
      'crates.io: no advisory data, but crates.io manifests are open or in a workspace: their packages are not checked',
      f[4].text
    )
    -- Offline, the fix is importing files.
    local off = advisories.assess({}, { Go = true }, { now = now, offline = true })
    assert.are.equal(1, #off)
    assert.matches('WARDEN_OFFLINE is set', off[1].advice[1], 1, true)
    -- Nothing at all, nothing in use.
    local none = advisories.assess({}, {}, { now = now })
    assert.matches('^no advisories loaded yet', none[1].text)
    -- A day is just under the limit; 7 days and a minute is over it.
    local day = advisories.assess(
      { { ecosystem = 'Go', advisories = 1, malicious = 0, packages = 1, currentAsOf = '2026-11-14T12:01:00Z' } },
      {},
      { now = now }
    )
    assert.are.equal('ok', day[1].level)
    local week = advisories.assess(
      { { ecosystem = 'Go', advisories = 1, malicious = 0, packages = 1, currentAsOf = '2026-11-14T11:59:00Z' } },
      {},
      { now = now }
    )
    assert.are.equal('warn', week[1].level)
  end)
end)
