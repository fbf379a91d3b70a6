-- busted output handler: TAP lines written to the file named by $WARDEN_TAP (so messages
-- Neovim prints to stdout cannot garble them), one line per test and the plan at the end;
-- failure messages follow as "# " lines.

return function(options)
  local busted = require('busted')
  local handler = require('busted.outputHandlers.base')()
  local path = assert(os.getenv('WARDEN_TAP'), 'WARDEN_TAP is not set')
  local out = assert(io.open(path, 'w'))
  local counter = 0

  local function emit(line)
    out:write(line, '\n')
    out:flush()
  end

  local function show_failure(t)
    local message = t.message
    if message == nil then
      message = 'Nil error'
    elseif type(message) ~= 'string' then
      message = require('pl.pretty').write(message)
    end
    emit(('not ok %d - %s'):format(counter, t.name))
    emit('# ' .. t.element.trace.short_src .. ' @ ' .. t.element.trace.currentline)
    emit('# ' .. message:gsub('\n', '\n# '))
    if options.verbose and t.trace and t.trace.traceback then
      emit('# ' .. t.trace.traceback:gsub('\n', '\n# '))
    end
  end

  handler.testEnd = function(_, _, status)
    counter = counter + 1
    if status == 'success' then
      emit(('ok %d - %s'):format(counter, handler.successes[#handler.successes].name))
    elseif status == 'pending' then
      local t = handler.pendings[#handler.pendings]
      emit(('ok %d - # SKIP %s'):format(counter, t.message or t.name))
    elseif status == 'failure' then
      show_failure(handler.failures[#handler.failures])
    elseif status == 'error' then
      show_failure(handler.errors[#handler.errors])
    end
    return nil, true
  end

  handler.error = function(element)
    if element.descriptor ~= 'it' then
      counter = counter + 1
      show_failure(handler.errors[#handler.errors])
    end
    return nil, true
  end

  handler.suiteEnd = function()
    emit('1..' .. counter)
    out:close()
    return nil, true
  end

  busted.subscribe({ 'suite', 'end' }, handler.suiteEnd)
  busted.subscribe({ 'test', 'end' }, handler.testEnd, { predicate = handler.cancelOnPending })
  busted.subscribe({ 'error' }, handler.error)
  return handler
end
