// *Fix until it runs* (`warden.llm.fixUntilGreen`), the pure parts: the loops this window
// follows by request id (their rounds as `warden/fixRound` arrives, their end from
// `warden/fixFinished`), the fixes waiting for Accept or Discard (newest last), the
// progress line of a round, the diff editor's title, what is said when a loop ends
// without a fix, and the `warden-fix:` document paths of the diff's two sides. No VS
// Code here: fix.ts shows it all.

import type { FixFinishedParams, FixRound, FixRoundParams, FixUntilGreenArgs } from './lsp_ext.ts';

/** The scheme of the diff's two read-only sides (the original and the fixed text). */
export const FIX_SCHEME = 'warden-fix';

export const DEFAULT_MAX_ROUNDS = 3;

/** One loop this window follows. */
export interface FixLoop {
  requestId: string;
  uri: string;
  /** The file's base name, for titles. */
  name: string;
  maxRounds: number;
  rounds: FixRound[];
  finished?: FixFinishedParams;
}

/** The base name of a URI's path (decoded), for titles. */
export function baseName(uri: string): string {
  const path = uri.replace(/[?#].*$/, '');
  const last = path.slice(path.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(last) || uri;
  } catch {
    return last || uri;
  }
}

/** Whether a command argument is `FixUntilGreenArgs` (a code action's, or a caller's). */
export function isFixArgs(arg: unknown): arg is FixUntilGreenArgs {
  if (typeof arg !== 'object' || arg === null) {
    return false;
  }
  const a = arg as Record<string, unknown>;
  return (
    typeof a.uri === 'string' &&
    (a.maxRounds === undefined || typeof a.maxRounds === 'number') &&
    (a.budgetUsd === undefined || typeof a.budgetUsd === 'number') &&
    (a.requestId === undefined || typeof a.requestId === 'string')
  );
}

const OUTCOME_LABEL: Record<string, string> = {
  green: 'green',
  failing: 'failing',
  noFix: 'no fix',
  refused: 'refused',
  error: 'error',
  cancelled: 'cancelled',
};

/** `round 2/3: failing — line 7: NameError…` (the message cut at `max` characters). */
export function roundSummary(round: FixRound, maxRounds: number, max = 80): string {
  const label = OUTCOME_LABEL[round.outcome] ?? round.outcome;
  const cached = round.cached ? ' (replayed)' : '';
  const msg = (round.message ?? '').replace(/\s+/g, ' ').trim();
  const cut = msg.length > max ? `${msg.slice(0, max - 1)}…` : msg;
  return `round ${round.n}/${Math.max(maxRounds, round.n)}: ${label}${cached}${cut ? ` — ${cut}` : ''}`;
}

function rounds(n: number): string {
  return `${n} ${n === 1 ? 'round' : 'rounds'}`;
}

/** The diff editor's title: `name.py: fix until it runs (green after 2 rounds)`. */
export function diffTitle(name: string, fin: FixFinishedParams): string {
  const n = fin.rounds.length;
  let how: string;
  if (fin.green) {
    how = `green after ${rounds(n)}`;
  } else if (fin.rounds.at(-1)?.outcome === 'failing') {
    how = `still failing after ${rounds(n)}`;
  } else {
    how = `not green: ${fin.stopped}`;
  }
  return `${name}: fix until it runs (${how})`;
}

/** The question asked with the diff. */
export function acceptQuestion(name: string, fin: FixFinishedParams): string {
  const cost = fin.costUsd > 0 ? `$${fin.costUsd.toFixed(4)}` : '';
  return fin.green
    ? `warden: the fixed ${name} runs (${[rounds(fin.rounds.length), cost].filter(Boolean).join(', ')}). Apply the fix?`
    : `warden: ${name} still does not run: ${fin.stopped}${cost ? ` (${cost})` : ''}. Apply the last attempt anyway?`;
}

/** What is said when a loop ends without a fix to show. */
export function finishedWithoutFix(name: string, fin: FixFinishedParams): { level: 'info' | 'warning'; text: string } {
  if (fin.green) {
    return { level: 'info', text: `warden: ${name}: ${fin.stopped || 'already runs'}` };
  }
  if (fin.rounds.at(-1)?.outcome === 'cancelled' || fin.stopped === 'cancelled') {
    return { level: 'info', text: `warden: fix until it runs of ${name} cancelled` };
  }
  return { level: 'warning', text: `warden: could not fix ${name}: ${fin.stopped}` };
}

export type FixSide = 'original' | 'fixed';

/** The path of a diff side's `warden-fix:` document: `/<requestId>/<side>/<name>`. */
export function fixDocPath(requestId: string, side: FixSide, name: string): string {
  return `/${encodeURIComponent(requestId)}/${side}/${name}`;
}

/** The request id and side of a `warden-fix:` document path; undefined for other paths. */
export function parseFixDocPath(path: string): { requestId: string; side: FixSide } | undefined {
  const m = /^\/([^/]+)\/(original|fixed)\//.exec(path);
  if (!m) {
    return undefined;
  }
  try {
    return { requestId: decodeURIComponent(m[1]), side: m[2] as FixSide };
  } catch {
    return undefined;
  }
}

/** The loops of this window: running, and finished with a fix waiting for an answer. */
export class FixLoops {
  private readonly loops = new Map<string, FixLoop>();

  /** A loop this window started (or first heard of). */
  start(requestId: string, uri: string, maxRounds = DEFAULT_MAX_ROUNDS): FixLoop {
    let loop = this.loops.get(requestId);
    if (!loop) {
      loop = { requestId, uri, name: baseName(uri), maxRounds, rounds: [] };
      this.loops.set(requestId, loop);
    }
    return loop;
  }

  get(requestId: string): FixLoop | undefined {
    return this.loops.get(requestId);
  }

  /** Records a round (of a loop started elsewhere too: the server's code action). */
  round(p: FixRoundParams): FixLoop {
    const loop = this.start(p.requestId, p.uri);
    loop.rounds = [...loop.rounds.filter((r) => r.n !== p.round.n), p.round].sort((a, b) => a.n - b.n);
    return loop;
  }

  /** Records the end; a loop without a fix to answer is forgotten. */
  finish(p: FixFinishedParams): FixLoop {
    const loop = this.start(p.requestId, p.uri);
    loop.finished = p;
    loop.rounds = p.rounds;
    if (!hasFix(p)) {
      this.loops.delete(p.requestId);
    }
    return loop;
  }

  /** Forgets a loop (answered, or its command failed). */
  forget(requestId: string): FixLoop | undefined {
    const loop = this.loops.get(requestId);
    this.loops.delete(requestId);
    return loop;
  }

  /** Loops still running, oldest first. */
  get running(): FixLoop[] {
    return [...this.loops.values()].filter((l) => !l.finished);
  }

  /** Finished loops with a fix waiting for Accept or Discard, oldest first. */
  get pending(): FixLoop[] {
    return [...this.loops.values()].filter((l) => l.finished && hasFix(l.finished));
  }

  /** The pending fix to answer: `requestId`'s, else the one of `uri`, else the newest. */
  pendingFor(requestId?: string, uri?: string): FixLoop | undefined {
    const pending = this.pending;
    if (requestId !== undefined) {
      return pending.find((l) => l.requestId === requestId);
    }
    const ofUri = uri === undefined ? [] : pending.filter((l) => l.uri === uri);
    return ofUri.at(-1) ?? pending.at(-1);
  }
}

/** Whether a finished loop carries a fix to show. */
export function hasFix(p: FixFinishedParams): p is FixFinishedParams & { fixed: string; original: string } {
  return typeof p.fixed === 'string' && typeof p.original === 'string';
}
