-- Fix until it runs against the real server, the real Docker engine and the scripted
-- loopback provider (warden-mock-llm): :Warden fixUntilGreen on a failing script reports
-- each round (round 1 still fails, round 2 runs), opens a diff split (the file and a
-- warden-fix:// scratch buffer with the fixed text, diff on in both), and :Warden accept
-- applies the fix to the buffer (unsaved, the file on disk untouched) and closes the
-- split; the traces buffer shows the fix.round spans with their outcome; :Warden discard
-- leaves the buffer as it was. Pure helpers are checked without a server. Without an
-- engine the Docker specs skip with a printed reason unless WARDEN_REQUIRE_DOCKER is set.

local h = require('helpers')

describe('fix until it runs: helpers', function()
  local fix = require('warden.fix')

  it('round lines: k/N, the outcome, the blamed line cut, replayed rounds', function()
    local r = { n = 1, outcome = 'failing', cached = false, message = "line 7: NameError: name 'nme'\n is not defined" }
    assert.are.equal("round 1/3: failing — line 7: NameError: name 'nme' is not defined", fix.round_line(r, 3))
    assert.are.equal(
      'round 2/3: no fix (replayed)',
      fix.round_line({ n = 2, outcome = 'noFix', cached = true, message = vim.NIL }, 3)
    )
    local long = fix.round_line({ n = 4, outcome = 'error', cached = false, message = ('x'):rep(200) }, 3)
    assert.matches('^round 4/4: error — x+…$', long)
  end)

  it('verdicts and round tags', function()
    local failing = { n = 1, outcome = 'failing' }
    assert.are.equal(
      'green after 2 rounds',
      fix.verdict({ green = true, rounds = { failing, { n = 2, outcome = 'green' } } })
    )
    assert.are.equal('still failing after 1 round', fix.verdict({ green = false, rounds = { failing } }))
    assert.are.equal(
      'not green: the budget is spent',
      fix.verdict({ green = false, stopped = 'the budget is spent', rounds = { { n = 1, outcome = 'refused' } } })
    )
    local span =
      { kind = 'command', name = 'fix.round', input = { round = 2 }, output = { outcome = 'green', cached = true } }
    assert.are.equal('round 2 · green · cached', fix.round_tag(span, true))
    assert.are.equal('round 2 …', fix.round_tag(span, false))
    assert.is_nil(fix.round_tag({ kind = 'llm', name = 'fix.round' }, true))
  end)

  it('parses rounds=N and budget=USD', function()
    assert.are.same({ rounds = 5, budget = 0.05 }, fix.parse_args({ 'rounds=5', 'budget=0.05' }))
    assert.are.same({}, fix.parse_args({}))
    local none, err = fix.parse_args({ 'rounds=two' })
    assert.is_nil(none)
    assert.matches('bad argument "rounds=two"', err, 1, true)
    assert.is_nil((fix.parse_args({ 'rounds=1.5' })))
  end)

  it('accepting with nothing pending says so', function()
    local messages, restore = h.capture_notify()
    assert.is_nil(fix.answer(true))
    restore()
    assert.matches('no fix is waiting', messages[1].msg, 1, true)
  end)
end)

describe(':Warden fixUntilGreen', function()
  if not h.docker() then
    return
  end

  local ws, mock, fix
  fix = require('warden.fix')

  --- The script: `mean` divides by `body`.
  local function script(body)
    return table.concat({
      '"""Averages."""',
      '',
      '',
      'def mean(xs):',
      '    return sum(xs) / ' .. body,
      '',
      '',
      'print(mean([1, 2, 3]))',
      '',
    }, '\n')
  end

  --- The model's reply: the whole fixed file in a code block.
  local function reply(body)
    return { text = "Divide by the list's length.\n\n```python\n" .. script(body) .. '```\n', chunk = 16 }
  end

  --- Writes a new script and opens it.
  local function open_script(name, text)
    local path = ws .. '/alpha/scripts/' .. name
    local f = assert(io.open(path, 'w'))
    f:write(text)
    f:close()
    local buf = h.open(path)
    return buf, path
  end

  --- Windows of the current tab page with 'diff' on.
  local function diff_wins()
    return vim.tbl_filter(function(w)
      return vim.wo[w].diff
    end, vim.api.nvim_tabpage_list_wins(0))
  end

  --- Waits for the diff split of loop `id`; returns the scratch buffer.
  local function wait_diff(id)
    return h.wait(120000, function()
      local loop = fix.loops[id]
      return loop and loop.diff and #diff_wins() == 2 and loop.diff.buf
    end, function()
      local loop = fix.loops[id]
      return ('the diff split of %s (loop: %s)'):format(
        id,
        vim.inspect(loop and { rounds = loop.rounds, finished = loop.finished })
      )
    end)
  end

  setup(function()
    ws = h.fixtures()
    mock = h.mock_llm()
    h.start({ settings = { llm = h.llm_settings(mock) } })
  end)

  teardown(function()
    h.stop_all()
    if mock then
      mock.stop()
    end
  end)

  before_each(function()
    h.revert_all()
    vim.cmd('only')
  end)

  it('reports each round, shows the fix in a diff split, and :Warden accept applies it', function()
    local broken = script('count')
    local buf, path = open_script('5.00_mean.py', broken)
    local messages, restore = h.capture_notify()
    -- Round 1's fix still fails (another NameError); round 2's runs.
    mock.script(reply('len(ys)'))
    mock.script(reply('len(xs)'))
    local before = #mock.requests()
    vim.cmd('Warden fixUntilGreen')
    local id = assert(fix.last_request_id)
    local sbuf = wait_diff(id)
    restore()

    h.wait_message(messages, 'round 1/3: failing — .*NameError', 1000)
    h.wait_message(messages, 'round 2/3: green', 1000)
    local loop = fix.loops[id]
    assert.is_true(loop.finished.green)
    assert.are.equal(2, #loop.rounds)
    assert.are.equal(2, #mock.requests() - before, 'one model call per round')
    assert.matches("name 'count' is not defined", mock.requests()[before + 1].body, 1, true)

    -- The scratch buffer: the fixed text, read-only, the file's filetype, to the right.
    assert.are.equal('warden-fix://' .. path, vim.api.nvim_buf_get_name(sbuf))
    assert.are.equal('nofile', vim.bo[sbuf].buftype)
    assert.are.equal('python', vim.bo[sbuf].filetype)
    assert.is_false(vim.bo[sbuf].modifiable)
    assert.are.equal(script('len(xs)'), h.text(sbuf) .. '\n')
    local swin = vim.fn.win_findbuf(sbuf)[1]
    assert.matches('green after 2 rounds', vim.wo[swin].winbar, 1, true)
    assert.is_true(vim.tbl_contains(diff_wins(), vim.fn.win_findbuf(buf)[1]), 'diff on in the file window')
    assert.are.equal(broken, h.text(buf) .. '\n', 'nothing applied yet')

    -- Accept from the scratch buffer.
    vim.api.nvim_set_current_win(swin)
    local answered
    local au = vim.api.nvim_create_autocmd('User', {
      pattern = 'WardenFixAnswered',
      once = true,
      callback = function(ev)
        answered = ev.data
      end,
    })
    vim.cmd('Warden accept')
    h.wait(10000, function()
      return answered
    end, 'the answer to fixAccept')
    pcall(vim.api.nvim_del_autocmd, au)
    assert.is_true(answered.accepted)
    assert.is_true(answered.result.applied, vim.inspect(answered.result))
    h.wait(5000, function()
      return h.text(buf) .. '\n' == script('len(xs)')
    end, function()
      return 'the fix in the buffer, have:\n' .. h.text(buf)
    end)
    assert.is_true(vim.bo[buf].modified, 'applied, not saved')
    assert.are.equal(broken, h.read(path), 'the file on disk is untouched')
    assert.is_false(vim.api.nvim_buf_is_valid(sbuf), 'the scratch buffer is gone')
    assert.are.same({}, diff_wins())
    assert.is_nil(fix.loops[id])

    -- The traces buffer shows the loop's rounds with their outcome.
    vim.cmd('Warden traces alpha command')
    local tbuf = vim.api.nvim_get_current_buf()
    h.wait(10000, function()
      local text = h.text(tbuf)
      return text:find('fix.round', 1, true)
        and text:find('round 1 · failing', 1, true)
        and text:find('round 2 · green', 1, true)
    end, function()
      return 'fix.round spans in the traces buffer:\n' .. h.text(tbuf)
    end)
    assert.matches('warden.llm.fixUntilGreen', h.text(tbuf), 1, true)
    vim.cmd('close')
  end)

  it(':Warden discard leaves the buffer as it was and closes the split', function()
    local broken = script('n')
    local buf, path = open_script('6.00_mean.py', broken)
    mock.script(reply('len(xs)'))
    local messages, restore = h.capture_notify()
    vim.cmd('Warden fixUntilGreen rounds=2')
    local id = assert(fix.last_request_id)
    local sbuf = wait_diff(id)
    h.wait_message(messages, 'round 1/2: green', 1000)
    -- From the file's window this time.
    vim.api.nvim_set_current_win(vim.fn.win_findbuf(buf)[1])
    local answered
    vim.api.nvim_create_autocmd('User', {
      pattern = 'WardenFixAnswered',
      once = true,
      callback = function(ev)
        answered = ev.data
      end,
    })
    vim.cmd('Warden discard')
    h.wait(10000, function()
      return answered
    end, 'the answer to fixDiscard')
    restore()
    assert.is_false(answered.accepted)
    assert.is_true(answered.result.discarded, vim.inspect(answered.result))
    h.wait_message(messages, 'fix of 6.00_mean.py discarded', 1000)
    assert.are.equal(broken, h.text(buf) .. '\n')
    assert.is_false(vim.bo[buf].modified)
    assert.are.equal(broken, h.read(path))
    assert.is_false(vim.api.nvim_buf_is_valid(sbuf))
    assert.are.same({}, diff_wins())
    -- Nothing is left to answer.
    local again, restore2 = h.capture_notify()
    vim.cmd('Warden accept')
    restore2()
    assert.matches('no fix is waiting', again[1].msg, 1, true)
  end)
end)
