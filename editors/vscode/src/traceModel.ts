// The trace viewer's model, pure (no VS Code, no DOM): a span store that takes pages of
// `warden/traces` and live `warden/traceStarted`/`warden/traceFinished` notifications
// in any order, the tree by parent, timing bars scaled to the root span, and the
// formatting of latency, tokens, cache-hit rate and cost, and the short notes on LLM
// spans (a response cache hit) and guard spans (their verdict); which `llm` spans are
// calls through the LLM gateway (and from which client, its User-Agent) as opposed to
// warden's own actions, and the viewer's filter by caller; the badge of a fix-until-green
// round (`fix.round`: its number and outcome). Used by the webview script and
// unit-tested on its own.

import type {
  Span,
  SpanKind,
  TraceFinishedParams,
  TraceStartedParams,
  Tokens,
} from './lsp_ext.ts';

export interface TraceFilter {
  workspace?: string;
  kind?: SpanKind;
  /**
   * Whose spans: `warden`'s own actions (commands, scans, runs and their LLM calls) or the
   * `gateway`'s calls. The viewer's own filter, applied to whole trees; never sent to
   * the server.
   */
  origin?: Origin;
  /** Only the gateway calls of this client (User-Agent); implies `origin: "gateway"`. */
  client?: string;
}

export type Origin = 'warden' | 'gateway';

/** The gateway call an `llm` span records (`input.gateway: true`). */
export interface GatewayCallInfo {
  /** The caller's User-Agent ('' when it sent none). */
  client: string;
  /** `openai.chat`, `openai.responses` or `anthropic.messages`. */
  api: string;
}

export interface SpanNode {
  span: Span;
  children: SpanNode[];
  /** The parent exists but is not loaded (an older page, or another filter). */
  orphan: boolean;
}

export interface Bar {
  /** Start, as a fraction of the root's extent (0..1). */
  offset: number;
  /** Length, as a fraction of the root's extent (0..1); at least `MIN_BAR`. */
  width: number;
}

export const MIN_BAR = 0.005;

export type LatencyClass = 'running' | 'fast' | 'medium' | 'slow' | 'very-slow';

/** Latency thresholds in ms: below the first is fast, then medium, then slow. */
export const LATENCY_THRESHOLDS = [100, 1000, 10000] as const;

const ZERO_TOKENS: Tokens = { input: 0, output: 0, cached: 0, reasoning: 0 };

/**
 * Spans by id. A `finished` that arrives before its `started` (or before the page
 * holding the span) is kept and applied when the span shows up.
 */
export class SpanStore {
  readonly spans = new Map<string, Span>();
  private readonly pendingEnds = new Map<string, TraceFinishedParams>();

  /** Adds a page from `warden/traces`; a span already known keeps its newer fields. */
  addPage(spans: readonly Span[]): void {
    for (const s of spans) {
      const known = this.spans.get(s.id);
      if (known && known.finishedAt && !s.finishedAt) {
        continue; // the live copy already finished; the page is older
      }
      this.put({ ...s });
    }
  }

  started(p: TraceStartedParams): Span {
    const known = this.spans.get(p.id);
    if (known) {
      return known;
    }
    const span: Span = {
      ...p,
      tokens: p.tokens ?? { ...ZERO_TOKENS },
      output: null,
      finishedAt: null,
      latencyMs: null,
      outcome: null,
      error: null,
      costUsd: 0,
    };
    this.put(span);
    return this.spans.get(p.id) ?? span;
  }

  /** Applies end fields; returns the span, or undefined when it is not loaded yet. */
  finished(end: TraceFinishedParams): Span | undefined {
    const span = this.spans.get(end.id);
    if (!span) {
      this.pendingEnds.set(end.id, end);
      // Bounded: ends of spans that never show up (filtered out) must not pile up.
      if (this.pendingEnds.size > 1000) {
        const oldest = this.pendingEnds.keys().next().value;
        if (oldest !== undefined) {
          this.pendingEnds.delete(oldest);
        }
      }
      return undefined;
    }
    applyEnd(span, end);
    return span;
  }

  clear(): void {
    this.spans.clear();
    this.pendingEnds.clear();
  }

  private put(span: Span): void {
    const end = this.pendingEnds.get(span.id);
    if (end) {
      this.pendingEnds.delete(span.id);
      applyEnd(span, end);
    }
    this.spans.set(span.id, span);
  }
}

function applyEnd(span: Span, end: TraceFinishedParams): void {
  span.finishedAt = end.finishedAt;
  span.latencyMs = end.latencyMs;
  span.outcome = end.outcome;
  span.error = end.error;
  span.output = end.output;
  span.tokens = end.tokens ?? span.tokens;
  span.costUsd = end.costUsd ?? span.costUsd;
}

export function matchesFilter(
  span: Pick<Span, 'workspace' | 'kind'>,
  filter: TraceFilter,
): boolean {
  return (
    (filter.workspace === undefined || span.workspace === filter.workspace) &&
    (filter.kind === undefined || span.kind === filter.kind)
  );
}

/** The part of a filter `warden/traces` takes. */
export function serverFilter(filter: TraceFilter): { workspace?: string; kind?: SpanKind } {
  const out: { workspace?: string; kind?: SpanKind } = {};
  if (filter.workspace !== undefined) {
    out.workspace = filter.workspace;
  }
  if (filter.kind !== undefined) {
    out.kind = filter.kind;
  }
  return out;
}

/** The client and API of a gateway call's `llm` span; undefined for any other span. */
export function gatewayCall(span: Pick<Span, 'kind' | 'input'>): GatewayCallInfo | undefined {
  const input = span.input;
  if (span.kind !== 'llm' || typeof input !== 'object' || input === null || (input as { gateway?: unknown }).gateway !== true) {
    return undefined;
  }
  const { client, api } = input as { client?: unknown; api?: unknown };
  return { client: typeof client === 'string' ? client : '', api: typeof api === 'string' ? api : '' };
}

/** The gateway call a tree belongs to: its root's, else the first in it. */
export function treeCall(root: SpanNode): GatewayCallInfo | undefined {
  for (const { node } of flatten(root)) {
    const call = gatewayCall(node.span);
    if (call) {
      return call;
    }
  }
  return undefined;
}

/**
 * Whether a tree passes the caller part of the filter: with `client`, the gateway calls
 * of that client; with `origin`, gateway calls or everything else (warden's own).
 */
export function matchesCaller(root: SpanNode, filter: TraceFilter): boolean {
  if (filter.client === undefined && filter.origin === undefined) {
    return true;
  }
  const call = treeCall(root);
  if (filter.client !== undefined) {
    return call !== undefined && call.client === filter.client;
  }
  return filter.origin === 'gateway' ? call !== undefined : call === undefined;
}

/** The gateway clients among `spans`, sorted. */
export function clientsSeen(spans: Iterable<Span>): string[] {
  const out = new Set<string>();
  for (const span of spans) {
    const call = gatewayCall(span);
    if (call) {
      out.add(call.client);
    }
  }
  return [...out].sort();
}

/** The caller `<select>`'s value for a filter: '', `origin:warden`, `origin:gateway`, `client:<UA>`. */
export function callerValue(filter: TraceFilter): string {
  if (filter.client !== undefined) {
    return `client:${filter.client}`;
  }
  return filter.origin ? `origin:${filter.origin}` : '';
}

/** `filter` with the caller the `<select>`'s value names. */
export function withCaller(filter: TraceFilter, value: string): TraceFilter {
  const rest: TraceFilter = { ...filter };
  delete rest.origin;
  delete rest.client;
  if (value.startsWith('client:')) {
    return { ...rest, origin: 'gateway', client: value.slice('client:'.length) };
  }
  if (value === 'origin:warden' || value === 'origin:gateway') {
    return { ...rest, origin: value.slice('origin:'.length) as Origin };
  }
  return rest;
}

/** A User-Agent short enough for a row (the whole one goes in the tooltip). */
export function clientLabel(client: string, max = 40): string {
  if (!client) {
    return 'unknown client';
  }
  return client.length > max ? `${client.slice(0, max - 1)}…` : client;
}

function startMs(span: Span): number {
  const t = Date.parse(span.startedAt);
  return Number.isNaN(t) ? 0 : t;
}

/** When the span ended, or `now` while it runs. */
export function endMs(span: Span, now: number): number {
  if (span.finishedAt) {
    const t = Date.parse(span.finishedAt);
    if (!Number.isNaN(t)) {
      return t;
    }
  }
  if (span.latencyMs !== null) {
    return startMs(span) + span.latencyMs;
  }
  return Math.max(now, startMs(span));
}

function byStart(a: SpanNode, b: SpanNode): number {
  return startMs(a.span) - startMs(b.span) || (a.span.id < b.span.id ? -1 : 1);
}

/**
 * The forest by parent: roots newest first, children oldest first. A span whose parent is
 * not among `spans` is a root marked `orphan`; a parent cycle (never sent by the server,
 * but cheap to survive) is broken at the span seen first.
 */
export function buildTree(spans: Iterable<Span>): SpanNode[] {
  const nodes = new Map<string, SpanNode>();
  for (const span of spans) {
    nodes.set(span.id, { span, children: [], orphan: false });
  }
  const roots: SpanNode[] = [];
  for (const node of nodes.values()) {
    const parentId = node.span.parentId;
    const parent = parentId ? nodes.get(parentId) : undefined;
    if (!parentId) {
      roots.push(node);
    } else if (!parent || createsCycle(nodes, node.span.id, parentId)) {
      node.orphan = true;
      roots.push(node);
    } else {
      parent.children.push(node);
    }
  }
  const sortChildren = (n: SpanNode): void => {
    n.children.sort(byStart);
    n.children.forEach(sortChildren);
  };
  roots.forEach(sortChildren);
  roots.sort((a, b) => -byStart(a, b));
  return roots;
}

function createsCycle(nodes: Map<string, SpanNode>, id: string, parentId: string): boolean {
  const seen = new Set<string>([id]);
  let current: string | null = parentId;
  while (current) {
    if (seen.has(current)) {
      return true;
    }
    seen.add(current);
    current = nodes.get(current)?.span.parentId ?? null;
  }
  return false;
}

/** Every node of a tree, depth first, with its depth. */
export function flatten(root: SpanNode): { node: SpanNode; depth: number }[] {
  const out: { node: SpanNode; depth: number }[] = [];
  const walk = (node: SpanNode, depth: number): void => {
    out.push({ node, depth });
    node.children.forEach((c) => walk(c, depth + 1));
  };
  walk(root, 0);
  return out;
}

/** The root's time window: its start, and the latest end in its subtree. */
export function extent(root: SpanNode, now: number): { start: number; end: number } {
  const start = startMs(root.span);
  let end = endMs(root.span, now);
  for (const { node } of flatten(root)) {
    end = Math.max(end, endMs(node.span, now));
  }
  return { start, end };
}

/** A span's bar inside its root's window. */
export function bar(span: Span, window: { start: number; end: number }, now: number): Bar {
  const total = Math.max(window.end - window.start, 1);
  const offset = clamp((startMs(span) - window.start) / total, 0, 1 - MIN_BAR);
  const width = clamp((endMs(span, now) - startMs(span)) / total, MIN_BAR, 1 - offset);
  return { offset, width };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo), hi);
}

export function latencyClass(span: Pick<Span, 'finishedAt' | 'latencyMs'>): LatencyClass {
  if (!span.finishedAt || span.latencyMs === null) {
    return 'running';
  }
  const [fast, medium, slow] = LATENCY_THRESHOLDS;
  if (span.latencyMs < fast) {
    return 'fast';
  }
  if (span.latencyMs < medium) {
    return 'medium';
  }
  return span.latencyMs < slow ? 'slow' : 'very-slow';
}

/** `850 ms`, `1.25 s`, `12.3 s`, `2 min 05 s`, `1 h 02 min`. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 10_000) {
    return `${(ms / 1000).toFixed(2)} s`;
  }
  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 3600) {
    const m = Math.floor(totalSeconds / 60);
    const s = totalSeconds % 60;
    return `${m} min ${String(s).padStart(2, '0')} s`;
  }
  const totalMinutes = Math.round(totalSeconds / 60);
  return `${Math.floor(totalMinutes / 60)} h ${String(totalMinutes % 60).padStart(2, '0')} min`;
}

/** `950`, `1.2k`, `12k`, `3.4M`. */
export function formatCount(n: number): string {
  if (n < 1000) {
    return String(n);
  }
  if (n < 10_000) {
    return `${(n / 1000).toFixed(1).replace(/\.0$/, '')}k`;
  }
  if (n < 1_000_000) {
    return `${Math.round(n / 1000)}k`;
  }
  return `${(n / 1_000_000).toFixed(1).replace(/\.0$/, '')}M`;
}

/** Cached input tokens over input tokens, or null without input tokens. */
export function cacheHitRate(tokens: Tokens): number | null {
  if (!tokens || tokens.input <= 0) {
    return null;
  }
  return Math.min(tokens.cached / tokens.input, 1);
}

/** `in 1.2k · out 300 · reasoning 40 · cache 67%`, or '' when every count is zero. */
export function formatTokens(tokens: Tokens): string {
  if (!tokens || (tokens.input === 0 && tokens.output === 0 && tokens.reasoning === 0)) {
    return '';
  }
  const parts = [`in ${formatCount(tokens.input)}`, `out ${formatCount(tokens.output)}`];
  if (tokens.reasoning > 0) {
    parts.push(`reasoning ${formatCount(tokens.reasoning)}`);
  }
  const rate = cacheHitRate(tokens);
  if (rate !== null) {
    parts.push(`cache ${Math.round(rate * 100)}%`);
  }
  return parts.join(' · ');
}

/**
 * `$0.000085`, `$0.0012`, `$0.35`, `$12.40`; '' for zero. Never more than six decimals
 * (floating-point sums such as 0.00008449999999999999 print as `$0.000084`).
 */
export function formatCost(usd: number): string {
  if (!usd || usd <= 0 || !Number.isFinite(usd)) {
    return '';
  }
  if (usd < 0.0000005) {
    return '< $0.000001';
  }
  if (usd < 0.01) {
    return `$${usd.toFixed(6).replace(/0+$/, '')}`;
  }
  if (usd < 1) {
    return `$${usd.toFixed(4).replace(/0+$/, '').replace(/\.$/, '')}`;
  }
  return `$${usd.toFixed(2)}`;
}

/** `1 span`, `2 spans`: a count and its noun, singular for one. */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}

function hasUsage(span: Span): boolean {
  const t = span.tokens ?? ZERO_TOKENS;
  return t.input + t.output + t.cached + t.reasoning > 0 || (span.costUsd || 0) > 0;
}

/**
 * Tokens and cost of a subtree (what an LLM-heavy command cost in all), each call counted
 * once. The server rolls an action's calls up into its command span (the `llm` span and
 * its `warden.llm.*` parent carry the same tokens), so a span that carries usage stands
 * for its whole subtree; only a span without any adds up its children.
 */
export function subtreeTotals(root: SpanNode): { tokens: Tokens; costUsd: number } {
  const span = root.span;
  if (hasUsage(span)) {
    return { tokens: { ...ZERO_TOKENS, ...span.tokens }, costUsd: span.costUsd || 0 };
  }
  const tokens = { ...ZERO_TOKENS };
  let costUsd = 0;
  for (const child of root.children) {
    const t = subtreeTotals(child);
    tokens.input += t.tokens.input;
    tokens.output += t.tokens.output;
    tokens.cached += t.tokens.cached;
    tokens.reasoning += t.tokens.reasoning;
    costUsd += t.costUsd;
  }
  return { tokens, costUsd };
}

/**
 * A short note on a span's output: `response cache hit` for an `llm` span answered from
 * the response cache; a `guard` span's verdict (`allowed`, `secretsRedacted 2`,
 * `malicious 0`, or `refused` when it stopped the request); a `run` span's status (with
 * the exit code unless it succeeded, and `truncated`); '' otherwise.
 */
export function outputNote(span: Pick<Span, 'kind' | 'output' | 'outcome'>): string {
  const out = span.output;
  const fields = typeof out === 'object' && out !== null && !Array.isArray(out) ? (out as Record<string, unknown>) : {};
  const notes: string[] = [];
  if (span.kind === 'llm' && fields.cached === true) {
    notes.push('response cache hit');
  }
  if (span.kind === 'run' && typeof fields.status === 'string') {
    const exit = typeof fields.exitCode === 'number' && fields.status !== 'succeeded' ? `, exit ${fields.exitCode}` : '';
    notes.push(`${fields.status}${exit}`);
    if (fields.truncated === true) {
      notes.push('truncated');
    }
  }
  if (span.kind === 'guard') {
    if (span.outcome === 'error') {
      notes.push('refused');
    }
    for (const key of Object.keys(fields).sort()) {
      const v = fields[key];
      if (v === true) {
        notes.push(key);
      } else if (typeof v === 'number' || typeof v === 'string') {
        notes.push(`${key} ${v}`);
      }
    }
  }
  const text = notes.join(', ');
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

/** A `fix.round` span's badge: its round and outcome, as the trace viewers show it. */
export interface FixRoundBadge {
  /** `round 2 · failing`, `round 1 · green · cached`, `round 3 …` while it runs. */
  text: string;
  /** The outcome (`green`, `failing`, `noFix`, `refused`, `error`, `cancelled`), or `running`. */
  outcome: string;
}

/** The badge of a fix-until-green round (`command` span `fix.round`); undefined for others. */
export function fixRoundBadge(span: Pick<Span, 'kind' | 'name' | 'input' | 'output' | 'finishedAt'>): FixRoundBadge | undefined {
  if (span.kind !== 'command' || span.name !== 'fix.round') {
    return undefined;
  }
  const input = typeof span.input === 'object' && span.input !== null ? (span.input as Record<string, unknown>) : {};
  const output = typeof span.output === 'object' && span.output !== null && !Array.isArray(span.output) ? (span.output as Record<string, unknown>) : {};
  const round = typeof input.round === 'number' ? `round ${input.round}` : 'round';
  if (!span.finishedAt) {
    return { text: `${round} …`, outcome: 'running' };
  }
  const outcome = typeof output.outcome === 'string' ? output.outcome : 'ended';
  const parts = [round, outcome];
  if (output.cached === true) {
    parts.push('cached');
  }
  return { text: parts.join(' · '), outcome };
}

/** Pretty JSON for the expandable input/output, cut after `max` characters. */
export function formatJson(value: unknown, max = 20_000): string {
  if (value === undefined || value === null) {
    return '';
  }
  let text: string;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  } catch {
    text = String(value);
  }
  if (text.length > max) {
    return `${text.slice(0, max)}\n… (${text.length - max} more characters)`;
  }
  return text;
}

/** `14:03:07.120` in local time, for the start column. */
export function formatClock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    return iso;
  }
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
