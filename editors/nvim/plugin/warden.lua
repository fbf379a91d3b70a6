-- warden.nvim start-up: checks the Neovim version, defines `:Warden` and the
-- `<Plug>(warden-...)` mappings, and attaches the per-root `warden lsp` clients to file
-- buffers as they open. Everything else loads on first use (lua/warden/*).

if vim.g.loaded_warden then
  return
end

if vim.fn.has('nvim-0.10') ~= 1 then
  local v = vim.version and vim.version() or nil
  local have = v and ('%d.%d.%d'):format(v.major, v.minor, v.patch) or 'this version'
  vim.api.nvim_echo({
    { ('warden.nvim requires Neovim 0.10 or newer (this is %s); the plugin is disabled.'):format(have), 'ErrorMsg' },
  }, true, {})
  return
end
vim.g.loaded_warden = true

vim.api.nvim_create_user_command('Warden', function(opts)
  require('warden.commands').run(opts)
end, {
  nargs = '*',
  bang = true,
  range = true,
  desc = 'warden: LLM actions, usage, traces, workspaces, system prompt, scans (:help warden-commands)',
  complete = function(arglead, cmdline, cursorpos)
    return require('warden.commands').complete(arglead, cmdline, cursorpos)
  end,
})

-- <Plug> mappings for every action worth a key (suggested keymaps: :help warden-mappings).
-- Visual-mode ones pass the selected lines as the command's range.
for _, m in ipairs({
  { 'explain', 'explain', true },
  { 'fix', 'fix' },
  { 'rewrite', 'rewrite', true },
  { 'docstring', 'docstring' },
  { 'tests', 'tests', true },
  { 'retry', 'retry' },
  { 'run', 'run' },
  { 'run-all', 'runAll' },
  { 'runs', 'runs' },
  { 'scripts', 'scripts' },
  { 'traces', 'traces' },
  { 'findings', 'findings' },
  { 'lfindings', 'lfindings' },
  { 'scan', 'scan' },
  { 'cancel', 'cancel' },
  { 'usage', 'usage' },
  { 'terminal', 'terminal' },
  { 'prompt', 'prompt' },
  { 'log', 'log' },
  { 'worktrees', 'worktrees' },
  { 'fix-until-green', 'fixUntilGreen' },
  { 'fix-accept', 'accept' },
  { 'fix-discard', 'discard' },
  { 'search', 'search' },
  { 'restart', 'restart' },
  { 'pick-workspace', 'pick workspaces' },
  { 'pick-run', 'pick runs' },
  { 'pick-trace', 'pick traces' },
  { 'pick-finding', 'pick findings' },
}) do
  local lhs, desc = ('<Plug>(warden-%s)'):format(m[1]), 'warden: ' .. m[2]
  vim.keymap.set('n', lhs, ('<Cmd>Warden %s<CR>'):format(m[2]), { silent = true, desc = desc })
  if m[3] then
    vim.keymap.set('x', lhs, (':Warden %s<CR>'):format(m[2]), { silent = true, desc = desc .. ' (selected lines)' })
  end
end

local group = vim.api.nvim_create_augroup('warden', { clear = true })
vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile', 'FileType' }, {
  group = group,
  desc = 'warden: attach the language server of the buffer root',
  callback = function(ev)
    local ok, config = pcall(require, 'warden.config')
    if not ok or not config.get().autostart then
      return
    end
    if vim.lsp.is_enabled and vim.lsp.is_enabled('warden') then
      return -- vim.lsp.enable('warden') owns attaching
    end
    require('warden.lsp').attach(ev.buf)
  end,
})

-- Buffers loaded before the plugin (lazy loading) get attached too.
vim.schedule(function()
  require('warden').attach_all()
end)
