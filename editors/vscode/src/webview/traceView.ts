// The trace viewer's webview script (bundled for the browser by esbuild): keeps the spans
// it is sent, draws them as trees by parent with timing bars scaled to each root span and
// coloured by latency, tokens, cache-hit rate and cost per span, and input/output/error
// expandable per row, with a note for LLM replies from the response cache and for guard
// verdicts; marks the calls through the LLM gateway (a `gateway` badge and the client's
// User-Agent) apart from warden's own actions; a badge on each fix-until-green round
// (`round 2 · failing`); filters by workspace and kind (the
// server's filter) and by client (warden's own, every gateway call, or one client seen:
// applied here to whole trees), pages to older spans, and follows live updates. All
// text goes in through textContent.

import type { SpanKind } from '../lsp_ext.ts';
import {
  bar,
  buildTree,
  callerValue,
  clientLabel,
  clientsSeen,
  gatewayCall,
  matchesCaller,
  withCaller,
  extent,
  flatten,
  formatClock,
  formatCost,
  plural,
  formatDuration,
  formatJson,
  formatTokens,
  fixRoundBadge,
  latencyClass,
  matchesFilter,
  outputNote,
  SpanStore,
  type SpanNode,
  subtreeTotals,
  type TraceFilter,
} from '../traceModel.ts';
import type { FromWebview, ToWebview } from './messages.ts';

declare function acquireVsCodeApi(): { postMessage(m: FromWebview): void };

const vscode = acquireVsCodeApi();
const store = new SpanStore();
const collapsed = new Set<string>();
const openDetails = new Set<string>();
let filter: TraceFilter = {};
let nextCursor: string | null = null;
let loaded = false;
let statusText = '';
let statusError = false;
let scheduled = false;
let ticker: number | undefined;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const main = $<HTMLElement>('traces');
const workspaceSelect = $<HTMLSelectElement>('workspace');
const kindSelect = $<HTMLSelectElement>('kind');
const callerSelect = $<HTMLSelectElement>('caller');
let callerOptions = '';
const moreButton = $<HTMLButtonElement>('more');
const endLabel = $<HTMLSpanElement>('end');
const status = $<HTMLSpanElement>('status');

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) {
    e.className = cls;
  }
  if (text !== undefined) {
    e.textContent = text;
  }
  return e;
}

function setOptions(select: HTMLSelectElement, values: readonly string[], selected: string | undefined): void {
  const keep = select.options[0];
  select.replaceChildren(keep);
  for (const v of values) {
    const o = el('option', undefined, v);
    o.value = v;
    select.append(o);
  }
  if (selected && !values.includes(selected)) {
    const o = el('option', undefined, selected);
    o.value = selected;
    select.append(o);
  }
  select.value = selected ?? '';
}

function readFilter(): TraceFilter {
  const f: TraceFilter = {};
  if (workspaceSelect.value) {
    f.workspace = workspaceSelect.value;
  }
  if (kindSelect.value) {
    f.kind = kindSelect.value as SpanKind;
  }
  return withCaller(f, callerSelect.value);
}

/** The client choices: all, warden's own, every gateway call, each client seen (and the one chosen). */
function updateCallers(): void {
  const clients = clientsSeen(store.spans.values());
  if (filter.client !== undefined && !clients.includes(filter.client)) {
    clients.push(filter.client);
  }
  const key = clients.join('\n');
  if (key === callerOptions && callerSelect.options.length > 1) {
    callerSelect.value = callerValue(filter);
    return;
  }
  callerOptions = key;
  const option = (value: string, text: string, title?: string): HTMLOptionElement => {
    const o = el('option', undefined, text);
    o.value = value;
    if (title) {
      o.title = title;
    }
    return o;
  };
  callerSelect.replaceChildren(
    option('', 'all'),
    option('origin:warden', "warden's own actions"),
    option('origin:gateway', 'every gateway call'),
    ...clients.map((c) => option(`client:${c}`, `gateway: ${clientLabel(c)}`, c)),
  );
  callerSelect.value = callerValue(filter);
}

function query(): void {
  filter = readFilter();
  store.clear();
  loaded = false;
  schedule();
  vscode.postMessage({ type: 'query', filter });
}

workspaceSelect.addEventListener('change', query);
kindSelect.addEventListener('change', query);
callerSelect.addEventListener('change', () => {
  // Trees already loaded are filtered here; the panel only remembers the choice.
  filter = readFilter();
  vscode.postMessage({ type: 'caller', filter });
  schedule();
});
$<HTMLButtonElement>('refresh').addEventListener('click', query);
moreButton.addEventListener('click', () => {
  moreButton.disabled = true;
  vscode.postMessage({ type: 'more' });
});

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const m = event.data;
  switch (m.type) {
    case 'init':
      filter = m.filter;
      setOptions(kindSelect, m.kinds, filter.kind);
      setOptions(workspaceSelect, m.workspaces, filter.workspace);
      store.clear();
      loaded = false;
      break;
    case 'workspaces':
      setOptions(workspaceSelect, m.workspaces, filter.workspace);
      break;
    case 'page':
      if (m.reset) {
        store.clear();
      }
      store.addPage(m.traces);
      nextCursor = m.nextCursor;
      loaded = true;
      statusText = '';
      statusError = false;
      moreButton.disabled = false;
      break;
    case 'started':
      if (matchesFilter(m.span, filter)) {
        store.started(m.span);
      }
      break;
    case 'finished':
      store.finished(m.end);
      break;
    case 'status':
      statusText = m.text;
      statusError = m.error ?? false;
      break;
  }
  schedule();
});

function schedule(): void {
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(render);
  }
}

function render(): void {
  scheduled = false;
  const now = Date.now();
  const all = buildTree(store.spans.values());
  const roots = all.filter((root) => matchesCaller(root, filter));
  updateCallers();
  const frag = document.createDocumentFragment();
  for (const root of roots) {
    frag.append(renderTrace(root, now));
  }
  main.replaceChildren(frag);
  if (loaded && all.length === 0) {
    main.append(el('p', 'empty', 'No spans yet. Everything warden does (commands, scans, indexing) appears here as it happens.'));
  } else if (loaded && roots.length === 0) {
    main.append(
      el(
        'p',
        'empty',
        filter.origin === 'warden'
          ? "None of the spans loaded is warden's own."
          : `No gateway call${filter.client !== undefined ? ' of this client' : ''} among the spans loaded. AI tools run in a terminal of a workspace folder reach warden through its gateway; load older spans for earlier calls.`,
      ),
    );
  }
  const running = [...store.spans.values()].some((s) => !s.finishedAt);
  status.textContent = statusText || `${plural(store.spans.size, 'span')}${running ? ' · running' : ''} · live`;
  status.classList.toggle('error', statusError);
  moreButton.hidden = !nextCursor;
  endLabel.textContent = loaded && !nextCursor && store.spans.size > 0 ? 'All spans loaded.' : '';
  // Running bars grow with time.
  if (running && ticker === undefined) {
    ticker = window.setInterval(schedule, 500);
  } else if (!running && ticker !== undefined) {
    window.clearInterval(ticker);
    ticker = undefined;
  }
}

function renderTrace(root: SpanNode, now: number): HTMLElement {
  const section = el('section', 'trace');
  const window_ = extent(root, now);
  const hidden = new Set<string>();
  for (const { node, depth } of flatten(root)) {
    const span = node.span;
    if (span.parentId && hidden.has(span.parentId)) {
      hidden.add(span.id);
      continue;
    }
    if (collapsed.has(span.id)) {
      hidden.add(span.id);
    }
    section.append(renderRow(node, depth, window_, now, node === root));
    if (openDetails.has(span.id)) {
      section.append(renderDetails(node));
    }
  }
  return section;
}

function renderRow(
  node: SpanNode,
  depth: number,
  window_: { start: number; end: number },
  now: number,
  isRoot: boolean,
): HTMLElement {
  const span = node.span;
  const row = el('div', `span-row${isRoot ? ' root' : ''}${span.outcome && span.outcome !== 'ok' ? ` outcome-${span.outcome}` : ''}`);
  row.dataset.spanId = span.id;
  row.dataset.name = span.name;
  row.tabIndex = 0;
  row.title = 'Click for input and output';

  const name = el('div', 'name');
  name.style.paddingLeft = `${depth * 16}px`;
  const twisty = el('button', 'twisty', node.children.length ? (collapsed.has(span.id) ? '▸' : '▾') : '');
  twisty.disabled = node.children.length === 0;
  twisty.title = node.children.length ? `${node.children.length} child span(s)` : '';
  twisty.addEventListener('click', (e) => {
    e.stopPropagation();
    if (collapsed.has(span.id)) {
      collapsed.delete(span.id);
    } else {
      collapsed.add(span.id);
    }
    schedule();
  });
  name.append(twisty, el('span', `kind kind-${span.kind}`, span.kind));
  const call = gatewayCall(span);
  if (call) {
    row.classList.add('gateway-call');
    row.dataset.client = call.client;
    const badge = el('span', 'gateway', 'gateway');
    badge.title = `A call through warden's LLM gateway (${call.api || 'unknown API'}), not one of warden's own actions`;
    const client = el('span', 'client', clientLabel(call.client));
    client.title = `Client (User-Agent): ${call.client || 'none sent'}`;
    name.append(badge, client);
  }
  name.append(el('span', 'label', span.name));
  const round = fixRoundBadge(span);
  if (round) {
    const b = el('span', `fix-round fix-${round.outcome}`, round.text);
    b.title = 'A round of Fix until it runs: the model\'s fix, then the fixed copy\'s run';
    name.append(b);
  }
  if (isRoot && span.workspace) {
    name.append(el('span', 'workspace', span.workspace));
  }
  if (node.orphan) {
    const up = el('span', 'orphan', '↑');
    up.title = 'Its parent span is not shown (an older page, or filtered out)';
    name.append(up);
  }
  if (span.outcome && span.outcome !== 'ok') {
    name.append(el('span', `badge ${span.outcome}`, span.outcome));
  }
  const note = outputNote(span);
  if (note) {
    const n = el('span', `note${note.startsWith('response cache hit') ? ' cache-hit' : ''}${note.startsWith('refused') ? ' refused' : ''}${span.kind === 'run' ? ' run-status' : ''}`, note);
    n.title =
      span.kind === 'guard'
        ? 'The guardrail\'s verdict'
        : span.kind === 'run'
          ? 'How the sandboxed run ended'
          : 'Answered from the response cache: nothing was sent, nothing paid';
    name.append(n);
  }

  const cls = latencyClass(span);
  const track = el('div', 'track');
  const b = bar(span, window_, now);
  const fill = el('div', `bar lat ${cls}`);
  fill.style.left = `${(b.offset * 100).toFixed(3)}%`;
  fill.style.width = `${(b.width * 100).toFixed(3)}%`;
  track.append(fill);

  const latency = el('div', `latency lat-text ${cls}`, span.finishedAt ? formatDuration(span.latencyMs) : `${formatDuration(now - Date.parse(span.startedAt))} …`);
  let tokens = formatTokens(span.tokens);
  let cost = formatCost(span.costUsd);
  if (isRoot && node.children.length) {
    const totals = subtreeTotals(node);
    const allTokens = formatTokens(totals.tokens);
    if (allTokens && allTokens !== tokens) {
      tokens = `Σ ${allTokens}`;
    }
    const allCost = formatCost(totals.costUsd);
    if (allCost && allCost !== cost) {
      cost = `Σ ${allCost}`;
    }
  }
  row.append(name, track, latency, el('div', 'tokens', tokens), el('div', 'cost', cost));
  const toggle = (): void => {
    if (openDetails.has(span.id)) {
      openDetails.delete(span.id);
    } else {
      openDetails.add(span.id);
    }
    schedule();
  };
  row.addEventListener('click', toggle);
  row.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      toggle();
    }
  });
  return row;
}

function renderDetails(node: SpanNode): HTMLElement {
  const span = node.span;
  const box = el('div', 'details');
  const facts = el('div', 'facts');
  facts.append(el('span', undefined, `started ${formatClock(span.startedAt)}`));
  if (span.finishedAt) {
    facts.append(el('span', undefined, `finished ${formatClock(span.finishedAt)}`));
  }
  facts.append(el('span', undefined, `outcome ${span.outcome ?? 'running'}`));
  if (span.tokens && (span.tokens.input || span.tokens.output)) {
    facts.append(
      el('span', undefined, `tokens in ${span.tokens.input}, out ${span.tokens.output}, cached ${span.tokens.cached}, reasoning ${span.tokens.reasoning}`),
    );
  }
  if (span.costUsd) {
    facts.append(el('span', 'cost-fact', `cost ${formatCost(span.costUsd)}`));
  }
  facts.append(el('span', 'id', span.id));
  box.append(facts);
  if (span.uri) {
    const link = el('a', 'uri', span.uri);
    link.href = '#';
    link.addEventListener('click', (e) => {
      e.preventDefault();
      vscode.postMessage({ type: 'open', uri: span.uri as string });
    });
    box.append(link);
  }
  const section = (title: string, value: unknown, cls = ''): void => {
    const text = formatJson(value);
    if (!text) {
      return;
    }
    const d = el('details', cls);
    d.open = true;
    d.append(el('summary', undefined, title), el('pre', undefined, text));
    box.append(d);
  };
  section('input', span.input);
  section('output', span.output);
  section('error', span.error, 'error');
  return box;
}

vscode.postMessage({ type: 'ready' });
