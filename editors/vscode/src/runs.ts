// Sandboxed runs, VS Code side. Every run gets a terminal (a `vscode.Pseudoterminal`)
// fed by `warden/runOutput` in `seq` order (chunks that arrive early wait in a reorder
// buffer), with ANSI colours kept, newlines turned into CRLF and stderr in red; on
// `warden/runFinished` it prints a final status line and the terminal's name shows the
// outcome. Closing the terminal (or Ctrl+C in it) while the run goes on cancels it
// (`warden.run.cancel`). `warden.run` is sent with a run id chosen here, so output is
// matched even before the answer; a `warden.runAll` batch learns its run ids from the
// answer, so notifications of runs not known yet wait until it arrives. Run-all progress
// (`$/progress`) is followed as a cancellable notification. The run ids, inputs and
// arguments of runs started here are remembered (globalState) for *Re-run*.

import * as vscode from 'vscode';
import { type Ctx, message } from './ctx.ts';
import {
  CMD_RUN,
  CMD_RUN_ALL,
  CMD_RUN_CANCEL,
  type RunAllResult,
  type RunFinishedParams,
  type RunOutputParams,
  type RunStatus,
} from './lsp_ext.ts';
import {
  ANSI,
  baseName,
  finishedLines,
  headerLine,
  newRunId,
  SeqBuffer,
  statusLabel,
  TerminalText,
} from './runModel.ts';

/** A run this window knows of: started here, or a member of a batch started here. */
export interface TrackedRun {
  runId: string;
  /** Repository-relative path when known, else the file name. */
  path: string;
  uri?: string;
  input?: string;
  args: string[];
  batchId?: string;
  startedAt: number;
  status: RunStatus | 'running';
  terminal?: RunTerminal;
}

/** What *Re-run* needs of a run that was started here. */
interface Remembered {
  input?: string;
  args: string[];
}

const REMEMBER_KEY = 'warden.runs.remembered';
const REMEMBER_MAX = 300;
/** Runs whose notifications came before the answer that names them (a batch's). */
const EARLY_MAX = 200;

/** How an input (a `file://` URI, or a path as typed) is shown: relative to its folder. */
export function inputLabel(input: string): string {
  return input.startsWith('file:') ? vscode.workspace.asRelativePath(vscode.Uri.parse(input), false) : input;
}

export class RunTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  private readonly nameEmitter = new vscode.EventEmitter<string>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  readonly onDidChangeName = this.nameEmitter.event;
  private readonly buffer = new SeqBuffer<RunOutputParams>();
  private readonly text = new TerminalText();
  private backlog: string[] = [];
  private opened = false;
  /** A new name that came before the terminal opened (VS Code ignores it then). */
  private pendingName: string | undefined;
  private _finished = false;
  private _closed = false;
  readonly terminal: vscode.Terminal;
  private readonly onUserCancel: () => void;
  private readonly label: string;

  constructor(label: string, header: string, onUserCancel: () => void) {
    this.label = label;
    this.onUserCancel = onUserCancel;
    this.write(header);
    this.terminal = vscode.window.createTerminal({
      name: `▶ ${label}`,
      pty: this,
      iconPath: new vscode.ThemeIcon('play'),
      isTransient: true,
    });
  }

  get finished(): boolean {
    return this._finished;
  }

  get closed(): boolean {
    return this._closed;
  }

  open(): void {
    this.opened = true;
    const pending = this.backlog.join('');
    this.backlog = [];
    if (pending) {
      this.writeEmitter.fire(pending);
    }
    if (this.pendingName) {
      // A name fired while the terminal still starts is overwritten by its launch name.
      const name = this.pendingName;
      this.pendingName = undefined;
      setTimeout(() => this.nameEmitter.fire(name), 200);
    }
  }

  /** The user closed the terminal: a run still going is cancelled. */
  close(): void {
    this._closed = true;
    if (!this._finished) {
      this.onUserCancel();
    }
  }

  handleInput(data: string): void {
    if (data === '\x03' && !this._finished) {
      this.write(`${this.text.newlineIfNeeded()}${ANSI.yellow}[warden] cancelling…${ANSI.reset}\r\n`);
      this.onUserCancel();
    }
  }

  output(p: RunOutputParams): void {
    for (const c of this.buffer.push(p.seq, p)) {
      this.write(this.text.output(c.stream, c.chunk));
    }
  }

  finish(p: RunFinishedParams): void {
    if (this._finished) {
      return;
    }
    // Output that waited for a chunk that never came (none should) goes out as it is.
    for (const c of this.buffer.flush()) {
      this.write(this.text.output(c.stream, c.chunk));
    }
    this._finished = true;
    this.write(`${this.text.newlineIfNeeded()}${finishedLines(p)}`);
    const mark = p.status === 'succeeded' ? '✔' : p.status === 'cancelled' ? '◼' : '✘';
    this.rename(`${mark} ${this.label}`);
  }

  /** Ends the terminal's run without a `warden/runFinished` (server gone, command refused). */
  abort(text: string): void {
    if (this._finished) {
      return;
    }
    this._finished = true;
    this.write(`${this.text.newlineIfNeeded()}${ANSI.bold}${ANSI.red}[warden] ${text}${ANSI.reset}\r\n`);
    this.rename(`✘ ${this.label}`);
  }

  private rename(name: string): void {
    if (this.opened) {
      this.nameEmitter.fire(name);
    } else {
      this.pendingName = name;
    }
  }

  private write(s: string): void {
    if (!s) {
      return;
    }
    if (this.opened) {
      this.writeEmitter.fire(s);
    } else {
      this.backlog.push(s);
    }
  }

  dispose(): void {
    this.writeEmitter.dispose();
    this.closeEmitter.dispose();
    this.nameEmitter.dispose();
  }
}

export class RunManager implements vscode.Disposable {
  private readonly runs = new Map<string, TrackedRun>();
  private readonly early = new Map<string, { outputs: RunOutputParams[]; finished?: RunFinishedParams }>();
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  private readonly finishEmitter = new vscode.EventEmitter<RunFinishedParams>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly ctx: Ctx;
  /** The set of runs going changed (status bar, Runs view). */
  readonly onDidChange = this.changeEmitter.event;
  /** A run ended (`warden/runFinished`), whoever started it. */
  readonly onDidFinish = this.finishEmitter.event;

  constructor(ctx: Ctx) {
    this.ctx = ctx;
    this.disposables.push(
      this.changeEmitter,
      this.finishEmitter,
      ctx.onRunOutput((p) => this.onOutput(p)),
      ctx.onRunFinished((p) => this.onFinished(p)),
      ctx.onDidChangeState((s) => {
        if (s.kind !== 'running') {
          this.serverGone();
        }
      }),
    );
  }

  /** Runs not finished yet, oldest first. */
  get running(): TrackedRun[] {
    return [...this.runs.values()].filter((r) => r.status === 'running');
  }

  get(runId: string): TrackedRun | undefined {
    return this.runs.get(runId);
  }

  /** Input and arguments of a run started here (for *Re-run*), if remembered. */
  remembered(runId: string): Remembered | undefined {
    const all = this.ctx.extension.globalState.get<Record<string, Remembered>>(REMEMBER_KEY) ?? {};
    return all[runId];
  }

  /**
   * Runs a document's current text (`warden.run`); output goes to a new terminal, shown
   * without taking focus. Resolves once the server accepted the run.
   */
  async run(uri: vscode.Uri, opts: { input?: string; args?: string[]; runId?: string } = {}): Promise<{ runId: string }> {
    const runId = opts.runId ?? newRunId();
    const args = opts.args ?? [];
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    const path = folder ? vscode.workspace.asRelativePath(uri, false) : baseName(uri.fsPath);
    const tracked: TrackedRun = {
      runId,
      path,
      uri: uri.toString(),
      input: opts.input,
      args,
      startedAt: Date.now(),
      status: 'running',
    };
    this.runs.set(runId, tracked);
    this.terminalOf(tracked, true);
    this.changeEmitter.fire();
    this.ctx.log.info(`warden.run ${runId}: ${uri.toString()}${opts.input ? ` input ${opts.input}` : ''}`);
    try {
      const result = await this.ctx.command(CMD_RUN, {
        uri: uri.toString(),
        runId,
        ...(opts.input ? { input: opts.input } : {}),
        ...(args.length ? { args } : {}),
      });
      await this.remember(result.runId, { input: opts.input, args });
      return result;
    } catch (err) {
      tracked.status = 'error';
      tracked.terminal?.abort(`not run: ${message(err)}`);
      this.changeEmitter.fire();
      throw err;
    }
  }

  /** Runs every script of a workspace (`warden.runAll`), following its progress. */
  async runAll(workspace: string | undefined, stopOnFailure: boolean): Promise<RunAllResult> {
    const result = await this.ctx.command(CMD_RUN_ALL, {
      ...(workspace ? { workspace } : {}),
      stopOnFailure,
    });
    const now = Date.now();
    const planned = result.groups.flat();
    for (const p of planned) {
      if (!this.runs.has(p.runId)) {
        this.runs.set(p.runId, { runId: p.runId, path: p.path, uri: p.uri, args: [], batchId: result.batchId, startedAt: now, status: 'running' });
      }
    }
    this.changeEmitter.fire();
    // Notifications that came before this answer.
    for (const p of planned) {
      const early = this.early.get(p.runId);
      if (early) {
        this.early.delete(p.runId);
        early.outputs.forEach((o) => this.onOutput(o));
        if (early.finished) {
          this.onFinished(early.finished);
        }
      }
    }
    const tracker = this.ctx.progressTracker;
    const ended = tracker
      ? tracker.follow(result.progressToken, `warden: running ${planned.length} scripts of ${result.workspace}`)
      : Promise.resolve(undefined);
    void ended.then((end) => {
      // Scripts a stopped or cancelled batch never ran get no warden/runFinished.
      let dropped = 0;
      for (const r of this.runs.values()) {
        if (r.batchId === result.batchId && r.status === 'running') {
          r.status = 'cancelled';
          dropped += 1;
          r.terminal?.abort('not run: the batch stopped before this script');
        }
      }
      if (dropped) {
        this.changeEmitter.fire();
      }
      if (end) {
        const text = `warden: ran the scripts of ${result.workspace}${end.message ? `: ${end.message}` : ''}`;
        if (end.cancelled) {
          void vscode.window.showWarningMessage(`warden: the run of ${result.workspace}'s scripts was cancelled.`);
        } else {
          vscode.window.setStatusBarMessage(text, 8000);
        }
      }
    });
    return result;
  }

  /** Asks the server to cancel a run; true when it was going. */
  async cancel(runId: string): Promise<boolean> {
    const { cancelled } = await this.ctx.command(CMD_RUN_CANCEL, { runId });
    return cancelled;
  }

  /** Shows the terminal of a run of this window, if it has one. */
  reveal(runId: string): boolean {
    const t = this.runs.get(runId)?.terminal;
    if (t && !t.closed) {
      t.terminal.show(false);
      return true;
    }
    return false;
  }

  /** The run's terminal, made on first need; none once the user closed it. */
  private terminalOf(run: TrackedRun, show: boolean): RunTerminal | undefined {
    if (run.terminal?.closed) {
      return undefined;
    }
    if (!run.terminal) {
      run.terminal = new RunTerminal(baseName(run.path), headerLine(run.path, run.input ? inputLabel(run.input) : undefined, run.args), () => {
        if (run.status === 'running') {
          void this.cancel(run.runId).catch((err) => this.ctx.log.warn(`cancelling ${run.runId}: ${message(err)}`));
        }
      });
      if (show) {
        run.terminal.terminal.show(true);
      }
    }
    return run.terminal;
  }

  private onOutput(p: RunOutputParams): void {
    const run = this.runs.get(p.runId);
    if (!run) {
      this.stash(p.runId).outputs.push(p);
      return;
    }
    // A batch's terminals appear as their scripts start; the first is shown.
    const first = run.batchId !== undefined && !run.terminal && !this.batchHasTerminal(run.batchId);
    this.terminalOf(run, first)?.output(p);
  }

  private onFinished(p: RunFinishedParams): void {
    const run = this.runs.get(p.runId);
    if (!run) {
      // Not (yet) known: a batch whose answer is still on its way, or a run another
      // client of this server started; remember it briefly.
      this.stash(p.runId).finished = p;
      this.finishEmitter.fire(p);
      return;
    }
    run.status = p.status;
    const first = run.batchId !== undefined && !run.terminal && !this.batchHasTerminal(run.batchId);
    this.terminalOf(run, first)?.finish(p);
    this.prune();
    this.ctx.log.info(`run ${p.runId} (${p.path}): ${statusLabel(p.status)}${p.message ? `: ${p.message}` : ''}`);
    this.changeEmitter.fire();
    this.finishEmitter.fire(p);
  }

  /** Forgets the oldest finished runs past a few hundred. */
  private prune(): void {
    const finished = [...this.runs.values()].filter((r) => r.status !== 'running');
    for (const r of finished.slice(0, Math.max(0, finished.length - 200))) {
      r.terminal?.dispose();
      this.runs.delete(r.runId);
    }
  }

  private batchHasTerminal(batchId: string): boolean {
    return [...this.runs.values()].some((r) => r.batchId === batchId && r.terminal);
  }

  private stash(runId: string): { outputs: RunOutputParams[]; finished?: RunFinishedParams } {
    let e = this.early.get(runId);
    if (!e) {
      e = { outputs: [] };
      this.early.set(runId, e);
      if (this.early.size > EARLY_MAX) {
        const oldest = this.early.keys().next().value;
        if (oldest !== undefined) {
          this.early.delete(oldest);
        }
      }
    }
    return e;
  }

  /** The server stopped: the runs it had going are lost. */
  private serverGone(): void {
    let any = false;
    for (const r of this.runs.values()) {
      if (r.status === 'running') {
        r.status = 'error';
        r.terminal?.abort('the warden server stopped; this run was lost');
        any = true;
      }
    }
    this.early.clear();
    if (any) {
      this.changeEmitter.fire();
    }
  }

  private async remember(runId: string, what: Remembered): Promise<void> {
    if (!what.input && what.args.length === 0) {
      return;
    }
    const state = this.ctx.extension.globalState;
    const all = { ...(state.get<Record<string, Remembered>>(REMEMBER_KEY) ?? {}) };
    all[runId] = what;
    const keys = Object.keys(all);
    for (const k of keys.slice(0, Math.max(0, keys.length - REMEMBER_MAX))) {
      delete all[k];
    }
    await state.update(REMEMBER_KEY, all);
  }

  dispose(): void {
    for (const r of this.runs.values()) {
      r.terminal?.dispose();
    }
    this.disposables.forEach((d) => d.dispose());
  }
}
