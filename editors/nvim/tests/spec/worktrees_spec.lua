-- Worktree collisions with the real server on real `git worktree`s: a file changed,
-- uncommitted, in two worktrees gets a `worktree-collision` warning naming the other
-- worktree and its branch; its code action (a command the plugin runs itself) opens the
-- other copy in a vertical diff against the buffer; `:Warden worktrees` lists the
-- collisions through vim.ui.select and opens the chosen diff; a deleted copy is reported
-- instead of diffed; a commit in the other worktree clears the warning (the server's
-- 2-second poll).

local h = require('helpers')
local worktrees = require('warden.worktrees')

local CODE = 'worktree-collision'

--- Runs git in `dir` without the user's configuration, failing the spec when it fails.
---@param dir string
---@param ... string
---@return string stdout
local function git(dir, ...)
  local res = vim
    .system({ 'git', '-C', dir, ... }, {
      text = true,
      env = {
        GIT_CONFIG_GLOBAL = '/dev/null',
        GIT_CONFIG_NOSYSTEM = '1',
        GIT_AUTHOR_NAME = 'agent',
        GIT_AUTHOR_EMAIL = 'agent@example.invalid',
        GIT_COMMITTER_NAME = 'agent',
        GIT_COMMITTER_EMAIL = 'agent@example.invalid',
      },
    })
    :wait()
  assert(res.code == 0, ('git %s failed: %s'):format(table.concat({ ... }, ' '), res.stderr or ''))
  return res.stdout
end

---@param path string
---@param text string
local function write(path, text)
  local f = assert(io.open(path, 'w'))
  f:write(text)
  f:close()
end

---@param path string
---@return string
local function real(path)
  return vim.uv.fs_realpath(path) or path
end

--- The windows of the current tab in diff mode, with their files (real paths).
---@return string[]
local function diff_files()
  local files = {}
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.wo[win].diff then
      files[#files + 1] = real(vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win)))
    end
  end
  table.sort(files)
  return files
end

--- Applies the code action whose title matches `pattern` at the start of `buf`.
---@param buf integer
---@param pattern string
---@return string[] titles offered
local function apply(buf, pattern)
  vim.api.nvim_win_set_buf(0, buf)
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  local titles = {}
  vim.lsp.buf.code_action({
    apply = true,
    filter = function(action)
      titles[#titles + 1] = action.title
      return action.title:find(pattern) ~= nil
    end,
  })
  return titles
end

describe('worktree collisions', function()
  local main, agent, mine, theirs, original, buf

  setup(function()
    local ws = h.fixtures()
    main = ws .. '/gamma'
    agent = ws .. '/gamma-agent'
    git(main, 'worktree', 'add', '-q', '-b', 'agent/fix', agent)
    mine = main .. '/tools/check.py'
    theirs = agent .. '/tools/check.py'
    original = assert(h.read(mine))
    write(mine, original .. '# mine: check the probe twice\n')
    write(theirs, original .. '# agent: retry the probe on timeout\n')
    h.start()
    buf = h.open(mine)
  end)

  teardown(h.stop_all)

  --- Back to one window showing this worktree's copy; the other copy's buffer wiped.
  after_each(function()
    vim.cmd('silent! diffoff!')
    local win = vim.fn.bufwinid(buf)
    if win ~= -1 then
      vim.api.nvim_set_current_win(win)
    end
    vim.cmd('silent! only!')
    vim.api.nvim_win_set_buf(0, buf)
    local other = vim.fn.bufnr(theirs)
    if other ~= -1 and other ~= buf then
      vim.api.nvim_buf_delete(other, { force = true })
    end
  end)

  it('warns on the first line, naming the other worktree and its branch', function()
    local d = h.wait_diagnostic(buf, CODE)
    assert.are.equal(vim.diagnostic.severity.WARN, d.severity)
    assert.are.same({ 0, 0, 0, 0 }, { d.lnum, d.col, d.end_lnum, d.end_col })
    assert.matches('^Also changed, uncommitted, in the worktree .*gamma%-agent %(branch agent/fix%)$', d.message)
    local list = worktrees.collisions(buf)
    assert.are.equal(1, #list, vim.inspect(list))
    assert.are.equal('agent/fix', list[1].branch)
    assert.are.equal(real(agent), real(list[1].worktree))
    assert.are.equal(real(theirs), real(vim.uri_to_fname(list[1].uri)))
    assert.matches('^gamma%-agent %(agent/fix%)  ', worktrees.format(list[1]))
  end)

  it('its code action opens the other copy in a vertical diff against the buffer', function()
    h.wait_diagnostic(buf, CODE)
    local titles = apply(buf, '^Compare with the copy in worktree gamma%-agent %(agent/fix%)$')
    h.wait(10000, function()
      return #diff_files() == 2
    end, function()
      return ('two windows in diff mode (have %s); actions offered: %s'):format(
        vim.inspect(diff_files()),
        vim.inspect(titles)
      )
    end)
    local want = { real(mine), real(theirs) }
    table.sort(want)
    assert.are.same(want, diff_files())
    -- Side by side (a vertical split), the other copy with the cursor.
    local wins = vim.api.nvim_tabpage_list_wins(0)
    assert.are.equal(2, #wins)
    assert.are.equal(vim.api.nvim_win_get_height(wins[1]), vim.api.nvim_win_get_height(wins[2]))
    assert.are.equal(real(theirs), real(vim.api.nvim_buf_get_name(0)))
    assert.matches('# agent: retry the probe on timeout', h.text(0), 1, true)
  end)

  it(':Warden worktrees lists the collisions through vim.ui.select and opens the chosen diff', function()
    h.wait_diagnostic(buf, CODE)
    assert.are.same({ 'gamma-agent' }, vim.fn.getcompletion('Warden worktrees ', 'cmdline'))
    local offered, prompt
    local select = vim.ui.select
    vim.ui.select = function(items, opts, on_choice)
      offered = vim.tbl_map(opts.format_item, items)
      prompt = opts.prompt
      on_choice(items[1], 1)
    end
    local ok, err = pcall(vim.cmd, 'Warden worktrees')
    vim.ui.select = select
    assert.is_true(ok, err)
    assert.are.equal(1, #offered, vim.inspect(offered))
    assert.matches('^gamma%-agent %(agent/fix%)  ', offered[1])
    assert.matches('worktree', prompt)
    local want = { real(mine), real(theirs) }
    table.sort(want)
    assert.are.same(want, diff_files())
    -- By name, without asking.
    vim.cmd('silent! diffoff!')
    vim.cmd('silent! only!')
    vim.api.nvim_win_set_buf(0, buf)
    vim.cmd('Warden worktrees gamma-agent')
    assert.are.same(want, diff_files())
  end)

  it('a copy deleted in the other worktree is reported instead of diffed', function()
    h.wait_diagnostic(buf, CODE)
    os.remove(theirs)
    local messages, restore = h.capture_notify()
    local ok, err = pcall(function()
      local titles = apply(buf, '^Compare with the copy in worktree gamma%-agent')
      h.wait_message(
        messages,
        'check%.py no longer exists in the worktree .*gamma%-agent %(branch agent/fix%); nothing to compare'
      )
      assert.are.same({}, diff_files(), vim.inspect(titles))
    end)
    restore()
    write(theirs, original .. '# agent: retry the probe on timeout\n')
    assert.is_true(ok, err)
  end)

  it('goes away once the other worktree commits its change (the server polls)', function()
    h.wait_diagnostic(buf, CODE)
    git(agent, 'commit', '-q', '-am', 'agent: retry the probe')
    h.wait(15000, function()
      return #h.diagnostics(buf, CODE) == 0
    end, 'the worktree-collision warning to go after the commit')
    assert.are.same({}, worktrees.collisions(buf))
    local messages, restore = h.capture_notify()
    vim.cmd('Warden worktrees')
    restore()
    assert.are.equal(1, #messages)
    assert.matches('no other worktree has uncommitted changes to this file', messages[1].msg)
  end)
end)
