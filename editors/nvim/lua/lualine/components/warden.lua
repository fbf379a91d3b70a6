-- The lualine component `'warden'`: warden's status in a lualine section,
--   require('lualine').setup({ sections = { lualine_x = { 'warden' } } })
-- It shows `require('warden').status()`: nothing when warden does not serve the current
-- buffer (lualine hides an empty component), "warden" when idle, else the running task
-- ("warden: scanning alpha 40%"). The plugin redraws status lines on `LspProgress`.

return function()
  return require('warden').status()
end
