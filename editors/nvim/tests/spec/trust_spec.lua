-- Repository configuration trust against the real server: a .warden.toml that disables
-- a secret rule is held back (its lines marked, the user asked once through
-- vim.ui.select), :Warden trust applies it, :Warden untrust takes it back, and
-- :checkhealth warden reports the state.

local h = require('helpers')

local AWS = 'AKIAQ3EGRB4XY7MNP2KD'

describe(':Warden trust', function()
  local ws, buf, toml, asked, select

  setup(function()
    ws = h.fixtures()
    toml = ws .. '/beta/.warden.toml'
    local f = assert(io.open(toml, 'w'))
    f:write('[secrets]\ndisable = ["aws-access-key-id"]\n')
    f:close()
    local py = assert(io.open(ws .. '/beta/keys.py', 'w'))
    py:write(('KEY = "%s"\n'):format(AWS))
    py:close()
    -- Every question goes through vim.ui.select: record it, answer "Trust" only when told.
    asked = {}
    select = vim.ui.select
    vim.ui.select = function(items, opts, on_choice)
      asked[#asked + 1] = { prompt = opts.prompt, items = items }
      on_choice(nil)
    end
    h.start({ settings = { scan = { onStartup = false } } })
    buf = h.open(ws .. '/beta/keys.py')
  end)

  teardown(function()
    vim.ui.select = select
    h.stop_all()
  end)

  it('holds the file back, marks its lines and asks once', function()
    -- The rule the file would disable still fires.
    h.wait_diagnostic(buf, 'aws-access-key-id')
    -- The server asked through Neovim's showMessageRequest handler (vim.ui.select).
    local question = h.wait(10000, function()
      for _, a in ipairs(asked) do
        if a.prompt:find('secrets', 1, true) then
          return a
        end
      end
    end, 'the trust question')
    local titles = vim.tbl_map(function(i)
      return type(i) == 'table' and i.title or i
    end, question.items)
    assert.are.same({ 'Trust this configuration', 'Open .warden.toml' }, titles)
    -- The held lines of .warden.toml carry an information diagnostic.
    local tbuf = h.open(toml)
    local d = h.wait_diagnostic(tbuf, 'warden-untrusted-config')
    assert.are.equal(vim.diagnostic.severity.INFO, d.severity)
    assert.matches('secrets is ignored until you trust this file', d.message)
    vim.api.nvim_win_set_buf(0, buf)
  end)

  it(':Warden trust shows what it trusts and applies it once confirmed', function()
    local messages, restore = h.capture_notify()
    -- Cancel first: nothing changes.
    vim.cmd('Warden trust')
    local q = h.wait(5000, function()
      return asked[#asked].prompt:find('Trust this content', 1, true) and asked[#asked]
    end, ':Warden trust to ask')
    assert.matches('secrets: changes which secrets are detected', q.prompt)
    assert.is_not_nil(h.diagnostics(buf, 'aws-access-key-id')[1])
    -- Then confirm.
    vim.ui.select = function(items, _, on_choice)
      on_choice(items[1])
    end
    vim.cmd('Warden trust')
    h.wait_message(messages, 'trusted .*%.warden%.toml: secrets now apply')
    h.wait(10000, function()
      return #h.diagnostics(buf, 'aws-access-key-id') == 0
    end, 'the disabled rule to stop firing')
    restore()
  end)

  it(':checkhealth warden reports the trust state, and :Warden untrust takes it back', function()
    vim.cmd('checkhealth warden')
    local text = h.text(vim.api.nvim_get_current_buf())
    vim.cmd('bwipeout!')
    assert.is_truthy(text:find('beta (', 1, true) and text:find('/beta): .warden.toml trusted', 1, true), text)
    local messages, restore = h.capture_notify()
    vim.cmd('Warden untrust')
    h.wait_message(messages, 'is no longer trusted; 1 key%(s%) are ignored again')
    h.wait_diagnostic(buf, 'aws-access-key-id')
    restore()
  end)
end)
