---@mod warden Neovim client for warden, the language server for safe, observable
--- AI-assisted scripting.
---
--- The public entry points: `setup{}` (optional; `vim.g.warden` works too), starting and
--- restarting the per-root `warden lsp` clients, and a status-line component built on
--- the standard LSP progress. See `:help warden`.

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

--- Stops every warden client and starts them again for the buffers they served (or,
--- when none ran, for the current buffer).
---@param on_done? fun() called once the new clients are starting
function M.restart(on_done)
  local lsp = require('warden.lsp')
  local buffers = {}
  for _, client in ipairs(lsp.clients()) do
    for buf in pairs(client.attached_buffers or {}) do
      buffers[#buffers + 1] = buf
    end
  end
  if #buffers == 0 then
    buffers = { vim.api.nvim_get_current_buf() }
  end
  lsp.stop_all(function()
    for _, buf in ipairs(buffers) do
      if vim.api.nvim_buf_is_loaded(buf) then
        lsp.attach(buf)
      end
    end
    if on_done then
      on_done()
    end
  end)
end

--- A short status for status lines: "" when warden is not attached to the current
--- buffer, "warden" when idle, else the running task ("warden: scanning alpha 40%").
---@return string
function M.status()
  local lsp = require('warden.lsp')
  local client = lsp.clients({ bufnr = vim.api.nvim_get_current_buf() })[1]
  if not client then
    return ''
  end
  for _, c in ipairs(lsp.clients()) do
    for _, p in pairs(lsp.client_state(c.id).progress) do
      local title = p.title:gsub('^warden: ', '')
      local pct = p.percentage and (' %d%%'):format(p.percentage) or ''
      return ('warden: %s%s'):format(title, pct)
    end
  end
  return 'warden'
end

return M
