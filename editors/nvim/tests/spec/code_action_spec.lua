-- Code actions from the real server, applied through vim.lsp.buf.code_action(): the edit
-- lands in the buffer, the server's copy of the document matches it, and the finding
-- goes away; a value moved to a git-ignored .env is written to disk, not left in a
-- hidden modified buffer; the baseline action runs its command and writes
-- .warden-baseline.json.

local h = require('helpers')

--- Applies the one code action whose title matches `pattern` at the diagnostic.
---@param buf integer
---@param d vim.Diagnostic
---@param pattern string
local function apply(buf, d, pattern)
  vim.api.nvim_win_set_buf(0, buf)
  vim.api.nvim_win_set_cursor(0, { d.lnum + 1, d.col })
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

--- The server's copy of an open document (test hook, WARDEN_DEBUG_HOOKS=1).
---@param buf integer
---@return string
local function server_text(buf)
  local client = vim.lsp.get_clients({ bufnr = buf, name = 'warden' })[1]
  return h.request(client, 'warden/debug/document', { uri = vim.uri_from_bufnr(buf) }).text
end

describe('code actions', function()
  local ws

  setup(function()
    ws = h.fixtures()
    h.start()
  end)

  teardown(h.stop_all)
  after_each(h.revert_all)

  it('replace a secret with an environment variable', function()
    local buf = h.open(ws .. '/alpha/scripts/3.00_upload.py')
    local d = h.wait_diagnostic(buf, 'aws-access-key-id')
    local titles = apply(buf, d, '^Replace with environment variable')
    h.wait(10000, function()
      return h.text(buf):find('os.environ["AWS_ACCESS_KEY_ID"]', 1, true)
    end, function()
      return 'the replacement in the buffer; actions offered: ' .. vim.inspect(titles)
    end)
    local text = h.text(buf)
    assert.is_nil(text:find('AKIAQ3EGRB4XY7MNP2KD', 1, true))
    assert.is_truthy(('\n' .. text .. '\n'):find('\nimport os\n', 1, true), text)
    assert.matches('AWS_ACCESS_KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]', text, 1, true)
    h.wait(10000, function()
      return #h.diagnostics(buf, 'aws-access-key-id') == 0
    end, 'the secret diagnostic to go')
    assert.are.equal(h.buffer_text(buf), server_text(buf))
  end)

  it('replace a secret with an environment variable: the value lands in the git-ignored .env, on disk', function()
    local f = assert(io.open(ws .. '/alpha/.gitignore', 'w'))
    f:write('.env\n')
    f:close()
    local buf = h.open(ws .. '/alpha/scripts/3.00_upload.py')
    local d = h.wait_diagnostic(buf, 'aws-access-key-id')
    local messages, restore = h.capture_notify()
    local titles = apply(buf, d, '^Replace with environment variable .*git%-ignored %.env')
    local env = ws .. '/alpha/.env'
    h.wait(10000, function()
      return (h.read(env) or ''):find('AWS_ACCESS_KEY_ID=AKIAQ3EGRB4XY7MNP2KD\n', 1, true)
    end, function()
      return ('the value in %s (on disk: %q); actions offered: %s'):format(env, h.read(env) or '', vim.inspect(titles))
    end)
    h.wait_message(messages, 'saved the value to .*%.env %(git ignores it%)')
    restore()
    assert.matches('os.environ["AWS_ACCESS_KEY_ID"]', h.text(buf), 1, true)
    -- Nothing is left modified out of sight (`:qa` would stop with E162): only the
    -- script the user is looking at has changes.
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(b) and b ~= buf then
        assert.is_false(vim.bo[b].modified, vim.api.nvim_buf_get_name(b))
      end
    end
  end)

  it('allow a risky shell line with a warden:allow comment', function()
    local buf = h.open(ws .. '/alpha/scripts/3.00_upload.py')
    local d = h.wait_diagnostic(buf, 'shell-pipe-to-shell')
    apply(buf, d, '^Allow')
    local line = h.wait(10000, function()
      local l = vim.api.nvim_buf_get_lines(buf, d.lnum, d.lnum + 1, false)[1]
      return l:find('# warden:allow', 1, true) and l or nil
    end, 'the allow comment')
    local expected = '| sh", shell=True, check=True) # warden:allow'
    assert.are.equal(expected, line:sub(-#expected))
    h.wait(10000, function()
      return #h.diagnostics(buf, 'shell-pipe-to-shell') == 0
    end, 'the shell diagnostic to go')
  end)

  it('add a secret to the baseline through the server command', function()
    local buf = h.open(ws .. '/beta/src/config.js')
    local d = h.wait_diagnostic(buf, 'github-pat')
    apply(buf, d, 'baseline')
    local baseline_path = ws .. '/beta/.warden-baseline.json'
    local baseline = h.wait(10000, function()
      return h.read(baseline_path)
    end, baseline_path)
    local json = vim.json.decode(baseline)
    assert.are.equal(1, #json.findings)
    assert.are.equal('github-pat', json.findings[1].rule)
    assert.are.equal('src/config.js', json.findings[1].path)
    assert.matches('^%x+$', json.findings[1].hash)
    assert.are.equal(64, #json.findings[1].hash)
    assert.is_nil(baseline:find('ghp_', 1, true))
    h.wait(10000, function()
      return #h.diagnostics(buf, 'github-pat') == 0
    end, 'the baselined secret to stop being reported')
    -- The source is left alone: the baseline suppresses, it does not edit.
    assert.is_truthy(vim.api.nvim_buf_get_lines(buf, 1, 2, false)[1]:find('ghp_', 1, true))
  end)

  it('upgrade a vulnerable dependency to the lowest fixed version', function()
    local buf = h.open(ws .. '/beta/package.json')
    local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
    local d = h.wait(20000, function()
      for _, diag in ipairs(h.diagnostics(buf)) do
        if lines[diag.lnum + 1]:find('"lodash"', 1, true) then
          return diag
        end
      end
    end, 'a diagnostic on lodash')
    local titles = apply(buf, d, '^Upgrade lodash')
    local line = h.wait(10000, function()
      local l = vim.api.nvim_buf_get_lines(buf, d.lnum, d.lnum + 1, false)[1]
      return l ~= lines[d.lnum + 1] and l or nil
    end, function()
      return 'the upgraded requirement; actions offered: ' .. vim.inspect(titles)
    end)
    assert.are.equal('    "lodash": "^4.17.21"', line)
    assert.are.equal(h.buffer_text(buf), server_text(buf))
  end)
end)
