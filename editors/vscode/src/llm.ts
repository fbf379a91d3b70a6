// The LLM actions, VS Code side. Every `warden.llm.*` request goes through the runner
// with a request id chosen here, so its `warden/llmChunk` pieces can be matched and the
// request cancelled (`warden.llm.cancel`). Explanations stream into the explanation
// panel; edits (fix, rewrite, docstring, tests) are applied by the server through
// `workspace/applyEdit`, which VS Code applies as one undoable edit, while a cancellable
// notification follows them; the outcome is reported (the result's `message` when
// nothing was applied). When nothing usable came back (not applied, a failure) or the
// reply was a response-cache replay, the notification offers *Retry*, which runs the
// same action again with `noCache: true`; the explanation panel has a Retry button too.
// The server's question about a malicious package in a reply
// (`window/showMessageRequest`) is shown by VS Code itself. After every request the
// usage views refresh (`onDidFinish`).
//
// `llmTarget` builds the arguments from the active editor for the palette: the
// selection or the cursor, the diagnostic under the cursor (any source) for fix, and an
// instruction from an input box for rewrite.

import * as path from 'node:path';
import * as vscode from 'vscode';
import { LSPCancellationError, ResponseError } from 'vscode-languageclient/node';
import { type Ctx, message } from './ctx.ts';
import { ExplainPanel } from './explainPanel.ts';
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
    this.disposables.push(
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
        this.panel.show(stream);
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
