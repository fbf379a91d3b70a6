-- Shared set-up for the specs: fixture workspaces materialized by scripts/fixtures.sh in
-- this spec's temporary folder, the plugin configured for the real warden binary with a
-- temporary database, waiting on real events, and capturing notifications.

local h = {}

h.repo = assert(os.getenv('WARDEN_REPO'), 'WARDEN_REPO is not set (run scripts/test-nvim.sh)')
h.bin = assert(os.getenv('WARDEN_BIN'), 'WARDEN_BIN is not set (run scripts/test-nvim.sh)')
h.tmp = assert(os.getenv('WARDEN_TEST_TMP'), 'WARDEN_TEST_TMP is not set (run scripts/test-nvim.sh)')
h.osv = h.repo .. '/fixtures/osv'
h.mock_bin = os.getenv('WARDEN_MOCK_LLM')
h.registry_bin = os.getenv('WARDEN_MOCK_REGISTRY')

--- Whether a Docker engine answers. Without one the Docker specs skip with a printed
--- reason, unless WARDEN_REQUIRE_DOCKER is set (CI), when they fail.
---@return boolean
function h.docker()
  local ok, res = pcall(function()
    return vim.system({ 'docker', 'version', '--format', '{{.Server.Version}}' }, { text = true }):wait(10000)
  end)
  local up = ok and res.code == 0 and vim.trim(res.stdout or '') ~= ''
  if not up then
    assert(not os.getenv('WARDEN_REQUIRE_DOCKER'), 'WARDEN_REQUIRE_DOCKER is set but no Docker engine answers')
    io.stdout:write('SKIPPED: no Docker engine answers and WARDEN_REQUIRE_DOCKER is unset\n')
  end
  return up
end

--- Runs a command, failing the spec when it fails.
---@param cmd string[]
---@return string stdout
function h.system(cmd)
  local res = vim.system(cmd, { text = true }):wait()
  assert(res.code == 0, ('%s failed (%d): %s'):format(table.concat(cmd, ' '), res.code, res.stderr or ''))
  return res.stdout
end

--- Materializes the fixture workspaces (alpha, beta, gamma as git repositories; notes a
--- plain folder) in this spec's temporary folder; returns that folder.
---@return string
function h.fixtures()
  local dest = h.tmp .. '/ws'
  h.system({ h.repo .. '/scripts/fixtures.sh', dest })
  return dest
end

--- Configures the plugin through vim.g.warden (the spec's database comes from
--- WARDEN_DB, set by the runner) and sources plugin/warden.lua.
---@param extra? table options merged over the defaults used by the specs
function h.start(extra)
  local opts = {
    cmd = { h.bin, 'lsp' },
    settings = { packages = { osvPaths = { h.osv }, osvPollSeconds = 0 } },
  }
  vim.g.warden = vim.tbl_deep_extend('force', opts, extra or {})
  vim.cmd.runtime('plugin/warden.lua')
end

--- Waits (running the event loop) until `cond` returns a truthy value; fails with `what`.
---@param ms integer
---@param cond fun(): any
---@param what string|fun(): string
---@return any
function h.wait(ms, cond, what)
  local value
  local ok = vim.wait(ms, function()
    value = cond()
    return value ~= nil and value ~= false
  end, 20)
  if not ok then
    error(('timed out after %d ms waiting for %s'):format(ms, type(what) == 'function' and what() or what), 2)
  end
  return value
end

--- Opens a file and waits until warden is attached to it; returns buffer and client.
---@param path string
---@return integer bufnr, vim.lsp.Client client
function h.open(path)
  local existing = vim.fn.bufnr(path)
  if existing ~= -1 and vim.api.nvim_buf_is_loaded(existing) then
    vim.api.nvim_win_set_buf(0, existing)
  else
    vim.cmd.edit(vim.fn.fnameescape(path))
  end
  local buf = vim.api.nvim_get_current_buf()
  local client = h.wait(10000, function()
    local c = vim.lsp.get_clients({ bufnr = buf, name = 'warden' })[1]
    return c and c.initialized and c or nil
  end, 'warden to attach to ' .. path)
  return buf, client
end

--- warden diagnostics of a buffer with this code.
---@param buf integer
---@param code string
---@return vim.Diagnostic[]
function h.diagnostics(buf, code)
  return vim.tbl_filter(function(d)
    return d.source == 'warden' and (code == nil or d.code == code)
  end, vim.diagnostic.get(buf))
end

--- Waits for a warden diagnostic with this code in the buffer.
---@param buf integer
---@param code string
---@param ms? integer
---@return vim.Diagnostic
function h.wait_diagnostic(buf, code, ms)
  return h.wait(ms or 15000, function()
    return h.diagnostics(buf, code)[1]
  end, function()
    local have = vim.tbl_map(function(d)
      return tostring(d.code)
    end, vim.diagnostic.get(buf))
    return ('diagnostic %s in %s (have: %s)'):format(code, vim.api.nvim_buf_get_name(buf), table.concat(have, ', '))
  end)
end

--- Records vim.notify messages until the returned function is called.
---@return {msg: string, level: integer}[] messages, fun() restore
function h.capture_notify()
  local messages, orig = {}, vim.notify
  vim.notify = function(msg, level)
    messages[#messages + 1] = { msg = msg, level = level or vim.log.levels.INFO }
  end
  return messages, function()
    vim.notify = orig
  end
end

--- Waits for a captured message matching a Lua pattern.
---@param messages {msg: string}[]
---@param pattern string
---@param ms? integer
---@return string
function h.wait_message(messages, pattern, ms)
  return h.wait(ms or 10000, function()
    for _, m in ipairs(messages) do
      if m.msg:find(pattern) then
        return m.msg
      end
    end
  end, function()
    local got = vim.tbl_map(function(m)
      return m.msg
    end, messages)
    return ('a message matching %q (got: %s)'):format(pattern, vim.inspect(got))
  end)
end

--- Sends a request synchronously and returns the result (fails the spec on error).
---@param client vim.lsp.Client
---@param method string
---@param params table
---@return any
function h.request(client, method, params)
  local result, err = require('warden.lsp').request_sync(client, method, params, 10000)
  assert(not err, method .. ' failed: ' .. tostring(err))
  return result
end

--- Waits for the start-up scan of `client`'s workspace to finish: its span is stored.
---@param client vim.lsp.Client
function h.wait_for_startup_scan(client)
  h.wait(15000, function()
    local res = h.request(client, 'warden/traces', { kind = 'scan' })
    return #res.traces > 0 and res.traces[1].finishedAt
  end, 'the start-up scan span')
end

--- Runs a warden command synchronously and returns its result.
---@param client vim.lsp.Client
---@param command string
---@param args table|nil
---@return any
function h.command(client, command, args)
  if args == nil or next(args) == nil then
    args = vim.empty_dict()
  end
  return h.request(client, 'workspace/executeCommand', { command = command, arguments = { args } })
end

--- The buffer named exactly `name`, or nil.
---@param name string
---@return integer|nil
function h.buf_named(name)
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_get_name(b) == name then
      return b
    end
  end
end

--- The lines of a buffer as one string.
---@param buf integer
---@return string
function h.text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
end

--- A buffer's text as Neovim sends it to servers (with the final newline).
---@param buf integer
---@return string
function h.buffer_text(buf)
  local text = h.text(buf)
  if vim.bo[buf].eol or vim.bo[buf].fixeol then
    text = text .. '\n'
  end
  return text
end

--- Throws away unsaved changes in every buffer (between tests).
function h.revert_all()
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].modified and vim.bo[buf].buftype == '' then
      vim.api.nvim_buf_call(buf, function()
        vim.cmd('silent! edit!')
      end)
    end
  end
end

--- Reads a file.
---@param path string
---@return string|nil
function h.read(path)
  local f = io.open(path, 'r')
  if not f then
    return nil
  end
  local s = f:read('*a')
  f:close()
  return s
end

--- One HTTP/1.1 request to 127.0.0.1:`port` (the mock closes the connection after
--- answering); returns the status and the body.
---@param port integer
---@param method string
---@param path string
---@param body? string
---@return integer status, string body
function h.http(port, method, path, body)
  body = body or ''
  local tcp = assert(vim.uv.new_tcp())
  local chunks, done, err = {}, false, nil
  tcp:connect('127.0.0.1', port, function(cerr)
    if cerr then
      err, done = cerr, true
      return
    end
    tcp:write(
      ('%s %s HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s'):format(
        method,
        path,
        #body,
        body
      )
    )
    tcp:read_start(function(rerr, data)
      if rerr then
        err, done = rerr, true
      elseif data then
        chunks[#chunks + 1] = data
      else
        done = true
      end
    end)
  end)
  h.wait(10000, function()
    return done
  end, method .. ' ' .. path)
  if not tcp:is_closing() then
    tcp:close()
  end
  assert(not err, ('%s %s: %s'):format(method, path, tostring(err)))
  local response = table.concat(chunks)
  local status = tonumber(response:match('^HTTP/1%.1 (%d+)'))
  return status, response:match('\r\n\r\n(.*)$') or ''
end

---@class warden.test.MockLlm
---@field url string base URL (`http://127.0.0.1:PORT/v1`) to configure
---@field port integer
---@field script fun(script: table) queues the next reply (`POST /_script`)
---@field requests fun(): {path: string, headers: string[][], body: string}[] every request received
---@field stop fun()

--- Starts `warden-mock-llm` on a free port. It runs under a shell that kills it when
--- its stdin closes, so it ends with `stop()` and also when this Neovim dies.
---@return warden.test.MockLlm
function h.mock_llm()
  assert(h.mock_bin, 'WARDEN_MOCK_LLM is not set (run scripts/test-nvim.sh)')
  local url
  local proc = vim.system(
    { 'sh', '-c', '"$1" 0 & pid=$!; cat >/dev/null; kill "$pid"; wait "$pid"', 'sh', h.mock_bin },
    {
      stdin = true,
      stdout = function(_, data)
        if data and not url then
          url = data:match('(http://[%w.:%[%]]+/v1)')
        end
      end,
    }
  )
  h.wait(10000, function()
    return url
  end, 'warden-mock-llm to print its URL')
  local mock = { url = url, port = tonumber(url:match(':(%d+)/v1$')) }
  function mock.script(script)
    local status = h.http(mock.port, 'POST', '/_script', vim.json.encode(script))
    assert(status == 200, 'POST /_script answered ' .. tostring(status))
  end
  function mock.requests()
    local status, body = h.http(mock.port, 'GET', '/_requests')
    assert(status == 200, 'GET /_requests answered ' .. tostring(status))
    return vim.json.decode(body)
  end
  function mock.stop()
    pcall(function()
      proc:write(nil)
    end)
    local res = proc:wait(5000)
    if res.signal ~= 0 and res.code ~= 0 then
      pcall(proc.kill, proc, 9)
    end
  end
  return mock
end

---@class warden.test.MockRegistry
---@field osv string the OSV mirror's URL, token included (pass it as it is)
---@field metadata string the metadata API's URL, token included
---@field osv_plain string the mirror's URL without the token (as warden stores and shows it)
---@field token string
---@field stop fun()

--- Starts `warden-mock-registry` on a free loopback port: fixtures/osv served as an OSV
--- mirror, fixtures/metadata as a deps.dev-shaped API (a package without a recorded
--- answer is a 404: unknown). Like the mock LLM it dies with this Neovim.
---@return warden.test.MockRegistry
function h.mock_registry()
  assert(h.registry_bin, 'WARDEN_MOCK_REGISTRY is not set (run scripts/test-nvim.sh)')
  local out = ''
  local proc = vim.system({
    'sh',
    '-c',
    '"$1" "$2" 0 --metadata "$3" & pid=$!; cat >/dev/null; kill "$pid"; wait "$pid"',
    'sh',
    h.registry_bin,
    h.osv,
    h.repo .. '/fixtures/metadata',
  }, {
    stdin = true,
    stdout = function(_, data)
      if data then
        out = out .. data
      end
    end,
  })
  local line = h.wait(10000, function()
    return out:match('(%b{})')
  end, 'warden-mock-registry to print its URLs')
  local urls = vim.json.decode(line)
  for _, url in ipairs({ urls.osv, urls.metadata }) do
    assert(url:match('^http://[^/]*@127%.0%.0%.1:%d+/'), 'the registry is not on loopback: ' .. url)
  end
  local reg = {
    osv = urls.osv,
    metadata = urls.metadata,
    osv_plain = urls.osv:gsub('//[^/@]*@', '//'),
    token = urls.osv:match('//[^:/]*:([^@/]*)@'),
  }
  function reg.stop()
    pcall(function()
      proc:write(nil)
    end)
    local res = proc:wait(5000)
    if res.signal ~= 0 and res.code ~= 0 then
      pcall(proc.kill, proc, 9)
    end
  end
  return reg
end

--- Settings pointing warden at a mock provider.
---@param mock warden.test.MockLlm
---@param extra? table merged into the `llm` section
---@return table
function h.llm_settings(mock, extra)
  return vim.tbl_deep_extend('force', {
    provider = 'local',
    model = 'gpt-4o-mini',
    providers = { ['local'] = { api = 'openai', baseUrl = mock.url } },
    timeoutSeconds = 10,
  }, extra or {})
end

--- The `User WardenLlmDone` data of every LLM request that ended, by request id.
---@type table<string, table>
h.llm_done = {}
vim.api.nvim_create_autocmd('User', {
  pattern = 'WardenLlmDone',
  callback = function(ev)
    if ev.data and ev.data.requestId then
      h.llm_done[ev.data.requestId] = ev.data
    end
  end,
})

--- Waits until the LLM request `id` has ended; returns its `WardenLlmDone` data.
---@param id string
---@param ms? integer
---@return table
function h.wait_llm_done(id, ms)
  return h.wait(ms or 20000, function()
    return h.llm_done[id]
  end, 'LLM request ' .. id .. ' to end')
end

--- Stops every warden client and waits until they have exited.
function h.stop_all()
  local clients = vim.lsp.get_clients({ name = 'warden' })
  for _, c in ipairs(clients) do
    if vim.fn.has('nvim-0.11') == 1 then
      c:stop()
    else
      c.stop()
    end
  end
  vim.wait(5000, function()
    return #vim.lsp.get_clients({ name = 'warden' }) == 0
  end, 20)
end

return h
