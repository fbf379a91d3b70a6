---@mod warden.usage `:Warden usage [model|day|action]`: LLM usage as a table.
---
--- Reads `warden/usage` (every workspace, all time; the database is shared by every
--- server) into a scratch buffer: per model, day or action the requests, cache hits and
--- hit rate, tokens (input, output, cached, reasoning), cost and errors, then the
--- totals, in a view window (`warden.ui`); calls through the LLM gateway are the action
--- `gateway`. Under the table, the budgets the editor settings set (`llm.budget.*`).
--- `r` reloads, `g` cycles the grouping, `q` closes.

local lsp = require('warden.lsp')
local ui = require('warden.ui')

local M = {}

M.groups = { 'model', 'day', 'action' }

local columns = {
  { 'requests', 'requests' },
  { 'cacheHits', 'cache hits' },
  { 'cacheHitRate', 'hit rate' },
  { 'tokensInput', 'input tok' },
  { 'tokensOutput', 'output tok' },
  { 'tokensCached', 'cached tok' },
  { 'tokensReasoning', 'reasoning tok' },
  { 'costUsd', 'cost USD' },
  { 'errors', 'errors' },
}

---@param key string
---@param v any
---@return string
local function cell(key, v)
  if key == 'cacheHitRate' then
    return ('%d%%'):format(math.floor((tonumber(v) or 0) * 100 + 0.5))
  elseif key == 'costUsd' then
    return ('$%.6f'):format(tonumber(v) or 0)
  end
  return tostring(math.floor(tonumber(v) or 0))
end

---@param s string
---@param w integer
---@return string
local function rpad(s, w)
  return s .. string.rep(' ', w - vim.api.nvim_strwidth(s))
end

---@param s string
---@param w integer
---@return string
local function lpad(s, w)
  return string.rep(' ', w - vim.api.nvim_strwidth(s)) .. s
end

--- The table's lines (pure; used by the buffer and the specs).
---@param result warden.UsageResult
---@param group string model, day or action
---@return string[]
function M.format(result, group)
  local first = ({ model = 'provider/model', day = 'day', action = 'action' })[group] or group
  local rows = {}
  for _, r in ipairs(result.rows or {}) do
    rows[#rows + 1] = r
  end
  local total = result.total or {}
  local cells = { { first } }
  for _, c in ipairs(columns) do
    table.insert(cells[1], c[2])
  end
  local function add(label, r)
    local line = { label }
    for _, c in ipairs(columns) do
      line[#line + 1] = cell(c[1], r[c[1]])
    end
    cells[#cells + 1] = line
  end
  for _, r in ipairs(rows) do
    add(r.key or '?', r)
  end
  add('total', total)
  local widths = {}
  for _, line in ipairs(cells) do
    for i, s in ipairs(line) do
      widths[i] = math.max(widths[i] or 0, vim.api.nvim_strwidth(s))
    end
  end
  local function render(line)
    local parts = { rpad(line[1], widths[1]) }
    for i = 2, #line do
      parts[#parts + 1] = lpad(line[i], widths[i])
    end
    return (table.concat(parts, '  '):gsub('%s+$', ''))
  end
  local sep = {}
  for i, w in ipairs(widths) do
    sep[i] = string.rep('─', w)
  end
  local out = {
    ('warden LLM usage by %s — every workspace, all time'):format(group),
    'r reload   g next grouping (model, day, action)   q close',
    '',
    render(cells[1]),
    table.concat(sep, '  '),
  }
  if #rows == 0 then
    out[#out + 1] = 'no LLM requests yet'
  end
  for i = 2, #cells - 1 do
    out[#out + 1] = render(cells[i])
  end
  out[#out + 1] = table.concat(sep, '  ')
  out[#out + 1] = render(cells[#cells])
  return out
end

--- The line about the budgets the editor settings set (`llm.budget.*`).
---@param settings warden.Settings
---@return string
function M.budget_line(settings)
  local budget = (settings.llm or {}).budget or {}
  local parts = {}
  if budget.dailyUsd then
    parts[#parts + 1] = ('$%.2f a day per workspace'):format(budget.dailyUsd)
  end
  if budget.requestTokens then
    parts[#parts + 1] = ('%d tokens per gateway request'):format(budget.requestTokens)
  end
  if #parts == 0 then
    return 'budgets: none set (settings.llm.budget.dailyUsd, settings.llm.budget.requestTokens)'
  end
  return 'budgets: ' .. table.concat(parts, ', ') .. " (editor settings; :checkhealth warden shows the day's spend)"
end

--- Loads usage into the buffer.
---@param buf integer
function M.reload(buf)
  local group = vim.b[buf].warden_usage_group or 'model'
  local client = lsp.client_for(0) or lsp.clients()[1]
  if not client then
    ui.set_lines(buf, { 'no warden server is running (open a file in a git repository, or :Warden restart)' })
    return
  end
  lsp.request(client, lsp.requests.usage, { groupBy = group }, function(err, result)
    if not vim.api.nvim_buf_is_valid(buf) then
      return
    end
    if err then
      ui.set_lines(buf, { 'warden/usage failed: ' .. tostring(err.message) })
      vim.notify('warden: reading usage failed: ' .. tostring(err.message), vim.log.levels.ERROR)
      return
    end
    local lines = M.format(result or {}, group)
    lines[#lines + 1] = ''
    lines[#lines + 1] = M.budget_line(require('warden.config').get().settings)
    ui.set_lines(buf, lines)
    vim.b[buf].warden_usage_loaded = (vim.b[buf].warden_usage_loaded or 0) + 1
    vim.api.nvim_exec_autocmds('User', {
      pattern = 'WardenUsageLoaded',
      modeline = false,
      data = { buf = buf, group = group, result = result },
    })
  end)
end

--- Opens (or refreshes) the usage buffer in a view window (`warden.ui`).
---@param opts? {group_by?: string}
---@return integer buf
function M.open(opts)
  opts = opts or {}
  local name = 'warden://usage'
  local buf, created = ui.scratch(name, 'wardenusage')
  if created then
    ui.map(buf, 'warden usage', {
      {
        'r',
        function()
          M.reload(buf)
        end,
        'reload',
      },
      {
        'g',
        function()
          local cur = vim.b[buf].warden_usage_group or 'model'
          local i = 1
          for j, g in ipairs(M.groups) do
            if g == cur then
              i = j
            end
          end
          vim.b[buf].warden_usage_group = M.groups[i % #M.groups + 1]
          M.reload(buf)
        end,
        'next grouping',
      },
      { 'q', ui.close, 'close' },
    })
  end
  if opts.group_by then
    vim.b[buf].warden_usage_group = opts.group_by
  end
  ui.open_view(buf, { wrap = false, cursorline = true })
  M.reload(buf)
  return buf
end

return M
