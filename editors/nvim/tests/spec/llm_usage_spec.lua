-- :Warden usage and the traces of LLM actions, on a fresh database: one request, then
-- the same request again from the response cache (a 50% cache-hit rate); the traces
-- buffer shows the guard spans, the llm span's tokens and cost, and the cache hit.

local h = require('helpers')

---@param buf integer
---@param prefix string
---@return string[]|nil cells of the first line starting with prefix
local function row(buf, prefix)
  for _, l in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    if vim.startswith(l, prefix) then
      return vim.split(vim.trim(l:sub(#prefix + 1)), '%s+')
    end
  end
end

--- Runs :Warden usage ARGS and waits until the buffer shows the server's answer.
---@param args string
---@return integer buf
local function usage(args)
  local loaded = 0
  local au = vim.api.nvim_create_autocmd('User', {
    pattern = 'WardenUsageLoaded',
    callback = function()
      loaded = loaded + 1
    end,
  })
  vim.cmd('Warden usage ' .. args)
  h.wait(10000, function()
    return loaded > 0
  end, 'warden/usage to answer')
  vim.api.nvim_del_autocmd(au)
  return vim.api.nvim_get_current_buf()
end

describe('LLM usage and traces', function()
  local ws, mock, buf, client

  setup(function()
    ws = h.fixtures()
    mock = h.mock_llm()
    h.start({ settings = { llm = h.llm_settings(mock), scan = { onStartup = false } } })
    buf, client = h.open(ws .. '/alpha/scripts/3.00_upload.py')
    h.wait_diagnostic(buf, 'aws-access-key-id')
  end)

  teardown(function()
    h.stop_all()
    if mock then
      mock.stop()
    end
  end)

  ---@return table done
  local function explain_line_4()
    vim.api.nvim_win_set_buf(0, buf)
    vim.api.nvim_win_set_cursor(0, { 4, 0 })
    vim.cmd('Warden explain')
    local done = h.wait_llm_done(require('warden.llm').last_request_id)
    vim.cmd('close') -- the float
    assert.is_nil(done.error, done.error)
    return done
  end

  it('shows one request, then a 50% cache-hit rate after the same request again', function()
    local first = explain_line_4()
    assert.is_false(first.result.cached)
    local ubuf = usage('')
    assert.are.equal('warden://usage', vim.api.nvim_buf_get_name(ubuf))
    local text = h.text(ubuf)
    assert.matches('^warden LLM usage by model', text)
    assert.is_truthy(
      text:find('provider/model     requests  cache hits  hit rate  input tok  output tok', 1, true),
      text
    )
    local cost = ('$%.6f'):format(first.result.costUsd)
    local tokens = first.result.tokens
    assert.are.same(
      { '1', '0', '0%', tostring(tokens.input), tostring(tokens.output), '0', '0', cost, '0' },
      row(ubuf, 'local/gpt-4o-mini'),
      text
    )
    assert.are.same(row(ubuf, 'local/gpt-4o-mini'), row(ubuf, 'total'))
    assert.is_true(first.result.costUsd > 0, 'gpt-4o-mini is priced')

    -- The same request: answered from the cache, nothing sent, free.
    local sent = #mock.requests()
    local second = explain_line_4()
    assert.is_true(second.result.cached)
    assert.are.equal(sent, #mock.requests())
    ubuf = usage('')
    text = h.text(ubuf)
    assert.are.same(
      { '2', '1', '50%', tostring(tokens.input), tostring(tokens.output), '0', '0', cost, '0' },
      row(ubuf, 'total'),
      text
    )
    -- By action.
    ubuf = usage('action')
    assert.matches('^warden LLM usage by action', h.text(ubuf))
    assert.are.same('2', row(ubuf, 'explain')[1], h.text(ubuf))
  end)

  it('the traces buffer shows guard spans, tokens and cost, and the cache hit', function()
    vim.cmd('Warden traces')
    local tbuf = vim.api.nvim_get_current_buf()
    local lines = h.wait(10000, function()
      local ls = vim.api.nvim_buf_get_lines(tbuf, 0, -1, false)
      local n = 0
      for _, l in ipairs(ls) do
        if l:find('local/gpt-4o-mini', 1, true) then
          n = n + 1
        end
      end
      return n == 2 and ls or nil
    end, function()
      return 'two llm spans in the traces buffer:\n' .. h.text(tbuf)
    end)
    local called, hit
    for _, l in ipairs(lines) do
      if l:find('local/gpt-4o-mini', 1, true) then
        if l:find('response cache hit', 1, true) then
          hit = l
        else
          called = l
        end
      end
    end
    assert.is_string(called, table.concat(lines, '\n'))
    assert.is_string(hit, table.concat(lines, '\n'))
    assert.matches(' ok +llm +%[alpha%]  tok %d+→%d+ cached 0 %(0%% hit%)  %$0%.%d+$', called)
    assert.is_nil(hit:find('tok ', 1, true), 'a cache hit costs no tokens')
    local text = table.concat(lines, '\n')
    assert.matches('└ ▸ guard%.redact [^\n]* ok +guard +%[alpha%]  secretsRedacted 1', text)
    assert.matches('└ ▸ guard%.exclude [^\n]* ok +guard +%[alpha%]  allowed', text)
    assert.matches('└ ▸ guard%.denyList [^\n]* ok +guard', text)
    assert.matches('▸ warden%.llm%.explain [^\n]* ok +command +%[alpha%]', text)
    local _ = client
  end)
end)
