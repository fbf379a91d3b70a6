// The LLM actions' pure parts (no VS Code): request ids, the stream of one request
// (`warden/llmChunk` pieces appended in order, then the final result, a failure or a
// cancellation) and the Markdown the explanation panel shows, the one-line summary of a
// result, what to say about an outcome and whether to offer *Retry* (the same request
// with `noCache: true`, so the server asks the model instead of its response cache),
// which diagnostic is "under the cursor", whole-line ranges, and the formatting of usage
// totals for the status bar and the Workspaces view. Unit-tested on its own.

import {
  CMD_LLM_DOCSTRING,
  CMD_LLM_EXPLAIN,
  CMD_LLM_FIX,
  CMD_LLM_REWRITE,
  CMD_LLM_TESTS,
  type LlmArgs,
  type LlmCommand,
  type LlmResult,
  type Position,
  type Range,
  type UsageRow,
} from './lsp_ext.ts';
import { formatCount } from './traceModel.ts';

export type LlmAction = 'explain' | 'fix' | 'rewrite' | 'docstring' | 'tests';

export const ACTION_OF: Readonly<Record<LlmCommand, LlmAction>> = {
  [CMD_LLM_EXPLAIN]: 'explain',
  [CMD_LLM_FIX]: 'fix',
  [CMD_LLM_REWRITE]: 'rewrite',
  [CMD_LLM_DOCSTRING]: 'docstring',
  [CMD_LLM_TESTS]: 'tests',
};

/** JSON-RPC code of a request the server cancelled (`RequestCancelled`). */
export const REQUEST_CANCELLED = -32800;

let counter = 0;

/** A request id unique to this extension host: `vscode-<time>-<n>-<random>`. */
export function newRequestId(now: number = Date.now(), random: () => number = Math.random): string {
  counter += 1;
  const tail = Math.floor(random() * 0x100000000)
    .toString(16)
    .padStart(8, '0');
  return `vscode-${now.toString(36)}-${counter}-${tail}`;
}

export type StreamState = 'waiting' | 'streaming' | 'done' | 'cancelled' | 'failed';

/**
 * One LLM request as the client sees it: the reply so far, then how it ended. Chunks
 * after the end (a late notification) are ignored; the final result's text replaces the
 * streamed text (they are the same unless a chunk was lost).
 */
export class LlmStream {
  readonly requestId: string;
  readonly action: LlmAction;
  /** What the request is about, e.g. `3.00_upload.py, line 4`. */
  readonly subject: string;
  readonly startedAt: number;
  text = '';
  chunks = 0;
  state: StreamState = 'waiting';
  result: LlmResult | undefined;
  error: string | undefined;
  finishedAt: number | undefined;
  /** Asked the server to cancel; the answer is on its way. */
  cancelling = false;

  constructor(requestId: string, action: LlmAction, subject: string, startedAt: number = Date.now()) {
    this.requestId = requestId;
    this.action = action;
    this.subject = subject;
    this.startedAt = startedAt;
  }

  get running(): boolean {
    return this.state === 'waiting' || this.state === 'streaming';
  }

  /** Appends a piece of the reply; false when the stream already ended. */
  append(text: string): boolean {
    if (!this.running || typeof text !== 'string') {
      return false;
    }
    this.text += text;
    this.chunks += 1;
    this.state = 'streaming';
    return true;
  }

  finish(result: LlmResult, now: number = Date.now()): void {
    if (!this.running) {
      return;
    }
    this.result = result;
    this.text = typeof result.text === 'string' ? result.text : this.text;
    this.state = 'done';
    this.finishedAt = now;
  }

  fail(message: string, now: number = Date.now()): void {
    if (!this.running) {
      return;
    }
    this.error = message;
    this.state = 'failed';
    this.finishedAt = now;
  }

  cancel(now: number = Date.now()): void {
    if (!this.running) {
      return;
    }
    this.state = 'cancelled';
    this.finishedAt = now;
  }

  elapsedMs(now: number = Date.now()): number {
    return (this.finishedAt ?? now) - this.startedAt;
  }

  /** The status line under the reply. */
  status(now: number = Date.now()): string {
    switch (this.state) {
      case 'waiting':
        return this.cancelling ? 'cancelling…' : 'waiting for the model… (closing this tab cancels)';
      case 'streaming':
        return this.cancelling
          ? 'cancelling…'
          : `streaming… ${this.chunks} ${this.chunks === 1 ? 'chunk' : 'chunks'} (closing this tab cancels)`;
      case 'done':
        return this.result ? summary(this.result, this.elapsedMs(now)) : 'done';
      case 'cancelled':
        return `cancelled after ${Math.round(this.elapsedMs(now))} ms`;
      case 'failed':
        return `failed: ${this.error ?? 'unknown error'}`;
    }
  }
}

/** `local/gpt-4o-mini · 120→40 tokens · $0.000012 · response cache hit · 850 ms`. */
export function summary(result: LlmResult, elapsedMs?: number): string {
  const t = result.tokens ?? { input: 0, output: 0, cached: 0, reasoning: 0 };
  const parts = [
    `${result.provider || '?'}/${result.model || '?'}`,
    `${t.input}→${t.output} tokens`,
    formatUsd(result.costUsd ?? 0),
  ];
  if (t.cached > 0) {
    parts.push(`${t.cached} cached`);
  }
  if (result.cached) {
    parts.push('response cache hit');
  }
  if (elapsedMs !== undefined && Number.isFinite(elapsedMs)) {
    parts.push(`${Math.round(elapsedMs)} ms`);
  }
  return parts.join(' · ');
}

/** Dollars: `$0`, `$0.000012`, `$0.0345`, `$1.25`. Small amounts keep six decimals. */
export function formatUsd(usd: number): string {
  if (!Number.isFinite(usd) || usd <= 0) {
    return '$0';
  }
  if (usd < 0.0000005) {
    return '<$0.000001';
  }
  if (usd < 0.01) {
    return `$${usd.toFixed(6).replace(/0+$/, '')}`;
  }
  if (usd < 1) {
    return `$${usd.toFixed(4).replace(/0+$/, '').replace(/\.$/, '')}`;
  }
  return `$${usd.toFixed(2)}`;
}

/** The notification button that runs the same action again with `noCache: true`. */
export const RETRY = 'Retry';

/** What to say about an outcome, and whether its notification offers *Retry*. */
export interface Outcome {
  level: 'info' | 'warning' | 'error';
  text: string;
  /** Offer *Retry*: nothing usable came back, or the reply was a cache replay. */
  retry: boolean;
}

/**
 * What to say about an edit action's result: a warning with *Retry* when nothing was
 * applied or the user was warned; an information with *Retry* when the applied reply
 * came from the response cache (another answer needs `noCache`); else an information
 * without (the status bar).
 */
export function editOutcome(action: LlmAction, result: LlmResult, elapsedMs?: number): Outcome {
  if (result.applied === false) {
    return {
      level: 'warning',
      text: `warden: ${action}: nothing applied: ${result.message ?? 'the editor refused the edit'}`,
      retry: true,
    };
  }
  const text = `warden: ${action} applied (${summary(result, elapsedMs)}); Undo reverts it`;
  if (result.message) {
    return { level: 'warning', text: `${text}. ${result.message}`, retry: true };
  }
  return { level: 'info', text, retry: result.cached === true };
}

/** What to say when an action failed on the server (no code block, HTTP error, ...). */
export function failureOutcome(action: LlmAction, message: string): Outcome {
  return { level: 'error', text: `warden: ${action} failed: ${message}`, retry: true };
}

/**
 * The arguments of a retry: the same request (target, instruction, diagnostic) with a
 * new request id (the runner picks one) and the response cache bypassed.
 */
export function retryArgs(args: LlmArgs): LlmArgs {
  const again: LlmArgs = { ...args, noCache: true };
  delete again.requestId;
  return again;
}

// ---- Targets ---------------------------------------------------------------------------

interface DiagnosticLike {
  range: Range;
  /** Lower is more severe (LSP and VS Code agree on the order). */
  severity?: number;
}

function before(a: Position, b: Position): boolean {
  return a.line < b.line || (a.line === b.line && a.character <= b.character);
}

/**
 * The diagnostic under the cursor, from any source: the most severe one whose range holds
 * the cursor, else the most severe starting on the cursor's line, else one spanning it.
 */
export function diagnosticAt<D extends DiagnosticLike>(diagnostics: readonly D[], cursor: Position): D | undefined {
  const order = [...diagnostics].sort(
    (a, b) =>
      (a.severity ?? 9) - (b.severity ?? 9) ||
      a.range.start.line - b.range.start.line ||
      a.range.start.character - b.range.start.character,
  );
  return (
    order.find((d) => before(d.range.start, cursor) && before(cursor, d.range.end)) ??
    order.find((d) => d.range.start.line === cursor.line) ??
    order.find((d) => d.range.start.line <= cursor.line && cursor.line <= d.range.end.line)
  );
}

/**
 * Whole lines of a selection (a selection ending at column 0 of a later line leaves that
 * line out); an empty selection is the cursor's line.
 */
export function wholeLines(selection: Range): Range {
  const first = Math.min(selection.start.line, selection.end.line);
  let last = Math.max(selection.start.line, selection.end.line);
  const end = before(selection.start, selection.end) ? selection.end : selection.start;
  if (last > first && end.character === 0) {
    last -= 1;
  }
  return { start: { line: first, character: 0 }, end: { line: last + 1, character: 0 } };
}

/** `line 4` or `lines 4–9` (1-based) of a whole-line range. */
export function linesLabel(range: Range): string {
  const first = range.start.line + 1;
  const last = Math.max(range.end.character === 0 ? range.end.line : range.end.line + 1, first);
  return first === last ? `line ${first}` : `lines ${first}–${last}`;
}

// ---- Usage -----------------------------------------------------------------------------

/** Local midnight of `now`, as the RFC 3339 time `warden/usage` takes for `since`. */
export function startOfToday(now: Date = new Date()): string {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate()).toISOString();
}

/** `1.2k tok · $0.0012` for the status bar; '' without requests. */
export function usageBrief(row: UsageRow | undefined): string {
  if (!row || row.requests === 0) {
    return '';
  }
  return `${formatCount(row.tokensInput + row.tokensOutput)} tok · ${formatUsd(row.costUsd)}`;
}

/** Today's usage for a screen reader: `1234 tokens, 0.0012 US dollars` (no icons, no `k`). */
export function usageSpoken(row: UsageRow | undefined): string {
  if (!row || row.requests === 0) {
    return 'none';
  }
  return `${row.tokensInput + row.tokensOutput} tokens, ${formatUsd(row.costUsd).replace(/^\$/, '')} US dollars`;
}

/** `3 requests · 1.2k tokens · $0.0012 · cache 33%` for the Workspaces view. */
export function usageLine(row: UsageRow | undefined): string {
  if (!row || row.requests === 0) {
    return 'no LLM requests yet';
  }
  const parts = [
    `${row.requests} ${row.requests === 1 ? 'request' : 'requests'}`,
    `${formatCount(row.tokensInput + row.tokensOutput)} tokens`,
    formatUsd(row.costUsd),
    `cache ${Math.round((row.cacheHitRate ?? 0) * 100)}%`,
  ];
  if (row.errors > 0) {
    parts.push(`${row.errors} failed`);
  }
  return parts.join(' · ');
}

/** The breakdown, one fact per line, for tooltips. */
export function usageDetails(row: UsageRow | undefined): string[] {
  if (!row || row.requests === 0) {
    return ['No LLM requests.'];
  }
  return [
    `Requests: ${row.requests} (${row.cacheHits} from the response cache, ${row.errors} failed)`,
    `Tokens: ${row.tokensInput} input (${row.tokensCached} cached), ${row.tokensOutput} output${
      row.tokensReasoning ? ` (${row.tokensReasoning} reasoning)` : ''
    }`,
    `Cost: ${formatUsd(row.costUsd)}`,
  ];
}
