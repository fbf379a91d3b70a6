// *Fix until it runs* (`warden.llm.fixUntilGreen`), VS Code side. Started from the
// palette (the active editor's file) or from the *Fix until it runs* quick fix of a failed
// run (its `{uri}`), the loop runs in the server; a cancellable notification follows it,
// one line per round as `warden/fixRound` arrives (Cancel sends `warden.llm.cancel`).
// When `warden/fixFinished` carries a fix, a diff editor opens (the text the loop started
// from against the fixed text, both read-only `warden-fix:` documents) with Accept and
// Discard in its title bar and in a notification: Accept sends `warden.llm.fixAccept`
// (the server applies the edit through `workspace/applyEdit`, one undo step),
// Discard `warden.llm.fixDiscard`; the diff closes either way. Without a fix the end is
// reported (the script already runs, cancelled, or why it stopped). The palette's
// Accept/Discard answer the fix of the diff in front, else the active file's, else the
// newest.

import * as vscode from 'vscode';
import { type Ctx, message } from './ctx.ts';
import {
  acceptQuestion,
  DEFAULT_MAX_ROUNDS,
  diffTitle,
  FIX_SCHEME,
  fixDocPath,
  type FixLoop,
  FixLoops,
  finishedWithoutFix,
  hasFix,
  parseFixDocPath,
  roundSummary,
} from './fixModel.ts';
import { newRequestId } from './llmModel.ts';
import {
  CMD_LLM_CANCEL,
  CMD_LLM_FIX_ACCEPT,
  CMD_LLM_FIX_DISCARD,
  CMD_LLM_FIX_UNTIL_GREEN,
  type FixFinishedParams,
  type FixRoundParams,
  type FixUntilGreenArgs,
} from './lsp_ext.ts';

const ACCEPT = 'Accept';
const DISCARD = 'Discard';
/** Context key: a fix waits for Accept or Discard. */
const PENDING_KEY = 'warden.fixPending';

export class FixUi implements vscode.Disposable {
  private readonly loops = new FixLoops();
  private readonly texts = new Map<string, string>();
  private readonly docsChanged = new vscode.EventEmitter<vscode.Uri>();
  /** Ends the progress notification of a running loop, by request id. */
  private readonly progress = new Map<string, { report: (m: string) => void; end: () => void }>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly ctx: Ctx;

  constructor(ctx: Ctx) {
    this.ctx = ctx;
    const texts = this.texts;
    this.disposables.push(
      this.docsChanged,
      vscode.workspace.registerTextDocumentContentProvider(FIX_SCHEME, {
        onDidChange: this.docsChanged.event,
        provideTextDocumentContent: (uri) => texts.get(uri.toString()) ?? '',
      }),
      ctx.onFixRound((p) => this.onRound(p)),
      ctx.onFixFinished((p) => void this.onFinished(p)),
    );
  }

  /** Loops of this window still running. */
  get running(): FixLoop[] {
    return this.loops.running;
  }

  /** From the palette: the active editor's file. */
  async startFromEditor(): Promise<{ requestId: string } | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || !['file', 'untitled'].includes(editor.document.uri.scheme)) {
      void vscode.window.showInformationMessage('warden: open a script first; Fix Until It Runs works on the active editor.');
      return undefined;
    }
    return this.start({ uri: editor.document.uri.toString() });
  }

  /** Starts a loop (a code action's arguments, or the palette's). */
  async start(args: FixUntilGreenArgs): Promise<{ requestId: string }> {
    const requestId = args.requestId ?? newRequestId();
    const loop = this.loops.start(requestId, args.uri, args.maxRounds ?? DEFAULT_MAX_ROUNDS);
    this.ctx.log.info(`fixUntilGreen ${requestId}: ${loop.name}`);
    this.follow(loop);
    try {
      return await this.ctx.command(CMD_LLM_FIX_UNTIL_GREEN, { ...args, requestId });
    } catch (err) {
      this.loops.forget(requestId);
      this.endProgress(requestId);
      throw err;
    }
  }

  /** Asks the server to stop a loop; true when it was running there. */
  async cancel(requestId: string): Promise<boolean> {
    try {
      const { cancelled } = await this.ctx.command(CMD_LLM_CANCEL, { requestId });
      this.ctx.log.info(`cancel fix ${requestId}: ${cancelled ? 'cancelled' : 'it was not running'}`);
      return cancelled;
    } catch (err) {
      this.ctx.log.warn(`cancel fix ${requestId}: ${message(err)}`);
      return false;
    }
  }

  /** Accept (`warden.llm.fixAccept`) the fix `requestId`, else the one in front. */
  async accept(requestId?: string): Promise<{ applied: boolean; message: string | null } | undefined> {
    const loop = this.pendingLoop(requestId);
    if (!loop) {
      return undefined;
    }
    this.loops.forget(loop.requestId);
    await this.closeDiff(loop.requestId);
    const result = await this.ctx.command(CMD_LLM_FIX_ACCEPT, { requestId: loop.requestId });
    if (result.applied) {
      vscode.window.setStatusBarMessage(`warden: fix applied to ${loop.name}`, 10_000);
    } else {
      void vscode.window.showWarningMessage(`warden: the fix of ${loop.name} was not applied${result.message ? `: ${result.message}` : ''}`);
    }
    return result;
  }

  /** Discard (`warden.llm.fixDiscard`) the fix `requestId`, else the one in front. */
  async discard(requestId?: string): Promise<{ discarded: boolean } | undefined> {
    const loop = this.pendingLoop(requestId);
    if (!loop) {
      return undefined;
    }
    this.loops.forget(loop.requestId);
    await this.closeDiff(loop.requestId);
    const result = await this.ctx.command(CMD_LLM_FIX_DISCARD, { requestId: loop.requestId });
    vscode.window.setStatusBarMessage(`warden: fix of ${loop.name} discarded`, 6000);
    return result;
  }

  /** The request id a title-bar button's resource (a `warden-fix:` side) belongs to. */
  static requestOf(arg: unknown): string | undefined {
    if (arg instanceof vscode.Uri && arg.scheme === FIX_SCHEME) {
      return parseFixDocPath(arg.path)?.requestId;
    }
    return undefined;
  }

  private pendingLoop(requestId?: string): FixLoop | undefined {
    const active = vscode.window.activeTextEditor?.document.uri;
    const fromDiff = active?.scheme === FIX_SCHEME ? parseFixDocPath(active.path)?.requestId : undefined;
    const loop = this.loops.pendingFor(requestId ?? fromDiff, requestId ?? fromDiff ? undefined : active?.toString());
    if (!loop) {
      void vscode.window.showInformationMessage(
        requestId ? `warden: no fix ${requestId} is waiting for an answer.` : 'warden: no fix is waiting for an answer; run "Warden: Fix Until It Runs" first.',
      );
    }
    void this.updatePendingKey();
    return loop;
  }

  /** A notification following the loop, round by round, with Cancel. */
  private follow(loop: FixLoop): void {
    if (this.progress.has(loop.requestId)) {
      return;
    }
    let report: (m: string) => void = () => undefined;
    let end: () => void = () => undefined;
    const ended = new Promise<void>((resolve) => (end = resolve));
    this.progress.set(loop.requestId, { report: (m) => report(m), end: () => end() });
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `warden: fixing ${loop.name} until it runs`, cancellable: true },
      (progress, token) => {
        report = (m) => progress.report({ message: m });
        token.onCancellationRequested(() => void this.cancel(loop.requestId));
        const last = loop.rounds.at(-1);
        progress.report({ message: last ? roundSummary(last, loop.maxRounds) : 'running the script, then asking the model…' });
        return ended;
      },
    );
  }

  private endProgress(requestId: string): void {
    this.progress.get(requestId)?.end();
    this.progress.delete(requestId);
  }

  private onRound(p: FixRoundParams): void {
    const loop = this.loops.round(p);
    const line = roundSummary(p.round, loop.maxRounds);
    this.ctx.log.info(`fixUntilGreen ${p.requestId}: ${line}`);
    this.follow(loop);
    this.progress.get(p.requestId)?.report(line);
  }

  private async onFinished(p: FixFinishedParams): Promise<void> {
    const loop = this.loops.finish(p);
    this.endProgress(p.requestId);
    this.ctx.log.info(`fixUntilGreen ${p.requestId}: finished: ${p.stopped}`);
    if (!hasFix(p)) {
      const said = finishedWithoutFix(loop.name, p);
      void (said.level === 'info' ? vscode.window.showInformationMessage(said.text) : vscode.window.showWarningMessage(said.text));
      return;
    }
    const left = vscode.Uri.from({ scheme: FIX_SCHEME, path: fixDocPath(p.requestId, 'original', loop.name) });
    const right = vscode.Uri.from({ scheme: FIX_SCHEME, path: fixDocPath(p.requestId, 'fixed', loop.name) });
    this.texts.set(left.toString(), p.original);
    this.texts.set(right.toString(), p.fixed);
    await this.updatePendingKey();
    try {
      await vscode.commands.executeCommand('vscode.diff', left, right, diffTitle(loop.name, p), { preview: false });
    } catch (err) {
      this.ctx.log.warn(`fixUntilGreen ${p.requestId}: the diff did not open: ${message(err)}`);
    }
    const choice = await vscode.window.showInformationMessage(acceptQuestion(loop.name, p), ACCEPT, DISCARD);
    if (!this.loops.pendingFor(p.requestId)) {
      return; // answered meanwhile (the title bar's buttons, the palette)
    }
    try {
      if (choice === ACCEPT) {
        await this.accept(p.requestId);
      } else if (choice === DISCARD) {
        await this.discard(p.requestId);
      }
    } catch (err) {
      void vscode.window.showErrorMessage(`warden: ${message(err)}`);
    }
  }

  private async closeDiff(requestId: string): Promise<void> {
    const tabs = vscode.window.tabGroups.all
      .flatMap((g) => g.tabs)
      .filter(
        (t) =>
          t.input instanceof vscode.TabInputTextDiff &&
          t.input.modified.scheme === FIX_SCHEME &&
          parseFixDocPath(t.input.modified.path)?.requestId === requestId,
      );
    if (tabs.length > 0) {
      await vscode.window.tabGroups.close(tabs);
    }
    for (const key of [...this.texts.keys()]) {
      const uri = vscode.Uri.parse(key);
      if (parseFixDocPath(uri.path)?.requestId === requestId) {
        this.texts.delete(key);
      }
    }
    await this.updatePendingKey();
  }

  private updatePendingKey(): Thenable<unknown> {
    return vscode.commands.executeCommand('setContext', PENDING_KEY, this.loops.pending.length > 0);
  }

  dispose(): void {
    for (const id of [...this.progress.keys()]) {
      this.endProgress(id);
    }
    this.disposables.forEach((d) => d.dispose());
  }
}
