// The LLM actions' pure parts: the stream of one request (chunks in order, the final
// text, late chunks, cancellation and failure), the summary and cost formatting, edit
// and failure outcomes with when *Retry* is offered and the arguments it sends, the
// diagnostic under the cursor, whole-line ranges, request ids, and the usage lines of
// the status bar and the Workspaces view.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  diagnosticAt,
  editOutcome,
  failureOutcome,
  formatUsd,
  LlmStream,
  linesLabel,
  newRequestId,
  RETRY,
  retryArgs,
  startOfToday,
  summary,
  usageBrief,
  usageDetails,
  usageLine,
  wholeLines,
} from '../src/llmModel.ts';
import type { LlmArgs, LlmResult, Range, UsageRow } from '../src/lsp_ext.ts';

const KEY = 'AKIAQ3EGRB4XY7MNP2KD';

function result(over: Partial<LlmResult> = {}): LlmResult {
  return {
    requestId: 'r1',
    text: `The key ${KEY} is hard-coded.`,
    cached: false,
    provider: 'local',
    model: 'gpt-4o-mini',
    tokens: { input: 120, output: 40, cached: 0, reasoning: 0 },
    costUsd: 0.000042,
    applied: null,
    message: null,
    dropped: [],
    ...over,
  };
}

function row(over: Partial<UsageRow> = {}): UsageRow {
  return {
    key: 'total',
    requests: 2,
    cacheHits: 1,
    cacheHitRate: 0.5,
    tokensInput: 900,
    tokensOutput: 400,
    tokensCached: 0,
    tokensReasoning: 0,
    costUsd: 0.000375,
    errors: 0,
    ...over,
  };
}

const r = (l1: number, c1: number, l2: number, c2: number): Range => ({
  start: { line: l1, character: c1 },
  end: { line: l2, character: c2 },
});

describe('LlmStream', () => {
  test('appends chunks in order, each state a prefix of the reply, then the final text', () => {
    const reply = `The constant holds ${KEY}; rotate it.`;
    const s = new LlmStream('r1', 'explain', 'upload.py, line 4', 1000);
    assert.equal(s.state, 'waiting');
    assert.match(s.status(1000), /waiting for the model/);
    const seen: string[] = [];
    for (let i = 0; i < reply.length; i += 4) {
      assert.ok(s.append(reply.slice(i, i + 4)));
      seen.push(s.text);
    }
    assert.equal(s.state, 'streaming');
    assert.equal(s.chunks, Math.ceil(reply.length / 4));
    assert.match(s.status(), new RegExp(`streaming… ${s.chunks} chunks`));
    assert.ok(seen.every((t) => reply.startsWith(t)));
    assert.equal(seen.at(-1), reply);
    s.finish(result({ text: reply }), 1850);
    assert.equal(s.state, 'done');
    assert.equal(s.text, reply);
    assert.equal(s.elapsedMs(99_999), 850);
    assert.equal(s.status(), 'local/gpt-4o-mini · 120→40 tokens · $0.000042 · 850 ms');
  });

  test('the final text wins over a stream that lost a chunk; late chunks are ignored', () => {
    const s = new LlmStream('r1', 'explain', 'x');
    s.append('The ');
    s.append('is hard-coded.'); // "key ..." never arrived
    s.finish(result());
    assert.equal(s.text, `The key ${KEY} is hard-coded.`);
    assert.equal(s.append(' late'), false);
    assert.equal(s.text, `The key ${KEY} is hard-coded.`);
    assert.equal(s.chunks, 2);
  });

  test('a cancelled or failed stream keeps what arrived and ends once', () => {
    const s = new LlmStream('r1', 'explain', 'x', 0);
    s.append('slow slow ');
    s.cancelling = true;
    assert.equal(s.status(), 'cancelling…');
    s.cancel(250);
    assert.equal(s.state, 'cancelled');
    assert.equal(s.text, 'slow slow ');
    assert.equal(s.status(), 'cancelled after 250 ms');
    s.finish(result(), 300);
    s.fail('late', 300);
    assert.equal(s.state, 'cancelled', 'the first end stays');
    assert.equal(s.running, false);

    const f = new LlmStream('r2', 'rewrite', 'x');
    f.fail('HTTP 401 from local: set WARDEN_TEST_LLM_KEY');
    assert.equal(f.status(), 'failed: HTTP 401 from local: set WARDEN_TEST_LLM_KEY');
  });

  test('a cache hit says so in the summary', () => {
    assert.equal(
      summary(result({ cached: true, costUsd: 0, tokens: { input: 0, output: 0, cached: 0, reasoning: 0 } }), 12.4),
      'local/gpt-4o-mini · 0→0 tokens · $0 · response cache hit · 12 ms',
    );
    assert.equal(
      summary(result({ tokens: { input: 100, output: 5, cached: 64, reasoning: 0 } })),
      'local/gpt-4o-mini · 100→5 tokens · $0.000042 · 64 cached',
    );
  });
});

test('formatUsd keeps small amounts readable', () => {
  assert.equal(formatUsd(0), '$0');
  assert.equal(formatUsd(-1), '$0');
  assert.equal(formatUsd(Number.NaN), '$0');
  assert.equal(formatUsd(0.000042), '$0.000042');
  assert.equal(formatUsd(0.0000004), '<$0.000001');
  assert.equal(formatUsd(0.00001), '$0.00001');
  assert.equal(formatUsd(0.0345), '$0.0345');
  assert.equal(formatUsd(0.5), '$0.5');
  assert.equal(formatUsd(12.345), '$12.35');
});

describe('edit outcomes', () => {
  test('applied: information, with Undo, no Retry (the status bar)', () => {
    const o = editOutcome('rewrite', result({ applied: true }), 900);
    assert.equal(o.level, 'info');
    assert.equal(o.retry, false);
    assert.match(o.text, /^warden: rewrite applied \(local\/gpt-4o-mini · 120→40 tokens · \$0\.000042 · 900 ms\); Undo reverts it$/);
  });

  test('not applied: the message, as a warning with Retry', () => {
    const o = editOutcome('fix', result({ applied: false, message: 'the document changed where the edit goes; nothing applied' }));
    assert.deepEqual(o, {
      level: 'warning',
      text: 'warden: fix: nothing applied: the document changed where the edit goes; nothing applied',
      retry: true,
    });
    assert.match(editOutcome('fix', result({ applied: false })).text, /the editor refused the edit/);
    assert.equal(editOutcome('rewrite', result({ applied: false, message: 'the reply changes nothing' })).retry, true);
  });

  test('applied with a warning (a malicious package the user accepted): Retry offered', () => {
    const o = editOutcome('rewrite', result({ applied: true, message: 'The reply brings in a malicious package: evil.' }));
    assert.equal(o.level, 'warning');
    assert.equal(o.retry, true);
    assert.match(o.text, /applied .*\. The reply brings in a malicious package: evil\.$/);
  });

  test('applied from the response cache: information with Retry, for another answer', () => {
    const o = editOutcome('docstring', result({ applied: true, cached: true, costUsd: 0 }), 12);
    assert.equal(o.level, 'info');
    assert.equal(o.retry, true);
    assert.match(o.text, /response cache hit/);
  });

  test('a failure on the server: an error with Retry', () => {
    assert.deepEqual(failureOutcome('rewrite', 'the reply of local/m had no code block to apply; nothing changed'), {
      level: 'error',
      text: 'warden: rewrite failed: the reply of local/m had no code block to apply; nothing changed',
      retry: true,
    });
    assert.equal(RETRY, 'Retry');
  });
});

describe('retry arguments', () => {
  const diagnostic = { range: r(8, 4, 8, 9), message: 'prints part of a credential', source: 'other-linter' };

  test('the same request with noCache and without the old request id', () => {
    const args: LlmArgs = { uri: 'file:///w/a.py', range: r(3, 0, 5, 0), instruction: 'add types', requestId: 'vscode-1' };
    const again = retryArgs(args);
    assert.deepEqual(again, { uri: 'file:///w/a.py', range: r(3, 0, 5, 0), instruction: 'add types', noCache: true });
    assert.equal('requestId' in again, false, 'the runner picks a new one');
    assert.equal(args.requestId, 'vscode-1', 'the original is left alone');
    assert.equal(args.noCache, undefined);
  });

  test('every action keeps its target: a diagnostic, a position; a retry of a retry is the same', () => {
    const fix = retryArgs({ uri: 'file:///w/a.py', diagnostic });
    assert.deepEqual(fix, { uri: 'file:///w/a.py', diagnostic, noCache: true });
    const doc = retryArgs({ uri: 'file:///w/a.py', position: { line: 7, character: 4 } });
    assert.deepEqual(doc, { uri: 'file:///w/a.py', position: { line: 7, character: 4 }, noCache: true });
    assert.deepEqual(retryArgs({ ...fix, requestId: 'x' }), fix);
  });
});

describe('the diagnostic under the cursor', () => {
  const warning = { range: r(8, 4, 8, 9), severity: 1, message: 'prints part of a credential' };
  const error = { range: r(3, 20, 3, 42), severity: 0, message: 'AWS access key ID' };
  const hint = { range: r(8, 0, 8, 40), severity: 3, message: 'long line' };
  const block = { range: r(6, 0, 9, 0), severity: 2, message: 'function too long' };

  test('the most severe one holding the cursor', () => {
    assert.equal(diagnosticAt([hint, warning, error], { line: 8, character: 6 }), warning);
    assert.equal(diagnosticAt([hint, warning], { line: 8, character: 20 }), hint);
    assert.equal(diagnosticAt([error], { line: 3, character: 42 }), error, 'the end is inside');
  });

  test('else one on the cursor line, else one spanning it, else none', () => {
    assert.equal(diagnosticAt([error], { line: 3, character: 0 }), error);
    assert.equal(diagnosticAt([block, error], { line: 7, character: 2 }), block);
    assert.equal(diagnosticAt([error, warning], { line: 12, character: 0 }), undefined);
    assert.equal(diagnosticAt([], { line: 0, character: 0 }), undefined);
  });
});

describe('whole lines', () => {
  test('an empty selection is the cursor line', () => {
    assert.deepEqual(wholeLines(r(3, 7, 3, 7)), r(3, 0, 4, 0));
    assert.equal(linesLabel(wholeLines(r(3, 7, 3, 7))), 'line 4');
  });

  test('a selection ending at column 0 of a later line leaves that line out; backwards works', () => {
    assert.deepEqual(wholeLines(r(6, 2, 9, 0)), r(6, 0, 9, 0));
    assert.equal(linesLabel(wholeLines(r(6, 2, 9, 0))), 'lines 7–9');
    assert.deepEqual(wholeLines(r(9, 3, 6, 2)), r(6, 0, 10, 0));
    assert.deepEqual(wholeLines(r(4, 0, 4, 0)), r(4, 0, 5, 0));
  });

  test('labels of cursors and positions', () => {
    assert.equal(linesLabel(r(3, 5, 3, 5)), 'line 4');
    assert.equal(linesLabel(r(3, 0, 3, 0)), 'line 4');
  });
});

test('request ids are unique and carry the client', () => {
  const ids = new Set(Array.from({ length: 50 }, () => newRequestId(1_700_000_000_000, () => 0.5)));
  assert.equal(ids.size, 50);
  for (const id of ids) {
    assert.match(id, /^vscode-[0-9a-z]+-\d+-80000000$/);
  }
});

describe('usage', () => {
  test('today starts at local midnight, as an RFC 3339 time', () => {
    const now = new Date(2026, 10, 21, 15, 9, 6, 123);
    const since = startOfToday(now);
    assert.match(since, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const back = new Date(since);
    assert.deepEqual(
      [back.getFullYear(), back.getMonth(), back.getDate(), back.getHours(), back.getMinutes()],
      [2026, 10, 21, 0, 0],
    );
  });

  test('the status bar: tokens and cost, nothing without requests', () => {
    assert.equal(usageBrief(row()), '1.3k tok · $0.000375');
    assert.equal(usageBrief(row({ requests: 0 })), '');
    assert.equal(usageBrief(undefined), '');
  });

  test('the Workspaces view: requests, tokens, cost, cache-hit rate, failures', () => {
    assert.equal(usageLine(row()), '2 requests · 1.3k tokens · $0.000375 · cache 50%');
    assert.equal(
      usageLine(row({ requests: 1, cacheHits: 0, cacheHitRate: 0, errors: 1, costUsd: 1.5 })),
      '1 request · 1.3k tokens · $1.50 · cache 0% · 1 failed',
    );
    assert.equal(usageLine(row({ requests: 0 })), 'no LLM requests yet');
  });

  test('the tooltip breakdown', () => {
    assert.deepEqual(usageDetails(row({ tokensCached: 300, tokensReasoning: 12 })), [
      'Requests: 2 (1 from the response cache, 0 failed)',
      'Tokens: 900 input (300 cached), 400 output (12 reasoning)',
      'Cost: $0.000375',
    ]);
    assert.deepEqual(usageDetails(undefined), ['No LLM requests.']);
  });
});
