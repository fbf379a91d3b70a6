// Unit tests of the LLM gateway's pure part (src/gatewayModel.ts): the terminal
// variables and their description, whether terminals get them (setting and first-time
// answer), today's call count with its midnight reset, the calls that need attention,
// and the status bar item's text, spoken label and tooltip with the budgets.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  budgetLines,
  CallTally,
  callProblem,
  collectionDescription,
  GATEWAY_VARS,
  gatewayItemText,
  gatewayRequests,
  gatewaySpoken,
  gatewayTooltip,
  localDay,
  MAX_PROBLEMS,
  shellExports,
  terminalsDecision,
  terminalsLine,
  terminalVariables,
} from '../src/gatewayModel.ts';
import type { GatewayCallParams, GatewayResult, UsageRow } from '../src/lsp_ext.ts';

const gateway: GatewayResult = {
  workspace: 'alpha',
  baseUrl: 'http://127.0.0.1:41234/w/alpha',
  openaiBaseUrl: 'http://127.0.0.1:41234/w/alpha/v1',
  anthropicBaseUrl: 'http://127.0.0.1:41234/w/alpha',
  token: 'wgw_tok',
  apis: ['/v1/chat/completions', '/v1/responses', '/v1/messages', '/v1/models'],
  env: {
    OPENAI_BASE_URL: 'http://127.0.0.1:41234/w/alpha/v1',
    OPENAI_API_KEY: 'wgw_tok',
    ANTHROPIC_BASE_URL: 'http://127.0.0.1:41234/w/alpha',
    ANTHROPIC_API_KEY: 'wgw_tok',
  },
};

function call(over: Partial<GatewayCallParams> = {}): GatewayCallParams {
  return {
    workspace: 'alpha',
    client: 'curl/8.5.0',
    api: 'openai.chat',
    model: 'gpt-4o-mini',
    outcome: 'ok',
    secretsRedacted: 0,
    warning: null,
    spanId: '0190-span',
    ...over,
  };
}

function row(key: string, requests: number): UsageRow {
  return {
    key,
    requests,
    cacheHits: 0,
    cacheHitRate: 0,
    tokensInput: 0,
    tokensOutput: 0,
    tokensCached: 0,
    tokensReasoning: 0,
    costUsd: 0,
    errors: 0,
  };
}

describe('terminal variables', () => {
  test('the four variables in order, from the server\'s env', () => {
    assert.deepEqual(terminalVariables(gateway), [
      ['OPENAI_BASE_URL', 'http://127.0.0.1:41234/w/alpha/v1'],
      ['OPENAI_API_KEY', 'wgw_tok'],
      ['ANTHROPIC_BASE_URL', 'http://127.0.0.1:41234/w/alpha'],
      ['ANTHROPIC_API_KEY', 'wgw_tok'],
    ]);
    assert.deepEqual(GATEWAY_VARS, ['OPENAI_BASE_URL', 'OPENAI_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY']);
  });

  test('without env, from the URLs and the token; other env entries are left out', () => {
    const vars = terminalVariables({ ...gateway, env: { OPENAI_BASE_URL: 'http://x/v1', HTTP_PROXY: 'http://evil' } });
    assert.deepEqual(Object.fromEntries(vars), {
      OPENAI_BASE_URL: 'http://x/v1',
      OPENAI_API_KEY: 'wgw_tok',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:41234/w/alpha',
      ANTHROPIC_API_KEY: 'wgw_tok',
    });
  });

  test('the description names the workspace and the gateway', () => {
    assert.match(collectionDescription('alpha'), /^warden's LLM gateway for workspace alpha: /);
  });

  test('shell exports quote values', () => {
    assert.equal(
      shellExports([
        ['A', 'x'],
        ['B', "it's"],
      ]),
      "export A='x'\nexport B='it'\\''s'",
    );
  });
});

describe('whether terminals get the variables', () => {
  const byDefault = { value: true, explicit: false };
  test('the default asks once, then follows the answer', () => {
    assert.equal(terminalsDecision(byDefault, undefined, false), 'ask');
    assert.equal(terminalsDecision(byDefault, undefined, true), 'off', 'not asked twice in a window');
    assert.equal(terminalsDecision(byDefault, 'yes', false), 'on');
    assert.equal(terminalsDecision(byDefault, 'notNow', false), 'off');
  });

  test('the setting wins: off is off, on set by the user needs no question', () => {
    assert.equal(terminalsDecision({ value: false, explicit: true }, 'yes', false), 'off');
    assert.equal(terminalsDecision({ value: true, explicit: true }, undefined, false), 'on');
    assert.equal(terminalsDecision({ value: true, explicit: true }, 'notNow', false), 'on');
  });

  test('the tooltip line says which workspaces, or why not', () => {
    assert.match(terminalsLine({ kind: 'on', workspaces: ['alpha', 'beta'] }), /^Terminals of \*\*alpha\*\*, \*\*beta\*\* use it/);
    assert.match(terminalsLine({ kind: 'off', why: 'setting' }), /`warden\.gateway\.terminals` is off/);
    assert.match(terminalsLine({ kind: 'off', why: 'declined' }), /Not now/);
    assert.match(terminalsLine({ kind: 'off', why: 'undecided' }), /click to set them up/);
    assert.equal(terminalsLine({ kind: 'unavailable', reason: 'the LLM gateway is not running' }), 'Unavailable: the LLM gateway is not running');
  });
});

describe('calls today', () => {
  const morning = new Date(2026, 10, 21, 9, 0);
  const evening = new Date(2026, 10, 21, 23, 59);
  const nextDay = new Date(2026, 10, 22, 0, 1);

  test('the stored count is the gateway row of the usage by action', () => {
    assert.equal(gatewayRequests({ rows: [row('explain', 4), row('gateway', 7)], total: row('total', 11) }), 7);
    assert.equal(gatewayRequests({ rows: [row('explain', 4)], total: row('total', 4) }), 0);
  });

  test('starts from the stored count, one more per call, zero again the next day', () => {
    const t = new CallTally();
    assert.equal(t.count(morning), 0);
    t.reset(5, morning);
    t.record(call(), morning);
    t.record(call({ client: 'claude-cli/1.0.0', model: 'claude-sonnet-4' }), evening);
    assert.equal(t.count(evening), 7);
    assert.equal(t.last?.client, 'claude-cli/1.0.0');
    assert.equal(t.count(nextDay), 0);
    t.record(call(), nextDay);
    assert.equal(t.count(nextDay), 1);
  });

  test("a count read for yesterday is ignored", () => {
    const t = new CallTally();
    t.record(call(), nextDay);
    t.reset(40, nextDay, localDay(evening));
    assert.equal(t.count(nextDay), 1);
  });

  test('blocked calls and risky replies are kept, newest first, at most a few', () => {
    assert.equal(callProblem(call()), undefined);
    assert.equal(callProblem(call({ outcome: 'error' })), undefined);
    assert.match(callProblem(call({ outcome: 'blocked' })) ?? '', /^curl\/8\.5\.0 → gpt-4o-mini: refused by a guard/);
    assert.equal(
      callProblem(call({ warning: 'malicious package: PyPI reqeusts (MAL-2024-1)' })),
      'curl/8.5.0 → gpt-4o-mini: malicious package: PyPI reqeusts (MAL-2024-1)',
    );
    const t = new CallTally();
    for (let i = 0; i < MAX_PROBLEMS + 2; i++) {
      t.record(call({ outcome: 'blocked', model: `m${i}` }), morning);
    }
    t.record(call(), morning);
    assert.equal(t.problems.length, MAX_PROBLEMS);
    assert.match(t.problems[0], /→ m4:/);
    assert.equal(t.count(nextDay), 0);
    assert.equal(t.problems.length, 0, 'a new day starts clean');
  });
});

describe('the status bar item', () => {
  test('text and spoken label', () => {
    assert.equal(gatewayItemText(3, false), '$(plug) gateway 3');
    assert.equal(gatewayItemText(1, true), '$(warning) gateway 1');
    assert.equal(
      gatewaySpoken(1, false, 'on'),
      "warden LLM gateway: 1 call today; new terminals use it. Press for the gateway's calls and options.",
    );
    assert.match(gatewaySpoken(2, true, 'off'), /^warden LLM gateway: 2 calls today, a call needs your attention; new terminals do not use it\./);
    assert.doesNotMatch(gatewaySpoken(2, true, 'on'), /\$\(/);
  });

  test('budgets: the values set, or none', () => {
    assert.deepEqual(budgetLines(undefined, null), [
      'Daily budget: none (`warden.llm.budget.dailyUsd`)',
      'Request budget: none (`warden.llm.budget.requestTokens`)',
    ]);
    assert.deepEqual(budgetLines(2.5, 8000), [
      "Daily budget: $2.50 per workspace and UTC day, gateway calls and warden's actions together",
      'Request budget: 8000 tokens per gateway request (prompt and requested output)',
    ]);
    assert.match(budgetLines(0, 'x')[0], /^Daily budget: \$0 per workspace/);
  });

  test('the tooltip: count, last call, problems, terminals, budgets', () => {
    const md = gatewayTooltip({
      count: 2,
      last: call({ secretsRedacted: 1 }),
      problems: ['curl/8.5.0 → gpt-4o-mini: refused by a guard (budget, deny-list or malicious package)'],
      terminals: { kind: 'on', workspaces: ['alpha'] },
      budgets: budgetLines(1, undefined),
    }).join('\n');
    assert.match(md, /^\*\*warden LLM gateway\*\*: 2 calls today/);
    assert.match(md, /Last call: `curl\/8\.5\.0` → `gpt-4o-mini` \(openai\.chat, alpha, ok, 1 secret redacted\)/);
    assert.match(md, /- \$\(warning\) curl\/8\.5\.0 → gpt-4o-mini: refused by a guard/);
    assert.match(md, /Terminals of \*\*alpha\*\* use it/);
    assert.match(md, /- Daily budget: \$1\.00 per workspace/);
    assert.match(md, /- Request budget: none/);
    const empty = gatewayTooltip({ count: 0, last: undefined, problems: [], terminals: { kind: 'off', why: 'undecided' }, budgets: [] }).join('\n');
    assert.match(empty, /^\*\*warden LLM gateway\*\*: 0 calls today/);
    assert.doesNotMatch(empty, /Last call/);
  });
});
