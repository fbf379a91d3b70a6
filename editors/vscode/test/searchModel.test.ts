// Unit tests of the Search Workspace model (src/searchModel.ts): the input as
// `warden/search` params, matching lines as quick pick rows (location, context,
// highlights in label offsets), the title, errors, and the timing logic (debounce,
// sequencing so an older answer never replaces a newer one).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SearchMatch, SearchResult } from '../src/lsp_ext.ts';
import {
  Debouncer,
  errorText,
  parseQuery,
  resultTitle,
  row,
  rows,
  SEARCH_CONTEXT,
  SEARCH_LIMIT,
  searchParams,
  Sequencer,
  type Timers,
} from '../src/searchModel.ts';

function range(line: number, start: number, end: number) {
  return { start: { line, character: start }, end: { line, character: end } };
}

function match(over: Partial<SearchMatch> = {}): SearchMatch {
  return {
    workspace: 'alpha',
    uri: 'file:///w/alpha/scripts/2.00_report.py',
    path: 'scripts/2.00_report.py',
    range: range(8, 26, 37),
    ranges: [range(8, 26, 37)],
    text: '    print(f"{len(values)} rows, total {sum(values)}")',
    before: ['        values = [json.loads(line)["value"] for line in src]'],
    after: [''],
    ...over,
  };
}

function result(results: SearchMatch[], over: Partial<SearchResult> = {}): SearchResult {
  return { results, truncated: false, filesSearched: 3, indexed: true, elapsedMs: 4.6, ...over };
}

describe('parseQuery', () => {
  test('a literal keeps inner and trailing spaces; the toggle decides regex', () => {
    assert.deepEqual(parseQuery('rows, total ', false), { query: 'rows, total ', regex: false });
    assert.deepEqual(parseQuery('  rows', true), { query: 'rows', regex: true });
  });

  test('nothing to search for', () => {
    assert.equal(parseQuery('', false), undefined);
    assert.equal(parseQuery('   ', true), undefined);
    assert.equal(parseQuery('glob=*.py ', false), undefined);
  });

  test('/EXPR/ is a regular expression whatever the toggle', () => {
    assert.deepEqual(parseQuery('/def\\s+\\w+/', false), { query: 'def\\s+\\w+', regex: true });
    assert.deepEqual(parseQuery('/a/ ', false), { query: 'a', regex: true });
    // One slash, or two with nothing between, is just text (`//` finds comments).
    assert.deepEqual(parseQuery('/usr/bin', false), { query: '/usr/bin', regex: false });
    assert.deepEqual(parseQuery('//', false), { query: '//', regex: false });
  });

  test('leading glob= words narrow the files; the last one wins', () => {
    assert.deepEqual(parseQuery('glob=src/**/*.py parse_', false), { query: 'parse_', regex: false, glob: 'src/**/*.py' });
    assert.deepEqual(parseQuery('glob=a glob=*.rs /fn \\w+/', false), { query: 'fn \\w+', regex: true, glob: '*.rs' });
    // Not at the start: part of the text.
    assert.deepEqual(parseQuery('x glob=y', false), { query: 'x glob=y', regex: false });
  });
});

test('searchParams: limit and context always, regex and glob only when set', () => {
  assert.deepEqual(searchParams({ query: 'x', regex: false }), { query: 'x', limit: SEARCH_LIMIT, context: SEARCH_CONTEXT });
  assert.deepEqual(searchParams({ query: 'x', regex: true, glob: '*.py' }, 'alpha'), {
    query: 'x',
    regex: true,
    glob: '*.py',
    workspace: 'alpha',
    limit: 200,
    context: 1,
  });
});

describe('rows', () => {
  test('label without indentation, path:line (1-based), context as detail, the range kept', () => {
    const [r] = rows(result([match()]));
    assert.equal(r.label, 'print(f"{len(values)} rows, total {sum(values)}")');
    assert.equal(r.description, 'scripts/2.00_report.py:9');
    assert.equal(r.detail, 'values = [json.loads(line)["value"] for line in src]');
    assert.equal(r.uri, 'file:///w/alpha/scripts/2.00_report.py');
    assert.deepEqual(r.range, range(8, 26, 37));
  });

  test('every match highlighted, in label offsets', () => {
    const r = row(match({ text: '  ab ab', range: range(0, 2, 4), ranges: [range(0, 2, 4), range(0, 5, 7)] }), false);
    assert.equal(r.label, 'ab ab');
    assert.deepEqual(r.highlights, [
      [0, 2],
      [3, 5],
    ]);
    assert.equal(r.label.slice(...r.highlights[1]), 'ab');
  });

  test('a long line is cut; highlights stay inside the label', () => {
    const text = `${'x'.repeat(300)}needle`;
    const r = row(match({ text, range: range(0, 300, 306), ranges: [range(0, 300, 306)] }), false);
    assert.equal(r.label.length, 240);
    assert.ok(r.label.endsWith('…'));
    assert.deepEqual(r.highlights, []);
  });

  test('blank context gives no detail; a blank line still has a label', () => {
    const r = row(match({ text: '   ', before: ['', '  '], after: [], range: range(0, 0, 3), ranges: [] }), false);
    assert.equal(r.detail, undefined);
    assert.equal(r.label, '(blank line)');
  });

  test('the workspace is named only when the results span several, in the server order', () => {
    const a = match();
    const b = match({ workspace: 'gamma', uri: 'file:///w/gamma/tools/check.py', path: 'tools/check.py', range: range(4, 0, 3) });
    assert.deepEqual(
      rows(result([b, a])).map((r) => r.description),
      ['gamma · tools/check.py:5', 'alpha · scripts/2.00_report.py:9'],
    );
  });
});

describe('resultTitle', () => {
  test('lines and files, the mode, the time', () => {
    const two = [match(), match({ range: range(9, 0, 1) })];
    assert.equal(resultTitle(result(two), { query: 'x', regex: false }), 'Search Workspace: 2 matching lines in 1 file · 5 ms');
    assert.equal(
      resultTitle(result([match()]), { query: 'x', regex: true, glob: '*.py' }),
      'Search Workspace: 1 matching line in 1 file (regex, glob *.py) · 5 ms',
    );
  });

  test('truncated and empty results say so', () => {
    assert.match(resultTitle(result([match()], { truncated: true }), { query: 'x', regex: false }), /first 1 matching lines \(more not shown\)/);
    assert.match(resultTitle(result([], { filesSearched: 1 }), { query: 'x', regex: false }), /no matches in 1 file ·/);
  });
});

test('errorText: the parser message on one line, without its caret', () => {
  assert.equal(
    errorText('invalid regular expression: regex parse error:\n    def\\s+(\n          ^\nerror: unclosed group'),
    'invalid regular expression: regex parse error: error: unclosed group',
  );
  assert.equal(errorText('unknown workspace zeta'), 'unknown workspace zeta');
  assert.equal(errorText(''), 'the search failed');
});

test('Sequencer: only the latest search is current; invalidate makes all stale', () => {
  const s = new Sequencer();
  const first = s.next();
  const second = s.next();
  assert.equal(s.isCurrent(first), false);
  assert.equal(s.isCurrent(second), true);
  s.invalidate();
  assert.equal(s.isCurrent(second), false);
});

/** A clock the test moves by hand. */
class FakeTimers implements Timers {
  now = 0;
  private queue: { at: number; fn: () => void; id: number }[] = [];
  private id = 0;

  set(fn: () => void, ms: number): unknown {
    this.id += 1;
    this.queue.push({ at: this.now + ms, fn, id: this.id });
    return this.id;
  }

  clear(handle: unknown): void {
    this.queue = this.queue.filter((t) => t.id !== handle);
  }

  advance(ms: number): void {
    this.now += ms;
    const due = this.queue.filter((t) => t.at <= this.now);
    this.queue = this.queue.filter((t) => t.at > this.now);
    due.forEach((t) => t.fn());
  }

  get pending(): number {
    return this.queue.length;
  }
}

describe('Debouncer', () => {
  test('runs only the last call, after the quiet time', () => {
    const clock = new FakeTimers();
    const d = new Debouncer(150, clock);
    const ran: string[] = [];
    d.call(() => ran.push('r'));
    clock.advance(100);
    d.call(() => ran.push('ro'));
    clock.advance(100);
    d.call(() => ran.push('row'));
    clock.advance(149);
    assert.deepEqual(ran, []);
    clock.advance(1);
    assert.deepEqual(ran, ['row']);
    assert.equal(clock.pending, 0);
  });

  test('flush runs the pending call now, once; cancel drops it', () => {
    const clock = new FakeTimers();
    const d = new Debouncer(150, clock);
    const ran: string[] = [];
    d.call(() => ran.push('a'));
    d.flush();
    assert.deepEqual(ran, ['a']);
    clock.advance(500);
    assert.deepEqual(ran, ['a']);
    d.flush();
    assert.deepEqual(ran, ['a']);
    d.call(() => ran.push('b'));
    d.cancel();
    clock.advance(500);
    assert.deepEqual(ran, ['a']);
  });

  test('with the sequencer, a slow older answer never replaces a newer one', async () => {
    const clock = new FakeTimers();
    const d = new Debouncer(150, clock);
    const seq = new Sequencer();
    let shown = '';
    const answers: { resolve: (v: string) => void }[] = [];
    const search = (q: string): void => {
      const n = seq.next();
      void new Promise<string>((resolve) => answers.push({ resolve })).then((v) => {
        if (seq.isCurrent(n)) {
          shown = v;
        }
      });
      void q;
    };
    d.call(() => search('ro'));
    clock.advance(150);
    d.call(() => search('rows'));
    clock.advance(150);
    answers[1].resolve('rows');
    await Promise.resolve();
    answers[0].resolve('ro');
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(shown, 'rows');
  });
});
