// Read-only documents of the `warden-run` scheme: a stored run's log
// (`warden-run:/log/<runId>/<script>.log`, from `warden/runLog`: the facts, then stdout
// and stderr without ANSI codes) and a workspace's run statistics
// (`warden-run:/stats/<workspace>.md`, from `warden/runStats`, opened as a Markdown
// preview). Reopening one asks the server again.

import * as vscode from 'vscode';
import type { Ctx } from './ctx.ts';
import { REQ_RUN_LOG, REQ_RUN_STATS } from './lsp_ext.ts';
import { baseName, formatLog, statsMarkdown } from './runModel.ts';

export const RUN_SCHEME = 'warden-run';

export class RunDocs implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  /** Where stdout and stderr start in each log document (for search hits). */
  private readonly offsets = new Map<string, { stdoutLine: number; stderrLine: number }>();
  private readonly ctx: Ctx;

  constructor(ctx: Ctx) {
    this.ctx = ctx;
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const [, kind, id] = uri.path.split('/');
    if (kind === 'log' && id) {
      const run = await this.ctx.request(REQ_RUN_LOG, { runId: decodeURIComponent(id) });
      const log = formatLog(run);
      this.offsets.set(uri.toString(), { stdoutLine: log.stdoutLine, stderrLine: log.stderrLine });
      return log.text;
    }
    if (kind === 'stats' && id) {
      const workspace = decodeURIComponent(id.replace(/\.md$/, ''));
      return statsMarkdown(await this.ctx.request(REQ_RUN_STATS, { workspace }));
    }
    throw new Error(`unknown warden-run document ${uri.toString()}`);
  }

  static logUri(runId: string, path: string): vscode.Uri {
    return vscode.Uri.from({ scheme: RUN_SCHEME, path: `/log/${encodeURIComponent(runId)}/${baseName(path)}.log` });
  }

  static statsUri(workspace: string): vscode.Uri {
    return vscode.Uri.from({ scheme: RUN_SCHEME, path: `/stats/${encodeURIComponent(workspace)}.md` });
  }

  /** Opens a run's log; with `at`, the cursor goes to that line of that stream. */
  async showLog(runId: string, path: string, at?: { stream: 'stdout' | 'stderr'; line: number }): Promise<void> {
    const uri = RunDocs.logUri(runId, path);
    this.emitter.fire(uri); // asks again if it was open
    const doc = await vscode.workspace.openTextDocument(uri);
    const editor = await vscode.window.showTextDocument(doc, { preview: true });
    const off = this.offsets.get(uri.toString());
    if (at && off) {
      const line = Math.min(doc.lineCount - 1, (at.stream === 'stdout' ? off.stdoutLine : off.stderrLine) + at.line - 1);
      const range = doc.lineAt(line).range;
      editor.selection = new vscode.Selection(range.start, range.end);
      editor.revealRange(range, vscode.TextEditorRevealType.InCenter);
    }
  }

  /** Shows a workspace's run statistics as a Markdown preview. */
  async showStats(workspace: string): Promise<void> {
    const uri = RunDocs.statsUri(workspace);
    this.emitter.fire(uri);
    await vscode.workspace.openTextDocument(uri);
    await vscode.commands.executeCommand('markdown.showPreview', uri);
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
