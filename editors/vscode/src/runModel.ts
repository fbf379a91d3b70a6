// The pure parts of sandboxed runs, testable without VS Code: the reorder buffer that
// puts `warden/runOutput` chunks back in `seq` order, the conversion of output to
// terminal text (newlines to CRLF, across chunk boundaries; stderr in red; ANSI colours
// kept), the terminal's header and final status lines, and how the Runs view, the log
// document, the statistics preview and the search picker describe a run.

import type { Run, RunFinishedParams, RunSearchHit, RunStatsResult, RunStatus, RunStream, ScriptInfo } from './lsp_ext.ts';

/** A run in the Runs view or the status bar: a stored one, or one still going. */
export type RunState = RunStatus | 'running';

/**
 * Holds chunks that arrive ahead of their turn and hands them out in `seq` order, from 0.
 * Duplicates and chunks already handed out are dropped.
 */
export class SeqBuffer<T> {
  private nextSeq = 0;
  private readonly pending = new Map<number, T>();

  /** Adds chunk `seq`; returns the chunks now ready, in order (maybe none). */
  push(seq: number, item: T): T[] {
    if (!Number.isInteger(seq) || seq < this.nextSeq || this.pending.has(seq)) {
      return [];
    }
    this.pending.set(seq, item);
    const ready: T[] = [];
    for (;;) {
      const next = this.pending.get(this.nextSeq);
      if (next === undefined) {
        break;
      }
      this.pending.delete(this.nextSeq);
      ready.push(next);
      this.nextSeq += 1;
    }
    return ready;
  }

  /** The seq the buffer waits for. */
  get expected(): number {
    return this.nextSeq;
  }

  /** How many chunks wait for an earlier one. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Everything still held, in order, skipping the gaps (for when the run has ended). */
  flush(): T[] {
    const seqs = [...this.pending.keys()].sort((a, b) => a - b);
    const out = seqs.map((s) => this.pending.get(s) as T);
    this.pending.clear();
    if (seqs.length) {
      this.nextSeq = seqs[seqs.length - 1] + 1;
    }
    return out;
  }
}

export const ANSI = {
  reset: '\x1b[0m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
} as const;

/**
 * Turns output into what a terminal shows: `\n` (and `\r\n`) become `\r\n`, also when a
 * `\r\n` is split across two chunks; a lone `\r` (progress bars) stays. Remembers whether
 * the last text ended a line, so status lines start on a fresh one.
 */
export class TerminalText {
  private lastCr = false;
  private _atLineStart = true;

  convert(chunk: string): string {
    if (chunk.length === 0) {
      return '';
    }
    let text = chunk;
    let head = '';
    if (this.lastCr && text.startsWith('\n')) {
      head = '\n'; // the \r went out with the previous chunk
      text = text.slice(1);
    }
    this.lastCr = chunk.endsWith('\r');
    const last = chunk[chunk.length - 1];
    this._atLineStart = last === '\n' || last === '\r';
    return head + text.replace(/\r?\n/g, '\r\n');
  }

  /** A chunk of one stream; stderr in red (colours inside it still apply). */
  output(stream: RunStream, chunk: string, colourStderr = true): string {
    const text = this.convert(chunk);
    if (stream === 'stderr' && colourStderr && text) {
      return `${ANSI.red}${text}${ANSI.reset}`;
    }
    return text;
  }

  get atLineStart(): boolean {
    return this._atLineStart;
  }

  /** `\r\n` when the output so far did not end its line, else ''. */
  newlineIfNeeded(): string {
    if (this._atLineStart) {
      return '';
    }
    this._atLineStart = true;
    this.lastCr = false;
    return '\r\n';
  }
}

/** `850 ms`, `1.3 s`, `2 min 5 s`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  const min = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${min} min ${s} s` : `${min} min`;
}

/** `just now`, `5 min ago`, `3 h ago`, `2 d ago`, else the date. */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) {
    return iso;
  }
  const s = Math.max(0, (now - t) / 1000);
  if (s < 45) {
    return 'just now';
  }
  if (s < 3600) {
    return `${Math.max(1, Math.round(s / 60))} min ago`;
  }
  if (s < 86_400) {
    return `${Math.round(s / 3600)} h ago`;
  }
  if (s < 30 * 86_400) {
    return `${Math.round(s / 86_400)} d ago`;
  }
  return iso.slice(0, 10);
}

/** What a status is called in the UI. */
export function statusLabel(status: RunState): string {
  switch (status) {
    case 'succeeded':
      return 'succeeded';
    case 'failed':
      return 'failed';
    case 'timedOut':
      return 'timed out';
    case 'oomKilled':
      return 'out of memory';
    case 'cancelled':
      return 'cancelled';
    case 'error':
      return 'could not run';
    case 'running':
      return 'running';
    default:
      return String(status);
  }
}

/** The codicon and theme colour of a status (Runs view, pickers). */
export function statusIcon(status: RunState): { id: string; color?: string } {
  switch (status) {
    case 'succeeded':
      return { id: 'pass', color: 'testing.iconPassed' };
    case 'failed':
      return { id: 'error', color: 'testing.iconFailed' };
    case 'timedOut':
      return { id: 'clock', color: 'problemsWarningIcon.foreground' };
    case 'oomKilled':
      return { id: 'flame', color: 'testing.iconFailed' };
    case 'cancelled':
      return { id: 'circle-slash', color: 'disabledForeground' };
    case 'error':
      return { id: 'warning', color: 'problemsWarningIcon.foreground' };
    case 'running':
      return { id: 'watch', color: 'charts.blue' };
    default:
      return { id: 'question' };
  }
}

/** The file name of a script path (`scripts/2.00_report.py` → `2.00_report.py`). */
export function baseName(p: string): string {
  const parts = p.split(/[\\/]/);
  return parts[parts.length - 1] || p;
}

/** `a1b2c3d4` (+ `, dirty`) of a git HEAD. */
export function shortHead(head: string | null, dirty = false): string {
  if (!head) {
    return dirty ? 'not committed' : 'no git HEAD';
  }
  return `${head.slice(0, 8)}${dirty ? ' (dirty)' : ''}`;
}

/** The Runs view's description of a stored run: status, duration, when, workspace. */
export function runDescription(run: Pick<Run, 'status' | 'durationMs' | 'startedAt' | 'workspace'>, now = Date.now()): string {
  return [statusLabel(run.status), formatDuration(run.durationMs), relativeTime(run.startedAt, now), run.workspace]
    .filter(Boolean)
    .join(' · ');
}

/** `14:03:07` in local time. */
function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    return iso;
  }
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `1.3 s` → `1.3 seconds`, `850 ms` → `850 milliseconds`: durations read aloud. */
function spokenDuration(ms: number | null | undefined): string {
  return formatDuration(ms).replace(/ ms$/, ' milliseconds').replace(/ min\b/g, ' minutes').replace(/ s$/, ' seconds');
}

/**
 * What a screen reader says for a stored run: the script, the status, how long, when
 * (relative and the clock time, so runs that differ only by time read differently), the
 * workspace and the exit code; no icons, no hashes.
 */
export function spokenRun(run: Pick<Run, 'path' | 'status' | 'durationMs' | 'startedAt' | 'workspace' | 'exitCode' | 'input'>, now = Date.now()): string {
  const took = spokenDuration(run.durationMs);
  const parts = [
    `${run.path} ${statusLabel(run.status)}${took ? ` in ${took}` : ''}`,
    `${relativeTime(run.startedAt, now)}, at ${clock(run.startedAt)}`,
    `workspace ${run.workspace}`,
  ];
  if (run.exitCode !== null && run.status !== 'succeeded') {
    parts.push(`exit code ${run.exitCode}`);
  }
  if (run.input) {
    parts.push(`input ${run.input}`);
  }
  return parts.join(', ');
}

/** Tooltip lines of a stored run (Markdown, one fact a line). */
export function runDetails(run: Run): string[] {
  const lines = [
    `**${run.path}** in ${run.workspace}`,
    `${statusLabel(run.status)}${run.exitCode !== null ? `, exit code ${run.exitCode}` : ''}${run.message ? `: ${run.message}` : ''}`,
    `git HEAD: ${shortHead(run.head, run.dirty)}`,
    `started ${run.startedAt}, took ${formatDuration(run.durationMs)}${run.firstOutputMs !== null ? ` (first output after ${formatDuration(run.firstOutputMs)})` : ''}`,
  ];
  if (run.input) {
    lines.push(`input: ${run.input}`);
  }
  lines.push(`image ${run.image}: \`${run.command.join(' ')}\``);
  lines.push(`output: ${formatBytes(run.stdoutBytes)} stdout, ${formatBytes(run.stderrBytes)} stderr${run.truncated ? ' (truncated)' : ''}`);
  if (run.artifacts.length) {
    lines.push(`artifacts: ${run.artifacts.map((a) => `${a.path} (${formatBytes(a.size)})`).join(', ')}`);
  }
  lines.push(`run ${run.runId}${run.batchId ? `, batch ${run.batchId}` : ''}`);
  return lines;
}

/** `512 B`, `3.4 KB`, `1.2 MB`. */
export function formatBytes(n: number): string {
  if (n < 1024) {
    return `${n} B`;
  }
  if (n < 1024 * 1024) {
    return `${(n / 1024).toFixed(1)} KB`;
  }
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The dim line a run's terminal starts with. */
export function headerLine(path: string, input?: string, args: readonly string[] = []): string {
  const extra = [input ? `input ${input}` : '', args.length ? `args ${args.join(' ')}` : ''].filter(Boolean).join(', ');
  return `${ANSI.dim}[warden] running ${path}${extra ? ` (${extra})` : ''} in a sandbox…${ANSI.reset}\r\n`;
}

/** The plain text of the final status line (without colours). */
export function finishedText(p: Pick<RunFinishedParams, 'path' | 'status' | 'exitCode' | 'durationMs' | 'message'>): string {
  const exit = p.exitCode !== null && p.exitCode !== undefined ? `exit code ${p.exitCode}` : '';
  const why = p.status === 'succeeded' ? exit : p.message || exit;
  return `[warden] ${p.path} ${statusLabel(p.status)} in ${formatDuration(p.durationMs)}${why ? ` (${why})` : ''}`;
}

/** The terminal's last lines for `warden/runFinished`: the status in colour, then notes. */
export function finishedLines(p: RunFinishedParams): string {
  const colour = p.status === 'succeeded' ? ANSI.green : p.status === 'cancelled' ? ANSI.yellow : ANSI.red;
  let out = `${ANSI.bold}${colour}${finishedText(p)}${ANSI.reset}\r\n`;
  if (p.truncated) {
    out += `${ANSI.yellow}[warden] output was cut at run.limits.stdoutBytes / stderrBytes${ANSI.reset}\r\n`;
  }
  if (p.artifacts.length) {
    out += `${ANSI.dim}[warden] artifacts: ${p.artifacts.map((a) => `${a.path} (${formatBytes(a.size)})`).join(', ')}${ANSI.reset}\r\n`;
  }
  return out;
}

/** Removes ANSI escape sequences (for the read-only log document). */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g, '');
}

/** The read-only log of a stored run: facts, then stdout, then stderr. */
export function formatLog(run: Run): { text: string; stdoutLine: number; stderrLine: number } {
  const lines: string[] = [
    `# ${run.path} — ${statusLabel(run.status)}${run.exitCode !== null ? ` (exit code ${run.exitCode})` : ''}`,
  ];
  if (run.message) {
    lines.push(`# ${run.message}`);
  }
  lines.push(
    `# workspace ${run.workspace}, git HEAD ${shortHead(run.head, run.dirty)}`,
    `# started ${run.startedAt}, finished ${run.finishedAt}, ${formatDuration(run.durationMs)}`,
    `# image ${run.image}: ${run.command.join(' ')}${run.input ? `, input ${run.input}` : ''}`,
    `# run ${run.runId}${run.batchId ? `, batch ${run.batchId}` : ''}`,
  );
  if (run.artifacts.length) {
    lines.push(`# artifacts: ${run.artifacts.map((a) => `${a.path} (${formatBytes(a.size)})`).join(', ')}`);
  }
  if (run.truncated) {
    lines.push('# output was truncated');
  }
  const body = (s: string | undefined): string[] => {
    const text = stripAnsi(s ?? '').replace(/\r\n/g, '\n');
    if (!text) {
      return ['(none)'];
    }
    return text.replace(/\n$/, '').split('\n');
  };
  lines.push('', `---- stdout (${formatBytes(run.stdoutBytes)}) ----`);
  const stdoutLine = lines.length; // 0-based line of stdout's first line
  lines.push(...body(run.stdout), '', `---- stderr (${formatBytes(run.stderrBytes)}) ----`);
  const stderrLine = lines.length;
  lines.push(...body(run.stderr));
  return { text: `${lines.join('\n')}\n`, stdoutLine, stderrLine };
}

/** `warden/runStats` as a Markdown document. */
export function statsMarkdown(stats: RunStatsResult, now = Date.now()): string {
  const out = [`# Run statistics: ${stats.workspace}`, ''];
  if (stats.scripts.length === 0) {
    out.push('No stored runs yet.');
    return `${out.join('\n')}\n`;
  }
  const total = stats.scripts.reduce((n, s) => n + s.runs, 0);
  const ok = stats.scripts.reduce((n, s) => n + s.succeeded, 0);
  out.push(
    `${total} runs of ${stats.scripts.length} scripts, ${percent(total ? ok / total : 0)} succeeded.`,
    '',
    '| script | runs | succeeded | success | p50 | p95 | last | when |',
    '|---|--:|--:|--:|--:|--:|---|---|',
  );
  for (const s of stats.scripts) {
    out.push(
      `| \`${s.path}\` | ${s.runs} | ${s.succeeded} | ${percent(s.successRate)} | ${formatDuration(s.p50Ms)} | ${formatDuration(s.p95Ms)} | ${statusLabel(s.lastStatus)} | ${relativeTime(s.lastRunAt, now)} |`,
    );
  }
  return `${out.join('\n')}\n`;
}

function percent(x: number): string {
  return `${Math.round(x * 100)}%`;
}

/** A `warden/runSearch` hit as a quick pick row. */
export function hitItem(hit: RunSearchHit, now = Date.now()): { label: string; description: string; detail: string } {
  return {
    label: `${baseName(hit.path)}:${hit.line}`,
    description: `${hit.stream} · ${statusLabel(hit.status)} · ${relativeTime(hit.startedAt, now)}`,
    detail: hit.text.trim().slice(0, 200),
  };
}

/** A `warden/scripts` catalog entry as a quick pick row: order and name, path, version and last run. */
export function scriptItem(script: ScriptInfo, now = Date.now()): { label: string; description: string; detail: string } {
  const version = shortHead(script.commit, script.dirty);
  const last = script.lastStatus
    ? `last run ${statusLabel(script.lastStatus)}${script.lastRunAt ? ` ${relativeTime(script.lastRunAt, now)}` : ''}`
    : 'never run';
  return {
    label: `${script.order ?? '–'}  ${script.name}`,
    description: script.path,
    detail: `group ${script.group ?? '–'} · ${version} · ${last} · ${script.image}`,
  };
}

/** Languages the built-in runners run (Run button, CodeLens). */
export const SCRIPT_LANGUAGES: readonly string[] = ['python', 'shellscript', 'javascript'];

/** A fresh run id for `warden.run`, chosen here so output can be matched before the answer. */
export function newRunId(): string {
  return globalThis.crypto.randomUUID();
}

/**
 * Splits typed arguments like a shell would, without expanding anything: spaces separate,
 * single and double quotes group, a backslash escapes the next character.
 */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) {
        quote = undefined;
      } else if (c === '\\' && quote === '"' && i + 1 < text.length) {
        cur += text[++i];
      } else {
        cur += c;
      }
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) {
        out.push(cur);
      }
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) {
    out.push(cur);
  }
  return out;
}
