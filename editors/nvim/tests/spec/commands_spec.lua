-- :Warden subcommands against the real server: workspaces, the system prompt buffer,
-- scans with LspProgress, cancel, and restart (after a crash too, which is reported).

local h = require('helpers')
local lsp = require('warden.lsp')

---@param client vim.lsp.Client
---@return table<string, warden.WorkspaceInfo>
local function workspaces(client)
  local out = {}
  for _, w in ipairs(h.request(client, 'warden/workspaces', vim.empty_dict())) do
    out[w.name] = w
  end
  return out
end

describe(':Warden', function()
  local ws, client, messages, restore

  setup(function()
    ws = h.fixtures()
    -- gamma is registered in the database but not open in this editor.
    h.system({ h.bin, 'workspaces', ws .. '/gamma' })
    h.start({ settings = { scan = { onStartup = false } } })
    local _
    _, client = h.open(ws .. '/alpha/scripts/1.00_fetch.py')
    h.wait(10000, function()
      return workspaces(client).alpha
    end, 'the alpha workspace')
  end)

  teardown(h.stop_all)

  before_each(function()
    messages, restore = h.capture_notify()
  end)

  after_each(function()
    restore()
    h.revert_all()
  end)

  it('workspace list shows every workspace, the active one starred', function()
    vim.cmd('Warden workspace list')
    local msg = h.wait_message(messages, 'warden workspaces')
    assert.matches('\n%* default +%(files outside every folder%)', msg)
    assert.matches('\n  alpha +' .. vim.pesc(ws .. '/alpha') .. '  open, branch main, prompt from file', msg)
    assert.matches('\n  gamma +' .. vim.pesc(ws .. '/gamma') .. '  branch main', msg)
  end)

  it('workspace activate, rename, archive and restore change the server state', function()
    vim.cmd('Warden workspace activate alpha')
    h.wait_message(messages, 'alpha is the active workspace')
    assert.is_true(workspaces(client).alpha.active)
    -- The workspacesChanged notification reached the plugin's state.
    h.wait(5000, function()
      return lsp.client_state(client.id).active == 'alpha'
    end, 'workspacesChanged with alpha active')

    vim.cmd('Warden workspace rename gamma gamma-tools')
    h.wait_message(messages, 'renamed gamma to gamma%-tools')
    assert.is_table(workspaces(client)['gamma-tools'])
    assert.is_nil(workspaces(client).gamma)
    assert.are.same({ 'gamma-tools' }, vim.fn.getcompletion('Warden workspace archive gamma', 'cmdline'))

    vim.cmd('Warden workspace archive gamma-tools')
    h.wait_message(messages, 'archived gamma%-tools')
    assert.is_true(workspaces(client)['gamma-tools'].archived)
    vim.cmd('Warden workspace restore gamma-tools')
    h.wait_message(messages, 'restored gamma%-tools')
    assert.is_false(workspaces(client)['gamma-tools'].archived)
  end)

  it('reports server errors in words', function()
    vim.cmd('Warden workspace activate nosuch')
    local msg = h.wait_message(messages, 'activate failed')
    assert.matches('nosuch', msg)
    vim.cmd('Warden workspace rename a b c')
    h.wait_message(messages, 'usage: :Warden workspace rename NAME NEWNAME')
  end)

  it('workspace delete asks first, and :Warden! does not', function()
    local confirm = vim.fn.confirm
    vim.fn.confirm = function()
      return 2
    end
    vim.cmd('Warden workspace delete gamma-tools')
    vim.fn.confirm = confirm
    h.wait_message(messages, 'delete cancelled')
    assert.is_table(workspaces(client)['gamma-tools'])
    vim.cmd('Warden! workspace delete gamma-tools')
    h.wait_message(messages, 'deleted gamma%-tools')
    assert.is_nil(workspaces(client)['gamma-tools'])
  end)

  it('prompt edits the system prompt in a buffer and :w saves it', function()
    local toml_prompt = 'You review data-processing scripts.'
    vim.cmd('Warden prompt')
    local buf = h.wait(10000, function()
      local b = vim.fn.bufnr('warden://prompt/alpha')
      return b ~= -1 and b or nil
    end, 'the prompt buffer')
    assert.are.equal(buf, vim.api.nvim_get_current_buf())
    assert.are.equal('acwrite', vim.bo[buf].buftype)
    assert.matches('^' .. vim.pesc(toml_prompt), h.text(buf))
    h.wait_message(messages, "from the repository's .warden.toml")

    vim.api.nvim_buf_set_lines(buf, 0, -1, false, { 'Be brief.', '', 'Prefer the standard library.' })
    vim.cmd('write')
    h.wait(10000, function()
      return not vim.bo[buf].modified
    end, 'the prompt to be saved')
    local shown = h.command(client, 'warden.workspace.showSystemPrompt', { name = 'alpha' })
    assert.are.equal('Be brief.\n\nPrefer the standard library.', shown.prompt)
    assert.are.equal('command', shown.source)

    -- :w on an empty buffer clears the stored prompt; .warden.toml applies again.
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, {})
    vim.cmd('write')
    h.wait_message(messages, 'cleared the stored prompt of alpha')
    shown = h.command(client, 'warden.workspace.showSystemPrompt', { name = 'alpha' })
    assert.are.equal('file', shown.source)
    assert.matches('^' .. vim.pesc(toml_prompt), h.text(buf))
    assert.is_false(vim.bo[buf].modified)
  end)

  it('scan reports progress through LspProgress and notifies the summary', function()
    h.open(ws .. '/alpha/scripts/1.00_fetch.py')
    local events = {}
    local id = vim.api.nvim_create_autocmd('LspProgress', {
      callback = function(ev)
        if ev.data.client_id == client.id then
          events[#events + 1] = { kind = ev.data.params.value.kind, value = ev.data.params.value }
        end
      end,
    })
    vim.cmd('Warden scan')
    local summary = h.wait_message(messages, 'scan of alpha: ', 20000)
    vim.api.nvim_del_autocmd(id)
    assert.matches('scan of alpha: %d+ findings in %d+ files', summary)
    assert.are.equal('begin', events[1].kind)
    assert.are.equal('warden: scanning alpha', events[1].value.title)
    assert.is_true(events[1].value.cancellable)
    assert.are.equal('end', events[#events].kind)
    -- Diagnostics for files that are not open arrive from the scan.
    local upload = vim.uri_from_fname(ws .. '/alpha/scripts/3.00_upload.py')
    h.wait(5000, function()
      local b = vim.uri_to_bufnr(upload)
      return #h.diagnostics(b, 'aws-access-key-id') > 0
    end, 'scan diagnostics for a file that is not open')
    assert.are.equal('warden', require('warden').status())
  end)

  it('cancel stops a running scan', function()
    -- A workspace big enough that its scan is still running when cancel arrives.
    local big = ws .. '/big'
    for d = 1, 20 do
      vim.fn.mkdir(('%s/d%02d'):format(big, d), 'p')
    end
    local body = string.rep('value = compute(1, 2, 3)  # padding line for the scan\n', 400)
    for i = 1, 2000 do
      local f = assert(io.open(('%s/d%02d/f%d.py'):format(big, i % 20 + 1, i), 'w'))
      f:write(body)
      f:close()
    end
    h.system({ 'git', '-C', big, 'init', '-q' })
    local _, big_client = h.open(big .. '/d01/f20.py')
    assert.are_not.equal(client.id, big_client.id)
    local began
    local id = vim.api.nvim_create_autocmd('LspProgress', {
      pattern = 'begin',
      callback = function(ev)
        if ev.data.client_id == big_client.id then
          began = true
          vim.cmd('Warden cancel')
        end
      end,
    })
    vim.cmd('Warden scan')
    h.wait_message(messages, 'cancelling 1 task', 30000)
    vim.api.nvim_del_autocmd(id)
    assert.is_true(began)
    local span = h.wait(30000, function()
      local res = h.request(big_client, 'warden/traces', { kind = 'scan', workspace = 'big' })
      return res.traces[1] and res.traces[1].finishedAt and res.traces[1]
    end, 'the scan span to end')
    assert.are.equal('cancelled', span.outcome)
    vim.cmd('Warden cancel')
    h.wait_message(messages, 'nothing to cancel')
  end)

  it('restart starts new servers for the open buffers', function()
    local buf = h.open(ws .. '/alpha/scripts/3.00_upload.py')
    h.wait_diagnostic(buf, 'aws-access-key-id')
    local old = lsp.clients({ bufnr = buf })[1].id
    vim.cmd('Warden restart')
    h.wait_message(messages, 'restarted', 15000)
    local new = h.wait(10000, function()
      local c = lsp.clients({ bufnr = buf })[1]
      return c and c.id ~= old and c.initialized and c
    end, 'a new client for the buffer')
    assert.is_nil(vim.lsp.get_client_by_id(old))
    assert.are.equal(ws .. '/alpha', new.root_dir)
    -- The new server analyses the buffer again.
    vim.diagnostic.reset(nil, buf)
    vim.api.nvim_buf_set_lines(buf, -1, -1, false, { '' })
    h.wait_diagnostic(buf, 'aws-access-key-id')
  end)

  it('reports a server killed by a signal, and restart brings its buffers back', function()
    local buf = h.open(ws .. '/alpha/scripts/3.00_upload.py')
    local big_buf = h.open(ws .. '/big/d01/f20.py')
    -- Only alpha's server runs for a moment, so its process is the one warden child of
    -- this Neovim.
    local big = lsp.clients({ bufnr = big_buf })[1]
    vim.lsp.stop_client(big.id)
    h.wait(10000, function()
      return vim.lsp.get_client_by_id(big.id) == nil
    end, "the big root's server to stop")
    local alpha = lsp.clients({ bufnr = buf })[1]
    local function warden_children()
      return vim.tbl_filter(function(pid)
        local info = vim.api.nvim_get_proc(pid)
        return info and info.name == 'warden'
      end, vim.api.nvim_get_proc_children(vim.fn.getpid()))
    end
    local pids = h.wait(10000, function()
      local p = warden_children()
      return #p == 1 and p
    end, 'one warden process')
    local served = vim.tbl_count(alpha.attached_buffers)
    assert.is_true(served >= 1)
    vim.uv.kill(pids[1], 'sigkill')
    local msg = h.wait_message(messages, 'the server for .*alpha was killed by signal 9 %(SIGKILL%)')
    assert.matches(
      ('%d buffers? %s without warden now%%. :Warden restart starts it again'):format(
        served,
        served == 1 and 'is' or 'are'
      ),
      msg
    )
    local errors = vim.tbl_filter(function(m)
      return m.level == vim.log.levels.ERROR
    end, messages)
    assert.are.equal(1, #errors)
    h.wait(10000, function()
      return #lsp.clients({ bufnr = buf }) == 0
    end, 'the alpha buffer to lose its server')
    -- Another server runs when the user restarts.
    require('warden').attach(big_buf)
    big = h.wait(10000, function()
      local c = lsp.clients({ bufnr = big_buf })[1]
      return c and c.initialized and c
    end, "the big root's server again")
    local others = vim.tbl_count(big.attached_buffers)

    vim.cmd('Warden restart')
    h.wait_message(messages, ('restarted %%(%d buffers attached%%)'):format(served + others), 15000)
    local new = h.wait(10000, function()
      local c = lsp.clients({ bufnr = buf })[1]
      return c and c.initialized and c
    end, 'a new server for the buffer of the crashed one')
    assert.are.equal(ws .. '/alpha', new.root_dir)
    h.wait(10000, function()
      local c = lsp.clients({ bufnr = big_buf })[1]
      return c and c.id ~= big.id and c.initialized
    end, 'the other buffer on a new server')
    assert.are.same({}, lsp.orphans)
    -- It analyses the buffer.
    vim.diagnostic.reset(nil, buf)
    vim.api.nvim_buf_set_lines(buf, -1, -1, false, { '' })
    h.wait_diagnostic(buf, 'aws-access-key-id')
  end)

  it('names the exit in words, whatever the code or signal', function()
    assert.matches(
      'the server for /r exited with code 101; 2 buffers are without warden now. :Warden restart',
      lsp.exit_message('/r', 101, 0, 2),
      1,
      true
    )
    assert.matches('exited (code 0) without being asked to; 1 buffer is', lsp.exit_message('/r', 0, 0, 1), 1, true)
    assert.matches('killed by signal 11 (SIGSEGV)', lsp.exit_message('/r', 0, 11, 0), 1, true)
    assert.matches('killed by signal 15 (SIGTERM)', lsp.exit_message('/r', 143, 15, 0), 1, true)
  end)
end)
