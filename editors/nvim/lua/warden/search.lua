---@mod warden.search Full-text search over the workspaces' files (`warden/search`).
---
--- `:Warden search [glob=PATTERN] [workspace=NAME] QUERY` asks every running server (each
--- searches the open workspaces of its roots, through its trigram index) and offers the
--- matching lines through `vim.ui.select` (`kind = 'warden.search'`), formatted
--- `path:line:col: text`; choosing one opens the file at the match. `:Warden! search ...`
--- puts every match in the quickfix list instead and opens it. `/EXPR/` is a regular
--- expression (Rust `regex` syntax); either way the search is smart case. Without a
--- QUERY, `vim.ui.input` asks for one.

local lsp = require('warden.lsp')

local M = {}

--- Matching lines asked for when picking; the quickfix list takes more.
M.select_limit = 200
M.quickfix_limit = 2000

---@param msg string
---@param level? integer
local function say(msg, level)
  vim.notify('warden: ' .. msg, level or vim.log.levels.INFO)
end

---@class warden.SearchQuery
---@field query string
---@field regex boolean
---@field glob? string
---@field workspace? string

--- Reads `:Warden search` arguments: `glob=PATTERN` and `workspace=NAME` anywhere, the
--- other words (joined by one space) the query; `/EXPR/` a regular expression. Returns
--- nil for the query when there is none, and the options given either way.
---@param args string[]
---@return warden.SearchQuery|nil query, {glob?: string, workspace?: string} options
function M.parse(args)
  local words, options = {}, {}
  for _, a in ipairs(args) do
    local key, value = a:match('^(%a+)=(.+)$')
    if key == 'glob' then
      options.glob = value
    elseif key == 'workspace' then
      options.workspace = value
    else
      words[#words + 1] = a
    end
  end
  return M.parse_query(table.concat(words, ' '), options), options
end

--- The query part: `/EXPR/` is a regular expression, anything else a literal; nil when
--- blank.
---@param text string
---@param options? {glob?: string, workspace?: string}
---@return warden.SearchQuery|nil
function M.parse_query(text, options)
  local out = { glob = options and options.glob, workspace = options and options.workspace, regex = false }
  local expr = vim.trim(text):match('^/(.+)/$')
  if expr then
    out.query, out.regex = expr, true
  elseif vim.trim(text) ~= '' then
    out.query = text
  else
    return nil
  end
  return out
end

--- The byte column (0-based) of an LSP character offset in `line`.
---@param line string
---@param character integer
---@param encoding string
---@return integer
function M.byte_col(line, character, encoding)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  -- Neovim 0.11: (s, encoding, index, strict); 0.10: (s, index, use_utf16).
  local ok, idx = pcall(vim.str_byteindex, line, encoding, character, false)
  if not ok or type(idx) ~= 'number' then
    ok, idx = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  if ok and type(idx) == 'number' then
    return idx
  end
  return math.min(character, #line)
end

---@class warden.SearchItem
---@field match warden.SearchMatch
---@field filename string
---@field lnum integer 1-based
---@field col integer 1-based byte column of the first match
---@field end_col integer 1-based byte column just after it
---@field encoding string the offset encoding of the server that answered

--- A match as a picker/quickfix item (1-based line, byte columns).
---@param m warden.SearchMatch
---@param encoding string
---@return warden.SearchItem
function M.item(m, encoding)
  local s, e = m.range.start, m.range['end']
  local col = M.byte_col(m.text, s.character, encoding)
  local end_col = e.line == s.line and M.byte_col(m.text, e.character, encoding) or #m.text
  return {
    match = m,
    filename = vim.uri_to_fname(m.uri),
    lnum = s.line + 1,
    col = col + 1,
    end_col = end_col + 1,
    encoding = encoding,
  }
end

--- `path:line:col: text` (the workspace first when `with_workspace`).
---@param item warden.SearchItem
---@param with_workspace? boolean
---@return string
function M.format(item, with_workspace)
  local m = item.match
  return ('%s%s:%d:%d: %s'):format(
    with_workspace and (m.workspace .. '/') or '',
    m.path,
    item.lnum,
    item.col,
    vim.trim(m.text)
  )
end

--- Quickfix entries of items.
---@param items warden.SearchItem[]
---@return table[]
function M.qf_items(items)
  return vim.tbl_map(function(it)
    return {
      filename = it.filename,
      lnum = it.lnum,
      col = it.col,
      end_lnum = it.lnum,
      end_col = it.end_col,
      text = it.match.text,
    }
  end, items)
end

--- Searches on every running server (only those with `q.workspace` open, when given);
--- `fn(items, info, errors)` gets the matches in the servers' order (best files first),
--- without duplicates; `info.truncated` when some server had more.
---@param q warden.SearchQuery
---@param limit integer
---@param fn fun(items: warden.SearchItem[], info: {truncated: boolean, files: integer}, errors: string[])
function M.collect(q, limit, fn)
  local clients = lsp.clients()
  if q.workspace then
    local having = vim.tbl_filter(function(c)
      for _, ws in ipairs(lsp.client_state(c.id).workspaces or {}) do
        if ws.name == q.workspace and ws.open then
          return true
        end
      end
      return false
    end, clients)
    clients = #having > 0 and having or clients
  end
  if #clients == 0 then
    return fn({}, { truncated = false, files = 0 }, {
      'no warden server is running; open a file in a git repository, or run :Warden restart',
    })
  end
  local params = {
    query = q.query,
    regex = q.regex or nil,
    glob = q.glob,
    workspace = q.workspace,
    limit = limit,
    context = 0,
  }
  local pending, answers, errors = #clients, {}, {}
  local info = { truncated = false, files = 0 }
  for i, client in ipairs(clients) do
    lsp.request(client, lsp.requests.search, params, function(err, res)
      if err then
        local message = type(err) == 'table' and tostring(err.message) or tostring(err)
        if not vim.tbl_contains(errors, message) then
          errors[#errors + 1] = message
        end
      elseif res then
        answers[i] = { res = res, encoding = client.offset_encoding or 'utf-16' }
      end
      pending = pending - 1
      if pending > 0 then
        return
      end
      local items, seen, files = {}, {}, {}
      for j = 1, #clients do
        local a = answers[j]
        if a then
          info.truncated = info.truncated or a.res.truncated == true
          for _, m in ipairs(a.res.results or {}) do
            local key = m.uri .. '\0' .. m.range.start.line
            if not seen[key] then
              seen[key] = true
              files[m.uri] = true
              items[#items + 1] = M.item(m, a.encoding)
            end
          end
        end
      end
      info.files = vim.tbl_count(files)
      fn(items, info, errors)
    end)
  end
end

--- Opens an item's file at its match.
---@param item warden.SearchItem
function M.jump(item)
  vim.cmd('normal! m`')
  vim.cmd.edit(vim.fn.fnameescape(item.filename))
  local last = vim.api.nvim_buf_line_count(0)
  vim.api.nvim_win_set_cursor(0, { math.min(item.lnum, last), item.col - 1 })
  vim.cmd('normal! zv')
end

---@param q warden.SearchQuery
---@return string
local function describe(q)
  local text = q.regex and ('/' .. q.query .. '/') or q.query
  if q.glob then
    text = text .. ' in ' .. q.glob
  end
  return text
end

--- Reports errors; true when there is nothing else to show.
---@param errors string[]
---@param items warden.SearchItem[]
---@return boolean
local function report(errors, items)
  for _, e in ipairs(errors) do
    say('search failed: ' .. e, vim.log.levels.ERROR)
  end
  return #errors > 0 and #items == 0
end

--- Runs a search: through `vim.ui.select`, or (`opts.quickfix`) into the quickfix list.
---@param q warden.SearchQuery
---@param opts? {quickfix?: boolean}
function M.run(q, opts)
  opts = opts or {}
  local limit = opts.quickfix and M.quickfix_limit or M.select_limit
  M.collect(q, limit, function(items, info, errors)
    if report(errors, items) then
      return
    end
    if #items == 0 then
      return say(('no matches for %s'):format(describe(q)))
    end
    if info.truncated then
      say(('more than %d lines match %s; showing the first ones'):format(#items, describe(q)), vim.log.levels.WARN)
    end
    local workspaces = {}
    for _, it in ipairs(items) do
      workspaces[it.match.workspace] = true
    end
    local several = vim.tbl_count(workspaces) > 1
    if opts.quickfix then
      vim.fn.setqflist({}, ' ', { title = 'warden search: ' .. describe(q), items = M.qf_items(items) })
      vim.cmd('botright copen')
      return
    end
    vim.ui.select(items, {
      prompt = ('%d line%s matching %s in %d file%s'):format(
        #items,
        #items == 1 and '' or 's',
        describe(q),
        info.files,
        info.files == 1 and '' or 's'
      ),
      kind = 'warden.search',
      format_item = function(it)
        return M.format(it, several)
      end,
    }, function(choice)
      if choice then
        M.jump(choice)
      end
    end)
  end)
end

--- `:Warden[!] search ARGS...`: asks for the query when there is none.
---@param args string[]
---@param bang boolean
function M.command(args, bang)
  local q, options = M.parse(args)
  if q then
    return M.run(q, { quickfix = bang })
  end
  vim.ui.input({ prompt = 'Search the workspace (/EXPR/ for a regex): ' }, function(text)
    local asked = text and M.parse_query(text, options)
    if asked then
      M.run(asked, { quickfix = bang })
    end
  end)
end

return M
