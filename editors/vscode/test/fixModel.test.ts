// *Fix until it runs*, the pure parts: the loops followed by request id (rounds in order,
// loops started elsewhere, the end with and without a fix), which pending fix the
// palette's Accept/Discard answer, the round's progress line, the diff's title and
// question, what is said without a fix, the `warden-fix:` paths, and the arguments a
// code action passes.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  acceptQuestion,
  baseName,
  diffTitle,
  FixLoops,
  finishedWithoutFix,
  fixDocPath,
  hasFix,
  isFixArgs,
  parseFixDocPath,
  roundSummary,
} from '../src/fixModel.ts';
import type { FixFinishedParams, FixRound } from '../src/lsp_ext.ts';

const URI = 'file:///ws/alpha/scripts/5.00%20broken.py';

function round(n: number, outcome: FixRound['outcome'], over: Partial<FixRound> = {}): FixRound {
  return {
    n,
    outcome,
    cached: false,
    message: null,
    runId: `run-${n}`,
    runStatus: outcome === 'green' ? 'succeeded' : 'failed',
    exitCode: outcome === 'green' ? 0 : 1,
    tokens: { input: 100, output: 20, cached: 0, reasoning: 0 },
    costUsd: 0.0001,
    spanId: `span-${n}`,
    ...over,
  };
}

function finished(over: Partial<FixFinishedParams> = {}): FixFinishedParams {
  return {
    requestId: 'r1',
    uri: URI,
    green: true,
    stopped: 'the fixed script runs (round 2)',
    rounds: [round(1, 'failing'), round(2, 'green')],
    costUsd: 0.0002,
    original: 'print(nme)\n',
    fixed: 'name = "x"\nprint(name)\n',
    ...over,
  };
}

describe('round lines', () => {
  test('round k/N, the outcome, the blamed line cut, replayed rounds', () => {
    assert.equal(roundSummary(round(1, 'failing', { message: "line 7: NameError: name 'nme' is not defined" }), 3), "round 1/3: failing — line 7: NameError: name 'nme' is not defined");
    assert.equal(roundSummary(round(2, 'green'), 3), 'round 2/3: green');
    assert.equal(roundSummary(round(1, 'noFix', { cached: true, message: 'the reply changes nothing' }), 3), 'round 1/3: no fix (replayed) — the reply changes nothing');
    const long = roundSummary(round(1, 'failing', { message: 'x'.repeat(200) }), 3);
    assert.ok(long.endsWith('…'));
    assert.equal(long.length, 'round 1/3: failing — '.length + 80);
    assert.equal(roundSummary(round(1, 'error', { message: 'line one\n  line two' }), 3), 'round 1/3: error — line one line two');
    assert.equal(roundSummary(round(4, 'failing'), 3), 'round 4/4: failing', 'never "4/3"');
  });
});

describe('the diff and what is said at the end', () => {
  test('titles: green after N rounds, still failing, stopped otherwise', () => {
    assert.equal(diffTitle('a.py', finished()), 'a.py: fix until it runs (green after 2 rounds)');
    assert.equal(diffTitle('a.py', finished({ rounds: [round(1, 'green')] })), 'a.py: fix until it runs (green after 1 round)');
    const failing = finished({ green: false, stopped: 'still failing after 3 rounds', rounds: [round(1, 'failing'), round(2, 'failing'), round(3, 'failing')] });
    assert.equal(diffTitle('a.py', failing), 'a.py: fix until it runs (still failing after 3 rounds)');
    const budget = finished({ green: false, stopped: 'the budget of $0.01 is spent', rounds: [round(1, 'failing'), round(2, 'refused')] });
    assert.equal(diffTitle('a.py', budget), 'a.py: fix until it runs (not green: the budget of $0.01 is spent)');
    // The tab title is what the e2e test and users look for.
    assert.match(diffTitle('a.py', failing), /fix until it runs/);
  });

  test('the question says whether the fix runs, with the cost', () => {
    assert.equal(acceptQuestion('a.py', finished()), 'warden: the fixed a.py runs (2 rounds, $0.0002). Apply the fix?');
    assert.equal(acceptQuestion('a.py', finished({ costUsd: 0 })), 'warden: the fixed a.py runs (2 rounds). Apply the fix?');
    assert.equal(
      acceptQuestion('a.py', finished({ green: false, stopped: 'still failing after 3 rounds', costUsd: 0 })),
      'warden: a.py still does not run: still failing after 3 rounds. Apply the last attempt anyway?',
    );
  });

  test('without a fix: already runs (information), cancelled, or why it stopped (warning)', () => {
    assert.deepEqual(finishedWithoutFix('a.py', finished({ rounds: [], stopped: 'the script already runs; nothing to fix', original: null, fixed: null })), {
      level: 'info',
      text: 'warden: a.py: the script already runs; nothing to fix',
    });
    assert.deepEqual(finishedWithoutFix('a.py', finished({ green: false, rounds: [round(1, 'cancelled')], stopped: 'cancelled', fixed: null })), {
      level: 'info',
      text: 'warden: fix until it runs of a.py cancelled',
    });
    assert.deepEqual(finishedWithoutFix('a.py', finished({ green: false, rounds: [round(1, 'noFix')], stopped: 'the reply has no code block', fixed: null })), {
      level: 'warning',
      text: 'warden: could not fix a.py: the reply has no code block',
    });
  });

  test('a fix is there only with both texts', () => {
    assert.ok(hasFix(finished()));
    assert.ok(!hasFix(finished({ fixed: null })));
    assert.ok(!hasFix(finished({ original: undefined, fixed: undefined })));
  });
});

describe('warden-fix: documents and arguments', () => {
  test('paths round-trip the request id and side; others are not ours', () => {
    const p = fixDocPath('vscode-abc-1-ff/x', 'fixed', 'a.py');
    assert.equal(p, '/vscode-abc-1-ff%2Fx/fixed/a.py');
    assert.deepEqual(parseFixDocPath(p), { requestId: 'vscode-abc-1-ff/x', side: 'fixed' });
    assert.deepEqual(parseFixDocPath(fixDocPath('r1', 'original', 'a.py')), { requestId: 'r1', side: 'original' });
    assert.equal(parseFixDocPath('/r1/proposed/a.py'), undefined);
    assert.equal(parseFixDocPath('/ws/a.py'), undefined);
  });

  test('base names are decoded', () => {
    assert.equal(baseName(URI), '5.00 broken.py');
    assert.equal(baseName('untitled:Untitled-1'), 'untitled:Untitled-1');
  });

  test("a code action's {uri} and full arguments are fix arguments; others are not", () => {
    assert.ok(isFixArgs({ uri: URI }));
    assert.ok(isFixArgs({ uri: URI, maxRounds: 5, budgetUsd: 0.05, requestId: 'r' }));
    assert.ok(!isFixArgs({ uri: 1 }));
    assert.ok(!isFixArgs({ uri: URI, maxRounds: '3' }));
    assert.ok(!isFixArgs(undefined));
    assert.ok(!isFixArgs('file:///a.py'));
  });
});

describe('the loops of a window', () => {
  test('rounds in order, replaced when sent again; the end keeps a fix pending', () => {
    const loops = new FixLoops();
    loops.start('r1', URI, 5);
    loops.round({ requestId: 'r1', uri: URI, round: round(2, 'failing') });
    loops.round({ requestId: 'r1', uri: URI, round: round(1, 'failing') });
    loops.round({ requestId: 'r1', uri: URI, round: round(2, 'green') });
    const loop = loops.get('r1');
    assert.deepEqual(loop?.rounds.map((r) => `${r.n}:${r.outcome}`), ['1:failing', '2:green']);
    assert.equal(loop?.maxRounds, 5);
    assert.equal(loop?.name, '5.00 broken.py');
    assert.deepEqual(loops.running.map((l) => l.requestId), ['r1']);
    assert.equal(loops.pending.length, 0);
    loops.finish(finished());
    assert.equal(loops.running.length, 0);
    assert.deepEqual(loops.pending.map((l) => l.requestId), ['r1']);
    assert.equal(loops.forget('r1')?.requestId, 'r1');
    assert.equal(loops.pending.length, 0);
  });

  test('a loop started elsewhere (the server ran the code action) is followed from its first round', () => {
    const loops = new FixLoops();
    loops.round({ requestId: 'srv-1', uri: URI, round: round(1, 'failing') });
    assert.equal(loops.get('srv-1')?.maxRounds, 3);
    assert.deepEqual(loops.running.map((l) => l.requestId), ['srv-1']);
  });

  test('an end without a fix is forgotten at once', () => {
    const loops = new FixLoops();
    loops.start('r1', URI);
    loops.finish(finished({ fixed: null, original: null }));
    assert.equal(loops.get('r1'), undefined);
    assert.equal(loops.pending.length, 0);
  });

  test('which pending fix the palette answers: by id, else the file\'s, else the newest', () => {
    const loops = new FixLoops();
    const other = 'file:///ws/alpha/other.py';
    loops.finish(finished({ requestId: 'a', uri: URI }));
    loops.finish(finished({ requestId: 'b', uri: other }));
    loops.finish(finished({ requestId: 'c', uri: URI }));
    assert.equal(loops.pendingFor('a')?.requestId, 'a');
    assert.equal(loops.pendingFor('zzz'), undefined, 'an unknown id is not replaced by another fix');
    assert.equal(loops.pendingFor(undefined, other)?.requestId, 'b');
    assert.equal(loops.pendingFor(undefined, URI)?.requestId, 'c');
    assert.equal(loops.pendingFor(undefined, 'file:///none.py')?.requestId, 'c');
    assert.equal(loops.pendingFor()?.requestId, 'c');
    assert.equal(new FixLoops().pendingFor(), undefined);
  });
});
