---@mod warden.ui Views shared by the plugin's features (traces, usage, runs, log, prompt):
--- unlisted scratch buffers, the window a view opens in (a split, a tab or a float, as
--- `views.position` says, never the user's window unless asked), window-local options
--- (a view never changes the options of the user's files), `q` that closes only the
--- view, buffer-local mappings and highlights.

local M = {}

--- The buffer whose name is exactly `name`, or nil (`bufnr()` would take a pattern and
--- accept a partial match: `warden://runs` would find `warden://runs/alpha`).
---@param name string
---@return integer|nil
function M.find_buf(name)
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_valid(buf) and vim.api.nvim_buf_get_name(buf) == name then
      return buf
    end
  end
end

--- The buffer named `name`, created the first time as an unlisted scratch buffer
--- (`nofile`, no swap file, read-only; `bufhidden` `hide`, or `wipe` for buffers a
--- feature can build again); `created` tells whether it is new, so callers set their
--- mappings once. Every view buffer has `b:warden_view` (its filetype).
---@param name string e.g. `warden://traces`
---@param filetype string
---@param opts? {bufhidden?: string}
---@return integer buf, boolean created
function M.scratch(name, filetype, opts)
  local buf = M.find_buf(name)
  if buf then
    return buf, false
  end
  buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, name)
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = opts and opts.bufhidden or 'hide'
  vim.bo[buf].swapfile = false
  vim.bo[buf].buflisted = false
  vim.bo[buf].modifiable = false
  vim.bo[buf].filetype = filetype
  vim.b[buf].warden_view = filetype
  return buf, true
end

--- Replaces the lines of a read-only scratch buffer.
---@param buf integer
---@param lines string[]
---@param first? integer 0-based first line to replace (default 0)
---@param last? integer end (exclusive, -1 for the end)
function M.set_lines(buf, lines, first, last)
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, first or 0, last or -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
end

--- Buffer-local normal-mode mappings, described under `prefix` (`:map` and which-key).
---@param buf integer
---@param prefix string
---@param maps {[1]: string, [2]: function, [3]: string}[] lhs, function, description
function M.map(buf, prefix, maps)
  for _, m in ipairs(maps) do
    vim.keymap.set('n', m[1], m[2], { buffer = buf, nowait = true, silent = true, desc = prefix .. ': ' .. m[3] })
  end
end

--- Stops and frees `holder.timer` (a `vim.uv` timer), if any.
---@param holder {timer?: uv.uv_timer_t}
function M.stop_timer(holder)
  if holder.timer then
    holder.timer:stop()
    holder.timer:close()
    holder.timer = nil
  end
end

--- Sets window options for the buffer shown in `win` only (`:setlocal`). `vim.wo[win].x
--- = v` is `:set`: it also changes the window's global value, which the next file
--- opened in that window inherits.
---@param win integer
---@param opts table<string, any>
function M.set_local(win, opts)
  for name, value in pairs(opts) do
    vim.api.nvim_set_option_value(name, value, { scope = 'local', win = win })
  end
end

---@param win integer
---@return boolean
local function is_float(win)
  return vim.api.nvim_win_get_config(win).relative ~= ''
end

--- Windows of the current tab page that are not floating.
---@return integer[]
local function tiled_windows()
  return vim.tbl_filter(function(w)
    return not is_float(w)
  end, vim.api.nvim_tabpage_list_wins(0))
end

--- Whether a buffer is a view that another view may replace in its window (run output
--- and run-all buffers keep their own split, and the system prompt, which you edit,
--- keeps its window).
---@param buf integer
---@return boolean
local function replaceable_view(buf)
  local kind = vim.b[buf].warden_view
  return kind ~= nil and kind ~= 'wardenrun' and kind ~= 'wardenrunall' and kind ~= 'wardenprompt'
end

--- A new window for a view, placed as `views.position` says; returns it (focused).
---@param buf integer
---@return integer win
local function new_window(buf)
  local cfg = require('warden.config').get().views
  local pos, size = cfg.position, cfg.size
  local cur = vim.api.nvim_get_current_win()
  if is_float(cur) and pos ~= 'float' then
    -- A float cannot be split, nor should a view replace its buffer.
    cur = tiled_windows()[1] or cur
    vim.api.nvim_set_current_win(cur)
  end
  local from = vim.api.nvim_win_get_buf(cur)
  if pos == 'current' then
    if not vim.b[from].warden_view then
      vim.w[cur].warden_return = from
    end
    vim.api.nvim_win_set_buf(cur, buf)
    return cur
  end
  if pos == 'float' then
    local width = math.max(20, math.floor(vim.o.columns * (size and size / 100 or 0.85)))
    local height = math.max(5, math.floor((vim.o.lines - vim.o.cmdheight - 2) * (size and size / 100 or 0.8)))
    local win = vim.api.nvim_open_win(buf, true, {
      relative = 'editor',
      width = math.min(width, vim.o.columns - 2),
      height = height,
      row = math.floor((vim.o.lines - height) / 2) - 1,
      col = math.floor((vim.o.columns - width) / 2),
      border = 'rounded',
      style = 'minimal',
    })
    vim.w[win].warden_split = true
    return win
  end
  local cmd = ({
    below = 'botright split',
    above = 'topleft split',
    right = 'botright vsplit',
    left = 'topleft vsplit',
    tab = 'tab split',
  })[pos] or 'botright split'
  if size and pos ~= 'tab' then
    cmd = cmd:gsub('(v?split)$', size .. '%1')
  end
  vim.cmd(cmd)
  local win = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_buf(win, buf)
  vim.w[win].warden_split = true
  -- What `q` shows when this window is the last one left.
  vim.w[win].warden_return = from
  return win
end

--- Shows a view buffer and focuses it: in the window of this tab page already showing
--- it; else in the current window when that shows another view; else in a new window
--- (`views.position`: a split below by default). `winopts` are set window-locally.
---@param buf integer
---@param winopts? table<string, any> e.g. `{ wrap = false, cursorline = true }`
---@return integer win
function M.open_view(buf, winopts)
  local win
  for _, w in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_buf(w) == buf then
      win = w
      break
    end
  end
  if not win then
    local cur = vim.api.nvim_get_current_win()
    if replaceable_view(vim.api.nvim_win_get_buf(cur)) then
      vim.api.nvim_win_set_buf(cur, buf)
      win = cur
    else
      win = new_window(buf)
    end
  end
  vim.api.nvim_set_current_win(win)
  M.set_local(win, winopts or {})
  return win
end

--- Opens a file from a view (`<CR>` on a script, a finding): in the window the user
--- came from when the view has its own window, else in the current one; then puts the
--- cursor on `lnum` (1-based) and `col` (0-based bytes) when given.
---@param path string
---@param lnum? integer
---@param col? integer
function M.goto_file(path, lnum, col)
  local cur = vim.api.nvim_get_current_win()
  if vim.b.warden_view then
    local prev = vim.fn.win_getid(vim.fn.winnr('#'))
    if prev ~= 0 and prev ~= cur and not vim.b[vim.api.nvim_win_get_buf(prev)].warden_view then
      vim.api.nvim_set_current_win(prev)
    elseif vim.w[cur].warden_split then
      vim.cmd('aboveleft split')
    end
  end
  vim.cmd.edit(vim.fn.fnameescape(path))
  if lnum then
    local buf = vim.api.nvim_get_current_buf()
    local line = math.max(1, math.min(lnum, vim.api.nvim_buf_line_count(buf)))
    local text = vim.api.nvim_buf_get_lines(buf, line - 1, line, false)[1] or ''
    pcall(vim.api.nvim_win_set_cursor, 0, { line, math.min(col or 0, #text) })
  end
end

--- Closes the current view (`q`): its window when the plugin opened it and it is not
--- the last one, its tab page when it is; in a window the view took over
--- (`views.position = 'current'`), or in the last window, the buffer the user had
--- before the view comes back (else the alternate buffer, else an empty one).
function M.close()
  local win = vim.api.nvim_get_current_win()
  if is_float(win) then
    return vim.api.nvim_win_close(win, false)
  end
  if vim.w[win].warden_split then
    if #tiled_windows() > 1 then
      return vim.api.nvim_win_close(win, false)
    elseif #vim.api.nvim_list_tabpages() > 1 then
      return vim.cmd('tabclose')
    end
  end
  local back = vim.w[win].warden_return
  vim.w[win].warden_return = nil
  if not (back and vim.api.nvim_buf_is_valid(back) and not vim.b[back].warden_view) then
    back = vim.fn.bufnr('#')
    if back == -1 or vim.b[back].warden_view or not vim.bo[back].buflisted then
      back = nil
    end
  end
  if back then
    vim.api.nvim_win_set_buf(win, back)
  else
    vim.cmd('enew')
  end
end

--- Defines highlight groups as default links (a colour scheme or the user may override
--- them), again after every `:colorscheme`.
---@param name string augroup name
---@param links table<string, string> group -> linked group
function M.highlights(name, links)
  local function set()
    for group, link in pairs(links) do
      vim.api.nvim_set_hl(0, group, { link = link, default = true })
    end
  end
  set()
  vim.api.nvim_create_autocmd('ColorScheme', {
    group = vim.api.nvim_create_augroup(name, { clear = true }),
    callback = set,
  })
end

--- A duration for people: `840 ms`, `2.5 s` from ten seconds on; '' for nil.
---@param ms number|nil
---@return string
function M.duration(ms)
  if not ms then
    return ''
  end
  if ms >= 10000 then
    return ('%.1f s'):format(ms / 1000)
  end
  return ('%d ms'):format(ms)
end

return M
