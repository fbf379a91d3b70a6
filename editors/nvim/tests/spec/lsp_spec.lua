-- Starting warden: one server per root with vim.lsp.start, files outside every root,
-- settings as init_options and through workspace/configuration, live notifications as
-- User autocommands, and a missing binary.

local h = require('helpers')
local lsp = require('warden.lsp')

describe('warden clients', function()
  local ws

  setup(function()
    ws = h.fixtures()
    h.start({ settings = { trace = { live = true } } })
  end)

  teardown(h.stop_all)

  it('start one server per root and reuse it within the root', function()
    local a1, alpha = h.open(ws .. '/alpha/scripts/1.00_fetch.py')
    local a2, alpha2 = h.open(ws .. '/alpha/scripts/2.00_report.py')
    local b1, beta = h.open(ws .. '/beta/src/index.js')
    assert.are.equal(alpha.id, alpha2.id)
    assert.are_not.equal(alpha.id, beta.id)
    assert.are.equal(ws .. '/alpha', alpha.root_dir)
    assert.are.equal(ws .. '/beta', beta.root_dir)
    assert.are.equal(2, #lsp.clients())
    assert.is_true(vim.lsp.buf_is_attached(a1, alpha.id))
    assert.is_true(vim.lsp.buf_is_attached(a2, alpha.id))
    assert.is_true(vim.lsp.buf_is_attached(b1, beta.id))
    assert.are.equal('warden', alpha.server_info.name)
    assert.are.equal(1, alpha.server_capabilities.experimental.wardenProtocol)
    assert.are.same({ { uri = vim.uri_from_fname(ws .. '/alpha'), name = 'alpha' } }, alpha.workspace_folders)
  end)

  it('activate a workspace on every server', function()
    local _, alpha = h.open(ws .. '/alpha/scripts/1.00_fetch.py')
    local _, beta = h.open(ws .. '/beta/src/index.js')
    -- beta's server registers the workspace in the shared database while it starts.
    h.wait(10000, function()
      for _, w in ipairs(h.request(alpha, 'warden/workspaces', vim.empty_dict())) do
        if w.name == 'beta' then
          return true
        end
      end
    end, 'beta in the database')
    local messages, restore = h.capture_notify()
    vim.cmd('Warden workspace activate beta')
    h.wait_message(messages, 'beta is the active workspace')
    restore()
    for _, m in ipairs(messages) do
      assert.is_true(m.level < vim.log.levels.WARN, m.msg)
    end
    for _, client in ipairs({ alpha, beta }) do
      h.wait(5000, function()
        for _, w in ipairs(h.request(client, 'warden/workspaces', vim.empty_dict())) do
          if w.active then
            return w.name == 'beta'
          end
        end
      end, 'beta active on server ' .. client.id)
    end
    -- Files outside every root now belong to beta.
    local notes = h.open(ws .. '/notes/todo.md')
    local owner = h.request(lsp.clients({ bufnr = notes })[1], 'warden/workspaceFor', {
      uri = vim.uri_from_bufnr(notes),
    })
    assert.are.equal('beta', owner.name)
  end)

  it('pass the settings as init_options', function()
    local _, alpha = h.open(ws .. '/alpha/scripts/1.00_fetch.py')
    local init = alpha.config.init_options
    assert.are.same({ h.osv }, init.packages.osvPaths)
    assert.is_true(init.trace.live)
    -- The server used them: the OSV data it was told about is imported.
    h.wait(20000, function()
      local res = h.request(alpha, 'warden/traces', { kind = 'index' })
      for _, s in ipairs(res.traces) do
        if s.name == 'osv.import' and s.outcome == 'ok' then
          return true
        end
      end
    end, 'an osv.import span')
  end)

  it('attach a file outside every root to a running server, and start none for it', function()
    local before = #lsp.clients()
    local buf = h.open(ws .. '/notes/todo.md')
    assert.are.equal(before, #lsp.clients())
    local owner = h.request(lsp.clients({ bufnr = buf })[1], 'warden/workspaceFor', {
      uri = vim.uri_from_bufnr(buf),
    })
    assert.are.equal('beta', owner.name) -- the active workspace (activated above)
  end)

  it('leave special buffers alone', function()
    vim.cmd('enew')
    vim.bo.buftype = 'nofile'
    assert.is_nil(require('warden').attach(0))
    assert.are.same({}, lsp.clients({ bufnr = 0 }))
  end)

  it('answer workspace/configuration with the current settings', function()
    local _, beta = h.open(ws .. '/beta/src/index.js')
    ---@return warden.WorkspaceInfo
    local function beta_info()
      for _, w in ipairs(h.request(beta, 'warden/workspaces', vim.empty_dict())) do
        if w.name == 'beta' then
          return w
        end
      end
    end
    -- New settings, announced without a payload: only the answer to the server's
    -- workspace/configuration request can carry them.
    local prompt = 'You write small, well-tested Node.js scripts.'
    require('warden.config').set({ settings = { systemPrompt = prompt } })
    lsp.notify(beta, 'workspace/didChangeConfiguration', { settings = vim.empty_dict() })
    h.wait(10000, function()
      local b = beta_info()
      return b.systemPrompt == prompt and b.systemPromptSource == 'settings'
    end, "beta's prompt from workspace/configuration")
    -- The answer itself: the warden section, a sub-section, and nothing else.
    local answer = lsp.configuration({
      items = { { section = 'warden' }, { section = 'warden.packages.osvPaths' }, { section = 'python' } },
    })
    assert.are.equal(prompt, answer[1].systemPrompt)
    assert.are.same({ h.osv }, answer[2])
    assert.are.equal(vim.NIL, answer[3])
    -- setup{} pushes new settings to running servers.
    require('warden').setup({ settings = { systemPrompt = 'Prefer plain Node.js.' } })
    h.wait(10000, function()
      return beta_info().systemPrompt == 'Prefer plain Node.js.'
    end, "beta's prompt after setup{}")
    require('warden').setup({})
  end)

  it('turn live notifications into User autocommands', function()
    local _, alpha = h.open(ws .. '/alpha/scripts/1.00_fetch.py')
    local seen = {}
    local id = vim.api.nvim_create_autocmd('User', {
      pattern = { 'WardenTraceStarted', 'WardenTraceFinished', 'WardenWorkspacesChanged' },
      callback = function(ev)
        seen[#seen + 1] = { pattern = ev.match, data = ev.data }
      end,
    })
    h.command(alpha, 'warden.workspace.activate', { name = 'alpha' })
    local started, finished, changed
    h.wait(5000, function()
      for _, e in ipairs(seen) do
        local p = e.data.params
        if e.pattern == 'WardenTraceStarted' and p.name == 'warden.workspace.activate' then
          started = e
        elseif e.pattern == 'WardenTraceFinished' and started and p.id == started.data.params.id then
          finished = e
        elseif e.pattern == 'WardenWorkspacesChanged' and e.data.client_id == alpha.id and p.active == 'alpha' then
          changed = e
        end
      end
      return started and finished and changed
    end, function()
      return 'the User events of the activate command; saw: '
        .. vim.inspect(vim.tbl_map(function(e)
          return e.pattern
        end, seen))
    end)
    vim.api.nvim_del_autocmd(id)
    assert.are.equal(alpha.id, started.data.client_id)
    assert.are.equal('command', started.data.params.kind)
    assert.are.equal('ok', finished.data.params.outcome)
    assert.is_number(finished.data.params.latencyMs)
    assert.is_table(changed.data.params.workspaces)
  end)

  it('report a wrong binary path after the :edit, which goes through (no stack trace)', function()
    h.stop_all()
    local path = h.tmp .. '/not/the/warden'
    vim.g.warden = { cmd = { path, 'lsp' } }
    -- (config.set, not setup{}: setup attaches the loaded buffers at once, outside any
    -- autocommand.)
    require('warden.config').set({})
    -- Neovim's own vim.notify: an error message from the FileType autocommand would
    -- abort the :edit ("E5113 ... stack traceback").
    local ok, err = pcall(vim.cmd, 'edit ' .. vim.fn.fnameescape(ws .. '/gamma/Cargo.toml'))
    assert.is_true(ok, err)
    assert.are.equal(ws .. '/gamma/Cargo.toml', vim.api.nvim_buf_get_name(0))
    assert.are.equal('toml', vim.bo.filetype)
    h.wait(5000, function()
      return vim.fn.execute('messages'):find('cannot run "' .. path .. '"', 1, true)
    end, 'the message in :messages')
    assert.is_nil(vim.fn.execute('messages'):find('stack traceback', 1, true))
  end)
  it('say clearly when the binary is missing', function()
    h.stop_all()
    local messages, restore = h.capture_notify()
    vim.g.warden = { cmd = { h.tmp .. '/no-such-warden', 'lsp' } }
    require('warden').setup({})
    vim.cmd('edit ' .. vim.fn.fnameescape(ws .. '/gamma/src/main.rs'))
    h.wait_message(messages, 'cannot run')
    restore()
    assert.are.same({}, lsp.clients())
    local errors = vim.tbl_filter(function(m)
      return m.level == vim.log.levels.ERROR
    end, messages)
    assert.are.equal(1, #errors)
    assert.matches('cannot run ".*no%-such%-warden"', errors[1].msg)
    assert.matches(':checkhealth warden', errors[1].msg, 1, true)
  end)
end)
