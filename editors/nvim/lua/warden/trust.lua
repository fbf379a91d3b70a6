---@mod warden.trust Repository configuration trust: `:Warden trust` and `:Warden untrust`.
---
--- A repository's `.warden.toml` is untrusted input: the server applies its keys that
--- change where data goes or what is guarded only once the user trusts the file's exact
--- content. These commands show what the file of the current buffer's repository holds
--- back, ask through `vim.ui.select` (so pickers such as telescope or fzf-lua answer),
--- and record the decision with `warden.config.trust {root, sha256}`, naming the content
--- that was shown (a file changed meanwhile is refused by the server).

local lsp = require('warden.lsp')

local M = {}

local function say(msg, level)
  vim.notify('warden: ' .. msg, level or vim.log.levels.INFO)
end

---@param roots warden.ConfigTrustInfo[]
---@param file string the current buffer's file ('' when none)
---@param want fun(r: warden.ConfigTrustInfo): boolean roots that qualify
---@return warden.ConfigTrustInfo|nil root, string|nil why not
function M.pick_root(roots, file, want)
  local best
  for _, r in ipairs(roots) do
    local prefix = r.root:sub(-1) == '/' and r.root or (r.root .. '/')
    if file ~= '' and file:sub(1, #prefix) == prefix and (not best or #r.root > #best.root) then
      best = r
    end
  end
  if best then
    return best
  end
  local candidates = vim.tbl_filter(want, roots)
  if #candidates == 1 then
    return candidates[1]
  end
  if #candidates == 0 then
    return nil, 'no open repository has a .warden.toml that qualifies'
  end
  return nil, 'several repositories qualify; run the command from a file of the one you mean'
end

---@param r warden.ConfigTrustInfo
---@return string
function M.describe(r)
  local lines = {}
  for _, h in ipairs(r.held or {}) do
    lines[#lines + 1] = ('  %s: changes %s'):format(h.key, h.reason)
  end
  return table.concat(lines, '\n')
end

--- Asks the server for the trust state of its roots, then calls `fn(client, root)`.
---@param want fun(r: warden.ConfigTrustInfo): boolean
---@param fn fun(client: vim.lsp.Client, root: warden.ConfigTrustInfo)
local function with_root(want, fn)
  local client = lsp.client_for(0)
  if not client then
    return say('no warden server is running; open a file in a git repository first', vim.log.levels.ERROR)
  end
  local file = vim.api.nvim_buf_get_name(0)
  lsp.request(client, lsp.requests.config_trust, vim.empty_dict(), function(err, result)
    if err then
      return say('reading the configuration trust failed: ' .. err.message, vim.log.levels.ERROR)
    end
    local root, why = M.pick_root(result.roots or {}, file, want)
    if not root then
      return say(why, vim.log.levels.WARN)
    end
    fn(client, root)
  end)
end

local function has_file(r)
  return type(r.file) == 'string'
end

--- `:Warden trust`: shows what the repository's `.warden.toml` holds back and, once
--- confirmed, trusts that content. `bang` skips the confirmation.
---@param bang boolean|nil
function M.trust(bang)
  with_root(function(r)
    return has_file(r) and #(r.held or {}) > 0
  end, function(client, r)
    if not has_file(r) then
      return say(r.root .. ' has no .warden.toml', vim.log.levels.WARN)
    end
    if r.trusted or #(r.held or {}) == 0 then
      return say(r.file .. (r.trusted and ' is already trusted' or ' sets only keys that apply without trust'))
    end
    local function record()
      lsp.execute(client, lsp.commands.config_trust, { root = r.root, sha256 = r.sha256 }, function(err, info)
        if err then
          return say('trust failed: ' .. err.message, vim.log.levels.ERROR)
        end
        local keys = vim.tbl_map(function(h)
          return h.key
        end, r.held)
        say(
          ('trusted %s: %s now apply (any change to the file asks again)'):format(info.file, table.concat(keys, ', '))
        )
      end)
    end
    if bang then
      return record()
    end
    local prompt = ('%s wants to change:\n%s\nTrust this content?'):format(r.file, M.describe(r))
    vim.ui.select({ 'Trust this configuration', 'Cancel' }, { prompt = prompt }, function(choice)
      if choice == 'Trust this configuration' then
        record()
      end
    end)
  end)
end

--- `:Warden untrust`: forgets the decision; the guarded keys are ignored again.
function M.untrust()
  with_root(function(r)
    return r.trusted
  end, function(client, r)
    lsp.execute(client, lsp.commands.config_untrust, { root = r.root }, function(err, info)
      if err then
        return say('untrust failed: ' .. err.message, vim.log.levels.ERROR)
      end
      say(('%s is no longer trusted; %d key(s) are ignored again'):format(info.file or r.root, #(info.held or {})))
    end)
  end)
end

return M
