---@mod warden Neovim client for warden, the language server for safe, observable
--- AI-assisted scripting.
---
--- The public entry points: `setup{}` (optional; `vim.g.warden` works too), starting and
--- restarting the per-root `warden lsp` clients (those of crashed servers included),
--- and a status-line component built on the standard LSP progress (also shipped as the
--- lualine component `'warden'`). See `:help warden`.

local M = {}

--- Configures warden (replacing options from an earlier call; `vim.g.warden` stays
--- underneath). Running clients receive the new `settings` at once; other options apply
--- to clients started afterwards (`:Warden restart`).
---@param opts? warden.UserConfig
function M.setup(opts)
  local config = require('warden.config')
  config.set(opts or {})
  config.get() -- report problems now, not at the first file
  require('warden.lsp').push_settings()
  if vim.g.loaded_warden then
    M.attach_all()
  end
end

--- Attaches warden to a buffer (starting the client of its root when needed).
---@param bufnr? integer
---@return integer|nil client_id
function M.attach(bufnr)
  return require('warden.lsp').attach(bufnr)
end

--- Attaches warden to every loaded file buffer (when `autostart` is on).
function M.attach_all()
  local config = require('warden.config')
  if not config.get().autostart then
    return
  end
  if vim.lsp.is_enabled and vim.lsp.is_enabled('warden') then
    return -- vim.lsp.enable('warden') attaches buffers itself
  end
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) then
      M.attach(buf)
    end
  end
end

--- Stops every warden client and starts them again for the buffers they served,
--- including the buffers of servers that crashed or exited (or, when there are none,
--- for the current buffer).
---@param on_done? fun(buffers: integer) called once the new clients are starting
function M.restart(on_done)
  local lsp = require('warden.lsp')
  local buffers, seen = {}, {}
  local function add(buf)
    if not seen[buf] then
      seen[buf] = true
      buffers[#buffers + 1] = buf
    end
  end
  for _, client in ipairs(lsp.clients()) do
    for buf in pairs(client.attached_buffers or {}) do
      add(buf)
    end
  end
  for buf in pairs(lsp.orphans) do
    add(buf)
  end
  lsp.orphans = {}
  if #buffers == 0 then
    add(vim.api.nvim_get_current_buf())
  end
  table.sort(buffers)
  lsp.stop_all(function()
    local attached = 0
    for _, buf in ipairs(buffers) do
      if vim.api.nvim_buf_is_loaded(buf) and lsp.attach(buf) then
        attached = attached + 1
      end
    end
    if on_done then
      on_done(attached)
    end
  end)
end

--- A short status for status lines: "" when warden is not attached to the current
--- buffer, "warden" when idle, else the running task, the current buffer's server's
--- first ("warden: scanning alpha 40%", "warden: explain (gpt-4o-mini) 50% +1" when
--- more run). Status lines are redrawn as progress arrives (`LspProgress`), so
--- `%{v:lua.require'warden'.status()}` and the lualine component `'warden'` stay
--- current.
---@return string
function M.status()
  local lsp = require('warden.lsp')
  local mine = lsp.clients({ bufnr = vim.api.nvim_get_current_buf() })[1]
  if not mine then
    return ''
  end
  local tasks = {}
  local function collect(client)
    local progress = lsp.client_state(client.id).progress
    local tokens = vim.tbl_keys(progress)
    table.sort(tokens, function(a, b)
      return tostring(a) < tostring(b)
    end)
    for _, token in ipairs(tokens) do
      tasks[#tasks + 1] = progress[token]
    end
  end
  collect(mine)
  for _, c in ipairs(lsp.clients()) do
    if c.id ~= mine.id then
      collect(c)
    end
  end
  local p = tasks[1]
  if not p then
    return 'warden'
  end
  local title = p.title:gsub('^warden: ', '')
  local pct = p.percentage and (' %d%%'):format(p.percentage) or ''
  local more = #tasks > 1 and (' +%d'):format(#tasks - 1) or ''
  return ('warden: %s%s%s'):format(title, pct, more)
end

return M
