-- The LLM gateway from Neovim against the real server and the scripted mock provider:
-- :Warden terminal gives its job (and only its job) the four variables, curl started
-- in that terminal with nothing but them reaches the mock through the gateway with the
-- secret redacted, the call arrives as warden/gatewayCall (counted; a reply bringing
-- in a malicious package warns), the traces buffer tags it with its client and filters
-- by client (live spans too), gateway.terminals = false is respected, and
-- :checkhealth warden shows the gateway and the budgets.

local h = require('helpers')

--- Stops a terminal job once its process leads its own session. A job stopped between
--- its fork and its setsid() is still in Neovim's process group, and the hang-up meant
--- for it reaches Neovim itself (seen once in CI: "Caught deadly signal 'SIGHUP'").
---@param job integer
local function stop_when_settled(job)
  local pid = vim.fn.jobpid(job)
  h.wait(5000, function()
    local f = io.open(('/proc/%d/stat'):format(pid), 'r')
    if not f then
      return true -- already gone
    end
    local stat = f:read('*a')
    f:close()
    -- Fields after the command name in parentheses: state, ppid, pgrp, session.
    local session = stat:match('%) %S+ %d+ %d+ (%d+)')
    return tonumber(session) == pid
  end, 'the terminal job to have its own session')
  pcall(vim.fn.jobstop, job)
end

local KEY = 'AKIAQ3EGRB4XY7MNP2KD' -- the fixture's planted AWS key (alpha/scripts/3.00_upload.py)

---@param buf integer
---@param needle string
---@return string|nil line, integer|nil lnum
local function find_line(buf, needle)
  for i, l in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    if l:find(needle, 1, true) then
      return l, i
    end
  end
end

---@param buf integer
---@param needle string
---@return string line
local function wait_line(buf, needle)
  return h.wait(10000, function()
    return (find_line(buf, needle))
  end, function()
    return ('a line with %q in the traces buffer:\n%s'):format(needle, h.text(buf))
  end)
end

--- The span lines of a traces buffer (after its three header lines).
---@param buf integer
---@return string[]
local function span_lines(buf)
  return vim.tbl_filter(function(l)
    return l:find('▸ ', 1, true) ~= nil or l:find('▾ ', 1, true) ~= nil
  end, vim.api.nvim_buf_get_lines(buf, 3, -1, false))
end

describe('LLM gateway', function()
  local ws, mock, client, gw, term_job, term_buf
  ---@type table[] params of every WardenGatewayCall
  local calls = {}
  local saved_env = {}

  setup(function()
    ws = h.fixtures()
    mock = h.mock_llm()
    vim.o.shell = '/bin/sh'
    for _, var in ipairs({ 'OPENAI_BASE_URL', 'OPENAI_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY' }) do
      saved_env[var] = vim.env[var]
    end
    vim.api.nvim_create_autocmd('User', {
      pattern = 'WardenGatewayCall',
      callback = function(ev)
        calls[#calls + 1] = ev.data.params
      end,
    })
    h.start({
      settings = {
        llm = h.llm_settings(mock, {
          budget = { dailyUsd = 5, requestTokens = 100000 },
          -- Anthropic-API calls for claude-* models go to the mock too.
          providers = { mockanthropic = { api = 'anthropic', baseUrl = mock.url } },
          mux = { { glob = 'claude-*', action = 'gateway', provider = 'mockanthropic' } },
        }),
        scan = { onStartup = false },
      },
    })
    local _
    _, client = h.open(ws .. '/alpha/scripts/3.00_upload.py')
    -- The malicious-package check reads the OSV data the settings import.
    h.wait(20000, function()
      for _, s in ipairs(h.request(client, 'warden/traces', { kind = 'index' }).traces) do
        if s.name == 'osv.import' and s.outcome == 'ok' then
          return true
        end
      end
    end, 'the OSV import')
    gw = h.request(client, 'warden/gateway', { workspace = 'alpha' })
  end)

  teardown(function()
    if term_job then
      stop_when_settled(term_job)
    end
    h.stop_all()
    if mock then
      mock.stop()
    end
  end)

  --- Types a command line into the gateway terminal.
  ---@param line string
  local function type_in_terminal(line)
    assert(term_job, 'no terminal yet')
    vim.fn.chansend(term_job, line .. '\n')
  end

  --- Waits until the file exists with `n` lines; returns them.
  ---@param path string
  ---@param n integer
  ---@return string[]
  local function wait_file_lines(path, n)
    return h.wait(10000, function()
      local text = h.read(path)
      local lines = text and vim.split(text, '\n', { trimempty = true }) or {}
      return #lines >= n and lines or nil
    end, ('%d lines in %s'):format(n, path))
  end

  --- Sends a chat completion with curl from the terminal (nothing but its variables
  --- locate and authorize the gateway); returns the out file with the HTTP status.
  ---@param name string file name stem
  ---@param content string the user message
  ---@param curl_args? string extra curl options
  ---@return string status_file
  local function curl_from_terminal(name, content, curl_args)
    local dir = h.tmp .. '/curl'
    vim.fn.mkdir(dir, 'p')
    local body = vim.json.encode({
      model = 'gpt-4o-mini',
      stream = true,
      messages = { { role = 'user', content = content } },
    })
    local req = ('%s/%s.json'):format(dir, name)
    local f = assert(io.open(req, 'w'))
    f:write(body)
    f:close()
    local status = ('%s/%s.status'):format(dir, name)
    type_in_terminal(
      ('curl -s %s -o %s/%s.out -w "%%{http_code}\\n" "$OPENAI_BASE_URL/chat/completions" -H "Authorization: Bearer $OPENAI_API_KEY" -H "content-type: application/json" --data-binary @%s > %s'):format(
        curl_args or '',
        dir,
        name,
        req,
        status
      )
    )
    return status
  end

  --- Waits for the next WardenGatewayCall after `seen` calls.
  ---@param seen integer
  ---@return table params
  local function wait_call(seen)
    return h.wait(15000, function()
      return calls[seen + 1]
    end, function()
      return ('gateway call %d (have %s)'):format(seen + 1, vim.inspect(calls))
    end)
  end

  it(':Warden terminal gives its job the four variables, not vim.env', function()
    assert.is_truthy(gw.baseUrl:match('^http://127%.0%.0%.1:%d+/w/alpha$'), gw.baseUrl)
    assert.are.equal(gw.baseUrl .. '/v1', gw.env.OPENAI_BASE_URL)
    assert.are.equal(gw.baseUrl, gw.env.ANTHROPIC_BASE_URL)
    local opened
    local au = vim.api.nvim_create_autocmd('User', {
      pattern = 'WardenTerminalOpen',
      callback = function(ev)
        opened = ev.data
      end,
    })
    local messages, restore = h.capture_notify()
    vim.cmd('Warden terminal')
    local data = h.wait(10000, function()
      return opened
    end, 'the gateway terminal to open')
    restore()
    vim.api.nvim_del_autocmd(au)
    term_job, term_buf = data.job, data.buf
    assert.are.equal('alpha', data.workspace)
    assert.are.equal(gw.baseUrl, data.baseUrl)
    assert.are.equal('terminal', vim.bo[term_buf].buftype)
    assert.are.equal(term_buf, vim.api.nvim_get_current_buf())
    assert.are.same({
      workspace = 'alpha',
      baseUrl = gw.baseUrl,
      openaiBaseUrl = gw.openaiBaseUrl,
      anthropicBaseUrl = gw.anthropicBaseUrl,
    }, vim.b[term_buf].warden_gateway)
    -- The message names the URLs, and never the whole token.
    local msg = h.wait_message(messages, 'terminal for alpha')
    assert.is_truthy(msg:find(gw.env.OPENAI_BASE_URL, 1, true), msg)
    assert.is_truthy(msg:find(gw.token:sub(1, 8), 1, true), msg)
    assert.is_nil(msg:find(gw.token, 1, true), msg)

    -- What the shell in the terminal sees.
    local out = h.tmp .. '/term-env.txt'
    type_in_terminal(
      ('printf "%%s\\n" "$OPENAI_BASE_URL" "$OPENAI_API_KEY" "$ANTHROPIC_BASE_URL" "$ANTHROPIC_API_KEY" "$(pwd -P)" > %s'):format(
        out
      )
    )
    local lines = wait_file_lines(out, 5)
    assert.are.same({
      gw.env.OPENAI_BASE_URL,
      gw.token,
      gw.env.ANTHROPIC_BASE_URL,
      gw.token,
      vim.uv.fs_realpath(ws .. '/alpha'),
    }, lines)

    -- Neovim's own environment, and so every other job, is untouched.
    for var, before in pairs(saved_env) do
      assert.are.equal(before, vim.env[var], var)
    end
    assert.are_not.equal(gw.env.OPENAI_BASE_URL, vim.env.OPENAI_BASE_URL)
    local other = h.system({ 'sh', '-c', 'printf "%s|%s" "$OPENAI_BASE_URL" "$ANTHROPIC_API_KEY"' })
    assert.are.equal(('%s|%s'):format(saved_env.OPENAI_BASE_URL or '', saved_env.ANTHROPIC_API_KEY or ''), other)
  end)

  it('a curl call from that terminal goes through the gateway, redacted, and is reported and counted', function()
    local gateway = require('warden.gateway')
    local seen = #calls
    local sent_before = #mock.requests()
    local status = curl_from_terminal('first', ('upload with key %s please'):format(KEY))
    local call = wait_call(seen)
    assert.are.equal('alpha', call.workspace)
    assert.matches('^curl/%d', call.client)
    assert.are.equal('openai.chat', call.api)
    assert.are.equal('gpt-4o-mini', call.model)
    assert.are.equal('ok', call.outcome)
    assert.are.equal(1, call.secretsRedacted)
    assert.is_nil(call.warning)
    assert.are.same({ '200' }, wait_file_lines(status, 1))
    -- What left the machine: the mock got the request without the key.
    local requests = mock.requests()
    assert.are.equal(sent_before + 1, #requests)
    local last = requests[#requests]
    assert.is_truthy(last.path:find('chat/completions', 1, true), last.path)
    assert.is_nil(last.body:find(KEY, 1, true), last.body)
    assert.is_truthy(last.body:find('upload with key', 1, true), last.body)
    for _, header in ipairs(last.headers) do
      assert.is_nil(header[2]:find(gw.token, 1, true), 'the gateway token went upstream: ' .. header[1])
    end
    -- Counted for status lines (read from the database).
    h.wait(10000, function()
      return gateway.calls_today() == 1
    end, function()
      return 'calls_today() == 1, have ' .. gateway.calls_today()
    end)
    assert.are.equal('gateway: 1 call', gateway.status())
    assert.are.equal('gateway: 1 call', require('lualine.components.warden_gateway')())
  end)

  it('an Anthropic-API call from that terminal (x-api-key) goes through too', function()
    local seen = #calls
    local dir = h.tmp .. '/curl'
    local req = dir .. '/anthropic.json'
    local f = assert(io.open(req, 'w'))
    f:write(vim.json.encode({
      model = 'claude-sonnet-4',
      max_tokens = 64,
      stream = true,
      messages = { { role = 'user', content = ('deploy with %s'):format(KEY) } },
    }))
    f:close()
    local status = dir .. '/anthropic.status'
    type_in_terminal(
      ('curl -s -o %s/anthropic.out -w "%%{http_code}\\n" "$ANTHROPIC_BASE_URL/v1/messages" -H "x-api-key: $ANTHROPIC_API_KEY" -H "anthropic-version: 2023-06-01" -H "content-type: application/json" --data-binary @%s > %s'):format(
        dir,
        req,
        status
      )
    )
    local call = wait_call(seen)
    assert.are.same({ '200' }, wait_file_lines(status, 1))
    assert.are.equal('anthropic.messages', call.api)
    assert.are.equal('claude-sonnet-4', call.model)
    assert.are.equal('ok', call.outcome)
    assert.are.equal(1, call.secretsRedacted)
    local last = mock.requests()[#mock.requests()]
    assert.is_truthy(last.path:find('/messages', 1, true), last.path)
    assert.is_nil(last.body:find(KEY, 1, true), last.body)
    h.wait(10000, function()
      return require('warden.gateway').calls_today() == 2
    end, 'two gateway calls today')
  end)

  it('warns when a reply brings in a malicious package', function()
    local messages, restore = h.capture_notify()
    local seen = #calls
    mock.script({ text = 'Install it:\n\npip install pilllow\n' })
    curl_from_terminal('malicious', 'how do I resize images?')
    local call = wait_call(seen)
    local msg = h.wait_message(messages, 'malicious')
    restore()
    assert.are.equal('ok', call.outcome)
    assert.is_truthy(call.warning:find('pilllow', 1, true), call.warning)
    assert.matches(
      '^warden: gateway call from curl/[%d.]+ %(openai%.chat, gpt%-4o%-mini in alpha%) passed with a warning: ',
      msg
    )
    assert.is_truthy(msg:find('pilllow', 1, true), msg)
    local level
    for _, m in ipairs(messages) do
      if m.msg == msg then
        level = m.level
      end
    end
    assert.are.equal(vim.log.levels.WARN, level)
    h.wait(10000, function()
      return require('warden.gateway').calls_today() == 3
    end, 'three gateway calls today')
  end)

  it('the traces buffer tags gateway calls with their client and filters by client, live too', function()
    vim.cmd('Warden traces')
    local tbuf = vim.api.nvim_get_current_buf()
    local call_line = wait_line(tbuf, 'local/gpt-4o-mini')
    assert.matches(
      '▸ local/gpt%-4o%-mini +%S+ +%d+ ms  ok +llm +gateway curl/[%d.]+  %[alpha%]  tok %d+→%d+',
      call_line
    )
    -- Its guard spans are under it; warden's own spans carry no gateway tag.
    local text = h.text(tbuf)
    assert.matches('└ ▸ guard%.redact [^\n]* ok +guard +%[alpha%]  secretsRedacted 1', text)
    assert.matches('└ ▸ guard%.budget [^\n]* ok +guard +%[alpha%]  allowed', text)
    local own = wait_line(tbuf, 'osv.import')
    assert.is_nil(own:find('gateway', 1, true), own)

    -- c: pick the curl client.
    local curl_client = call_line:match('gateway (curl/[%d.]+)')
    local offered
    local orig_select = vim.ui.select
    vim.ui.select = function(items, _, on_choice)
      offered = items
      on_choice(curl_client)
    end
    vim.api.nvim_feedkeys('c', 'x', false)
    vim.ui.select = orig_select
    assert.are.same({ 'every span', 'every gateway client', curl_client }, offered)
    h.wait(10000, function()
      local first = vim.api.nvim_buf_get_lines(tbuf, 0, 1, false)[1]
      return first:find('— client ' .. curl_client, 1, true) and #span_lines(tbuf) > 0 and not first:find('loading')
    end, function()
      return 'the client filter in the header:\n' .. h.text(tbuf)
    end)
    h.wait(10000, function()
      local roots = 0
      for _, l in ipairs(span_lines(tbuf)) do
        if not l:find('└', 1, true) then
          roots = roots + 1
        end
      end
      return roots == 3
    end, function()
      return 'the three curl calls as the only roots:\n' .. h.text(tbuf)
    end)
    for _, l in ipairs(span_lines(tbuf)) do
      if l:find('└', 1, true) then
        assert.matches('└ ▸ guard%.', l)
      else
        assert.is_truthy(l:find('gateway ' .. curl_client, 1, true), l)
      end
    end
    assert.is_nil(find_line(tbuf, 'osv.import'))

    -- Live while filtered: another client's call and a warden command stay out, the
    -- next curl call comes in.
    local seen = #calls
    local other = vim
      .system({
        'curl',
        '-s',
        '-o',
        '/dev/null',
        '-A',
        'other-tool/1.0',
        gw.env.OPENAI_BASE_URL .. '/chat/completions',
        '-H',
        'Authorization: Bearer ' .. gw.token,
        '-H',
        'content-type: application/json',
        '--data-binary',
        vim.json.encode({ model = 'gpt-4o-mini', messages = { { role = 'user', content = 'hi' } } }),
      })
      :wait(15000)
    assert.are.equal(0, other.code)
    assert.are.equal('other-tool/1.0', wait_call(seen).client)
    local messages, restore = h.capture_notify()
    vim.cmd('Warden workspace activate alpha')
    h.wait_message(messages, 'alpha is the active workspace')
    restore()
    seen = #calls
    curl_from_terminal('fourth', 'and once more')
    wait_call(seen)
    h.wait(10000, function()
      local n = 0
      for _, l in ipairs(span_lines(tbuf)) do
        if l:find('gateway ' .. curl_client, 1, true) and l:find(' ok ', 1, true) then
          n = n + 1
        end
      end
      return n == 4
    end, function()
      return 'the fourth curl call, live:\n' .. h.text(tbuf)
    end)
    assert.is_nil(find_line(tbuf, 'other-tool'), h.text(tbuf))
    assert.is_nil(find_line(tbuf, 'warden.workspace.activate'), h.text(tbuf))

    -- Every gateway client, then every span again.
    vim.ui.select = function(items, _, on_choice)
      offered = items
      on_choice('every gateway client')
    end
    vim.api.nvim_feedkeys('c', 'x', false)
    vim.ui.select = orig_select
    assert.is_truthy(vim.tbl_contains(offered, 'other-tool/1.0'), vim.inspect(offered))
    wait_line(tbuf, 'gateway other-tool/1.0')
    assert.matches('— gateway calls —', vim.api.nvim_buf_get_lines(tbuf, 0, 1, false)[1])
    assert.is_nil(find_line(tbuf, 'osv.import'), h.text(tbuf))
    vim.ui.select = function(_, _, on_choice)
      on_choice('every span')
    end
    vim.api.nvim_feedkeys('c', 'x', false)
    vim.ui.select = orig_select
    wait_line(tbuf, 'osv.import')
    wait_line(tbuf, 'warden.workspace.activate')
    assert.is_nil(vim.api.nvim_buf_get_lines(tbuf, 0, 1, false)[1]:find('client', 1, true))
    vim.cmd('close')
  end)

  it(':Warden traces client=NAME opens filtered', function()
    vim.cmd('Warden traces client=other-tool/1.0')
    local tbuf = vim.api.nvim_get_current_buf()
    h.wait(10000, function()
      local first = vim.api.nvim_buf_get_lines(tbuf, 0, 1, false)[1]
      return first:find('— client other-tool/1.0 —', 1, true) and not first:find('loading', 1, true)
    end, function()
      return 'the client in the header:\n' .. h.text(tbuf)
    end)
    wait_line(tbuf, 'gateway other-tool/1.0')
    assert.is_nil(find_line(tbuf, 'gateway curl/'), h.text(tbuf))
    assert.is_truthy(
      vim.tbl_contains(vim.fn.getcompletion('Warden traces client=o', 'cmdline'), 'client=other-tool/1.0')
    )
    vim.cmd('close')
  end)

  it('with gateway.terminals = false, :Warden terminal opens nothing; :Warden! terminal does', function()
    local file_buf = vim.fn.bufnr(ws .. '/alpha/scripts/3.00_upload.py')
    vim.cmd('tabnew')
    vim.cmd.buffer(file_buf)
    require('warden').setup({ settings = { gateway = { terminals = false } } })
    local before = #vim.api.nvim_list_bufs()
    local messages, restore = h.capture_notify()
    vim.cmd('Warden terminal')
    restore()
    assert.are.equal(1, #messages, vim.inspect(messages))
    assert.are.equal(vim.log.levels.WARN, messages[1].level)
    assert.matches('settings%.gateway%.terminals is off', messages[1].msg)
    assert.are.equal(before, #vim.api.nvim_list_bufs())
    assert.are.equal(file_buf, vim.api.nvim_get_current_buf())

    local opened
    local au = vim.api.nvim_create_autocmd('User', {
      pattern = 'WardenTerminalOpen',
      callback = function(ev)
        opened = ev.data
      end,
    })
    vim.cmd('Warden! terminal alpha')
    local data = h.wait(10000, function()
      return opened
    end, ':Warden! terminal to open one')
    vim.api.nvim_del_autocmd(au)
    assert.are.equal('alpha', data.workspace)
    stop_when_settled(data.job)
    require('warden').setup({})
  end)

  it(':checkhealth warden shows the gateway, the budgets and the day spend', function()
    vim.cmd('checkhealth warden')
    local text = h.text(vim.api.nvim_get_current_buf())
    vim.cmd('bwipeout!')
    local function has(s)
      assert.is_truthy(text:find(s, 1, true), ('missing %q in:\n%s'):format(s, text))
    end
    has('warden: LLM gateway (AI tools in terminals)')
    has('OK alpha (')
    has(
      ('/alpha): LLM gateway at %s (OPENAI_BASE_URL %s, ANTHROPIC_BASE_URL %s; token %s…)'):format(
        gw.baseUrl,
        gw.env.OPENAI_BASE_URL,
        gw.env.ANTHROPIC_BASE_URL,
        gw.token:sub(1, 8)
      )
    )
    assert.is_nil(text:find(gw.token, 1, true), 'the whole token is shown')
    assert.is_truthy(text:find('OK alpha: %$0%.%d+ of the daily %$5%.00 spent today %(UTC%)'), text)
    has('llm.budget.dailyUsd: $5.00 per workspace per day (UTC)')
    has('llm.budget.requestTokens: 100000 tokens per gateway request')
  end)
end)
