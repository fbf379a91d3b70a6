-- The lualine component `'warden_gateway'`: how many calls went through warden's LLM
-- gateway today (UTC, every workspace), e.g. "gateway: 3 calls"; nothing before the
-- first call of the day (lualine hides an empty component).
--   require('lualine').setup({ sections = { lualine_x = { 'warden_gateway', 'warden' } } })

return function()
  return require('warden.gateway').status()
end
