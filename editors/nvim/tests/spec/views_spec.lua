-- The plugin's views against the real server: they open in a split of their own that
-- `q` closes (never the user's window), their buffers are unlisted, their window
-- options stay window-local; the traces kind filter; the pickers through vim.ui.select;
-- :Warden lfindings; <Plug> mappings; :Warden log following the server's log file; the
-- status line redrawn on LspProgress, and the lualine component.

local h = require('helpers')
local lsp = require('warden.lsp')

--- Windows of the current tab page that are not floating.
local function tiled()
  return vim.tbl_filter(function(w)
    return vim.api.nvim_win_get_config(w).relative == ''
  end, vim.api.nvim_tabpage_list_wins(0))
end

--- The first line of a buffer containing `needle` (plain), and its number.
local function find_line(buf, needle)
  for i, l in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    if l:find(needle, 1, true) then
      return l, i
    end
  end
end

--- Replaces vim.ui.select while `fn(calls)` runs (it waits for what it needs):
--- `choose(items, opts)` returns the item to pick (or nil); every call is recorded.
---@param choose fun(items: any[], opts: table): any
---@param fn fun(calls: {items: any[], opts: table}[])
---@return {items: any[], opts: table}[] calls
local function with_select(choose, fn)
  local calls, select = {}, vim.ui.select
  vim.ui.select = function(items, opts, on_choice)
    calls[#calls + 1] = { items = items, opts = opts }
    on_choice(choose(items, opts))
  end
  local ok, err = pcall(fn, calls)
  vim.ui.select = select
  assert(ok, err)
  return calls
end

--- The text Neovim drew on a screen row (0-based), trimmed.
---@param row integer
---@return string
local function drawn_row(row)
  local chars = {}
  for col = 0, vim.o.columns - 1 do
    local ok, cell = pcall(vim.api.nvim__inspect_cell, 1, row, col)
    chars[#chars + 1] = ok and cell[1] or ''
  end
  return vim.trim(table.concat(chars))
end

describe('views', function()
  local ws, src, client

  setup(function()
    ws = h.fixtures()
    h.start()
    src, client = h.open(ws .. '/alpha/scripts/3.00_upload.py')
    h.wait_for_startup_scan(client)
  end)

  teardown(h.stop_all)

  before_each(function()
    vim.cmd('silent! only')
    vim.api.nvim_win_set_buf(0, src)
  end)

  it('open in a split of their own, q closes only the view, and their buffers are unlisted', function()
    local win = vim.api.nvim_get_current_win()
    vim.cmd('Warden usage')
    local view = vim.api.nvim_get_current_win()
    assert.are_not.equal(win, view, 'the view has a window of its own')
    assert.are.equal(2, #tiled())
    assert.are.equal(src, vim.api.nvim_win_get_buf(win), "the user's window still shows the file")
    assert.are.equal('warden://usage', vim.api.nvim_buf_get_name(0))
    -- Another view from a view takes the view's window.
    vim.cmd('Warden traces')
    assert.are.equal(view, vim.api.nvim_get_current_win())
    assert.are.equal('warden://traces', vim.api.nvim_buf_get_name(0))
    assert.are.equal(2, #tiled())
    vim.api.nvim_feedkeys('q', 'x', false)
    assert.is_false(vim.api.nvim_win_is_valid(view))
    assert.are.equal(win, vim.api.nvim_get_current_win())
    assert.are.equal(src, vim.api.nvim_get_current_buf())

    -- Every view: none of their buffers is listed.
    vim.cmd('Warden scripts alpha')
    h.wait(10000, function()
      return h.buf_named('warden://scripts/alpha')
    end, 'the catalog')
    vim.api.nvim_set_current_win(win)
    vim.cmd('Warden runs alpha')
    vim.api.nvim_set_current_win(win)
    vim.cmd('Warden prompt alpha')
    h.wait(10000, function()
      return h.buf_named('warden://prompt/alpha')
    end, 'the prompt buffer')
    vim.api.nvim_set_current_win(win)
    vim.cmd('Warden log')
    local listed = vim.tbl_map(function(b)
      return b.name
    end, vim.fn.getbufinfo({ buflisted = 1 }))
    for _, name in ipairs(listed) do
      assert.is_nil(name:find('^warden://'), vim.inspect(listed))
    end
    for _, name in ipairs({ 'warden://usage', 'warden://traces', 'warden://runs/alpha', 'warden://prompt/alpha' }) do
      assert.is_number(h.buf_named(name), name)
    end
  end)

  it('q in the last window brings back the buffer the user had, not another one', function()
    -- Newer than the usage buffer (opened above): not what `:bprevious` would find.
    vim.cmd.edit(vim.fn.fnameescape(ws .. '/alpha/fresh-q.txt'))
    local mine = vim.api.nvim_get_current_buf()
    assert.is_true(mine > h.buf_named('warden://usage'))
    vim.cmd('Warden usage')
    vim.cmd('only')
    assert.are.equal('warden://usage', vim.api.nvim_buf_get_name(0))
    vim.api.nvim_feedkeys('q', 'x', false)
    assert.are.equal(mine, vim.api.nvim_get_current_buf())
  end)

  it('set their window options window-locally: the next file in that window keeps the user options', function()
    vim.go.wrap, vim.go.cursorline, vim.go.number = true, false, true
    vim.wo.wrap, vim.wo.cursorline, vim.wo.number = true, false, true
    for i, cmd in ipairs({ 'Warden usage', 'Warden traces' }) do
      vim.cmd(cmd)
      local view = vim.api.nvim_get_current_win()
      assert.is_false(vim.wo[view].wrap, cmd)
      assert.is_true(vim.wo[view].cursorline, cmd)
      -- The view window's global values (what a new buffer there starts with) did not
      -- move.
      assert.is_true(vim.go.wrap, cmd)
      assert.is_false(vim.go.cursorline, cmd)
      -- A file opened in the view's window (one never shown before, so it takes the
      -- window's global values) has the user's options.
      vim.cmd.edit(vim.fn.fnameescape(('%s/alpha/fresh-%d.txt'):format(ws, i)))
      assert.is_true(vim.wo[view].wrap, cmd)
      assert.is_false(vim.wo[view].cursorline, cmd)
      assert.is_true(vim.wo[view].number, cmd)
      vim.cmd('silent! only')
      vim.api.nvim_win_set_buf(0, src)
    end
  end)

  it('traces: f shows one kind of span, live updates included, and every kind again', function()
    vim.cmd('Warden traces')
    local buf = vim.api.nvim_get_current_buf()
    h.wait(10000, function()
      return find_line(buf, 'workspace.folders')
    end, 'spans in the traces buffer')
    with_select(function(items, opts)
      assert.are.equal('warden.span.kind', opts.kind)
      assert.are.same({ 'every kind', 'command', 'llm', 'run', 'scan', 'index', 'guard' }, items)
      return 'scan'
    end, function()
      vim.api.nvim_feedkeys('f', 'x', false)
    end)
    h.wait(10000, function()
      return h.text(buf):find('kind scan', 1, true) and find_line(buf, 'workspace.scan')
    end, function()
      return 'the scan spans only:\n' .. h.text(buf)
    end)
    local view = require('warden.traces').views[buf]
    local function kinds()
      local seen = {}
      for _, s in pairs(view.spans) do
        seen[s.kind] = true
      end
      return seen
    end
    assert.are.same({ scan = true }, kinds())
    assert.is_nil(find_line(buf, 'workspace.folders'))
    -- A command span arriving live stays out.
    local started
    local au = vim.api.nvim_create_autocmd('User', {
      pattern = 'WardenTraceStarted',
      callback = function(ev)
        if ev.data.params.name == 'warden.workspace.list' then
          started = true
        end
      end,
    })
    h.command(client, 'warden.workspace.list', {})
    h.wait(5000, function()
      return started
    end, 'the live warden.workspace.list span')
    vim.api.nvim_del_autocmd(au)
    assert.are.same({ scan = true }, kinds())
    -- Back to every kind.
    with_select(function()
      return 'every kind'
    end, function()
      vim.api.nvim_feedkeys('f', 'x', false)
    end)
    h.wait(10000, function()
      return find_line(buf, 'workspace.folders') and find_line(buf, 'warden.workspace.list')
    end, function()
      return 'every kind again:\n' .. h.text(buf)
    end)
    assert.is_nil(h.text(buf):find('kind scan', 1, true))
  end)

  it('pickers go through vim.ui.select: workspaces, traces, findings, and a missing NAME', function()
    local messages, restore = h.capture_notify()
    -- A workspace, then what to do with it.
    local calls = with_select(function(items, opts)
      if opts.kind == 'warden.workspace' then
        for _, w in ipairs(items) do
          if w.name == 'alpha' then
            return w
          end
        end
      end
      for _, a in ipairs(items) do
        if a[1] == 'Activate' then
          return a
        end
      end
    end, function()
      vim.cmd('Warden pick workspaces')
      h.wait_message(messages, 'alpha is the active workspace')
    end)
    assert.are.same({ 'warden.workspace', 'warden.workspace.action' }, { calls[1].opts.kind, calls[2].opts.kind })
    local alpha
    for _, w in ipairs(calls[1].items) do
      alpha = w.name == 'alpha' and w or alpha
    end
    assert.matches('^  alpha  .*alpha  %(open, branch main%)$', calls[1].opts.format_item(alpha))

    -- A workspace action without NAME picks one (the active one is not offered).
    calls = with_select(function(items)
      for _, w in ipairs(items) do
        if w.name == 'default' then
          return w
        end
      end
    end, function()
      vim.cmd('Warden workspace activate')
      h.wait_message(messages, 'default is the active workspace')
    end)
    for _, w in ipairs(calls[1].items) do
      assert.are_not.equal('alpha', w.name)
    end

    -- A trace: the traces buffer opens with it expanded, the cursor on it.
    calls = with_select(function(items)
      for _, s in ipairs(items) do
        if s.name == 'workspace.scan' then
          return s
        end
      end
    end, function(seen)
      vim.cmd('Warden pick traces')
      h.wait(10000, function()
        return #seen > 0
      end, 'the traces picker')
    end)
    assert.are.equal('warden.span', calls[1].opts.kind)
    for _, s in ipairs(calls[1].items) do
      assert.is_nil(s.parentId, 'only top-level spans are offered')
    end
    local tbuf = h.wait(10000, function()
      local b = vim.api.nvim_get_current_buf()
      return vim.api.nvim_buf_get_name(b) == 'warden://traces' and find_line(b, '▾ workspace.scan') and b
    end, 'the traces buffer with the scan expanded')
    local _, lnum = find_line(tbuf, '▾ workspace.scan')
    assert.are.equal(lnum, vim.api.nvim_win_get_cursor(0)[1])
    vim.api.nvim_feedkeys('q', 'x', false)

    -- A finding: the cursor goes there.
    calls = with_select(function(items)
      for _, f in ipairs(items) do
        if f.rule == 'aws-access-key-id' then
          return f
        end
      end
    end, function(seen)
      vim.cmd('Warden pick findings secret')
      h.wait(10000, function()
        return #seen > 0
      end, 'the findings picker')
    end)
    restore()
    assert.are.equal('warden.finding', calls[1].opts.kind)
    local finding
    for _, f in ipairs(calls[1].items) do
      assert.are.equal('secret', f.kind)
      finding = f.rule == 'aws-access-key-id' and f or finding
    end
    assert.matches(
      'alpha/scripts/3%.00_upload%.py:%d+:%d+  %[aws%-access%-key%-id%] ',
      calls[1].opts.format_item(finding)
    )
    assert.are.equal(src, vim.api.nvim_get_current_buf())
    assert.are.equal(finding.range.start.line + 1, vim.api.nvim_win_get_cursor(0)[1])
  end)

  it(':Warden lfindings fills the location list with this workspace, the quickfix list untouched', function()
    vim.fn.setqflist({}, ' ', { title = 'mine', items = {} })
    local win = vim.api.nvim_get_current_win()
    vim.cmd('Warden lfindings')
    local items = h.wait(10000, function()
      local l = vim.fn.getloclist(win)
      return #l > 0 and l
    end, 'the location list')
    assert.are.equal('warden findings of alpha', vim.fn.getloclist(win, { title = 1 }).title)
    for _, it in ipairs(items) do
      assert.matches('^' .. vim.pesc(ws .. '/alpha/'), vim.api.nvim_buf_get_name(it.bufnr))
    end
    assert.are.equal('mine', vim.fn.getqflist({ title = 1 }).title)
    vim.cmd('lclose')
    vim.api.nvim_set_current_win(win)
    vim.cmd('Warden lfindings shell')
    h.wait(10000, function()
      return vim.fn.getloclist(win, { title = 1 }).title == 'warden findings of alpha (shell)'
    end, 'the shell findings')
    for _, it in ipairs(vim.fn.getloclist(win)) do
      assert.matches('^%[shell%-', it.text)
    end
    vim.cmd('lclose')
  end)

  it('<Plug> mappings run the commands, from Visual mode with the selected lines', function()
    assert.matches('Warden explain', vim.fn.maparg('<Plug>(warden-explain)', 'n'), 1, true)
    assert.are.equal(':Warden explain<CR>', vim.fn.maparg('<Plug>(warden-explain)', 'x'))
    assert.are.equal('', vim.fn.maparg('<Plug>(warden-fix)', 'x'))
    vim.fn.setqflist({}, ' ', { title = 'mine', items = {} })
    vim.api.nvim_feedkeys(vim.keycode('<Plug>(warden-findings)'), 'x', false)
    h.wait(10000, function()
      return vim.fn.getqflist({ title = 1 }).title == 'warden findings'
    end, 'the quickfix list from <Plug>(warden-findings)')
    assert.is_true(#vim.fn.getqflist() > 0)
    vim.cmd('cclose')
  end)

  it(":Warden log shows this root's server log and follows it", function()
    local _, err = lsp.request_sync(client, 'warden/debug/panic', {}, 5000)
    assert.is_string(err)
    vim.cmd('Warden log')
    local buf = vim.api.nvim_get_current_buf()
    assert.matches('^warden://log/alpha', vim.api.nvim_buf_get_name(buf))
    assert.are.equal(lsp.log_file(ws .. '/alpha'), client.config.cmd_env.WARDEN_LOG_FILE)
    -- One "panic at" line per panic (the server logs it once more as the handler's).
    local function panics()
      return select(2, h.text(buf):gsub('panic at [^\n]*deliberate panic from warden/debug/panic', ''))
    end
    h.wait(5000, function()
      return panics() >= 1
    end, function()
      return 'the panic in the log:\n' .. h.text(buf)
    end)
    local before = panics()
    lsp.request_sync(client, 'warden/debug/panic', {}, 5000)
    h.wait(5000, function()
      return panics() == before + 1
    end, function()
      return 'the second panic to be followed:\n' .. h.text(buf)
    end)
    -- The cursor follows the end.
    assert.are.equal(vim.api.nvim_buf_line_count(buf), vim.api.nvim_win_get_cursor(0)[1])
    vim.api.nvim_feedkeys('q', 'x', false)
    assert.are.equal(src, vim.api.nvim_get_current_buf())
  end)

  it('redraws the status line as progress arrives; the lualine component shows the same', function()
    vim.o.laststatus = 2
    vim.o.statusline = '%{v:lua.require("warden").status()}'
    local row = vim.o.lines - vim.o.cmdheight - 1
    -- Nothing else in progress (the start-up OSV import).
    h.wait(20000, function()
      return require('warden').status() == 'warden'
    end, 'warden to be idle')
    vim.cmd('redraw')
    assert.are.equal('warden', drawn_row(row))
    -- What the screen showed when the scan began and ended (this autocommand runs after
    -- the plugin's).
    local shown = {}
    local au = vim.api.nvim_create_autocmd('LspProgress', {
      callback = function(ev)
        local v = ev.data.params.value
        if ev.data.client_id == client.id and type(v) == 'table' and v.kind ~= 'report' then
          shown[v.kind] = drawn_row(row)
        end
      end,
    })
    vim.cmd('Warden scan')
    h.wait(20000, function()
      return shown['end']
    end, 'the scan to end')
    vim.api.nvim_del_autocmd(au)
    assert.matches('^warden: scanning alpha', shown.begin)
    assert.are.equal('warden', shown['end'])
    local component = require('lualine.components.warden')
    assert.is_function(component)
    assert.are.equal(require('warden').status(), component())
    vim.o.statusline = ''
  end)
end)
