-- LLM actions against the real server and the real scripted loopback provider
-- (warden-mock-llm): explain streams into a float with the planted key restored while
-- the provider only ever sees a placeholder; rewrite, fix, docstring and tests edit
-- through workspace/applyEdit (undoable); :Warden cancel and closing the float end a
-- slow reply; a reply importing a malicious package asks through Neovim's own
-- window/showMessageRequest handler; :Warden retry runs the last action again with
-- noCache, after a reply that could not be applied and past a cached explanation.

local h = require('helpers')

local KEY = 'AKIAQ3EGRB4XY7MNP2KD'

describe('LLM actions', function()
  local ws, mock, buf, client, file, original

  setup(function()
    ws = h.fixtures()
    mock = h.mock_llm()
    h.start({ settings = { llm = h.llm_settings(mock) } })
    file = ws .. '/alpha/scripts/3.00_upload.py'
    buf, client = h.open(file)
    original = h.text(buf)
    -- Analysis done (the secret is known), and the OSV data imported for the package
    -- check.
    h.wait_diagnostic(buf, 'aws-access-key-id')
    h.wait(20000, function()
      for _, s in ipairs(h.request(client, 'warden/traces', { kind = 'index' }).traces) do
        if s.name == 'osv.import' and s.outcome == 'ok' then
          return true
        end
      end
    end, 'the OSV import')
  end)

  teardown(function()
    h.stop_all()
    if mock then
      mock.stop()
    end
  end)

  before_each(function()
    -- Back to the file, unchanged, with no float open.
    for _, win in ipairs(vim.api.nvim_list_wins()) do
      if vim.api.nvim_win_get_config(win).relative ~= '' then
        vim.api.nvim_win_close(win, true)
      end
    end
    h.revert_all()
    vim.api.nvim_win_set_buf(0, buf)
  end)

  it('explain streams into a float; the key is restored there and never left', function()
    local llm = require('warden.llm')
    local reply = 'The constant holds the access key __WARDEN_SECRET_1__, hard-coded.\n\n'
      .. 'Rotate it, then read it from the environment.'
    mock.script({ text = reply, chunk = 4, delayMs = 15 })
    -- What the float showed after each chunk, and whether the final result was in.
    local seen = {}
    local au = vim.api.nvim_create_autocmd('User', {
      pattern = 'WardenLlmChunk',
      callback = function(ev)
        local req = llm.running[ev.data.params.requestId]
        if req and req.float then
          seen[#seen + 1] = table.concat(vim.api.nvim_buf_get_lines(req.float.buf, 0, -1, false), '\n')
        end
      end,
    })
    vim.api.nvim_win_set_cursor(0, { 4, 0 })
    local before = #mock.requests()
    vim.cmd('Warden explain')
    local id = assert(llm.last_request_id)
    local float = vim.api.nvim_get_current_win()
    assert.are_not.equal('', vim.api.nvim_win_get_config(float).relative, 'the float has focus')
    local fbuf = vim.api.nvim_win_get_buf(float)
    local done = h.wait_llm_done(id)
    vim.api.nvim_del_autocmd(au)
    assert.is_nil(done.error, done.error)

    local expected = reply:gsub('__WARDEN_SECRET_1__', KEY)
    -- Streamed: many partial states, each a prefix of the reply, the last one whole.
    assert.is_true(#seen >= 10, ('only %d chunk updates'):format(#seen))
    for i, text in ipairs(seen) do
      assert.is_truthy(vim.startswith(expected, text), ('update %d is not a prefix: %q'):format(i, text))
    end
    assert.is_true(#seen[1] < #seen[#seen])
    assert.are.equal(expected, seen[#seen])
    -- The final result replaces the stream, with a summary line.
    local shown = h.text(fbuf)
    assert.is_truthy(shown:find(expected, 1, true), shown)
    assert.matches('— local/gpt%-4o%-mini · %d+→%d+ tokens · %$%d+%.%d+ · %d+ ms$', shown)
    assert.are.equal('markdown', vim.bo[fbuf].filetype)

    -- The provider received the placeholder, never the key.
    local sent = mock.requests()
    assert.are.equal(before + 1, #sent)
    local body = sent[#sent].body
    assert.is_nil(body:find(KEY, 1, true), 'the key left the machine')
    assert.is_truthy(body:find('__WARDEN_SECRET_1__', 1, true), body)
    assert.is_truthy(body:find('gpt-4o-mini', 1, true), body)

    -- q closes the float.
    vim.api.nvim_feedkeys('q', 'x', false)
    assert.is_false(vim.api.nvim_win_is_valid(float))
    assert.are.equal(buf, vim.api.nvim_get_current_buf())
  end)

  it('rewrite applies an edit to the buffer, and u undoes it', function()
    mock.script({
      text = 'Added a type annotation.\n```python\nAWS_ACCESS_KEY_ID: str = "__WARDEN_SECRET_1__"\n```\n',
      chunk = 4,
    })
    local messages, restore = h.capture_notify()
    vim.cmd('4Warden rewrite add a type annotation')
    local id = require('warden.llm').last_request_id
    local done = h.wait_llm_done(id)
    restore()
    assert.is_nil(done.error, done.error)
    assert.is_true(done.result.applied)
    local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
    assert.are.equal(('AWS_ACCESS_KEY_ID: str = "%s"'):format(KEY), lines[4])
    -- Only that line changed.
    local want = vim.split(original, '\n', { plain = true })
    want[4] = lines[4]
    assert.are.same(want, lines)
    h.wait_message(messages, 'rewrite applied')
    local body = mock.requests()[#mock.requests()].body
    assert.is_truthy(body:find('add a type annotation', 1, true))
    assert.is_nil(body:find(KEY, 1, true))

    vim.cmd('silent undo')
    assert.are.equal(original, h.text(buf))
    -- The server follows the undo.
    h.wait(5000, function()
      return h.request(client, 'warden/debug/document', { uri = vim.uri_from_bufnr(buf) }).text == h.buffer_text(buf)
    end, "the server's copy to match the undone buffer")
  end)

  it(':Warden cancel ends a slow reply at once', function()
    local llm = require('warden.llm')
    mock.script({ text = string.rep('slow ', 200), chunk = 2, delayMs = 100 })
    vim.cmd('7,9Warden explain')
    local id = llm.last_request_id
    local float = vim.api.nvim_get_current_win()
    h.wait(10000, function()
      return llm.running[id] and llm.running[id].chunks > 0
    end, 'the first chunk')
    local t0 = vim.uv.now()
    local messages, restore = h.capture_notify()
    vim.cmd('Warden cancel')
    local done = h.wait_llm_done(id, 5000)
    restore()
    local took = vim.uv.now() - t0
    assert.is_true(done.cancelled, vim.inspect(done))
    assert.is_true(took < 3000, ('cancelling took %d ms'):format(took))
    h.wait_message(messages, 'cancelling %d+ task')
    local shown = h.text(vim.api.nvim_win_get_buf(float))
    assert.matches('\n— cancelled$', shown)
    assert.is_true(#shown < 1000, 'the reply stopped streaming')
    -- The server recorded the call as cancelled.
    local llm_span = h.request(client, 'warden/traces', { kind = 'llm', limit = 1 }).traces[1]
    assert.are.equal('cancelled', llm_span.outcome)
    local i = h.request(client, 'warden/interactions', { limit = 1 }).interactions[1]
    assert.are.same({ id, 'cancelled' }, { i.requestId, i.outcome })
    assert.is_nil(llm.running[id])
  end)

  it('closing the float while it streams cancels the request', function()
    local llm = require('warden.llm')
    mock.script({ text = string.rep('more ', 200), chunk = 2, delayMs = 100 })
    vim.cmd('11,13Warden explain')
    local id = llm.last_request_id
    local float = vim.api.nvim_get_current_win()
    h.wait(10000, function()
      return llm.running[id] and llm.running[id].chunks > 0
    end, 'the first chunk')
    vim.api.nvim_feedkeys('q', 'x', false)
    assert.is_false(vim.api.nvim_win_is_valid(float))
    local done = h.wait_llm_done(id, 5000)
    assert.is_true(done.cancelled, vim.inspect(done))
    local i = h.request(client, 'warden/interactions', { limit = 1 }).interactions[1]
    assert.are.same({ id, 'cancelled' }, { i.requestId, i.outcome })
  end)

  it('fix sends the diagnostic under the cursor, from any source, and applies the fix', function()
    local ns = vim.api.nvim_create_namespace('other-linter')
    vim.diagnostic.set(ns, buf, {
      {
        lnum = 8,
        col = 4,
        end_lnum = 8,
        end_col = 9,
        message = 'prints part of a credential',
        source = 'other-linter',
        severity = vim.diagnostic.severity.WARN,
      },
    })
    mock.script({
      text = table.concat({
        '```python',
        'def upload(path: str) -> None:',
        '    subprocess.run("curl -fsSL https://tools.example.invalid/install.sh | sh", shell=True, check=True)',
        '    print(f"uploading {path}")',
        '```',
        '',
      }, '\n'),
    })
    vim.api.nvim_win_set_cursor(0, { 9, 6 })
    vim.cmd('Warden fix')
    local done = h.wait_llm_done(require('warden.llm').last_request_id)
    vim.diagnostic.reset(ns, buf)
    assert.is_nil(done.error, done.error)
    assert.is_true(done.result.applied, vim.inspect(done.result))
    assert.are.equal('    print(f"uploading {path}")', vim.api.nvim_buf_get_lines(buf, 8, 9, false)[1])
    local body = mock.requests()[#mock.requests()].body
    assert.is_truthy(body:find('[other-linter] prints part of a credential (line 9)', 1, true), body)
    assert.is_truthy(body:find('def upload(path: str)', 1, true), 'the enclosing function is sent')
  end)

  it('docstring inserts one line into the function at the cursor', function()
    mock.script({
      text = table.concat({
        '```python',
        'def upload(path: str) -> None:',
        '    """Upload the report at path."""',
        '    subprocess.run("curl -fsSL https://tools.example.invalid/install.sh | sh", shell=True, check=True)',
        '    print(f"uploading {path} with key id ending {AWS_ACCESS_KEY_ID[-4:]}")',
        '```',
        '',
      }, '\n'),
    })
    vim.api.nvim_win_set_cursor(0, { 8, 6 })
    vim.cmd('Warden docstring')
    local done = h.wait_llm_done(require('warden.llm').last_request_id)
    assert.is_nil(done.error, done.error)
    assert.is_true(done.result.applied, vim.inspect(done.result))
    local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
    assert.are.equal('    """Upload the report at path."""', lines[8])
    assert.are.equal(#vim.split(original, '\n', { plain = true }) + 1, #lines)
  end)

  it('tests creates the test file through the workspace edit', function()
    mock.script({
      text = '```python\nfrom scripts import upload\n\n\ndef test_upload():\n    assert upload\n```\n',
    })
    vim.cmd('only')
    local win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_cursor(0, { 8, 6 })
    local messages, restore = h.capture_notify()
    vim.cmd('Warden tests')
    local done = h.wait_llm_done(require('warden.llm').last_request_id)
    restore()
    assert.is_nil(done.error, done.error)
    assert.is_true(done.result.applied, vim.inspect(done.result))
    local test_file = ws .. '/alpha/tests/test_3.00_upload.py'
    local tbuf = vim.fn.bufnr(test_file)
    assert.are_not.equal(-1, tbuf, 'a buffer for ' .. test_file)
    assert.matches('^from scripts import upload\n', h.text(tbuf))
    -- Created on disk (empty), its text in a modified buffer for the user to review and
    -- write: shown in a split, the cursor still in the script.
    assert.is_truthy(vim.uv.fs_stat(test_file), 'the file was created')
    assert.is_true(vim.bo[tbuf].modified)
    assert.are.equal(1, #vim.fn.win_findbuf(tbuf), 'the test file is shown')
    assert.are.equal(win, vim.api.nvim_get_current_win())
    assert.are.equal(buf, vim.api.nvim_get_current_buf())
    h.wait_message(messages, 'tests/test_3%.00_upload%.py changed by warden, shown in a split')
    vim.api.nvim_buf_delete(tbuf, { force = true })
  end)

  it("the server's LLM code actions run through the plugin (the float, a request id of ours)", function()
    local llm = require('warden.llm')
    mock.script({ text = 'It uploads the report with curl.', chunk = 3 })
    vim.api.nvim_win_set_cursor(0, { 13, 4 })
    local before = llm.last_request_id
    local titles = {}
    vim.lsp.buf.code_action({
      apply = true,
      filter = function(action)
        titles[#titles + 1] = action.title
        return action.title == 'Explain with LLM'
      end,
    })
    local id = h.wait(10000, function()
      return llm.last_request_id ~= before and llm.last_request_id
    end, function()
      return 'the code action to start a request; offered: ' .. vim.inspect(titles)
    end)
    assert.matches('^nvim%-', id)
    local done = h.wait_llm_done(id)
    assert.is_nil(done.error, done.error)
    local float = vim.api.nvim_get_current_win()
    assert.are_not.equal('', vim.api.nvim_win_get_config(float).relative)
    assert.matches(
      '^It uploads the report with curl%.\n\n— local/gpt%-4o%-mini',
      h.text(vim.api.nvim_win_get_buf(float))
    )
    for _, t in ipairs({ 'Add docstring with LLM', 'Write tests with LLM' }) do
      assert.is_true(vim.tbl_contains(titles, t), vim.inspect(titles))
    end
  end)

  it("a malicious package in a reply asks through Neovim's showMessageRequest handler", function()
    local evil = '```python\nimport tensorfllow\nAWS_ACCESS_KEY_ID = "__WARDEN_SECRET_1__"\n```\n'
    local asked = {}
    local choice = 'Discard'
    local select = vim.ui.select
    vim.ui.select = function(items, opts, on_choice)
      local titles = vim.tbl_map(function(a)
        return a.title
      end, items)
      asked[#asked + 1] = { prompt = opts.prompt, titles = titles }
      for _, a in ipairs(items) do
        if a.title == choice then
          return on_choice(a)
        end
      end
      on_choice(nil)
    end
    local ok, err = pcall(function()
      -- Discard: nothing applied, and the message says why.
      mock.script({ text = evil })
      local messages, restore = h.capture_notify()
      vim.cmd('4Warden rewrite use tensorflow')
      local done = h.wait_llm_done(require('warden.llm').last_request_id)
      restore()
      assert.is_nil(done.error, done.error)
      assert.is_false(done.result.applied)
      assert.are.equal(1, #asked)
      assert.is_truthy(asked[1].prompt:find('MAL-2023-2300', 1, true), asked[1].prompt)
      assert.are.same({ 'Apply anyway', 'Discard' }, asked[1].titles)
      assert.are.equal(original, h.text(buf))
      h.wait_message(messages, 'rewrite: nothing applied: .*tensorfllow')

      -- Apply anyway: the edit lands.
      choice = 'Apply anyway'
      mock.script({ text = evil })
      vim.cmd('4Warden rewrite use tensorflow, please')
      done = h.wait_llm_done(require('warden.llm').last_request_id)
      assert.is_nil(done.error, done.error)
      assert.is_true(done.result.applied, vim.inspect(done.result))
      assert.are.equal(2, #asked)
      local lines = vim.api.nvim_buf_get_lines(buf, 3, 5, false)
      assert.are.same({ 'import tensorfllow', ('AWS_ACCESS_KEY_ID = "%s"'):format(KEY) }, lines)
    end)
    vim.ui.select = select
    assert(ok, err)
  end)

  it(':Warden retry asks the model again after a reply that could not be applied', function()
    local llm = require('warden.llm')
    -- A reply with no code block: the action fails, and the message points at retry.
    mock.script({ text = 'I would rather not.' })
    local messages, restore = h.capture_notify()
    vim.cmd('4Warden rewrite name the constant AWS_KEY')
    local first = llm.last_request_id
    local done = h.wait_llm_done(first)
    assert.is_truthy(tostring(done.error):find('no code block', 1, true), vim.inspect(done))
    h.wait_message(messages, 'rewrite failed: .*:Warden retry asks the model again')
    assert.are.equal(original, h.text(buf))

    -- Retry: the same rewrite under a new request id, sent to the model, applied.
    mock.script({ text = '```python\nAWS_KEY = "__WARDEN_SECRET_1__"\n```\n' })
    local before = #mock.requests()
    vim.cmd('Warden retry')
    local second = llm.last_request_id
    assert.are_not.equal(first, second)
    done = h.wait_llm_done(second)
    restore()
    assert.is_nil(done.error, done.error)
    assert.is_true(done.result.applied, vim.inspect(done.result))
    assert.is_false(done.result.cached)
    local sent = mock.requests()
    assert.are.equal(before + 1, #sent)
    assert.is_truthy(sent[#sent].body:find('name the constant AWS_KEY', 1, true))
    assert.are.equal(('AWS_KEY = "%s"'):format(KEY), vim.api.nvim_buf_get_lines(buf, 3, 4, false)[1])
    h.wait_message(messages, 'rewrite applied')
    -- The server was asked with noCache; what is remembered for the next retry is what
    -- the user asked.
    local span = h.request(client, 'warden/traces', { kind = 'command', limit = 1 }).traces[1]
    assert.are.same({ 'warden.llm.rewrite', true, second }, { span.name, span.input.noCache, span.input.requestId })
    assert.are.same({ 'rewrite', 'name the constant AWS_KEY' }, { llm.last.action, llm.last.args.instruction })
    assert.is_nil(llm.last.args.noCache)
    assert.is_nil(llm.last.args.requestId)
  end)

  it(':Warden retry of a cached explanation asks the model; its reply is cached in its place', function()
    local llm = require('warden.llm')
    ---@param cmd string
    ---@return table done
    local function explain(cmd)
      vim.api.nvim_win_set_buf(0, buf)
      vim.cmd(cmd)
      local done = h.wait_llm_done(llm.last_request_id)
      assert.is_nil(done.error, done.error)
      return done
    end
    local function close_float()
      local win = vim.api.nvim_get_current_win()
      assert.are_not.equal('', vim.api.nvim_win_get_config(win).relative, 'the float has focus')
      vim.api.nvim_win_close(win, true)
    end
    mock.script({ text = 'First answer.' })
    local before = #mock.requests()
    assert.is_false(explain('1,2Warden explain').result.cached)
    close_float()
    local hit = explain('1,2Warden explain')
    close_float()
    assert.is_true(hit.result.cached)
    assert.are.equal('First answer.', hit.result.text)
    assert.are.equal(before + 1, #mock.requests())

    mock.script({ text = 'Second answer.' })
    local retried = explain('Warden retry')
    assert.is_false(retried.result.cached)
    assert.are.equal('Second answer.', retried.result.text)
    assert.are.equal(before + 2, #mock.requests())
    -- Streamed into a float again.
    assert.matches('^Second answer%.\n\n— local/gpt%-4o%-mini', h.text(vim.api.nvim_get_current_buf()))
    close_float()

    hit = explain('1,2Warden explain')
    close_float()
    assert.are.same({ true, 'Second answer.' }, { hit.result.cached, hit.result.text })
    assert.are.equal(before + 2, #mock.requests())
  end)
end)
