// The model of *Warden: Search Workspace* (search.ts): what the user typed as
// `warden/search` params, the server's matching lines as quick pick rows, the title that
// says how the search went, and the two pieces of timing logic (a debounce and request
// sequencing, so an older answer never replaces a newer one). Pure: no VS Code, so the
// unit tests run it as it is.

import type { Range, SearchMatch, SearchParams, SearchResult } from './lsp_ext.ts';

/** Matching lines asked for per search (the server's default; at most 5000). */
export const SEARCH_LIMIT = 200;
/** Context lines before and after each match. */
export const SEARCH_CONTEXT = 1;
/** Milliseconds between the last keystroke and the request. */
export const SEARCH_DEBOUNCE_MS = 150;
/** Longer lines are cut in the label (the editor preview shows them whole). */
export const LABEL_MAX = 240;

/** What the quick pick's input asks for. */
export interface ParsedQuery {
  query: string;
  regex: boolean;
  glob?: string;
}

/**
 * Reads the input: optional leading `glob=PATTERN` words (the last one wins), then the
 * query; `/EXPR/` is a regular expression whatever the toggle says, else `regexToggle`
 * decides. Undefined when there is nothing to search for.
 */
export function parseQuery(value: string, regexToggle: boolean): ParsedQuery | undefined {
  let rest = value.trimStart();
  let glob: string | undefined;
  for (;;) {
    const m = /^glob=(\S+)(\s+|$)/.exec(rest);
    if (!m) {
      break;
    }
    glob = m[1];
    rest = rest.slice(m[0].length);
  }
  const slashed = /^\/(.+)\/$/.exec(rest.trimEnd());
  if (slashed) {
    return { query: slashed[1], regex: true, ...(glob ? { glob } : {}) };
  }
  if (rest.trim() === '') {
    return undefined;
  }
  // A literal keeps its inner and trailing spaces ("foo " is not "foo"), not the leading
  // ones the glob words were separated by.
  return { query: rest, regex: regexToggle, ...(glob ? { glob } : {}) };
}

/** The request for a parsed query. */
export function searchParams(q: ParsedQuery, workspace?: string): SearchParams {
  return {
    query: q.query,
    ...(q.regex ? { regex: true } : {}),
    ...(q.glob ? { glob: q.glob } : {}),
    ...(workspace ? { workspace } : {}),
    limit: SEARCH_LIMIT,
    context: SEARCH_CONTEXT,
  };
}

/** One row of the quick pick: a matching line. */
export interface SearchRow {
  /** The line without its indentation (cut at LABEL_MAX). */
  label: string;
  /** `path:line` (1-based), with the workspace when the results span several. */
  description: string;
  /** The context lines, trimmed, or undefined when they are all blank. */
  detail?: string;
  uri: string;
  /** The first match: the editor selects it. */
  range: Range;
  /** Every match, as [start, end) offsets into `label` (for a highlighting UI). */
  highlights: [number, number][];
}

/** `path:line` of a match (1-based line). */
export function location(m: SearchMatch): string {
  return `${m.path}:${m.range.start.line + 1}`;
}

/** The quick pick rows of a result, in the server's order (best files first). */
export function rows(result: SearchResult): SearchRow[] {
  const workspaces = new Set(result.results.map((m) => m.workspace));
  return result.results.map((m) => row(m, workspaces.size > 1));
}

export function row(m: SearchMatch, showWorkspace: boolean): SearchRow {
  const indent = m.text.length - m.text.trimStart().length;
  let label = m.text.slice(indent).trimEnd();
  if (label.length > LABEL_MAX) {
    label = `${label.slice(0, LABEL_MAX - 1)}…`;
  }
  const highlights: [number, number][] = [];
  for (const r of m.ranges.length ? m.ranges : [m.range]) {
    if (r.start.line !== m.range.start.line) {
      continue;
    }
    const start = Math.max(0, r.start.character - indent);
    const end = Math.min(label.length, (r.end.line === r.start.line ? r.end.character : m.text.length) - indent);
    if (end > start) {
      highlights.push([start, end]);
    }
  }
  const context = [...m.before, ...m.after].map((l) => l.trim()).filter((l) => l !== '');
  return {
    label: label === '' ? '(blank line)' : label,
    description: showWorkspace ? `${m.workspace} · ${location(m)}` : location(m),
    ...(context.length ? { detail: context.join('  ⏎  ') } : {}),
    uri: m.uri,
    range: m.range,
    highlights,
  };
}

/** How many distinct files the matches are in. */
export function fileCount(result: SearchResult): number {
  return new Set(result.results.map((m) => m.uri)).size;
}

/** The quick pick's title after an answer. */
export function resultTitle(result: SearchResult, q: ParsedQuery): string {
  const n = result.results.length;
  const files = fileCount(result);
  const what =
    n === 0
      ? `no matches in ${result.filesSearched} file${result.filesSearched === 1 ? '' : 's'}`
      : result.truncated
        ? `first ${n} matching lines (more not shown), ${files} file${files === 1 ? '' : 's'}`
        : `${n} matching line${n === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}`;
  const mode = [q.regex ? 'regex' : '', q.glob ? `glob ${q.glob}` : ''].filter(Boolean).join(', ');
  return `Search Workspace: ${what}${mode ? ` (${mode})` : ''} · ${Math.round(result.elapsedMs)} ms`;
}

/**
 * A server error (an invalid expression or glob, `InvalidParams`) as one line: the
 * parser's message spans lines with a caret under the pattern; keep its first and last.
 */
export function errorText(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^\^+$/.test(l));
  if (lines.length <= 1) {
    return lines[0] ?? 'the search failed';
  }
  return `${lines[0]} ${lines[lines.length - 1]}`;
}

/**
 * Numbers the searches: an answer is shown only when it belongs to the latest one, so a
 * slow older search never overwrites a newer one.
 */
export class Sequencer {
  private last = 0;

  /** A new search; the ones before it are stale from now on. */
  next(): number {
    this.last += 1;
    return this.last;
  }

  /** Makes every search so far stale (the input was cleared). */
  invalidate(): void {
    this.last += 1;
  }

  isCurrent(n: number): boolean {
    return n === this.last;
  }
}

/** Timers, injectable so the tests drive the clock. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Runs the last function given, `ms` after the last call; `flush` runs it now. */
export class Debouncer {
  private handle: unknown;
  private pending: (() => void) | undefined;
  private readonly ms: number;
  private readonly timers: Timers;

  constructor(ms: number, timers: Timers = realTimers) {
    this.ms = ms;
    this.timers = timers;
  }

  call(fn: () => void): void {
    this.cancel();
    this.pending = fn;
    this.handle = this.timers.set(() => {
      const run = this.pending;
      this.pending = undefined;
      this.handle = undefined;
      run?.();
    }, this.ms);
  }

  /** Runs the pending function at once (a toggle changed: no reason to wait). */
  flush(): void {
    const run = this.pending;
    this.cancel();
    run?.();
  }

  cancel(): void {
    if (this.handle !== undefined) {
      this.timers.clear(this.handle);
    }
    this.handle = undefined;
    this.pending = undefined;
  }
}
