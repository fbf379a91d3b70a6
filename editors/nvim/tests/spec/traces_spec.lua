-- The traces buffer against the real server: spans from start-up, live updates from
-- warden/traceStarted and warden/traceFinished, the tree of a scan, <CR> details, a
-- running span, and the workspace filter.

local h = require('helpers')

--- The first line of a buffer matching a plain string, and its number.
---@param buf integer
---@param needle string
---@return string|nil line, integer|nil lnum
local function find_line(buf, needle)
  for i, l in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    if l:find(needle, 1, true) then
      return l, i
    end
  end
end

---@param buf integer
---@param needle string
---@return string line, integer lnum
local function wait_line(buf, needle, ms)
  local lnum
  local line = h.wait(ms or 10000, function()
    local l, n = find_line(buf, needle)
    lnum = n
    return l
  end, function()
    return ('a line with %q in the traces buffer:\n%s'):format(needle, h.text(buf))
  end)
  return line, lnum
end

--- Asserts a span line's timing bar (after the name) is 20 cells of ░ with some █.
---@param line string
---@param name string
local function assert_bar(line, name)
  local bar = line:match(vim.pesc(name) .. ' +(%S+) ')
  assert.is_string(bar, line)
  assert.are.equal(20, vim.fn.strchars(bar), line)
  assert.is_truthy(bar:find('█', 1, true), line)
  assert.are.equal('', (bar:gsub('░', ''):gsub('█', '')), line)
end

describe('traces buffer', function()
  local ws, buf, client

  setup(function()
    ws = h.fixtures()
    h.start()
    local _
    _, client = h.open(ws .. '/alpha/scripts/1.00_fetch.py')
    h.wait_for_startup_scan(client)
  end)

  teardown(h.stop_all)

  it('shows the spans recorded so far, with timing bars', function()
    vim.cmd('Warden traces')
    buf = vim.api.nvim_get_current_buf()
    assert.are.equal('warden://traces', vim.api.nvim_buf_get_name(buf))
    assert.are.equal('wardentraces', vim.bo[buf].filetype)
    assert.is_false(vim.bo[buf].modifiable)
    local scan = wait_line(buf, 'workspace.scan')
    assert.matches('^%d%d:%d%d:%d%d ▸ workspace%.scan +%S+ +%d+ ms  ok +scan +%[alpha%]$', scan)
    assert_bar(scan, 'workspace.scan')
    assert.matches('▸ workspace%.folders .* ok +index', wait_line(buf, 'workspace.folders'))
    assert.matches('^warden traces — all workspaces — %d+ spans — live', h.text(buf))
  end)

  it('adds a command span live, without reloading', function()
    local requests = 0
    -- Count warden/traces requests: a live update must not need one.
    local lsp = require('warden.lsp')
    local orig_request = lsp.request
    lsp.request = function(c, method, ...)
      if method == 'warden/traces' then
        requests = requests + 1
      end
      return orig_request(c, method, ...)
    end
    vim.cmd('Warden workspace activate alpha')
    local line = wait_line(buf, 'warden.workspace.activate')
    lsp.request = orig_request
    assert.are.equal(0, requests)
    assert.matches('▸ warden%.workspace%.activate +%S+ +%d+ ms  ok +command +%[alpha%]', line)
    assert_bar(line, 'warden.workspace.activate')
    -- Newest root first.
    local _, activate = find_line(buf, 'warden.workspace.activate')
    local _, scan = find_line(buf, 'workspace.scan')
    assert.is_true(activate < scan)
  end)

  it('<CR> expands a span to its input and output, and collapses it again', function()
    vim.api.nvim_win_set_buf(0, buf)
    local _, lnum = wait_line(buf, 'warden.workspace.activate')
    vim.api.nvim_win_set_cursor(0, { lnum, 0 })
    vim.api.nvim_feedkeys(vim.keycode('<CR>'), 'x', false)
    local text = h.text(buf)
    assert.matches('▾ warden.workspace.activate', text, 1, true)
    assert.matches('input    {\n +"name": "alpha"\n +}', text)
    assert.matches('output   {\n', text, 1, true)
    assert.matches('"active": true', text, 1, true)
    assert.matches('tokens   input 0  output 0  cached 0', text, 1, true)
    -- The cursor stays on the span.
    assert.are.equal(lnum, vim.api.nvim_win_get_cursor(0)[1])
    vim.api.nvim_feedkeys(vim.keycode('<CR>'), 'x', false)
    assert.is_nil(h.text(buf):find('"name": "alpha"', 1, true))
  end)

  it('shows a scan as a command span with its scan span as child', function()
    vim.api.nvim_set_current_buf(vim.fn.bufnr(ws .. '/alpha/scripts/1.00_fetch.py'))
    vim.cmd('Warden scan')
    vim.api.nvim_win_set_buf(0, buf)
    local root, root_lnum = wait_line(buf, 'warden.scan.workspace')
    assert.matches('command +%[alpha%]', root)
    local child = h.wait(15000, function()
      local line = vim.api.nvim_buf_get_lines(buf, root_lnum, root_lnum + 1, false)[1]
      return line and line:find('└ ▸ workspace.scan', 1, true) and line:find(' ok ', 1, true) and line
    end, function()
      return 'the scan child span under its command:\n' .. h.text(buf)
    end)
    assert.matches('^ +└ ▸ workspace%.scan +%S+ +%d+ ms  ok +scan', child)
    assert_bar(child, 'workspace.scan')
  end)

  it('shows a running span, then its end', function()
    local lsp = require('warden.lsp')
    lsp.request(client, 'warden/debug/hold', { ms = 3000 }, function() end)
    -- Other spans may be running too (the search index after a scan): wait for this one.
    local running = h.wait(10000, function()
      local l = find_line(buf, 'debug.hold')
      return l and l:find('…  running', 1, true) and l
    end, function()
      return 'the held span, running, in the traces buffer:\n' .. h.text(buf)
    end)
    assert.matches('debug%.hold +%S+ +%d+ ms…  running', running)
    local done = h.wait(10000, function()
      local l = find_line(buf, 'debug.hold')
      return l and not l:find('running', 1, true) and l
    end, 'the held span to finish')
    assert.matches('debug%.hold +%S+ +3%d%d%d ms  ok', done)
    assert_bar(done, 'debug.hold')
  end)

  it('filters by workspace', function()
    h.open(ws .. '/beta/src/index.js')
    h.wait(10000, function()
      for _, w in ipairs(require('warden.lsp').known_workspaces()) do
        if w.name == 'beta' then
          return true
        end
      end
    end, 'the beta workspace to be registered')
    local messages, restore = h.capture_notify()
    vim.cmd('Warden workspace activate beta')
    h.wait_message(messages, 'beta is the active workspace')
    vim.cmd('Warden traces beta')
    restore()
    local beta = vim.api.nvim_get_current_buf()
    assert.are.equal('warden://traces/beta', vim.api.nvim_buf_get_name(beta))
    wait_line(beta, 'warden.workspace.activate')
    local text = h.text(beta)
    assert.matches('workspace beta', text, 1, true)
    assert.is_nil(text:find('[alpha]', 1, true))
    for _, m in ipairs(messages) do
      assert.is_true(m.level < vim.log.levels.WARN, m.msg)
    end
    for _, l in ipairs(vim.api.nvim_buf_get_lines(beta, 3, -1, false)) do
      if l:find('^%d') then
        assert.matches('%[beta%]', l)
      end
    end
  end)
end)
