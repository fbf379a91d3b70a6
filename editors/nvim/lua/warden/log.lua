---@mod warden.log `:Warden log`: the server's log, followed as it grows.
---
--- The plugin starts each server with `WARDEN_LOG_FILE` (one file per root under
--- `stdpath('log')/warden/`, unless the user names one), so the log of a server that
--- crashed is still there to read. `:Warden log` opens the log of the current buffer's
--- server (or of its root, when its server is gone) in a view: the last 2 MiB, then
--- every line the server appends while the view is shown. `r` reloads, `q` closes.

local lsp = require('warden.lsp')
local ui = require('warden.ui')

local M = {}

--- The most of a log the view reads at once.
M.max_bytes = 2 * 1024 * 1024

---@class warden.LogView
---@field buf integer
---@field path string
---@field offset integer bytes read so far
---@field partial string an unfinished last line
---@field timer? uv.uv_timer_t

---@type table<integer, warden.LogView>
M.views = {}

---@param msg string
---@param level? integer
local function say(msg, level)
  vim.notify('warden: ' .. msg, level or vim.log.levels.INFO)
end

--- Reads `path` from byte `from` (at most `M.max_bytes`, the end kept); returns the
--- text, the new offset, and whether the file shrank (rotated) below `from`.
---@param path string
---@param from integer
---@return string|nil text, integer offset, boolean shrank
local function read_from(path, from)
  local stat = vim.uv.fs_stat(path)
  if not stat then
    return nil, 0, false
  end
  if stat.size < from then
    return nil, stat.size, true
  end
  local start = math.max(from, stat.size - M.max_bytes)
  local fd = vim.uv.fs_open(path, 'r', 438)
  if not fd then
    return nil, from, false
  end
  local data = vim.uv.fs_read(fd, stat.size - start, start) or ''
  vim.uv.fs_close(fd)
  return data, start + #data, false
end

---@param view warden.LogView
---@param reset boolean read the file again from the start
local function refresh(view, reset)
  if not vim.api.nvim_buf_is_valid(view.buf) then
    return
  end
  local data, offset, shrank = read_from(view.path, reset and 0 or view.offset)
  if shrank then
    return refresh(view, true)
  end
  if not data then
    if reset then
      ui.set_lines(view.buf, { ('(%s is empty or missing: nothing logged yet)'):format(view.path) })
      view.offset, view.partial = 0, ''
    end
    return
  end
  if reset then
    view.partial = ''
  end
  view.offset = offset
  local text = view.partial .. data
  local lines = vim.split(text, '\n', { plain = true })
  view.partial = table.remove(lines) or ''
  if #lines == 0 and not reset then
    return
  end
  local count = vim.api.nvim_buf_line_count(view.buf)
  local first_line = vim.api.nvim_buf_get_lines(view.buf, 0, 1, false)[1] or ''
  local empty = count == 1 and first_line == ''
  -- Windows whose cursor is on the last line follow the log.
  local follow = {}
  for _, win in ipairs(vim.fn.win_findbuf(view.buf)) do
    follow[win] = reset or vim.api.nvim_win_get_cursor(win)[1] >= count
  end
  if reset or empty or first_line:match('^%(.* nothing logged yet%)$') then
    ui.set_lines(view.buf, #lines > 0 and lines or { '' })
  else
    ui.set_lines(view.buf, lines, count, count)
  end
  local total = vim.api.nvim_buf_line_count(view.buf)
  for win, yes in pairs(follow) do
    if yes and vim.api.nvim_win_is_valid(win) then
      vim.api.nvim_win_set_cursor(win, { total, 0 })
    end
  end
  vim.b[view.buf].warden_log_reads = (vim.b[view.buf].warden_log_reads or 0) + 1
end

local unwatch = ui.stop_timer

--- Follows the file while a window shows the view: its size is checked four times a
--- second (new lines appended; a rotated file read again).
---@param view warden.LogView
local function watch(view)
  if view.timer then
    return
  end
  view.timer = assert(vim.uv.new_timer())
  view.timer:start(
    250,
    250,
    vim.schedule_wrap(function()
      if not vim.api.nvim_buf_is_valid(view.buf) then
        return unwatch(view)
      end
      if #vim.fn.win_findbuf(view.buf) == 0 then
        return
      end
      local stat = vim.uv.fs_stat(view.path)
      if stat and stat.size ~= view.offset then
        refresh(view, false)
      end
    end)
  )
end

--- The log file of the current buffer's server, else of the buffer's root, else of the
--- first running server; nil when there is none to show.
---@return string|nil path, string|nil root
function M.current_path()
  local client = lsp.clients({ bufnr = 0 })[1]
  local root
  if not client then
    root = lsp.find_root(vim.api.nvim_get_current_buf())
    if not root then
      client = lsp.clients()[1]
    end
  end
  if client then
    root = client.root_dir or client.config.root_dir
    local env = client.config.cmd_env or {}
    return env.WARDEN_LOG_FILE or lsp.log_path(root), root
  end
  if root then
    return lsp.log_path(root), root
  end
end

--- Opens the log of the current buffer's server (or of `path`) in a view that follows
--- it.
---@param opts? {path?: string}
---@return integer|nil buf
function M.open(opts)
  opts = opts or {}
  local path, root = opts.path, nil
  if not path then
    path, root = M.current_path()
  end
  if not path then
    say('no warden log to show: open a file in a git repository first', vim.log.levels.WARN)
    return nil
  end
  local name = 'warden://log/' .. (root and vim.fs.basename(root) or vim.fs.basename(path))
  local buf, created = ui.scratch(name, 'wardenlog')
  local view = M.views[buf]
  if not view or view.path ~= path then
    if view then
      unwatch(view)
    end
    view = { buf = buf, path = path, offset = 0, partial = '' }
    M.views[buf] = view
  end
  if created then
    ui.map(buf, 'warden log', {
      {
        'r',
        function()
          refresh(M.views[buf], true)
        end,
        'reload',
      },
      { 'q', ui.close, 'close' },
    })
    vim.api.nvim_create_autocmd('BufWipeout', {
      buffer = buf,
      callback = function()
        if M.views[buf] then
          unwatch(M.views[buf])
          M.views[buf] = nil
        end
      end,
    })
    -- Followed only while a window shows it; caught up when shown again.
    vim.api.nvim_create_autocmd('BufWinEnter', {
      buffer = buf,
      callback = function()
        local v = M.views[buf]
        if v then
          refresh(v, false)
          watch(v)
        end
      end,
    })
    vim.api.nvim_create_autocmd('BufWinLeave', {
      buffer = buf,
      callback = function()
        vim.schedule(function()
          local v = M.views[buf]
          if v and vim.api.nvim_buf_is_valid(buf) and #vim.fn.win_findbuf(buf) == 0 then
            unwatch(v)
          end
        end)
      end,
    })
  end
  ui.open_view(buf, { wrap = false, number = false, relativenumber = false })
  refresh(view, true)
  watch(view)
  vim.api.nvim_echo({ { ('warden: %s (follows new lines; r reloads, q closes)'):format(path) } }, false, {})
  return buf
end

return M
