// The LLM actions, VS Code side. Every `warden.llm.*` request goes through the runner
// with a request id chosen here, so its `warden/llmChunk` pieces can be matched and the
// request cancelled (`warden.llm.cancel`). Explanations stream into the explanation
// panel; edits (fix, rewrite, docstring, tests) come from the server through
// `workspace/applyEdit`, are shown first in a diff editor with *Accept* / *Discard*
// (`warden.llm.previewEdits`, on by default) and applied as one undoable edit, while a
// cancellable notification follows them; the outcome is reported (the result's `message` when
// nothing was applied). When nothing usable came back (not applied, a failure) or the
// reply was a response-cache replay, the notification offers *Retry*, which runs the
// same action again with `noCache: true`; the explanation panel has a Retry button too.
// When no model is configured the error offers *Open LLM Settings* instead.
// The server's question about a malicious package in a reply
// (`window/showMessageRequest`) is shown by VS Code itself. After every request the
// usage views refresh (`onDidFinish`).
//
// `llmTarget` builds the arguments from the active editor for the palette: the
// selection or the cursor, the diagnostic under the cursor (any source) for fix, and an
// instruction from an input box for rewrite.

import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  type ApplyWorkspaceEditParams,
  type ApplyWorkspaceEditResult,
  LSPCancellationError,
  ResponseError,
  type TextEdit,
} from 'vscode-languageclient/node';
import { type Ctx, message } from './ctx.ts';
import { ExplainPanel } from './explainPanel.ts';
import { openLlmSettings } from './openSettings.ts';
import {
  ACTION_OF,
  diagnosticAt,
  editOutcome,
  failureOutcome,
  LlmStream,
  linesLabel,
  newRequestId,
  type Outcome,
  REQUEST_CANCELLED,
  RETRY,
  retryArgs,
  wholeLines,
} from './llmModel.ts';
import { CMD_LLM_CANCEL, type LlmArgs, type LlmCommand, type LlmResult, type Position, type Range } from './lsp_ext.ts';

/** The preview's answers. */
const ACCEPT = 'Accept';
const DISCARD = 'Discard';
/** The scheme of the proposed texts the preview's diff editors show. */
export const PROPOSED_SCHEME = 'warden-proposed';

/** The server's refusal when no model resolves (names `warden.llm.model`). */
const NO_MODEL = /no model configured/i;
const OPEN_LLM_SETTINGS = 'Open LLM Settings';

export interface LlmFinished {
  stream: LlmStream;
}

/** What a retry repeats. */
interface LlmRequest {
  command: LlmCommand;
  args: LlmArgs;
  subject: string;
}

export class LlmRunner implements vscode.Disposable {
  private readonly streams = new Map<string, LlmStream>();
  private readonly progress = new Map<string, () => void>();
  private readonly panel: ExplainPanel;
  private readonly finishedEmitter = new vscode.EventEmitter<LlmFinished>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly ctx: Ctx;
  /** The request behind each stream, for the panel's Retry button. */
  private readonly requests = new WeakMap<LlmStream, LlmRequest>();
  readonly onDidFinish = this.finishedEmitter.event;
  /** Texts of the preview's `warden-proposed:` documents, by URI. */
  private readonly proposedTexts = new Map<string, string>();
  private previews = 0;

  constructor(ctx: Ctx, extensionUri: vscode.Uri) {
    this.ctx = ctx;
    this.panel = new ExplainPanel(
      extensionUri,
      (id) => void this.cancel(id),
      (stream) => {
        const req = this.requests.get(stream);
        if (req) {
          void this.retry(req);
        }
      },
    );
    ctx.applyEditHook = (params) => this.preview(params);
    const texts = this.proposedTexts;
    this.disposables.push(
      vscode.workspace.registerTextDocumentContentProvider(PROPOSED_SCHEME, {
        provideTextDocumentContent: (uri) => texts.get(uri.toString()) ?? '',
      }),
      { dispose: () => (ctx.applyEditHook = undefined) },
      this.panel,
      this.finishedEmitter,
      ctx.onLlmChunk((p) => {
        const stream = this.streams.get(p.requestId);
        if (stream?.append(p.text)) {
          this.panel.update(stream);
          this.progress.get(stream.requestId)?.();
        }
      }),
    );
  }

  /** Requests started here that have not answered yet, oldest first. */
  get running(): LlmStream[] {
    return [...this.streams.values()];
  }

  /**
   * Runs an LLM action; resolves with its result, or undefined when cancelled or when
   * the server answered with an error (shown with *Retry*).
   */
  async run(command: LlmCommand, args: LlmArgs, subject: string): Promise<LlmResult | undefined> {
    const action = ACTION_OF[command];
    const requestId = args.requestId ?? newRequestId();
    const stream = new LlmStream(requestId, action, subject);
    this.streams.set(requestId, stream);
    const request: LlmRequest = { command, args, subject };
    this.requests.set(stream, request);
    this.ctx.log.info(`${command} ${requestId}: ${subject}${args.noCache ? ' (noCache)' : ''}`);
    try {
      const call = this.ctx.command(command, { ...args, requestId });
      if (action === 'explain') {
        this.panel.show(stream, vscode.Uri.parse(args.uri));
      }
      const result = action === 'explain' ? await call : await this.followed(stream, call);
      if (!result) {
        // The connection went away while waiting: the library answers with nothing.
        throw new Error('the server stopped before it answered');
      }
      stream.finish(result);
      this.ctx.log.info(`${command} ${requestId}: done (${stream.status()})`);
      if (action !== 'explain') {
        this.report(editOutcome(stream.action, result, stream.elapsedMs()), request);
      }
      return result;
    } catch (err) {
      if (isCancelled(err)) {
        stream.cancel();
        this.ctx.log.info(`${command} ${requestId}: cancelled`);
        vscode.window.setStatusBarMessage(`warden: ${action} cancelled`, 5000);
        return undefined;
      }
      stream.fail(err instanceof ResponseError ? err.message : message(err));
      if (err instanceof ResponseError && NO_MODEL.test(err.message)) {
        // Nothing to retry: say what is missing and open where it is set.
        this.ctx.log.warn(`${command} ${requestId}: ${err.message}`);
        void vscode.window
          .showErrorMessage(`warden: no LLM model is configured, so ${action} cannot run. Choose a provider and a model in the LLM settings.`, OPEN_LLM_SETTINGS)
          .then((c) => (c === OPEN_LLM_SETTINGS ? openLlmSettings() : undefined));
        return undefined;
      }
      if (err instanceof ResponseError) {
        // The server refused or the call failed (no code block, HTTP error, ...).
        this.ctx.log.warn(`${command} ${requestId}: ${err.message}`);
        this.report(failureOutcome(action, err.message), request);
        return undefined;
      }
      throw err;
    } finally {
      this.streams.delete(requestId);
      this.progress.delete(requestId);
      this.panel.update(stream);
      this.finishedEmitter.fire({ stream });
    }
  }

  /**
   * The server's `workspace/applyEdit` while an LLM edit of this window runs: each
   * changed file opens in a diff editor (the file against the proposed text, a read-only
   * `warden-proposed:` document), and a notification asks *Accept* or *Discard*. Accept
   * hands the edit back to the client library, which applies it as one undoable edit
   * (refused if the file changed meanwhile); Discard, or closing the question, answers
   * `applied: false`, and the server reports nothing applied (the notification then
   * offers *Retry*). Other edits go through unchanged, and all of them when
   * `warden.llm.previewEdits` is off.
   */
  private async preview(params: ApplyWorkspaceEditParams): Promise<ApplyWorkspaceEditResult | undefined> {
    const edits = [...this.streams.values()].filter((st) => st.action !== 'explain');
    if (edits.length === 0 || !vscode.workspace.getConfiguration('warden').get<boolean>('llm.previewEdits', true)) {
      return undefined;
    }
    const stream = edits[edits.length - 1];
    // The text each file would have: its current text (none for a file the edit creates)
    // with the edit's changes applied.
    const proposed = new Map<string, { before?: vscode.TextDocument; changes: TextEdit[] }>();
    const entry = (uri: string) => {
      let e = proposed.get(uri);
      if (!e) {
        e = { changes: [] };
        proposed.set(uri, e);
      }
      return e;
    };
    for (const change of params.edit.documentChanges ?? []) {
      if ('kind' in change) {
        if (change.kind !== 'create') {
          return undefined; // renames and deletes: not from the LLM actions
        }
        entry(change.uri);
        continue;
      }
      entry(change.textDocument.uri).changes.push(...(change.edits as TextEdit[]));
    }
    for (const [uri, changes] of Object.entries(params.edit.changes ?? {})) {
      entry(uri).changes.push(...changes);
    }
    const shown: vscode.Uri[] = [];
    for (const [uri, e] of proposed) {
      const target = vscode.Uri.parse(uri);
      e.before = await Promise.resolve(vscode.workspace.openTextDocument(target)).catch(() => undefined);
      const text = applyChanges(e.before, e.changes);
      const right = proposedUri(target, stream.action, ++this.previews);
      this.proposedTexts.set(right.toString(), text);
      const left = e.before ? target : proposedUri(target, 'empty', this.previews);
      if (!e.before) {
        this.proposedTexts.set(left.toString(), '');
      }
      const name = path.basename(target.fsPath);
      await vscode.commands.executeCommand('vscode.diff', left, right, `${name} ↔ ${stream.action} proposed by the LLM (warden)`, { preview: false });
      shown.push(right);
    }
    this.ctx.log.info(`${stream.action} ${stream.requestId}: previewing the edit of ${proposed.size} file(s)`);
    const names = [...proposed.keys()].map((u) => path.basename(vscode.Uri.parse(u).fsPath)).join(', ');
    const choice = await vscode.window.showInformationMessage(
      `warden: ${stream.action} proposes changes to ${names}. Apply them?`,
      ACCEPT,
      DISCARD,
    );
    await closeDiffs(shown);
    for (const u of shown) {
      this.proposedTexts.delete(u.toString());
    }
    return choice === ACCEPT ? undefined : { applied: false, failureReason: 'Discarded in the preview' };
  }

  /** An edit request under a notification whose Cancel button cancels it. */
  private followed(stream: LlmStream, call: Promise<LlmResult>): Thenable<LlmResult> {
    return vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `warden: ${stream.action} (${stream.subject})`,
        cancellable: true,
      },
      (progress, token) => {
        token.onCancellationRequested(() => void this.cancel(stream.requestId));
        progress.report({ message: 'waiting for the model…' });
        this.progress.set(stream.requestId, () =>
          progress.report({ message: `${stream.chunks} ${stream.chunks === 1 ? 'chunk' : 'chunks'} received` }),
        );
        return call;
      },
    );
  }

  /** Shows an outcome: a notification (with *Retry* when offered), else the status bar. */
  private report(outcome: Outcome, request: LlmRequest): void {
    if (outcome.level === 'info' && !outcome.retry) {
      vscode.window.setStatusBarMessage(outcome.text, 10_000);
      return;
    }
    const buttons = outcome.retry ? [RETRY] : [];
    const shown =
      outcome.level === 'error'
        ? vscode.window.showErrorMessage(outcome.text, ...buttons)
        : outcome.level === 'warning'
          ? vscode.window.showWarningMessage(outcome.text, ...buttons)
          : vscode.window.showInformationMessage(outcome.text, ...buttons);
    void shown.then((choice) => {
      if (choice === RETRY) {
        void this.retry(request);
      }
    });
  }

  /** The same action again, asking the model (`noCache: true`), under a new request id. */
  async retry(request: LlmRequest): Promise<LlmResult | undefined> {
    try {
      return await this.run(request.command, retryArgs(request.args), request.subject);
    } catch (err) {
      this.ctx.log.warn(`retry ${request.command}: ${message(err)}`);
      void vscode.window.showErrorMessage(`warden: ${message(err)}`);
      return undefined;
    }
  }

  /** Asks the server to cancel a request; true when it was still running there. */
  async cancel(requestId: string): Promise<boolean> {
    const stream = this.streams.get(requestId);
    if (stream) {
      stream.cancelling = true;
      this.panel.update(stream);
    }
    try {
      const { cancelled } = await this.ctx.command(CMD_LLM_CANCEL, { requestId });
      this.ctx.log.info(`cancel ${requestId}: ${cancelled ? 'cancelled' : 'it was not running'}`);
      return cancelled;
    } catch (err) {
      this.ctx.log.warn(`cancel ${requestId}: ${message(err)}`);
      return false;
    }
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}

function isCancelled(err: unknown): boolean {
  return (
    err instanceof vscode.CancellationError ||
    err instanceof LSPCancellationError ||
    (err instanceof ResponseError && err.code === REQUEST_CANCELLED)
  );
}

// ---- Arguments from the active editor -------------------------------------------------

/** Arguments a caller (a code action, a keybinding, another extension) passed whole. */
export function isLlmArgs(arg: unknown): arg is LlmArgs {
  return typeof arg === 'object' && arg !== null && typeof (arg as { uri?: unknown }).uri === 'string';
}

/** What a request passed whole is about, for the panel and the notifications. */
export function subjectOf(args: LlmArgs): string {
  const name = fileName(args.uri);
  const d = args.diagnostic as { message?: string } | undefined;
  if (d?.message) {
    return `${name}: ${d.message.split('\n', 1)[0]}`;
  }
  const at = args.range ?? (args.position ? { start: args.position, end: args.position } : undefined);
  return at ? `${name}, ${linesLabel(at)}` : name;
}

function fileName(uri: string): string {
  try {
    return path.posix.basename(vscode.Uri.parse(uri).path) || uri;
  } catch {
    return uri;
  }
}

/** The read-only document showing what `action` proposes for `target`. */
function proposedUri(target: vscode.Uri, action: string, n: number): vscode.Uri {
  return vscode.Uri.from({ scheme: PROPOSED_SCHEME, path: target.path, query: `${action}-${n}` });
}

/** `before`'s text (empty for a file not there yet) with `changes` applied. */
function applyChanges(before: vscode.TextDocument | undefined, changes: readonly TextEdit[]): string {
  const text = before?.getText() ?? '';
  const offset = (p: Position): number => (before ? before.offsetAt(new vscode.Position(p.line, p.character)) : 0);
  const sorted = changes.map((c) => ({ start: offset(c.range.start), end: offset(c.range.end), text: c.newText })).sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  for (const c of sorted) {
    out = out.slice(0, c.start) + c.text + out.slice(c.end);
  }
  return out;
}

/** Closes the diff editors whose right side is one of `proposed`. */
async function closeDiffs(proposed: readonly vscode.Uri[]): Promise<void> {
  const wanted = new Set(proposed.map((u) => u.toString()));
  const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputTextDiff && wanted.has(t.input.modified.toString()));
  if (tabs.length > 0) {
    await vscode.window.tabGroups.close(tabs);
  }
}

function plainPosition(p: vscode.Position): Position {
  return { line: p.line, character: p.character };
}

/** vscode.Range serializes as a pair; the server takes `{start, end}`. */
function plainRange(r: vscode.Range): Range {
  return { start: plainPosition(r.start), end: plainPosition(r.end) };
}

/**
 * The arguments of an LLM action from the active editor, asking for what is missing;
 * undefined when there is nothing to act on or the user backed out.
 */
export async function llmTarget(ctx: Ctx, command: LlmCommand): Promise<{ args: LlmArgs; subject: string } | undefined> {
  const action = ACTION_OF[command];
  const editor = vscode.window.activeTextEditor;
  if (!editor || !['file', 'untitled'].includes(editor.document.uri.scheme)) {
    void vscode.window.showInformationMessage(`warden: open a file first; ${action} works on the active editor.`);
    return undefined;
  }
  const doc = editor.document;
  const uri = doc.uri.toString();
  const name = path.posix.basename(doc.uri.path);
  const selection = editor.selection;
  const cursor = plainPosition(selection.active);
  const selected = plainRange(selection);
  const at = `line ${cursor.line + 1}`;
  switch (action) {
    case 'explain':
    case 'tests': {
      if (selection.isEmpty) {
        const what = action === 'explain' ? 'the definition or line at' : 'the definition at';
        return { args: { uri, range: { start: cursor, end: cursor } }, subject: `${name}, ${what} ${at}` };
      }
      return { args: { uri, range: selected }, subject: `${name}, ${linesLabel(wholeLines(selected))}` };
    }
    case 'docstring':
      return { args: { uri, position: cursor }, subject: `${name}, the definition at ${at}` };
    case 'rewrite': {
      const range = wholeLines(selected);
      const lines = linesLabel(range);
      const instruction = await vscode.window.showInputBox({
        title: `Rewrite ${name}, ${lines}, with the LLM`,
        prompt: `What should change? The ${selection.isEmpty ? "cursor's line" : 'selected lines'} (${lines}) are rewritten; Undo reverts it.`,
        placeHolder: 'e.g. add type annotations',
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim().length === 0 ? 'Describe the change.' : undefined),
      });
      if (instruction === undefined || instruction.trim().length === 0) {
        return undefined;
      }
      return { args: { uri, range, instruction }, subject: `${name}, ${lines}: ${instruction}` };
    }
    case 'fix': {
      const all = vscode.languages.getDiagnostics(doc.uri);
      if (all.length === 0) {
        void vscode.window.showInformationMessage(`warden: ${name} has no problems to fix.`);
        return undefined;
      }
      let chosen = diagnosticAt(all, cursor);
      if (!chosen) {
        const picked = await vscode.window.showQuickPick(
          all.map((d) => ({
            label: d.message.split('\n', 1)[0],
            description: `${d.source ?? ''}${d.code !== undefined ? ` ${String(typeof d.code === 'object' ? d.code.value : d.code)}` : ''}`,
            detail: `line ${d.range.start.line + 1}`,
            d,
          })),
          { title: 'Fix with the LLM', placeHolder: 'No problem under the cursor: which one?', matchOnDescription: true },
        );
        chosen = picked?.d;
      }
      if (!chosen) {
        return undefined;
      }
      return {
        args: { uri, diagnostic: ctx.protocolDiagnostic(chosen) },
        subject: `${name}: ${chosen.message.split('\n', 1)[0]}`,
      };
    }
  }
}
