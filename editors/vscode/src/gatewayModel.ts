// The LLM gateway in VS Code, the pure part: the four variables a workspace folder's
// terminals get from `warden/gateway` and the description VS Code shows for them;
// whether terminals get them (the `warden.gateway.terminals` setting and the user's one
// answer to the first-time question); the count of gateway calls today
// (`warden/usage {groupBy: "action"}`'s `gateway` row, then one per
// `warden/gatewayCall`, back to zero at local midnight) with the last call and the
// calls that need the user's attention (blocked, or a reply bringing in a malicious
// package); and the status bar item's text, spoken label and tooltip lines, budgets
// (`warden.llm.budget.*`) included.

import { formatUsd } from './llmModel.ts';
import type { GatewayCallParams, GatewayResult, UsageResult } from './lsp_ext.ts';

/** What a terminal of a workspace folder gets, in this order. */
export const GATEWAY_VARS = ['OPENAI_BASE_URL', 'OPENAI_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY'] as const;

/** globalState key of the answer to "Send the AI tools ... through warden's gateway?". */
export const TERMINALS_ANSWER_KEY = 'warden.gateway.terminalsAnswer';

/** The variables for a terminal: the server's `env`, else its URLs and token. */
export function terminalVariables(r: GatewayResult): [string, string][] {
  const fallback: Record<(typeof GATEWAY_VARS)[number], string> = {
    OPENAI_BASE_URL: r.openaiBaseUrl,
    OPENAI_API_KEY: r.token,
    ANTHROPIC_BASE_URL: r.anthropicBaseUrl,
    ANTHROPIC_API_KEY: r.token,
  };
  return GATEWAY_VARS.map((name) => [name, r.env?.[name] || fallback[name]]);
}

/** What VS Code shows for the variables (the terminal tab's hover, the relaunch hint). */
export function collectionDescription(workspace: string): string {
  return `warden's LLM gateway for workspace ${workspace}: AI tools run here go through warden, which redacts secrets, enforces the LLM budgets and traces every call`;
}

/** The user's answer to the first-time question. */
export type TerminalsAnswer = 'yes' | 'notNow';

export type TerminalsDecision = 'on' | 'off' | 'ask';

/**
 * Whether terminals get the variables: off when `warden.gateway.terminals` is false; on
 * when the user set it to true themselves; with the default (true), on once the user has
 * said yes, off after "Not now", else ask (at most once per window: a question closed
 * without an answer is not asked again until the next start).
 */
export function terminalsDecision(
  setting: { value: boolean; explicit: boolean },
  answer: TerminalsAnswer | undefined,
  askedThisSession: boolean,
): TerminalsDecision {
  if (!setting.value) {
    return 'off';
  }
  if (setting.explicit || answer === 'yes') {
    return 'on';
  }
  if (answer === 'notNow' || askedThisSession) {
    return 'off';
  }
  return 'ask';
}

/** Whether the terminals of the window get the variables, and why not. */
export type TerminalsState =
  | { kind: 'unavailable'; reason: string }
  | { kind: 'off'; why: 'setting' | 'declined' | 'undecided' }
  | { kind: 'on'; workspaces: string[] };

/** `YYYY-MM-DD` of the local day. */
export function localDay(now: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** Gateway calls today: the `gateway` row of `warden/usage {groupBy: "action"}`. */
export function gatewayRequests(usage: UsageResult): number {
  return usage.rows.find((r) => r.key === 'gateway')?.requests ?? 0;
}

/** What a call asks the user to look at: it was blocked, or its reply is risky. */
export function callProblem(call: GatewayCallParams): string | undefined {
  const who = `${call.client || 'a tool'} → ${call.model || 'a model'}`;
  if (call.warning) {
    return `${who}: ${call.warning}`;
  }
  if (call.outcome === 'blocked') {
    return `${who}: refused by a guard (budget, deny-list or malicious package)`;
  }
  return undefined;
}

/** Most problems kept for the tooltip. */
export const MAX_PROBLEMS = 3;

/**
 * Gateway calls of the local day: started from the stored count, one more per call; a
 * new day starts from zero.
 */
export class CallTally {
  private day = '';
  private n = 0;
  private lastCall: GatewayCallParams | undefined;
  private readonly recent: string[] = [];

  /** The stored count of `day` (a late answer for an earlier day is ignored). */
  reset(count: number, now: Date, day = localDay(now)): void {
    if (day !== localDay(now)) {
      return;
    }
    this.day = day;
    this.n = count;
  }

  record(call: GatewayCallParams, now: Date): void {
    this.roll(now);
    this.n += 1;
    this.lastCall = call;
    const problem = callProblem(call);
    if (problem) {
      this.recent.unshift(problem);
      this.recent.splice(MAX_PROBLEMS);
    }
  }

  count(now: Date): number {
    this.roll(now);
    return this.n;
  }

  get last(): GatewayCallParams | undefined {
    return this.lastCall;
  }

  /** The latest problems, newest first. */
  get problems(): readonly string[] {
    return this.recent;
  }

  private roll(now: Date): void {
    const today = localDay(now);
    if (today !== this.day) {
      this.day = today;
      this.n = 0;
      this.recent.splice(0);
    }
  }
}

/** `$(plug) gateway 3` (a warning icon while a problem is unseen). */
export function gatewayItemText(count: number, problem: boolean): string {
  return `${problem ? '$(warning)' : '$(plug)'} gateway ${count}`;
}

/** What a screen reader says for the item. */
export function gatewaySpoken(count: number, problem: boolean, terminals: TerminalsState['kind']): string {
  return `warden LLM gateway: ${count} ${count === 1 ? 'call' : 'calls'} today${
    problem ? ', a call needs your attention' : ''
  }; new terminals ${terminals === 'on' ? 'use' : 'do not use'} it. Press for the gateway's calls and options.`;
}

/** The budget settings, one line each (`null`/unset: no limit). */
export function budgetLines(dailyUsd: unknown, requestTokens: unknown): string[] {
  const daily = typeof dailyUsd === 'number' && Number.isFinite(dailyUsd) ? dailyUsd : null;
  const perRequest = typeof requestTokens === 'number' && Number.isFinite(requestTokens) ? requestTokens : null;
  return [
    daily === null
      ? 'Daily budget: none (`warden.llm.budget.dailyUsd`)'
      : `Daily budget: ${formatUsd(daily)} per workspace and UTC day, gateway calls and warden's actions together`,
    perRequest === null
      ? 'Request budget: none (`warden.llm.budget.requestTokens`)'
      : `Request budget: ${perRequest} tokens per gateway request (prompt and requested output)`,
  ];
}

/** `terminals of alpha, beta use it`, or why they do not. */
export function terminalsLine(state: TerminalsState): string {
  switch (state.kind) {
    case 'on':
      return state.workspaces.length
        ? `Terminals of ${state.workspaces.map((w) => `**${w}**`).join(', ')} use it (new terminals; VS Code offers to relaunch older ones).`
        : 'No workspace folder is open: no terminal uses it.';
    case 'off':
      return state.why === 'setting'
        ? 'Terminals do not use it (`warden.gateway.terminals` is off).'
        : state.why === 'declined'
          ? 'Terminals do not use it (you chose *Not now*; click to change that).'
          : 'Terminals do not use it yet (click to set them up).';
    case 'unavailable':
      return `Unavailable: ${state.reason}`;
  }
}

/** The tooltip's Markdown lines. */
export function gatewayTooltip(opts: {
  count: number;
  last: GatewayCallParams | undefined;
  problems: readonly string[];
  terminals: TerminalsState;
  budgets: string[];
}): string[] {
  const out = [
    `**warden LLM gateway**: ${opts.count} ${opts.count === 1 ? 'call' : 'calls'} today (every workspace, since midnight)`,
    '',
  ];
  const last = opts.last;
  if (last) {
    const secrets = last.secretsRedacted ? `, ${last.secretsRedacted} ${last.secretsRedacted === 1 ? 'secret' : 'secrets'} redacted` : '';
    out.push(`Last call: \`${last.client || 'unknown client'}\` → \`${last.model}\` (${last.api}, ${last.workspace}, ${last.outcome}${secrets})`, '');
  }
  for (const p of opts.problems) {
    out.push(`- $(warning) ${p}`);
  }
  if (opts.problems.length) {
    out.push('');
  }
  out.push(terminalsLine(opts.terminals), '');
  for (const b of opts.budgets) {
    out.push(`- ${b}`);
  }
  out.push('', "Click for the gateway's calls and options.");
  return out;
}

/** `export NAME='value'` lines for a POSIX shell (single quotes escaped). */
export function shellExports(vars: readonly [string, string][]): string {
  return vars.map(([n, v]) => `export ${n}='${v.replace(/'/g, `'\\''`)}'`).join('\n');
}
