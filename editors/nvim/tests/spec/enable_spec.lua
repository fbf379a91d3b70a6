-- Neovim 0.11+: lsp/warden.lua as a vim.lsp.Config, started by vim.lsp.enable('warden')
-- instead of the plugin's autostart.

local h = require('helpers')

local supported = vim.fn.has('nvim-0.11') == 1

describe("vim.lsp.enable('warden')", function()
  local ws

  setup(function()
    ws = h.fixtures()
    h.start()
  end)

  teardown(h.stop_all)

  it('finds lsp/warden.lua with the plugin configuration', function()
    if not supported then
      return pending('needs Neovim 0.11')
    end
    local cfg = vim.lsp.config.warden
    assert.is_table(cfg)
    assert.are.same({ h.bin, 'lsp' }, cfg.cmd)
    assert.are.equal('function', type(cfg.root_dir))
    assert.is_function(cfg.handlers['workspace/configuration'])
    assert.is_function(cfg.handlers['warden/traceStarted'])
    assert.are.same({ h.osv }, cfg.init_options.packages.osvPaths)
  end)

  it('starts one server per root, and the plugin autostart steps aside', function()
    if not supported then
      return pending('needs Neovim 0.11')
    end
    vim.lsp.enable('warden')
    local buf, client = h.open(ws .. '/alpha/scripts/3.00_upload.py')
    assert.are.equal(ws .. '/alpha', client.root_dir)
    h.wait_diagnostic(buf, 'aws-access-key-id')
    h.open(ws .. '/alpha/scripts/1.00_fetch.py')
    assert.are.equal(1, #vim.lsp.get_clients({ name = 'warden' }))
    local _, beta = h.open(ws .. '/beta/src/index.js')
    assert.are_not.equal(client.id, beta.id)
    assert.are.equal(2, #vim.lsp.get_clients({ name = 'warden' }))
  end)

  it('leaves files outside every root alone', function()
    if not supported then
      return pending('needs Neovim 0.11')
    end
    vim.cmd.edit(vim.fn.fnameescape(ws .. '/notes/todo.md'))
    vim.wait(300)
    assert.are.same({}, vim.lsp.get_clients({ bufnr = 0, name = 'warden' }))
  end)

  it('feeds the plugin: workspaces state and the traces buffer', function()
    if not supported then
      return pending('needs Neovim 0.11')
    end
    local lsp = require('warden.lsp')
    local _, client = h.open(ws .. '/alpha/scripts/1.00_fetch.py')
    h.wait(10000, function()
      return lsp.client_state(client.id).active
    end, 'the workspaces state')
    vim.cmd('Warden traces')
    local buf = vim.api.nvim_get_current_buf()
    h.wait(10000, function()
      return h.text(buf):find('workspace.folders', 1, true)
    end, 'spans in the traces buffer')
  end)
end)
