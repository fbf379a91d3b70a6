// The pure parts of runs: the seq reorder buffer, output to terminal text (CRLF across
// chunk boundaries, stderr in red, ANSI kept), the status lines, the Runs view's
// descriptions and tooltips, the log document, statistics, search rows and argument
// splitting.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Run, RunFinishedParams } from '../src/lsp_ext.ts';
import {
  ANSI,
  finishedLines,
  finishedText,
  formatBytes,
  formatDuration,
  formatLog,
  headerLine,
  hitItem,
  scriptItem,
  relativeTime,
  runDescription,
  runDetails,
  SeqBuffer,
  splitArgs,
  statsMarkdown,
  statusIcon,
  statusLabel,
  stripAnsi,
  TerminalText,
  spokenRun,
} from '../src/runModel.ts';

const NOW = Date.parse('2026-11-21T12:00:00Z');

function run(over: Partial<Run> = {}): Run {
  return {
    runId: 'r1',
    workspace: 'alpha',
    workspaceId: 2,
    spanId: 's1',
    batchId: null,
    path: 'scripts/2.00_report.py',
    uri: 'file:///w/alpha/scripts/2.00_report.py',
    head: '0123456789abcdef0123',
    dirty: false,
    contentHash: 'h',
    image: 'warden-runner-python:bookworm',
    command: ['python3'],
    limits: {},
    input: null,
    status: 'failed',
    exitCode: 1,
    message: 'exited with code 1',
    startedAt: '2026-11-21T11:55:00Z',
    finishedAt: '2026-11-21T11:55:01Z',
    durationMs: 1340,
    firstOutputMs: 420,
    stdoutBytes: 10,
    stderrBytes: 2048,
    truncated: false,
    artifacts: [],
    ...over,
  };
}

function finished(over: Partial<RunFinishedParams> = {}): RunFinishedParams {
  return {
    runId: 'r1',
    uri: null,
    path: 'scripts/1.py',
    batchId: null,
    status: 'succeeded',
    exitCode: 0,
    durationMs: 1250,
    truncated: false,
    artifacts: [],
    message: null,
    ...over,
  };
}

describe('SeqBuffer', () => {
  test('hands chunks out in seq order, holding the early ones', () => {
    const b = new SeqBuffer<string>();
    assert.deepEqual(b.push(1, 'b'), []);
    assert.deepEqual(b.push(2, 'c'), []);
    assert.equal(b.waiting, 2);
    assert.deepEqual(b.push(0, 'a'), ['a', 'b', 'c']);
    assert.equal(b.expected, 3);
    assert.deepEqual(b.push(3, 'd'), ['d']);
    assert.equal(b.waiting, 0);
  });

  test('drops duplicates and chunks already out', () => {
    const b = new SeqBuffer<string>();
    assert.deepEqual(b.push(0, 'a'), ['a']);
    assert.deepEqual(b.push(0, 'a again'), []);
    assert.deepEqual(b.push(2, 'c'), []);
    assert.deepEqual(b.push(2, 'c again'), []);
    assert.deepEqual(b.push(-1, 'x'), []);
    assert.deepEqual(b.push(1.5, 'x'), []);
    assert.deepEqual(b.push(1, 'b'), ['b', 'c']);
  });

  test('any order of a shuffled stream comes out sorted', () => {
    const n = 50;
    const order = [...Array(n).keys()];
    let seed = 7;
    for (let i = n - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const j = seed % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    const b = new SeqBuffer<number>();
    const out = order.flatMap((s) => b.push(s, s));
    assert.deepEqual(out, [...Array(n).keys()]);
  });

  test('flush gives what waits, skipping gaps, and moves on', () => {
    const b = new SeqBuffer<string>();
    b.push(0, 'a');
    b.push(3, 'd');
    b.push(2, 'c');
    assert.deepEqual(b.flush(), ['c', 'd']);
    assert.equal(b.expected, 4);
    assert.deepEqual(b.push(4, 'e'), ['e']);
  });
});

describe('TerminalText', () => {
  test('turns \\n and \\r\\n into \\r\\n; a lone \\r stays', () => {
    const t = new TerminalText();
    assert.equal(t.convert('a\nb\r\nc'), 'a\r\nb\r\nc');
    assert.equal(t.convert('10%\r20%\r'), '10%\r20%\r');
  });

  test('a \\r\\n split across chunks becomes one line break', () => {
    const t = new TerminalText();
    assert.equal(t.convert('line\r') + t.convert('\nnext\n'), 'line\r\nnext\r\n');
  });

  test('keeps ANSI colours and Unicode', () => {
    const t = new TerminalText();
    const chunk = '\x1b[32mok\x1b[0m ✓ 完成\n';
    assert.equal(t.convert(chunk), '\x1b[32mok\x1b[0m ✓ 完成\r\n');
  });

  test('stderr in red, stdout as is', () => {
    const t = new TerminalText();
    assert.equal(t.output('stdout', 'out\n'), 'out\r\n');
    assert.equal(t.output('stderr', 'Traceback\n'), `${ANSI.red}Traceback\r\n${ANSI.reset}`);
    assert.equal(t.output('stderr', 'plain\n', false), 'plain\r\n');
    assert.equal(t.output('stderr', ''), '');
  });

  test('knows whether the last line was ended', () => {
    const t = new TerminalText();
    assert.equal(t.newlineIfNeeded(), '', 'nothing written yet');
    t.convert('no newline');
    assert.equal(t.atLineStart, false);
    assert.equal(t.newlineIfNeeded(), '\r\n');
    assert.equal(t.newlineIfNeeded(), '');
    t.convert('done\n');
    assert.equal(t.newlineIfNeeded(), '');
  });
});

describe('status lines', () => {
  test('succeeded: green, with the exit code', () => {
    assert.equal(finishedText(finished()), '[warden] scripts/1.py succeeded in 1.3 s (exit code 0)');
    const lines = finishedLines(finished());
    assert.ok(lines.startsWith(`${ANSI.bold}${ANSI.green}[warden]`), lines);
    assert.ok(lines.endsWith('\r\n'));
  });

  test('failures: red, with the message; notes for truncation and artifacts', () => {
    const p = finished({ status: 'failed', exitCode: 1, message: 'exited with code 1', truncated: true, artifacts: [{ path: 'r.txt', size: 3 }] });
    assert.equal(finishedText(p), '[warden] scripts/1.py failed in 1.3 s (exited with code 1)');
    const lines = finishedLines(p);
    assert.ok(lines.includes(ANSI.red));
    assert.match(stripAnsi(lines), /output was cut/);
    assert.match(stripAnsi(lines), /artifacts: r\.txt \(3 B\)/);
    assert.equal(finishedText(finished({ status: 'timedOut', exitCode: null, message: 'ran over 30 s', durationMs: 30_000 })), '[warden] scripts/1.py timed out in 30.0 s (ran over 30 s)');
    assert.ok(finishedLines(finished({ status: 'cancelled', exitCode: null, message: 'cancelled' })).includes(ANSI.yellow));
  });

  test('the header names the script, input and arguments', () => {
    assert.equal(stripAnsi(headerLine('scripts/a.py')), '[warden] running scripts/a.py in a sandbox…\r\n');
    assert.equal(
      stripAnsi(headerLine('scripts/a.py', 'rows.jsonl', ['-v', 'x y'])),
      '[warden] running scripts/a.py (input rows.jsonl, args -v x y) in a sandbox…\r\n',
    );
  });
});

describe('formatting', () => {
  test('durations, bytes and relative times', () => {
    assert.equal(formatDuration(850), '850 ms');
    assert.equal(formatDuration(1340), '1.3 s');
    assert.equal(formatDuration(125_000), '2 min 5 s');
    assert.equal(formatDuration(120_000), '2 min');
    assert.equal(formatDuration(null), '');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(2048), '2.0 KB');
    assert.equal(formatBytes(3 * 1024 * 1024), '3.0 MB');
    assert.equal(relativeTime('2026-11-21T11:59:50Z', NOW), 'just now');
    assert.equal(relativeTime('2026-11-21T11:55:00Z', NOW), '5 min ago');
    assert.equal(relativeTime('2026-11-21T09:00:00Z', NOW), '3 h ago');
    assert.equal(relativeTime('2026-11-19T12:00:00Z', NOW), '2 d ago');
    assert.equal(relativeTime('2025-01-02T12:00:00Z', NOW), '2025-01-02');
    assert.equal(relativeTime('garbage', NOW), 'garbage');
  });

  test('every status has a label and an icon; timed out is a clock', () => {
    for (const s of ['succeeded', 'failed', 'timedOut', 'oomKilled', 'cancelled', 'error', 'running'] as const) {
      assert.ok(statusLabel(s).length > 0);
      assert.ok(statusIcon(s).id.length > 0);
    }
    assert.equal(statusIcon('succeeded').id, 'pass');
    assert.equal(statusIcon('failed').id, 'error');
    assert.equal(statusIcon('timedOut').id, 'clock');
    assert.equal(statusIcon('running').id, 'watch');
    assert.equal(statusLabel('oomKilled'), 'out of memory');
  });

  test('a Runs view row: status · duration · when · workspace', () => {
    assert.equal(runDescription(run(), NOW), 'failed · 1.3 s · 5 min ago · alpha');
  });

  test('a Runs view tooltip: git HEAD, exit code, message, input, artifacts', () => {
    const lines = runDetails(run({ input: 'rows.jsonl', dirty: true, artifacts: [{ path: 'out.csv', size: 2048 }], batchId: 'b1' }));
    const text = lines.join('\n');
    assert.match(text, /\*\*scripts\/2\.00_report\.py\*\* in alpha/);
    assert.match(text, /failed, exit code 1: exited with code 1/);
    assert.match(text, /git HEAD: 01234567 \(dirty\)/);
    assert.match(text, /first output after 420 ms/);
    assert.match(text, /input: rows\.jsonl/);
    assert.match(text, /artifacts: out\.csv \(2\.0 KB\)/);
    assert.match(text, /run r1, batch b1/);
    assert.match(runDetails(run({ head: null })).join('\n'), /git HEAD: no git HEAD/);
  });
});

describe('the log document', () => {
  test('facts, then stdout and stderr without ANSI codes, with their first lines', () => {
    const log = formatLog(run({ stdout: '\x1b[1mhello\x1b[0m\nworld\n', stderr: 'Traceback\r\n  boom\n' }));
    const lines = log.text.split('\n');
    assert.match(lines[0], /^# scripts\/2\.00_report\.py — failed \(exit code 1\)$/);
    assert.equal(lines[log.stdoutLine], 'hello');
    assert.equal(lines[log.stdoutLine + 1], 'world');
    assert.equal(lines[log.stderrLine], 'Traceback');
    assert.equal(lines[log.stderrLine + 1], '  boom');
    assert.ok(!log.text.includes('\x1b'));
  });

  test('no output says so', () => {
    const log = formatLog(run({ stdout: '', stderr: undefined }));
    const lines = log.text.split('\n');
    assert.equal(lines[log.stdoutLine], '(none)');
    assert.equal(lines[log.stderrLine], '(none)');
  });

  test('stripAnsi removes colour, cursor and OSC sequences only', () => {
    assert.equal(stripAnsi('\x1b[31mred\x1b[0m \x1b[2K\x1b]0;title\x07plain'), 'red plain');
  });
});

describe('statistics and search', () => {
  test('statistics as a Markdown table', () => {
    const md = statsMarkdown(
      {
        workspace: 'alpha',
        scripts: [
          { path: 'scripts/1.py', runs: 4, succeeded: 3, successRate: 0.75, p50Ms: 900, p95Ms: 2100, lastStatus: 'failed', lastRunAt: '2026-11-21T11:55:00Z' },
          { path: 'scripts/2.py', runs: 1, succeeded: 1, successRate: 1, p50Ms: 300, p95Ms: 300, lastStatus: 'succeeded', lastRunAt: '2026-11-21T11:59:59Z' },
        ],
      },
      NOW,
    );
    assert.match(md, /^# Run statistics: alpha$/m);
    assert.match(md, /^5 runs of 2 scripts, 80% succeeded\.$/m);
    assert.match(md, /^\| `scripts\/1\.py` \| 4 \| 3 \| 75% \| 900 ms \| 2\.1 s \| failed \| 5 min ago \|$/m);
    assert.match(statsMarkdown({ workspace: 'beta', scripts: [] }), /No stored runs yet/);
  });

  test('a search hit as a quick pick row', () => {
    const item = hitItem(
      { runId: 'r1', path: 'scripts/2.00_report.py', status: 'failed', startedAt: '2026-11-21T11:55:00Z', stream: 'stderr', line: 7, text: '  FileNotFoundError: x  ', before: [], after: [] },
      NOW,
    );
    assert.deepEqual(item, { label: '2.00_report.py:7', description: 'stderr · failed · 5 min ago', detail: 'FileNotFoundError: x' });
  });

  test('a catalog script as a quick pick row: order and name, version, last run', () => {
    const base = { path: 'scripts/3.01_load.py', uri: 'file:///r/scripts/3.01_load.py', order: '3.01', group: 3, name: 'Load the rows', image: 'warden-runner-python:bookworm', command: ['python3'] };
    assert.deepEqual(
      scriptItem({ ...base, commit: '0123456789abcdef', dirty: true, lastStatus: 'failed', lastRunAt: '2026-11-21T11:55:00Z' }, NOW),
      {
        label: '3.01  Load the rows',
        description: 'scripts/3.01_load.py',
        detail: 'group 3 · 01234567 (dirty) · last run failed 5 min ago · warden-runner-python:bookworm',
      },
    );
    const fresh = scriptItem({ ...base, order: null, group: null, commit: null, dirty: true, lastStatus: null, lastRunAt: null }, NOW);
    assert.equal(fresh.label, '–  Load the rows');
    assert.equal(fresh.detail, 'group – · not committed · never run · warden-runner-python:bookworm');
  });
});

describe('splitArgs', () => {
  test('spaces separate; quotes group; backslash escapes; nothing expands', () => {
    assert.deepEqual(splitArgs(''), []);
    assert.deepEqual(splitArgs('  -v   --n 3 '), ['-v', '--n', '3']);
    assert.deepEqual(splitArgs(`"a b" 'c "d"' e\\ f`), ['a b', 'c "d"', 'e f']);
    assert.deepEqual(splitArgs('"" $HOME *.py'), ['', '$HOME', '*.py']);
    assert.deepEqual(splitArgs('"say \\"hi\\""'), ['say "hi"']);
  });
});

describe('spoken run labels', () => {
  test('runs that differ only by time read differently', () => {
    const now = Date.parse('2026-11-21T15:00:00Z');
    const a = spokenRun(run({ startedAt: '2026-11-21T14:58:01Z' }), now);
    const b = spokenRun(run({ startedAt: '2026-11-21T14:58:09Z' }), now);
    assert.notEqual(a, b);
    assert.match(a, /seconds|milliseconds/);
    assert.doesNotMatch(a, /[0-9a-f]{40}/);
  });
});
