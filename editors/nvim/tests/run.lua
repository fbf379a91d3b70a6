-- Runs busted specs inside Neovim: `nvim --clean --headless -l tests/run.lua [busted args] SPEC...`.
-- Uses Debian's lua-busted (Lua 5.1 modules, which Neovim's LuaJIT loads) and puts this
-- plugin first on 'runtimepath'; specs source plugin/warden.lua themselves (helpers.start).

local plugin = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h')
vim.opt.runtimepath:prepend(plugin)
vim.opt.packpath = vim.opt.runtimepath:get()
vim.cmd('filetype on')

for _, dir in ipairs({ '/usr/share/lua/5.1', '/usr/local/share/lua/5.1' }) do
  package.path = ('%s/?.lua;%s/?/init.lua;'):format(dir, dir) .. package.path
end
for _, dir in ipairs({
  '/usr/lib/x86_64-linux-gnu/lua/5.1',
  '/usr/lib/aarch64-linux-gnu/lua/5.1',
  '/usr/local/lib/lua/5.1',
}) do
  package.cpath = package.cpath .. (';%s/?.so'):format(dir)
end
package.path = plugin .. '/tests/?.lua;' .. package.path

local ok, runner = pcall(require, 'busted.runner')
if not ok then
  io.stderr:write('busted is not installed (Debian: apt-get install lua-busted): ' .. tostring(runner) .. '\n')
  os.exit(2)
end
runner({ standalone = false })
