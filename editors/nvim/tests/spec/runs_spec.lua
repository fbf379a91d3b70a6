-- Sandboxed runs against the real server and the real Docker engine: :Warden run streams
-- the buffer's unsaved text's output into a run buffer with its status in the winbar; a
-- failing run's traceback becomes a warden-run diagnostic and the cursor jumps there;
-- :Warden cancel stops a run; :Warden runAll shows its groups with live statuses;
-- :Warden runs lists the history and opens a stored log; :Warden scripts is the
-- catalog; the traces buffer shows the run span; without a workspace name the history,
-- its statistics and search, and the catalog are the current buffer's workspace; the
-- runs picker; the run split keeps its window options to itself. Without an engine
-- the Docker specs skip with a printed reason unless WARDEN_REQUIRE_DOCKER is set.

local h = require('helpers')

describe('run output helpers', function()
  local runs = require('warden.runs')

  it('appends chunks across line ends, drops ANSI escapes and honours carriage returns', function()
    local lines = {}
    assert.are.equal(1, runs.append(lines, 'hel'))
    assert.are.equal(1, runs.append(lines, 'lo\n\27[31mred\27[0m wor'))
    assert.are.equal(2, runs.append(lines, 'ld\r\n10%\r50%\r100%\n'))
    assert.are.same({ 'hello', 'red world', '100%', '' }, lines)
  end)

  it('puts chunks back in seq order', function()
    local b = runs.seq_buffer()
    assert.are.same({}, runs.seq_push(b, 1, 'b'))
    assert.are.same({ 'a', 'b' }, runs.seq_push(b, 0, 'a'))
    assert.are.same({}, runs.seq_push(b, 0, 'again'))
    assert.are.same({ 'c' }, runs.seq_push(b, 2, 'c'))
  end)

  it('renders the winbar of a running and a failed run', function()
    local run = { path = 'scripts/50%_done.py', started = 1000 }
    local bar = runs.winbar(run, 3500)
    assert.matches('running', bar, 1, true)
    assert.matches('scripts/50%%_done.py', bar, 1, true)
    assert.matches('2500 ms', bar, 1, true)
    run.finished = { status = 'failed', message = 'exited with code 1', exitCode = 1, durationMs = 312, artifacts = {} }
    bar = runs.winbar(run, 9999)
    assert.matches('✗ failed', bar, 1, true)
    assert.matches('exited with code 1 · 312 ms', bar, 1, true)
  end)
end)

describe(':Warden run', function()
  if not h.docker() then
    return
  end

  local ws, buf, client
  local runs = require('warden.runs')

  --- Replaces the buffer's text (unsaved: warden runs what the editor has).
  local function set_text(text)
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(text, '\n', { plain = true }))
  end

  local function wait_finished(id, ms)
    return h.wait(ms or 60000, function()
      return runs.runs[id] and runs.runs[id].finished
    end, 'run ' .. id .. ' to finish')
  end

  setup(function()
    ws = h.fixtures()
    h.start()
    buf, client = h.open(ws .. '/alpha/scripts/2.00_report.py')
  end)

  teardown(h.stop_all)

  before_each(function()
    h.revert_all()
    vim.cmd('only')
    vim.api.nvim_win_set_buf(0, buf)
  end)

  it('streams output into the run buffer, stderr highlighted, status in the winbar', function()
    set_text(table.concat({
      'import sys, time',
      'for i in range(1, 6):',
      '    print(f"line {i}", flush=True)',
      '    time.sleep(0.2)',
      'print("oops on stderr", file=sys.stderr, flush=True)',
    }, '\n'))
    -- What the run buffer held each time output arrived.
    local seen, bars = {}, {}
    local au = vim.api.nvim_create_autocmd('User', {
      pattern = 'WardenRunOutput',
      callback = function(ev)
        local run = runs.runs[ev.data.params.runId]
        if run and run.buf then
          seen[#seen + 1] = h.text(run.buf)
          bars[#bars + 1] = vim.wo[vim.fn.win_findbuf(run.buf)[1]].winbar
        end
      end,
    })
    local source_win = vim.api.nvim_get_current_win()
    vim.cmd('Warden run')
    local id = assert(runs.last_run_id)
    local run = runs.runs[id]
    -- The output split opened below; the cursor stayed in the script.
    assert.are.equal(source_win, vim.api.nvim_get_current_win())
    local out_win = vim.fn.win_findbuf(run.buf)[1]
    assert.is_number(out_win)
    assert.matches('running', vim.wo[out_win].winbar, 1, true)
    local finished = wait_finished(id)
    vim.api.nvim_del_autocmd(au)

    assert.are.equal('succeeded', finished.status)
    assert.are.equal(0, finished.exitCode)
    local text = h.text(run.buf)
    assert.are.equal('line 1\nline 2\nline 3\nline 4\nline 5\noops on stderr\n', text)
    -- Streamed: the buffer grew line by line while the script slept between prints.
    -- Chunk boundaries are the engine's: a line may arrive in pieces. What is
    -- deterministic is that each snapshot is a prefix of the final text, and the first
    -- one was taken long before the script ended (it holds at most line 1 and part of 2).
    assert.is_true(#seen >= 5, vim.inspect(seen))
    for _, snapshot in ipairs(seen) do
      assert.is_true(vim.startswith(text, snapshot), vim.inspect({ snapshot = snapshot, final = text }))
    end
    assert.matches('^line 1', seen[1])
    assert.is_nil(seen[1]:find('line 3', 1, true), vim.inspect(seen[1]))
    assert.matches('running', bars[1], 1, true)
    assert.matches('✓ succeeded', vim.wo[out_win].winbar, 1, true)
    -- Only the stderr line is highlighted.
    local marks = vim.api.nvim_buf_get_extmarks(run.buf, -1, 0, -1, { details = true })
    local stderr_rows = {}
    for _, m in ipairs(marks) do
      if m[4].line_hl_group == 'WardenRunStderr' then
        stderr_rows[#stderr_rows + 1] = m[2]
      end
    end
    assert.are.same({ 5 }, stderr_rows)
    -- The stored run has the same output and the script's text version.
    local stored = h.request(client, 'warden/runLog', { runId = id })
    assert.are.equal('line 1\nline 2\nline 3\nline 4\nline 5\n', stored.stdout)
    assert.are.equal('oops on stderr\n', stored.stderr)
    assert.are.equal('scripts/2.00_report.py', stored.path)
    -- The version is the text that ran (unsaved), not the file on disk.
    assert.are.equal(vim.fn.sha256(h.buffer_text(buf)), stored.contentHash)
    assert.are_not.equal(vim.fn.sha256(h.read(ws .. '/alpha/scripts/2.00_report.py')), stored.contentHash)
    assert.matches('^%x+$', stored.head)
  end)

  it('jumps to the failing line of a traceback, shown as a warden-run diagnostic', function()
    set_text(table.concat({
      '"""Divide things."""',
      '',
      '',
      'def f(x):',
      '    return 1 / x',
      '',
      '',
      'print("before", flush=True)',
      'f(0)',
    }, '\n'))
    local messages, restore = h.capture_notify()
    vim.cmd('Warden run')
    local id = runs.last_run_id
    local finished = wait_finished(id)
    assert.are.equal('failed', finished.status)
    assert.are.equal('exited with code 1', finished.message)
    -- The cursor went to the script's deepest frame, where the diagnostic is.
    h.wait(5000, function()
      return vim.api.nvim_get_current_buf() == buf and vim.api.nvim_win_get_cursor(0)[1] == 5
    end, function()
      return ('the cursor on line 5 of the script (at %s:%d)'):format(
        vim.api.nvim_buf_get_name(0),
        vim.api.nvim_win_get_cursor(0)[1]
      )
    end)
    restore()
    local diags = vim.tbl_filter(function(d)
      return d.source == 'warden-run'
    end, vim.diagnostic.get(buf))
    assert.are.equal(1, #diags)
    assert.are.equal(4, diags[1].lnum)
    assert.matches('ZeroDivisionError', diags[1].message)
    h.wait_message(messages, '2.00_report.py:5: .*ZeroDivisionError')
    local run = runs.runs[id]
    -- stdout and stderr reach the engine through separate pipes, so how the two
    -- interleave is not fixed (with unbuffered output `before` and its newline are two
    -- writes, and the traceback may land between them): both are there.
    assert.matches('before', h.text(run.buf), 1, true)
    assert.matches('Traceback', h.text(run.buf), 1, true)
    local bar = vim.wo[vim.fn.win_findbuf(run.buf)[1]].winbar
    assert.matches('✗ failed', bar, 1, true)
    assert.matches('exited with code 1', bar, 1, true)
  end)

  it(':Warden cancel stops a run that loops forever', function()
    set_text('import time\nprint("looping", flush=True)\nwhile True:\n    time.sleep(0.1)\n')
    vim.cmd('Warden run')
    local id = runs.last_run_id
    h.wait(30000, function()
      return #runs.runs[id].lines > 1
    end, 'the loop to start')
    vim.cmd('Warden cancel')
    local finished = wait_finished(id, 20000)
    assert.are.equal('cancelled', finished.status)
    assert.matches('⊘ cancelled', vim.wo[vim.fn.win_findbuf(runs.runs[id].buf)[1]].winbar, 1, true)
  end)

  it(':Warden runAll runs the fixture scripts group by group and shows their statuses', function()
    vim.cmd('Warden runAll alpha')
    local batch_buf = h.wait(10000, function()
      local b = vim.fn.bufnr('warden://runAll/alpha')
      return b ~= -1 and b or nil
    end, 'the run-all buffer')
    h.wait(120000, function()
      return h.text(batch_buf):find('4/4 done', 1, true)
    end, function()
      return 'the batch to finish:\n' .. h.text(batch_buf)
    end)
    local text = h.text(batch_buf)
    -- 1.00 writes its rows; 2.00 finds no rows in its own fresh container; 3.00's
    -- `curl | sh` pipeline ends with sh's status (no curl, no network: nothing
    -- downloaded); 4.00 imports a package that is not installed.
    assert.matches('group 1\n  ✓ scripts/1.00_fetch.py%s+succeeded', text)
    assert.matches('group 2\n  ✗ scripts/2.00_report.py%s+failed', text)
    assert.matches('group 3\n  ✓ scripts/3.00_upload.py%s+succeeded', text)
    assert.matches('group 4\n  ✗ scripts/4.00_train.py%s+failed', text)
    -- <CR> on a member shows its output.
    local win = vim.fn.win_findbuf(batch_buf)[1]
    vim.api.nvim_set_current_win(win)
    local _, lnum = text:find('.*2.00_report.py')
    lnum = select(2, text:sub(1, lnum):gsub('\n', '')) + 1
    vim.api.nvim_win_set_cursor(win, { lnum, 0 })
    vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes('<CR>', true, false, true), 'x', false)
    h.wait(5000, function()
      return vim.bo[vim.api.nvim_get_current_buf()].filetype == 'wardenrun'
        and h.text(0):find('FileNotFoundError', 1, true)
    end, function()
      return "the report run's output: " .. h.text(0)
    end)
  end)

  it(':Warden runs lists the history and <CR> opens a stored log', function()
    vim.cmd('Warden runs alpha')
    local hist = vim.api.nvim_get_current_buf()
    assert.are.equal('wardenruns', vim.bo[hist].filetype)
    local text = h.wait(10000, function()
      local t = h.text(hist)
      return t:find('cancelled', 1, true) and t
    end, function()
      return 'the history: ' .. h.text(hist)
    end)
    -- Newest first: the 4 run-all runs, the cancelled loop, the failure, the success.
    local rows = vim.list_slice(vim.split(text, '\n'), 3)
    assert.are.equal(7, #rows, text)
    assert.matches('^✓ succeeded .* scripts/2.00_report.py', rows[7])
    assert.matches('^✗ failed .* scripts/2.00_report.py .*exit 1', rows[6])
    assert.matches('^⊘ cancelled', rows[5])
    -- The version: the commit it ran at.
    assert.matches(' %x%x%x%x%x%x%x%x ', rows[7])
    vim.api.nvim_win_set_cursor(0, { 9, 0 })
    vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes('<CR>', true, false, true), 'x', false)
    h.wait(5000, function()
      return vim.bo[vim.api.nvim_get_current_buf()].filetype == 'wardenrun'
        and h.text(0):find('oops on stderr', 1, true)
    end, function()
      return 'the stored log: ' .. h.text(0)
    end)
    assert.matches('^line 1\nline 2', h.text(0))
  end)

  it(':Warden scripts lists the catalog in run-all order with the last status', function()
    vim.cmd('Warden scripts alpha')
    local cat = h.wait(10000, function()
      local b = vim.fn.bufnr('warden://scripts/alpha')
      return b ~= -1 and h.text(b):find('4.00_train', 1, true) and b
    end, 'the catalog')
    local text = h.text(cat)
    assert.matches('group 1\n  1%S*%s+scripts/1.00_fetch.py%s+%x+%s+succeeded%s+Fetch the input rows', text)
    assert.matches('scripts/4.00_train.py%s+%x+%s+failed%s+Trains the forecast model', text)
  end)

  it('the traces buffer shows the run span', function()
    vim.cmd('Warden traces alpha')
    local tbuf = vim.api.nvim_get_current_buf()
    h.wait(10000, function()
      for _, l in ipairs(vim.api.nvim_buf_get_lines(tbuf, 0, -1, false)) do
        if l:find('run ', 1, true) and l:find('scripts/2.00_report.py', 1, true) then
          return true
        end
      end
    end, function()
      return 'a run span in the traces buffer:\n' .. h.text(tbuf)
    end)
    local text = h.text(tbuf)
    assert.matches('warden.run', text, 1, true)
    assert.matches('warden.runAll', text, 1, true)
  end)

  it(':Warden runs without a name is the buffer workspace; S and s answer for that workspace', function()
    local messages, restore = h.capture_notify()
    vim.cmd('Warden runs')
    local hist = h.wait(10000, function()
      local b = vim.api.nvim_get_current_buf()
      return vim.api.nvim_buf_get_name(b) == 'warden://runs/alpha' and h.text(b):find('cancelled', 1, true) and b
    end, function()
      return 'the history of alpha: ' .. vim.api.nvim_buf_get_name(0) .. '\n' .. h.text(0)
    end)
    assert.matches('^runs of alpha: 7 shown', h.text(hist))
    -- S: statistics of the same workspace ({ workspace = nil } used to be sent as []).
    vim.api.nvim_feedkeys('S', 'x', false)
    local stats = h.wait(10000, function()
      local b = h.buf_named('warden://runStats/alpha')
      return b and h.text(b):find('scripts/2.00_report.py', 1, true) and b
    end, 'the statistics of alpha')
    assert.are.equal(stats, vim.api.nvim_get_current_buf())
    assert.matches('^run statistics of alpha\n', h.text(stats))
    assert.matches('scripts/2%.00_report%.py +4 +25%%', h.text(stats))
    -- s: search the stored output of the same workspace.
    vim.api.nvim_win_set_buf(0, hist)
    local input = vim.ui.input
    vim.ui.input = function(_, on_confirm)
      on_confirm('oops on stderr|ZeroDivisionError')
    end
    vim.api.nvim_feedkeys('s', 'x', false)
    vim.ui.input = input
    local found = h.wait(10000, function()
      local b = h.buf_named('warden://runSearch/alpha')
      return b and h.text(b)
    end, 'the search results')
    restore()
    assert.matches('^runs of alpha matching /oops on stderr|ZeroDivisionError/: 2 hits', found)
    assert.matches('  > oops on stderr', found, 1, true)
    assert.matches('  > ZeroDivisionError: division by zero', found, 1, true)
    for _, m in ipairs(messages) do
      assert.is_true(m.level < vim.log.levels.ERROR, m.msg)
    end
  end)

  it(':Warden scripts without a name is the catalog of the buffer workspace', function()
    -- The catalog of the test above goes, so this one is built anew.
    vim.api.nvim_buf_delete(assert(h.buf_named('warden://scripts/alpha')), { force = true })
    local messages, restore = h.capture_notify()
    vim.cmd('Warden scripts')
    h.wait(10000, function()
      local b = h.buf_named('warden://scripts/alpha')
      return b and h.text(b):find('4.00_train', 1, true)
    end, function()
      return 'the catalog of alpha; messages: ' .. vim.inspect(messages)
    end)
    restore()
    for _, m in ipairs(messages) do
      assert.is_true(m.level < vim.log.levels.ERROR, m.msg)
    end
  end)

  it(':Warden pick runs picks a stored run and opens its log', function()
    local calls, select = {}, vim.ui.select
    vim.ui.select = function(items, opts, on_choice)
      calls[#calls + 1] = { items = items, opts = opts }
      for _, r in ipairs(items) do
        if r.status == 'failed' and r.batchId == nil then
          return on_choice(r)
        end
      end
      on_choice(nil)
    end
    vim.cmd('Warden pick runs')
    h.wait(10000, function()
      return #calls > 0
    end, 'the runs picker')
    vim.ui.select = select
    assert.are.equal('warden.run', calls[1].opts.kind)
    assert.are.equal(7, #calls[1].items)
    assert.matches(
      '^✗ failed .* scripts/2%.00_report%.py',
      calls[1].opts.format_item(calls[1].items[#calls[1].items - 1])
    )
    h.wait(10000, function()
      return vim.bo[vim.api.nvim_get_current_buf()].filetype == 'wardenrun'
        and h.text(0):find('ZeroDivisionError', 1, true)
    end, function()
      return 'the log of the failed run: ' .. h.text(0)
    end)
  end)

  it('the run split sets its options for itself; the next file there keeps the user options', function()
    vim.go.number, vim.wo.number = true, true
    set_text('print("hi")')
    vim.cmd('Warden run')
    local id = runs.last_run_id
    local out_win = vim.fn.win_findbuf(runs.runs[id].buf)[1]
    wait_finished(id)
    assert.is_false(vim.wo[out_win].number)
    assert.matches('✓ succeeded', vim.wo[out_win].winbar, 1, true)
    assert.is_true(vim.go.number)
    assert.are.equal('', vim.go.winbar)
    assert.are.equal('', vim.wo[vim.api.nvim_get_current_win()].winbar, "the script's window has no winbar")
    -- A file never shown before takes the window's global values.
    vim.api.nvim_win_call(out_win, function()
      vim.cmd.edit(vim.fn.fnameescape(ws .. '/alpha/fresh.txt'))
    end)
    assert.is_true(vim.wo[out_win].number)
    assert.are.equal('', vim.wo[out_win].winbar)
  end)
end)
