---@mod warden.findings Current findings (`warden/findings`) as quickfix and location lists.
---
--- `:Warden findings [KIND]` gathers the findings of every running server (each knows
--- the roots it serves; duplicates dropped) into the quickfix list; `:Warden lfindings
--- [KIND]` puts those of the current buffer's workspace into the current window's
--- location list. The pickers (`warden.pickers`) read the same list.

local lsp = require('warden.lsp')

local M = {}

---@param msg string
---@param level? integer
local function say(msg, level)
  vim.notify('warden: ' .. msg, level or vim.log.levels.INFO)
end

--- The finding kinds the server knows.
M.kinds = { 'secret', 'shell', 'syntax', 'package' }

local severities =
  { [1] = 'E', [2] = 'W', [3] = 'I', [4] = 'N', error = 'E', warning = 'W', information = 'I', hint = 'N' }

--- Collects findings from every running server (or only `opts.client`), sorted by file
--- and position, without duplicates; `fn(findings, errors)`.
---@param opts {kind?: string, workspace?: string, client?: vim.lsp.Client}
---@param fn fun(findings: warden.FindingInfo[], errors: (lsp.ResponseError|string)[])
function M.collect(opts, fn)
  local clients = opts.client and { opts.client } or lsp.clients()
  if #clients == 0 then
    return fn({}, { 'no warden server is running; open a file in a git repository, or run :Warden restart' })
  end
  local params = { kind = opts.kind, workspace = opts.workspace }
  local pending, seen, findings, errors = #clients, {}, {}, {}
  local function done()
    table.sort(findings, function(a, b)
      if a.uri ~= b.uri then
        return a.uri < b.uri
      end
      if a.range.start.line ~= b.range.start.line then
        return a.range.start.line < b.range.start.line
      end
      return a.range.start.character < b.range.start.character
    end)
    fn(findings, errors)
  end
  for _, client in ipairs(clients) do
    lsp.request(client, lsp.requests.findings, params, function(err, res)
      if err then
        errors[#errors + 1] = err
      else
        for _, f in ipairs(res and res.findings or {}) do
          local r = f.range or { start = { line = 0, character = 0 }, ['end'] = { line = 0, character = 0 } }
          f.range = r
          local key = table.concat({ f.uri, f.rule, r.start.line, r.start.character }, '\0')
          if not seen[key] then
            seen[key] = true
            findings[#findings + 1] = f
          end
        end
      end
      pending = pending - 1
      if pending == 0 then
        done()
      end
    end)
  end
end

--- Quickfix/location list items of findings.
---@param findings warden.FindingInfo[]
---@return table[]
function M.items(findings)
  local items = {}
  for _, f in ipairs(findings) do
    items[#items + 1] = {
      filename = vim.uri_to_fname(f.uri),
      lnum = f.range.start.line + 1,
      col = f.range.start.character + 1,
      end_lnum = f.range['end'].line + 1,
      end_col = f.range['end'].character + 1,
      type = severities[f.severity] or 'W',
      text = ('[%s] %s'):format(f.rule, f.message),
    }
  end
  return items
end

---@param errors (lsp.ResponseError|string)[]
local function report(errors)
  for _, e in ipairs(errors) do
    say('findings failed: ' .. (type(e) == 'table' and tostring(e.message) or tostring(e)), vim.log.levels.ERROR)
  end
end

--- Every current finding (open documents and scanned files) of every running server in
--- the quickfix list, opened when there are any.
---@param kind string|nil secret, shell, syntax or package
function M.quickfix(kind)
  M.collect({ kind = kind }, function(findings, errors)
    report(errors)
    if #errors > 0 and #findings == 0 then
      return
    end
    local items = M.items(findings)
    local title = 'warden findings' .. (kind and (' (' .. kind .. ')') or '')
    vim.fn.setqflist({}, ' ', { title = title, items = items })
    if #items == 0 then
      say('no findings')
    else
      vim.cmd('botright copen')
    end
  end)
end

--- The findings of the current buffer's workspace in the current window's location
--- list, opened when there are any.
---@param kind string|nil
function M.loclist(kind)
  local win = vim.api.nvim_get_current_win()
  lsp.with_workspace(nil, 0, function(client, workspace)
    M.collect({ kind = kind, workspace = workspace, client = client }, function(findings, errors)
      report(errors)
      if #errors > 0 and #findings == 0 then
        return
      end
      if not vim.api.nvim_win_is_valid(win) then
        return
      end
      local items = M.items(findings)
      local title = ('warden findings of %s%s'):format(workspace, kind and (' (' .. kind .. ')') or '')
      vim.fn.setloclist(win, {}, ' ', { title = title, items = items })
      if #items == 0 then
        say(('no findings in %s'):format(workspace))
      else
        vim.api.nvim_win_call(win, function()
          vim.cmd('lopen')
        end)
      end
    end)
  end)
end

return M
