---@mod warden.worktrees Worktree collisions: the same file changed in two worktrees.
---
--- When a file has uncommitted changes in more than one worktree of its repository
--- (`git worktree`), the server puts a `worktree-collision` warning on its first line
--- naming the other worktrees and their branches (`data.worktrees`), and offers, per
--- other worktree, the code action *Compare with the copy in worktree NAME (BRANCH)*.
--- Its command, `warden.worktrees.compare {uri, otherUri, worktree, branch}`, is run by
--- the editor, not the server: `M.compare` shows the document and opens the other copy
--- beside it with `:vertical diffsplit`. `:Warden worktrees [NAME]` lists the current
--- buffer's collisions through `vim.ui.select` and opens the chosen diff.

local lsp = require('warden.lsp')

local M = {}

--- The diagnostic code of a worktree collision.
M.code = 'worktree-collision'

---@class warden.WorktreeCollision
---@field worktree string the other worktree's folder
---@field branch? string its branch; nil when its HEAD is detached
---@field uri string the other copy of the file

---@class warden.WorktreeCompareArgs
---@field uri string this document
---@field otherUri string the same file in the other worktree
---@field worktree string the other worktree's folder
---@field branch? string its branch; nil when detached

---@param msg string
---@param level? integer
local function say(msg, level)
  vim.notify('warden: ' .. msg, level or vim.log.levels.INFO)
end

--- `agent/fix`, or `detached HEAD`.
---@param branch string|nil
---@return string
local function branch_text(branch)
  return branch and ('branch ' .. branch) or 'detached HEAD'
end

--- The other worktrees changing the buffer's file too, from its `worktree-collision`
--- diagnostics (copies without a file URI left out).
---@param bufnr? integer
---@return warden.WorktreeCollision[]
function M.collisions(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local out, seen = {}, {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local raw = d.user_data and d.user_data.lsp
    if d.source == 'warden' and d.code == M.code and type(raw) == 'table' and type(raw.data) == 'table' then
      local data = lsp.denull(vim.deepcopy(raw.data))
      for _, w in ipairs(type(data.worktrees) == 'table' and data.worktrees or {}) do
        if type(w.uri) == 'string' and type(w.worktree) == 'string' and not seen[w.uri] then
          seen[w.uri] = true
          out[#out + 1] = { worktree = w.worktree, branch = w.branch, uri = w.uri }
        end
      end
    end
  end
  return out
end

--- How a collision reads in a list: `app-agent (agent/fix)  /tmp/x/app-agent`.
---@param c warden.WorktreeCollision
---@return string
function M.format(c)
  local name = vim.fs.basename((c.worktree:gsub('/+$', '')))
  return ('%s (%s)  %s'):format(name, c.branch or 'detached HEAD', vim.fn.fnamemodify(c.worktree, ':~'))
end

--- Shows the buffer of `file` in the current tab: a window already showing it, else the
--- current window.
---@param file string
local function show(file)
  local buf = vim.fn.bufnr(file)
  if buf ~= -1 then
    for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
      if vim.api.nvim_win_get_buf(win) == buf then
        vim.api.nvim_set_current_win(win)
        return
      end
    end
    if vim.api.nvim_buf_is_loaded(buf) then
      vim.cmd.buffer(buf)
      return
    end
  end
  vim.cmd.edit(vim.fn.fnameescape(file))
end

--- `warden.worktrees.compare`: shows the document `uri` and opens the other worktree's
--- copy beside it in diff mode (`:vertical diffsplit`; the new window takes the cursor).
--- When the other copy no longer exists it says so instead. Returns whether a diff
--- opened.
---@param args warden.WorktreeCompareArgs
---@return boolean
function M.compare(args)
  args = lsp.denull(vim.deepcopy(args or {}))
  if type(args.uri) ~= 'string' or type(args.otherUri) ~= 'string' then
    say('warden.worktrees.compare needs {uri, otherUri, worktree, branch}', vim.log.levels.ERROR)
    return false
  end
  local other = vim.uri_to_fname(args.otherUri)
  if not vim.uv.fs_stat(other) then
    say(
      ('%s no longer exists in the worktree %s (%s); nothing to compare'):format(
        vim.fs.basename(other),
        args.worktree or vim.fs.dirname(other),
        branch_text(args.branch)
      )
    )
    return false
  end
  show(vim.uri_to_fname(args.uri))
  vim.cmd('vertical diffsplit ' .. vim.fn.fnameescape(other))
  return true
end

--- The handler Neovim calls for the code action's command (`commands` of the client).
---@param command lsp.Command
---@param ctx? table
function M.command(command, ctx)
  local _ = ctx
  M.compare(command.arguments and command.arguments[1] or {})
end

--- `:Warden worktrees [NAME]`: the other worktrees changing the current buffer's file;
--- NAME (a worktree's folder name or path) opens its diff at once, else one is picked
--- through `vim.ui.select`.
---@param name? string
function M.pick(name)
  local buf = vim.api.nvim_get_current_buf()
  local list = M.collisions(buf)
  if #list == 0 then
    return say('no other worktree has uncommitted changes to this file')
  end
  local function open(c)
    M.compare({ uri = vim.uri_from_bufnr(buf), otherUri = c.uri, worktree = c.worktree, branch = c.branch })
  end
  if name then
    for _, c in ipairs(list) do
      if c.worktree == name or vim.fs.basename((c.worktree:gsub('/+$', ''))) == name then
        return open(c)
      end
    end
    return say(
      ('no worktree %q changes this file; :Warden worktrees lists those that do'):format(name),
      vim.log.levels.ERROR
    )
  end
  vim.ui.select(list, {
    prompt = 'Compare with the copy in which worktree?',
    format_item = M.format,
    kind = 'warden.worktree',
  }, function(choice)
    if choice then
      open(choice)
    end
  end)
end

--- Folder names of the current buffer's colliding worktrees (for completion).
---@return string[]
function M.names()
  return vim.tbl_map(function(c)
    return vim.fs.basename((c.worktree:gsub('/+$', '')))
  end, M.collisions(0))
end

return M
