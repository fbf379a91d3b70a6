-- Workspace search and symbols with the real server on the fixture workspaces: the
-- start-up scan builds the trigram index; `:Warden search QUERY` offers the matching
-- lines through vim.ui.select (`path:line:col: text`, kind warden.search) and choosing one
-- opens the file at the match; without a QUERY vim.ui.input asks; `:Warden! search` fills
-- the quickfix list (byte columns, also after multi-byte text); `/REGEX/` and `glob=`
-- narrow it; an invalid expression is reported through vim.notify, not as a Lua error;
-- `vim.lsp.buf.workspace_symbol()` finds a fixture definition through the server.

local h = require('helpers')
local search = require('warden.search')

---@param path string
---@return string
local function real(path)
  return vim.uv.fs_realpath(path) or path
end

--- Runs `cmd` with vim.ui.select stubbed; returns what the picker was given (waits for it).
---@param cmd string
---@param choose? fun(items: table[]): table|nil the item to choose (default: none)
---@return {items: table[], opts: table}
local function with_select(cmd, choose)
  local got
  local orig = vim.ui.select
  vim.ui.select = function(items, opts, on_choice)
    got = { items = items, opts = opts }
    on_choice(choose and choose(items) or nil)
  end
  local ok, err = pcall(vim.cmd, cmd)
  local waited, werr = pcall(h.wait, 10000, function()
    return got
  end, 'vim.ui.select from ' .. cmd)
  vim.ui.select = orig
  assert(ok, err)
  assert(waited, werr)
  return got
end

---@param got {items: table[], opts: table}
---@return string[]
local function formatted(got)
  return vim.tbl_map(got.opts.format_item, got.items)
end

describe(':Warden search', function()
  local ws, client

  setup(function()
    ws = h.fixtures()
    -- Multi-byte text before the match: the quickfix column is a byte column.
    local f = assert(io.open(ws .. '/alpha/greeting.py', 'w'))
    f:write('GREETING = "héllo wörld, zebra_marker"\n')
    f:close()
    h.start()
    local _
    -- A file no assertion is about: the server indexes a buffer's text once it changes.
    _, client = h.open(ws .. '/alpha/README.md')
    -- The start-up scan fills the index: wait for it to answer, no sleeping.
    h.wait(30000, function()
      local res = h.request(client, 'warden/search', { query = 'rows, total' })
      return #res.results > 0 and #h.request(client, 'warden/search', { query = 'zebra_marker' }).results > 0
    end, 'the start-up scan to index the fixtures')
  end)

  teardown(h.stop_all)

  it('offers the matching lines through vim.ui.select; choosing one opens the file at the match', function()
    local report = ws .. '/alpha/scripts/2.00_report.py'
    local got = with_select('Warden search rows, total', function(items)
      return items[1]
    end)
    assert.are.equal('warden.search', got.opts.kind)
    assert.are.same(
      { 'scripts/2.00_report.py:9:27: print(f"{len(values)} rows, total {sum(values)}")' },
      formatted(got)
    )
    assert.matches('1 line matching rows, total in 1 file', got.opts.prompt, 1, true)
    h.wait(5000, function()
      return real(vim.api.nvim_buf_get_name(0)) == real(report)
    end, 'the report script in the window')
    assert.are.same({ 9, 26 }, vim.api.nvim_win_get_cursor(0))
  end)

  it('asks for the query with vim.ui.input when none is given', function()
    local orig = vim.ui.input
    local prompt
    vim.ui.input = function(opts, on_confirm)
      prompt = opts.prompt
      on_confirm('zebra_marker')
    end
    local ok, got = pcall(with_select, 'Warden search')
    vim.ui.input = orig
    assert(ok, got)
    assert.matches('Search the workspace', prompt, 1, true)
    assert.are.same({ 'greeting.py:1:28: GREETING = "héllo wörld, zebra_marker"' }, formatted(got))
  end)

  it('with a bang fills the quickfix list with file, line and byte column', function()
    vim.fn.setqflist({}, 'r')
    vim.cmd('Warden! search zebra_marker')
    local list = h.wait(10000, function()
      local l = vim.fn.getqflist({ title = 1, items = 1 })
      return #l.items > 0 and l or nil
    end, 'the quickfix list')
    assert.are.equal('warden search: zebra_marker', list.title)
    assert.are.equal(1, #list.items)
    local item = list.items[1]
    assert.are.equal(real(ws .. '/alpha/greeting.py'), real(vim.api.nvim_buf_get_name(item.bufnr)))
    assert.are.equal(1, item.lnum)
    -- 'GREETING = "héllo wörld, ' has two 2-byte letters: character 25, byte 27, column 28.
    assert.are.equal(28, item.col)
    assert.are.equal(28 + #'zebra_marker', item.end_col)
    assert.are.equal('GREETING = "héllo wörld, zebra_marker"', item.text)
    -- The quickfix window opened.
    assert.is_true(vim.fn.getqflist({ winid = 1 }).winid ~= 0)
    vim.cmd('cclose')
  end)

  it('/REGEX/ is a regular expression; glob= narrows the files', function()
    local got = with_select([[Warden search /def\s+\w+\(path/]])
    local lines = formatted(got)
    table.sort(lines)
    assert.are.same({
      'scripts/1.00_fetch.py:6:1: def main(path: str) -> None:',
      'scripts/2.00_report.py:6:1: def main(path: str) -> None:',
      'scripts/3.00_upload.py:7:1: def upload(path: str) -> None:',
    }, lines)
    got = with_select([[Warden search glob=**/3.00_* /def\s+\w+/]])
    assert.are.same({ 'scripts/3.00_upload.py:7:1: def upload(path: str) -> None:' }, formatted(got))
  end)

  it('an invalid expression is reported through vim.notify, not as a Lua error', function()
    local messages, restore = h.capture_notify()
    local ok, err = pcall(vim.cmd, [[Warden search /def\s+(/]])
    local waited, werr = pcall(h.wait_message, messages, 'search failed: .*unclosed group')
    restore()
    assert(ok, err)
    assert(waited, werr)
    local errors = vim.tbl_filter(function(m)
      return m.level == vim.log.levels.ERROR
    end, messages)
    assert.are.equal(1, #errors, vim.inspect(messages))
    assert.matches('^warden: search failed: ', errors[1].msg)
  end)

  it('says so when nothing matches', function()
    local messages, restore = h.capture_notify()
    vim.cmd('Warden search no_such_text_anywhere_42')
    local waited, werr = pcall(h.wait_message, messages, 'no matches for no_such_text_anywhere_42')
    restore()
    assert(waited, werr)
  end)

  it('vim.lsp.buf.workspace_symbol() finds a fixture definition through the server', function()
    h.open(ws .. '/alpha/scripts/2.00_report.py')
    -- The index is there (the searches above answered); ask until the server lists it.
    local items = h.wait(15000, function()
      local got
      vim.lsp.buf.workspace_symbol('upload', {
        on_list = function(t)
          got = t.items
        end,
      })
      vim.wait(2000, function()
        return got ~= nil
      end, 20)
      return got and #got > 0 and got or nil
    end, 'upload among the workspace symbols')
    local found = vim.tbl_filter(function(it)
      return it.filename:match('3%.00_upload%.py$') ~= nil
    end, items)
    assert.are.equal(1, #found, vim.inspect(items))
    assert.are.equal(7, found[1].lnum)
    assert.are.equal(5, found[1].col)
    assert.matches('upload', found[1].text, 1, true)
  end)

  it('completes glob= and workspace=NAME', function()
    local c = require('warden.commands').complete
    assert.are.same({ 'glob=' }, c('gl', 'Warden search gl', 16))
    assert.is_true(vim.tbl_contains(c('workspace=', 'Warden search workspace=', 24), 'workspace=alpha'))
  end)
end)

describe('warden.search (no server)', function()
  it('parses words, options and /REGEX/', function()
    local q, opts = search.parse({ 'glob=src/**', 'rows,', 'total', 'workspace=alpha' })
    assert.are.same({ query = 'rows, total', regex = false, glob = 'src/**', workspace = 'alpha' }, q)
    assert.are.same({ glob = 'src/**', workspace = 'alpha' }, opts)
    assert.are.same({ query = 'a.b', regex = true }, search.parse({ '/a.b/' }))
    local none, kept = search.parse({ 'glob=*.py' })
    assert.is_nil(none)
    assert.are.same({ glob = '*.py' }, kept)
  end)

  it('turns an LSP character offset into a byte column, per encoding', function()
    local line = 'é😀x' -- 2 + 4 bytes, 1 + 2 UTF-16 units, 1 + 1 code points
    assert.are.equal(6, search.byte_col(line, 3, 'utf-16'))
    assert.are.equal(6, search.byte_col(line, 2, 'utf-32'))
    assert.are.equal(6, search.byte_col(line, 6, 'utf-8'))
    local item = search.item({
      workspace = 'alpha',
      uri = vim.uri_from_fname('/w/a.py'),
      path = 'a.py',
      range = { start = { line = 4, character = 3 }, ['end'] = { line = 4, character = 4 } },
      ranges = {},
      text = line,
      before = {},
      after = {},
    }, 'utf-16')
    assert.are.same({ 5, 7, 8 }, { item.lnum, item.col, item.end_col })
    assert.are.equal('alpha/a.py:5:7: é😀x', search.format(item, true))
  end)
end)
