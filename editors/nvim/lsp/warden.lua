-- warden's `vim.lsp.Config` for Neovim 0.11+: `vim.lsp.enable('warden')` starts one
-- `warden lsp` per root (nearest `.git` or `.warden.toml`, see `root_markers`) with the
-- plugin's settings, handlers and notification listeners; `vim.lsp.config('warden', {...})`
-- overrides fields. The plugin's own autostart steps aside while
-- `vim.lsp.is_enabled('warden')` is true (on releases without that function, set
-- `autostart = false`).

return require('warden.lsp').lsp_config()
