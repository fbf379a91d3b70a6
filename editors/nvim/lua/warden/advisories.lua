---@mod warden.advisories Advisory data: what is loaded per ecosystem, since when and
--- from where (`warden db stats --json`: `currentAsOf`, `mirror`), which ecosystems the
--- open roots use, what is missing or older than 7 days and how to fix it (shared by
--- `:Warden advisories` and `:checkhealth warden`), and downloading now through the
--- server (`warden.packages.updateAdvisories`, `:Warden advisories update`).

local M = {}

--- The ecosystems warden downloads advisories for, spelled as the server spells them.
M.ecosystems = { 'PyPI', 'npm', 'crates.io', 'Go' }

--- Data last made current longer ago than this is stale (the server's `advisories-stale`).
M.stale_days = 7

--- The OSV project's export, the server's default mirror.
M.default_mirror = 'https://osv-vulnerabilities.storage.googleapis.com'

--- Diagnostic codes saying an ecosystem's data is missing or old.
local freshness_codes = { ['advisories-missing'] = true, ['advisories-stale'] = true }

--- Folders never searched for manifests: installed packages, build output, VCS data.
local skip_dirs = {
  ['.git'] = true,
  node_modules = true,
  target = true,
  ['.venv'] = true,
  venv = true,
  vendor = true,
  dist = true,
  build = true,
  ['site-packages'] = true,
  ['__pycache__'] = true,
}

local DAY_MS = 86400000

--- An ecosystem name in any case (`pypi`, `CRATES.IO`), or nil when unknown.
---@param name string
---@return string|nil
function M.named(name)
  local n = vim.trim(name or ''):lower()
  for _, e in ipairs(M.ecosystems) do
    if e:lower() == n then
      return e
    end
  end
  return nil
end

--- The ecosystem of a manifest, by its file name (as the server's `manifest::kind_of`).
---@param path string
---@return string|nil
function M.of_manifest(path)
  local name = vim.fs.basename(path or '')
  if name == 'package.json' then
    return 'npm'
  elseif name == 'pyproject.toml' then
    return 'PyPI'
  elseif name == 'Cargo.toml' then
    return 'crates.io'
  elseif name == 'go.mod' then
    return 'Go'
  elseif
    (vim.startswith(name, 'requirements') and vim.endswith(name, '.txt')) or vim.endswith(name, '-requirements.txt')
  then
    return 'PyPI'
  end
  return nil
end

--- A URL without `user:password@` (what may be shown).
---@param url string
---@return string
function M.without_credentials(url)
  return (url:gsub('^(%a[%w+.-]*://)[^/@?#]*@', '%1'))
end

---@param cfg warden.Config
---@param name string
---@return string|nil value, string source
local function env_of(cfg, name)
  local v = cfg.cmd_env[name]
  if v ~= nil then
    return v, 'cmd_env.' .. name
  end
  v = vim.env[name]
  if v and v ~= '' then
    return v, '$' .. name
  end
  return nil, ''
end

--- Whether the servers run offline (`WARDEN_OFFLINE`: any value but empty and `0`), and
--- where that comes from.
---@param cfg warden.Config
---@return boolean offline, string source
function M.offline(cfg)
  local v, source = env_of(cfg, 'WARDEN_OFFLINE')
  return v ~= nil and v ~= '' and v ~= '0', source
end

--- The mirror downloads come from (without credentials), and what chose it.
---@param cfg warden.Config
---@return string url, string source
function M.mirror(cfg)
  local setting = cfg.settings.packages and cfg.settings.packages.osvMirror
  if type(setting) == 'string' and vim.trim(setting) ~= '' then
    return M.without_credentials((vim.trim(setting):gsub('/+$', ''))), 'settings.packages.osvMirror'
  end
  local env = env_of(cfg, 'WARDEN_OSV_MIRROR')
  if env and vim.trim(env) ~= '' then
    return M.without_credentials((vim.trim(env):gsub('/+$', ''))), 'WARDEN_OSV_MIRROR'
  end
  return M.default_mirror, "the OSV project's export"
end

--- How long ago, in words, `ms` milliseconds are.
---@param ms number
---@return string
function M.ago(ms)
  ms = math.max(0, ms)
  local minutes = math.floor(ms / 60000)
  if minutes < 1 then
    return 'just now'
  elseif minutes < 60 then
    return ('%d minute%s ago'):format(minutes, minutes == 1 and '' or 's')
  end
  local hours = math.floor(minutes / 60)
  if hours < 48 then
    return ('%d hour%s ago'):format(hours, hours == 1 and '' or 's')
  end
  return ('%d days ago'):format(math.floor(ms / DAY_MS))
end

---@return number
local function now_ms()
  local sec, usec = vim.uv.gettimeofday()
  return sec * 1000 + math.floor(usec / 1000)
end

--- The ecosystems in use: manifests under `roots` (4 levels deep, installed packages and
--- build output left out), loaded manifest buffers, and files whose warden diagnostics
--- say their data is missing or old.
---@param roots string[]
---@return table<string, boolean>
function M.used(roots)
  local used = {}
  for _, root in ipairs(roots) do
    local seen = 0
    -- An unreadable folder ends the walk; what was found so far stands.
    pcall(function()
      for name, kind in
        vim.fs.dir(root, {
          depth = 4,
          skip = function(dir)
            return not skip_dirs[vim.fs.basename(dir)]
          end,
        })
      do
        seen = seen + 1
        if seen > 20000 then
          break
        end
        local eco = kind == 'file' and M.of_manifest(name)
        if eco then
          used[eco] = true
        end
      end
    end)
  end
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) then
      local name = vim.api.nvim_buf_get_name(buf)
      local eco = M.of_manifest(name)
      if eco then
        used[eco] = true
      end
    end
  end
  for _, d in ipairs(vim.diagnostic.get(nil)) do
    if d.source == 'warden' and freshness_codes[d.code] and vim.api.nvim_buf_is_valid(d.bufnr) then
      local eco = M.of_manifest(vim.api.nvim_buf_get_name(d.bufnr))
      if eco then
        used[eco] = true
      end
    end
  end
  return used
end

--- The roots of the running warden servers.
---@return string[]
function M.roots()
  local roots = {}
  for _, c in ipairs(require('warden.lsp').clients()) do
    local root = c.root_dir or c.config.root_dir
    if root and not vim.tbl_contains(roots, root) then
      roots[#roots + 1] = root
    end
  end
  return roots
end

---@class warden.AdvisoryRow A `warden db stats --json` line.
---@field ecosystem string
---@field advisories integer
---@field malicious integer
---@field packages integer
---@field newestModified? string
---@field currentAsOf? string RFC 3339: when the data was last downloaded, checked or imported
---@field mirror? string the mirror it is downloaded from; nil: imported files

--- `warden db stats --json` of the database the configuration names.
---@param cfg warden.Config
---@return warden.AdvisoryRow[]|nil rows, string|nil err
function M.stats(cfg)
  local exe = vim.fn.exepath(cfg.cmd[1])
  if exe == '' then
    return nil, ('%q is not an executable on PATH'):format(cfg.cmd[1])
  end
  local db = require('warden.health').database_path(cfg)
  local ok, proc = pcall(
    vim.system,
    { exe, '--db', db, 'db', 'stats', '--json' },
    { text = true, env = next(cfg.cmd_env) and cfg.cmd_env or nil, timeout = 10000 }
  )
  if not ok then
    return nil, tostring(proc)
  end
  local res = proc:wait()
  if res.code ~= 0 then
    return nil, 'warden db stats failed: ' .. vim.trim(res.stderr or ''):match('[^\n]*')
  end
  local rows = {}
  for line in (res.stdout or ''):gmatch('[^\n]+') do
    local okj, row = pcall(vim.json.decode, line)
    if okj and type(row) == 'table' and row.ecosystem then
      rows[#rows + 1] = require('warden.lsp').denull(row)
    end
  end
  return rows, nil
end

---@class warden.AdvisoryFinding
---@field level "ok"|"warn"|"info"
---@field text string
---@field advice? string[]

--- What to do about missing or old data of `eco`.
---@param eco string
---@param offline boolean
---@return string[]
local function fix(eco, offline)
  if offline then
    return {
      'WARDEN_OFFLINE is set, so nothing is downloaded: import OSV files (settings.packages.osvPaths, or warden db import PATH)',
      'or unset it and point settings.packages.osvMirror at a mirror this machine can reach',
    }
  end
  return { (':Warden advisories update %s (or in a shell: warden db update %s)'):format(eco, eco) }
end

--- The advisory data judged: one finding per ecosystem loaded (ok, or stale after
--- `M.stale_days`), one per ecosystem in use without data, and a note when nothing is
--- loaded at all.
---@param rows warden.AdvisoryRow[]
---@param used table<string, boolean>
---@param opts? {now?: number, offline?: boolean}
---@return warden.AdvisoryFinding[]
function M.assess(rows, used, opts)
  opts = opts or {}
  local now = opts.now or now_ms()
  local parse = require('warden.traces').parse_time
  local out, have = {}, {}
  for _, row in ipairs(rows) do
    have[row.ecosystem] = true
    local counts = ('%s: %d advisories (%d malicious) on %d packages'):format(
      row.ecosystem,
      row.advisories or 0,
      row.malicious or 0,
      row.packages or 0
    )
    local source = row.mirror and ('downloaded from ' .. M.without_credentials(row.mirror)) or 'imported files'
    local at = parse(row.currentAsOf)
    if not at then
      out[#out + 1] =
        { level = 'info', text = ('%s (%s); when it was last made current is unknown'):format(counts, source) }
    elseif now - at > M.stale_days * DAY_MS then
      out[#out + 1] = {
        level = 'warn',
        text = ('%s, last made current %s (%s): older than %d days, so packages flagged since then are not known here'):format(
          counts,
          M.ago(now - at),
          source,
          M.stale_days
        ),
        advice = fix(row.ecosystem, opts.offline),
      }
    else
      out[#out + 1] = { level = 'ok', text = ('%s, current as of %s (%s)'):format(counts, M.ago(now - at), source) }
    end
  end
  for _, eco in ipairs(M.ecosystems) do
    if used[eco] and not have[eco] then
      out[#out + 1] = {
        level = 'warn',
        text = ('%s: no advisory data, but %s manifests are open or in a workspace: their packages are not checked'):format(
          eco,
          eco
        ),
        advice = fix(eco, opts.offline),
      }
    end
  end
  if #rows == 0 and next(used) == nil then
    out[#out + 1] = {
      level = 'warn',
      text = 'no advisories loaded yet, so there are no package findings; warden downloads the data of an ecosystem when it first sees one of its manifests',
      advice = opts.offline and fix('PyPI', true)
        or { ':Warden advisories update ECOSYSTEM to get it now (PyPI, npm, crates.io, Go)' },
    }
  end
  return out
end

--- How advisory data arrives here: offline, background downloads off, or from which
--- mirror.
---@param cfg warden.Config
---@return string
function M.downloads_note(cfg)
  local offline, source = M.offline(cfg)
  if offline then
    return ('WARDEN_OFFLINE is set (%s): nothing is downloaded, advisories nor package metadata; imported files are used as they are'):format(
      source
    )
  end
  local packages = cfg.settings.packages or {}
  local url, from = M.mirror(cfg)
  if packages.update == false then
    return ('background downloads are off (settings.packages.update = false); :Warden advisories update downloads from %s (%s)'):format(
      url,
      from
    )
  end
  return ('kept current in the background from %s (%s), checked when older than %d h'):format(
    url,
    from,
    packages.updateHours or 24
  )
end

local marks = { ok = '✓', warn = '⚠', info = 'ℹ' }

--- The lines `:Warden advisories` shows.
---@param cfg warden.Config
---@return string[] lines, integer level
function M.report(cfg)
  local db = require('warden.health').database_path(cfg)
  local lines = { ('warden advisory data (%s):'):format(db) }
  local level = vim.log.levels.INFO
  local rows, err = M.stats(cfg)
  if not rows then
    lines[#lines + 1] = '  ✗ ' .. tostring(err)
    return lines, vim.log.levels.ERROR
  end
  local findings = M.assess(rows, M.used(M.roots()), { offline = (M.offline(cfg)) })
  for _, f in ipairs(findings) do
    if f.level == 'warn' then
      level = vim.log.levels.WARN
    end
    lines[#lines + 1] = ('  %s %s'):format(marks[f.level], f.text)
    for _, a in ipairs(f.advice or {}) do
      lines[#lines + 1] = '      ' .. a
    end
  end
  lines[#lines + 1] = '  ℹ ' .. M.downloads_note(cfg)
  return lines, level
end

--- Asks the server (of the current buffer, else any) to download advisories now:
--- `ecosystems` (empty: those of the manifests it has seen), `full` for whole archives.
--- Progress shows as LSP progress (`:Warden cancel` stops it); the server says the
--- outcome (`window/showMessage`).
---@param ecosystems string[]
---@param full? boolean
function M.update(ecosystems, full)
  local lsp = require('warden.lsp')
  local names = {}
  for _, e in ipairs(ecosystems) do
    local eco = M.named(e)
    if not eco then
      return vim.notify(
        ('warden: unknown ecosystem %q; use one of: %s'):format(e, table.concat(M.ecosystems, ', ')),
        vim.log.levels.ERROR
      )
    end
    if not vim.tbl_contains(names, eco) then
      names[#names + 1] = eco
    end
  end
  local client = lsp.client_for(0)
  if not client then
    return vim.notify(
      'warden: no warden server is running; open a file in a git repository, or run :Warden restart',
      vim.log.levels.ERROR
    )
  end
  local args = {}
  if #names > 0 then
    args.ecosystems = names
  end
  if full then
    args.full = true
  end
  lsp.execute(client, lsp.commands.packages_update_advisories, args, function(err)
    if err then
      return vim.notify('warden: downloading advisories failed: ' .. tostring(err.message or err), vim.log.levels.ERROR)
    end
    vim.notify(
      ('warden: downloading %s advisories%s; the server says when it is done (:Warden cancel stops it)'):format(
        #names > 0 and table.concat(names, ', ') or "the seen manifests'",
        full and ' (whole archives)' or ''
      ),
      vim.log.levels.INFO
    )
  end)
end

return M
