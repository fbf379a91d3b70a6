---@mod warden.edits Files a warden edit changes that no window shows.
---
--- Neovim applies a workspace edit to a file nobody has open by loading it into a hidden
--- buffer and leaving it modified: the user does not see it, and `:qa` stops with E162.
--- Two of warden's edits do that. *Replace with environment variable* appends the value
--- to the repository's `.env` when git ignores it: that buffer is written to disk (the
--- value is meant to live there, and git ignores the file). `:Warden tests` (and any
--- other `workspace/applyEdit`) may write a file that is not open: it is shown in a
--- split, the cursor staying where it was, for the user to review and `:w`.

local M = {}

---@param msg string
---@param level? integer
local function say(msg, level)
  vim.notify('warden: ' .. msg, level or vim.log.levels.INFO)
end

--- The files (paths) a workspace edit changes or creates.
---@param edit lsp.WorkspaceEdit|nil
---@return string[]
function M.files(edit)
  local out, seen = {}, {}
  local function add(uri)
    if type(uri) == 'string' and uri:match('^file:') and not seen[uri] then
      seen[uri] = true
      out[#out + 1] = vim.uri_to_fname(uri)
    end
  end
  if type(edit) ~= 'table' then
    return out
  end
  for _, change in ipairs(type(edit.documentChanges) == 'table' and edit.documentChanges or {}) do
    if type(change.textDocument) == 'table' then
      add(change.textDocument.uri)
    elseif change.kind == 'create' then
      add(change.uri)
    elseif change.kind == 'rename' then
      add(change.newUri)
    end
  end
  for uri in pairs(type(edit.changes) == 'table' and edit.changes or {}) do
    add(uri)
  end
  return out
end

--- The loaded buffer of a file, or nil.
---@param path string
---@return integer|nil
local function loaded_buf(path)
  local buf = require('warden.ui').find_buf(path)
  if buf and vim.api.nvim_buf_is_loaded(buf) then
    return buf
  end
end

---@param buf integer
---@return boolean
local function hidden(buf)
  return #vim.fn.win_findbuf(buf) == 0
end

--- Whether `path` is the `.env` at the root of a running warden server, and git ignores
--- it (what the server checked before putting the value there).
---@param path string
---@return boolean
function M.is_ignored_env(path)
  if vim.fs.basename(path) ~= '.env' then
    return false
  end
  local dir = vim.fs.dirname(path)
  local served = false
  for _, c in ipairs(require('warden.lsp').clients()) do
    served = served or (c.root_dir or c.config.root_dir) == dir
  end
  if not served then
    return false
  end
  local ok, res = pcall(function()
    return vim.system({ 'git', '-C', dir, 'check-ignore', '-q', '.env' }):wait(3000)
  end)
  return ok and res.code == 0
end

--- Writes a hidden, modified buffer of a git-ignored `.env` to disk.
---@param buf integer
---@return boolean written
function M.save_env(buf)
  if not (vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].modified and vim.bo[buf].buftype == '') then
    return false
  end
  local path = vim.api.nvim_buf_get_name(buf)
  if not hidden(buf) or not M.is_ignored_env(path) then
    return false
  end
  local ok, err = pcall(vim.api.nvim_buf_call, buf, function()
    vim.cmd('silent keepalt update')
  end)
  if not ok then
    say(('writing %s failed: %s; the value is in its buffer (:ls!)'):format(path, err), vim.log.levels.ERROR)
    return false
  end
  say(('saved the value to %s (git ignores it)'):format(vim.fn.fnamemodify(path, ':~:.')))
  return true
end

--- Shows buffers in splits beside the current window, without moving the cursor.
---@param bufs integer[]
function M.show(bufs)
  local cur = vim.api.nvim_get_current_win()
  local float = vim.api.nvim_win_get_config(cur).relative ~= ''
  for i, buf in ipairs(bufs) do
    local split = i == 1 and (vim.o.columns >= 120 and 'right' or 'below') or 'below'
    local win = vim.api.nvim_open_win(buf, false, { split = split, win = float and -1 or cur })
    if i == 1 then
      cur = float and cur or win
    end
  end
end

--- After a workspace edit was applied: a git-ignored `.env` nobody shows is written,
--- other files it changed that no window shows are shown in splits.
---@param edit lsp.WorkspaceEdit|nil
function M.settle(edit)
  local show, names = {}, {}
  for _, path in ipairs(M.files(edit)) do
    local buf = loaded_buf(path)
    if buf and vim.bo[buf].modified and hidden(buf) and not M.save_env(buf) then
      show[#show + 1] = buf
      names[#names + 1] = vim.fn.fnamemodify(path, ':~:.')
    end
  end
  if #show > 0 then
    M.show(show)
    say(
      ('%s changed by warden, shown in a split for review (:w writes it, u undoes)'):format(table.concat(names, ', '))
    )
  end
end

-- Code actions are applied by Neovim itself (no hook runs after them), and Neovim fires
-- no event when a hidden buffer changes (`BufModifiedSet` waits for the main loop):
-- every loaded `.env` buffer gets an `on_lines` watcher, and a change while no window
-- shows it writes it once the edit is done.

---@type table<integer, boolean> `.env` buffers watched
local watched = {}

--- Watches a `.env` buffer for changes made while no window shows it.
---@param buf integer
function M.watch_env(buf)
  if watched[buf] or not vim.api.nvim_buf_is_loaded(buf) then
    return
  end
  watched[buf] = true
  local pending = false
  vim.api.nvim_buf_attach(buf, false, {
    on_lines = function()
      if pending or not hidden(buf) then
        return
      end
      pending = true
      -- After the whole edit is applied (and outside the textlock of on_lines).
      vim.schedule(function()
        pending = false
        if vim.api.nvim_buf_is_valid(buf) then
          M.save_env(buf)
        end
      end)
    end,
    on_detach = function()
      watched[buf] = nil
    end,
    on_reload = function() end,
  })
end

vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
  group = vim.api.nvim_create_augroup('warden.edits', { clear = true }),
  pattern = '.env',
  desc = 'warden: write the git-ignored .env a warden fix changed in a hidden buffer',
  callback = function(ev)
    M.watch_env(ev.buf)
  end,
})
for _, buf in ipairs(vim.api.nvim_list_bufs()) do
  if vim.fs.basename(vim.api.nvim_buf_get_name(buf)) == '.env' then
    M.watch_env(buf)
  end
end

return M
