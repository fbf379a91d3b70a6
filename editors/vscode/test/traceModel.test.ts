// Unit tests of the trace viewer's model: tree building, live updates and paging in any
// order, bar geometry scaled to the root span, latency classes and formatting, notes on
// LLM spans from the response cache and on guard verdicts, gateway calls told apart from
// warden's own actions and the filter by client.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Span } from '../src/lsp_ext.ts';
import {
  bar,
  buildTree,
  cacheHitRate,
  callerValue,
  clientLabel,
  clientsSeen,
  gatewayCall,
  matchesCaller,
  serverFilter,
  treeCall,
  withCaller,
  extent,
  flatten,
  formatClock,
  formatCost,
  formatCount,
  formatDuration,
  formatJson,
  formatTokens,
  fixRoundBadge,
  latencyClass,
  matchesFilter,
  MIN_BAR,
  outputNote,
  SpanStore,
  subtreeTotals,
  plural,
} from '../src/traceModel.ts';

const T0 = Date.parse('2026-11-21T15:09:06.000Z');
const iso = (ms: number): string => new Date(T0 + ms).toISOString();
const tokens = (input = 0, output = 0, cached = 0, reasoning = 0) => ({ input, output, cached, reasoning });

function span(id: string, parentId: string | null, startMs: number, latencyMs: number | null, extra: Partial<Span> = {}): Span {
  return {
    id,
    parentId,
    workspace: 'alpha',
    kind: 'command',
    name: id,
    uri: null,
    input: {},
    output: null,
    startedAt: iso(startMs),
    finishedAt: latencyMs === null ? null : iso(startMs + latencyMs),
    latencyMs,
    outcome: latencyMs === null ? null : 'ok',
    error: null,
    tokens: tokens(),
    costUsd: 0,
    ...extra,
  };
}

describe('buildTree', () => {
  test('nests children under parents, roots newest first, children oldest first', () => {
    const roots = buildTree([
      span('old-root', null, 0, 10),
      span('child-b', 'new-root', 150, 10),
      span('new-root', null, 100, 100),
      span('child-a', 'new-root', 120, 10),
      span('grandchild', 'child-a', 121, 5),
    ]);
    assert.deepEqual(roots.map((r) => r.span.id), ['new-root', 'old-root']);
    assert.deepEqual(roots[0].children.map((c) => c.span.id), ['child-a', 'child-b']);
    assert.deepEqual(
      flatten(roots[0]).map(({ node, depth }) => `${depth}:${node.span.id}`),
      ['0:new-root', '1:child-a', '2:grandchild', '1:child-b'],
    );
    assert.equal(roots[0].orphan, false);
  });

  test('a span whose parent is not loaded is an orphan root', () => {
    const roots = buildTree([span('child', 'missing-parent', 0, 5), span('root', null, 10, 5)]);
    const orphan = roots.find((r) => r.span.id === 'child');
    assert.ok(orphan?.orphan);
    assert.equal(roots.length, 2);
  });

  test('survives a parent cycle', () => {
    const roots = buildTree([span('a', 'b', 0, 5), span('b', 'a', 1, 5)]);
    const ids = roots.flatMap((r) => flatten(r).map(({ node }) => node.span.id)).sort();
    assert.deepEqual(ids, ['a', 'b']);
  });

  test('empty input gives no roots', () => {
    assert.deepEqual(buildTree([]), []);
  });
});

describe('SpanStore', () => {
  test('live started then finished', () => {
    const store = new SpanStore();
    store.started({ id: 's', parentId: null, workspace: 'alpha', kind: 'scan', name: 'workspace.scan', uri: null, input: { root: '/r' }, startedAt: iso(0), tokens: tokens() });
    assert.equal(store.spans.get('s')?.finishedAt, null);
    store.finished({ id: 's', finishedAt: iso(40), latencyMs: 40, outcome: 'ok', error: null, output: { files: 3 }, tokens: tokens(10, 2, 5), costUsd: 0.002 });
    const s = store.spans.get('s');
    assert.equal(s?.latencyMs, 40);
    assert.deepEqual(s?.output, { files: 3 });
    assert.equal(s?.costUsd, 0.002);
    assert.equal(s?.tokens.cached, 5);
  });

  test('a finish that arrives before its span is applied when the span arrives', () => {
    const store = new SpanStore();
    assert.equal(store.finished({ id: 'x', finishedAt: iso(9), latencyMs: 9, outcome: 'error', error: 'boom', output: null, tokens: tokens(), costUsd: 0 }), undefined);
    store.addPage([span('x', null, 0, null)]);
    assert.equal(store.spans.get('x')?.outcome, 'error');
    assert.equal(store.spans.get('x')?.error, 'boom');
  });

  test('an older page does not undo a live finish, and pages dedupe', () => {
    const store = new SpanStore();
    store.started({ id: 'p', parentId: null, workspace: null, kind: 'command', name: 'n', uri: null, input: null, startedAt: iso(0), tokens: tokens() });
    store.finished({ id: 'p', finishedAt: iso(5), latencyMs: 5, outcome: 'ok', error: null, output: null, tokens: tokens(), costUsd: 0 });
    store.addPage([span('p', null, 0, null), span('q', null, 1, 3)]);
    store.addPage([span('q', null, 1, 3)]);
    assert.equal(store.spans.get('p')?.latencyMs, 5);
    assert.equal(store.spans.size, 2);
  });

  test('a started notification for a span loaded from a page keeps the page copy', () => {
    const store = new SpanStore();
    store.addPage([span('p', null, 0, 7)]);
    store.started({ id: 'p', parentId: null, workspace: null, kind: 'command', name: 'p', uri: null, input: null, startedAt: iso(0), tokens: tokens() });
    assert.equal(store.spans.get('p')?.latencyMs, 7);
  });

  test('filters by workspace and kind', () => {
    assert.ok(matchesFilter({ workspace: 'alpha', kind: 'scan' }, {}));
    assert.ok(matchesFilter({ workspace: 'alpha', kind: 'scan' }, { workspace: 'alpha', kind: 'scan' }));
    assert.ok(!matchesFilter({ workspace: 'beta', kind: 'scan' }, { workspace: 'alpha' }));
    assert.ok(!matchesFilter({ workspace: 'alpha', kind: 'index' }, { kind: 'scan' }));
  });
});

describe('bars scaled to the root span', () => {
  test('offsets and widths are fractions of the root window', () => {
    const [root] = buildTree([span('root', null, 0, 1000), span('half', 'root', 500, 250), span('tiny', 'root', 0, 0)]);
    const w = extent(root, T0 + 5000);
    assert.deepEqual(w, { start: T0, end: T0 + 1000 });
    assert.deepEqual(bar(root.span, w, 0), { offset: 0, width: 1 });
    assert.deepEqual(bar(root.children.find((c) => c.span.id === 'half')!.span, w, 0), { offset: 0.5, width: 0.25 });
    assert.equal(bar(root.children.find((c) => c.span.id === 'tiny')!.span, w, 0).width, MIN_BAR);
  });

  test('a child that outlives its root widens the window', () => {
    const [root] = buildTree([span('root', null, 0, 100), span('late', 'root', 50, 150)]);
    const w = extent(root, 0);
    assert.equal(w.end - w.start, 200);
    assert.deepEqual(bar(root.span, w, 0), { offset: 0, width: 0.5 });
  });

  test('running spans extend to now', () => {
    const [root] = buildTree([span('root', null, 0, null), span('done', 'root', 0, 100)]);
    const now = T0 + 400;
    const w = extent(root, now);
    assert.equal(w.end, now);
    assert.deepEqual(bar(root.children[0].span, w, now), { offset: 0, width: 0.25 });
  });

  test('a bar never leaves the track', () => {
    const [root] = buildTree([span('root', null, 0, 10), span('end', 'root', 10, 0)]);
    const b = bar(root.children[0].span, extent(root, 0), 0);
    assert.ok(b.offset + b.width <= 1 + 1e-9, JSON.stringify(b));
    assert.ok(b.width >= MIN_BAR);
  });
});

describe('formatting', () => {
  test('latency classes', () => {
    assert.equal(latencyClass({ finishedAt: null, latencyMs: null }), 'running');
    assert.equal(latencyClass({ finishedAt: 'x', latencyMs: 99 }), 'fast');
    assert.equal(latencyClass({ finishedAt: 'x', latencyMs: 100 }), 'medium');
    assert.equal(latencyClass({ finishedAt: 'x', latencyMs: 1000 }), 'slow');
    assert.equal(latencyClass({ finishedAt: 'x', latencyMs: 10_000 }), 'very-slow');
  });

  test('durations', () => {
    assert.equal(formatDuration(null), '');
    assert.equal(formatDuration(0), '0 ms');
    assert.equal(formatDuration(850), '850 ms');
    assert.equal(formatDuration(1250), '1.25 s');
    assert.equal(formatDuration(12_340), '12.3 s');
    assert.equal(formatDuration(125_000), '2 min 05 s');
    assert.equal(formatDuration(3_720_000), '1 h 02 min');
  });

  test('counts, tokens and cache-hit rate', () => {
    assert.equal(formatCount(950), '950');
    assert.equal(formatCount(1000), '1k');
    assert.equal(formatCount(1250), '1.3k');
    assert.equal(formatCount(12_400), '12k');
    assert.equal(formatCount(3_400_000), '3.4M');
    assert.equal(cacheHitRate(tokens(0, 5, 0)), null);
    assert.equal(cacheHitRate(tokens(200, 5, 50)), 0.25);
    assert.equal(formatTokens(tokens()), '');
    assert.equal(formatTokens(tokens(1200, 300, 800)), 'in 1.2k · out 300 · cache 67%');
    assert.equal(formatTokens(tokens(10, 20, 0, 40)), 'in 10 · out 20 · reasoning 40 · cache 0%');
  });

  test('cost', () => {
    assert.equal(formatCost(0), '');
    assert.equal(formatCost(0.0012), '$0.0012');
    assert.equal(formatCost(0.35), '$0.35');
    assert.equal(formatCost(12.4), '$12.40');
  });

  test('cost never prints floating-point noise', () => {
    assert.equal(formatCost(0.00008449999999999999), '$0.000084');
    assert.equal(formatCost(0.000099), '$0.000099');
    assert.equal(formatCost(1e-9), '< $0.000001');
  });

  test('plural', () => {
    assert.equal(plural(1, 'span'), '1 span');
    assert.equal(plural(0, 'span'), '0 spans');
    assert.equal(plural(2, 'query', 'queries'), '2 queries');
  });

  test('subtree totals count a rolled-up call once', () => {
    // The command span carries the same usage as its llm child (the server rolls it up).
    const [root] = buildTree([
      span('root', null, 0, 10, { kind: 'command', tokens: tokens(240, 10, 0), costUsd: 0.000099 }),
      span('g', 'root', 1, 1, { kind: 'guard' }),
      span('c', 'root', 1, 5, { kind: 'llm', tokens: tokens(240, 10, 0), costUsd: 0.000099 }),
    ]);
    const t = subtreeTotals(root);
    assert.deepEqual(t.tokens, tokens(240, 10, 0));
    assert.equal(t.costUsd, 0.000099);
  });

  test('subtree totals add up children when the parent carries nothing', () => {
    const [root] = buildTree([
      span('root', null, 0, 10),
      span('a', 'root', 1, 5, { kind: 'llm', tokens: tokens(100, 10, 50), costUsd: 0.01 }),
      span('b', 'root', 2, 5, { kind: 'llm', tokens: tokens(50, 5, 0, 3), costUsd: 0.005 }),
    ]);
    const t = subtreeTotals(root);
    assert.deepEqual(t.tokens, tokens(150, 15, 50, 3));
    assert.ok(Math.abs(t.costUsd - 0.015) < 1e-12);
  });

  test('json and clock', () => {
    assert.equal(formatJson(null), '');
    assert.equal(formatJson({ a: 1 }), '{\n  "a": 1\n}');
    assert.equal(formatJson('plain'), 'plain');
    assert.match(formatJson('x'.repeat(50), 10), /^x{10}\n… \(40 more characters\)$/);
    assert.match(formatClock('2026-11-21T15:09:06.123Z'), /^\d\d:\d\d:06\.123$/);
    assert.equal(formatClock('not a date'), 'not a date');
  });
});

describe('output notes', () => {
  test('an llm span answered from the response cache', () => {
    assert.equal(outputNote({ kind: 'llm', outcome: 'ok', output: { cached: true, ttftMs: 3, chars: 80 } }), 'response cache hit');
    assert.equal(outputNote({ kind: 'llm', outcome: 'ok', output: { cached: false, ttftMs: 30, chars: 80 } }), '');
    assert.equal(outputNote({ kind: 'command', outcome: 'ok', output: { cached: true } }), '', 'only llm spans');
  });

  test('guard verdicts, sorted by key; a refusal says so', () => {
    assert.equal(outputNote({ kind: 'guard', outcome: 'ok', output: { secretsRedacted: 2 } }), 'secretsRedacted 2');
    assert.equal(outputNote({ kind: 'guard', outcome: 'ok', output: { allowed: true } }), 'allowed');
    assert.equal(outputNote({ kind: 'guard', outcome: 'ok', output: { malicious: 0, allowed: true } }), 'allowed, malicious 0');
    assert.equal(outputNote({ kind: 'guard', outcome: 'error', output: null }), 'refused');
    assert.equal(outputNote({ kind: 'guard', outcome: null, output: null }), '', 'still running');
  });

  test('a run span: its status, the exit code unless it succeeded, truncation', () => {
    assert.equal(outputNote({ kind: 'run', outcome: 'ok', output: { status: 'succeeded', exitCode: 0, durationMs: 900 } }), 'succeeded');
    assert.equal(outputNote({ kind: 'run', outcome: 'error', output: { status: 'failed', exitCode: 1 } }), 'failed, exit 1');
    assert.equal(outputNote({ kind: 'run', outcome: 'error', output: { status: 'timedOut', exitCode: null, truncated: true } }), 'timedOut, truncated');
    assert.equal(outputNote({ kind: 'run', outcome: null, output: null }), '', 'still running');
  });

  test('odd outputs are ignored and long notes cut', () => {
    assert.equal(outputNote({ kind: 'guard', outcome: 'ok', output: ['allowed'] }), '');
    assert.equal(outputNote({ kind: 'guard', outcome: 'ok', output: 'allowed' }), '');
    const long = outputNote({ kind: 'guard', outcome: 'ok', output: { reason: 'x'.repeat(100) } });
    assert.equal(long.length, 60);
    assert.ok(long.endsWith('…'));
  });
});

describe('gateway calls and the filter by client', () => {
  const gw = (id: string, client: string, startMs: number, api = 'openai.chat'): Span =>
    span(id, null, startMs, 20, {
      kind: 'llm',
      name: 'local/gpt-4o-mini',
      input: { gateway: true, client, api, model: 'gpt-4o-mini' },
    });
  const spans = [
    gw('curl-call', 'curl/8.5.0', 0),
    span('curl-redact', 'curl-call', 1, 1, { kind: 'guard', name: 'guard.redact', output: { secretsRedacted: 1 } }),
    gw('sdk-call', 'OpenAI/Python 3.63.0', 100, 'openai.responses'),
    gw('claude-call', 'claude-cli/1.0.0 (external, cli)', 200, 'anthropic.messages'),
    span('explain', null, 300, 50),
    span('explain-llm', 'explain', 301, 40, { kind: 'llm', name: 'local/gpt-4o-mini', input: { action: 'explain' } }),
    span('scan', null, 400, 10, { kind: 'scan', name: 'workspace.scan' }),
  ];
  const roots = buildTree(spans);
  const ids = (f: Parameters<typeof matchesCaller>[1]): string[] =>
    roots.filter((r) => matchesCaller(r, f)).map((r) => r.span.id);

  test('only llm spans the gateway started are gateway calls', () => {
    assert.deepEqual(gatewayCall(spans[0]), { client: 'curl/8.5.0', api: 'openai.chat' });
    assert.equal(gatewayCall(spans[5]), undefined, "warden's own LLM call");
    assert.equal(gatewayCall({ kind: 'guard', input: { gateway: true } }), undefined);
    assert.equal(gatewayCall({ kind: 'llm', input: null }), undefined);
    assert.equal(gatewayCall({ kind: 'llm', input: { gateway: 'yes' } }), undefined);
    assert.deepEqual(gatewayCall({ kind: 'llm', input: { gateway: true } }), { client: '', api: '' });
    const curl = roots.find((r) => r.span.id === 'curl-call');
    assert.ok(curl);
    assert.deepEqual(treeCall(curl), { client: 'curl/8.5.0', api: 'openai.chat' });
  });

  test('the clients seen, sorted, once each', () => {
    assert.deepEqual(clientsSeen([...spans, gw('again', 'curl/8.5.0', 500)]), [
      'OpenAI/Python 3.63.0',
      'claude-cli/1.0.0 (external, cli)',
      'curl/8.5.0',
    ]);
    assert.deepEqual(clientsSeen([spans[4], spans[5]]), []);
  });

  test('filters whole trees: all, warden\'s own, every gateway call, one client', () => {
    assert.deepEqual(ids({}), ['scan', 'explain', 'claude-call', 'sdk-call', 'curl-call']);
    assert.deepEqual(ids({ origin: 'warden' }), ['scan', 'explain']);
    assert.deepEqual(ids({ origin: 'gateway' }), ['claude-call', 'sdk-call', 'curl-call']);
    assert.deepEqual(ids({ origin: 'gateway', client: 'curl/8.5.0' }), ['curl-call']);
    assert.deepEqual(ids({ client: 'OpenAI/Python 3.63.0' }), ['sdk-call']);
    assert.deepEqual(ids({ client: 'nobody/1.0' }), []);
    // The guard stays in its call's tree.
    const curl = roots.find((r) => r.span.id === 'curl-call');
    assert.deepEqual(curl?.children.map((c) => c.span.id), ['curl-redact']);
  });

  test("the select's values round-trip, and the server never gets the caller", () => {
    for (const f of [{}, { origin: 'warden' as const }, { origin: 'gateway' as const }, { origin: 'gateway' as const, client: 'curl/8.5.0' }]) {
      assert.deepEqual(withCaller({ workspace: 'alpha', kind: 'llm' }, callerValue(f)), { workspace: 'alpha', kind: 'llm', ...f });
    }
    assert.equal(callerValue({ client: 'a:b' }), 'client:a:b');
    assert.deepEqual(withCaller({ kind: 'llm', origin: 'gateway', client: 'x' }, ''), { kind: 'llm' });
    assert.deepEqual(withCaller({}, 'client:'), { origin: 'gateway', client: '' }, 'a client that sent no User-Agent');
    assert.deepEqual(serverFilter({ workspace: 'alpha', kind: 'llm', origin: 'gateway', client: 'curl/8.5.0' }), {
      workspace: 'alpha',
      kind: 'llm',
    });
    assert.deepEqual(serverFilter({ origin: 'warden' }), {});
  });

  test('client labels are short; the empty one is named', () => {
    assert.equal(clientLabel('curl/8.5.0'), 'curl/8.5.0');
    assert.equal(clientLabel(''), 'unknown client');
    const long = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)';
    assert.equal(clientLabel(long).length, 40);
    assert.ok(clientLabel(long).endsWith('…'));
  });
});

describe('fix-until-green rounds', () => {
  const round = (extra: Partial<Span>): Span =>
    span('round', 'fix', 0, 900, { name: 'fix.round', input: { round: 2, maxRounds: 3, failedRun: 'run-1' }, ...extra });

  test('a finished round: its number and outcome, cached when replayed', () => {
    assert.deepEqual(fixRoundBadge(round({ output: { outcome: 'failing', cached: false, runStatus: 'failed', exitCode: 1, message: 'line 3' } })), {
      text: 'round 2 · failing',
      outcome: 'failing',
    });
    assert.deepEqual(fixRoundBadge(round({ output: { outcome: 'green', cached: true, runStatus: 'succeeded', exitCode: 0 } })), {
      text: 'round 2 · green · cached',
      outcome: 'green',
    });
    assert.deepEqual(fixRoundBadge(round({ outcome: 'cancelled', output: null })), { text: 'round 2 · ended', outcome: 'ended' });
  });

  test('a running round; other spans have no badge', () => {
    assert.deepEqual(fixRoundBadge(round({ finishedAt: null, latencyMs: null, outcome: null, output: null })), { text: 'round 2 …', outcome: 'running' });
    assert.deepEqual(fixRoundBadge(round({ input: null, output: { outcome: 'noFix' } })), { text: 'round · noFix', outcome: 'noFix' });
    assert.equal(fixRoundBadge(span('cmd', null, 0, 10, { name: 'warden.llm.fixUntilGreen', output: { outcome: 'green' } })), undefined);
    assert.equal(fixRoundBadge(span('llm', 'round', 0, 10, { kind: 'llm', name: 'fix.round' })), undefined, 'only command spans');
  });

  test('a round\'s cached output is not taken for a response cache hit', () => {
    assert.equal(outputNote(round({ output: { outcome: 'green', cached: true } })), '');
  });
});
