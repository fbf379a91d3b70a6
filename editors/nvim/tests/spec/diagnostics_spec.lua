-- Diagnostics from the real server: planted secrets on disk and typed into a buffer,
-- risky shell, package advisories from the fixture OSV data, hover, and the findings
-- quickfix list.

local h = require('helpers')

describe('diagnostics', function()
  local ws, upload

  setup(function()
    ws = h.fixtures()
    upload = ws .. '/alpha/scripts/3.00_upload.py'
    h.start()
  end)

  teardown(h.stop_all)
  after_each(h.revert_all)

  it('appear at exactly the planted secret, without revealing it', function()
    local buf = h.open(upload)
    local d = h.wait_diagnostic(buf, 'aws-access-key-id')
    local line = vim.api.nvim_buf_get_lines(buf, d.lnum, d.lnum + 1, false)[1]
    assert.are.equal('AKIAQ3EGRB4XY7MNP2KD', line:sub(d.col + 1, d.end_col))
    assert.are.equal(3, d.lnum)
    assert.are.equal(vim.diagnostic.severity.ERROR, d.severity)
    assert.is_nil(d.message:find('AKIAQ3EGRB4XY7MNP2KD', 1, true))
    local shell = h.wait_diagnostic(buf, 'shell-pipe-to-shell')
    assert.are.equal(7, shell.lnum)
    assert.are.equal(vim.diagnostic.severity.WARN, shell.severity)
  end)

  it('follow a secret typed into the buffer, and its removal', function()
    local buf = h.open(upload)
    h.wait_diagnostic(buf, 'aws-access-key-id')
    assert.are.same({}, h.diagnostics(buf, 'github-pat'))
    local token = 'ghp_' .. 'Wq3rT8yU1iO4pA7sD2fG5hJ9kL0zX6cV3bN8'
    vim.api.nvim_buf_set_lines(buf, 4, 4, false, { ('GITHUB_TOKEN = "%s"'):format(token) })
    local d = h.wait_diagnostic(buf, 'github-pat')
    assert.are.equal(4, d.lnum)
    assert.are.equal(token, vim.api.nvim_buf_get_lines(buf, 4, 5, false)[1]:sub(d.col + 1, d.end_col))
    vim.api.nvim_buf_set_lines(buf, 4, 5, false, {})
    h.wait(10000, function()
      return #h.diagnostics(buf, 'github-pat') == 0
    end, 'the github-pat diagnostic to go')
    assert.are.equal(1, #h.diagnostics(buf, 'aws-access-key-id'))
  end)

  it('report a syntax error an edit introduces where it is, not the committed one', function()
    local buf = h.open(ws .. '/beta/src/config.js')
    h.wait_diagnostic(buf, 'github-pat')
    -- The committed file's own error (a missing "}" on line 3) was there before the
    -- user: only errors an edit introduces are shown (`warden scan` reports both).
    assert.are.equal(0, #h.diagnostics(buf, 'syntax-missing'))
    vim.api.nvim_buf_set_lines(buf, 0, 1, false, { 'const broken = (;' })
    local d = h.wait_diagnostic(buf, 'syntax-error')
    assert.are.equal(0, d.lnum)
    assert.matches('unexpected "="', d.message, 1, true)
    assert.are.equal(0, #h.diagnostics(buf, 'syntax-missing'))
  end)

  it('flag malicious and vulnerable packages from the OSV data in settings', function()
    local buf = h.open(ws .. '/beta/package.json')
    local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
    local chalk = h.wait(20000, function()
      for _, d in ipairs(h.diagnostics(buf)) do
        if lines[d.lnum + 1]:find('"chalk"', 1, true) then
          return d
        end
      end
    end, 'a diagnostic on chalk (OSV data imported from settings.packages.osvPaths)')
    assert.are.equal(vim.diagnostic.severity.ERROR, chalk.severity)
    assert.matches('^MAL%-', chalk.code)
    assert.are.equal('"chalk": "5.6.1"', lines[chalk.lnum + 1]:sub(chalk.col + 1, chalk.end_col))
  end)

  it('hover on a dependency lists its advisories', function()
    local buf = h.open(ws .. '/beta/package.json')
    local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
    local row
    for i, l in ipairs(lines) do
      if l:find('"lodash"', 1, true) then
        row = i - 1
      end
    end
    h.wait(20000, function()
      for _, d in ipairs(h.diagnostics(buf)) do
        if d.lnum == row then
          return true
        end
      end
    end, 'the lodash diagnostic')
    local res = vim.lsp.buf_request_sync(buf, 'textDocument/hover', {
      textDocument = { uri = vim.uri_from_bufnr(buf) },
      position = { line = row, character = 6 },
    }, 10000)
    local value
    for _, r in pairs(res or {}) do
      value = r.result and r.result.contents and r.result.contents.value
    end
    assert.is_string(value)
    assert.matches('lodash', value)
    assert.matches('GHSA%-', value)
  end)

  it(':Warden findings fills the quickfix list with every finding', function()
    vim.fn.setqflist({}, 'r')
    vim.cmd('Warden findings secret')
    local items = h.wait(10000, function()
      local qf = vim.fn.getqflist({ title = 1, items = 1 })
      return qf.title == 'warden findings (secret)' and #qf.items > 0 and qf.items or nil
    end, 'the findings quickfix list')
    local aws
    for _, item in ipairs(items) do
      if item.text:find('[aws-access-key-id]', 1, true) then
        aws = item
      end
    end
    assert.is_table(aws, vim.inspect(items))
    assert.are.equal(upload, vim.api.nvim_buf_get_name(aws.bufnr))
    assert.are.equal(4, aws.lnum)
    assert.are.equal(22, aws.col)
    assert.are.equal('E', aws.type)
    for _, item in ipairs(items) do
      assert.is_nil(item.text:find('shell-pipe-to-shell', 1, true))
    end
    vim.cmd('cclose')
  end)
end)
