---@mod warden.ui Scratch buffers shared by the plugin's views (traces, usage, runs).

local M = {}

--- The buffer named `name`, created as an unlisted-on-wipe scratch buffer (`nofile`,
--- hidden when abandoned, read-only) the first time; `created` tells whether it is new,
--- so callers set their mappings once.
---@param name string e.g. `warden://traces`
---@param filetype string
---@return integer buf, boolean created
function M.scratch(name, filetype)
  local buf = vim.fn.bufnr(name)
  if buf ~= -1 then
    return buf, false
  end
  buf = vim.api.nvim_create_buf(true, true)
  vim.api.nvim_buf_set_name(buf, name)
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'hide'
  vim.bo[buf].swapfile = false
  vim.bo[buf].modifiable = false
  vim.bo[buf].filetype = filetype
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

--- Closes the current window, or shows the previous buffer when it is the last one.
function M.close()
  if #vim.api.nvim_list_wins() > 1 then
    vim.api.nvim_win_close(0, false)
  else
    vim.cmd('bprevious')
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
